//! Per-viewer rewriting of forwarded RTP.
//!
//! Every viewer gets its own outgoing streams (own SSRC, chosen by its `Rtc`), and each
//! stream's sequence numbers and timestamps must run on without jumps even though the packets
//! come from different incoming streams over time: a replaced publisher, another simulcast
//! layer, or a pause while the viewer's vouchers were late. A [`Rewriter`] maps incoming
//! numbers onto the outgoing ones by a fixed offset, re-chosen at each such switch so that the
//! first packet after it directly follows the last one sent.

use std::time::Instant;

/// Maps an incoming stream's sequence numbers and RTP timestamps onto an outgoing stream.
#[derive(Debug)]
pub struct Rewriter {
	clock_rate: u32,
	/// Outgoing = incoming + `seq_delta` (extended, 64-bit sequence numbers).
	seq_delta: i64,
	/// Outgoing = incoming + `ts_delta` (wrapping 32-bit RTP time).
	ts_delta: u32,
	/// Incoming packets before this one belong to before the last switch.
	base_in_seq: u64,
	/// The highest outgoing sequence number used.
	last_out_seq: u64,
	last_out_ts: u32,
	last_out_at: Option<Instant>,
	/// Whether [`Rewriter::rebase`] was called since creation.
	based: bool,
}

impl Rewriter {
	/// A rewriter whose first outgoing packet gets `first_seq` (at least 1) and `first_ts`
	/// (random, per RFC 3550, chosen by the caller).
	pub fn new(clock_rate: u32, first_seq: u16, first_ts: u32) -> Self {
		Self {
			clock_rate,
			seq_delta: 0,
			ts_delta: 0,
			base_in_seq: 0,
			// The first packet must be in rollover cycle 0: SRTP receivers assume it is.
			last_out_seq: u64::from(first_seq.max(1)) - 1,
			last_out_ts: first_ts,
			last_out_at: None,
			based: false,
		}
	}

	/// Whether forwarding has started (a first [`Rewriter::rebase`]).
	pub fn is_based(&self) -> bool {
		self.based
	}

	/// Continue the outgoing stream from this incoming packet (`in_seq` extended, `in_ts`
	/// received at `now`): it becomes the one right after the last packet sent, with a
	/// timestamp advanced by the wall time elapsed since then.
	pub fn rebase(&mut self, in_seq: u64, in_ts: u32, now: Instant) {
		let out_seq = self.last_out_seq + 1;
		self.seq_delta = out_seq as i64 - in_seq as i64;
		let out_ts = match self.last_out_at {
			Some(at) => {
				let ticks =
					now.saturating_duration_since(at).as_secs_f64() * self.clock_rate as f64;
				self.last_out_ts.wrapping_add((ticks as u32).max(1))
			},
			None => self.last_out_ts,
		};
		self.ts_delta = out_ts.wrapping_sub(in_ts);
		self.base_in_seq = in_seq;
		self.based = true;
	}

	/// The outgoing (sequence number, timestamp) of an incoming packet, or `None` if it
	/// precedes the last switch (its outgoing number may already be taken).
	pub fn map(&mut self, in_seq: u64, in_ts: u32, now: Instant) -> Option<(u64, u32)> {
		if !self.based || in_seq < self.base_in_seq {
			return None;
		}
		let out_seq = (in_seq as i64 + self.seq_delta) as u64;
		let out_ts = in_ts.wrapping_add(self.ts_delta);
		if out_seq > self.last_out_seq {
			self.last_out_seq = out_seq;
			self.last_out_ts = out_ts;
			self.last_out_at = Some(now);
		}
		Some((out_seq, out_ts))
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::time::Duration;

	#[test]
	fn rewriting_continues_across_switches_without_gaps() {
		let t0 = Instant::now();
		let mut rw = Rewriter::new(90_000, 100, 5_000);
		assert_eq!(rw.map(1, 0, t0), None, "nothing is forwarded before the first rebase");
		rw.rebase(70_000, 1_000_000, t0);
		assert_eq!(rw.map(70_000, 1_000_000, t0), Some((100, 5_000)));
		assert_eq!(rw.map(70_001, 1_003_000, t0), Some((101, 8_000)));
		// A gap upstream stays a gap (the viewer's NACK then finds nothing, as upstream).
		assert_eq!(rw.map(70_003, 1_006_000, t0), Some((103, 11_000)));
		// A late (retransmitted) packet maps into the gap.
		assert_eq!(rw.map(70_002, 1_006_000, t0), Some((102, 11_000)));
		// Switch to another incoming stream 100 ms later: it continues right after.
		let t1 = t0 + Duration::from_millis(100);
		rw.rebase(12, 42, t1);
		assert_eq!(rw.map(12, 42, t1), Some((104, 11_000 + 9_000)));
		// Packets of the new stream from before the switch are dropped.
		assert_eq!(rw.map(11, 0, t1), None);
	}

	#[test]
	fn timestamps_wrap() {
		let t0 = Instant::now();
		let mut rw = Rewriter::new(48_000, 0, u32::MAX - 10);
		rw.rebase(5, 100, t0);
		assert_eq!(rw.map(5, 100, t0), Some((1, u32::MAX - 10)));
		assert_eq!(rw.map(6, 1060, t0), Some((2, 949)));
	}
}
