//! The synthetic media format: building frames on the publisher and checking them on the viewer.
//!
//! See the crate documentation for the byte layout.

/// The magic that starts every bot trailer, in video frames and audio packets alike.
pub const MAGIC: &[u8; 4] = b"VKBT";
/// Length of the trailer: magic, frame number (u32 BE), flags, layer.
pub const TRAILER_LEN: usize = 4 + 4 + 1 + 1;
/// Trailer flag bit: the frame is a keyframe.
pub const FLAG_KEYFRAME: u8 = 0x01;
/// Length of the VP8 keyframe header (frame tag, start code, width, height).
pub const VP8_KEY_HEADER_LEN: usize = 10;
/// Length of the VP8 inter-frame header (the frame tag alone).
pub const VP8_INTER_HEADER_LEN: usize = 3;
/// The VP8 keyframe start code.
pub const VP8_START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];
/// The Annex-B start code the H264 frames use between NAL units.
pub const ANNEXB_START_CODE: [u8; 4] = [0, 0, 0, 1];
/// The H264 SPS the keyframes carry: Constrained Baseline (42e0), level 3.1 (1f). The bytes after
/// the level are plausible but the stream is not decodable.
pub const H264_SPS: [u8; 9] = [0x67, 0x42, 0xe0, 0x1f, 0xda, 0x02, 0x80, 0xf6, 0x40];
/// The H264 PPS the keyframes carry.
pub const H264_PPS: [u8; 4] = [0x68, 0xce, 0x3c, 0x80];
/// NAL header of the IDR slice of a keyframe (nal_ref_idc 3, type 5).
pub const H264_IDR_NAL_HEADER: u8 = 0x65;
/// NAL header of the non-IDR slice of an inter frame (nal_ref_idc 2, type 1).
pub const H264_NON_IDR_NAL_HEADER: u8 = 0x41;

/// The video codec a publisher sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum VideoCodec {
	/// VP8 (RFC 7741 packetization).
	#[default]
	Vp8,
	/// H264, Constrained Baseline, packetization-mode=1 (RFC 6184: single NAL, STAP-A, FU-A).
	H264,
}

impl VideoCodec {
	/// The codec's MIME type as webrtc-rs (and SDP) spells it.
	pub fn mime_type(self) -> &'static str {
		match self {
			VideoCodec::Vp8 => webrtc::api::media_engine::MIME_TYPE_VP8,
			VideoCodec::H264 => webrtc::api::media_engine::MIME_TYPE_H264,
		}
	}

	/// The codec for a MIME type (case-insensitive), if it is one the bots speak.
	pub fn from_mime_type(mime: &str) -> Option<Self> {
		if mime.eq_ignore_ascii_case(webrtc::api::media_engine::MIME_TYPE_VP8) {
			Some(VideoCodec::Vp8)
		} else if mime.eq_ignore_ascii_case(webrtc::api::media_engine::MIME_TYPE_H264) {
			Some(VideoCodec::H264)
		} else {
			None
		}
	}
}

/// What the receiver learns from one reassembled frame (or audio packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
	/// The frame (or audio packet) number: starts at 0 and grows by one per frame.
	pub number: u32,
	/// Whether the publisher sent this frame as a keyframe.
	pub keyframe: bool,
	/// The simulcast layer index (0 = "q", 1 = "h", 2 = "f"; 0 without simulcast).
	pub layer: u8,
}

/// Why a reassembled frame failed to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
	/// Too short, or the magic is not where it should be.
	NoTrailer,
	/// The codec-level key indication (VP8 P bit, H264 IDR NAL) contradicts the trailer's flag.
	KeyMismatch,
	/// A filler byte differs from what the publisher wrote: the payload was corrupted.
	BadFiller,
}

/// The filler byte at index `j` after the trailer: never zero, so the H264 NAL needs no
/// emulation-prevention bytes in the filler, and it depends on the frame number, so a payload
/// spliced from two frames is caught.
fn filler_byte(number: u32, j: usize) -> u8 {
	(number as u8).wrapping_add(j as u8) | 1
}

/// Appends the trailer and `filler` filler bytes.
fn put_trailer(out: &mut Vec<u8>, t: Trailer, filler: usize) {
	out.extend_from_slice(MAGIC);
	out.extend_from_slice(&t.number.to_be_bytes());
	out.push(if t.keyframe { FLAG_KEYFRAME } else { 0 });
	out.push(t.layer);
	out.extend((0..filler).map(|j| filler_byte(t.number, j)));
}

/// Parses and checks a trailer plus filler that run to the end of `b`.
fn parse_trailer(b: &[u8]) -> Result<Trailer, FrameError> {
	if b.len() < TRAILER_LEN || &b[..4] != MAGIC {
		return Err(FrameError::NoTrailer);
	}
	let number = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
	let t = Trailer { number, keyframe: b[8] & FLAG_KEYFRAME != 0, layer: b[9] };
	let filler_ok = b[TRAILER_LEN..].iter().enumerate().all(|(j, &x)| x == filler_byte(number, j));
	if !filler_ok {
		return Err(FrameError::BadFiller);
	}
	Ok(t)
}

/// Builds one synthetic video frame of about `size` bytes (never less than the headers plus the
/// trailer).
pub fn build_video_frame(
	codec: VideoCodec,
	t: Trailer,
	size: usize,
	width: u16,
	height: u16,
) -> Vec<u8> {
	match codec {
		VideoCodec::Vp8 => build_vp8_frame(t, size, width, height),
		VideoCodec::H264 => build_h264_frame(t, size),
	}
}

/// Checks a reassembled video frame and returns its trailer.
pub fn parse_video_frame(codec: VideoCodec, frame: &[u8]) -> Result<Trailer, FrameError> {
	match codec {
		VideoCodec::Vp8 => parse_vp8_frame(frame),
		VideoCodec::H264 => parse_h264_frame(frame),
	}
}

fn build_vp8_frame(t: Trailer, size: usize, width: u16, height: u16) -> Vec<u8> {
	let header_len = if t.keyframe { VP8_KEY_HEADER_LEN } else { VP8_INTER_HEADER_LEN };
	let filler = size.saturating_sub(header_len + TRAILER_LEN);
	let mut out = Vec::with_capacity(header_len + TRAILER_LEN + filler);
	// RFC 6386 9.1 frame tag, 24 bits little-endian: bit 0 = P (inverse key frame flag),
	// bits 1-3 version (0), bit 4 show_frame, bits 5-23 first partition size.
	let first_part_size = (TRAILER_LEN + filler).min(0x7ffff) as u32;
	let tag = u32::from(!t.keyframe) | (1 << 4) | (first_part_size << 5);
	out.extend_from_slice(&tag.to_le_bytes()[..3]);
	if t.keyframe {
		out.extend_from_slice(&VP8_START_CODE);
		// 14-bit dimensions, scale bits 0.
		out.extend_from_slice(&(width & 0x3fff).to_le_bytes());
		out.extend_from_slice(&(height & 0x3fff).to_le_bytes());
	}
	put_trailer(&mut out, t, filler);
	out
}

fn parse_vp8_frame(frame: &[u8]) -> Result<Trailer, FrameError> {
	let Some(&first) = frame.first() else { return Err(FrameError::NoTrailer) };
	let key = first & 0x01 == 0;
	let header_len = if key {
		if frame.len() < VP8_KEY_HEADER_LEN || frame[3..6] != VP8_START_CODE {
			return Err(FrameError::NoTrailer);
		}
		VP8_KEY_HEADER_LEN
	} else {
		VP8_INTER_HEADER_LEN
	};
	let t = parse_trailer(frame.get(header_len..).ok_or(FrameError::NoTrailer)?)?;
	if t.keyframe != key {
		return Err(FrameError::KeyMismatch);
	}
	Ok(t)
}

/// Inserts H264 emulation-prevention bytes (0x03 after two zeros when the next byte is <= 3), so
/// the NAL payload never contains a start code.
fn escape_rbsp(rbsp: &[u8], out: &mut Vec<u8>) {
	let mut zeros = 0;
	for &b in rbsp {
		if zeros >= 2 && b <= 3 {
			out.push(3);
			zeros = 0;
		}
		out.push(b);
		zeros = if b == 0 { zeros + 1 } else { 0 };
	}
}

/// Removes H264 emulation-prevention bytes.
fn unescape_ebsp(ebsp: &[u8]) -> Vec<u8> {
	let mut out = Vec::with_capacity(ebsp.len());
	let mut zeros = 0;
	for &b in ebsp {
		if zeros >= 2 && b == 3 {
			zeros = 0;
			continue;
		}
		out.push(b);
		zeros = if b == 0 { zeros + 1 } else { 0 };
	}
	out
}

fn build_h264_frame(t: Trailer, size: usize) -> Vec<u8> {
	let mut out = Vec::with_capacity(size + 32);
	if t.keyframe {
		out.extend_from_slice(&ANNEXB_START_CODE);
		out.extend_from_slice(&H264_SPS);
		out.extend_from_slice(&ANNEXB_START_CODE);
		out.extend_from_slice(&H264_PPS);
	}
	out.extend_from_slice(&ANNEXB_START_CODE);
	out.push(if t.keyframe { H264_IDR_NAL_HEADER } else { H264_NON_IDR_NAL_HEADER });
	// At least one (non-zero) filler byte, so the NAL never ends in a zero byte.
	let filler = size.saturating_sub(out.len() + TRAILER_LEN).max(1);
	let mut rbsp = Vec::with_capacity(TRAILER_LEN + filler);
	put_trailer(&mut rbsp, t, filler);
	escape_rbsp(&rbsp, &mut out);
	out
}

/// Splits an Annex-B byte stream into NAL units (3- or 4-byte start codes).
pub fn split_annexb(stream: &[u8]) -> Vec<&[u8]> {
	let mut nals = Vec::new();
	let mut i = 0;
	let mut start = None;
	while i + 2 < stream.len() {
		if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
			if let Some(s) = start {
				// A 4-byte start code leaves its leading zero on the previous NAL.
				let mut end = i;
				while end > s && stream[end - 1] == 0 {
					end -= 1;
				}
				nals.push(&stream[s..end]);
			}
			i += 3;
			start = Some(i);
		} else {
			i += 1;
		}
	}
	if let Some(s) = start {
		if s < stream.len() {
			nals.push(&stream[s..]);
		}
	}
	nals
}

fn parse_h264_frame(frame: &[u8]) -> Result<Trailer, FrameError> {
	let nals = split_annexb(frame);
	let slice = nals
		.iter()
		.find(|n| matches!(n.first().map(|h| h & 0x1f), Some(1) | Some(5)))
		.ok_or(FrameError::NoTrailer)?;
	let idr = slice[0] & 0x1f == 5;
	let t = parse_trailer(&unescape_ebsp(&slice[1..]))?;
	let has_params = nals.iter().any(|n| n.first().map(|h| h & 0x1f) == Some(7))
		&& nals.iter().any(|n| n.first().map(|h| h & 0x1f) == Some(8));
	if t.keyframe != idr || (idr && !has_params) {
		return Err(FrameError::KeyMismatch);
	}
	Ok(t)
}

/// Builds one synthetic audio packet of `size` bytes (at least [`TRAILER_LEN`]).
pub fn build_audio_packet(number: u32, size: usize) -> Vec<u8> {
	let mut out = Vec::with_capacity(size.max(TRAILER_LEN));
	put_trailer(
		&mut out,
		Trailer { number, keyframe: false, layer: 0 },
		size.saturating_sub(TRAILER_LEN),
	);
	out
}

/// Checks an audio packet's payload and returns its trailer.
pub fn parse_audio_packet(payload: &[u8]) -> Result<Trailer, FrameError> {
	parse_trailer(payload)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn vp8_round_trip() {
		for keyframe in [true, false] {
			let t = Trailer { number: 0x0100_0000, keyframe, layer: 2 };
			let f = build_video_frame(VideoCodec::Vp8, t, 5000, 640, 480);
			assert_eq!(f.len(), 5000);
			assert_eq!(f[0] & 1 == 0, keyframe);
			assert_eq!(f[0] & 0x10, 0x10, "show_frame");
			if keyframe {
				assert_eq!(&f[3..10], &[0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
				assert_eq!(&f[10..14], MAGIC);
			} else {
				assert_eq!(&f[3..7], MAGIC);
			}
			assert_eq!(parse_video_frame(VideoCodec::Vp8, &f), Ok(t));
		}
	}

	#[test]
	fn vp8_detects_corruption() {
		let t = Trailer { number: 7, keyframe: false, layer: 0 };
		let mut f = build_video_frame(VideoCodec::Vp8, t, 300, 640, 480);
		f[200] ^= 0x40;
		assert_eq!(parse_video_frame(VideoCodec::Vp8, &f), Err(FrameError::BadFiller));
		let mut f = build_video_frame(VideoCodec::Vp8, t, 300, 640, 480);
		f[0] &= !1;
		assert_eq!(parse_video_frame(VideoCodec::Vp8, &f), Err(FrameError::NoTrailer));
	}

	#[test]
	fn h264_round_trip_with_zero_bytes_in_trailer() {
		for number in [0u32, 1, 0x100, 0x0300_0000] {
			for keyframe in [true, false] {
				let t = Trailer { number, keyframe, layer: 0 };
				let f = build_video_frame(VideoCodec::H264, t, 3000, 640, 480);
				// No start code may appear inside the slice NAL.
				let nals = split_annexb(&f);
				assert_eq!(nals.len(), if keyframe { 3 } else { 1 });
				if keyframe {
					assert_eq!(nals[0], &H264_SPS);
					assert_eq!(nals[1], &H264_PPS);
				}
				assert_eq!(parse_video_frame(VideoCodec::H264, &f), Ok(t));
			}
		}
	}

	#[test]
	fn escaping_round_trips() {
		let raw = [0u8, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0];
		let mut esc = Vec::new();
		escape_rbsp(&raw, &mut esc);
		assert!(!esc.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2));
		assert_eq!(unescape_ebsp(&esc), raw);
	}

	#[test]
	fn audio_round_trip() {
		let p = build_audio_packet(42, 160);
		assert_eq!(p.len(), 160);
		assert_eq!(parse_audio_packet(&p), Ok(Trailer { number: 42, keyframe: false, layer: 0 }));
	}
}
