//! Just enough of the video payload formats to find where keyframes begin.
//!
//! The SFU forwards RTP packets without decoding them, but a viewer can only start (or switch
//! simulcast layer) at a keyframe: its decoder has nothing to predict from before one. So each
//! incoming video packet is asked one question, "does a keyframe start here?", answered from
//! the payload descriptor and the first bytes of the frame.

/// The video codecs the SFU forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoCodec {
	/// VP8 (RFC 7741).
	Vp8,
	/// H.264 (RFC 6184).
	H264,
}

/// Whether `payload` (an RTP payload of `codec`) is the first packet of a keyframe.
pub fn starts_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
	match codec {
		VideoCodec::Vp8 => vp8_starts_keyframe(payload),
		VideoCodec::H264 => h264_starts_keyframe(payload),
	}
}

/// The length of a VP8 payload descriptor (RFC 7741 §4.2), or `None` if it is truncated.
pub(crate) fn vp8_descriptor_len(payload: &[u8]) -> Option<usize> {
	let first = *payload.first()?;
	let mut len = 1;
	if first & 0x80 != 0 {
		// X: an extension byte with the I, L, T and K flags.
		let ext = *payload.get(1)?;
		len += 1;
		if ext & 0x80 != 0 {
			// I: PictureID, 7 or 15 bits (M flag).
			let pid = *payload.get(len)?;
			len += if pid & 0x80 != 0 { 2 } else { 1 };
		}
		if ext & 0x40 != 0 {
			// L: TL0PICIDX.
			len += 1;
		}
		if ext & 0x30 != 0 {
			// T or K: one byte with TID/Y/KEYIDX.
			len += 1;
		}
	}
	(len <= payload.len()).then_some(len)
}

fn vp8_starts_keyframe(payload: &[u8]) -> bool {
	let Some(first) = payload.first() else { return false };
	// S: start of a partition; PID: partition index, 0 for the frame's first partition.
	let start_of_frame = first & 0x10 != 0 && first & 0x07 == 0;
	if !start_of_frame {
		return false;
	}
	let Some(len) = vp8_descriptor_len(payload) else { return false };
	// The frame tag's P bit is 0 for a key frame (RFC 6386 §9.1).
	payload.get(len).is_some_and(|tag| tag & 0x01 == 0)
}

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_STAP_A: u8 = 24;
const NAL_FU_A: u8 = 28;

fn h264_starts_keyframe(payload: &[u8]) -> bool {
	let Some(first) = payload.first() else { return false };
	match first & 0x1f {
		// A key frame is sent as SPS, PPS, IDR; encoders that omit parameter sets still
		// start it with an IDR slice.
		NAL_IDR | NAL_SPS => true,
		NAL_STAP_A => {
			// Aggregated NAL units: 16-bit size, then the unit (RFC 6184 §5.7.1).
			let mut rest = &payload[1..];
			while rest.len() > 2 {
				let size = u16::from_be_bytes([rest[0], rest[1]]) as usize;
				let Some(unit) = rest.get(2..2 + size) else { return false };
				if matches!(unit.first().map(|b| b & 0x1f), Some(NAL_IDR | NAL_SPS)) {
					return true;
				}
				rest = &rest[2 + size..];
			}
			false
		},
		NAL_FU_A => {
			// Fragmentation unit: the start bit and the fragmented unit's type.
			payload.get(1).is_some_and(|h| h & 0x80 != 0 && matches!(h & 0x1f, NAL_IDR | NAL_SPS))
		},
		_ => false,
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn vp8_keyframe_start_is_found_behind_any_descriptor() {
		// S=1, PID=0, no extension; frame tag P=0.
		assert!(starts_keyframe(VideoCodec::Vp8, &[0x10, 0x50, 0x01]));
		// Same, inter frame (P=1).
		assert!(!starts_keyframe(VideoCodec::Vp8, &[0x10, 0x51, 0x01]));
		// Not the start of the frame (S=0).
		assert!(!starts_keyframe(VideoCodec::Vp8, &[0x00, 0x50]));
		// X with I (15-bit picture id), L, T: 1 + 1 + 2 + 1 + 1 bytes of descriptor.
		let p = [0x90, 0xe0, 0x80, 0x05, 0x11, 0x20, 0x50, 0x9d];
		assert!(starts_keyframe(VideoCodec::Vp8, &p));
		let p = [0x90, 0xe0, 0x80, 0x05, 0x11, 0x20, 0x51, 0x9d];
		assert!(!starts_keyframe(VideoCodec::Vp8, &p));
		// 7-bit picture id.
		assert!(starts_keyframe(VideoCodec::Vp8, &[0x90, 0x80, 0x05, 0x50]));
		// Truncated descriptors are not keyframes, and do not panic.
		for n in 0..4 {
			assert!(!starts_keyframe(VideoCodec::Vp8, &[0x90, 0xe0, 0x80, 0x05][..n]));
		}
	}

	#[test]
	fn h264_keyframe_start_is_found_in_single_aggregated_and_fragmented_units() {
		assert!(starts_keyframe(VideoCodec::H264, &[0x65, 0x88]));
		assert!(starts_keyframe(VideoCodec::H264, &[0x67, 0x42]));
		assert!(!starts_keyframe(VideoCodec::H264, &[0x41, 0x9a]));
		// STAP-A with SPS then PPS.
		assert!(starts_keyframe(
			VideoCodec::H264,
			&[0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x01, 0x68]
		));
		// STAP-A with a truncated size does not panic.
		assert!(!starts_keyframe(VideoCodec::H264, &[0x78, 0x00, 0x09, 0x41]));
		// FU-A start of an IDR, and a middle fragment of it.
		assert!(starts_keyframe(VideoCodec::H264, &[0x7c, 0x85, 0x00]));
		assert!(!starts_keyframe(VideoCodec::H264, &[0x7c, 0x05, 0x00]));
		assert!(!starts_keyframe(VideoCodec::H264, &[]));
	}
}
