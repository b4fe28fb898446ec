//! The wall clock, read here only: Unix milliseconds, the unit of the chain's timestamps (a
//! session's `opened_at_ms`) that heartbeats and gates compare against.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (0 if the clock is before 1970).
pub fn unix_ms() -> u64 {
	SystemTime::now()
		.duration_since(UNIX_EPOCH)
		.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
		.unwrap_or(0)
}

/// Now, in Unix seconds (what tokens' expiries are written in).
pub fn unix_secs() -> u64 {
	unix_ms() / 1_000
}
