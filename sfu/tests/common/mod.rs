//! What the SFU's integration tests share.

use std::sync::atomic::{AtomicU8, Ordering};
use vilokanam_sfu::{CloseReason, Gate, GateState};

/// A gate the test opens (0), pauses (1) and closes (2: the session closed).
#[derive(Default)]
pub struct Switch(AtomicU8);

impl Switch {
	/// 0 open, 1 paused, 2 closed.
	pub fn set(&self, s: u8) {
		self.0.store(s, Ordering::SeqCst)
	}
}

impl Gate for Switch {
	fn check(&self) -> GateState {
		match self.0.load(Ordering::SeqCst) {
			0 => GateState::Open,
			1 => GateState::Paused,
			_ => GateState::Closed(CloseReason::SessionClosed),
		}
	}
}
