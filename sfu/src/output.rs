//! What the core puts out, and where it goes: the driver's socket, or a test's queue.
//!
//! The core is handed an [`Output`] with every input rather than queueing its output for a
//! later poll: a fan-out to hundreds of viewers then leaves in `sendmmsg(2)` batches while it
//! is still being built (the driver flushes every [`crate::outbox::BATCH`] datagrams), not
//! all at the end of it.

use crate::{recorder::RecordMsg, MediaEvent, MediaPeerId, MediaSnapshot};
use std::{collections::VecDeque, net::SocketAddr};

/// The sink of the core's output.
pub trait Output {
	/// An empty buffer for a datagram: a sent one's where the sink keeps them, so that a
	/// steady flow allocates nothing.
	fn buffer(&mut self) -> Vec<u8> {
		Vec::with_capacity(1500)
	}

	/// Send `datagram` to `destination`.
	fn transmit(&mut self, destination: SocketAddr, datagram: Vec<u8>);

	/// Tell the owner of `peer` what happened to it.
	fn event(&mut self, peer: MediaPeerId, event: MediaEvent);

	/// A publisher's video, for the recorder (when recording).
	fn record(&mut self, _msg: RecordMsg) {}

	/// The once-per-second state of the whole SFU.
	fn snapshot(&mut self, _snapshot: MediaSnapshot) {}
}

/// An [`Output`] that keeps everything, in order: for tests and tools.
#[derive(Default)]
pub struct Collected {
	/// Datagrams, oldest first.
	pub datagrams: VecDeque<(SocketAddr, Vec<u8>)>,
	/// Events, oldest first.
	pub events: Vec<(MediaPeerId, MediaEvent)>,
	/// The last snapshot.
	pub snapshot: Option<MediaSnapshot>,
}

impl Output for Collected {
	fn transmit(&mut self, destination: SocketAddr, datagram: Vec<u8>) {
		self.datagrams.push_back((destination, datagram));
	}

	fn event(&mut self, peer: MediaPeerId, event: MediaEvent) {
		self.events.push((peer, event));
	}

	fn snapshot(&mut self, snapshot: MediaSnapshot) {
		self.snapshot = Some(snapshot);
	}
}
