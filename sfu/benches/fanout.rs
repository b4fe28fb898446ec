//! SFU fan-out benchmark: one publisher, N viewers, on loopback.
//!
//! ```text
//! scripts/bench.sh fanout --viewers 50
//! scripts/bench.sh fanout --viewers 200 --seconds 8 --warmup 2
//! scripts/bench.sh fanout --soak 1000
//! ```
//!
//! Two processes, so that the SFU's CPU and memory are measured apart from the clients': this
//! one (the *server*) runs the [`MediaServer`] and nothing else of note, and spawns itself with
//! `--clients` as the *client* process, which runs the webrtc-rs bots (`vilokanam-media-bots`)
//! on a multi-thread tokio runtime: one publisher (VP8 1.4 Mbit/s, 30 fps, a keyframe every 2 s,
//! plus 64 kbit/s Opus: about 1.5 Mbit/s and 205 packets/s) and the viewers. They talk over the
//! child's stdin/stdout, one JSON object per line: the client prints each bot's SDP offer, the
//! server answers it, and the client reports its bots' counters when asked. `RUST_LOG` logs
//! either process to stderr.
//!
//! **Fan-out** (default): N viewers join (`--join-concurrency` at a time) and wait for their first
//! frame; after `--warmup` seconds, a window of about `--seconds` seconds is measured, its edges
//! aligned to the engine's once-per-second snapshot (which is where the forwarded-packet count
//! comes from). Reported:
//! - the `media-engine` thread's CPU (utime + stime from `/proc/self/task/<tid>/stat`, split
//!   into user and system, and cross-checked with `schedstat`), in µs per forwarded packet and
//!   as a share of one core, and the same for the whole server process (`/proc/self/stat`). On
//!   loopback the kernel's receive path of every datagram sent runs in the sender's context, so
//!   the engine's system time includes the clients' side of the kernel: an overestimate against
//!   a real NIC;
//! - ingress and forwarded packets per second;
//! - per-viewer loss: 1 − (packets received by the viewer, video without padding + audio) /
//!   (packets the publisher sent), both counted by the client process at the window's edges
//!   (with `--simulcast`, video in complete frames, which every layer carries alike);
//!   how many viewers stayed under 1%, the median and worst. Packets still queued (in the SFU's
//!   pacer or a client's socket) at the end count as lost, so at high client load the figure has
//!   a noise floor of a few tenths of a percent; sequence gaps, how far each viewer is behind the
//!   publisher, what the engine wrote per viewer against what it received, the viewers' bandwidth
//!   estimates and the receive-buffer drops per socket (`/proc/net/udp`: the SFU's own socket
//!   against the clients') tell where packets went;
//! - the client process's CPU, so that it shows when the webrtc-rs bots are the bottleneck;
//! - memory per viewer: the server's RSS with the publisher alone against RSS after the N
//!   joined (and at the end of the window, once the per-viewer buffers have filled), over N;
//! - viewers (and the publisher) the engine closed before the window's end, from its events.
//!
//! ICE: the server runs with `full_ice` (`--media-full-ice`). In the default ICE-lite mode,
//! str0m drops a pair that has had no STUN binding request for 15 s; browsers send one every
//! ~5 s (RFC 7675 consent), but webrtc-rs (like pion) only checks a pair idle for 2 s, which a
//! viewer receiving media never is, so bot viewers would be closed 15 s after connecting.
//!
//! **Soak** (`--soak J`): with the publisher running and no other viewers, J viewers join and
//! leave, `--soak-concurrency` (10) at a time: each connects, waits for its first frame, closes,
//! and is closed in the server. The server's RSS is printed every 100 leaves; at the end the
//! engine must be back to one peer (the publisher). A publisher the engine drops (see above) is
//! replaced, and the replacements are reported.
//!
//! Options: `--viewers N` (50), `--seconds S` (20), `--warmup W` (5), `--soak J` (0: off),
//! `--soak-concurrency C` (10), `--join-concurrency C` (64), `--simulcast` (the publisher sends
//! three layers; each viewer gets one, chosen by the SFU), `--engine-cpu C` (pin the engine's
//! thread to CPU C, as the sidecar's `--media-cpu`), `--stun-flood R` (R forged ICE binding
//! requests per second with usernames no peer has, from a socket of the server process, once
//! the viewers joined: forwarding must keep its rate beside them), `--edges N` (N edge
//! servers in the server process each pull the stream from the origin, the server above, as
//! one viewer there ([`MediaServer::pull`]); the viewers join the edges, spread evenly. The
//! engine figures are then the origin's, which forwards to N legs however many viewers there
//! are; a last line adds every engine's CPU over the packets the viewers received).

#[path = "common/proc.rs"]
mod proc;

use futures::StreamExt;
use proc::{clock_ticks_per_second, stat_ticks};
use serde::{Deserialize, Serialize};
use std::{
	collections::{BTreeMap, HashMap},
	io::{BufRead, BufReader, Write},
	process::{Child, ChildStdin, Command, Stdio},
	sync::{mpsc, Arc, Mutex},
	time::{Duration, Instant},
};
use vilokanam_media_bots::{PublisherBot, PublisherOptions, ViewerBot};
use vilokanam_sfu::{
	CloseReason, MediaConfig, MediaEvent, MediaPeerId, MediaRole, MediaServer, MediaSnapshot,
	OpenGate, PeerSetup, SfuMetrics,
};

const STREAM_ID: u64 = 1;
/// Bound on each step of a join (answer, ICE + DTLS, first frame).
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Soak: the server's RSS is sampled every this many leaves.
const SOAK_SAMPLE_EVERY: u64 = 100;
/// The pending-answer key of the publisher (viewers count from 0).
const PUBLISHER: u64 = u64::MAX;

/// The options listed in the module doc.
#[derive(Clone, clap::Parser)]
struct Args {
	/// Run as the client process (the bots); the server spawns itself with it.
	#[arg(long)]
	clients: bool,
	#[arg(long, default_value_t = 50)]
	viewers: u64,
	#[arg(long, default_value_t = 20)]
	seconds: u64,
	#[arg(long, default_value_t = 5)]
	warmup: u64,
	#[arg(long, default_value_t = 0)]
	soak: u64,
	#[arg(long, default_value_t = 10)]
	soak_concurrency: u64,
	#[arg(long, default_value_t = 64)]
	join_concurrency: u64,
	#[arg(long)]
	simulcast: bool,
	#[arg(long)]
	engine_cpu: Option<usize>,
	/// Forged ICE binding requests per second (random usernames) sent to the SFU's port from
	/// the server process once the viewers have joined, through the warm-up and the window.
	#[arg(long, default_value_t = 0)]
	stun_flood: u64,
	/// Edge servers pulling the stream from the origin; viewers join them (see the docs).
	#[arg(long, default_value_t = 0)]
	edges: usize,
	/// Passed by `cargo bench`; ignored.
	#[arg(long, hide = true)]
	bench: bool,
}

fn parse_args() -> Args {
	let mut a = <Args as clap::Parser>::parse();
	a.viewers = a.viewers.max(1);
	a.seconds = a.seconds.max(2);
	a.soak_concurrency = a.soak_concurrency.max(1);
	a.join_concurrency = a.join_concurrency.max(1);
	a
}

fn main() {
	let args = parse_args();
	// RUST_LOG=... logs either process to stderr (stdout of the client process is the wire).
	let _ = tracing_subscriber::fmt()
		.with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
		.with_writer(std::io::stderr)
		.try_init();
	if args.clients {
		clients::run(&args);
	} else {
		server(&args);
	}
}

// --- The wire between the two processes (one JSON object per line) ---

/// Server → client process.
#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "t", rename_all = "snake_case")]
enum ToClients {
	/// The answer to the offer of viewer `index` (or of the publisher: [`PUBLISHER`]).
	Answer {
		index: u64,
		sdp: String,
	},
	/// Viewer `index`'s offer was refused.
	Refused {
		index: u64,
		error: String,
	},
	/// Open `count` viewers and keep them.
	Viewers {
		count: u64,
		concurrency: u64,
	},
	/// Join and leave `joins` viewers.
	Soak {
		joins: u64,
		concurrency: u64,
	},
	/// Report the bots' counters.
	Sample,
	/// Replace the publisher (the engine dropped it): close it, offer a new one.
	Republish,
	Quit,
}

/// Client process → server.
#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "t", rename_all = "snake_case")]
enum ToServer {
	PublisherOffer {
		sdp: String,
	},
	PublisherStarted,
	Offer {
		index: u64,
		sdp: String,
	},
	/// Viewer `index` received its first complete frame, `ms` after it was created.
	Joined {
		index: u64,
		ms: u64,
	},
	Failed {
		index: u64,
		error: String,
	},
	ViewersDone {
		joined: u64,
		failed: u64,
	},
	/// Soak: viewer `index` is closed on the client side (after its first frame, or failing).
	Left {
		index: u64,
		error: Option<String>,
	},
	SoakDone {
		ok: u64,
		failed: u64,
	},
	Sample(Sample),
	Fatal {
		error: String,
	},
}

/// The bots' counters at one instant.
#[derive(Serialize, Deserialize, Debug, Default, Clone)]
struct Sample {
	/// Video RTP packets sent by the publisher, per layer (lowest first).
	publisher_video: Vec<u64>,
	publisher_audio: u64,
	publisher_frames: u64,
	/// The number of the last frame the publisher sent (all layers share the numbering).
	publisher_last_frame: Option<u32>,
	viewers: Vec<ViewerSample>,
}

#[derive(Serialize, Deserialize, Debug, Default, Clone, Copy)]
struct ViewerSample {
	index: u64,
	video: u64,
	padding: u64,
	audio: u64,
	frames: u64,
	incomplete: u64,
	skipped: u64,
	gaps: u64,
	layer: Option<u8>,
	/// The number of the last complete frame received.
	last_frame: Option<u32>,
}

// --- /proc readers ---

/// utime (clock ticks) alone, from a `/proc/.../stat` file.
fn stat_user_ticks(path: &str) -> u64 {
	let stat = std::fs::read_to_string(path).unwrap_or_default();
	let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
	after.split_whitespace().nth(11).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Nanoseconds on CPU from a `/proc/.../schedstat` file (precise, where `stat` counts ticks).
fn schedstat_ns(path: &str) -> u64 {
	let s = std::fs::read_to_string(path).unwrap_or_default();
	s.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The thread of this process named `name`.
fn find_thread(name: &str) -> Option<String> {
	for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
		let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
		if comm.trim() == name {
			return Some(task.file_name().to_string_lossy().into_owned());
		}
	}
	None
}

/// utime + stime (clock ticks) of every `media-engine` thread of this process.
fn all_engines_ticks() -> u64 {
	let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
	tasks
		.flatten()
		.filter(|t| {
			std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "media-engine")
		})
		.map(|t| stat_ticks(&t.path().join("stat").to_string_lossy()))
		.sum()
}

/// VmRSS of a process, in bytes.
fn rss_of(pid: &str) -> u64 {
	let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
	status
		.lines()
		.find_map(|l| l.strip_prefix("VmRSS:"))
		.and_then(|v| v.split_whitespace().next().and_then(|kb| kb.parse::<u64>().ok()))
		.unwrap_or(0)
		* 1024
}

fn mib(bytes: u64) -> f64 {
	bytes as f64 / 1048576.0
}

/// Clock ticks the whole machine spent busy (all CPUs, all processes), from `/proc/stat`.
fn machine_busy_ticks() -> u64 {
	let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
	let Some(line) = stat.lines().next() else { return 0 };
	let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
	let total: u64 = f.iter().take(8).sum();
	let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
	total.saturating_sub(idle)
}

/// The `Udp:` counters of `/proc/net/snmp` (this network namespace), by name.
fn udp_counters() -> HashMap<String, u64> {
	let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
	let lines: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp:")).collect();
	let (Some(names), Some(values)) = (lines.first(), lines.get(1)) else {
		return HashMap::new();
	};
	names
		.split_whitespace()
		.skip(1)
		.zip(values.split_whitespace().skip(1))
		.filter_map(|(n, v)| Some((n.to_owned(), v.parse().ok()?)))
		.collect()
}

/// Datagrams dropped (receive buffer full) per UDP socket of this network namespace, by inode,
/// with whether the socket is bound to `port`.
fn udp_socket_drops(port: u16) -> HashMap<u64, (bool, u64)> {
	let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
	table
		.lines()
		.skip(1)
		.filter_map(|l| {
			let f: Vec<&str> = l.split_whitespace().collect();
			let local_port = f.get(1)?.rsplit_once(':')?.1;
			let ours = u16::from_str_radix(local_port, 16).ok()? == port;
			Some((f.get(9)?.parse().ok()?, (ours, f.last()?.parse().ok()?)))
		})
		.collect()
}

/// Drops between two [`udp_socket_drops`] tables: (at `port`, elsewhere).
fn drops_between(a: &HashMap<u64, (bool, u64)>, b: &HashMap<u64, (bool, u64)>) -> (u64, u64) {
	let (mut ours, mut others) = (0, 0);
	for (inode, (is_ours, d1)) in b {
		let d = d1 - a.get(inode).map(|x| x.1).unwrap_or(0).min(*d1);
		if *is_ours {
			ours += d;
		} else {
			others += d;
		}
	}
	(ours, others)
}

// --- The server process ---

/// The client process and the wire to it.
struct Clients {
	child: Child,
	pid: String,
	stdin: ChildStdin,
	rx: mpsc::Receiver<ToServer>,
	media: MediaServer,
	/// With `--edges`: the servers the viewers join (viewer `i` the `i % N`th).
	edges: Vec<MediaServer>,
	/// Viewer index → its peer in the engine.
	peers: HashMap<u64, MediaPeerId>,
	/// The publisher's peers in the engine, the current one last.
	publishers: Vec<MediaPeerId>,
	/// Where the engine reports the peers' events.
	events: tokio::sync::mpsc::Sender<(MediaPeerId, MediaEvent)>,
	/// What the engine reported, by peer, with when it was received.
	lives: Lives,
}

/// A viewer's life as the engine reported it.
#[derive(Default, Clone, Copy)]
struct Life {
	connected: Option<Instant>,
	closed: Option<(Instant, CloseReason)>,
}

type Lives = Arc<Mutex<HashMap<MediaPeerId, Life>>>;

/// Receive the engine's events on a thread of their own, so that each is timed when it comes.
fn track_events() -> (tokio::sync::mpsc::Sender<(MediaPeerId, MediaEvent)>, Lives) {
	let (tx, mut rx) = tokio::sync::mpsc::channel(16_384);
	let lives: Lives = Arc::default();
	let l = lives.clone();
	std::thread::Builder::new()
		.name("bench-events".into())
		.spawn(move || {
			while let Some((peer, event)) = rx.blocking_recv() {
				let now = Instant::now();
				let mut lives = l.lock().unwrap_or_else(|p| p.into_inner());
				let life = lives.entry(peer).or_default();
				match event {
					MediaEvent::Connected => life.connected = Some(now),
					MediaEvent::Closed(reason) => life.closed = Some((now, reason)),
					MediaEvent::Paused | MediaEvent::Resumed => {},
				}
			}
		})
		.expect("events thread");
	(tx, lives)
}

/// Viewers the engine closed before `until`: how many per reason, and how long they had been
/// connected (seconds, sorted).
fn closed_before(clients: &Clients, until: Instant) -> (BTreeMap<&'static str, u64>, Vec<f64>) {
	let lives = clients.lives.lock().unwrap_or_else(|p| p.into_inner());
	let mut reasons = BTreeMap::new();
	let mut connected_for = Vec::new();
	let viewers = lives.iter().filter(|(id, _)| !clients.publishers.contains(id));
	for (_, life) in viewers {
		let Some((at, reason)) = life.closed.filter(|c| c.0 < until) else { continue };
		*reasons.entry(reason.as_str()).or_default() += 1;
		if let Some(c) = life.connected {
			connected_for.push(at.saturating_duration_since(c).as_secs_f64());
		}
	}
	connected_for.sort_by(|a, b| a.total_cmp(b));
	(reasons, connected_for)
}

impl Clients {
	fn spawn(args: &Args, media: MediaServer, edges: Vec<MediaServer>) -> Self {
		let exe = std::env::current_exe().expect("current_exe");
		let mut cmd = Command::new(exe);
		cmd.arg("--clients");
		if args.simulcast {
			cmd.arg("--simulcast");
		}
		let mut child = cmd
			.stdin(Stdio::piped())
			.stdout(Stdio::piped())
			.stderr(Stdio::inherit())
			.spawn()
			.expect("spawning the client process");
		let stdin = child.stdin.take().expect("child stdin");
		let stdout = child.stdout.take().expect("child stdout");
		let (tx, rx) = mpsc::channel();
		std::thread::Builder::new()
			.name("bench-wire".into())
			.spawn(move || {
				for line in BufReader::new(stdout).lines() {
					let Ok(line) = line else { break };
					match serde_json::from_str::<ToServer>(&line) {
						Ok(m) => {
							if tx.send(m).is_err() {
								break;
							}
						},
						Err(_) => eprintln!("client process: {line}"),
					}
				}
			})
			.expect("reader thread");
		let pid = child.id().to_string();
		let (events, lives) = track_events();
		Self {
			child,
			pid,
			stdin,
			rx,
			media,
			edges,
			peers: HashMap::new(),
			publishers: Vec::new(),
			events,
			lives,
		}
	}

	fn send(&mut self, m: &ToClients) {
		let mut line = serde_json::to_string(m).expect("serialize");
		line.push('\n');
		self.stdin
			.write_all(line.as_bytes())
			.and_then(|_| self.stdin.flush())
			.expect("writing to the client process");
	}

	/// The next message; answers offers on the way (they come in every phase).
	fn recv(&mut self) -> ToServer {
		let deadline = Instant::now() + Duration::from_secs(120);
		loop {
			if let Some(m) = self.recv_for(Duration::from_secs(1)) {
				return m;
			}
			assert!(Instant::now() < deadline, "the client process is silent");
		}
	}

	/// The next message within `timeout`, answering offers on the way.
	fn recv_for(&mut self, timeout: Duration) -> Option<ToServer> {
		let deadline = Instant::now() + timeout;
		loop {
			let m = match self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
				Ok(m) => m,
				Err(mpsc::RecvTimeoutError::Timeout) => return None,
				Err(e) => panic!("the client process is gone ({e:?})"),
			};
			match m {
				ToServer::Offer { index, sdp } => self.answer(index, &sdp, MediaRole::Viewer),
				ToServer::PublisherOffer { sdp } => {
					self.answer(PUBLISHER, &sdp, MediaRole::Publisher)
				},
				ToServer::Fatal { error } => panic!("client process failed: {error}"),
				m => return Some(m),
			}
		}
	}

	fn answer(&mut self, index: u64, sdp: &str, role: MediaRole) {
		let setup = PeerSetup {
			stream_id: STREAM_ID,
			role,
			gate: Arc::new(OpenGate),
			events: Some(self.events.clone()),
			label: match role {
				MediaRole::Publisher => "publisher".into(),
				MediaRole::Viewer => format!("viewer-{index}"),
			},
			seat: None,
			take_over: true,
		};
		let server = match role {
			MediaRole::Viewer => self.viewer_server(index),
			MediaRole::Publisher => &self.media,
		};
		match server.offer(sdp, setup) {
			Ok((peer, sdp)) => {
				match role {
					MediaRole::Publisher => self.publishers.push(peer),
					MediaRole::Viewer => {
						self.peers.insert(index, peer);
					},
				}
				self.send(&ToClients::Answer { index, sdp });
			},
			Err(e) => self.send(&ToClients::Refused { index, error: e.to_string() }),
		}
	}

	/// Whether the engine closed the current publisher, and why.
	fn publisher_closed(&self) -> Option<CloseReason> {
		let id = self.publishers.last()?;
		let lives = self.lives.lock().unwrap_or_else(|p| p.into_inner());
		lives.get(id).and_then(|l| l.closed).map(|c| c.1)
	}

	fn close_viewer(&mut self, index: u64) {
		if let Some(peer) = self.peers.remove(&index) {
			self.viewer_server(index).close(peer, CloseReason::Closed);
		}
	}

	/// The server viewer `index` joins: the origin, or its edge.
	fn viewer_server(&self, index: u64) -> &MediaServer {
		match self.edges.len() {
			0 => &self.media,
			n => &self.edges[index as usize % n],
		}
	}

	/// Each edge pulls the stream from the origin (after the publisher started there).
	fn connect_edges(&self) {
		for (i, edge) in self.edges.iter().enumerate() {
			let setup = |role| PeerSetup {
				stream_id: STREAM_ID,
				role,
				gate: Arc::new(OpenGate),
				events: None,
				label: format!("edge-{i}"),
				seat: None,
				take_over: true,
			};
			let (pull, offer) = edge.pull(setup(MediaRole::Publisher)).expect("the edge offers");
			let (_, answer) =
				self.media.offer(&offer, setup(MediaRole::Viewer)).expect("the origin answers");
			edge.pulled(pull, &answer).expect("the edge pulls");
		}
	}

	fn sample(&mut self) -> Sample {
		self.send(&ToClients::Sample);
		loop {
			match self.recv() {
				ToServer::Sample(s) => return s,
				other => eprintln!("unexpected while sampling: {other:?}"),
			}
		}
	}

	fn cpu_ticks(&self) -> u64 {
		stat_ticks(&format!("/proc/{}/stat", self.pid))
	}

	fn quit(mut self) {
		self.send(&ToClients::Quit);
		let deadline = Instant::now() + Duration::from_secs(15);
		while Instant::now() < deadline {
			if let Ok(Some(_)) = self.child.try_wait() {
				return;
			}
			std::thread::sleep(Duration::from_millis(50));
		}
		eprintln!("the client process did not exit; killing it");
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

/// CPU, traffic and memory readings at one instant.
struct Reading {
	at: Instant,
	snapshot: MediaSnapshot,
	engine: u64,
	engine_user: u64,
	engine_ns: u64,
	process: u64,
	clients: u64,
	machine: u64,
	udp: HashMap<String, u64>,
	drops: HashMap<u64, (bool, u64)>,
	rss: u64,
	clients_rss: u64,
}

/// Wait (from `not_before`) for the engine's next snapshot refresh, then read everything. The
/// forwarded-packet count only changes at a refresh, so a window between two refreshes counts
/// exactly the packets forwarded in it. The metrics counter is polled rather than the snapshot
/// (an atomic, not a clone of every viewer's stats); it is updated just before the snapshot.
fn read_at_refresh(
	media: &MediaServer,
	metrics: &SfuMetrics,
	clients: &Clients,
	engine_tid: &str,
	not_before: Instant,
) -> Reading {
	let now = Instant::now();
	if not_before > now {
		std::thread::sleep(not_before - now);
	}
	let first = metrics.media_forwarded_packets.get();
	let ingress = |s: &MediaSnapshot| {
		s.rooms.first().and_then(|r| r.publisher.as_ref()).map(|p| p.packets).unwrap_or(0)
	};
	let first_in = ingress(&media.snapshot());
	let started = Instant::now();
	let give_up = started + Duration::from_millis(3000);
	let mut count = first;
	while count == first && Instant::now() < give_up {
		std::thread::sleep(Duration::from_millis(1));
		count = metrics.media_forwarded_packets.get();
		// Nothing forwarded for longer than a refresh period (no viewer left): the publisher's
		// packet count marks the refresh instead, at the price of cloning the snapshot.
		if started.elapsed() > Duration::from_millis(1200) && ingress(&media.snapshot()) != first_in
		{
			break;
		}
	}
	let at = Instant::now();
	let engine = stat_ticks(&format!("/proc/self/task/{engine_tid}/stat"));
	let engine_user = stat_user_ticks(&format!("/proc/self/task/{engine_tid}/stat"));
	let engine_ns = schedstat_ns(&format!("/proc/self/task/{engine_tid}/schedstat"));
	let process = stat_ticks("/proc/self/stat");
	let clients_cpu = clients.cpu_ticks();
	let machine = machine_busy_ticks();
	let udp = udp_counters();
	let drops = udp_socket_drops(media.candidate().port());
	let mut snapshot = media.snapshot();
	while snapshot.forwarded_packets < count && Instant::now() < give_up {
		std::thread::sleep(Duration::from_micros(200));
		snapshot = media.snapshot();
	}
	Reading {
		at,
		snapshot,
		engine,
		engine_user,
		engine_ns,
		process,
		clients: clients_cpu,
		machine,
		udp,
		drops,
		rss: rss_of("self"),
		clients_rss: rss_of(&clients.pid),
	}
}

fn server(args: &Args) {
	let tck = clock_ticks_per_second();
	let metrics = SfuMetrics::unregistered();
	// Full ICE: the webrtc-rs bots send no consent checks while media flows, and str0m's
	// ICE-lite agent drops such a pair after 15 s (see the module docs).
	let media = MediaServer::start(
		MediaConfig { full_ice: true, cpu: args.engine_cpu, ..MediaConfig::default() },
		metrics.clone(),
	)
	.expect("media server");
	// The engine thread names itself once it runs: look for it for a moment.
	let engine_tid = (0..200)
		.find_map(|_| {
			find_thread("media-engine").or_else(|| {
				std::thread::sleep(Duration::from_millis(10));
				None
			})
		})
		.expect("the media-engine thread");
	let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
	println!(
		"fanout bench: 1 publisher ({}VP8 1.4 Mbit/s 30 fps + Opus 64 kbit/s), {}; {cores} CPUs",
		if args.simulcast { "simulcast q/h/f, " } else { "" },
		if args.soak > 0 {
			format!("soak of {} joins and leaves, {} at a time", args.soak, args.soak_concurrency)
		} else {
			format!(
				"{} viewers, ~{} s measured after {} s warmup",
				args.viewers, args.seconds, args.warmup
			)
		}
	);
	if let Some(cpu) = args.engine_cpu {
		println!("engine thread pinned to CPU {cpu}");
	}
	let rss_started = rss_of("self");

	let edges: Vec<MediaServer> = (0..args.edges)
		.map(|_| {
			let config = MediaConfig { full_ice: true, ..MediaConfig::default() };
			MediaServer::start(config, SfuMetrics::unregistered()).expect("an edge server")
		})
		.collect();
	let mut clients = Clients::spawn(args, media.clone(), edges.clone());
	// (The publisher's offer is answered inside `recv`.)
	let ToServer::PublisherStarted = clients.recv() else { panic!("expected the publisher") };
	if !edges.is_empty() {
		clients.connect_edges();
		println!("{} edges pull the stream from the origin; the viewers join them", edges.len());
	}
	// The engine with the publisher alone: its ingress cost, for reference.
	std::thread::sleep(Duration::from_secs(2));
	let t0 = (Instant::now(), stat_ticks(&format!("/proc/self/task/{engine_tid}/stat")));
	std::thread::sleep(Duration::from_secs(3));
	let t1 = (Instant::now(), stat_ticks(&format!("/proc/self/task/{engine_tid}/stat")));
	let snap = media.snapshot();
	let ingress_bps = snap.rooms.first().and_then(|r| r.publisher.as_ref()).map(|p| p.bitrate_bps);
	let rss_publisher = rss_of("self");
	println!(
		"server RSS {:.1} MiB at start, {:.1} MiB with the publisher; publisher ingress {:.2} Mbit/s; engine with the publisher alone: {:.1}% of a core",
		mib(rss_started),
		mib(rss_publisher),
		ingress_bps.unwrap_or(0) as f64 / 1e6,
		100.0 * (t1.1 - t0.1) as f64 / tck / (t1.0 - t0.0).as_secs_f64()
	);

	if args.soak > 0 {
		soak(args, &media, &mut clients, rss_publisher);
	} else {
		fanout(args, &media, &metrics, &mut clients, &engine_tid, rss_publisher, tck);
	}
	clients.quit();
	for edge in &edges {
		edge.shutdown();
	}
	media.shutdown();
}

fn fanout(
	args: &Args,
	media: &MediaServer,
	metrics: &SfuMetrics,
	clients: &mut Clients,
	engine_tid: &str,
	rss_publisher: u64,
	tck: f64,
) {
	let n = args.viewers;
	let started = Instant::now();
	clients.send(&ToClients::Viewers { count: n, concurrency: args.join_concurrency });
	let mut join_ms = Vec::new();
	let (joined, failed) = loop {
		match clients.recv() {
			ToServer::Joined { ms, .. } => {
				join_ms.push(ms);
				if join_ms.len() % 50 == 0 {
					println!(
						"  {} viewers joined ({:.1} s)",
						join_ms.len(),
						started.elapsed().as_secs_f64()
					);
				}
			},
			ToServer::Failed { index, error } => {
				eprintln!("viewer {index} failed: {error}");
				clients.close_viewer(index);
			},
			ToServer::ViewersDone { joined, failed } => break (joined, failed),
			other => eprintln!("unexpected while joining: {other:?}"),
		}
	};
	join_ms.sort_unstable();
	let rss_joined = rss_of("self");
	println!(
		"{joined} viewers joined (first frame) in {:.1} s, {failed} failed; per viewer, creation to first frame: p50 {} ms, max {} ms",
		started.elapsed().as_secs_f64(),
		join_ms.get(join_ms.len() / 2).copied().unwrap_or(0),
		join_ms.last().copied().unwrap_or(0),
	);
	if joined == 0 {
		return;
	}

	let flood = (args.stun_flood > 0).then(|| StunFlood::start(media.candidate(), args.stun_flood));
	let warm_until = Instant::now() + Duration::from_secs(args.warmup);
	let r0 = read_at_refresh(media, metrics, clients, engine_tid, warm_until);
	let engines0 = all_engines_ticks();
	let flood_sent_r0 = flood.as_ref().map(|f| f.sent());
	let s0 = clients.sample();
	// The refresh period is about a second; ending half a second early catches the one due at
	// the nominal end.
	let end = r0.at + Duration::from_secs(args.seconds) - Duration::from_millis(500);
	let r1 = read_at_refresh(media, metrics, clients, engine_tid, end);
	let engines1 = all_engines_ticks();
	let s1 = clients.sample();
	report(args, &r0, &r1, &s0, &s1, rss_publisher, rss_joined, joined, tck);
	if args.edges > 0 {
		let delivered: u64 = s1
			.viewers
			.iter()
			.filter_map(|b| s0.viewers.iter().find(|a| a.index == b.index).map(|a| (a, b)))
			.map(|(a, b)| {
				(b.video - b.padding + b.audio).saturating_sub(a.video - a.padding + a.audio)
			})
			.sum();
		let secs = r1.at.duration_since(r0.at).as_secs_f64();
		let cpu = (engines1 - engines0) as f64 / tck;
		println!(
			"all {} engines (origin and edges): {:.1} % of a core, {:.2} µs per packet the viewers \
			 received ({:.0}/s)",
			args.edges + 1,
			100.0 * cpu / secs,
			cpu / delivered.max(1) as f64 * 1e6,
			delivered as f64 / secs,
		);
	}
	if let (Some(flood), Some(sent_r0)) = (flood, flood_sent_r0) {
		let secs = r1.at.duration_since(r0.at).as_secs_f64();
		let sent = flood.sent() - sent_r0;
		let unrouted = r1.snapshot.unrouted_datagrams - r0.snapshot.unrouted_datagrams;
		println!(
			"STUN flood in the window: {:.0} forged binding requests/s sent, {:.0}/s counted \
			 unrouted by the engine (the rest lost in the socket's buffer)",
			sent as f64 / secs,
			unrouted as f64 / secs,
		);
		flood.stop();
	}
	// Viewers the engine dropped count as lost above; say which and when.
	let (reasons, connected_for) = closed_before(clients, r1.at);
	let first_connected = {
		let lives = clients.lives.lock().unwrap_or_else(|p| p.into_inner());
		let viewers = lives.iter().filter(|(id, _)| !clients.publishers.contains(id));
		viewers.filter_map(|(_, l)| l.connected).min()
	};
	let in_room = |r: &Reading| r.snapshot.rooms.first().map(|r| r.viewers.len()).unwrap_or(0);
	println!(
		"viewers in the engine's room: {} at the window's start, {} at its end; the window ended {:.1} s after the first viewer connected",
		in_room(&r0),
		in_room(&r1),
		first_connected.map(|t| r1.at.saturating_duration_since(t).as_secs_f64()).unwrap_or(0.0)
	);
	if !reasons.is_empty() {
		println!(
			"WARNING: the engine closed {} viewers before the window's end ({reasons:?}), after being connected for {:.1} to {:.1} s (median {:.1} s)",
			reasons.values().sum::<u64>(),
			pct(&connected_for, 0.0),
			pct(&connected_for, 1.0),
			pct(&connected_for, 0.5)
		);
	}
	if let Some(reason) = clients.publisher_closed() {
		println!("WARNING: the engine closed the publisher ({})", reason.as_str());
	}
}

/// A viewer's loss over the window: what it received against what the publisher sent, video
/// and audio together. With simulcast, video counts in complete frames rather than packets:
/// the layers' packet counts differ and a viewer may switch layers in the window, but every
/// layer carries every frame.
fn viewer_loss(
	a: &ViewerSample,
	b: &ViewerSample,
	s0: &Sample,
	s1: &Sample,
	simulcast: bool,
) -> f64 {
	let audio_sent = s1.publisher_audio - s0.publisher_audio;
	let audio_got = b.audio - a.audio;
	let (video_sent, video_got) = if simulcast {
		let layers = s1.publisher_video.len().max(1) as u64;
		((s1.publisher_frames - s0.publisher_frames) / layers, b.frames - a.frames)
	} else {
		let layer = b.layer.unwrap_or(0) as usize;
		let sent = s1.publisher_video.get(layer).copied().unwrap_or(0)
			- s0.publisher_video.get(layer).copied().unwrap_or(0);
		(sent, (b.video - b.padding).saturating_sub(a.video - a.padding))
	};
	let (sent, got) = (video_sent + audio_sent, video_got + audio_got);
	if sent == 0 {
		return 1.0;
	}
	(1.0 - got as f64 / sent as f64).max(0.0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
	if sorted.is_empty() {
		return f64::NAN;
	}
	sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

#[allow(clippy::too_many_arguments)]
fn report(
	args: &Args,
	r0: &Reading,
	r1: &Reading,
	s0: &Sample,
	s1: &Sample,
	rss_publisher: u64,
	rss_joined: u64,
	joined: u64,
	tck: f64,
) {
	let secs = (r1.at - r0.at).as_secs_f64();
	let forwarded = r1.snapshot.forwarded_packets - r0.snapshot.forwarded_packets;
	let room = |s: &MediaSnapshot| s.rooms.iter().find(|r| r.stream_id == STREAM_ID).cloned();
	let (room0, room1) =
		(room(&r0.snapshot).unwrap_or_default(), room(&r1.snapshot).unwrap_or_default());
	let pub_packets = |r: &vilokanam_sfu::RoomStats| {
		r.publisher.as_ref().map(|p| (p.packets, p.bytes)).unwrap_or((0, 0))
	};
	let (in0, in_bytes0) = pub_packets(&room0);
	let (in1, in_bytes1) = pub_packets(&room1);
	let ingress = in1 - in0;
	let engine = (r1.engine - r0.engine) as f64 / tck;
	let process = (r1.process - r0.process) as f64 / tck;
	let clients_cpu = (r1.clients - r0.clients) as f64 / tck;
	let machine = (r1.machine - r0.machine) as f64 / tck;
	let others = (machine - process - clients_cpu).max(0.0);
	let per_packet = |cpu: f64| 1e6 * cpu / forwarded.max(1) as f64;
	let viewers_now = room1.viewers.len();

	println!("--- fan-out window: {secs:.2} s (between two engine snapshot refreshes) ---");
	println!(
		"ingress (publisher -> SFU): {ingress} packets = {:.0} pkt/s, {:.2} Mbit/s of payload",
		ingress as f64 / secs,
		(in_bytes1 - in_bytes0) as f64 * 8.0 / secs / 1e6
	);
	let sent_by_publisher = s1.publisher_video.iter().sum::<u64>() + s1.publisher_audio
		- s0.publisher_video.iter().sum::<u64>()
		- s0.publisher_audio;
	println!(
		"publisher bot sent {sent_by_publisher} packets = {:.0} pkt/s, {:.1} frames/s (30 per layer nominal)",
		sent_by_publisher as f64 / secs,
		(s1.publisher_frames - s0.publisher_frames) as f64 / secs
	);
	println!(
		"forwarded (SFU -> viewers): {forwarded} packets = {:.0} pkt/s, {:.1} per ingress packet; {viewers_now} viewers in the room",
		forwarded as f64 / secs,
		forwarded as f64 / ingress.max(1) as f64
	);
	let calls = r1.snapshot.send_calls - r0.snapshot.send_calls;
	let messages = r1.snapshot.send_messages - r0.snapshot.send_messages;
	println!(
		"sends: {calls} sendmmsg calls, {messages} messages: {:.1} forwarded packets per call, {:.2} per message (UDP GSO); {} refused by the kernel",
		forwarded as f64 / calls.max(1) as f64,
		forwarded as f64 / messages.max(1) as f64,
		r1.snapshot.send_dropped - r0.snapshot.send_dropped
	);
	let engine_sched = (r1.engine_ns - r0.engine_ns) as f64 / 1e9;
	let engine_user = (r1.engine_user - r0.engine_user) as f64 / tck;
	println!(
		"engine thread CPU:  {engine:.2} s = {:.1}% of one core -> {:.2} µs per forwarded packet",
		100.0 * engine / secs,
		per_packet(engine),
	);
	// The split shows how much is the kernel's (sendmsg, and on loopback the receivers' side).
	println!(
		"  of which user {engine_user:.2} s ({:.2} µs/packet), system {:.2} s ({:.2} µs/packet); schedstat says {engine_sched:.3} s ({:.2} µs/packet)",
		per_packet(engine_user),
		engine - engine_user,
		per_packet(engine - engine_user),
		per_packet(engine_sched)
	);
	println!(
		"server process CPU: {process:.2} s = {:.1}% of one core -> {:.2} µs per forwarded packet",
		100.0 * process / secs,
		per_packet(process)
	);
	println!(
		"client process CPU (publisher + {joined} webrtc-rs viewers): {clients_cpu:.2} s = {:.0}% of one core ({:.1} of {} cores); {:.1} µs per forwarded packet",
		100.0 * clients_cpu / secs,
		clients_cpu / secs,
		std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
		per_packet(clients_cpu)
	);
	println!(
		"other processes on this machine: {others:.2} CPU-s ({:.0}% of one core)",
		100.0 * others / secs
	);

	// Loss per viewer, by the clients' counters.
	let before: HashMap<u64, &ViewerSample> = s0.viewers.iter().map(|v| (v.index, v)).collect();
	let mut losses: Vec<f64> = Vec::new();
	let (mut gaps, mut incomplete, mut skipped) = (0u64, 0u64, 0u64);
	for b in &s1.viewers {
		let Some(a) = before.get(&b.index) else { continue };
		losses.push(viewer_loss(a, b, s0, s1, args.simulcast));
		gaps += b.gaps - a.gaps;
		incomplete += b.incomplete - a.incomplete;
		skipped += b.skipped - a.skipped;
	}
	// Viewers that joined but are missing from either sample count as lost entirely.
	let missing = (joined as usize).saturating_sub(losses.len());
	losses.extend(std::iter::repeat_n(1.0, missing));
	losses.sort_by(|a, b| a.total_cmp(b));
	let under = losses.iter().filter(|l| **l < 0.01).count();
	println!(
		"viewer loss (received vs the publisher's sent, {} + audio packets): {under}/{} viewers under 1%; median {:.2}%, p90 {:.2}%, max {:.2}%",
		if args.simulcast { "video frames" } else { "video packets" },
		losses.len(),
		100.0 * pct(&losses, 0.5),
		100.0 * pct(&losses, 0.9),
		100.0 * losses.last().copied().unwrap_or(f64::NAN)
	);
	println!(
		"  in the window, all viewers: {gaps} video sequence gaps, {incomplete} incomplete frames, {skipped} frames skipped"
	);
	// How far behind the publisher each viewer is at the end (queued in the SFU's pacer or in
	// the clients, rather than lost): in frames of 1/30 s.
	let mut lag: Vec<f64> = s1
		.viewers
		.iter()
		.filter_map(|v| {
			let (p, v) = (s1.publisher_last_frame?, v.last_frame?);
			Some(p.saturating_sub(v) as f64 * 1000.0 / 30.0)
		})
		.collect();
	lag.sort_by(|a, b| a.total_cmp(b));
	println!(
		"  viewers' last frame behind the publisher's at the window's end: median {:.0} ms, max {:.0} ms (33 ms resolution)",
		pct(&lag, 0.5),
		pct(&lag, 1.0)
	);
	// What the engine wrote to each viewer against what it received: packets the SFU itself
	// did not forward. Only without simulcast (with it, each viewer gets one layer of three).
	if !args.simulcast {
		let by_id0: HashMap<u64, u64> = room0.viewers.iter().map(|v| (v.id, v.packets)).collect();
		let mut written: Vec<f64> = room1
			.viewers
			.iter()
			.filter_map(|v| by_id0.get(&v.id).map(|p0| (v.packets - p0) as f64))
			.map(|w| w / ingress.max(1) as f64)
			.collect();
		written.sort_by(|a, b| a.total_cmp(b));
		println!(
			"engine side: packets written per viewer / packets received: min {:.4}, median {:.4}, max {:.4}",
			pct(&written, 0.0),
			pct(&written, 0.5),
			pct(&written, 1.0)
		);
	}
	// str0m paces each viewer at its bandwidth estimate (TWCC): an estimate under the stream's
	// bitrate means packets queue in the SFU (up to str0m's 2 s pacer limit) rather than drop.
	let mut estimates: Vec<f64> =
		room1.viewers.iter().filter_map(|v| v.estimate_bps).map(|b| b as f64 / 1e6).collect();
	estimates.sort_by(|a, b| a.total_cmp(b));
	println!(
		"viewers' bandwidth estimates (Mbit/s): min {:.2}, median {:.2}, max {:.2} ({} of {} estimated)",
		pct(&estimates, 0.0),
		pct(&estimates, 0.5),
		pct(&estimates, 1.0),
		estimates.len(),
		room1.viewers.len()
	);
	let mut rtcp_loss: Vec<f64> = room1.viewers.iter().map(|v| v.loss as f64).collect();
	rtcp_loss.sort_by(|a, b| a.total_cmp(b));
	println!(
		"RTCP-reported loss (last report per viewer): median {:.2}%, max {:.2}%; NACKs from viewers: {}",
		100.0 * pct(&rtcp_loss, 0.5),
		100.0 * pct(&rtcp_loss, 1.0),
		room1.viewers.iter().map(|v| v.nacks).sum::<u64>()
	);
	let udp = |k: &str| r1.udp.get(k).copied().unwrap_or(0) - r0.udp.get(k).copied().unwrap_or(0);
	println!(
		"UDP on this machine in the window: {} datagrams in, {} out, RcvbufErrors {}, SndbufErrors {}, InErrors {}",
		udp("InDatagrams"),
		udp("OutDatagrams"),
		udp("RcvbufErrors"),
		udp("SndbufErrors"),
		udp("InErrors")
	);
	let (sfu_drops, client_drops) = drops_between(&r0.drops, &r1.drops);
	println!(
		"  receive-buffer drops: {sfu_drops} at the SFU's socket (publisher media and viewers' RTCP), {client_drops} at the clients' sockets"
	);
	println!(
		"publisher -> SFU: the bot sent {sent_by_publisher} packets in the window, the engine received {ingress} (counted a few ms apart: the SFU socket's drops above are the exact loss)"
	);
	let per_viewer = |rss: u64| rss.saturating_sub(rss_publisher) as f64 / 1024.0 / joined as f64;
	println!(
		"server RSS during the window: {:.1} -> {:.1} MiB ({:+.2} MiB/s)",
		mib(r0.rss),
		mib(r1.rss),
		(mib(r1.rss) - mib(r0.rss)) / secs
	);
	println!(
		"server memory: RSS {:.1} MiB with the publisher -> {:.1} MiB after {joined} joined -> {:.1} MiB at the window's end: {:.0} KiB per viewer at join, {:.0} KiB steady",
		mib(rss_publisher),
		mib(rss_joined),
		mib(r1.rss),
		per_viewer(rss_joined),
		per_viewer(r1.rss)
	);
	println!("client process RSS: {:.1} MiB", mib(r1.clients_rss));
}

fn soak(args: &Args, media: &MediaServer, clients: &mut Clients, rss_publisher: u64) {
	let started = Instant::now();
	clients.send(&ToClients::Soak { joins: args.soak, concurrency: args.soak_concurrency });
	let mut series: Vec<(u64, u64, u64)> = vec![(0, rss_publisher, media.peers())];
	let (mut left, mut errors) = (0u64, BTreeMap::<String, u64>::new());
	let mut replaced: Vec<(f64, &'static str)> = Vec::new();
	let mut republishing = false;
	let (ok, failed) = loop {
		// A publisher the engine dropped is replaced, so that the soak can go on (and the
		// replacement is reported: it is an SFU problem, not the bench's).
		if !republishing {
			if let Some(reason) = clients.publisher_closed() {
				replaced.push((started.elapsed().as_secs_f64(), reason.as_str()));
				clients.send(&ToClients::Republish);
				republishing = true;
			}
		}
		let Some(m) = clients.recv_for(Duration::from_millis(200)) else { continue };
		match m {
			ToServer::PublisherStarted => republishing = false,
			ToServer::Left { index, error } => {
				clients.close_viewer(index);
				left += 1;
				if let Some(e) = error {
					*errors.entry(e).or_default() += 1;
				}
				if left % SOAK_SAMPLE_EVERY == 0 {
					let (rss, peers) = (rss_of("self"), media.peers());
					println!(
						"  {left:>5} joins and leaves in {:>5.1} s: server RSS {:.2} MiB, engine peers {peers}",
						started.elapsed().as_secs_f64(),
						mib(rss)
					);
					series.push((left, rss, peers));
				}
			},
			ToServer::SoakDone { ok, failed } => break (ok, failed),
			other => eprintln!("unexpected while soaking: {other:?}"),
		}
	};
	// Close commands are taken at the engine's next wake-up; give it a moment.
	let deadline = Instant::now() + Duration::from_secs(5);
	while media.peers() > 1 && Instant::now() < deadline {
		std::thread::sleep(Duration::from_millis(20));
	}
	std::thread::sleep(Duration::from_millis(1500));
	let (rss_end, peers_end) = (rss_of("self"), media.peers());
	let publisher_alive = clients.publisher_closed().is_none();
	let snap = media.snapshot();
	println!(
		"--- soak: {} joins and leaves in {:.1} s ---",
		args.soak,
		started.elapsed().as_secs_f64()
	);
	println!("{ok} viewers got their first frame and left, {failed} failed: {errors:?}");
	if !replaced.is_empty() {
		println!(
			"WARNING: the engine dropped the publisher {} times, which the bench replaced (at s, reason): {replaced:?}",
			replaced.len()
		);
	}
	println!(
		"server RSS series (joins: MiB): {}",
		series
			.iter()
			.map(|(j, r, _)| format!("{j}: {:.2}", mib(*r)))
			.collect::<Vec<_>>()
			.join(", ")
	);
	let first = series.get(1).map(|s| s.1).unwrap_or(rss_publisher);
	println!(
		"RSS after the first {SOAK_SAMPLE_EVERY}: {:.2} MiB; at the end: {:.2} MiB ({:+.1} KiB, {:+.2} KiB per join after the first {SOAK_SAMPLE_EVERY})",
		mib(first),
		mib(rss_end),
		(rss_end as f64 - first as f64) / 1024.0,
		(rss_end as f64 - first as f64) / 1024.0 / (args.soak.saturating_sub(SOAK_SAMPLE_EVERY)).max(1) as f64
	);
	println!(
		"engine peers at the end: {peers_end} (expected {}); snapshot: {} peers, {} rooms, {} viewers in the room, {} unrouted datagrams",
		if publisher_alive { "1: the publisher" } else { "0: the engine dropped the publisher again" },
		snap.peers,
		snap.rooms.len(),
		snap.rooms.first().map(|r| r.viewers.len()).unwrap_or(0),
		snap.unrouted_datagrams
	);
	let (reasons, connected_for) = closed_before(clients, Instant::now());
	let never_closed = {
		let lives = clients.lives.lock().unwrap_or_else(|p| p.into_inner());
		let viewers = lives.iter().filter(|(id, _)| !clients.publishers.contains(id));
		viewers.filter(|(_, l)| l.closed.is_none()).count()
	};
	println!(
		"engine events: viewers closed {reasons:?} after a median {:.2} s connected; {never_closed} viewers without a close event",
		pct(&connected_for, 0.5)
	);
}

// --- The client process ---

mod clients {
	use super::*;
	use tokio::sync::{mpsc as tokio_mpsc, oneshot};

	type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<String, String>>>>>;

	/// One line to the server; stdout is the wire, so nothing else may print there.
	fn emit(m: &ToServer) {
		let mut line = serde_json::to_string(m).expect("serialize");
		line.push('\n');
		let mut out = std::io::stdout().lock();
		let _ = out.write_all(line.as_bytes()).and_then(|_| out.flush());
	}

	fn raise_nofile() {
		// Each webrtc-rs peer holds a few UDP sockets (one per local address) plus its own.
		// SAFETY: plain system calls on a local, initialized struct.
		unsafe {
			let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
			if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
				lim.rlim_cur = lim.rlim_max;
				libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
			}
		}
	}

	pub(super) fn run(args: &Args) {
		raise_nofile();
		let rt = tokio::runtime::Builder::new_multi_thread()
			.thread_name("bench-client")
			.enable_all()
			.build()
			.expect("client runtime");
		rt.block_on(main(args.clone()));
		rt.shutdown_timeout(Duration::from_secs(2));
	}

	async fn main(args: Args) {
		let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
		let (ctl_tx, mut ctl) = tokio_mpsc::unbounded_channel();
		{
			// A plain thread reads stdin: answers go straight to the viewer waiting for them,
			// everything else to this loop.
			let pending = pending.clone();
			std::thread::spawn(move || {
				for line in std::io::stdin().lock().lines() {
					let Ok(line) = line else { break };
					let m = match serde_json::from_str::<ToClients>(&line) {
						Ok(m) => m,
						Err(e) => {
							eprintln!("client process: bad line from the server: {e}");
							continue;
						},
					};
					let (index, answer) = match m {
						ToClients::Answer { index, sdp } => (index, Ok(sdp)),
						ToClients::Refused { index, error } => (index, Err(error)),
						m => {
							let _ = ctl_tx.send(m);
							continue;
						},
					};
					let waiter = pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&index);
					if let Some(w) = waiter {
						let _ = w.send(answer);
					}
				}
				// The server is gone: leave.
				let _ = ctl_tx.send(ToClients::Quit);
			});
		}

		let opts = PublisherOptions { simulcast: args.simulcast, ..PublisherOptions::default() };
		let mut publisher = match start_publisher(opts.clone(), &pending).await {
			Ok(p) => p,
			Err(error) => {
				emit(&ToServer::Fatal { error });
				return;
			},
		};

		let viewers: Arc<Mutex<BTreeMap<u64, ViewerBot>>> = Arc::default();
		let mut next_index = 0u64;
		while let Some(cmd) = ctl.recv().await {
			match cmd {
				ToClients::Viewers { count, concurrency } => {
					let first = next_index;
					next_index += count;
					let (mut joined, mut failed) = (0, 0);
					let mut results = futures::stream::iter(first..first + count)
						.map(|index| tokio::spawn(join(index, pending.clone())))
						.buffer_unordered(concurrency as usize);
					while let Some(r) = results.next().await {
						match r {
							Ok((index, Ok((bot, ms)))) => {
								joined += 1;
								viewers
									.lock()
									.unwrap_or_else(|p| p.into_inner())
									.insert(index, bot);
								emit(&ToServer::Joined { index, ms });
							},
							Ok((index, Err(error))) => {
								failed += 1;
								emit(&ToServer::Failed { index, error });
							},
							Err(e) => {
								failed += 1;
								eprintln!("client process: a join task failed: {e}");
							},
						}
					}
					emit(&ToServer::ViewersDone { joined, failed });
				},
				ToClients::Soak { joins, concurrency } => {
					let first = next_index;
					next_index += joins;
					let (mut ok, mut failed) = (0, 0);
					let mut results = futures::stream::iter(first..first + joins)
						.map(|index| {
							let pending = pending.clone();
							tokio::spawn(async move {
								let (index, r) = join(index, pending).await;
								let error = match r {
									// Bounded: a close that hangs would hold a slot for good.
									Ok((bot, _)) => {
										match tokio::time::timeout(STEP_TIMEOUT, bot.close()).await
										{
											Ok(Ok(())) => None,
											Ok(Err(e)) => Some(format!("close: {e:#}")),
											Err(_) => Some("close timed out".into()),
										}
									},
									Err(e) => Some(e),
								};
								(index, error)
							})
						})
						.buffer_unordered(concurrency as usize);
					loop {
						// Control messages are served meanwhile: the server may ask for a new
						// publisher.
						let r = tokio::select! {
							r = results.next() => match r {
								Some(r) => r,
								None => break,
							},
							cmd = ctl.recv() => {
								match cmd {
									Some(ToClients::Republish) =>
										if let Err(error) = republish(&mut publisher, &opts, &pending).await {
											emit(&ToServer::Fatal { error });
											return;
										},
									Some(other) => eprintln!("client process: unexpected {other:?} while soaking"),
									None => return,
								}
								continue;
							},
						};
						match r {
							Ok((index, error)) => {
								if error.is_none() {
									ok += 1;
								} else {
									failed += 1;
								}
								emit(&ToServer::Left { index, error });
							},
							Err(e) => {
								failed += 1;
								eprintln!("client process: a soak task failed: {e}");
							},
						}
					}
					emit(&ToServer::SoakDone { ok, failed });
				},
				ToClients::Sample => emit(&ToServer::Sample(sample(&publisher, &viewers))),
				ToClients::Republish => {
					if let Err(error) = republish(&mut publisher, &opts, &pending).await {
						emit(&ToServer::Fatal { error });
						return;
					}
				},
				ToClients::Quit => break,
				other => eprintln!("client process: unexpected {other:?}"),
			}
		}
		let bots: Vec<ViewerBot> =
			std::mem::take(&mut *viewers.lock().unwrap_or_else(|p| p.into_inner()))
				.into_values()
				.collect();
		let closing = futures::future::join_all(bots.iter().map(|b| b.close()));
		let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
		let _ = tokio::time::timeout(Duration::from_secs(2), publisher.close()).await;
	}

	/// A publisher: offer, answer, ICE + DTLS, then sending; reported with `PublisherStarted`.
	async fn start_publisher(
		opts: PublisherOptions,
		pending: &Pending,
	) -> Result<PublisherBot, String> {
		let (bot, offer) =
			PublisherBot::new(opts).await.map_err(|e| format!("publisher: {e:#}"))?;
		let (tx, rx) = oneshot::channel();
		pending.lock().unwrap_or_else(|p| p.into_inner()).insert(PUBLISHER, tx);
		emit(&ToServer::PublisherOffer { sdp: offer });
		let sdp = tokio::time::timeout(STEP_TIMEOUT, rx)
			.await
			.map_err(|_| "no answer for the publisher".to_string())?
			.map_err(|_| "no answer for the publisher".to_string())?
			.map_err(|e| format!("publisher refused: {e}"))?;
		bot.accept_answer(&sdp).await.map_err(|e| format!("publisher answer: {e:#}"))?;
		bot.wait_connected(STEP_TIMEOUT).await.map_err(|e| format!("publisher: {e:#}"))?;
		bot.start();
		emit(&ToServer::PublisherStarted);
		Ok(bot)
	}

	/// Close the publisher and start another.
	async fn republish(
		publisher: &mut PublisherBot,
		opts: &PublisherOptions,
		pending: &Pending,
	) -> Result<(), String> {
		let _ = tokio::time::timeout(STEP_TIMEOUT, publisher.close()).await;
		*publisher = start_publisher(opts.clone(), pending).await?;
		Ok(())
	}

	/// One viewer: offer, answer, ICE + DTLS, first complete frame.
	async fn join(index: u64, pending: Pending) -> (u64, Result<(ViewerBot, u64), String>) {
		let started = Instant::now();
		let r = async {
			let (bot, offer) = ViewerBot::new().await.map_err(|e| format!("new: {e:#}"))?;
			let (tx, rx) = oneshot::channel();
			pending.lock().unwrap_or_else(|p| p.into_inner()).insert(index, tx);
			emit(&ToServer::Offer { index, sdp: offer });
			let answer = tokio::time::timeout(STEP_TIMEOUT, rx)
				.await
				.map_err(|_| "no answer".to_string())?
				.map_err(|_| "no answer".to_string())?
				.map_err(|e| format!("refused: {e}"))?;
			bot.accept_answer(&answer).await.map_err(|e| format!("answer: {e:#}"))?;
			bot.wait_connected(STEP_TIMEOUT).await.map_err(|e| format!("connect: {e:#}"))?;
			bot.wait_for_frames(1, STEP_TIMEOUT)
				.await
				.map_err(|e| format!("first frame: {e:#}"))?;
			Ok((bot, started.elapsed().as_millis() as u64))
		}
		.await;
		(index, r)
	}

	fn sample(publisher: &PublisherBot, viewers: &Mutex<BTreeMap<u64, ViewerBot>>) -> Sample {
		let p = publisher.stats();
		let viewers = viewers.lock().unwrap_or_else(|p| p.into_inner());
		Sample {
			publisher_video: p.layers.iter().map(|l| l.packets_sent).collect(),
			publisher_audio: p.audio_packets_sent,
			publisher_frames: p.frames_sent,
			publisher_last_frame: p.layers.iter().filter_map(|l| l.last_frame_number).max(),
			viewers: viewers
				.iter()
				.map(|(index, bot)| {
					let s = bot.stats();
					ViewerSample {
						index: *index,
						video: s.video_packets,
						padding: s.padding_packets,
						audio: s.audio_packets,
						frames: s.frames_complete,
						incomplete: s.frames_incomplete,
						skipped: s.frames_skipped,
						gaps: s.sequence_gaps,
						layer: s.last_layer,
						last_frame: s.last_frame_number,
					}
				})
				.collect(),
		}
	}
}

/// A thread sending forged binding requests (random usernames) at a steady rate.
struct StunFlood {
	sent: Arc<std::sync::atomic::AtomicU64>,
	stop: Arc<std::sync::atomic::AtomicBool>,
	thread: std::thread::JoinHandle<()>,
}

impl StunFlood {
	fn start(target: std::net::SocketAddr, per_second: u64) -> Self {
		use std::sync::atomic::Ordering;
		let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
		let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
		let (counter, stopped) = (sent.clone(), stop.clone());
		let thread = std::thread::spawn(move || {
			let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a flood socket");
			// Requests prepared ahead, so the flood's own cost stays out of the way.
			let requests: Vec<Vec<u8>> = (0..4096u32)
				.map(|i| {
					let user = format!("{i:08x}{:08x}:{:08x}", rand_u32(i), rand_u32(!i));
					vilokanam_media_bots::stun::binding_request(&user, [i as u8; 12])
				})
				.collect();
			let tick = Duration::from_millis(10);
			let per_tick = (per_second / 100).max(1);
			let mut next = Instant::now();
			let mut k = 0usize;
			while !stopped.load(Ordering::Relaxed) {
				for _ in 0..per_tick {
					if socket.send_to(&requests[k % requests.len()], target).is_ok() {
						counter.fetch_add(1, Ordering::Relaxed);
					}
					k += 1;
				}
				next += tick;
				std::thread::sleep(next.saturating_duration_since(Instant::now()));
			}
		});
		Self { sent, stop, thread }
	}

	fn sent(&self) -> u64 {
		self.sent.load(std::sync::atomic::Ordering::Relaxed)
	}

	fn stop(self) {
		self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
		let _ = self.thread.join();
	}
}

/// A cheap deterministic scramble (the flood needs variety, not randomness).
fn rand_u32(i: u32) -> u32 {
	i.wrapping_mul(0x9E37_79B9).rotate_left(13) ^ 0xA5A5_5A5A
}
