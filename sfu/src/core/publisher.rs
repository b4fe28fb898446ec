//! A publisher's incoming RTP: its payload types and layers, accounted and queued for its
//! room's viewers, keyframes marked, audio and video handed to the recorder.

use super::{keyframes::KeyframeLimiter, layers::Layer, Forward, Job, Kind, Peer};
use crate::{
	codec::{self, VideoCodec},
	output::Output,
	recorder::{RecordMedia, RecordMsg, RecordPacket},
};
use std::collections::{HashMap, VecDeque};
use str0m::{
	format::{Codec, PayloadParams},
	media::{MediaKind, Mid, Rid},
	rtp::{RtpPacket, Ssrc},
};

pub(crate) struct PtInfo {
	kind: MediaKind,
	video: Option<VideoCodec>,
	params: PayloadParams,
}

pub(crate) struct Publisher {
	/// Payload type → what it carries; `None`: a codec that is not forwarded.
	pts: HashMap<u8, Option<PtInfo>>,
	pub(crate) layers: HashMap<Ssrc, Layer>,
	pub(crate) keyframes: KeyframeLimiter,
	/// Its room's epoch when it joined (see `Fanout::epoch`).
	epoch: u64,
}

impl Publisher {
	pub(crate) fn new(epoch: u64) -> Self {
		Self {
			pts: HashMap::new(),
			layers: HashMap::new(),
			keyframes: KeyframeLimiter::default(),
			epoch,
		}
	}

	/// Its video layers (mid, rid), one per rid: `layer` only, or all of them for `None`.
	pub(crate) fn video_layers(&self, layer: Option<Option<Rid>>) -> Vec<(Mid, Option<Rid>)> {
		let mut targets: Vec<(Mid, Option<Rid>)> = Vec::new();
		for l in self.layers.values().filter(|l| l.video) {
			if layer.is_none_or(|want| want == l.rid) && !targets.iter().any(|t| t.1 == l.rid) {
				targets.push((l.mid, l.rid));
			}
		}
		targets
	}
}

/// A publisher's packet: account for it, and queue it for the room (if `wanted`: it has
/// viewers, or keeps a group of pictures for those to come).
pub(super) fn on_rtp(
	peer: &mut Peer,
	packet: RtpPacket,
	wanted: bool,
	jobs: &mut VecDeque<Job>,
	recording: bool,
	out: &mut dyn Output,
) {
	let Kind::Publisher(publisher) = &mut peer.kind else { return };
	let pt = *packet.header.payload_type;
	let rtc = &mut peer.rtc;
	let info = publisher.pts.entry(pt).or_insert_with(|| {
		let params = rtc.codec_config().params().iter().find(|p| *p.pt() == pt).copied()?;
		let spec = params.spec();
		let (kind, video) = match spec.codec {
			Codec::Opus | Codec::PCMU | Codec::PCMA | Codec::G722 => (MediaKind::Audio, None),
			Codec::Vp8 => (MediaKind::Video, Some(VideoCodec::Vp8)),
			Codec::H264 => (MediaKind::Video, Some(VideoCodec::H264)),
			// Codecs the SFU cannot find keyframes in are not forwarded.
			_ => return None,
		};
		Some(PtInfo { kind, video, params })
	});
	let Some(info) = info else { return };
	let (kind, video, params) = (info.kind, info.video, info.params);
	let ssrc = packet.header.ssrc;
	let now = packet.timestamp;
	let layer = publisher.layers.entry(ssrc).or_insert_with(|| {
		let (mid, rid) = rtc
			.direct_api()
			.stream_rx(&ssrc)
			.map(|rx| (rx.mid(), rx.rid()))
			.unwrap_or((packet.header.ext_vals.mid.unwrap_or_default(), None));
		Layer {
			video: kind == MediaKind::Video,
			rid,
			mid,
			window_bytes: 0,
			bitrate_bps: 0,
			last_at: now,
		}
	});
	let len = packet.payload.len() as u64;
	layer.window_bytes += len;
	layer.last_at = now;
	let rid = layer.rid;
	peer.counters.packets += 1;
	peer.counters.bytes += len;
	peer.counters.window_bytes += len;
	let keyframe = video.is_some_and(|c| codec::starts_keyframe(c, &packet.payload));
	if keyframe {
		tracing::trace!(peer = peer.id, ?ssrc, seq = *packet.seq_no, "keyframe from publisher");
	}
	if recording {
		// Audio, and one video layer: the unnamed one, or the first rid seen.
		let media = match video {
			Some(c) => {
				let first_rid = publisher
					.layers
					.values()
					.filter(|l| l.video)
					.filter_map(|l| l.rid)
					.min_by_key(|r| r.to_string());
				(rid == first_rid).then_some(RecordMedia::Video(c))
			},
			// WebM holds Opus; other audio codecs are not recorded.
			None => (params.spec().codec == Codec::Opus).then_some(RecordMedia::Audio),
		};
		if let Some(media) = media {
			out.record(RecordMsg::Packet(RecordPacket {
				peer: peer.id,
				stream_id: peer.stream_id,
				media,
				seq: *packet.seq_no,
				timestamp: packet.header.timestamp,
				marker: packet.header.marker,
				arrival: now,
				payload: packet.payload.clone(),
			}));
		}
	}
	if !wanted {
		return;
	}
	jobs.push_back(Job::Forward(Box::new(Forward {
		stream_id: peer.stream_id,
		epoch: publisher.epoch,
		kind,
		params,
		layer: rid,
		keyframe,
		seq: *packet.seq_no,
		timestamp: packet.header.timestamp,
		marker: packet.header.marker,
		arrival: now,
		audio_level: packet.header.ext_vals.audio_level,
		voice_activity: packet.header.ext_vals.voice_activity,
		payload: packet.payload,
	})));
}
