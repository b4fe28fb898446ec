//! The thread that drives the core: it owns the UDP socket, the clock and the command queue,
//! and does nothing the core decides. Each turn it takes pending commands, reads a burst of
//! datagrams into the core, hands it a [`Input::Timeout`] (which also forwards what the burst
//! queued), flushes the sends, and waits in `poll(2)` until a datagram or the core's next
//! deadline.

use crate::{
	core::{Input, NewPeer, Sfu},
	offer::Offers,
	outbox::Outbox,
	output::Output,
	recorder::{RecordMsg, Recorder},
	CloseReason, MediaEvent, MediaPeerId, MediaSnapshot, SfuMetrics,
};
use std::{
	collections::HashMap,
	io::ErrorKind,
	net::{SocketAddr, UdpSocket},
	os::fd::AsRawFd,
	sync::{
		atomic::{AtomicU64, Ordering},
		mpsc, Arc, RwLock,
	},
	time::{Duration, Instant},
};
use tokio::sync::mpsc as tokio_mpsc;

/// Datagrams read per turn before timers and commands get a look in.
const READ_BURST: usize = 256;

type EventSender = tokio_mpsc::Sender<(MediaPeerId, MediaEvent)>;

pub(crate) enum Command {
	Add(Box<NewPeer>, Option<EventSender>),
	Close(MediaPeerId, CloseReason),
	Shutdown,
}

/// Where the core's output goes from this thread.
struct Wire {
	socket: UdpSocket,
	outbox: Outbox,
	/// Each peer's event queue, dropped with its `Closed`.
	events: HashMap<MediaPeerId, EventSender>,
	recorder: Option<Recorder>,
	snapshot: Arc<RwLock<MediaSnapshot>>,
}

impl Output for Wire {
	fn buffer(&mut self) -> Vec<u8> {
		self.outbox.buffer()
	}

	fn transmit(&mut self, destination: SocketAddr, datagram: Vec<u8>) {
		self.outbox.push(&self.socket, destination, datagram);
	}

	fn event(&mut self, peer: MediaPeerId, event: MediaEvent) {
		let sender = match event {
			MediaEvent::Closed(_) => self.events.remove(&peer),
			_ => self.events.get(&peer).cloned(),
		};
		if let Some(tx) = sender {
			let _ = tx.try_send((peer, event));
		}
	}

	fn record(&mut self, msg: RecordMsg) {
		if let Some(r) = &self.recorder {
			r.send(msg);
		}
	}

	fn snapshot(&mut self, mut snapshot: MediaSnapshot) {
		snapshot.send_dropped = self.outbox.dropped;
		snapshot.send_calls = self.outbox.calls;
		snapshot.send_messages = self.outbox.messages;
		*self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = snapshot;
	}
}

pub(crate) struct Driver {
	core: Sfu,
	wire: Wire,
	commands: mpsc::Receiver<Command>,
	waker: SocketAddr,
	peer_count: Arc<AtomicU64>,
	stop: bool,
}

impl Driver {
	#[allow(clippy::too_many_arguments)]
	pub(crate) fn new(
		socket: UdpSocket,
		commands: mpsc::Receiver<Command>,
		waker: SocketAddr,
		offers: &Offers,
		metrics: SfuMetrics,
		keyframe_cache: Duration,
		recorder: Option<Recorder>,
		snapshot: Arc<RwLock<MediaSnapshot>>,
		peer_count: Arc<AtomicU64>,
	) -> std::io::Result<Self> {
		socket.set_nonblocking(true)?;
		let core = offers
			.sfu(Instant::now(), metrics, recorder.is_some())
			.with_keyframe_cache(keyframe_cache);
		let wire =
			Wire { socket, outbox: Outbox::new(), events: HashMap::new(), recorder, snapshot };
		Ok(Self { core, wire, commands, waker, peer_count, stop: false })
	}

	pub(crate) fn run(mut self) {
		let mut buf = vec![0u8; 2048];
		while !self.stop {
			self.take_commands();
			let mut read = 0;
			while read < READ_BURST {
				match self.wire.socket.recv_from(&mut buf) {
					Ok((_, source)) if source == self.waker => self.take_commands(),
					Ok((n, source)) => {
						read += 1;
						let input = Input::Datagram { source, data: &buf[..n] };
						self.core.handle(Instant::now(), input, &mut self.wire);
					},
					Err(e) if e.kind() == ErrorKind::WouldBlock => break,
					Err(e) if e.kind() == ErrorKind::Interrupted => continue,
					// ICMP errors surface here (a client went away): not the socket's fault.
					Err(e) => {
						tracing::debug!("media socket read: {e}");
						break;
					},
				}
			}
			let deadline = self.core.handle(Instant::now(), Input::Timeout, &mut self.wire);
			self.wire.outbox.flush(&self.wire.socket);
			self.peer_count.store(self.core.peer_count() as u64, Ordering::Relaxed);
			if read == 0 {
				self.wait(deadline);
			}
		}
		self.core.shutdown(Instant::now(), &mut self.wire);
		self.wire.outbox.flush(&self.wire.socket);
		self.peer_count.store(0, Ordering::Relaxed);
		tracing::info!("media engine stopped");
	}

	fn take_commands(&mut self) {
		while let Ok(cmd) = self.commands.try_recv() {
			let input = match cmd {
				Command::Add(peer, events) => {
					if let Some(tx) = events {
						self.wire.events.insert(peer.id(), tx);
					}
					Input::Add(peer)
				},
				Command::Close(id, reason) => Input::Close(id, reason),
				Command::Shutdown => {
					self.stop = true;
					continue;
				},
			};
			self.core.handle(Instant::now(), input, &mut self.wire);
		}
		self.peer_count.store(self.core.peer_count() as u64, Ordering::Relaxed);
	}

	/// Sleep until a datagram arrives or `deadline`.
	fn wait(&self, deadline: Instant) {
		let ms = deadline.saturating_duration_since(Instant::now()).as_micros().div_ceil(1000);
		if ms == 0 {
			return;
		}
		let mut fd =
			libc::pollfd { fd: self.wire.socket.as_raw_fd(), events: libc::POLLIN, revents: 0 };
		// SAFETY: `fd` is one valid pollfd for the duration of the call; poll only writes
		// its `revents`.
		unsafe {
			libc::poll(&mut fd, 1, ms.min(i32::MAX as u128) as i32);
		}
	}
}
