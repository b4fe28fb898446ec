//! Who may keep sending or receiving media, re-checked by the engine every
//! [`crate::GATE_PERIOD`].
//!
//! The engine knows nothing of the chain: a peer's rights reach it as a [`Gate`], implemented
//! by the sidecar's access layer. Reading a gate must cost a few atomic loads, so the engine
//! can poll thousands per period.

use crate::CloseReason;

/// A gate's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateState {
	/// Forward.
	Open,
	/// Do not forward for now (vouchers late); may open again.
	Paused,
	/// Gone for good.
	Closed(CloseReason),
}

/// A right to media, polled by the engine.
pub trait Gate: Send + Sync + 'static {
	/// The verdict now.
	fn check(&self) -> GateState;
}

/// Always open (benchmarks, tests of the engine alone).
pub struct OpenGate;

impl Gate for OpenGate {
	fn check(&self) -> GateState {
		GateState::Open
	}
}
