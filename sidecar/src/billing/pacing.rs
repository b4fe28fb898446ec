//! How much of a replay a viewer may be sent: the media time of the bytes sent stays within
//! the seconds its vouchers acknowledged, plus a lead ([`LEAD_MS`]) so the player can buffer,
//! plus a small grant at each request ([`START_GRANT_MS`]) so that a player that seeks has
//! frames to show (and so vouchers to sign) at its new position.
//!
//! A recording's bytes map to media time through its clusters ([`MediaMap`]): a cluster's
//! bytes carry its span of time, evenly. Bytes before the first cluster (header, tracks) and
//! after the last (Cues) carry none, so a player can always read those and seek. Every byte
//! sent counts, however often it is asked for: a range fetched twice (two requests at once, or
//! a player that re-reads) is paid twice from the same budget, so opening many ranges at once
//! gains nothing.
//!
//! Why the grants: a player reads ahead as far as it may, so the lead is spent at once, on
//! media after the position; when the viewer then seeks elsewhere, the lead is gone and
//! nothing at the new position would ever play, and so nothing be paid. Each request may draw
//! a grant from a pool that holds [`FREE_GRANTS_MS`] and grows by each acknowledged second: a
//! viewer who watches always has grants to seek with, and one who never pays gets at most
//! `LEAD_MS + FREE_GRANTS_MS` of media per session however it asks. Nobody pays for any of
//! this: payment is the vouchers, for seconds shown.
//!
//! The budget is the session's ([`ReplayMeters`]), shared by all its requests. Sans-IO: the
//! transport (`transport::replay`) calls [`ReplayMeters::begin`] per request and
//! [`ReplayMeters::take`] per chunk, sends what it is allowed and waits when that is zero.

use std::{collections::HashMap, sync::Mutex};
use vilokanam_chain_client::SessionId;

/// Media a viewer may be sent ahead of its acknowledged seconds.
pub const LEAD_MS: u64 = 10_000;
/// The most media one request may draw from the session's grants.
pub const START_GRANT_MS: u64 = 3_000;
/// The grants a session has before any acknowledged second.
pub const FREE_GRANTS_MS: u64 = 30_000;

/// Where a recording's media time lies in its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaMap {
	/// Each cluster's (time ms, byte offset), in file order.
	clusters: Vec<(u64, u64)>,
	/// Where the last cluster ends.
	media_end: u64,
	/// The recording's duration.
	duration_ms: u64,
}

impl MediaMap {
	/// The map of a recording; clusters out of order (not what the recorder writes) are
	/// dropped, so the map is always ordered.
	pub fn new(clusters: &[(u64, u64)], media_end: u64, duration_ms: u64) -> Self {
		let mut ordered: Vec<(u64, u64)> = Vec::with_capacity(clusters.len());
		for &(time, offset) in clusters {
			if ordered.last().is_none_or(|&(t, o)| time >= t && offset > o) && offset < media_end {
				ordered.push((time, offset));
			}
		}
		Self { clusters: ordered, media_end, duration_ms }
	}

	/// Cluster `i`'s bytes `[start, end)` and span in ms.
	fn cluster(&self, i: usize) -> (u64, u64, u64) {
		let (time, start) = self.clusters[i];
		let (next_time, end) =
			self.clusters.get(i + 1).copied().unwrap_or((self.duration_ms, self.media_end));
		(start, end, next_time.saturating_sub(time))
	}

	/// The index of the cluster holding byte `pos`, if any.
	fn cluster_at(&self, pos: u64) -> Option<usize> {
		if pos >= self.media_end {
			return None;
		}
		self.clusters.partition_point(|&(_, offset)| offset <= pos).checked_sub(1)
	}

	/// How many of the bytes `[from, from + max)` cost at most `budget_us` of media time, and
	/// what they cost (µs).
	pub fn affordable(&self, from: u64, max: u64, budget_us: u64) -> (u64, u64) {
		let (mut pos, end) = (from, from.saturating_add(max));
		let mut cost = 0u64;
		while pos < end {
			let Some(i) = self.cluster_at(pos) else {
				// Before the first cluster, or after the last: free up to the next cluster.
				let next = self.clusters.iter().map(|&(_, o)| o).find(|&o| o > pos);
				let free_to = if pos >= self.media_end { end } else { next.unwrap_or(end) };
				pos = free_to.min(end);
				continue;
			};
			let (start, cluster_end, span_ms) = self.cluster(i);
			let size = u128::from((cluster_end - start).max(1));
			let span_us = u128::from(span_ms) * 1_000;
			let bytes = cluster_end.min(end) - pos;
			// Rounded up: no byte is free.
			let full = (span_us * u128::from(bytes)).div_ceil(size) as u64;
			if cost + full <= budget_us {
				cost += full;
				pos += bytes;
				continue;
			}
			let left = u128::from(budget_us - cost);
			// A cluster of no duration costs nothing: all of it.
			let part = (left * size).checked_div(span_us).unwrap_or(u128::from(bytes));
			let part = (part as u64).min(bytes);
			cost += (span_us * u128::from(part)).div_ceil(size) as u64;
			pos += part;
			break;
		}
		(pos - from, cost)
	}
}

/// A session's account, in media µs.
#[derive(Clone, Copy, Debug, Default)]
struct Meter {
	/// Sent beyond the requests' grants.
	served_us: u64,
	/// Granted to requests.
	granted_us: u64,
}

/// What each session's replay requests have been sent.
#[derive(Debug, Default)]
pub struct ReplayMeters {
	meters: Mutex<HashMap<SessionId, Meter>>,
}

impl ReplayMeters {
	fn meters(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Meter>> {
		self.meters.lock().unwrap_or_else(|p| p.into_inner())
	}

	/// A request of `session` begins: its grant (µs), drawn from the session's pool.
	pub fn begin(&self, session: SessionId, acked_seconds: u64) -> u64 {
		let mut meters = self.meters();
		let m = meters.entry(session).or_default();
		let pool = FREE_GRANTS_MS
			.saturating_add(acked_seconds.saturating_mul(1_000))
			.saturating_mul(1_000);
		let grant = (START_GRANT_MS * 1_000).min(pool.saturating_sub(m.granted_us));
		m.granted_us += grant;
		grant
	}

	/// Reserve what may be sent now of `[from, from + max)` for a request of `session` with
	/// `grant_left` µs of its grant left, the session's vouchers having acknowledged
	/// `acked_seconds`: returns the byte count (0: wait for the next voucher).
	pub fn take(
		&self,
		session: SessionId,
		acked_seconds: u64,
		grant_left: &mut u64,
		map: &MediaMap,
		from: u64,
		max: u64,
	) -> u64 {
		let mut meters = self.meters();
		let m = meters.entry(session).or_default();
		let allowed_us =
			acked_seconds.saturating_mul(1_000).saturating_add(LEAD_MS).saturating_mul(1_000);
		let budget = allowed_us.saturating_sub(m.served_us).saturating_add(*grant_left);
		let (bytes, cost) = map.affordable(from, max, budget);
		let from_grant = cost.min(*grant_left);
		*grant_left -= from_grant;
		m.served_us += cost - from_grant;
		bytes
	}

	/// Media µs sent to `session` so far beyond grants, and granted.
	pub fn usage_us(&self, session: SessionId) -> (u64, u64) {
		self.meters().get(&session).map_or((0, 0), |m| (m.served_us, m.granted_us))
	}

	/// Forget a session (it closed).
	pub fn forget(&self, session: SessionId) {
		self.meters().remove(&session);
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Header of 1,000 bytes, then four 2 s clusters of 10,000 bytes, then Cues to 42,000.
	fn map() -> MediaMap {
		MediaMap::new(
			&[(0, 1_000), (2_000, 11_000), (4_000, 21_000), (6_000, 31_000)],
			41_000,
			8_000,
		)
	}

	#[test]
	fn header_and_cues_are_free_and_media_bytes_cost_their_time() {
		let m = map();
		assert_eq!(m.affordable(0, 1_000, 0), (1_000, 0), "the header is free");
		assert_eq!(m.affordable(41_000, 1_000, 0), (1_000, 0), "the Cues are free");
		// A whole 2 s cluster costs 2 s.
		assert_eq!(m.affordable(1_000, 10_000, u64::MAX), (10_000, 2_000_000));
		// Half a cluster, half its time.
		assert_eq!(m.affordable(11_000, 5_000, u64::MAX), (5_000, 1_000_000));
		// With 3 s of budget from the start of the header: header, one cluster, half the next.
		assert_eq!(m.affordable(0, 42_000, 3_000_000), (1_000 + 10_000 + 5_000, 3_000_000));
		// Nothing without budget, from inside the media.
		assert_eq!(m.affordable(12_000, 1_000, 0), (0, 0));
	}

	#[test]
	fn a_session_gets_its_acknowledged_seconds_plus_the_lead_however_it_asks() {
		let m = map();
		let meters = ReplayMeters::default();
		let mut none = 0;
		// 8 s of media in all; with nothing acknowledged, the lead (10 s) covers it all.
		assert_eq!(meters.take(1, 0, &mut none, &m, 0, 42_000), 42_000);
		// The same bytes again count again: the budget is spent.
		assert_eq!(meters.take(1, 0, &mut none, &m, 1_000, 40_000), 10_000, "2 s left of the lead");
		assert_eq!(meters.take(1, 0, &mut none, &m, 1_000, 40_000), 0);
		// Two ranges "at once" share one budget: a second request gets nothing more.
		assert_eq!(meters.take(1, 0, &mut none, &m, 21_000, 10_000), 0);
		// Each acknowledged second buys a second of media.
		assert_eq!(meters.take(1, 1, &mut none, &m, 21_000, 10_000), 5_000);
		assert_eq!(meters.usage_us(1), (11_000_000, 0));
		// Other sessions have their own.
		assert_eq!(meters.take(2, 0, &mut none, &m, 1_000, 10_000), 10_000);
		meters.forget(1);
		assert_eq!(meters.usage_us(1), (0, 0));
	}

	/// The viewer read ahead, then seeks: the request at the new position has its grant, so
	/// frames show there and vouchers follow, with the lead long spent.
	#[test]
	fn a_seek_after_the_lead_is_spent_still_starts_playing() {
		let m = map();
		let meters = ReplayMeters::default();
		// The lead spent reading ahead from the start (8 s, then 2 s again).
		let mut none = 0;
		assert_eq!(meters.take(1, 0, &mut none, &m, 0, 42_000), 42_000);
		assert_eq!(meters.take(1, 0, &mut none, &m, 1_000, 42_000), 10_000);
		assert_eq!(meters.take(1, 0, &mut none, &m, 21_000, 20_000), 0, "nothing left");
		let mut seek = meters.begin(1, 0);
		assert_eq!(seek, 3_000_000);
		// A 3 s grant: one 2 s cluster and half the next.
		assert_eq!(meters.take(1, 0, &mut seek, &m, 21_000, 20_000), 15_000);
		assert_eq!(seek, 0);
	}

	/// A viewer that never pays and opens request after request gets the lead and the free
	/// grants, no more; one that pays earns grants as it watches.
	#[test]
	fn grants_are_bounded_by_what_the_session_acknowledged() {
		let meters = ReplayMeters::default();
		let granted: u64 = (0..100).map(|_| meters.begin(1, 0)).sum();
		assert_eq!(granted, FREE_GRANTS_MS * 1_000);
		assert_eq!(meters.begin(1, 0), 0, "no more without a voucher");
		assert_eq!(meters.begin(1, 2), 2_000_000, "two acknowledged seconds, two more");
		assert_eq!(meters.begin(1, 20), START_GRANT_MS * 1_000);
	}

	#[test]
	fn a_map_from_a_corrupt_index_stays_ordered_and_never_panics() {
		let m = MediaMap::new(
			&[(5_000, 9_000), (1_000, 2_000), (6_000, 9_000), (7_000, 99_000)],
			10_000,
			3,
		);
		for from in [0, 1, 8_999, 9_000, 9_999, 10_000, u64::MAX - 1] {
			let _ = m.affordable(from, u64::MAX, 1_000);
		}
		assert_eq!(m.affordable(9_000, 1_000, u64::MAX).0, 1_000);
	}
}
