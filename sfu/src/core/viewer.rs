//! A viewer's outgoing RTP: which forwarded packets it takes (its layer, from a keyframe on),
//! rewritten onto its own streams, and written through its direct sender or its `Rtc`.

use super::{Forward, Kind, Peer};
use crate::{
	direct::{self, Direct, StreamInfo},
	forward::Rewriter,
	output::Output,
	srtp::SrtpSession,
	MediaPeerId,
};
use std::time::Instant;
use str0m::{
	config::CryptoProvider,
	media::{MediaKind, Mid, Rid},
	rtp::{Extension, ExtensionValues, RtpWrite, SeqNo},
	Rtc,
};

pub(crate) struct Out {
	mid: Mid,
	rw: Rewriter,
	/// Re-choose the mapping at the next packet (start, resume, new publisher).
	rebase: bool,
}

impl Out {
	fn new(mid: Mid, clock_rate: u32) -> Self {
		// Start low in the sequence space, as browsers do: far from a rollover.
		let rw = Rewriter::new(clock_rate, rand::random::<u16>() / 2 + 1, rand::random());
		Self { mid, rw, rebase: true }
	}
}

pub(crate) struct VideoOut {
	out: Out,
	/// The layer being forwarded; `None` until a keyframe starts one.
	current: Option<Option<Rid>>,
}

pub(crate) struct Viewer {
	audio: Option<Out>,
	video: Option<VideoOut>,
	/// Publisher payload type → this viewer's, for the publisher `epoch` (a handful: a list).
	pts: Vec<(u8, Option<u8>)>,
	epoch: u64,
	pub(crate) estimate_bps: Option<u64>,
	/// The layer to move to; `None`: whichever starts a keyframe first.
	pub(crate) target: Option<Option<Rid>>,
	/// What the publisher sent between this viewer's connection and its start (above all the
	/// keyframe asked for when it connected), sent at the start rather than lost.
	early: Vec<Forward>,
}

/// The most packets kept for a viewer before its start: a cached group of pictures and a few
/// hundred milliseconds of video and audio after it. Past it they are dropped, and the viewer
/// starts at a later keyframe.
const EARLY_MAX: usize = super::gop::GOP_MAX + 512;
/// The most kept packets written to a viewer per batch from its start on, until none are
/// left (later batches wait behind them): a seeded group of hundreds of packets at once would
/// overflow a client's receive buffer (seen with webrtc-rs on loopback), while this many
/// carry a keyframe in the first write and catch up a second's group within a few frames.
const EARLY_PER_WRITE: usize = 64;

impl Viewer {
	pub(crate) fn new(audio: Option<Mid>, video: Option<Mid>, epoch: u64) -> Self {
		Self {
			audio: audio.map(|m| Out::new(m, 48_000)),
			video: video.map(|m| VideoOut { out: Out::new(m, 90_000), current: None }),
			pts: Vec::new(),
			epoch,
			estimate_bps: None,
			target: None,
			early: Vec::new(),
		}
	}

	/// Start over at the next keyframe (resume, new publisher).
	pub(crate) fn restart(&mut self) {
		self.early.clear();
		if let Some(a) = &mut self.audio {
			a.rebase = true;
		}
		if let Some(x) = &mut self.video {
			x.out.rebase = true;
			x.current = None;
		}
	}

	/// Start on `group` (a room's packets since its last keyframe), sent from the start on
	/// before what comes meanwhile. `rtc` is the viewer's: the group's payload types are
	/// matched to its own.
	pub(crate) fn seed(&mut self, group: &[Forward], rtc: &mut Rtc) {
		self.early.clear();
		for f in group {
			if f.epoch == self.epoch {
				learn_pt(self, rtc, f);
			}
		}
		self.early.extend_from_slice(group);
	}

	/// The layer it is being sent: `None` before a keyframe started one.
	pub(crate) fn current_layer(&self) -> Option<Option<Rid>> {
		self.video.as_ref().and_then(|x| x.current)
	}

	pub(crate) fn video_mid(&self) -> Option<Mid> {
		self.video.as_ref().map(|x| x.out.mid)
	}
}

/// Write a batch of forwarded packets to a viewer (its direct sender, or its `Rtc`); returns
/// how many were for it (none while it is paused, or before its start, when they are kept for
/// it; not those of another layer, or before the keyframe it waits for, or of a codec it
/// lacks).
pub(super) fn write_to_viewer(
	peer: &mut Peer,
	batch: &[Forward],
	now: Instant,
	out: &mut dyn Output,
) -> u64 {
	let Peer { id, rtc, kind, counters, paused, start_at, direct, .. } = peer;
	let Kind::Viewer(v) = kind else { return 0 };
	let Some(start_at) = *start_at else { return 0 };
	if *paused {
		return 0;
	}
	// Payload types first: matching one needs the `Rtc`, which the writes below borrow.
	for f in batch {
		if v.epoch != f.epoch {
			v.epoch = f.epoch;
			v.pts.clear();
			v.restart();
		}
		learn_pt(v, rtc, f);
	}
	if now < start_at {
		if v.early.len() + batch.len() > EARLY_MAX {
			v.early.clear();
		}
		v.early.extend(batch.iter().cloned());
		return 0;
	}
	// From the start: what was kept for it first, a bounded part per write, the batch behind
	// it; then batches as they come.
	let kept: Vec<Forward> = if v.early.is_empty() {
		Vec::new()
	} else {
		v.early.extend(batch.iter().cloned());
		let n = v.early.len().min(EARLY_PER_WRITE);
		v.early.drain(..n).collect()
	};
	let batch = if kept.is_empty() { batch } else { &kept[..] };
	let mut count = |len: usize| {
		counters.packets += 1;
		counters.bytes += len as u64;
		counters.window_bytes += len as u64;
	};
	if let Some(d) = direct.as_mut() {
		let mut wrote = 0;
		for f in batch {
			let Some((pt, _, seq, ts)) = route(v, f, *id) else { continue };
			let packet = direct::Packet {
				video: f.kind == MediaKind::Video,
				pt,
				seq,
				ts,
				marker: f.marker,
				level: f.audio_level.zip(f.voice_activity),
				payload: &f.payload,
			};
			if d.send(&packet, now, out) {
				count(f.payload.len());
				wrote += 1;
			}
		}
		d.report(now, out);
		return wrote;
	}
	let mut api = rtc.direct_api();
	// The stream looked up last: a batch is mostly one mid's packets.
	let mut tx_mid = None;
	let mut tx = None;
	let mut wrote = 0;
	for f in batch {
		let Some((pt, mid, seq, ts)) = route(v, f, *id) else { continue };
		if tx_mid != Some(mid) {
			tx = api.stream_tx_by_mid(mid, None);
			tx_mid = Some(mid);
		}
		let Some(tx) = tx.as_mut() else { continue };
		let ext = ExtensionValues {
			audio_level: f.audio_level,
			voice_activity: f.voice_activity,
			..ExtensionValues::default()
		};
		tx.write_rtp(
			RtpWrite::new(pt.into(), SeqNo::from(seq), ts, f.arrival, f.payload.clone())
				.marker(f.marker)
				.ext_vals(ext)
				// Audio is not worth a retransmission; video is.
				.nackable(f.kind == MediaKind::Video),
		);
		count(f.payload.len());
		wrote += 1;
	}
	wrote
}

/// Map the publisher's payload type of `f` to the viewer's, once per type.
fn learn_pt(v: &mut Viewer, rtc: &mut Rtc, f: &Forward) {
	let pt = *f.params.pt();
	if !v.pts.iter().any(|(p, _)| *p == pt) {
		let mapped = rtc.codec_config().match_params(f.params).map(|p| *p.pt());
		v.pts.push((pt, mapped));
	}
}

/// A packet of a batch as this viewer takes it: its payload type, mid, sequence number and
/// timestamp; `None` if it does not (from an earlier publisher, of a codec it lacks, or not
/// for it: see [`map_packet`]).
fn route(v: &mut Viewer, f: &Forward, id: MediaPeerId) -> Option<(u8, Mid, u64, u32)> {
	// A batch spanning a new publisher: the old one's packets are not forwarded.
	if f.epoch != v.epoch {
		return None;
	}
	let pt = v.pts.iter().find(|(p, _)| *p == *f.params.pt()).and_then(|(_, m)| *m)?;
	let (mid, seq, ts) = map_packet(v, f, id)?;
	Some((pt, mid, seq, ts))
}

/// Where a publisher's packet goes in a viewer's streams: its mid, sequence number and
/// timestamp; `None` if the viewer does not take it (another layer, or not the keyframe it
/// waits for).
fn map_packet(v: &mut Viewer, f: &Forward, id: MediaPeerId) -> Option<(Mid, u64, u32)> {
	let out = match f.kind {
		MediaKind::Audio => v.audio.as_mut()?,
		MediaKind::Video => {
			let x = v.video.as_mut()?;
			let target = v.target.unwrap_or(f.layer);
			if x.current != Some(f.layer) || x.out.rebase {
				// Only a keyframe of the wanted layer starts (or switches) the video.
				if f.layer != target || !f.keyframe {
					return None;
				}
				tracing::trace!(peer = id, layer = ?f.layer, "viewer starts on a keyframe");
				x.current = Some(f.layer);
				x.out.rebase = true;
			}
			&mut x.out
		},
	};
	if out.rebase {
		out.rw.rebase(f.seq, f.timestamp, f.arrival);
		out.rebase = false;
	}
	let (seq, ts) = out.rw.map(f.seq, f.timestamp, f.arrival)?;
	Some((out.mid, seq, ts))
}

/// Move a connected viewer to its direct sender, once its handshake's keys and address are
/// known. Until then (and for good if its SRTP profile were one we do not know) str0m sends.
pub(super) fn start_direct(peer: &mut Peer, crypto: &CryptoProvider, now: Instant) {
	let (Some(keys), Some(dest)) = (peer.keys.as_ref(), peer.media_dest) else { return };
	let Kind::Viewer(v) = &peer.kind else { return };
	let Some(srtp) = SrtpSession::new(crypto, keys) else {
		tracing::warn!(peer = peer.id, "unknown SRTP profile: media goes through str0m");
		peer.wants_direct = false;
		return;
	};
	let audio = v.audio.as_ref().and_then(|o| stream_info(&mut peer.rtc, o.mid, 48_000, false));
	let video = v.video.as_ref().and_then(|o| stream_info(&mut peer.rtc, o.out.mid, 90_000, true));
	tracing::debug!(peer = peer.id, %dest, "viewer on the direct send path");
	peer.keys = None;
	peer.direct = Some(Direct::new(srtp, dest, audio, video, now));
}

/// What a viewer negotiated for its stream `mid`.
fn stream_info(rtc: &mut Rtc, mid: Mid, clock_rate: u32, nackable: bool) -> Option<StreamInfo> {
	let exts = rtc.media(mid)?.remote_extmap();
	let (mid_ext, level_ext) = (exts.id_of(Extension::RtpMid), exts.id_of(Extension::AudioLevel));
	let rtx_pts: Vec<(u8, u8)> = rtc
		.codec_config()
		.params()
		.iter()
		.filter_map(|p| p.resend().map(|r| (*p.pt(), *r)))
		.collect();
	let mut api = rtc.direct_api();
	let tx = api.stream_tx_by_mid(mid, None)?;
	let rtx = tx.rtx().map(|ssrc| (*ssrc, rtx_pts));
	let mid = mid.as_bytes().to_vec();
	Some(StreamInfo { mid, ssrc: *tx.ssrc(), clock_rate, mid_ext, level_ext, rtx, nackable })
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::time::Duration;

	fn packet(layer: &str, seq: u64, keyframe: bool, at: Instant) -> Forward {
		Forward::for_test(MediaKind::Video, Some(layer), seq, keyframe, at)
	}

	#[test]
	fn a_layer_switch_waits_for_that_layers_keyframe_and_sequence_numbers_run_on() {
		let t0 = Instant::now();
		let at = |ms| t0 + Duration::from_millis(ms);
		let mut v = Viewer::new(None, Some(Mid::from("1")), 1);
		let (l, h) = (Some(Rid::from("l")), Some(Rid::from("h")));
		v.target = Some(l);
		// Nothing before a keyframe of the target layer; a keyframe of another is not one.
		assert_eq!(map_packet(&mut v, &packet("l", 10, false, at(0)), 1), None);
		assert_eq!(map_packet(&mut v, &packet("h", 50, true, at(0)), 1), None);
		let (mid, first, _) = map_packet(&mut v, &packet("l", 11, true, at(10)), 1).unwrap();
		assert_eq!(mid, Mid::from("1"));
		assert_eq!(v.current_layer(), Some(l));
		// The target moves to h: l goes on until h's keyframe; h's delta frames are not taken.
		v.target = Some(h);
		assert_eq!(map_packet(&mut v, &packet("l", 12, false, at(20)), 1).unwrap().1, first + 1);
		assert_eq!(map_packet(&mut v, &packet("h", 51, false, at(30)), 1), None);
		assert_eq!(v.current_layer(), Some(l), "no switch on a delta frame");
		assert_eq!(map_packet(&mut v, &packet("l", 13, false, at(40)), 1).unwrap().1, first + 2);
		// h's keyframe: the switch, continuing l's sequence.
		let (_, seq, _) = map_packet(&mut v, &packet("h", 52, true, at(50)), 1).unwrap();
		assert_eq!((seq, v.current_layer()), (first + 3, Some(h)));
		// From now on l is not taken, h is.
		assert_eq!(map_packet(&mut v, &packet("l", 14, true, at(60)), 1), None);
		assert_eq!(map_packet(&mut v, &packet("h", 53, false, at(60)), 1).unwrap().1, first + 4);
	}
}
