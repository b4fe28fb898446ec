//! Who may keep sending or receiving media, re-checked by the engine every
//! [`super::GATE_PERIOD`].
//!
//! Rights come from the chain view (kept current from each best block's events) and from the
//! heartbeat pipeline: a viewer is served while its session is open, it is not banned, the
//! stream has not ended — and while its vouchers keep coming. Reading a gate costs a few atomic
//! loads, so the engine can poll thousands per period.

use super::CloseReason;
use crate::chain_view::{ChainView, SessionEntry, StreamEntry};
use std::{
	sync::Arc,
	time::{Duration, SystemTime, UNIX_EPOCH},
};
use vilokanam_chain_client::StreamStatus;

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

fn now_ms() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A publisher may send until its stream ends.
pub struct PublisherGate {
	/// The stream.
	pub stream: Arc<StreamEntry>,
}

impl Gate for PublisherGate {
	fn check(&self) -> GateState {
		match self.stream.status() {
			StreamStatus::Ended => GateState::Closed(CloseReason::StreamEnded),
			_ => GateState::Open,
		}
	}
}

/// A viewer receives while its session is open, it is not banned, the stream is live, and its
/// last acknowledged voucher is at most `voucher_grace` old.
pub struct ViewerGate {
	/// The stream.
	pub stream: Arc<StreamEntry>,
	/// The viewer's session on it.
	pub session: Arc<SessionEntry>,
	/// For bans.
	pub chain: ChainView,
	/// How late the next voucher may be (vouchers come every second).
	pub voucher_grace: Duration,
	/// When the viewer asked for media (Unix ms): the first voucher may take `voucher_grace`
	/// (plus a second) from then.
	pub since_ms: u64,
}

impl Gate for ViewerGate {
	fn check(&self) -> GateState {
		if self.session.is_closed() {
			return GateState::Closed(CloseReason::SessionClosed);
		}
		if self.stream.status() == StreamStatus::Ended {
			return GateState::Closed(CloseReason::StreamEnded);
		}
		if self.chain.is_banned_cached(&self.stream.creator, &self.session.viewer) {
			return GateState::Closed(CloseReason::Banned);
		}
		if self.stream.status() != StreamStatus::Live {
			return GateState::Paused;
		}
		let grace = self.voucher_grace.as_millis() as u64;
		let last = self.session.last_ack_at_ms().max(self.since_ms + 1_000);
		if now_ms().saturating_sub(last) > grace {
			GateState::Paused
		} else {
			GateState::Open
		}
	}
}
