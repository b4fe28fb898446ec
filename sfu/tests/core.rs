//! The SFU's core in simulated time, str0m style: no socket, no thread, no wall-clock wait.
//! Clients are str0m `Rtc`s in RTP mode; a [`Net`] carries datagrams between them and the
//! core at instants the test chooses, so each test runs seconds of media in milliseconds and
//! cannot flake on a loaded machine.

mod common;

use common::Switch;
use std::{
	collections::{HashMap, HashSet},
	net::SocketAddr,
	sync::Arc,
	time::{Duration, Instant},
};
use str0m::{
	change::{SdpAnswer, SdpPendingOffer},
	format::Codec,
	media::{Direction, KeyframeRequestKind, MediaKind, Mid},
	net::{Protocol, Receive},
	rtp::{RtpWrite, SeqNo},
	Candidate, Event, Input as RtcInput, Output as RtcOutput, Rtc,
};
use vilokanam_media_bots::stun;
use vilokanam_sfu::{
	offer::{self, Offers},
	CloseReason, Collected, Gate, Input, MediaError, MediaEvent, MediaPeerId, MediaRole, OpenGate,
	PeerSetup, Publishers, Sfu, SfuMetrics, CONNECT_TIMEOUT, KEYFRAME_REQUEST_INTERVAL,
};

const STREAM: u64 = 7;
/// One step of simulated time.
const TICK: Duration = Duration::from_millis(5);
/// 30 frames per second.
const FRAME: Duration = Duration::from_millis(33);

/// A client: a str0m `Rtc` at an address of its own.
struct Client {
	rtc: Rtc,
	addr: SocketAddr,
	mid: Mid,
	id: MediaPeerId,
	/// Whether its datagrams reach the core (a client that goes silent: `false`).
	online: bool,
	connected: bool,
	/// Video RTP sequence numbers received, in order of arrival, with the keyframe flag.
	received: Vec<(u64, bool)>,
	keyframe_requests: usize,
	/// The last STUN message it sent (an ICE binding request, for replays).
	last_stun: Option<Vec<u8>>,
}

/// The core, its clients, the clock and the wire between them.
struct Net {
	now: Instant,
	sfu: Sfu,
	offers: Offers,
	out: Collected,
	clients: Vec<Client>,
	next_id: MediaPeerId,
	next_port: u16,
	/// Datagrams to drop on their way to a client: (client, nth datagram it would get).
	drop_to: Option<(usize, usize)>,
	delivered: HashMap<usize, usize>,
	/// The publisher's next sequence number and RTP time.
	seq: u64,
	rtp_time: u32,
}

const CORE: &str = "10.0.0.1:4000";

impl Net {
	fn new() -> Self {
		Self::with_keyframe_cache(Duration::ZERO)
	}

	/// A core whose rooms keep the packets since the last keyframe for `max_age`.
	fn with_keyframe_cache(max_age: Duration) -> Self {
		let now = Instant::now();
		let candidate: SocketAddr = CORE.parse().unwrap();
		let offers = Offers {
			crypto: offer::crypto(),
			candidate,
			full_ice: false,
			publishers: Publishers::default(),
		};
		let sfu = offers.sfu(now, SfuMetrics::unregistered(), false).with_keyframe_cache(max_age);
		Self {
			now,
			sfu,
			offers,
			out: Collected::default(),
			clients: Vec::new(),
			next_id: 1,
			next_port: 5000,
			drop_to: None,
			delivered: HashMap::new(),
			seq: 1000,
			rtp_time: 90_000,
		}
	}

	/// A client offers as `role`; its peer joins the core. Returns the client's index.
	fn join(&mut self, role: MediaRole, gate: Arc<dyn Gate>) -> usize {
		self.join_seated(role, gate, None)
	}

	/// As [`Net::join`], in `seat`.
	fn join_seated(&mut self, role: MediaRole, gate: Arc<dyn Gate>, seat: Option<u64>) -> usize {
		self.try_join(role, gate, seat, false).unwrap()
	}

	/// As [`Net::join_seated`]; a publisher taking over from a connected one with `take_over`.
	fn try_join(
		&mut self,
		role: MediaRole,
		gate: Arc<dyn Gate>,
		seat: Option<u64>,
		take_over: bool,
	) -> Result<usize, MediaError> {
		let addr: SocketAddr = format!("10.0.0.2:{}", self.next_port).parse().unwrap();
		self.next_port += 1;
		let mut rtc = Rtc::builder().set_rtp_mode(true).build(self.now);
		rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
		let dir = match role {
			MediaRole::Publisher => Direction::SendOnly,
			MediaRole::Viewer => Direction::RecvOnly,
		};
		let mut api = rtc.sdp_api();
		let mid = api.add_media(MediaKind::Video, dir, None, None, None);
		let (offer, pending): (_, SdpPendingOffer) = api.apply().unwrap();
		let id = self.next_id;
		self.next_id += 1;
		let label = String::new();
		let setup =
			PeerSetup { stream_id: STREAM, role, gate, events: None, label, seat, take_over };
		let (peer, answer) = self.offers.accept(id, &offer.to_sdp_string(), &setup, self.now)?;
		rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).unwrap();
		self.sfu.handle(self.now, Input::Add(Box::new(peer)), &mut self.out);
		self.clients.push(Client {
			rtc,
			addr,
			mid,
			id,
			online: true,
			connected: false,
			received: Vec::new(),
			keyframe_requests: 0,
			last_stun: None,
		});
		Ok(self.clients.len() - 1)
	}

	/// Carry everything pending both ways, then advance the clock one tick.
	fn step(&mut self) {
		for _ in 0..8 {
			let mut moved = false;
			for i in 0..self.clients.len() {
				moved |= self.drain_client(i);
			}
			self.sfu.handle(self.now, Input::Timeout, &mut self.out);
			while let Some((to, datagram)) = self.out.datagrams.pop_front() {
				moved = true;
				self.deliver(to, datagram);
			}
			if !moved {
				break;
			}
		}
		self.now += TICK;
		for i in 0..self.clients.len() {
			// A client cut off fails its handshake in time: that is its business.
			let _ = self.clients[i].rtc.handle_input(RtcInput::Timeout(self.now));
			self.drain_client(i);
		}
		self.sfu.handle(self.now, Input::Timeout, &mut self.out);
	}

	fn run(&mut self, d: Duration) {
		let until = self.now + d;
		while self.now < until {
			self.step();
		}
	}

	/// Poll client `i` until it waits: its datagrams go to the core, its events are noted.
	fn drain_client(&mut self, i: usize) -> bool {
		let mut moved = false;
		loop {
			let c = &mut self.clients[i];
			let Ok(output) = c.rtc.poll_output() else { return moved };
			match output {
				RtcOutput::Timeout(_) => return moved,
				RtcOutput::Transmit(t) => {
					moved = true;
					if t.contents.first().is_some_and(|b| *b < 2) {
						c.last_stun = Some(t.contents.to_vec());
					}
					if c.online {
						let source = c.addr;
						let input = Input::Datagram { source, data: &t.contents };
						self.sfu.handle(self.now, input, &mut self.out);
					}
				},
				RtcOutput::Event(e) => match e {
					Event::Connected => c.connected = true,
					Event::RtpPacket(p) => {
						let keyframe = p.payload.get(1).is_some_and(|b| b & 1 == 0);
						c.received.push((*p.seq_no, keyframe));
					},
					Event::KeyframeRequest(_) => c.keyframe_requests += 1,
					_ => {},
				},
			}
		}
	}

	fn deliver(&mut self, to: SocketAddr, datagram: Vec<u8>) {
		let Some(i) = self.clients.iter().position(|c| c.addr == to) else { return };
		let n = self.delivered.entry(i).or_default();
		*n += 1;
		if self.drop_to == Some((i, *n)) {
			return;
		}
		let c = &mut self.clients[i];
		let receive = Receive {
			proto: Protocol::Udp,
			source: CORE.parse().unwrap(),
			destination: c.addr,
			contents: datagram.as_slice().try_into().unwrap(),
		};
		c.rtc.handle_input(RtcInput::Receive(self.now, receive)).unwrap();
		// str0m's contract: poll until it waits after every input.
		self.drain_client(i);
	}

	/// The publisher (client `p`) sends one frame of VP8: a keyframe or a delta frame, in
	/// three packets.
	fn send_frame(&mut self, p: usize, keyframe: bool) {
		let c = &mut self.clients[p];
		let pt = c
			.rtc
			.codec_config()
			.params()
			.iter()
			.find(|x| x.spec().codec == Codec::Vp8)
			.map(|x| x.pt())
			.unwrap();
		let now = self.now;
		let mid = c.mid;
		let mut api = c.rtc.direct_api();
		let tx = api.stream_tx_by_mid(mid, None).expect("the publisher's stream");
		for k in 0..3u8 {
			// VP8 payload descriptor (S bit on the first), then the frame tag: P = 0 is a key
			// frame.
			let mut payload = vec![if k == 0 { 0x10 } else { 0x00 }];
			payload.push(if keyframe { 0x00 } else { 0x01 });
			payload.extend_from_slice(&[0x9d, 0x01, 0x2a]);
			payload.resize(600, k);
			tx.write_rtp(
				RtpWrite::new(pt, SeqNo::from(self.seq), self.rtp_time, now, payload)
					.marker(k == 2)
					.nackable(true),
			);
			self.seq += 1;
		}
		self.rtp_time = self.rtp_time.wrapping_add(3000);
	}

	/// `frames` frames, one every [`FRAME`], a keyframe where `keyframe(n)` says.
	fn stream(&mut self, p: usize, frames: usize, keyframe: impl Fn(usize) -> bool) {
		for n in 0..frames {
			self.send_frame(p, keyframe(n));
			self.run(FRAME);
		}
	}

	fn events_of(&self, i: usize) -> Vec<MediaEvent> {
		let id = self.clients[i].id;
		self.out.events.iter().filter(|(p, _)| *p == id).map(|(_, e)| *e).collect()
	}

	/// A publisher and `viewers` viewers, all connected, the viewers started (media flows
	/// from a first keyframe).
	fn room(viewers: usize) -> (Self, usize, Vec<usize>) {
		let mut net = Net::new();
		let p = net.join(MediaRole::Publisher, Arc::new(OpenGate));
		let vs: Vec<usize> =
			(0..viewers).map(|_| net.join(MediaRole::Viewer, Arc::new(OpenGate))).collect();
		net.run(Duration::from_millis(500));
		assert!(net.clients.iter().all(|c| c.connected), "ICE and DTLS complete");
		(net, p, vs)
	}
}

#[test]
fn each_client_is_routed_to_its_own_peer_by_its_ice_username() {
	let mut net = Net::new();
	let a = net.join(MediaRole::Viewer, Arc::new(OpenGate));
	let b = net.join(MediaRole::Viewer, Arc::new(OpenGate));
	// Something that is not an ICE binding request, from an address no peer owns: dropped
	// without a search, and counted.
	let stranger: SocketAddr = "10.9.9.9:9".parse().unwrap();
	let rtp_like = [0x80u8, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xde, 0xad];
	net.sfu.handle(net.now, Input::Datagram { source: stranger, data: &rtp_like }, &mut net.out);
	assert!(net.out.datagrams.is_empty(), "nothing answers a stranger");
	net.run(Duration::from_millis(500));
	assert!(net.clients[a].connected && net.clients[b].connected);
	// Each was answered at its own address only: the core learnt each address from the
	// ufrag in that client's binding requests.
	assert_eq!(net.events_of(a), vec![MediaEvent::Connected]);
	assert_eq!(net.events_of(b), vec![MediaEvent::Connected]);
	assert!(net.delivered[&a] > 0 && net.delivered[&b] > 0);
	// Binding requests from new addresses: one naming no peer (a random username, as a flood
	// would send) is dropped; a copy of A's, from elsewhere, reaches A (its ufrag names it and
	// its integrity checks), which answers there.
	let forged = stun::binding_request("nosuchufrag:x", [9; 12]);
	let parsed: Result<str0m::net::DatagramRecv, _> = forged.as_slice().try_into();
	assert!(parsed.is_ok(), "str0m takes it as STUN: it reaches the routing");
	let flooder: SocketAddr = "10.9.9.8:8".parse().unwrap();
	net.sfu.handle(net.now, Input::Datagram { source: flooder, data: &forged }, &mut net.out);
	assert!(net.out.datagrams.is_empty(), "no answer to an unknown username");
	let replay = net.clients[a].last_stun.clone().expect("A's binding request");
	let elsewhere: SocketAddr = "10.9.9.7:7".parse().unwrap();
	net.sfu.handle(net.now, Input::Datagram { source: elsewhere, data: &replay }, &mut net.out);
	assert!(
		net.out.datagrams.iter().any(|(to, _)| *to == elsewhere),
		"A's peer answered at the new address"
	);
	net.out.datagrams.clear();
	net.run(Duration::from_secs(1));
	let snapshot = net.out.snapshot.clone().expect("a snapshot each second");
	assert_eq!(snapshot.unrouted_datagrams, 2, "the stranger's and the flooder's");
	assert_eq!(snapshot.peers, 2);
}

#[test]
fn media_flows_from_a_keyframe_and_keyframe_requests_are_coalesced_to_one_per_second() {
	let mut net = Net::new();
	let p = net.join(MediaRole::Publisher, Arc::new(OpenGate));
	net.run(Duration::from_millis(500));
	net.stream(p, 3, |_| false);
	// Two viewers join while delta frames flow: they wait for a keyframe, and their two
	// starts asked the publisher for one, once.
	let vs = [
		net.join(MediaRole::Viewer, Arc::new(OpenGate)),
		net.join(MediaRole::Viewer, Arc::new(OpenGate)),
	];
	net.stream(p, 20, |_| false);
	assert!(vs.iter().all(|v| net.clients[*v].connected));
	assert!(vs.iter().all(|v| net.clients[*v].received.is_empty()), "no start without a key");
	assert_eq!(net.clients[p].keyframe_requests, 1, "two starts, one request");
	net.stream(p, 5, |n| n == 0);
	for v in &vs {
		let got = &net.clients[*v].received;
		assert_eq!(got.len(), 15, "every packet from the keyframe on");
		assert!(got[0].1, "starting with the keyframe");
	}
	// Both viewers ask for a keyframe every 100 ms for two seconds (PLI): the publisher is
	// asked at most once per second.
	let asked_before = net.clients[p].keyframe_requests;
	let start = net.now;
	while net.now < start + 2 * KEYFRAME_REQUEST_INTERVAL {
		for v in &vs {
			let c = &mut net.clients[*v];
			let mid = c.mid;
			if let Some(rx) = c.rtc.direct_api().stream_rx_by_mid(mid, None) {
				rx.request_keyframe(KeyframeRequestKind::Pli);
			}
		}
		net.stream(p, 3, |_| false);
	}
	let asked = net.clients[p].keyframe_requests - asked_before;
	assert!((1..=2).contains(&asked), "40 requests became {asked}");
	net.run(KEYFRAME_REQUEST_INTERVAL);
	assert!(net.clients[p].keyframe_requests - asked_before <= 3, "one deferred, sent later");
}

/// Time to first frame: a new viewer is asked a keyframe for as it connects, not when its
/// media starts (200 ms later); the keyframe the publisher sends at once waits for the start,
/// with the frames after it, rather than being dropped for one a second later.
#[test]
fn a_new_viewer_starts_on_the_keyframe_asked_for_when_it_connected() {
	let (mut net, p, _) = Net::room(0);
	net.stream(p, 3, |n| n == 0);
	let asked = net.clients[p].keyframe_requests;
	let v = net.join(MediaRole::Viewer, Arc::new(OpenGate));
	while !net.events_of(v).contains(&MediaEvent::Connected) {
		net.stream(p, 1, |_| false);
	}
	let connected_at = net.now;
	net.run(Duration::from_millis(10));
	assert_eq!(net.clients[p].keyframe_requests, asked + 1, "asked as the viewer connected");
	// The publisher answers at once; the frames come before the viewer's start.
	net.stream(p, 4, |n| n == 0);
	assert!(net.now < connected_at + Duration::from_millis(200));
	assert!(net.clients[v].received.is_empty(), "nothing before the start");
	net.stream(p, 4, |_| false);
	let got = &net.clients[v].received;
	assert_eq!(got.len(), 8 * 3, "every packet from the keyframe on: {got:?}");
	assert!(got[0].1, "starting with the keyframe");
	let seqs: Vec<u64> = got.iter().map(|r| r.0).collect();
	assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "in order, no gap: {seqs:?}");
	assert_eq!(net.clients[p].keyframe_requests, asked + 1, "and asked once");
}

/// With the keyframe cache: a viewer who connects while the last keyframe is young starts on
/// it and the frames since, sent at its start, and the publisher is not asked for another
/// (a join storm then costs no keyframes); once it is older than the cache allows, a new
/// viewer asks, as without the cache.
#[test]
fn a_new_viewer_starts_on_the_cached_keyframe_while_young_and_asks_once_it_is_old() {
	let mut net = Net::with_keyframe_cache(Duration::from_millis(1000));
	let p = net.join(MediaRole::Publisher, Arc::new(OpenGate));
	net.run(Duration::from_millis(500));
	// Before any viewer: delta frames (not kept), then a keyframe and what follows (kept):
	// more packets than one write sends a starting viewer, so the rest follow in order.
	net.stream(p, 2, |_| false);
	net.stream(p, 22, |n| n == 0);
	let asked = net.clients[p].keyframe_requests;
	let v = net.join(MediaRole::Viewer, Arc::new(OpenGate));
	let mut frames = 22;
	while !net.events_of(v).contains(&MediaEvent::Connected) {
		net.stream(p, 1, |_| false);
		frames += 1;
	}
	net.run(Duration::from_millis(10));
	assert_eq!(net.clients[p].keyframe_requests, asked, "not asked: the cached keyframe is young");
	assert!(net.clients[v].received.is_empty(), "nothing before the start");
	// Past the start (200 ms after the connection): the group, then live frames, in order.
	net.stream(p, 8, |_| false);
	frames += 8;
	let got = &net.clients[v].received;
	assert!(got[0].1, "starting with the cached keyframe");
	assert_eq!(got.len(), frames * 3, "every packet from the cached keyframe on: {got:?}");
	let seqs: Vec<u64> = got.iter().map(|r| r.0).collect();
	assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "in order, no gap: {seqs:?}");
	assert_eq!(net.clients[p].keyframe_requests, asked, "still not asked");

	// A second later, no keyframe since: too old to start on. The next viewer asks.
	net.stream(p, 30, |_| false);
	let w = net.join(MediaRole::Viewer, Arc::new(OpenGate));
	while !net.events_of(w).contains(&MediaEvent::Connected) {
		net.stream(p, 1, |_| false);
	}
	net.run(Duration::from_millis(10));
	assert_eq!(net.clients[p].keyframe_requests, asked + 1, "asked: the cached keyframe is old");
	net.stream(p, 12, |n| n == 0);
	let got = &net.clients[w].received;
	assert!(got[0].1, "starting with the fresh keyframe");
	assert_eq!(got.len(), 12 * 3, "from the fresh keyframe on, not the old one");
}

/// An attack: a viewer that reconnects over and over (a new peer in its session's seat each
/// time) would draw a burst of the cached group each time. One start on the group per seat per
/// `SEED_PER_SEAT`; a reconnection within it waits for a fresh keyframe like any late joiner.
#[test]
fn a_viewer_reconnecting_again_and_again_starts_on_the_cached_group_once() {
	let mut net = Net::with_keyframe_cache(Duration::from_millis(1000));
	let p = net.join(MediaRole::Publisher, Arc::new(OpenGate));
	net.run(Duration::from_millis(500));
	net.stream(p, 10, |n| n == 0);
	let connect = |net: &mut Net, seat| {
		let v = net.join_seated(MediaRole::Viewer, Arc::new(OpenGate), Some(seat));
		while !net.events_of(v).contains(&MediaEvent::Connected) {
			net.stream(p, 1, |_| false);
		}
		// Past the start, a live frame: what a started viewer is sent goes out with it.
		net.run(Duration::from_millis(250));
		net.stream(p, 1, |_| false);
		v
	};
	let asked = net.clients[p].keyframe_requests;
	let first = connect(&mut net, 7);
	let burst = net.clients[first].received.len();
	assert!(burst >= 10 * 3, "the first start is on the cached group: {burst}");
	assert_eq!(net.clients[p].keyframe_requests, asked, "and asks nothing");
	// The same seat again, five times, while the group is still young.
	for round in 0..5 {
		let again = connect(&mut net, 7);
		assert!(net.clients[again].received.is_empty(), "round {round}: no second burst");
		assert!(net.clients[p].keyframe_requests > asked, "round {round}: it asks instead");
		net.stream(p, 1, |n| n == 0);
		assert!(net.clients[again].received[0].1, "round {round}: it starts on the new keyframe");
	}
	// Another seat (another paid session) starts on the group as usual.
	net.stream(p, 3, |_| false);
	let other = connect(&mut net, 8);
	assert!(!net.clients[other].received.is_empty(), "another session starts on the group");
}

#[test]
fn a_paused_viewer_gets_nothing_and_resumes_on_a_keyframe() {
	let mut net = Net::new();
	let p = net.join(MediaRole::Publisher, Arc::new(OpenGate));
	let gate = Arc::new(Switch::default());
	let v = net.join(MediaRole::Viewer, gate.clone());
	net.run(Duration::from_millis(500));
	net.stream(p, 5, |n| n == 0);
	assert_eq!(net.clients[v].received.len(), 15);
	gate.set(1);
	net.run(Duration::from_millis(200));
	assert_eq!(net.events_of(v).last(), Some(&MediaEvent::Paused));
	let asked = net.clients[p].keyframe_requests;
	net.stream(p, 10, |n| n == 3);
	assert_eq!(net.clients[v].received.len(), 15, "nothing while paused, keyframes or not");
	gate.set(0);
	net.run(Duration::from_millis(200));
	assert_eq!(net.events_of(v).last(), Some(&MediaEvent::Resumed));
	assert!(net.clients[p].keyframe_requests > asked, "resuming asks for a keyframe");
	net.stream(p, 4, |_| false);
	assert_eq!(net.clients[v].received.len(), 15, "not from a delta frame");
	net.stream(p, 2, |n| n == 0);
	let after: Vec<_> = net.clients[v].received[15..].to_vec();
	assert_eq!(after.len(), 6);
	assert!(after[0].1, "resumed on the keyframe");
	// Sequence numbers run on without a gap across the pause (rewritten per viewer).
	let seqs: Vec<u64> = net.clients[v].received.iter().map(|r| r.0).collect();
	assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
	// Closed for good: the peer is removed with the gate's reason.
	gate.set(2);
	net.run(Duration::from_millis(200));
	assert_eq!(net.events_of(v).last(), Some(&MediaEvent::Closed(CloseReason::SessionClosed)));
	assert_eq!(net.sfu.peer_count(), 1);
}

#[test]
fn peers_that_never_connect_or_go_silent_time_out() {
	let mut net = Net::new();
	let p = net.join(MediaRole::Publisher, Arc::new(OpenGate));
	let v = net.join(MediaRole::Viewer, Arc::new(OpenGate));
	// A viewer whose client never sends a thing.
	let ghost = net.join(MediaRole::Viewer, Arc::new(OpenGate));
	net.clients[ghost].online = false;
	net.run(Duration::from_millis(500));
	assert!(net.clients[v].connected);
	net.run(CONNECT_TIMEOUT);
	assert_eq!(net.events_of(ghost), vec![MediaEvent::Closed(CloseReason::Disconnected)]);
	assert_eq!(net.sfu.peer_count(), 2, "the connected ones stay");
	// The viewer's client goes silent (no consent checks, no RTCP): ICE-lite drops it.
	net.clients[v].online = false;
	net.stream(p, 1, |_| true);
	net.run(Duration::from_secs(40));
	assert_eq!(net.events_of(v).last(), Some(&MediaEvent::Closed(CloseReason::Disconnected)));
	assert_eq!(net.sfu.peer_count(), 1);
	let _ = p;
}

#[test]
fn a_lost_packet_is_nacked_and_sent_again() {
	let (mut net, p, vs) = Net::room(1);
	let v = vs[0];
	net.stream(p, 3, |n| n == 0);
	assert_eq!(net.clients[v].received.len(), 9);
	// Lose the 2nd datagram the core sends the viewer from here on: a video packet.
	let sent = net.delivered[&v];
	net.drop_to = Some((v, sent + 2));
	net.stream(p, 10, |_| false);
	let got: HashSet<u64> = net.clients[v].received.iter().map(|r| r.0).collect();
	let first = net.clients[v].received[0].0;
	let missing: Vec<u64> = (first..first + 39).filter(|s| !got.contains(s)).collect();
	assert!(missing.is_empty(), "repaired by a retransmission; missing {missing:?}");
	assert!(net.clients[v].received.len() >= 39);
	net.run(Duration::from_secs(1));
	let snapshot = net.out.snapshot.clone().unwrap();
	let viewer = &snapshot.rooms[0].viewers[0];
	assert!(viewer.direct, "a single-layer room's viewer is on the direct path");
	assert!(viewer.retransmitted >= 1, "the core answered the NACK");
}

#[test]
fn a_new_peer_in_a_taken_seat_replaces_the_one_there() {
	let mut net = Net::new();
	let p = net.join(MediaRole::Publisher, Arc::new(OpenGate));
	// Five viewers on one seat (the sidecar seats viewers by session), one on another.
	let seated: Vec<usize> =
		(0..5).map(|_| net.join_seated(MediaRole::Viewer, Arc::new(OpenGate), Some(42))).collect();
	let other = net.join_seated(MediaRole::Viewer, Arc::new(OpenGate), Some(43));
	net.run(Duration::from_millis(500));
	assert_eq!(net.sfu.peer_count(), 3, "the publisher, the last of the five, the other");
	for v in &seated[..4] {
		assert_eq!(net.events_of(*v), vec![MediaEvent::Closed(CloseReason::Replaced)]);
	}
	net.stream(p, 3, |n| n == 0);
	assert_eq!(net.clients[seated[4]].received.len(), 9, "the seat's holder gets media");
	assert_eq!(net.clients[other].received.len(), 9);
	assert!(seated[..4].iter().all(|v| net.clients[*v].received.is_empty()));
	// The seat is free again once its holder leaves: a newcomer replaces no one.
	net.sfu.handle(
		net.now,
		Input::Close(net.clients[seated[4]].id, CloseReason::Closed),
		&mut net.out,
	);
	let again = net.join_seated(MediaRole::Viewer, Arc::new(OpenGate), Some(42));
	net.run(Duration::from_millis(500));
	assert_eq!(net.events_of(again), vec![MediaEvent::Connected]);
	assert_eq!(net.sfu.peer_count(), 3);
}

#[test]
fn a_connected_publisher_is_replaced_only_by_one_that_takes_over() {
	let mut net = Net::new();
	let first = net.join(MediaRole::Publisher, Arc::new(OpenGate));
	let viewer = net.join(MediaRole::Viewer, Arc::new(OpenGate));
	net.run(Duration::from_millis(500));
	// A second publisher (a leaked WHIP token) is refused, and the first keeps publishing.
	let refused = net.try_join(MediaRole::Publisher, Arc::new(OpenGate), None, false);
	assert!(matches!(refused, Err(MediaError::Occupied)), "{:?}", refused.err());
	net.run(Duration::from_millis(500));
	assert_eq!(net.events_of(first), vec![MediaEvent::Connected]);
	net.stream(first, 2, |n| n == 0);
	assert_eq!(net.clients[viewer].received.len(), 6);
	// One that may take over (the creator, freshly signed in) replaces it.
	let second = net.try_join(MediaRole::Publisher, Arc::new(OpenGate), None, true).unwrap();
	net.run(Duration::from_millis(500));
	assert_eq!(
		net.events_of(first),
		vec![MediaEvent::Connected, MediaEvent::Closed(CloseReason::Replaced)]
	);
	net.stream(second, 2, |n| n == 0);
	assert_eq!(net.clients[viewer].received.len(), 12, "the viewer now gets the second's media");
	// Once it leaves, the room is free for anyone with the right again.
	let id = net.clients[second].id;
	net.sfu.handle(net.now, Input::Close(id, CloseReason::Closed), &mut net.out);
	assert!(net.try_join(MediaRole::Publisher, Arc::new(OpenGate), None, false).is_ok());
}
