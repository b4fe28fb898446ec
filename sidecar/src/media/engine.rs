//! The media loop: one thread owning the UDP socket and every peer's `Rtc`.
//!
//! Each turn it takes pending commands, fires due timers, reads a burst of datagrams, and
//! between bursts waits (poll(2)) until the next deadline. A datagram goes to the peer that
//! owns its source address (learnt from the ICE binding request that preceded it). Every
//! mutation of an `Rtc` is followed by draining its output, as str0m requires; what a drain
//! yields for other peers (a packet to forward, a keyframe request) becomes a [`Job`], and jobs
//! run after each burst until none are left: the packets of a frame that arrived together then
//! reach each viewer in one batch. Datagrams leave through an [`Outbox`], in `sendmmsg(2)`
//! batches flushed at the end of every turn.
//!
//! Forwarding a packet to N viewers clones an `Arc` to its payload N times and takes no lock.
//! A viewer without bandwidth estimation is sent to by its [`Direct`] sender once its DTLS
//! completes (the header written and the packet encrypted here, not queued in its `Rtc`); the
//! others through their `Rtc`.

use super::{
	codec::{self, VideoCodec},
	direct::{self, Direct, StreamInfo},
	forward::{choose_layer, Rewriter},
	outbox::Outbox,
	recorder::{RecordMsg, RecordPacket, Recorder},
	srtp::{self, SrtpSession, TappedKeys},
	CloseReason, Command, Gate, GateState, MediaEvent, MediaPeerId, MediaRole, MediaSnapshot,
	PeerStats, Publishers, RoomStats, CONNECT_TIMEOUT, GATE_PERIOD, KEYFRAME_REQUEST_INTERVAL,
};
use crate::Metrics;
use std::{
	cmp::Reverse,
	collections::{BinaryHeap, HashMap, VecDeque},
	hash::{BuildHasherDefault, Hasher},
	io::ErrorKind,
	net::{SocketAddr, UdpSocket},
	os::fd::AsRawFd,
	sync::{
		atomic::{AtomicU64, Ordering},
		mpsc, Arc, RwLock,
	},
	time::{Duration, Instant},
};
use str0m::{
	bwe::{Bitrate, BweKind},
	config::CryptoProvider,
	format::{Codec, PayloadParams},
	media::{KeyframeRequestKind, MediaKind, Mid, Rid},
	net::{Protocol, Receive},
	rtp::{Extension, ExtensionValues, RtpPacket, RtpWrite, SeqNo, Ssrc},
	Event, IceConnectionState, Input, Output, Rtc,
};
use tokio::sync::mpsc as tokio_mpsc;
use vilokanam_chain_client::StreamId;

/// Datagrams read per turn before timers and commands get a look in.
const READ_BURST: usize = 256;
/// A viewer is given the best layer that fits in this fraction of its estimated bandwidth.
const LAYER_HEADROOM: f64 = 0.85;
/// How often bitrates, layers, the snapshot and the metrics are refreshed.
const STATS_PERIOD: Duration = Duration::from_secs(1);
/// How long after DTLS completes (on our side) a viewer's media starts. The client completes
/// its side a round trip later; webrtc-rs, for one, loses a stream whose first packets come
/// before its receivers are started.
const START_DELAY: Duration = Duration::from_millis(200);
/// A simulcast layer that sent nothing for this long is not chosen.
const LAYER_IDLE: Duration = Duration::from_millis(1500);
/// How long the first packets of a video frame may wait for the rest of it (its marker
/// packet), to be forwarded together. A frame cannot be decoded before its last packet, so
/// holding the earlier ones delays nothing a viewer sees; the bound covers a lost last packet
/// and publishers that pace a frame's packets over a frame interval.
const FRAME_HOLD: Duration = Duration::from_millis(15);
/// Due timeouts handled inside one drain before the rest wait for the next turn (bounds the
/// time one peer can take).
const MAX_IMMEDIATE_TIMEOUTS: usize = 64;
/// At most this many packets are held (a keyframe is forwarded in several batches).
const MAX_HELD: usize = 32;

/// Peer ids are our own sequential integers, looked up per viewer per forwarded batch: a
/// multiplicative hash spreads them at a fraction of SipHash's cost (no client picks them, so
/// no flooding defence is needed).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
	fn finish(&self) -> u64 {
		self.0
	}

	fn write(&mut self, bytes: &[u8]) {
		for b in bytes {
			self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
		}
	}

	fn write_u64(&mut self, n: u64) {
		self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
	}
}

type IdMap<V> = HashMap<MediaPeerId, V, BuildHasherDefault<IdHasher>>;

/// What a media peer is for; given with its offer.
pub struct PeerSetup {
	/// The stream.
	pub stream_id: StreamId,
	/// Publisher or viewer.
	pub role: MediaRole,
	/// Its right to media, polled every [`GATE_PERIOD`].
	pub gate: Arc<dyn Gate>,
	/// Where to report [`MediaEvent`]s (best effort: a full queue loses them).
	pub events: Option<tokio_mpsc::Sender<(MediaPeerId, MediaEvent)>>,
	/// Who it is, for stats (an SS58 account).
	pub label: String,
}

pub(crate) struct NewPeer {
	pub id: MediaPeerId,
	pub rtc: Rtc,
	pub setup: PeerSetup,
	pub audio: Option<Mid>,
	pub video: Option<Mid>,
	pub created: Instant,
	/// Send its media through a [`Direct`] sender once DTLS is done (viewers without
	/// bandwidth estimation, whose `Rtc` was built without sender reports).
	pub direct: bool,
}

#[derive(Default)]
struct Counters {
	packets: u64,
	bytes: u64,
	window_bytes: u64,
	bitrate_bps: u64,
	loss: f32,
	keyframe_requests: u64,
	nacks: u64,
}

struct PtInfo {
	kind: MediaKind,
	video: Option<VideoCodec>,
	params: PayloadParams,
}

struct Layer {
	/// Audio streams are "layers" too, for the accounting; only video ones are chosen.
	video: bool,
	rid: Option<Rid>,
	mid: Mid,
	window_bytes: u64,
	bitrate_bps: u64,
	last_at: Instant,
}

struct Publisher {
	pts: HashMap<u8, Option<PtInfo>>,
	layers: HashMap<Ssrc, Layer>,
	last_keyframe_request: HashMap<Option<Rid>, Instant>,
	/// Requests held back by the rate limit, sent when it allows.
	deferred_keyframes: Vec<Option<Rid>>,
	epoch: u64,
}

struct Out {
	mid: Mid,
	rw: Rewriter,
	/// Re-choose the mapping at the next packet (start, resume, new publisher).
	rebase: bool,
}

struct VideoOut {
	out: Out,
	/// The layer being forwarded; `None` until a keyframe starts one.
	current: Option<Option<Rid>>,
}

struct Viewer {
	audio: Option<Out>,
	video: Option<VideoOut>,
	/// Publisher payload type → this viewer's, for the publisher `epoch` (a handful: a list).
	pts: Vec<(u8, Option<u8>)>,
	epoch: u64,
	estimate_bps: Option<u64>,
	/// The layer to move to; `None`: whichever starts a keyframe first.
	target: Option<Option<Rid>>,
}

enum Kind {
	Publisher(Publisher),
	Viewer(Viewer),
}

struct Peer {
	id: MediaPeerId,
	stream_id: StreamId,
	label: String,
	rtc: Rtc,
	gate: Arc<dyn Gate>,
	events: Option<tokio_mpsc::Sender<(MediaPeerId, MediaEvent)>>,
	created: Instant,
	deadline: Instant,
	connected: bool,
	/// Media is forwarded to a viewer from this instant on (see [`START_DELAY`]).
	start_at: Option<Instant>,
	/// Whether its start was announced to the publisher (a keyframe request).
	started: bool,
	paused: bool,
	/// `Rtc` failed or disconnected: close at the next sweep.
	dead: bool,
	addrs: Vec<SocketAddr>,
	counters: Counters,
	kind: Kind,
	/// See [`NewPeer::direct`].
	wants_direct: bool,
	/// The SRTP export of its handshake, until its [`Direct`] sender is made.
	keys: Option<TappedKeys>,
	/// Where its media goes: see [`Peer::follow`].
	media_dest: Option<SocketAddr>,
	direct: Option<Direct>,
}

impl Peer {
	fn role(&self) -> MediaRole {
		match self.kind {
			Kind::Publisher(_) => MediaRole::Publisher,
			Kind::Viewer(_) => MediaRole::Viewer,
		}
	}

	/// Send media to `dest` from now on: the remote end of the pair ICE nominated (learnt
	/// from where str0m sends DTLS, and from its once-a-second stats, should the pair change).
	fn follow(&mut self, dest: SocketAddr) {
		if self.media_dest != Some(dest) {
			self.media_dest = Some(dest);
			if let Some(d) = self.direct.as_mut() {
				d.set_destination(dest);
			}
		}
	}

	fn notify(&self, e: MediaEvent) {
		if let Some(tx) = &self.events {
			let _ = tx.try_send((self.id, e));
		}
	}
}

/// A stream's forwarding state: its publisher, its viewers and the frame being held (the
/// signaling side of a stream is `crate::rooms::Room`).
#[derive(Default)]
struct Fanout {
	publisher: Option<MediaPeerId>,
	viewers: Vec<MediaPeerId>,
	/// Bumped for each new publisher: viewers then restart their streams.
	epoch: u64,
	forwarded: u64,
	coalesced: u64,
	/// Packets of a video frame in progress (and audio that came meanwhile), held until the
	/// frame is complete or [`FRAME_HOLD`] after the first: see [`Engine::hold`].
	held: Vec<Forward>,
	held_since: Option<Instant>,
}

/// A packet from a publisher, to go to its room's viewers.
struct Forward {
	stream_id: StreamId,
	epoch: u64,
	kind: MediaKind,
	params: PayloadParams,
	layer: Option<Rid>,
	keyframe: bool,
	seq: u64,
	timestamp: u32,
	marker: bool,
	arrival: Instant,
	audio_level: Option<i8>,
	voice_activity: Option<bool>,
	payload: Arc<[u8]>,
}

enum Job {
	Forward(Box<Forward>),
	/// Ask the room's publisher for a keyframe on `layer` (`None`: every layer).
	Keyframe {
		stream_id: StreamId,
		layer: Option<Option<Rid>>,
	},
}

pub(crate) struct Engine {
	socket: UdpSocket,
	crypto: Arc<CryptoProvider>,
	/// The address announced to clients (str0m matches it against its candidate).
	candidate: SocketAddr,
	commands: mpsc::Receiver<Command>,
	waker: SocketAddr,
	peers: IdMap<Peer>,
	by_addr: HashMap<SocketAddr, MediaPeerId>,
	rooms: HashMap<StreamId, Fanout>,
	timers: BinaryHeap<Reverse<(Instant, MediaPeerId)>>,
	jobs: VecDeque<Job>,
	outbox: Outbox,
	snapshot: Arc<RwLock<MediaSnapshot>>,
	peer_count: Arc<AtomicU64>,
	publishers: Publishers,
	metrics: Metrics,
	recorder: Option<Recorder>,
	next_gate: Instant,
	next_stats: Instant,
	forwarded: u64,
	forwarded_reported: u64,
	unrouted: u64,
	stop: bool,
	/// Streams whose per-room metrics were set at the last refresh (to remove them after).
	metric_streams: Vec<StreamId>,
}

impl Engine {
	#[allow(clippy::too_many_arguments)]
	pub(crate) fn new(
		socket: UdpSocket,
		crypto: Arc<CryptoProvider>,
		candidate: SocketAddr,
		commands: mpsc::Receiver<Command>,
		waker: SocketAddr,
		snapshot: Arc<RwLock<MediaSnapshot>>,
		peer_count: Arc<AtomicU64>,
		publishers: Publishers,
		metrics: Metrics,
		recorder: Option<Recorder>,
	) -> std::io::Result<Self> {
		socket.set_nonblocking(true)?;
		let now = Instant::now();
		Ok(Self {
			socket,
			crypto,
			candidate,
			commands,
			waker,
			peers: IdMap::default(),
			by_addr: HashMap::new(),
			rooms: HashMap::new(),
			timers: BinaryHeap::new(),
			jobs: VecDeque::new(),
			outbox: Outbox::new(),
			snapshot,
			peer_count,
			publishers,
			metrics,
			recorder,
			next_gate: now + GATE_PERIOD,
			next_stats: now + STATS_PERIOD,
			forwarded: 0,
			forwarded_reported: 0,
			unrouted: 0,
			stop: false,
			metric_streams: Vec::new(),
		})
	}

	pub(crate) fn run(mut self) {
		let mut buf = vec![0u8; 2048];
		while !self.stop {
			self.take_commands();
			let now = Instant::now();
			self.fire_timers(now);
			self.release_held_frames(now);
			if now >= self.next_gate {
				self.sweep(now);
			}
			let mut read = 0;
			while read < READ_BURST {
				match self.socket.recv_from(&mut buf) {
					Ok((n, source)) => {
						read += 1;
						self.on_datagram(&buf[..n], source);
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
			// After the burst, so that the packets of a frame that arrived together are
			// forwarded together (see `run_jobs`).
			self.run_jobs();
			self.outbox.flush(&self.socket);
			if read == 0 {
				self.wait();
			}
		}
		let ids: Vec<_> = self.peers.keys().copied().collect();
		for id in ids {
			self.close_peer(id, CloseReason::Shutdown);
		}
		tracing::info!("media engine stopped");
	}

	/// Sleep until a datagram arrives or the next deadline.
	fn wait(&mut self) {
		let now = Instant::now();
		let mut until = self.next_gate;
		for since in self.rooms.values().filter_map(|r| r.held_since) {
			until = until.min(since + FRAME_HOLD);
		}
		while let Some(Reverse((t, id))) = self.timers.peek().copied() {
			// Skip entries superseded by a later deadline of the same peer.
			if self.peers.get(&id).is_some_and(|p| p.deadline == t) {
				until = until.min(t);
				break;
			}
			self.timers.pop();
		}
		let ms = until.saturating_duration_since(now).as_micros().div_ceil(1000) as i32;
		if ms <= 0 {
			return;
		}
		let mut fd = libc::pollfd { fd: self.socket.as_raw_fd(), events: libc::POLLIN, revents: 0 };
		// SAFETY: `fd` is one valid pollfd for the duration of the call; poll only writes
		// its `revents`.
		unsafe {
			libc::poll(&mut fd, 1, ms);
		}
	}

	fn take_commands(&mut self) {
		while let Ok(cmd) = self.commands.try_recv() {
			match cmd {
				Command::Add(new) => self.add_peer(*new),
				Command::Close(id, reason) => self.close_peer(id, reason),
				Command::Shutdown => self.stop = true,
			}
		}
	}

	fn add_peer(&mut self, new: NewPeer) {
		let NewPeer { id, rtc, setup, audio, video, created, direct } = new;
		let room = self.rooms.entry(setup.stream_id).or_default();
		let mut replaced = None;
		let kind = match setup.role {
			MediaRole::Publisher => {
				replaced = room.publisher.replace(id);
				room.epoch += 1;
				Kind::Publisher(Publisher {
					pts: HashMap::new(),
					layers: HashMap::new(),
					last_keyframe_request: HashMap::new(),
					deferred_keyframes: Vec::new(),
					epoch: room.epoch,
				})
			},
			MediaRole::Viewer => {
				room.viewers.push(id);
				let out = |mid, clock| Out {
					mid,
					// Start low in the sequence space, as browsers do: far from a rollover.
					rw: Rewriter::new(clock, rand::random::<u16>() / 2 + 1, rand::random()),
					rebase: true,
				};
				Kind::Viewer(Viewer {
					audio: audio.map(|m| out(m, 48_000)),
					video: video.map(|m| VideoOut { out: out(m, 90_000), current: None }),
					pts: Vec::new(),
					epoch: room.epoch,
					estimate_bps: None,
					target: None,
				})
			},
		};
		let peer = Peer {
			id,
			stream_id: setup.stream_id,
			label: setup.label,
			rtc,
			gate: setup.gate,
			events: setup.events,
			created,
			deadline: created,
			connected: false,
			start_at: None,
			started: false,
			paused: false,
			dead: false,
			addrs: Vec::new(),
			counters: Counters::default(),
			kind,
			wants_direct: direct,
			keys: None,
			media_dest: None,
			direct: None,
		};
		self.metrics.media_peers.with_label_values(&[role_label(peer.role())]).inc();
		self.peer_count.fetch_add(1, Ordering::Relaxed);
		self.peers.insert(id, peer);
		self.timers.push(Reverse((created, id)));
		if let Some(old) = replaced {
			self.close_peer(old, CloseReason::Replaced);
		}
	}

	fn close_peer(&mut self, id: MediaPeerId, reason: CloseReason) {
		let Some(mut peer) = self.peers.remove(&id) else { return };
		peer.rtc.disconnect();
		for a in &peer.addrs {
			if self.by_addr.get(a) == Some(&id) {
				self.by_addr.remove(a);
			}
		}
		if let Some(room) = self.rooms.get_mut(&peer.stream_id) {
			match peer.kind {
				Kind::Publisher(_) => {
					if room.publisher == Some(id) {
						room.publisher = None;
					}
				},
				Kind::Viewer(_) => room.viewers.retain(|v| *v != id),
			}
			if room.publisher.is_none() && room.viewers.is_empty() {
				self.rooms.remove(&peer.stream_id);
			}
		}
		if let Kind::Publisher(_) = &peer.kind {
			let mut publishers = self.publishers.lock().unwrap_or_else(|p| p.into_inner());
			if publishers.get(&peer.stream_id).is_some_and(|(p, _)| *p == id) {
				publishers.remove(&peer.stream_id);
			}
		}
		if let (Kind::Publisher(_), Some(rec)) = (&peer.kind, &self.recorder) {
			rec.send(RecordMsg::End(id));
		}
		self.metrics.media_peers.with_label_values(&[role_label(peer.role())]).dec();
		self.peer_count.fetch_sub(1, Ordering::Relaxed);
		tracing::debug!(
			peer = id,
			stream = peer.stream_id,
			reason = reason.as_str(),
			"media peer closed"
		);
		peer.notify(MediaEvent::Closed(reason));
	}

	fn fire_timers(&mut self, now: Instant) {
		while let Some(Reverse((t, id))) = self.timers.peek().copied() {
			if t > now {
				break;
			}
			self.timers.pop();
			let Some(peer) = self.peers.get_mut(&id) else { continue };
			if peer.deadline != t {
				continue;
			}
			// Whatever the drain returns becomes the new deadline (even if equal to this one).
			peer.deadline = now + Duration::from_secs(3600);
			if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
				tracing::debug!(peer = id, "media timeout handling failed: {e}");
				peer.dead = true;
			}
			self.drain(id);
		}
		self.run_jobs();
	}

	fn on_datagram(&mut self, data: &[u8], source: SocketAddr) {
		if source == self.waker {
			self.take_commands();
			return;
		}
		let Ok(contents) = data.try_into() else {
			self.unrouted += 1;
			return;
		};
		let input = Input::Receive(
			Instant::now(),
			Receive { proto: Protocol::Udp, source, destination: self.candidate, contents },
		);
		let id = match self.by_addr.get(&source) {
			Some(id) if self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)) => *id,
			// Only an ICE binding request (first byte 0 or 1, RFC 7983) introduces a new
			// address: anything else from an unknown source is dropped without a search.
			_ if data.first().is_some_and(|b| *b < 2) => {
				let Some(id) = self.peers.values().find(|p| p.rtc.accepts(&input)).map(|p| p.id)
				else {
					self.unrouted += 1;
					return;
				};
				self.by_addr.insert(source, id);
				if let Some(p) = self.peers.get_mut(&id) {
					p.addrs.push(source);
				}
				id
			},
			_ => {
				self.unrouted += 1;
				return;
			},
		};
		let Some(peer) = self.peers.get_mut(&id) else { return };
		if let Some(d) = peer.direct.as_mut().filter(|_| direct::is_rtcp(data)) {
			d.on_rtcp(data, Instant::now(), &mut self.outbox, &self.socket);
		}
		if let Err(e) = peer.rtc.handle_input(input) {
			tracing::debug!(peer = id, "media input refused: {e}");
			peer.dead = true;
		}
		self.drain(id);
	}

	/// Drain a peer's output after a mutation: send its datagrams, turn its events into
	/// state changes and jobs, and re-arm its timer. A viewer whose handshake completed in
	/// it moves to its direct sender.
	fn drain(&mut self, id: MediaPeerId) {
		self.drain_rtc(id);
		// This thread polled only this peer's `Rtc` since the last take.
		let keys = srtp::take_tapped();
		let Some(peer) = self.peers.get_mut(&id) else { return };
		if keys.is_some() {
			peer.keys = keys;
		}
		if peer.wants_direct && peer.direct.is_none() && peer.connected {
			start_direct(peer, &self.crypto);
		}
	}

	fn drain_rtc(&mut self, id: MediaPeerId) {
		let Self { peers, socket, outbox, jobs, recorder, timers, rooms, .. } = self;
		let Some(peer) = peers.get_mut(&id) else { return };
		let now = Instant::now();
		let mut immediate = 0;
		// Whether the `Rtc` put anything out since the last due timeout handled here: one
		// that yields nothing goes to the heap rather than round again.
		let mut progress = true;
		loop {
			let output = match peer.rtc.poll_output() {
				Ok(o) => o,
				Err(e) => {
					tracing::debug!(peer = id, "media output failed: {e}");
					peer.dead = true;
					return;
				},
			};
			match output {
				// Already due: a pacing `Rtc` (simulcast viewers) releases one queued packet per
				// timeout, so a frame's packets go out in one drain rather than a trip through
				// the timer heap each.
				Output::Timeout(t)
					if t <= now && progress && immediate < MAX_IMMEDIATE_TIMEOUTS =>
				{
					immediate += 1;
					progress = false;
					if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
						tracing::debug!(peer = id, "media timeout handling failed: {e}");
						peer.dead = true;
						return;
					}
				},
				Output::Timeout(t) => {
					if t != peer.deadline {
						peer.deadline = t;
						timers.push(Reverse((t, id)));
					}
					return;
				},
				Output::Transmit(t) => {
					progress = true;
					// Not STUN (RFC 7983: its first byte is 0–3): DTLS or RTCP, which str0m
					// sends on the nominated pair only.
					if t.contents.first().is_some_and(|b| *b > 3) {
						peer.follow(t.destination);
					}
					outbox.push(socket, t.destination, t.contents.into());
				},
				Output::Event(e) => {
					progress = true;
					on_event(peer, e, jobs, recorder.as_ref(), rooms);
				},
			}
		}
	}

	/// Run the queued jobs in order.
	fn run_jobs(&mut self) {
		while let Some(job) = self.jobs.pop_front() {
			match job {
				Job::Forward(f) => self.hold(*f),
				Job::Keyframe { stream_id, layer } => self.request_keyframe(stream_id, layer),
			}
		}
	}

	/// Queue a publisher's packet for its room, and forward what is queued once a video frame
	/// is complete (its marker packet came), or at once if no frame is in progress. Each
	/// viewer then takes the frame's packets together (its direct sender, or its `Rtc`, drained
	/// once), and they leave as one GSO message: the per-viewer costs are paid per frame, not
	/// per packet.
	fn hold(&mut self, f: Forward) {
		let stream_id = f.stream_id;
		let Some(room) = self.rooms.get_mut(&stream_id) else { return };
		room.held_since.get_or_insert(f.arrival);
		room.held.push(f);
		// A frame is in progress while the last video packet queued is not its frame's last.
		let in_progress =
			room.held.iter().rev().find(|h| h.kind == MediaKind::Video).is_some_and(|v| !v.marker);
		if !in_progress || room.held.len() >= MAX_HELD {
			self.release(stream_id);
		}
	}

	/// Forward the packets held for rooms whose frame has waited [`FRAME_HOLD`].
	fn release_held_frames(&mut self, now: Instant) {
		let due = |r: &Fanout| r.held_since.is_some_and(|t| now >= t + FRAME_HOLD);
		// Rarely more than one room is due: find them one at a time rather than collect.
		while let Some(stream_id) = self.rooms.iter().find(|(_, r)| due(r)).map(|(s, _)| *s) {
			self.release(stream_id);
		}
	}

	fn release(&mut self, stream_id: StreamId) {
		let Some(room) = self.rooms.get_mut(&stream_id) else { return };
		let mut batch = std::mem::take(&mut room.held);
		room.held_since = None;
		self.forward(stream_id, &batch);
		// Keep the allocation for the next frame.
		batch.clear();
		if let Some(room) = self.rooms.get_mut(&stream_id) {
			if room.held.is_empty() {
				room.held = batch;
			}
		}
	}

	fn forward(&mut self, stream_id: StreamId, batch: &[Forward]) {
		let Some(room) = self.rooms.get(&stream_id) else { return };
		let mut sent = 0u64;
		// One clock read per batch, not per viewer.
		let now = Instant::now();
		// Index loop: `drain` needs `&mut self`, and copying the viewer list per batch would
		// allocate.
		let n = room.viewers.len();
		for i in 0..n {
			let Some(id) = self.rooms.get(&stream_id).and_then(|r| r.viewers.get(i)).copied()
			else {
				break;
			};
			let Some(peer) = self.peers.get_mut(&id) else { continue };
			let direct = peer.direct.is_some();
			let wrote = write_to_viewer(peer, batch, now, &mut self.outbox, &self.socket);
			sent += wrote;
			// A direct viewer's `Rtc` was not touched: nothing to drain.
			if wrote > 0 && !direct {
				self.drain(id);
			}
		}
		self.forwarded += sent;
		if let Some(room) = self.rooms.get_mut(&stream_id) {
			room.forwarded += sent;
		}
	}

	/// Ask `stream_id`'s publisher for a keyframe, at most once per
	/// [`KEYFRAME_REQUEST_INTERVAL`] per layer.
	fn request_keyframe(&mut self, stream_id: StreamId, layer: Option<Option<Rid>>) {
		let Some(room) = self.rooms.get_mut(&stream_id) else { return };
		let Some(pid) = room.publisher else { return };
		let Some(peer) = self.peers.get_mut(&pid) else { return };
		let Kind::Publisher(publisher) = &mut peer.kind else { return };
		let now = Instant::now();
		let mut targets: Vec<(Mid, Option<Rid>)> = Vec::new();
		for l in publisher.layers.values().filter(|l| l.video) {
			if layer.is_none_or(|want| want == l.rid) && !targets.iter().any(|t| t.1 == l.rid) {
				targets.push((l.mid, l.rid));
			}
		}
		let mut sent = false;
		for (mid, rid) in targets {
			let last = publisher.last_keyframe_request.get(&rid);
			if last.is_some_and(|t| now.saturating_duration_since(*t) < KEYFRAME_REQUEST_INTERVAL) {
				// Not dropped: one request goes out when the interval has passed, for all
				// those that came meanwhile.
				room.coalesced += 1;
				self.metrics.media_keyframe_requests.with_label_values(&["coalesced"]).inc();
				if !publisher.deferred_keyframes.contains(&rid) {
					publisher.deferred_keyframes.push(rid);
				}
				continue;
			}
			if let Some(rx) = peer.rtc.direct_api().stream_rx_by_mid(mid, rid) {
				tracing::trace!(publisher = pid, ?rid, "keyframe requested");
				rx.request_keyframe(KeyframeRequestKind::Pli);
				publisher.last_keyframe_request.insert(rid, now);
				peer.counters.keyframe_requests += 1;
				self.metrics.media_keyframe_requests.with_label_values(&["sent"]).inc();
				sent = true;
			}
		}
		if sent {
			// str0m turns pending requests into RTCP when time advances.
			if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
				tracing::debug!(peer = pid, "keyframe request failed: {e}");
				peer.dead = true;
			}
			self.drain(pid);
		}
	}

	/// Every [`GATE_PERIOD`]: apply gates, drop dead peers; every [`STATS_PERIOD`]: refresh
	/// bitrates, layers, the snapshot and the metrics.
	fn sweep(&mut self, now: Instant) {
		self.next_gate = now + GATE_PERIOD;
		let mut close = Vec::new();
		let mut keyframes = Vec::new();
		for peer in self.peers.values_mut() {
			if let (Some(t), Kind::Viewer(_)) = (peer.start_at, &peer.kind) {
				if now >= t && !peer.started {
					// Start the new viewer on a fresh keyframe rather than wait for the next.
					peer.started = true;
					keyframes.push(peer.stream_id);
				}
			}
			if peer.dead || !peer.rtc.is_alive() {
				close.push((peer.id, CloseReason::Disconnected));
				continue;
			}
			if !peer.connected && now.saturating_duration_since(peer.created) > CONNECT_TIMEOUT {
				close.push((peer.id, CloseReason::Disconnected));
				continue;
			}
			match peer.gate.check() {
				GateState::Closed(reason) => close.push((peer.id, reason)),
				GateState::Paused => {
					if !peer.paused {
						peer.paused = true;
						peer.notify(MediaEvent::Paused);
					}
				},
				GateState::Open => {
					if peer.paused {
						peer.paused = false;
						if let Kind::Viewer(v) = &mut peer.kind {
							restart(v);
							keyframes.push(peer.stream_id);
						}
						peer.notify(MediaEvent::Resumed);
					}
				},
			}
		}
		for (id, reason) in close {
			self.close_peer(id, reason);
		}
		for stream_id in keyframes {
			self.jobs.push_back(Job::Keyframe { stream_id, layer: None });
		}
		// Deferred keyframe requests whose interval has passed.
		for peer in self.peers.values_mut() {
			let Kind::Publisher(p) = &mut peer.kind else { continue };
			let due: Vec<Option<Rid>> = p
				.deferred_keyframes
				.iter()
				.copied()
				.filter(|rid| {
					p.last_keyframe_request.get(rid).is_none_or(|t| {
						now.saturating_duration_since(*t) >= KEYFRAME_REQUEST_INTERVAL
					})
				})
				.collect();
			if due.is_empty() {
				continue;
			}
			p.deferred_keyframes.retain(|r| !due.contains(r));
			for rid in due {
				self.jobs.push_back(Job::Keyframe { stream_id: peer.stream_id, layer: Some(rid) });
			}
		}
		self.run_jobs();
		if now >= self.next_stats {
			self.next_stats = now + STATS_PERIOD;
			self.refresh_stats();
		}
	}

	fn refresh_stats(&mut self) {
		let now = Instant::now();
		let secs = STATS_PERIOD.as_secs_f64();
		for peer in self.peers.values_mut() {
			peer.counters.bitrate_bps = (peer.counters.window_bytes as f64 * 8.0 / secs) as u64;
			peer.counters.window_bytes = 0;
			if let Kind::Publisher(p) = &mut peer.kind {
				for l in p.layers.values_mut() {
					l.bitrate_bps = (l.window_bytes as f64 * 8.0 / secs) as u64;
					l.window_bytes = 0;
				}
			}
		}
		// Each viewer's layer: from its publisher's live layers and its own estimate.
		let mut layer_lists: HashMap<StreamId, Vec<(Option<Rid>, u64)>> = HashMap::new();
		for (stream_id, room) in &self.rooms {
			let Some(p) = room.publisher.and_then(|id| self.peers.get(&id)) else { continue };
			let Kind::Publisher(publisher) = &p.kind else { continue };
			let mut layers: Vec<(Option<Rid>, u64)> = Vec::new();
			for l in publisher.layers.values().filter(|l| l.video) {
				let live = now.saturating_duration_since(l.last_at) < LAYER_IDLE;
				if live && l.bitrate_bps > 0 && !layers.iter().any(|x| x.0 == l.rid) {
					layers.push((l.rid, l.bitrate_bps));
				}
			}
			layer_lists.insert(*stream_id, layers);
		}
		let mut keyframes = Vec::new();
		let mut probed = Vec::new();
		for peer in self.peers.values_mut() {
			let Kind::Viewer(v) = &mut peer.kind else { continue };
			let Some(layers) = layer_lists.get(&peer.stream_id) else { continue };
			if layers.len() > 1 {
				let target = choose_layer(layers, v.estimate_bps, LAYER_HEADROOM);
				if target.is_some() && target != v.target {
					v.target = target;
					let current = v.video.as_ref().and_then(|x| x.current);
					if current != target {
						keyframes.push((peer.stream_id, target));
					}
				}
				// Let the estimator probe up to the best layer, without padding beyond the
				// layer being sent.
				let best = layers.iter().map(|l| l.1).max().unwrap_or(0);
				let sending = layers.iter().find(|l| Some(l.0) == v.target).map_or(0, |l| l.1);
				peer.rtc.bwe().set_bitrate(Bitrate::bps(sending), Bitrate::bps(best * 6 / 5));
				probed.push(peer.id);
			} else {
				v.target = layers.first().map(|l| l.0);
			}
		}
		// Setting the desired bitrate is a mutation: drain (str0m's contract).
		for id in probed {
			self.drain(id);
		}
		for (stream_id, layer) in keyframes {
			self.jobs.push_back(Job::Keyframe { stream_id, layer });
		}
		self.run_jobs();
		self.publish_snapshot();
	}

	fn publish_snapshot(&mut self) {
		let stats_of = |p: &Peer| {
			let layer = match &p.kind {
				Kind::Viewer(v) => {
					v.video.as_ref().and_then(|x| x.current).flatten().map(|r| r.to_string())
				},
				Kind::Publisher(_) => None,
			};
			let estimate_bps = match &p.kind {
				Kind::Viewer(v) => v.estimate_bps,
				Kind::Publisher(_) => None,
			};
			PeerStats {
				id: p.id,
				role: Some(p.role()),
				label: p.label.clone(),
				connected: p.connected,
				paused: p.paused,
				bitrate_bps: p.counters.bitrate_bps,
				packets: p.counters.packets,
				bytes: p.counters.bytes,
				loss: p.counters.loss,
				keyframe_requests: p.counters.keyframe_requests,
				nacks: p.counters.nacks,
				layer,
				estimate_bps,
				direct: p.direct.is_some(),
				retransmitted: p.direct.as_ref().map_or(0, |d| d.resent),
			}
		};
		let mut rooms = Vec::with_capacity(self.rooms.len());
		let mut streams = Vec::with_capacity(self.rooms.len());
		for (stream_id, room) in &self.rooms {
			let publisher = room.publisher.and_then(|id| self.peers.get(&id));
			let mut layers = std::collections::BTreeMap::new();
			if let Some(Kind::Publisher(p)) = publisher.map(|p| &p.kind) {
				for l in p.layers.values().filter(|l| l.video) {
					let key = l.rid.map(|r| r.to_string()).unwrap_or_default();
					*layers.entry(key).or_insert(0) += l.bitrate_bps;
				}
			}
			let viewers: Vec<PeerStats> =
				room.viewers.iter().filter_map(|id| self.peers.get(id)).map(stats_of).collect();
			let s = stream_id.to_string();
			let out_bps: u64 = viewers.iter().map(|v| v.bitrate_bps).sum();
			let out_loss = viewers.iter().map(|v| v.loss).fold(0.0f32, f32::max);
			let m = &self.metrics;
			m.media_room_bitrate
				.with_label_values(&[&s, "in"])
				.set(publisher.map(|p| p.counters.bitrate_bps).unwrap_or(0) as i64);
			m.media_room_bitrate.with_label_values(&[&s, "out"]).set(out_bps as i64);
			m.media_room_viewers.with_label_values(&[&s]).set(viewers.len() as i64);
			m.media_room_loss
				.with_label_values(&[&s, "in"])
				.set(publisher.map(|p| p.counters.loss).unwrap_or(0.0) as f64);
			m.media_room_loss.with_label_values(&[&s, "out"]).set(out_loss as f64);
			streams.push(*stream_id);
			rooms.push(RoomStats {
				stream_id: *stream_id,
				publisher: publisher.map(stats_of),
				layers,
				viewers,
				forwarded_packets: room.forwarded,
				keyframe_requests_coalesced: room.coalesced,
			});
		}
		// Rooms that are gone lose their series.
		for old in self.metric_streams.iter().filter(|s| !streams.contains(s)) {
			let s = old.to_string();
			let m = &self.metrics;
			let _ = m.media_room_bitrate.remove_label_values(&[&s, "in"]);
			let _ = m.media_room_bitrate.remove_label_values(&[&s, "out"]);
			let _ = m.media_room_viewers.remove_label_values(&[&s]);
			let _ = m.media_room_loss.remove_label_values(&[&s, "in"]);
			let _ = m.media_room_loss.remove_label_values(&[&s, "out"]);
		}
		self.metric_streams = streams;
		rooms.sort_by_key(|r| r.stream_id);
		self.metrics.media_forwarded_packets.inc_by(self.forwarded - self.forwarded_reported);
		self.forwarded_reported = self.forwarded;
		let snapshot = MediaSnapshot {
			rooms,
			peers: self.peers.len(),
			forwarded_packets: self.forwarded,
			unrouted_datagrams: self.unrouted,
			send_dropped: self.outbox.dropped,
			send_calls: self.outbox.calls,
			send_messages: self.outbox.messages,
		};
		*self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = snapshot;
	}
}

fn role_label(role: MediaRole) -> &'static str {
	match role {
		MediaRole::Publisher => "publisher",
		MediaRole::Viewer => "viewer",
	}
}

/// Make a viewer start over at the next keyframe (resume, new publisher).
fn restart(v: &mut Viewer) {
	if let Some(a) = &mut v.audio {
		a.rebase = true;
	}
	if let Some(x) = &mut v.video {
		x.out.rebase = true;
		x.current = None;
	}
}

fn on_event(
	peer: &mut Peer,
	event: Event,
	jobs: &mut VecDeque<Job>,
	recorder: Option<&Recorder>,
	rooms: &HashMap<StreamId, Fanout>,
) {
	match event {
		Event::Connected => {
			peer.connected = true;
			peer.start_at = Some(Instant::now() + START_DELAY);
			peer.notify(MediaEvent::Connected);
		},
		Event::IceConnectionStateChange(IceConnectionState::Disconnected) => peer.dead = true,
		Event::PeerStats(s) => {
			if let Some(pair) = s.selected_candidate_pair {
				peer.follow(pair.remote.addr);
			}
		},
		Event::RtpPacket(packet) => on_rtp(peer, packet, jobs, recorder, rooms),
		Event::KeyframeRequest(_) => {
			if let Kind::Viewer(v) = &peer.kind {
				peer.counters.keyframe_requests += 1;
				let layer = v.video.as_ref().and_then(|x| x.current);
				jobs.push_back(Job::Keyframe {
					stream_id: peer.stream_id,
					layer: Some(layer.flatten()),
				});
			}
		},
		Event::EgressBitrateEstimate(BweKind::Twcc { estimate: bitrate, .. }) => {
			if let Kind::Viewer(v) = &mut peer.kind {
				v.estimate_bps = Some(bitrate.as_u64());
			}
		},
		// Loss and NACKs of the video: they say more than the audio's.
		Event::MediaIngressStats(s) if is_video(peer, s.mid) => {
			peer.counters.loss = s.loss.unwrap_or(0.0);
			peer.counters.nacks = s.nacks;
		},
		Event::MediaEgressStats(s) if is_video(peer, s.mid) => {
			peer.counters.loss = s.loss.unwrap_or(0.0);
			peer.counters.nacks = s.nacks;
		},
		_ => {},
	}
}

fn is_video(peer: &Peer, mid: Mid) -> bool {
	match &peer.kind {
		Kind::Viewer(v) => v.video.as_ref().is_some_and(|x| x.out.mid == mid),
		Kind::Publisher(p) => p.layers.values().any(|l| l.video && l.mid == mid),
	}
}

/// A publisher's packet: account for it, and queue it for the room.
fn on_rtp(
	peer: &mut Peer,
	packet: RtpPacket,
	jobs: &mut VecDeque<Job>,
	recorder: Option<&Recorder>,
	rooms: &HashMap<StreamId, Fanout>,
) {
	let Kind::Publisher(publisher) = &mut peer.kind else { return };
	let pt = *packet.header.payload_type;
	let rtc = &mut peer.rtc;
	let info = publisher.pts.entry(pt).or_insert_with(|| {
		let params = rtc.codec_config().params().iter().find(|p| *p.pt() == pt).copied()?;
		let spec = params.spec();
		let (kind, video) = match spec.codec {
			Codec::Opus | Codec::PCMU | Codec::PCMA | Codec::G722 => (MediaKind::Audio, None),
			Codec::Vp8 => (MediaKind::Video, Some(VideoCodec::Vp8)),
			Codec::H264 => (MediaKind::Video, Some(VideoCodec::H264)),
			// Codecs the SFU cannot find keyframes in are not forwarded.
			_ => return None,
		};
		Some(PtInfo { kind, video, params })
	});
	let Some(info) = info else { return };
	let (kind, video, params) = (info.kind, info.video, info.params);
	let ssrc = packet.header.ssrc;
	let now = packet.timestamp;
	let layer = publisher.layers.entry(ssrc).or_insert_with(|| {
		let (mid, rid) = rtc
			.direct_api()
			.stream_rx(&ssrc)
			.map(|rx| (rx.mid(), rx.rid()))
			.unwrap_or((packet.header.ext_vals.mid.unwrap_or_default(), None));
		Layer {
			video: kind == MediaKind::Video,
			rid,
			mid,
			window_bytes: 0,
			bitrate_bps: 0,
			last_at: now,
		}
	});
	let len = packet.payload.len() as u64;
	layer.window_bytes += len;
	layer.last_at = now;
	peer.counters.packets += 1;
	peer.counters.bytes += len;
	peer.counters.window_bytes += len;
	let keyframe = video.is_some_and(|c| codec::starts_keyframe(c, &packet.payload));
	if keyframe {
		tracing::trace!(peer = peer.id, ?ssrc, seq = *packet.seq_no, "keyframe from publisher");
	}
	if let (Some(rec), Some(c)) = (recorder, video) {
		// One layer is recorded: the unnamed one, or the first rid seen.
		let first_rid = publisher
			.layers
			.values()
			.filter(|l| l.video)
			.filter_map(|l| l.rid)
			.min_by_key(|r| r.to_string());
		if layer_rid_matches(publisher, ssrc, first_rid) {
			rec.send(RecordMsg::Packet(RecordPacket {
				peer: peer.id,
				stream_id: peer.stream_id,
				codec: c,
				seq: *packet.seq_no,
				timestamp: packet.header.timestamp,
				marker: packet.header.marker,
				payload: packet.payload.clone(),
			}));
		}
	}
	let Some(room) = rooms.get(&peer.stream_id) else { return };
	if room.viewers.is_empty() {
		return;
	}
	let rid = publisher.layers.get(&ssrc).and_then(|l| l.rid);
	jobs.push_back(Job::Forward(Box::new(Forward {
		stream_id: peer.stream_id,
		epoch: publisher.epoch,
		kind,
		params,
		layer: rid,
		keyframe,
		seq: *packet.seq_no,
		timestamp: packet.header.timestamp,
		marker: packet.header.marker,
		arrival: now,
		audio_level: packet.header.ext_vals.audio_level,
		voice_activity: packet.header.ext_vals.voice_activity,
		payload: packet.payload,
	})));
}

fn layer_rid_matches(p: &Publisher, ssrc: Ssrc, first_rid: Option<Rid>) -> bool {
	p.layers.get(&ssrc).is_some_and(|l| l.rid == first_rid)
}

/// Write a batch of forwarded packets to a viewer (its direct sender, or its `Rtc`); returns
/// how many were for it
/// (none while it is not started or paused; not those of another layer, or before the
/// keyframe it waits for, or of a codec it lacks).
fn write_to_viewer(
	peer: &mut Peer,
	batch: &[Forward],
	now: Instant,
	outbox: &mut Outbox,
	socket: &UdpSocket,
) -> u64 {
	let Peer { id, rtc, kind, counters, paused, start_at, direct, .. } = peer;
	let Kind::Viewer(v) = kind else { return 0 };
	let Some(start_at) = *start_at else { return 0 };
	if *paused {
		return 0;
	}
	// Payload types first: matching one needs the `Rtc`, which the writes below borrow.
	for f in batch {
		if v.epoch != f.epoch {
			v.epoch = f.epoch;
			v.pts.clear();
			restart(v);
		}
		let pt = *f.params.pt();
		if !v.pts.iter().any(|(p, _)| *p == pt) {
			let mapped = rtc.codec_config().match_params(f.params).map(|p| *p.pt());
			v.pts.push((pt, mapped));
		}
	}
	let mut count = |len: usize| {
		counters.packets += 1;
		counters.bytes += len as u64;
		counters.window_bytes += len as u64;
	};
	if let Some(d) = direct.as_mut() {
		let mut wrote = 0;
		for f in batch {
			let Some((pt, _, seq, ts)) = route(v, f, start_at, *id) else { continue };
			let packet = direct::Packet {
				video: f.kind == MediaKind::Video,
				pt,
				seq,
				ts,
				marker: f.marker,
				level: f.audio_level.zip(f.voice_activity),
				payload: &f.payload,
			};
			if d.send(&packet, now, outbox, socket) {
				count(f.payload.len());
				wrote += 1;
			}
		}
		d.report(now, outbox, socket);
		return wrote;
	}
	let mut api = rtc.direct_api();
	// The stream looked up last: a batch is mostly one mid's packets.
	let mut tx_mid = None;
	let mut tx = None;
	let mut wrote = 0;
	for f in batch {
		let Some((pt, mid, seq, ts)) = route(v, f, start_at, *id) else { continue };
		if tx_mid != Some(mid) {
			tx = api.stream_tx_by_mid(mid, None);
			tx_mid = Some(mid);
		}
		let Some(tx) = tx.as_mut() else { continue };
		let ext = ExtensionValues {
			audio_level: f.audio_level,
			voice_activity: f.voice_activity,
			..ExtensionValues::default()
		};
		tx.write_rtp(
			RtpWrite::new(pt.into(), SeqNo::from(seq), ts, f.arrival, f.payload.clone())
				.marker(f.marker)
				.ext_vals(ext)
				// Audio is not worth a retransmission; video is.
				.nackable(f.kind == MediaKind::Video),
		);
		count(f.payload.len());
		wrote += 1;
	}
	wrote
}

/// A packet of a batch as this viewer takes it: its payload type, mid, sequence number and
/// timestamp; `None` if it does not (from before it started or from an earlier publisher, of
/// a codec it lacks, or not for it: see [`map_packet`]).
fn route(
	v: &mut Viewer,
	f: &Forward,
	start_at: Instant,
	id: MediaPeerId,
) -> Option<(u8, Mid, u64, u32)> {
	// A batch spanning a new publisher: the old one's packets are not forwarded.
	if f.arrival < start_at || f.epoch != v.epoch {
		return None;
	}
	let pt = v.pts.iter().find(|(p, _)| *p == *f.params.pt()).and_then(|(_, m)| *m)?;
	let (mid, seq, ts) = map_packet(v, f, id)?;
	Some((pt, mid, seq, ts))
}

/// Where a publisher's packet goes in a viewer's streams: its mid, sequence number and
/// timestamp; `None` if the viewer does not take it (another layer, or not the keyframe it
/// waits for).
fn map_packet(v: &mut Viewer, f: &Forward, id: MediaPeerId) -> Option<(Mid, u64, u32)> {
	let out = match f.kind {
		MediaKind::Audio => v.audio.as_mut()?,
		MediaKind::Video => {
			let x = v.video.as_mut()?;
			let target = v.target.unwrap_or(f.layer);
			if x.current != Some(f.layer) || x.out.rebase {
				// Only a keyframe of the wanted layer starts (or switches) the video.
				if f.layer != target || !f.keyframe {
					return None;
				}
				tracing::trace!(peer = id, layer = ?f.layer, "viewer starts on a keyframe");
				x.current = Some(f.layer);
				x.out.rebase = true;
			}
			&mut x.out
		},
	};
	if out.rebase {
		out.rw.rebase(f.seq, f.timestamp, f.arrival);
		out.rebase = false;
	}
	let (seq, ts) = out.rw.map(f.seq, f.timestamp, f.arrival)?;
	Some((out.mid, seq, ts))
}

/// Move a connected viewer to its direct sender, once its handshake's keys and address are
/// known. Until then (and for good if its SRTP profile were one we do not know) str0m sends.
fn start_direct(peer: &mut Peer, crypto: &CryptoProvider) {
	let (Some(keys), Some(dest)) = (peer.keys.as_ref(), peer.media_dest) else { return };
	let Kind::Viewer(v) = &peer.kind else { return };
	let Some(srtp) = SrtpSession::new(crypto, keys) else {
		tracing::warn!(peer = peer.id, "unknown SRTP profile: media goes through str0m");
		peer.wants_direct = false;
		return;
	};
	let audio = v.audio.as_ref().and_then(|o| stream_info(&mut peer.rtc, o.mid, 48_000, false));
	let video = v.video.as_ref().and_then(|o| stream_info(&mut peer.rtc, o.out.mid, 90_000, true));
	tracing::debug!(peer = peer.id, %dest, "viewer on the direct send path");
	peer.keys = None;
	peer.direct = Some(Direct::new(srtp, dest, audio, video, Instant::now()));
}

/// What a viewer negotiated for its stream `mid`.
fn stream_info(rtc: &mut Rtc, mid: Mid, clock_rate: u32, nackable: bool) -> Option<StreamInfo> {
	let exts = rtc.media(mid)?.remote_extmap();
	let (mid_ext, level_ext) = (exts.id_of(Extension::RtpMid), exts.id_of(Extension::AudioLevel));
	let rtx_pts: Vec<(u8, u8)> = rtc
		.codec_config()
		.params()
		.iter()
		.filter_map(|p| p.resend().map(|r| (*p.pt(), *r)))
		.collect();
	let mut api = rtc.direct_api();
	let tx = api.stream_tx_by_mid(mid, None)?;
	let rtx = tx.rtx().map(|ssrc| (*ssrc, rtx_pts));
	let mid = mid.as_bytes().to_vec();
	Some(StreamInfo { mid, ssrc: *tx.ssrc(), clock_rate, mid_ext, level_ext, rtx, nackable })
}
