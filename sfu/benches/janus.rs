//! Our SFU beside a peer: Janus (Debian's `janus`, its videoroom plugin) forwarding the same bot
//! publisher to the same N bot viewers, the two alternating in one run.
//!
//! ```text
//! scripts/janus-bench.sh --viewers 200 --rounds 2     # sets up a network namespace and Janus
//! ```
//!
//! `scripts/janus-bench.sh` makes a network namespace with a veth pair (Janus 1.1.2 gathers no
//! candidate on a loopback interface), writes Janus' configuration (videoroom and the HTTP API
//! only, full ICE on the veth, its default threading: a loop per handle) and runs this
//! benchmark inside the namespace with `--janus-config`. Each round, for each server in turn:
//! - the server starts as a child process bound to `--address`: ours is this binary with
//!   `--serve-ours` (a [`MediaServer`] with full ICE, as the fan-out benchmark runs it, offers
//!   and answers over its stdin and stdout), Janus is `janus -C … -F …`, driven over its HTTP
//!   API (a session, a room with one publisher, a handle per subscriber; Janus offers to
//!   subscribers, so those bots answer);
//! - one webrtc-rs publisher bot (VP8 1.4 Mbit/s, 30 fps, a keyframe every 2 s, Opus) and
//!   `--viewers` viewer bots join (`--join-concurrency` at a time), each timed from its creation
//!   to its first complete frame;
//! - after `--warmup` seconds, a window of `--seconds` seconds is measured: the server process'
//!   CPU (utime + stime from `/proc/<pid>/stat`, every thread) over the packets its viewers
//!   received (video and audio, padding not counted), and each viewer's loss against what the
//!   publisher sent in the window.
//!
//! The same formula for both: for ours it includes the process around the engine, so it is a
//! little above the fan-out benchmark's engine-only figure. The bots run in this process, on
//! the same two cores as the server: both servers share the machine with them alike.

#[path = "common/proc.rs"]
mod proc;

use proc::{clock_ticks_per_second, stat_ticks};
use serde_json::{json, Value};
use std::{
	collections::HashMap,
	io::{BufRead, Write},
	net::IpAddr,
	path::PathBuf,
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};
use tokio::{
	io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
	process::{Child, ChildStdin, ChildStdout, Command},
	sync::{oneshot, Mutex},
};
use vilokanam_media_bots::{PublisherBot, PublisherOptions, ViewerBot};
use vilokanam_sfu::{MediaConfig, MediaRole, MediaServer, OpenGate, PeerSetup, SfuMetrics};

/// Bound on each step of a join (answer, ICE + DTLS, first frame).
const STEP: Duration = Duration::from_secs(30);
/// The videoroom's room number.
const ROOM: u64 = 1234;

#[derive(Clone, clap::Parser)]
struct Args {
	/// Run as our SFU's server process (this benchmark spawns itself with it).
	#[arg(long)]
	serve_ours: bool,
	#[arg(long, default_value_t = 50)]
	viewers: u64,
	#[arg(long, default_value_t = 10)]
	seconds: u64,
	#[arg(long, default_value_t = 3)]
	warmup: u64,
	#[arg(long, default_value_t = 1)]
	rounds: u64,
	#[arg(long, default_value_t = 32)]
	join_concurrency: usize,
	/// The address both servers bind (a non-loopback one: Janus ignores loopback interfaces).
	#[arg(long, default_value = "10.203.0.1")]
	address: IpAddr,
	/// Janus' configuration folder (`janus.jcfg` and the plugins'), as the script writes it;
	/// without it only our SFU is measured.
	#[arg(long)]
	janus_config: Option<PathBuf>,
	/// Passed by `cargo bench`; ignored.
	#[arg(long, hide = true)]
	bench: bool,
}

fn main() {
	let args = <Args as clap::Parser>::parse();
	let _ = tracing_subscriber::fmt()
		.with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
		.with_writer(std::io::stderr)
		.try_init();
	if args.serve_ours {
		serve_ours(&args);
		return;
	}
	let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
	rt.block_on(run(args));
}

// --- Our SFU's server process ---

/// One offer per stdin line (`{"role": "publisher"|"viewer", "sdp": …}`), one answer per stdout
/// line (`{"sdp": …}` or `{"error": …}`), until stdin closes.
fn serve_ours(args: &Args) {
	let config =
		MediaConfig { listen: (args.address, 0).into(), full_ice: true, ..MediaConfig::default() };
	let media = MediaServer::start(config, SfuMetrics::unregistered()).expect("the SFU starts");
	let mut out = std::io::stdout().lock();
	for line in std::io::stdin().lock().lines() {
		let Ok(line) = line else { break };
		let Ok(req) = serde_json::from_str::<Value>(&line) else { break };
		let role = match req["role"].as_str() {
			Some("publisher") => MediaRole::Publisher,
			_ => MediaRole::Viewer,
		};
		let setup = PeerSetup {
			stream_id: 1,
			role,
			gate: Arc::new(OpenGate),
			events: None,
			label: String::new(),
			seat: None,
			take_over: true,
		};
		let reply = match media.offer(req["sdp"].as_str().unwrap_or(""), setup) {
			Ok((_, sdp)) => json!({ "sdp": sdp }),
			Err(e) => json!({ "error": e.to_string() }),
		};
		if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() {
			break;
		}
	}
	media.shutdown();
}

struct Ours {
	child: Child,
	io: Mutex<(ChildStdin, tokio::io::Lines<BufReader<ChildStdout>>)>,
}

impl Ours {
	fn start(args: &Args) -> anyhow::Result<Self> {
		let exe = std::env::current_exe()?;
		let mut child = Command::new(exe)
			.args(["--serve-ours", "--address", &args.address.to_string()])
			.stdin(std::process::Stdio::piped())
			.stdout(std::process::Stdio::piped())
			.kill_on_drop(true)
			.spawn()?;
		let stdin = child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?;
		let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
		Ok(Self { child, io: Mutex::new((stdin, BufReader::new(stdout).lines())) })
	}

	async fn offer(&self, role: &str, sdp: &str) -> anyhow::Result<String> {
		let mut io = self.io.lock().await;
		let line = json!({ "role": role, "sdp": sdp }).to_string() + "\n";
		io.0.write_all(line.as_bytes()).await?;
		let reply: Value =
			serde_json::from_str(&io.1.next_line().await?.ok_or_else(|| anyhow::anyhow!("gone"))?)?;
		match reply["sdp"].as_str() {
			Some(sdp) => Ok(sdp.to_owned()),
			None => anyhow::bail!("refused: {}", reply["error"]),
		}
	}
}

// --- Janus over its HTTP API ---

type Http = hyper_util::client::legacy::Client<
	hyper_util::client::legacy::connect::HttpConnector,
	http_body_util::Full<bytes::Bytes>,
>;

struct Janus {
	child: Child,
	http: Http,
	/// `http://<address>:8088/janus/<session>`.
	session: String,
	/// Transactions whose answer comes as an event (long poll), by transaction id.
	waiting: Arc<std::sync::Mutex<HashMap<String, oneshot::Sender<Value>>>>,
	next: AtomicU64,
	/// The publisher's id in the room, once it joined.
	feed: Option<u64>,
}

async fn http_json(
	http: &Http,
	method: &str,
	url: &str,
	body: Option<&Value>,
) -> anyhow::Result<Value> {
	let req = hyper::Request::builder()
		.method(method)
		.uri(url)
		.header("content-type", "application/json")
		.body(http_body_util::Full::new(bytes::Bytes::from(
			body.map(|b| b.to_string()).unwrap_or_default(),
		)))?;
	let res = http.request(req).await?;
	let bytes = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
	Ok(serde_json::from_slice::<Value>(&bytes)?)
}

impl Janus {
	async fn start(args: &Args, config: &std::path::Path) -> anyhow::Result<Self> {
		let log = std::fs::File::create(config.join("janus.out"))?;
		let child = Command::new("janus")
			.arg("-C")
			.arg(config.join("janus.jcfg"))
			.arg("-F")
			.arg(config)
			.stdout(log.try_clone()?)
			.stderr(log)
			.kill_on_drop(true)
			.spawn()?;
		let http: Http =
			hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
				.build_http();
		let base = format!("http://{}:8088/janus", args.address);
		let create = json!({ "janus": "create", "transaction": "create" });
		let deadline = Instant::now() + Duration::from_secs(15);
		let id = loop {
			match http_json(&http, "POST", &base, Some(&create)).await {
				Ok(v) if v["data"]["id"].is_u64() => break v["data"]["id"].as_u64().unwrap_or(0),
				r if Instant::now() > deadline => anyhow::bail!("Janus did not answer: {r:?}"),
				_ => tokio::time::sleep(Duration::from_millis(200)).await,
			}
		};
		let janus = Self {
			child,
			http,
			session: format!("{base}/{id}"),
			waiting: Arc::default(),
			next: AtomicU64::new(1),
			feed: None,
		};
		janus.poll_events();
		let admin = janus.attach().await?;
		let created = janus
			.message(
				admin,
				json!({
					"request": "create", "room": ROOM, "publishers": 1, "bitrate": 0,
					"fir_freq": 0, "audiocodec": "opus", "videocodec": "vp8",
				}),
				None,
			)
			.await?;
		anyhow::ensure!(created["plugindata"]["data"]["videoroom"] == "created", "room: {created}");
		Ok(janus)
	}

	/// Long-poll the session's events for as long as it lives, handing each to the request
	/// that waits for it.
	fn poll_events(&self) {
		let (http, url, waiting) =
			(self.http.clone(), format!("{}?maxev=50", self.session), self.waiting.clone());
		tokio::spawn(async move {
			loop {
				let Ok(v) = http_json(&http, "GET", &url, None).await else { return };
				let events =
					if v.is_array() { v.as_array().cloned().unwrap_or_default() } else { vec![v] };
				for e in events {
					// Acks and keepalives are not what anyone waits for.
					if e["janus"] != "event" {
						continue;
					}
					let Some(t) = e["transaction"].as_str() else { continue };
					let tx = waiting.lock().unwrap_or_else(|p| p.into_inner()).remove(t);
					if let Some(tx) = tx {
						let _ = tx.send(e);
					}
				}
			}
		});
	}

	fn transaction(&self) -> String {
		format!("t{}", self.next.fetch_add(1, Ordering::Relaxed))
	}

	async fn attach(&self) -> anyhow::Result<u64> {
		let body = json!({ "janus": "attach", "plugin": "janus.plugin.videoroom", "transaction": self.transaction() });
		let v = http_json(&self.http, "POST", &self.session, Some(&body)).await?;
		v["data"]["id"].as_u64().ok_or_else(|| anyhow::anyhow!("attach: {v}"))
	}

	/// A plugin message; its answer, whether synchronous or as an event.
	async fn message(
		&self,
		handle: u64,
		body: Value,
		jsep: Option<Value>,
	) -> anyhow::Result<Value> {
		let t = self.transaction();
		let mut msg = json!({ "janus": "message", "body": body, "transaction": t });
		if let Some(j) = jsep {
			msg["jsep"] = j;
		}
		let (tx, rx) = oneshot::channel();
		self.waiting.lock().unwrap_or_else(|p| p.into_inner()).insert(t.clone(), tx);
		let url = format!("{}/{handle}", self.session);
		let v = http_json(&self.http, "POST", &url, Some(&msg)).await?;
		if v["janus"] != "ack" {
			self.waiting.lock().unwrap_or_else(|p| p.into_inner()).remove(&t);
			return Ok(v);
		}
		Ok(tokio::time::timeout(STEP, rx).await??)
	}

	async fn publish(&mut self, offer: &str) -> anyhow::Result<String> {
		let handle = self.attach().await?;
		let body = json!({ "request": "joinandconfigure", "room": ROOM, "ptype": "publisher", "audio": true, "video": true });
		let jsep = json!({ "type": "offer", "sdp": offer, "trickle": false });
		let e = self.message(handle, body, Some(jsep)).await?;
		self.feed = e["plugindata"]["data"]["id"].as_u64();
		e["jsep"]["sdp"].as_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("publish: {e}"))
	}

	/// A subscriber handle and Janus' offer for it.
	async fn subscribe(&self) -> anyhow::Result<(u64, String)> {
		let feed = self.feed.ok_or_else(|| anyhow::anyhow!("no publisher yet"))?;
		let handle = self.attach().await?;
		let body = json!({ "request": "join", "room": ROOM, "ptype": "subscriber", "streams": [{ "feed": feed }] });
		let e = self.message(handle, body, None).await?;
		let offer = e["jsep"]["sdp"].as_str().ok_or_else(|| anyhow::anyhow!("subscribe: {e}"))?;
		Ok((handle, offer.to_owned()))
	}

	async fn start_subscriber(&self, handle: u64, answer: &str) -> anyhow::Result<()> {
		let jsep = json!({ "type": "answer", "sdp": answer, "trickle": false });
		let e = self.message(handle, json!({ "request": "start" }), Some(jsep)).await?;
		anyhow::ensure!(e["plugindata"]["data"]["started"] == "ok", "start: {e}");
		Ok(())
	}
}

// --- The run ---

enum Server {
	Ours(Ours),
	Janus(Janus),
}

impl Server {
	fn name(&self) -> &'static str {
		match self {
			Self::Ours(_) => "ours",
			Self::Janus(_) => "janus",
		}
	}

	fn pid(&self) -> u32 {
		match self {
			Self::Ours(o) => o.child.id(),
			Self::Janus(j) => j.child.id(),
		}
		.unwrap_or(0)
	}

	async fn publish(&mut self, offer: &str) -> anyhow::Result<String> {
		match self {
			Self::Ours(o) => o.offer("publisher", offer).await,
			Self::Janus(j) => j.publish(offer).await,
		}
	}

	/// A viewer bot connected through this server, the ms from its creation to its first
	/// complete frame, and whether that frame was a keyframe.
	async fn join(&self) -> anyhow::Result<(ViewerBot, u64, bool)> {
		let started = Instant::now();
		let bot = match self {
			Self::Ours(o) => {
				let (bot, offer) = ViewerBot::new().await?;
				bot.accept_answer(&o.offer("viewer", &offer).await?).await?;
				bot
			},
			Self::Janus(j) => {
				let (handle, offer) = j.subscribe().await?;
				let (bot, answer) = ViewerBot::answer(&offer).await?;
				j.start_subscriber(handle, &answer).await?;
				bot
			},
		};
		bot.wait_connected(STEP).await?;
		let s = bot.wait_for_frames(1, STEP).await?;
		let ms = started.elapsed().as_millis() as u64;
		Ok((bot, ms, s.first_video_frame_is_keyframe == Some(true)))
	}
}

/// What one round measured on one server.
struct Round {
	server: &'static str,
	joined: usize,
	failed: usize,
	first_frame_ms: Vec<u64>,
	/// Viewers whose first complete frame was a keyframe.
	first_is_key: usize,
	us_per_packet: f64,
	cpu_share: f64,
	packets_per_sec: f64,
	/// Per viewer, sorted.
	loss: Vec<f64>,
}

fn pct<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
	(!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

async fn measure(mut server: Server, args: &Args) -> anyhow::Result<Round> {
	let (publisher, offer) = PublisherBot::new(PublisherOptions::default()).await?;
	publisher.accept_answer(&server.publish(&offer).await?).await?;
	publisher.wait_connected(STEP).await?;
	publisher.start();
	tokio::time::sleep(Duration::from_millis(500)).await;

	let server = Arc::new(server);
	let gate = Arc::new(tokio::sync::Semaphore::new(args.join_concurrency));
	let joins = (0..args.viewers).map(|_| {
		let (server, gate) = (server.clone(), gate.clone());
		tokio::spawn(async move {
			let _permit = gate.acquire_owned().await;
			server.join().await
		})
	});
	let mut viewers = Vec::new();
	let mut failures: HashMap<String, usize> = HashMap::new();
	for r in futures::future::join_all(joins).await {
		match r {
			Ok(Ok(v)) => viewers.push(v),
			Ok(Err(e)) => *failures.entry(format!("{e:#}")).or_default() += 1,
			Err(e) => *failures.entry(e.to_string()).or_default() += 1,
		}
	}
	for (e, n) in &failures {
		eprintln!("{}: {n} viewers failed: {e}", server.name());
	}
	tokio::time::sleep(Duration::from_secs(args.warmup)).await;

	let pid = server.pid();
	let received = |v: &ViewerBot| {
		let s = v.stats();
		s.video_packets - s.padding_packets + s.audio_packets
	};
	let sent = |p: &PublisherBot| {
		let s = p.stats();
		s.packets_sent + s.audio_packets_sent
	};
	let (t0, cpu0, sent0) =
		(Instant::now(), stat_ticks(&format!("/proc/{pid}/stat")), sent(&publisher));
	let got0: Vec<u64> = viewers.iter().map(|(v, _, _)| received(v)).collect();
	tokio::time::sleep(Duration::from_secs(args.seconds)).await;
	let (cpu1, sent1) = (stat_ticks(&format!("/proc/{pid}/stat")), sent(&publisher));
	let got1: Vec<u64> = viewers.iter().map(|(v, _, _)| received(v)).collect();
	let elapsed = t0.elapsed().as_secs_f64();

	let published = (sent1 - sent0).max(1) as f64;
	let packets: u64 = got1.iter().zip(&got0).map(|(b, a)| b - a).sum();
	let cpu_s = (cpu1 - cpu0) as f64 / clock_ticks_per_second();
	let mut loss: Vec<f64> =
		got1.iter().zip(&got0).map(|(b, a)| (1.0 - (b - a) as f64 / published).max(0.0)).collect();
	loss.sort_by(|a, b| a.total_cmp(b));
	let mut first_frame_ms: Vec<u64> = viewers.iter().map(|(_, ms, _)| *ms).collect();
	let first_is_key = viewers.iter().filter(|(_, _, key)| *key).count();
	first_frame_ms.sort();

	let closing = futures::future::join_all(viewers.iter().map(|(v, _, _)| v.close()));
	let _ = tokio::time::timeout(Duration::from_secs(10), closing).await;
	let _ = publisher.close().await;
	let name = server.name();
	if let Ok(server) = Arc::try_unwrap(server) {
		stop(server).await;
	}
	Ok(Round {
		server: name,
		joined: viewers.len(),
		failed: failures.values().sum(),
		first_frame_ms,
		first_is_key,
		us_per_packet: cpu_s / packets.max(1) as f64 * 1e6,
		cpu_share: cpu_s / elapsed,
		packets_per_sec: packets as f64 / elapsed,
		loss,
	})
}

async fn stop(server: Server) {
	let mut child = match server {
		Server::Ours(o) => o.child,
		Server::Janus(j) => j.child,
	};
	if let Some(pid) = child.id() {
		// SAFETY: a signal to our own child.
		unsafe { libc::kill(pid as i32, libc::SIGTERM) };
	}
	if tokio::time::timeout(Duration::from_secs(5), child.wait()).await.is_err() {
		let _ = child.kill().await;
	}
}

fn print(r: &Round) {
	let ms = |p| pct(&r.first_frame_ms, p).map_or_else(|| String::from("-"), |v| v.to_string());
	let loss =
		|p| pct(&r.loss, p).map_or_else(|| String::from("-"), |v| format!("{:.2}", v * 100.0));
	let under = r.loss.iter().filter(|l| **l < 0.01).count();
	println!(
		"  {:5}: {} joined, {} failed; {:.2} µs CPU per forwarded packet ({:.0} % of a core, \
		 {:.0} packets/s to viewers); loss % median {} worst {}, {under} of {} under 1 %; \
		 creation → first frame ms p50 {} p95 {} max {} (a keyframe for {})",
		r.server,
		r.joined,
		r.failed,
		r.us_per_packet,
		r.cpu_share * 100.0,
		r.packets_per_sec,
		loss(0.5),
		loss(1.0),
		r.loss.len(),
		ms(0.5),
		ms(0.95),
		ms(1.0),
		r.first_is_key,
	);
}

async fn run(args: Args) {
	println!(
		"janus bench: {} viewers, window {} s after {} s, {} round(s), servers on {}",
		args.viewers, args.seconds, args.warmup, args.rounds, args.address
	);
	let mut all: Vec<Round> = Vec::new();
	for round in 1..=args.rounds {
		for janus in [false, true] {
			let server = match (janus, &args.janus_config) {
				(false, _) => Server::Ours(Ours::start(&args).expect("our server starts")),
				(true, Some(dir)) => {
					Server::Janus(Janus::start(&args, dir).await.expect("Janus starts"))
				},
				(true, None) => continue,
			};
			println!("round {round}, {}:", server.name());
			match measure(server, &args).await {
				Ok(r) => {
					print(&r);
					all.push(r);
				},
				Err(e) => println!("  failed: {e:#}"),
			}
		}
	}
	let mean = |name: &str| {
		let us: Vec<f64> =
			all.iter().filter(|r| r.server == name).map(|r| r.us_per_packet).collect();
		(!us.is_empty()).then(|| us.iter().sum::<f64>() / us.len() as f64)
	};
	if let (Some(ours), Some(janus)) = (mean("ours"), mean("janus")) {
		println!(
			"mean over the rounds: ours {ours:.2} µs, Janus {janus:.2} µs per forwarded packet: \
			 ours/Janus = {:.2}",
			ours / janus
		);
	}
}
