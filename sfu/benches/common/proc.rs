//! `/proc` readers the benchmarks share (CPU time of a process or a thread).

/// Clock ticks per second (`_SC_CLK_TCK`), the unit of `/proc`'s CPU times.
pub fn clock_ticks_per_second() -> f64 {
	// SAFETY: sysconf has no preconditions.
	let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
	if t > 0 {
		t as f64
	} else {
		100.0
	}
}

/// utime + stime (clock ticks) from a `/proc/.../stat` file.
pub fn stat_ticks(path: &str) -> u64 {
	let stat = std::fs::read_to_string(path).unwrap_or_default();
	// The command name may contain spaces: fields are counted after its closing parenthesis,
	// by position (some, like tpgid, may be -1).
	let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
	let f: Vec<&str> = after.split_whitespace().collect();
	// Fields 14 and 15 (utime, stime) are the 12th and 13th after the comm.
	let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
	field(11) + field(12)
}
