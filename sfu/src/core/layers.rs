//! Simulcast layers: what a publisher sends on each incoming stream, and which layer a viewer
//! should get for its estimated bandwidth.

use std::time::{Duration, Instant};
use str0m::media::{Mid, Rid};

/// A viewer is given the best layer that fits in this fraction of its estimated bandwidth.
pub(crate) const LAYER_HEADROOM: f64 = 0.85;
/// A simulcast layer that sent nothing for this long is not chosen.
pub(crate) const LAYER_IDLE: Duration = Duration::from_millis(1500);

/// One incoming stream of a publisher (by SSRC): a simulcast layer, the only video stream, or
/// an audio stream (audio streams are "layers" too, for the accounting; only video ones are
/// chosen).
pub(crate) struct Layer {
	pub video: bool,
	pub rid: Option<Rid>,
	pub mid: Mid,
	/// Payload bytes since the last stats period, and the bitrate over it.
	pub window_bytes: u64,
	pub bitrate_bps: u64,
	pub last_at: Instant,
}

impl Layer {
	/// Close a stats period of `secs` seconds.
	pub(crate) fn roll(&mut self, secs: f64) {
		self.bitrate_bps = (self.window_bytes as f64 * 8.0 / secs) as u64;
		self.window_bytes = 0;
	}
}

/// The video layers a viewer may be given now: (rid, bitrate), one per rid, of those that sent
/// something in the last [`LAYER_IDLE`].
pub(crate) fn live_layers<'a>(
	layers: impl Iterator<Item = &'a Layer>,
	now: Instant,
) -> Vec<(Option<Rid>, u64)> {
	let mut live: Vec<(Option<Rid>, u64)> = Vec::new();
	for l in layers.filter(|l| l.video) {
		let fresh = now.saturating_duration_since(l.last_at) < LAYER_IDLE;
		if fresh && l.bitrate_bps > 0 && !live.iter().any(|x| x.0 == l.rid) {
			live.push((l.rid, l.bitrate_bps));
		}
	}
	live
}

/// The simulcast layer a viewer should receive: the best one whose incoming bitrate fits in
/// `headroom` (a fraction) of the viewer's estimated bandwidth, else the smallest. `layers` are
/// (layer, bitrate in bit/s) of the layers currently arriving, in any order; `None` for the
/// estimate means "unknown", which gets the best layer.
pub fn choose_layer<L: Copy>(
	layers: &[(L, u64)],
	estimate_bps: Option<u64>,
	headroom: f64,
) -> Option<L> {
	let best = layers.iter().max_by_key(|(_, bps)| *bps)?;
	let Some(estimate) = estimate_bps else { return Some(best.0) };
	let budget = (estimate as f64 * headroom) as u64;
	layers
		.iter()
		.filter(|(_, bps)| *bps <= budget)
		.max_by_key(|(_, bps)| *bps)
		.or_else(|| layers.iter().min_by_key(|(_, bps)| *bps))
		.map(|(l, _)| *l)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn layer_choice_follows_the_estimate() {
		let layers = [("q", 150_000), ("f", 1_500_000), ("h", 500_000)];
		assert_eq!(choose_layer(&layers, None, 0.85), Some("f"));
		assert_eq!(choose_layer(&layers, Some(3_000_000), 0.85), Some("f"));
		assert_eq!(choose_layer(&layers, Some(1_000_000), 0.85), Some("h"));
		assert_eq!(choose_layer(&layers, Some(100_000), 0.85), Some("q"));
		assert_eq!(choose_layer::<&str>(&[], Some(1), 0.85), None);
	}

	#[test]
	fn idle_and_silent_layers_are_not_offered() {
		let t0 = Instant::now();
		let layer = |rid: &str, bps, last_at| Layer {
			video: true,
			rid: Some(Rid::from(rid)),
			mid: Mid::from("0"),
			window_bytes: 0,
			bitrate_bps: bps,
			last_at,
		};
		let now = t0 + Duration::from_secs(10);
		let layers = [
			layer("f", 1_500_000, now - LAYER_IDLE),
			layer("h", 500_000, now - Duration::from_millis(10)),
			layer("q", 0, now),
		];
		assert_eq!(live_layers(layers.iter(), now), vec![(Some(Rid::from("h")), 500_000)]);
	}
}
