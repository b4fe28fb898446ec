//! The SFU itself, sans-IO: every `Rtc`, the rooms, routing, gating, keyframes and layers, in
//! a state machine that is handed time and input and puts out datagrams and events.
//!
//! [`Sfu::handle`] takes an [`Input`] (a datagram, a new peer, a close, or only the passing of
//! time) at an instant the caller gives, and writes what results to an [`Output`]; its return
//! is the next deadline, by which it wants a [`Input::Timeout`]. It reads no clock and owns no
//! socket: the driver (`crate::driver`) does both, and tests drive it in simulated time.
//!
//! A datagram goes to the peer that owns its source address, learnt from the ICE binding
//! request that introduced the address (str0m matches its USERNAME to the peer's ufrag). Every
//! mutation of an `Rtc` is followed by draining its output, as str0m requires; what a drain
//! yields for other peers (a packet to forward, a keyframe request) becomes a [`Job`]. Jobs run
//! at the next [`Input::Timeout`], which the driver gives after each burst of datagrams: the
//! packets of a frame that arrived together then reach each viewer in one batch.
//!
//! Forwarding a packet to N viewers clones an `Arc` to its payload N times and takes no lock.
//! A viewer without bandwidth estimation is sent to by its [`Direct`] sender once its DTLS
//! completes (the header written and the packet encrypted here, not queued in its `Rtc`); the
//! others through their `Rtc`.
//!
//! Split by concern: [`keyframes`] (coalescing), [`gop`] (the packets a new viewer starts
//! on), [`layers`] (simulcast choice), `publisher` (incoming RTP), `viewer` (outgoing RTP and
//! the direct path), `stats` (the snapshot and the metrics). A room's publisher may be a pull
//! from another server ([`crate::offer::Offers::pull`]): an `upstream` peer, the same to the
//! rest of the core.

mod gop;
mod keyframes;
pub mod layers;
mod publisher;
mod stats;
mod stun;
mod viewer;

use crate::{
	direct,
	metrics::SfuMetrics,
	output::Output,
	recorder::RecordMsg,
	srtp::{self, TappedKeys},
	CloseReason, Gate, GateState, MediaEvent, MediaPeerId, MediaRole, Publishers, StreamId,
	CONNECT_TIMEOUT, GATE_PERIOD,
};
use gop::Gop;
use publisher::Publisher;
use std::{
	cmp::Reverse,
	collections::{BinaryHeap, HashMap, VecDeque},
	hash::{BuildHasherDefault, Hasher},
	net::SocketAddr,
	sync::Arc,
	time::{Duration, Instant},
};
use str0m::{
	bwe::BweKind,
	config::CryptoProvider,
	media::{KeyframeRequestKind, MediaKind, Mid, Rid},
	net::{Protocol, Receive},
	Event, IceConnectionState, Input as RtcInput, Output as RtcOutput, Rtc,
};
use viewer::Viewer;

/// How often bitrates, layers, the snapshot and the metrics are refreshed.
const STATS_PERIOD: Duration = Duration::from_secs(1);
/// How long after DTLS completes (on our side) a viewer's media starts. The client completes
/// its side a round trip later; webrtc-rs, for one, loses a stream whose first packets come
/// before its receivers are started. The keyframe asked for at the connection comes meanwhile
/// and waits for the start (see `viewer::write_to_viewer`), so the delay is all a new viewer
/// waits for when the publisher answers at once.
const START_DELAY: Duration = Duration::from_millis(200);
/// How often one seat (one paid session) may start on the cached keyframe group: a viewer who
/// reconnects over and over must not draw a burst of up to [`gop::GOP_MAX`] packets each time.
/// Within this, a reconnecting seat asks for a fresh keyframe (coalesced per layer) instead.
pub(crate) const SEED_PER_SEAT: Duration = Duration::from_secs(10);
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
/// A deadline far enough away to mean "none".
const FAR: Duration = Duration::from_secs(3600);

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

/// A peer whose offer was accepted (see [`crate::offer`]), for the core to run.
pub struct NewPeer {
	pub(crate) id: MediaPeerId,
	pub(crate) rtc: Rtc,
	pub(crate) stream_id: StreamId,
	pub(crate) role: MediaRole,
	pub(crate) gate: Arc<dyn Gate>,
	pub(crate) label: String,
	pub(crate) audio: Option<Mid>,
	pub(crate) video: Option<Mid>,
	pub(crate) created: Instant,
	/// Send its media through a [`direct::Direct`] sender once DTLS is done (viewers without
	/// bandwidth estimation, whose `Rtc` was built without sender reports).
	pub(crate) direct: bool,
	/// Its own DTLS certificate (DER): the key its SRTP export is filed under.
	pub(crate) cert: Vec<u8>,
	/// Our ICE username fragment for it (in its answer): how its binding requests are
	/// routed.
	pub(crate) ufrag: String,
	/// See [`crate::PeerSetup::seat`].
	pub(crate) seat: Option<u64>,
	/// A pull from an origin ([`crate::offer::Offers::pull`]): we offered and check the pair,
	/// so the addresses it sends to are learnt from its transmits, not from binding requests.
	pub(crate) upstream: bool,
}

impl NewPeer {
	/// Its id.
	pub fn id(&self) -> MediaPeerId {
		self.id
	}
}

/// What the core is handed.
pub enum Input<'a> {
	/// A datagram that arrived on the media socket.
	Datagram {
		/// Where it came from.
		source: SocketAddr,
		/// Its bytes.
		data: &'a [u8],
	},
	/// Run a new peer.
	Add(Box<NewPeer>),
	/// Close a peer (nothing if it is gone).
	Close(MediaPeerId, CloseReason),
	/// Time passed: fire due timers, forward what the datagrams since the last one queued.
	Timeout,
}

#[derive(Default)]
pub(crate) struct Counters {
	pub packets: u64,
	pub bytes: u64,
	pub window_bytes: u64,
	pub bitrate_bps: u64,
	pub loss: f32,
	pub keyframe_requests: u64,
	pub nacks: u64,
}

pub(crate) enum Kind {
	Publisher(Publisher),
	Viewer(Viewer),
}

pub(crate) struct Peer {
	id: MediaPeerId,
	stream_id: StreamId,
	label: String,
	rtc: Rtc,
	gate: Arc<dyn Gate>,
	created: Instant,
	deadline: Instant,
	connected: bool,
	/// Media is forwarded to a viewer from this instant on (see [`START_DELAY`]).
	start_at: Option<Instant>,
	paused: bool,
	/// `Rtc` failed or disconnected: close at the next sweep.
	dead: bool,
	addrs: Vec<SocketAddr>,
	counters: Counters,
	kind: Kind,
	/// See [`NewPeer::direct`].
	wants_direct: bool,
	/// See [`NewPeer::cert`].
	cert: Vec<u8>,
	/// See [`NewPeer::ufrag`].
	ufrag: String,
	/// See [`NewPeer::seat`].
	seat: Option<u64>,
	/// See [`NewPeer::upstream`].
	upstream: bool,
	/// The SRTP export of its handshake, until its [`direct::Direct`] sender is made.
	keys: Option<TappedKeys>,
	/// Where its media goes: see [`Peer::follow`].
	media_dest: Option<SocketAddr>,
	direct: Option<direct::Direct>,
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
}

/// A stream's forwarding state: its publisher, its viewers and the frame being held.
#[derive(Default)]
struct Fanout {
	/// The packets since the publisher's last keyframe, for viewers who connect.
	gop: Gop,
	publisher: Option<MediaPeerId>,
	viewers: Vec<MediaPeerId>,
	/// Bumped for each new publisher: viewers then restart their streams.
	epoch: u64,
	forwarded: u64,
	coalesced: u64,
	/// Packets of a video frame in progress (and audio that came meanwhile), held until the
	/// frame is complete or [`FRAME_HOLD`] after the first: see [`Sfu::hold`].
	held: Vec<Forward>,
	held_since: Option<Instant>,
	/// When each seat last started on the cached group (see [`SEED_PER_SEAT`]).
	seeded: HashMap<u64, Instant>,
}

/// A packet from a publisher, to go to its room's viewers.
#[derive(Clone)]
pub(crate) struct Forward {
	stream_id: StreamId,
	epoch: u64,
	kind: MediaKind,
	params: str0m::format::PayloadParams,
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

#[cfg(test)]
impl Forward {
	/// A packet for unit tests: VP8 video or Opus audio of stream 1, epoch 1, a 10-byte
	/// payload, 3000 RTP ticks per sequence number.
	pub(crate) fn for_test(
		kind: MediaKind,
		layer: Option<&str>,
		seq: u64,
		keyframe: bool,
		at: Instant,
	) -> Self {
		use str0m::{
			format::{Codec, CodecSpec, FormatParams, PayloadParams},
			media::Frequency,
		};
		let spec = CodecSpec {
			codec: if kind == MediaKind::Video { Codec::Vp8 } else { Codec::Opus },
			clock_rate: Frequency::NINETY_KHZ,
			channels: None,
			format: FormatParams::default(),
		};
		Self {
			stream_id: 1,
			epoch: 1,
			kind,
			params: PayloadParams::new(96.into(), None, spec),
			layer: layer.map(Rid::from),
			keyframe,
			seq,
			timestamp: seq as u32 * 3000,
			marker: true,
			arrival: at,
			audio_level: None,
			voice_activity: None,
			payload: Arc::from(&[0u8; 10][..]),
		}
	}
}

pub(crate) enum Job {
	Forward(Box<Forward>),
	/// Ask the room's publisher for a keyframe on `layer` (`None`: every layer).
	Keyframe {
		stream_id: StreamId,
		layer: Option<Option<Rid>>,
	},
}

/// The SFU's state. See the module documentation.
pub struct Sfu {
	crypto: Arc<CryptoProvider>,
	/// The address announced to clients (str0m matches it against its candidate).
	candidate: SocketAddr,
	/// The instant of the input being handled.
	now: Instant,
	peers: IdMap<Peer>,
	by_addr: HashMap<SocketAddr, MediaPeerId>,
	/// Peers by our ICE username fragment: a binding request from a new address names its
	/// peer, found in one lookup whatever the number of peers.
	by_ufrag: HashMap<String, MediaPeerId>,
	/// Who holds each seat of each stream (see [`crate::PeerSetup::seat`]).
	seats: HashMap<(StreamId, u64), MediaPeerId>,
	rooms: HashMap<StreamId, Fanout>,
	timers: BinaryHeap<Reverse<(Instant, MediaPeerId)>>,
	jobs: VecDeque<Job>,
	publishers: Publishers,
	metrics: SfuMetrics,
	recording: bool,
	/// See [`Sfu::with_keyframe_cache`].
	keyframe_cache: Duration,
	next_gate: Instant,
	next_stats: Instant,
	forwarded: u64,
	forwarded_reported: u64,
	unrouted: u64,
	/// Streams whose per-room metrics were set at the last refresh (to remove them after).
	metric_streams: Vec<StreamId>,
}

impl Sfu {
	/// An SFU with no peers. `candidate` is the address announced in answers, `crypto` the
	/// provider the peers' `Rtc`s were built with ([`crate::offer::crypto`]), `publishers` the
	/// registry [`crate::offer`] reads; `recording` puts publishers' video out as
	/// [`Output::record`].
	pub fn new(
		now: Instant,
		candidate: SocketAddr,
		crypto: Arc<CryptoProvider>,
		publishers: Publishers,
		metrics: SfuMetrics,
		recording: bool,
	) -> Self {
		Self {
			crypto,
			candidate,
			now,
			peers: IdMap::default(),
			by_addr: HashMap::new(),
			by_ufrag: HashMap::new(),
			seats: HashMap::new(),
			rooms: HashMap::new(),
			timers: BinaryHeap::new(),
			jobs: VecDeque::new(),
			publishers,
			metrics,
			recording,
			keyframe_cache: Duration::ZERO,
			next_gate: now + GATE_PERIOD,
			next_stats: now + STATS_PERIOD,
			forwarded: 0,
			forwarded_reported: 0,
			unrouted: 0,
			metric_streams: Vec::new(),
		}
	}

	/// Keep each room's packets since its last keyframe, and start a viewer who connects on
	/// them while that keyframe is at most `max_age` old, instead of asking the publisher for
	/// one (see [`gop`]). Zero (the default) keeps none.
	pub fn with_keyframe_cache(mut self, max_age: Duration) -> Self {
		self.keyframe_cache = max_age;
		self
	}

	/// Media peers running.
	pub fn peer_count(&self) -> usize {
		self.peers.len()
	}

	/// Handle `input` at `now` (never earlier than the last call's), writing what results to
	/// `out`; returns the next deadline, by which the caller should hand an
	/// [`Input::Timeout`].
	pub fn handle(&mut self, now: Instant, input: Input, out: &mut dyn Output) -> Instant {
		self.now = self.now.max(now);
		match input {
			Input::Datagram { source, data } => self.on_datagram(data, source, out),
			Input::Add(new) => self.add_peer(*new, out),
			Input::Close(id, reason) => self.close_peer(id, reason, out),
			Input::Timeout => {
				self.fire_timers(out);
				self.release_held_frames(out);
				if self.now >= self.next_gate {
					self.sweep(out);
				}
				self.run_jobs(out);
			},
		}
		self.deadline()
	}

	/// Close every peer (the server is stopping).
	pub fn shutdown(&mut self, now: Instant, out: &mut dyn Output) {
		self.now = self.now.max(now);
		let ids: Vec<_> = self.peers.keys().copied().collect();
		for id in ids {
			self.close_peer(id, CloseReason::Shutdown, out);
		}
	}

	/// The next instant anything is due: a gate sweep, a held frame's release, or a peer's
	/// timer.
	fn deadline(&mut self) -> Instant {
		if !self.jobs.is_empty() {
			return self.now;
		}
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
		until
	}

	fn add_peer(&mut self, new: NewPeer, out: &mut dyn Output) {
		let NewPeer {
			id,
			rtc,
			stream_id,
			role,
			gate,
			label,
			audio,
			video,
			created,
			direct,
			cert,
			ufrag,
			seat,
			upstream,
		} = new;
		let keyframe_cache = self.keyframe_cache;
		let room = self
			.rooms
			.entry(stream_id)
			.or_insert_with(|| Fanout { gop: Gop::new(keyframe_cache), ..Fanout::default() });
		let mut replaced = seat.and_then(|s| self.seats.insert((stream_id, s), id));
		let kind = match role {
			MediaRole::Publisher => {
				replaced = replaced.or(room.publisher.replace(id));
				room.epoch += 1;
				room.gop.clear();
				Kind::Publisher(Publisher::new(room.epoch))
			},
			MediaRole::Viewer => {
				room.viewers.push(id);
				Kind::Viewer(Viewer::new(audio, video, room.epoch))
			},
		};
		let peer = Peer {
			id,
			stream_id,
			label,
			rtc,
			gate,
			created,
			deadline: created,
			connected: false,
			start_at: None,
			paused: false,
			dead: false,
			addrs: Vec::new(),
			counters: Counters::default(),
			kind,
			wants_direct: direct,
			cert,
			ufrag: ufrag.clone(),
			seat,
			upstream,
			keys: None,
			media_dest: None,
			direct: None,
		};
		self.metrics.media_peers.with_label_values(&[role.as_str()]).inc();
		self.peers.insert(id, peer);
		self.by_ufrag.insert(ufrag, id);
		self.timers.push(Reverse((created, id)));
		if let Some(old) = replaced {
			self.close_peer(old, CloseReason::Replaced, out);
		}
	}

	fn close_peer(&mut self, id: MediaPeerId, reason: CloseReason, out: &mut dyn Output) {
		let Some(mut peer) = self.peers.remove(&id) else { return };
		peer.rtc.disconnect();
		srtp::forget(&peer.cert);
		if self.by_ufrag.get(&peer.ufrag) == Some(&id) {
			self.by_ufrag.remove(&peer.ufrag);
		}
		if let Some(seat) = peer.seat {
			let key = (peer.stream_id, seat);
			if self.seats.get(&key) == Some(&id) {
				self.seats.remove(&key);
			}
		}
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
			if self.recording {
				out.record(RecordMsg::End(id));
			}
		}
		self.metrics.media_peers.with_label_values(&[peer.role().as_str()]).dec();
		tracing::debug!(
			peer = id,
			stream = peer.stream_id,
			reason = reason.as_str(),
			"media peer closed"
		);
		out.event(id, MediaEvent::Closed(reason));
	}

	fn fire_timers(&mut self, out: &mut dyn Output) {
		let now = self.now;
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
			peer.deadline = now + FAR;
			if let Err(e) = peer.rtc.handle_input(RtcInput::Timeout(now)) {
				tracing::debug!(peer = id, "media timeout handling failed: {e}");
				peer.dead = true;
			}
			self.drain(id, out);
		}
	}

	fn on_datagram(&mut self, data: &[u8], source: SocketAddr, out: &mut dyn Output) {
		let Ok(contents) = data.try_into() else {
			self.unrouted += 1;
			return;
		};
		let input = RtcInput::Receive(
			self.now,
			Receive { proto: Protocol::Udp, source, destination: self.candidate, contents },
		);
		let id = match self.by_addr.get(&source) {
			Some(id) if self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)) => *id,
			// Only an ICE binding request (first byte 0 or 1, RFC 7983) introduces a new
			// address, and only for the peer its USERNAME names (our ufrag first), if its
			// integrity checks: one lookup and at most one HMAC, however many peers there are
			// and whatever a stranger sends. Anything else from an unknown source is dropped.
			_ if data.first().is_some_and(|b| *b < 2) => {
				let named = stun::local_ufrag(data).and_then(|u| self.by_ufrag.get(u)).copied();
				let Some(id) =
					named.filter(|id| self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)))
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
			d.on_rtcp(data, self.now, out);
		}
		if let Err(e) = peer.rtc.handle_input(input) {
			tracing::debug!(peer = id, "media input refused: {e}");
			peer.dead = true;
		}
		self.drain(id, out);
	}

	/// Drain a peer's output after a mutation: send its datagrams, turn its events into
	/// state changes and jobs, and re-arm its timer. A viewer whose handshake completed in
	/// it moves to its direct sender.
	fn drain(&mut self, id: MediaPeerId, out: &mut dyn Output) {
		self.drain_rtc(id, out);
		let Some(peer) = self.peers.get_mut(&id) else { return };
		if peer.wants_direct && peer.direct.is_none() && peer.connected {
			// Filed under this peer's own certificate: no other peer's drain can take them.
			if peer.keys.is_none() {
				peer.keys = srtp::take_keys(&peer.cert);
			}
			viewer::start_direct(peer, &self.crypto, self.now);
		}
	}

	fn drain_rtc(&mut self, id: MediaPeerId, out: &mut dyn Output) {
		let Self { peers, jobs, timers, rooms, now, recording, by_addr, .. } = self;
		let now = *now;
		let Some(peer) = peers.get_mut(&id) else { return };
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
				RtcOutput::Timeout(t)
					if t <= now && progress && immediate < MAX_IMMEDIATE_TIMEOUTS =>
				{
					immediate += 1;
					progress = false;
					if let Err(e) = peer.rtc.handle_input(RtcInput::Timeout(now)) {
						tracing::debug!(peer = id, "media timeout handling failed: {e}");
						peer.dead = true;
						return;
					}
				},
				RtcOutput::Timeout(t) => {
					if t != peer.deadline {
						peer.deadline = t;
						timers.push(Reverse((t, id)));
					}
					return;
				},
				RtcOutput::Transmit(t) => {
					progress = true;
					// An origin answers our checks from where we send them; it sends no
					// binding request of its own to introduce its address.
					if peer.upstream && !peer.addrs.contains(&t.destination) {
						peer.addrs.push(t.destination);
						by_addr.insert(t.destination, id);
					}
					// Not STUN (RFC 7983: its first byte is 0–3): DTLS or RTCP, which str0m
					// sends on the nominated pair only.
					if t.contents.first().is_some_and(|b| *b > 3) {
						peer.follow(t.destination);
					}
					out.transmit(t.destination, t.contents.into());
				},
				RtcOutput::Event(e) => {
					progress = true;
					on_event(peer, e, now, jobs, &mut *rooms, *recording, out);
				},
			}
		}
	}

	/// Run the queued jobs in order.
	fn run_jobs(&mut self, out: &mut dyn Output) {
		while let Some(job) = self.jobs.pop_front() {
			match job {
				Job::Forward(f) => self.hold(*f, out),
				Job::Keyframe { stream_id, layer } => self.request_keyframe(stream_id, layer, out),
			}
		}
	}

	/// Queue a publisher's packet for its room, and forward what is queued once a video frame
	/// is complete (its marker packet came), or at once if no frame is in progress. Each
	/// viewer then takes the frame's packets together (its direct sender, or its `Rtc`, drained
	/// once), and they leave as one GSO message: the per-viewer costs are paid per frame, not
	/// per packet.
	fn hold(&mut self, f: Forward, out: &mut dyn Output) {
		let stream_id = f.stream_id;
		let Some(room) = self.rooms.get_mut(&stream_id) else { return };
		room.held_since.get_or_insert(f.arrival);
		room.held.push(f);
		// A frame is in progress while the last video packet queued is not its frame's last.
		let in_progress =
			room.held.iter().rev().find(|h| h.kind == MediaKind::Video).is_some_and(|v| !v.marker);
		if !in_progress || room.held.len() >= MAX_HELD {
			self.release(stream_id, out);
		}
	}

	/// Forward the packets held for rooms whose frame has waited [`FRAME_HOLD`].
	fn release_held_frames(&mut self, out: &mut dyn Output) {
		let now = self.now;
		let due = |r: &Fanout| r.held_since.is_some_and(|t| now >= t + FRAME_HOLD);
		// Rarely more than one room is due: find them one at a time rather than collect.
		while let Some(stream_id) = self.rooms.iter().find(|(_, r)| due(r)).map(|(s, _)| *s) {
			self.release(stream_id, out);
		}
	}

	fn release(&mut self, stream_id: StreamId, out: &mut dyn Output) {
		let Some(room) = self.rooms.get_mut(&stream_id) else { return };
		let mut batch = std::mem::take(&mut room.held);
		room.held_since = None;
		// Kept as released, not as held: a viewer seeded with the group then gets each packet
		// once, from the group or from a later batch.
		for f in &batch {
			room.gop.push(f);
		}
		self.forward(stream_id, &batch, out);
		// Keep the allocation for the next frame.
		batch.clear();
		if let Some(room) = self.rooms.get_mut(&stream_id) {
			if room.held.is_empty() {
				room.held = batch;
			}
		}
	}

	fn forward(&mut self, stream_id: StreamId, batch: &[Forward], out: &mut dyn Output) {
		let Some(room) = self.rooms.get(&stream_id) else { return };
		let mut sent = 0u64;
		let now = self.now;
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
			let wrote = viewer::write_to_viewer(peer, batch, now, out);
			sent += wrote;
			// A direct viewer's `Rtc` was not touched: nothing to drain.
			if wrote > 0 && !direct {
				self.drain(id, out);
			}
		}
		self.forwarded += sent;
		if let Some(room) = self.rooms.get_mut(&stream_id) {
			room.forwarded += sent;
		}
	}

	/// Ask `stream_id`'s publisher for a keyframe on `layer` (`None`: on every layer), as
	/// its [`KeyframeLimiter`] allows.
	fn request_keyframe(
		&mut self,
		stream_id: StreamId,
		layer: Option<Option<Rid>>,
		out: &mut dyn Output,
	) {
		let now = self.now;
		let Some(room) = self.rooms.get_mut(&stream_id) else { return };
		let Some(pid) = room.publisher else { return };
		let Some(peer) = self.peers.get_mut(&pid) else { return };
		let Kind::Publisher(publisher) = &mut peer.kind else { return };
		let mut sent = false;
		for (mid, rid) in publisher.video_layers(layer) {
			if !publisher.keyframes.admit(rid, now) {
				room.coalesced += 1;
				self.metrics.media_keyframe_requests.with_label_values(&["coalesced"]).inc();
				continue;
			}
			if let Some(rx) = peer.rtc.direct_api().stream_rx_by_mid(mid, rid) {
				tracing::trace!(publisher = pid, ?rid, "keyframe requested");
				rx.request_keyframe(KeyframeRequestKind::Pli);
				publisher.keyframes.sent(rid, now);
				peer.counters.keyframe_requests += 1;
				self.metrics.media_keyframe_requests.with_label_values(&["sent"]).inc();
				sent = true;
			}
		}
		if sent {
			// str0m turns pending requests into RTCP when time advances.
			if let Err(e) = peer.rtc.handle_input(RtcInput::Timeout(now)) {
				tracing::debug!(peer = pid, "keyframe request failed: {e}");
				peer.dead = true;
			}
			self.drain(pid, out);
		}
	}

	/// Every [`GATE_PERIOD`]: apply gates, drop dead peers; every [`STATS_PERIOD`]: refresh
	/// bitrates, layers, the snapshot and the metrics.
	fn sweep(&mut self, out: &mut dyn Output) {
		let now = self.now;
		self.next_gate = now + GATE_PERIOD;
		let mut close = Vec::new();
		let mut keyframes = Vec::new();
		for peer in self.peers.values_mut() {
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
						out.event(peer.id, MediaEvent::Paused);
					}
				},
				GateState::Open => {
					if peer.paused {
						peer.paused = false;
						if let Kind::Viewer(v) = &mut peer.kind {
							v.restart();
							keyframes.push(peer.stream_id);
						}
						out.event(peer.id, MediaEvent::Resumed);
					}
				},
			}
		}
		for (id, reason) in close {
			self.close_peer(id, reason, out);
		}
		for stream_id in keyframes {
			self.jobs.push_back(Job::Keyframe { stream_id, layer: None });
		}
		// Deferred keyframe requests whose interval has passed.
		for peer in self.peers.values_mut() {
			let Kind::Publisher(p) = &mut peer.kind else { continue };
			for rid in p.keyframes.take_due(now) {
				self.jobs.push_back(Job::Keyframe { stream_id: peer.stream_id, layer: Some(rid) });
			}
		}
		self.run_jobs(out);
		if now >= self.next_stats {
			self.next_stats = now + STATS_PERIOD;
			self.refresh_stats(out);
		}
	}
}

/// The cached group a viewer in `seat` starts on, if it is young and the seat did not start on
/// one within [`SEED_PER_SEAT`].
fn seed_for(room: &mut Fanout, seat: Option<u64>, now: Instant) -> Option<&[Forward]> {
	let group = room.gop.fresh(now)?;
	if let Some(seat) = seat {
		room.seeded.retain(|_, at| now.saturating_duration_since(*at) < SEED_PER_SEAT);
		if room.seeded.contains_key(&seat) {
			return None;
		}
		room.seeded.insert(seat, now);
	}
	Some(group)
}

/// What a peer's `Rtc` reported.
fn on_event(
	peer: &mut Peer,
	event: Event,
	now: Instant,
	jobs: &mut VecDeque<Job>,
	rooms: &mut HashMap<StreamId, Fanout>,
	recording: bool,
	out: &mut dyn Output,
) {
	match event {
		Event::Connected => {
			peer.connected = true;
			peer.start_at = Some(now + START_DELAY);
			if let Kind::Viewer(v) = &mut peer.kind {
				let room = rooms.get_mut(&peer.stream_id);
				let group = room.and_then(|r| seed_for(r, peer.seat, now));
				match group {
					// A recent keyframe and what followed it: the viewer starts on them.
					Some(group) => v.seed(group, &mut peer.rtc),
					// Otherwise a fresh keyframe rather than wait for the next; asked now, it
					// comes while the start is delayed, and waits for it.
					None => {
						jobs.push_back(Job::Keyframe { stream_id: peer.stream_id, layer: None })
					},
				}
			}
			out.event(peer.id, MediaEvent::Connected);
		},
		Event::IceConnectionStateChange(IceConnectionState::Disconnected) => peer.dead = true,
		Event::PeerStats(s) => {
			if let Some(pair) = s.selected_candidate_pair {
				peer.follow(pair.remote.addr);
			}
		},
		Event::RtpPacket(packet) => {
			// Taken for viewers, or for the group a viewer would start on.
			let wanted = rooms
				.get(&peer.stream_id)
				.is_some_and(|r| !r.viewers.is_empty() || r.gop.enabled());
			publisher::on_rtp(peer, packet, wanted, jobs, recording, out)
		},
		Event::KeyframeRequest(_) => {
			if let Kind::Viewer(v) = &peer.kind {
				peer.counters.keyframe_requests += 1;
				jobs.push_back(Job::Keyframe {
					stream_id: peer.stream_id,
					layer: Some(v.current_layer().flatten()),
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
		Kind::Viewer(v) => v.video_mid() == Some(mid),
		Kind::Publisher(p) => p.layers.values().any(|l| l.video && l.mid == mid),
	}
}
