//! The SFU's Prometheus metrics, registered in a registry its owner gives (the sidecar's,
//! whose prefix they then carry).

use crate::StreamId;
use prometheus::{GaugeVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

/// The SFU's metrics. A cheap clone: every field is a handle onto shared atomics.
#[derive(Clone)]
pub struct SfuMetrics {
	/// Media peers, by role (`publisher`, `viewer`).
	pub media_peers: IntGaugeVec,
	/// RTP packets forwarded to viewers.
	pub media_forwarded_packets: IntCounter,
	/// Keyframe requests, by outcome (`sent` to a publisher, `coalesced` into one sent).
	pub media_keyframe_requests: IntCounterVec,
	/// Per stream: media bitrate (bit/s), by `direction` (`in` from the publisher, `out` to
	/// all viewers).
	pub media_room_bitrate: IntGaugeVec,
	/// Per stream: viewers receiving media.
	pub media_room_viewers: IntGaugeVec,
	/// Per stream: packet loss (0–1) reported by RTCP, by `direction` (`in`: publisher to
	/// sidecar; `out`: the worst viewer).
	pub media_room_loss: GaugeVec,
}

impl SfuMetrics {
	/// Create the metrics and register them in `registry`.
	pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
		let m = Self {
			media_peers: IntGaugeVec::new(
				Opts::new("media_peers", "Media peers, by role"),
				&["role"],
			)?,
			media_forwarded_packets: IntCounter::new(
				"media_forwarded_packets_total",
				"RTP packets forwarded to viewers",
			)?,
			media_keyframe_requests: IntCounterVec::new(
				Opts::new(
					"media_keyframe_requests_total",
					"Keyframe requests from viewers: sent to the publisher, or coalesced",
				),
				&["outcome"],
			)?,
			media_room_bitrate: IntGaugeVec::new(
				Opts::new("media_room_bitrate_bps", "Media bitrate per stream and direction"),
				&["stream", "direction"],
			)?,
			media_room_viewers: IntGaugeVec::new(
				Opts::new("media_room_viewers", "Viewers receiving media, per stream"),
				&["stream"],
			)?,
			media_room_loss: GaugeVec::new(
				Opts::new("media_room_loss_ratio", "RTCP-reported packet loss per stream"),
				&["stream", "direction"],
			)?,
		};
		registry.register(Box::new(m.media_peers.clone()))?;
		registry.register(Box::new(m.media_forwarded_packets.clone()))?;
		registry.register(Box::new(m.media_keyframe_requests.clone()))?;
		registry.register(Box::new(m.media_room_bitrate.clone()))?;
		registry.register(Box::new(m.media_room_viewers.clone()))?;
		registry.register(Box::new(m.media_room_loss.clone()))?;
		Ok(m)
	}

	/// Metrics in a registry of their own (tests, tools).
	pub fn unregistered() -> Self {
		Self::register(&Registry::new()).expect("fresh registry, unique names")
	}

	/// Drop a gone room's series.
	pub(crate) fn remove_room(&self, stream_id: StreamId) {
		let s = stream_id.to_string();
		let _ = self.media_room_bitrate.remove_label_values(&[&s, "in"]);
		let _ = self.media_room_bitrate.remove_label_values(&[&s, "out"]);
		let _ = self.media_room_viewers.remove_label_values(&[&s]);
		let _ = self.media_room_loss.remove_label_values(&[&s, "in"]);
		let _ = self.media_room_loss.remove_label_values(&[&s, "out"]);
	}
}
