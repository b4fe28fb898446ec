//! A token bucket, the rate limit of chat messages (per account) and of a connection's
//! expensive requests.

use std::time::Instant;

/// A token bucket: `capacity` tokens, refilled continuously at `per_sec`.
#[derive(Clone, Copy, Debug)]
pub struct TokenBucket {
	tokens: f64,
	last: Instant,
}

impl TokenBucket {
	/// A full bucket.
	pub fn full(capacity: f64, now: Instant) -> Self {
		Self { tokens: capacity, last: now }
	}

	fn refill(&mut self, now: Instant, capacity: f64, per_sec: f64) {
		let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
		self.tokens = (self.tokens + elapsed * per_sec).min(capacity);
		self.last = now;
	}

	/// Take a token if there is one.
	pub fn try_take(&mut self, now: Instant, capacity: f64, per_sec: f64) -> bool {
		self.refill(now, capacity, per_sec);
		if self.tokens >= 1.0 {
			self.tokens -= 1.0;
			true
		} else {
			false
		}
	}

	/// Whether the bucket is full again at `now` (then it can be forgotten).
	pub fn is_full(&self, now: Instant, capacity: f64, per_sec: f64) -> bool {
		let mut b = *self;
		b.refill(now, capacity, per_sec);
		b.tokens >= capacity
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::time::Duration;

	#[test]
	fn token_bucket_refills() {
		let t0 = Instant::now();
		let (cap, rate) = (3.0, 0.3);
		let mut b = TokenBucket::full(cap, t0);
		assert!(b.try_take(t0, cap, rate));
		assert!(b.try_take(t0, cap, rate));
		assert!(b.try_take(t0, cap, rate));
		assert!(!b.try_take(t0, cap, rate));
		// One token per 1/0.3 s.
		assert!(!b.try_take(t0 + Duration::from_secs(3), cap, rate));
		assert!(b.try_take(t0 + Duration::from_millis(3_400), cap, rate));
		assert!(!b.try_take(t0 + Duration::from_millis(3_500), cap, rate));
		// Never above capacity.
		let later = t0 + Duration::from_secs(1_000);
		assert!(b.is_full(later, cap, rate));
		for _ in 0..3 {
			assert!(b.try_take(later, cap, rate));
		}
		assert!(!b.try_take(later, cap, rate));
		// A zero rate never allows anything.
		let mut z = TokenBucket::full(0.0, t0);
		assert!(!z.try_take(later, 0.0, 0.0));
	}
}
