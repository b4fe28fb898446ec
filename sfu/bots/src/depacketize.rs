//! RTP depacketization (VP8 per RFC 7741, H264 per RFC 6184) and frame reassembly on the viewer.
//!
//! Written here rather than taken from webrtc-rs so the check does not share code with the
//! packetizer on the sending side.

use crate::frame::{parse_video_frame, FrameError, Trailer, VideoCodec};

/// The VP8 payload descriptor (RFC 7741 section 4.2) of one RTP packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vp8Descriptor {
	/// N: the frame may be discarded.
	pub non_reference: bool,
	/// S: the packet starts a VP8 partition.
	pub start_of_partition: bool,
	/// PID: the partition index.
	pub partition_index: u8,
	/// The PictureID (7 or 15 bits), if present.
	pub picture_id: Option<u16>,
	/// TL0PICIDX, if present.
	pub tl0_pic_idx: Option<u8>,
	/// TID (temporal layer index), if present.
	pub tid: Option<u8>,
	/// KEYIDX, if present.
	pub key_idx: Option<u8>,
	/// Length of the descriptor: the VP8 payload starts at this offset.
	pub len: usize,
}

impl Vp8Descriptor {
	/// Whether the packet carries the first byte of a frame (S = 1 and PID = 0).
	pub fn starts_frame(&self) -> bool {
		self.start_of_partition && self.partition_index == 0
	}
}

/// Parses the VP8 payload descriptor; `None` if the payload is truncated.
pub fn parse_vp8_descriptor(p: &[u8]) -> Option<Vp8Descriptor> {
	let b0 = *p.first()?;
	let mut d = Vp8Descriptor {
		non_reference: b0 & 0x20 != 0,
		start_of_partition: b0 & 0x10 != 0,
		partition_index: b0 & 0x07,
		len: 1,
		..Default::default()
	};
	if b0 & 0x80 == 0 {
		return Some(d);
	}
	let x = *p.get(1)?;
	d.len = 2;
	if x & 0x80 != 0 {
		// I: PictureID, 15 bits when M is set.
		let m = *p.get(d.len)?;
		if m & 0x80 != 0 {
			let lo = *p.get(d.len + 1)?;
			d.picture_id = Some(u16::from(m & 0x7f) << 8 | u16::from(lo));
			d.len += 2;
		} else {
			d.picture_id = Some(u16::from(m));
			d.len += 1;
		}
	}
	if x & 0x40 != 0 {
		// L: TL0PICIDX.
		d.tl0_pic_idx = Some(*p.get(d.len)?);
		d.len += 1;
	}
	if x & 0x30 != 0 {
		// T and/or K share one byte: TID(2) Y(1) KEYIDX(5).
		let tk = *p.get(d.len)?;
		if x & 0x20 != 0 {
			d.tid = Some(tk >> 6);
		}
		if x & 0x10 != 0 {
			d.key_idx = Some(tk & 0x1f);
		}
		d.len += 1;
	}
	(d.len <= p.len()).then_some(d)
}

/// Appends the Annex-B form of one H264 RTP payload (single NAL, STAP-A or FU-A) to `out`.
/// Returns whether the payload was understood.
pub fn depacketize_h264(p: &[u8], out: &mut Vec<u8>) -> bool {
	const START: [u8; 4] = [0, 0, 0, 1];
	let Some(&h) = p.first() else { return false };
	match h & 0x1f {
		1..=23 => {
			out.extend_from_slice(&START);
			out.extend_from_slice(p);
			true
		},
		24 => {
			// STAP-A: (u16 size, NAL)*
			let mut rest = &p[1..];
			while rest.len() >= 2 {
				let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
				if n == 0 || rest.len() < 2 + n {
					return false;
				}
				out.extend_from_slice(&START);
				out.extend_from_slice(&rest[2..2 + n]);
				rest = &rest[2 + n..];
			}
			rest.is_empty()
		},
		28 => {
			// FU-A: the NAL header is rebuilt from the indicator's F|NRI and the FU header's type.
			let Some(&fu) = p.get(1) else { return false };
			if fu & 0x80 != 0 {
				out.extend_from_slice(&START);
				out.push((h & 0xe0) | (fu & 0x1f));
			}
			out.extend_from_slice(&p[2..]);
			true
		},
		_ => false,
	}
}

/// Whether an H264 RTP payload starts a new NAL unit (anything but an FU-A continuation).
fn h264_starts_nal(p: &[u8]) -> bool {
	match p.first().map(|h| h & 0x1f) {
		Some(28) => p.get(1).is_some_and(|fu| fu & 0x80 != 0),
		Some(_) => true,
		None => false,
	}
}

/// What one RTP packet did to the frame being reassembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssemblyEvent {
	/// A frame was completed and parsed (its last packet carried the marker bit).
	Complete(Trailer),
	/// A frame was completed but failed to parse.
	Corrupt(FrameError),
	/// A frame was abandoned: a packet was missing, out of order, or the stream was joined
	/// mid-frame.
	Incomplete,
}

struct Partial {
	timestamp: u32,
	next_seq: u16,
	data: Vec<u8>,
	broken: bool,
}

/// Reassembles frames from RTP packets in arrival order: a frame is the run of packets with
/// consecutive sequence numbers and one timestamp, from a frame start (VP8: S = 1 and PID = 0;
/// H264: a new timestamp) to the marker bit. No jitter buffer: reordered or lost packets make the
/// frame incomplete.
pub struct FrameAssembler {
	codec: VideoCodec,
	current: Option<Partial>,
}

impl FrameAssembler {
	/// An assembler for one video stream of `codec`.
	pub fn new(codec: VideoCodec) -> Self {
		Self { codec, current: None }
	}

	/// Feeds one packet (in arrival order) and returns what finished because of it: nothing, or
	/// an abandoned frame, and/or the frame this packet completed.
	pub fn push(
		&mut self,
		seq: u16,
		timestamp: u32,
		marker: bool,
		payload: &[u8],
	) -> Vec<AssemblyEvent> {
		let mut events = Vec::new();
		if payload.is_empty() {
			// Padding-only packet: it takes a sequence number but carries no media.
			if let Some(c) = self.current.as_mut() {
				if c.next_seq == seq {
					c.next_seq = seq.wrapping_add(1);
				}
			}
			return events;
		}
		let (starts, body): (bool, &[u8]) = match self.codec {
			VideoCodec::Vp8 => match parse_vp8_descriptor(payload) {
				Some(d) => (d.starts_frame(), &payload[d.len..]),
				None => {
					if let Some(c) = self.current.as_mut() {
						c.broken = true;
					}
					return events;
				},
			},
			VideoCodec::H264 => {
				let new_ts = self.current.as_ref().is_none_or(|c| c.timestamp != timestamp);
				(new_ts && h264_starts_nal(payload), payload)
			},
		};
		if starts {
			if self.current.take().is_some() {
				events.push(AssemblyEvent::Incomplete);
			}
			self.current =
				Some(Partial { timestamp, next_seq: seq, data: Vec::new(), broken: false });
		}
		let Some(c) = self.current.as_mut() else {
			// Joined mid-frame: wait for the next frame start.
			if marker {
				events.push(AssemblyEvent::Incomplete);
			}
			return events;
		};
		if c.timestamp != timestamp || c.next_seq != seq {
			c.broken = true;
		}
		c.next_seq = seq.wrapping_add(1);
		if !c.broken {
			match self.codec {
				VideoCodec::Vp8 => c.data.extend_from_slice(body),
				VideoCodec::H264 => {
					if !depacketize_h264(body, &mut c.data) {
						c.broken = true;
					}
				},
			}
		}
		if marker {
			let Some(c) = self.current.take() else { return events };
			events.push(if c.broken {
				AssemblyEvent::Incomplete
			} else {
				match parse_video_frame(self.codec, &c.data) {
					Ok(t) => AssemblyEvent::Complete(t),
					Err(e) => AssemblyEvent::Corrupt(e),
				}
			});
		}
		events
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::frame::build_video_frame;
	use bytes::Bytes;
	use webrtc::rtp::packetizer::Payloader;

	#[test]
	fn vp8_descriptor_forms() {
		// No extension.
		let d = parse_vp8_descriptor(&[0x10, 0xaa]).expect("parses");
		assert!(d.starts_frame());
		assert_eq!(d.len, 1);
		// 7-bit PictureID.
		let d = parse_vp8_descriptor(&[0x90, 0x80, 0x05, 0xaa]).expect("parses");
		assert_eq!((d.picture_id, d.len), (Some(5), 3));
		// 15-bit PictureID, L, T and K.
		let d = parse_vp8_descriptor(&[0x80, 0xf0, 0x81, 0x02, 0x07, 0x5f, 0xaa]).expect("parses");
		assert_eq!(d.picture_id, Some(0x0102));
		assert_eq!(d.tl0_pic_idx, Some(7));
		assert_eq!(d.tid, Some(1));
		assert_eq!(d.key_idx, Some(0x1f));
		assert_eq!(d.len, 6);
		assert!(!d.start_of_partition);
		// Truncated.
		assert_eq!(parse_vp8_descriptor(&[0x80, 0x80]), None);
	}

	/// Packetizes with webrtc-rs's payloaders, as the publisher does, and reassembles.
	fn round_trip(codec: VideoCodec) {
		let mut payloader: Box<dyn Payloader> = match codec {
			VideoCodec::Vp8 => {
				let mut p = webrtc::rtp::codecs::vp8::Vp8Payloader::default();
				p.enable_picture_id = true;
				Box::new(p)
			},
			VideoCodec::H264 => Box::<webrtc::rtp::codecs::h264::H264Payloader>::default(),
		};
		let mut asm = FrameAssembler::new(codec);
		let mut seq = 65530u16;
		for number in 0..5u32 {
			let t = Trailer { number, keyframe: number % 3 == 0, layer: 0 };
			let frame = build_video_frame(codec, t, 4000, 640, 480);
			let payloads = payloader.payload(1188, &Bytes::from(frame)).expect("payload");
			assert!(payloads.len() > 2);
			let mut events = Vec::new();
			for (i, p) in payloads.iter().enumerate() {
				events.extend(asm.push(seq, number * 3000, i + 1 == payloads.len(), p));
				seq = seq.wrapping_add(1);
			}
			assert_eq!(events, vec![AssemblyEvent::Complete(t)], "{codec:?} frame {number}");
		}
		// A lost packet makes the frame incomplete, and the next frame is fine again.
		let t = Trailer { number: 5, keyframe: false, layer: 0 };
		let payloads = payloader
			.payload(1188, &Bytes::from(build_video_frame(codec, t, 4000, 640, 480)))
			.expect("payload");
		let mut events = Vec::new();
		for (i, p) in payloads.iter().enumerate() {
			if i != 1 {
				events.extend(asm.push(seq, 15000, i + 1 == payloads.len(), p));
			}
			seq = seq.wrapping_add(1);
		}
		assert_eq!(events, vec![AssemblyEvent::Incomplete]);
	}

	#[test]
	fn vp8_reassembly() {
		round_trip(VideoCodec::Vp8);
	}

	#[test]
	fn h264_reassembly() {
		round_trip(VideoCodec::H264);
	}
}
