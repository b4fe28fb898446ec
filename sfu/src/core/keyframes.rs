//! Keyframe requests to a publisher, coalesced: at most one per layer per
//! [`KEYFRAME_REQUEST_INTERVAL`], however many viewers ask. A request that comes too soon is
//! not dropped but deferred: one goes out when the interval has passed, for all that came
//! meanwhile.

use std::{collections::HashMap, time::Instant};
use str0m::media::Rid;

use crate::KEYFRAME_REQUEST_INTERVAL;

/// One publisher's keyframe requests, by layer (`None`: a publisher without simulcast).
#[derive(Default)]
pub(crate) struct KeyframeLimiter {
	last_sent: HashMap<Option<Rid>, Instant>,
	deferred: Vec<Option<Rid>>,
}

impl KeyframeLimiter {
	/// Whether a request for `layer` may go to the publisher now; if not, it is deferred.
	pub(crate) fn admit(&mut self, layer: Option<Rid>, now: Instant) -> bool {
		if self.is_due(layer, now) {
			return true;
		}
		if !self.deferred.contains(&layer) {
			self.deferred.push(layer);
		}
		false
	}

	/// A request for `layer` went out at `now`.
	pub(crate) fn sent(&mut self, layer: Option<Rid>, now: Instant) {
		self.last_sent.insert(layer, now);
	}

	/// The deferred requests whose interval has passed, taken.
	pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Option<Rid>> {
		if self.deferred.is_empty() {
			return Vec::new();
		}
		let (due, wait): (Vec<_>, Vec<_>) =
			self.deferred.iter().copied().partition(|l| self.is_due(*l, now));
		self.deferred = wait;
		due
	}

	fn is_due(&self, layer: Option<Rid>, now: Instant) -> bool {
		self.last_sent
			.get(&layer)
			.is_none_or(|t| now.saturating_duration_since(*t) >= KEYFRAME_REQUEST_INTERVAL)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::time::Duration;

	#[test]
	fn one_request_per_layer_per_interval_and_the_rest_deferred_once() {
		let t0 = Instant::now();
		let mut k = KeyframeLimiter::default();
		let (h, l) = (Some(Rid::from("h")), Some(Rid::from("l")));
		assert!(k.admit(h, t0));
		k.sent(h, t0);
		// Other layers have their own budget.
		assert!(k.admit(l, t0));
		k.sent(l, t0);
		// Ten more for h within the second: deferred, as one.
		for i in 1..=10 {
			assert!(!k.admit(h, t0 + Duration::from_millis(50 * i)));
		}
		assert!(k.take_due(t0 + Duration::from_millis(999)).is_empty());
		assert_eq!(k.take_due(t0 + KEYFRAME_REQUEST_INTERVAL), vec![h]);
		assert!(k.take_due(t0 + KEYFRAME_REQUEST_INTERVAL * 2).is_empty(), "taken once");
	}
}
