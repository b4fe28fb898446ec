//! Video frames from RTP packets: a frame is complete when all of its packets arrived (the
//! marker closes it) without a gap in sequence numbers, and frames are kept from a keyframe on
//! until a packet goes missing (later frames would refer to what was lost).

use crate::codec::{self, VideoCodec};
use std::{sync::Arc, time::Instant};

/// One whole video frame, depacketized.
pub(super) struct Frame {
	/// The codec's bitstream: a VP8 frame, or H.264 NAL units in Annex-B form.
	pub data: Vec<u8>,
	/// Its RTP timestamp (90 kHz).
	pub rtp: u32,
	/// Whether it is a keyframe.
	pub key: bool,
	/// When its last packet arrived.
	pub arrival: Instant,
}

/// Reassembles one publisher's video packets into [`Frame`]s.
pub(super) struct FrameAssembler {
	codec: VideoCodec,
	/// The current frame's packets: (seq, payload).
	pending: Vec<(u64, Arc<[u8]>)>,
	pending_ts: Option<u32>,
	/// Whether frames are being kept: from a keyframe until a packet goes missing.
	started: bool,
	/// The last sequence number of the last frame kept.
	last_seq: Option<u64>,
}

impl FrameAssembler {
	pub(super) fn new(codec: VideoCodec) -> Self {
		Self { codec, pending: Vec::new(), pending_ts: None, started: false, last_seq: None }
	}

	pub(super) fn codec(&self) -> VideoCodec {
		self.codec
	}

	/// Take a packet; returns the frame it completes, if that frame is whole and decodable.
	pub(super) fn push(
		&mut self,
		seq: u64,
		rtp: u32,
		marker: bool,
		payload: Arc<[u8]>,
		arrival: Instant,
	) -> Option<Frame> {
		if self.pending_ts != Some(rtp) {
			// A new frame began before the last one's marker: that one is incomplete.
			self.pending.clear();
			self.pending_ts = Some(rtp);
		}
		self.pending.push((seq, payload));
		if !marker {
			return None;
		}
		let mut packets = std::mem::take(&mut self.pending);
		self.pending_ts = None;
		packets.sort_by_key(|(seq, _)| *seq);
		let contiguous = packets.windows(2).all(|w| w[1].0 == w[0].0 + 1);
		let (first_seq, first) = packets.first()?;
		let last_seq = packets.last()?.0;
		let key = codec::starts_keyframe(self.codec, first);
		let follows = self.last_seq.is_some_and(|l| *first_seq == l + 1);
		if !contiguous || !(key || (self.started && follows)) {
			self.started = false;
			return None;
		}
		let data = match self.codec {
			VideoCodec::Vp8 => depacketize_vp8(&packets),
			VideoCodec::H264 => depacketize_h264(&packets),
		}?;
		self.started = true;
		self.last_seq = Some(last_seq);
		Some(Frame { data, rtp, key, arrival })
	}
}

/// A VP8 keyframe's width and height (RFC 6386 §9.1), if `frame` is one.
pub(super) fn vp8_dimensions(frame: &[u8]) -> Option<(u16, u16)> {
	let key = frame.first()? & 0x01 == 0;
	if !key || frame.get(3..6)? != [0x9d, 0x01, 0x2a] {
		return None;
	}
	let w = u16::from_le_bytes([*frame.get(6)?, *frame.get(7)?]) & 0x3fff;
	let h = u16::from_le_bytes([*frame.get(8)?, *frame.get(9)?]) & 0x3fff;
	(w > 0 && h > 0).then_some((w, h))
}

fn depacketize_vp8(packets: &[(u64, Arc<[u8]>)]) -> Option<Vec<u8>> {
	let mut frame = Vec::new();
	for (_, p) in packets {
		let len = codec::vp8_descriptor_len(p)?;
		frame.extend_from_slice(&p[len..]);
	}
	Some(frame)
}

fn depacketize_h264(packets: &[(u64, Arc<[u8]>)]) -> Option<Vec<u8>> {
	const START: [u8; 4] = [0, 0, 0, 1];
	let mut frame = Vec::new();
	for (_, p) in packets {
		let header = *p.first()?;
		match header & 0x1f {
			// STAP-A: several NAL units, each behind its 16-bit size.
			24 => {
				let mut rest = &p[1..];
				while rest.len() > 2 {
					let size = u16::from_be_bytes([rest[0], rest[1]]) as usize;
					let unit = rest.get(2..2 + size)?;
					frame.extend_from_slice(&START);
					frame.extend_from_slice(unit);
					rest = &rest[2 + size..];
				}
			},
			// FU-A: one NAL unit in fragments; the first carries its header.
			28 => {
				let fu = *p.get(1)?;
				if fu & 0x80 != 0 {
					frame.extend_from_slice(&START);
					frame.push((header & 0xe0) | (fu & 0x1f));
				}
				frame.extend_from_slice(p.get(2..)?);
			},
			_ => {
				frame.extend_from_slice(&START);
				frame.extend_from_slice(p);
			},
		}
	}
	Some(frame)
}
