//! Once per [`STATS_PERIOD`]: bitrates over the period, each simulcast viewer's layer for its
//! estimate, the snapshot and the per-room metrics.

use super::{
	layers::{choose_layer, live_layers, LAYER_HEADROOM},
	Job, Kind, Peer, Sfu, STATS_PERIOD,
};
use crate::{output::Output, MediaSnapshot, PeerStats, RoomStats, StreamId};
use std::collections::{BTreeMap, HashMap};
use str0m::{bwe::Bitrate, media::Rid};

impl Sfu {
	pub(super) fn refresh_stats(&mut self, out: &mut dyn Output) {
		let now = self.now;
		let secs = STATS_PERIOD.as_secs_f64();
		for peer in self.peers.values_mut() {
			peer.counters.bitrate_bps = (peer.counters.window_bytes as f64 * 8.0 / secs) as u64;
			peer.counters.window_bytes = 0;
			if let Kind::Publisher(p) = &mut peer.kind {
				p.layers.values_mut().for_each(|l| l.roll(secs));
			}
		}
		// Each viewer's layer: from its publisher's live layers and its own estimate.
		let mut layer_lists: HashMap<StreamId, Vec<(Option<Rid>, u64)>> = HashMap::new();
		for (stream_id, room) in &self.rooms {
			let Some(p) = room.publisher.and_then(|id| self.peers.get(&id)) else { continue };
			let Kind::Publisher(publisher) = &p.kind else { continue };
			layer_lists.insert(*stream_id, live_layers(publisher.layers.values(), now));
		}
		let mut keyframes = Vec::new();
		let mut probed = Vec::new();
		for peer in self.peers.values_mut() {
			let Kind::Viewer(v) = &mut peer.kind else { continue };
			let Some(layers) = layer_lists.get(&peer.stream_id) else { continue };
			if layers.len() > 1 {
				let target = choose_layer(layers, v.estimate_bps, LAYER_HEADROOM);
				if target.is_some() && target != v.target {
					v.target = target;
					if v.current_layer() != target {
						keyframes.push((peer.stream_id, target));
					}
				}
				// Let the estimator probe up to the best layer, without padding beyond the
				// layer being sent.
				let best = layers.iter().map(|l| l.1).max().unwrap_or(0);
				let sending = layers.iter().find(|l| Some(l.0) == v.target).map_or(0, |l| l.1);
				peer.rtc.bwe().set_bitrate(Bitrate::bps(sending), Bitrate::bps(best * 6 / 5));
				probed.push(peer.id);
			} else {
				v.target = layers.first().map(|l| l.0);
			}
		}
		// Setting the desired bitrate is a mutation: drain (str0m's contract).
		for id in probed {
			self.drain(id, out);
		}
		for (stream_id, layer) in keyframes {
			self.jobs.push_back(Job::Keyframe { stream_id, layer });
		}
		self.run_jobs(out);
		let snapshot = self.snapshot();
		out.snapshot(snapshot);
	}

	/// The state of every room, with the per-room metrics set to match.
	fn snapshot(&mut self) -> MediaSnapshot {
		let mut rooms = Vec::with_capacity(self.rooms.len());
		let mut streams = Vec::with_capacity(self.rooms.len());
		for (stream_id, room) in &self.rooms {
			let publisher = room.publisher.and_then(|id| self.peers.get(&id));
			let mut layers = BTreeMap::new();
			if let Some(Kind::Publisher(p)) = publisher.map(|p| &p.kind) {
				for l in p.layers.values().filter(|l| l.video) {
					let key = l.rid.map(|r| r.to_string()).unwrap_or_default();
					*layers.entry(key).or_insert(0) += l.bitrate_bps;
				}
			}
			let viewers: Vec<PeerStats> =
				room.viewers.iter().filter_map(|id| self.peers.get(id)).map(stats_of).collect();
			let s = stream_id.to_string();
			let out_bps: u64 = viewers.iter().map(|v| v.bitrate_bps).sum();
			let out_loss = viewers.iter().map(|v| v.loss).fold(0.0f32, f32::max);
			let m = &self.metrics;
			m.media_room_bitrate
				.with_label_values(&[&s, "in"])
				.set(publisher.map(|p| p.counters.bitrate_bps).unwrap_or(0) as i64);
			m.media_room_bitrate.with_label_values(&[&s, "out"]).set(out_bps as i64);
			m.media_room_viewers.with_label_values(&[&s]).set(viewers.len() as i64);
			m.media_room_loss
				.with_label_values(&[&s, "in"])
				.set(publisher.map(|p| p.counters.loss).unwrap_or(0.0) as f64);
			m.media_room_loss.with_label_values(&[&s, "out"]).set(out_loss as f64);
			streams.push(*stream_id);
			rooms.push(RoomStats {
				stream_id: *stream_id,
				publisher: publisher.map(stats_of),
				layers,
				viewers,
				forwarded_packets: room.forwarded,
				keyframe_requests_coalesced: room.coalesced,
			});
		}
		// Rooms that are gone lose their series.
		for old in self.metric_streams.iter().filter(|s| !streams.contains(s)) {
			self.metrics.remove_room(*old);
		}
		self.metric_streams = streams;
		rooms.sort_by_key(|r| r.stream_id);
		self.metrics.media_forwarded_packets.inc_by(self.forwarded - self.forwarded_reported);
		self.forwarded_reported = self.forwarded;
		MediaSnapshot {
			rooms,
			peers: self.peers.len(),
			forwarded_packets: self.forwarded,
			unrouted_datagrams: self.unrouted,
			// The driver's, filled in by it.
			send_dropped: 0,
			send_calls: 0,
			send_messages: 0,
		}
	}
}

fn stats_of(p: &Peer) -> PeerStats {
	let (layer, estimate_bps) = match &p.kind {
		Kind::Viewer(v) => (v.current_layer().flatten().map(|r| r.to_string()), v.estimate_bps),
		Kind::Publisher(_) => (None, None),
	};
	PeerStats {
		id: p.id,
		role: Some(p.role()),
		label: p.label.clone(),
		connected: p.connected,
		paused: p.paused,
		bitrate_bps: p.counters.bitrate_bps,
		packets: p.counters.packets,
		bytes: p.counters.bytes,
		loss: p.counters.loss,
		keyframe_requests: p.counters.keyframe_requests,
		nacks: p.counters.nacks,
		layer,
		estimate_bps,
		direct: p.direct.is_some(),
		retransmitted: p.direct.as_ref().map_or(0, |d| d.resent),
	}
}
