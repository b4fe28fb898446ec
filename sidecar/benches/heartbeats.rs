//! Heartbeat load benchmark.
//!
//! ```text
//! scripts/bench.sh heartbeats --viewers 20000 --seconds 20
//! ```
//!
//! Starts the sidecar in this process (its own tokio runtime) with a chain view seeded without
//! a node: one live stream and `--viewers` open sessions whose viewers have sr25519 keys. The
//! clients run in a second process (this binary again, `--role clients`): it signs and
//! serializes every voucher before the clock starts, opens `--viewers` WebSocket connections
//! that authenticate and watch, and then each sends one heartbeat per second, the connections'
//! sending instants spread evenly across the second, for `--warmup` + `--seconds` seconds. Only
//! the last `--seconds` are measured. The two processes agree on the start over the child's
//! stdin and stdout.
//!
//! Reported: acknowledged heartbeats per second, client-side ack latency (send → ack received)
//! p50/p99/max, server CPU-seconds per heartbeat (the server's threads, read from
//! `/proc/self/task/*/schedstat`), the client process's CPU-seconds, and memory per connection
//! at each end (RSS growth over opening the connections / N).
//!
//! Options: `--viewers N` (20000), `--seconds S` (20), `--warmup W` (3), `--rate R` heartbeats
//! per second per connection (1), `--verifier-threads T` (0: the server's default),
//! `--server-threads T` (2), `--client-threads T` (2), `--group-window-ms M` (2).
//!
//! Each connection costs a file descriptor in each process: where the hard `RLIMIT_NOFILE`
//! cannot be raised (no `CAP_SYS_RESOURCE`), N is capped near it, and `--rate` is the way to
//! offer more heartbeats per second.

use futures::{SinkExt, StreamExt};
use sp_core::{sr25519, Pair, H256};
use std::{
	collections::BTreeMap,
	io::{BufRead, Write},
	net::{Ipv4Addr, SocketAddr, SocketAddrV4},
	sync::Arc,
	time::{Duration, Instant},
};
use tokio::{net::TcpSocket, sync::watch};
use tokio_tungstenite::{
	tungstenite::{Message, Utf8Bytes},
	WebSocketStream,
};
use vilokanam_chain_client::{voucher, Signature, StreamStatus, VoucherEncoding};
use vilokanam_sidecar::{
	access::identity,
	chain::view::{account_of, SessionEntry, StreamEntry},
	protocol::{self, ClientMessage, Crypto, Encoding, HexBytes, ServerMessage, Signer},
	store::StoreConfig,
	transport::http,
	ChainView, Metrics, Settings, Sidecar, Store,
};

const STREAM_ID: u64 = 1;
const PRICE: u128 = 1_000_000;
/// Descriptors a process keeps beside its connections (listener, database, pipes, runtime).
const RESERVED_FDS: u64 = 100;
/// Connections opened concurrently during setup.
const CONNECT_CONCURRENCY: usize = 256;
/// Client connections per loopback source address (the ephemeral port range is ~28k).
const PER_SOURCE_IP: usize = 16_000;

/// The options listed in the module doc.
#[derive(clap::Parser)]
struct Args {
	#[arg(long, default_value_t = 20_000)]
	viewers: usize,
	#[arg(long, default_value_t = 20)]
	seconds: u64,
	#[arg(long, default_value_t = 3)]
	warmup: u64,
	#[arg(long, default_value_t = 0)]
	verifier_threads: usize,
	#[arg(long, default_value_t = 2)]
	server_threads: usize,
	#[arg(long, default_value_t = 2)]
	client_threads: usize,
	#[arg(long, default_value_t = 2)]
	group_window_ms: u64,
	#[arg(long, default_value_t = 1)]
	rate: u64,
	/// `server` (what is run) or `clients` (the child process the server starts).
	#[arg(long, value_enum, default_value_t = BenchRole::Server, hide = true)]
	role: BenchRole,
	/// The server's address (clients only).
	#[arg(long, hide = true)]
	server: Option<SocketAddr>,
	/// The chain view's genesis, hex (clients only).
	#[arg(long, hide = true)]
	genesis: Option<String>,
	/// Passed by `cargo bench`; ignored.
	#[arg(long, hide = true)]
	bench: bool,
}

/// Which process this is.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchRole {
	Server,
	Clients,
}

fn parse_args() -> Args {
	let mut a = <Args as clap::Parser>::parse();
	a.viewers = a.viewers.max(1);
	a.seconds = a.seconds.max(1);
	a.rate = a.rate.max(1);
	a
}

/// Raise the open-files limit towards `needed`; returns the limit in force.
fn raise_nofile(needed: u64) -> u64 {
	// SAFETY: plain system calls on a local, initialized struct.
	unsafe {
		let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
		if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
			eprintln!("getrlimit failed");
			return 1024;
		}
		if lim.rlim_cur >= needed {
			return lim.rlim_cur;
		}
		let want =
			libc::rlimit { rlim_cur: needed.max(lim.rlim_cur), rlim_max: needed.max(lim.rlim_max) };
		if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
			return needed;
		}
		// Not allowed to raise the hard limit (no CAP_SYS_RESOURCE): take what we may.
		let soft = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
		if libc::setrlimit(libc::RLIMIT_NOFILE, &soft) == 0 {
			lim.rlim_max
		} else {
			lim.rlim_cur
		}
	}
}

fn rss_bytes() -> u64 {
	let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
	let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
	pages * 4096
}

/// CPU nanoseconds of this process's threads, grouped as server / client / other by thread name.
#[derive(Default, Clone, Copy, Debug)]
struct Cpu {
	server: u64,
	client: u64,
	other: u64,
}

fn thread_cpu() -> Cpu {
	let mut cpu = Cpu::default();
	let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return cpu };
	for task in tasks.flatten() {
		let path = task.path();
		let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
		let comm = comm.trim();
		// schedstat: nanoseconds on CPU (precise); stat: clock ticks (fallback).
		let ns = std::fs::read_to_string(path.join("schedstat"))
			.ok()
			.and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
			.unwrap_or_else(|| {
				let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
				let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
				// By position, not by what parses: the state is a letter and tpgid may be -1.
				// Fields 14 and 15 (utime, stime) are the 12th and 13th after the comm.
				let f: Vec<&str> = after.split_whitespace().collect();
				let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
				(field(11) + field(12)) * 10_000_000
			});
		if comm.starts_with("bench-server") || comm.starts_with("sidecar-") {
			cpu.server += ns;
		} else if comm.starts_with("bench-client") {
			cpu.client += ns;
		} else {
			cpu.other += ns;
		}
	}
	cpu
}

/// Nanoseconds the whole machine spent busy (all CPUs, all processes), from `/proc/stat`.
fn machine_busy_ns() -> u64 {
	let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
	let Some(line) = stat.lines().next() else { return 0 };
	let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
	let total: u64 = f.iter().take(8).sum();
	let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
	// USER_HZ is 100 on Linux.
	total.saturating_sub(idle) * 10_000_000
}

/// A viewer and its pre-serialized heartbeats.
struct Viewer {
	pair: sr25519::Pair,
	session_id: u64,
	heartbeats: Arc<Vec<Utf8Bytes>>,
}

fn presign(genesis: H256, n: usize, count: u64, threads: usize) -> Vec<Viewer> {
	let chunks: Vec<Vec<usize>> = {
		let per = n.div_ceil(threads.max(1));
		(0..n).collect::<Vec<_>>().chunks(per.max(1)).map(|c| c.to_vec()).collect()
	};
	let mut out: Vec<Option<Viewer>> = (0..n).map(|_| None).collect();
	std::thread::scope(|scope| {
		let handles: Vec<_> = chunks
			.into_iter()
			.map(|chunk| {
				scope.spawn(move || {
					chunk
						.into_iter()
						.map(|i| {
							let pair = viewer_pair(i);
							let session_id = i as u64;
							let heartbeats = (1..=count)
								.map(|c| {
									let Signature::Sr25519(sig) = voucher::sign(
										&pair,
										&genesis,
										session_id,
										c,
										VoucherEncoding::Raw,
									) else {
										unreachable!("voucher::sign signs sr25519")
									};
									Utf8Bytes::from(protocol::encode_client(
										&ClientMessage::Heartbeat {
											session_id,
											cumulative_seconds: c,
											encoding: Encoding::Raw,
											crypto: Crypto::Sr25519,
											signature: HexBytes(sig.0),
											signer: Signer::Viewer,
										},
									))
								})
								.collect();
							(i, Viewer { pair, session_id, heartbeats: Arc::new(heartbeats) })
						})
						.collect::<Vec<_>>()
				})
			})
			.collect();
		for h in handles {
			for (i, v) in h.join().expect("signing thread") {
				out[i] = Some(v);
			}
		}
	});
	out.into_iter().map(|v| v.expect("every viewer signed")).collect()
}

type Ws = WebSocketStream<tokio::net::TcpStream>;

async fn next_server_message(ws: &mut Ws) -> Result<ServerMessage, String> {
	loop {
		match ws.next().await {
			Some(Ok(Message::Text(t))) => {
				return protocol::decode_server(t.as_str()).map_err(|e| e.to_string())
			},
			Some(Ok(_)) => continue,
			Some(Err(e)) => return Err(e.to_string()),
			None => return Err("closed".into()),
		}
	}
}

async fn expect<F: Fn(&ServerMessage) -> bool>(
	ws: &mut Ws,
	what: &str,
	f: F,
) -> Result<ServerMessage, String> {
	loop {
		let m = next_server_message(ws).await?;
		if f(&m) {
			return Ok(m);
		}
		if let ServerMessage::Error { code, message, .. } = &m {
			return Err(format!("waiting for {what}: error {code:?}: {message}"));
		}
		// stats and the like: skip.
	}
}

/// Connect, authenticate and watch.
async fn open(server: SocketAddr, source: Ipv4Addr, viewer: &Viewer) -> Result<Ws, String> {
	let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
	socket.bind(SocketAddr::V4(SocketAddrV4::new(source, 0))).map_err(|e| format!("bind: {e}"))?;
	let tcp = socket.connect(server).await.map_err(|e| format!("connect: {e}"))?;
	tcp.set_nodelay(true).map_err(|e| e.to_string())?;
	let url = format!("ws://{server}/ws");
	let (mut ws, _) =
		tokio_tungstenite::client_async_with_config(url, tcp, Some(http::ws_config(64 * 1024)))
			.await
			.map_err(|e| format!("handshake: {e}"))?;
	let ServerMessage::Challenge { nonce, genesis, audience } =
		expect(&mut ws, "challenge", |m| matches!(m, ServerMessage::Challenge { .. })).await?
	else {
		unreachable!()
	};
	let signature = identity::sign_auth_sr25519(
		&viewer.pair,
		&H256(genesis.0),
		&audience,
		&nonce.0,
		Encoding::Raw,
	);
	let auth = ClientMessage::Auth {
		account: protocol::account_to_ss58(&account_of(&viewer.pair)),
		crypto: Crypto::Sr25519,
		signature: HexBytes(signature),
		encoding: Encoding::Raw,
		session_id: None,
	};
	ws.send(Message::text(protocol::encode_client(&auth))).await.map_err(|e| e.to_string())?;
	expect(&mut ws, "authenticated", |m| matches!(m, ServerMessage::Authenticated { .. })).await?;
	let watch = ClientMessage::Watch { stream_id: STREAM_ID, session_id: viewer.session_id };
	ws.send(Message::text(protocol::encode_client(&watch))).await.map_err(|e| e.to_string())?;
	expect(&mut ws, "joined", |m| matches!(m, ServerMessage::Joined { .. })).await?;
	expect(&mut ws, "chat_history", |m| matches!(m, ServerMessage::ChatHistory { .. })).await?;
	Ok(ws)
}

/// What one connection saw during the run.
#[derive(Default)]
struct Outcome {
	/// Ack latencies (µs) of the measured heartbeats.
	latencies_us: Vec<u32>,
	/// (Index of the heartbeat, latency µs), for the per-second breakdown.
	by_beat: Vec<(u32, u32)>,
	/// Acks received inside the measured window.
	acks_in_window: u64,
	/// Errors by code.
	errors: BTreeMap<String, u64>,
	/// Heartbeats never acknowledged.
	missing: u64,
	/// The connection's index (its sending offset within the period).
	index: usize,
}

/// The cumulative in an ack frame, parsed without a full JSON decode.
fn ack_cumulative(text: &str) -> Option<u64> {
	if !text.starts_with(r#"{"v":1,"type":"ack""#) {
		return None;
	}
	let at = text.find(r#""cumulative_seconds":"#)? + r#""cumulative_seconds":"#.len();
	let digits: String = text[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
	digits.parse().ok()
}

/// When a connection sends, and what is measured.
#[derive(Clone, Copy)]
struct Schedule {
	/// The first heartbeat; then one every `period`.
	first_send: tokio::time::Instant,
	period: Duration,
	/// Heartbeats not measured at the start.
	warmup: u64,
	/// The measured window (acks received in it are counted).
	window: (Instant, Instant),
	/// When to close (after every connection is done).
	close_at: tokio::time::Instant,
}

async fn drive(index: usize, mut ws: Ws, heartbeats: Arc<Vec<Utf8Bytes>>, at: Schedule) -> Outcome {
	let Schedule { first_send, period, warmup, window, close_at } = at;
	let total = heartbeats.len();
	let mut sent_at: Vec<Option<Instant>> = vec![None; total];
	let mut acked = vec![false; total];
	let mut out = Outcome { index, ..Outcome::default() };
	let mut next = 0usize;
	let mut outstanding = 0usize;
	let sleep = tokio::time::sleep_until(first_send);
	tokio::pin!(sleep);
	// Whatever is still unacknowledged 5 s after the last send is missing.
	let give_up =
		tokio::time::sleep_until(first_send + period * total as u32 + Duration::from_secs(5));
	tokio::pin!(give_up);
	loop {
		if next >= total && outstanding == 0 {
			break;
		}
		tokio::select! {
			_ = &mut sleep, if next < total => {
				sent_at[next] = Some(Instant::now());
				if ws.send(Message::Text(heartbeats[next].clone())).await.is_err() {
					*out.errors.entry("send failed".into()).or_default() += 1;
					break;
				}
				next += 1;
				outstanding += 1;
				sleep.as_mut().reset(first_send + period * next as u32);
			},
			msg = ws.next() => match msg {
				Some(Ok(Message::Text(t))) => {
					let now = Instant::now();
					if let Some(c) = ack_cumulative(t.as_str()) {
						let k = (c as usize).wrapping_sub(1);
						if k < total && !acked[k] {
							acked[k] = true;
							outstanding = outstanding.saturating_sub(1);
							if now >= window.0 && now < window.1 {
								out.acks_in_window += 1;
							}
							if k as u64 >= warmup {
								if let Some(t0) = sent_at[k] {
									let l = now.duration_since(t0).as_micros().min(u32::MAX as u128) as u32;
									out.latencies_us.push(l);
									out.by_beat.push((k as u32, l));
								}
							}
						}
					} else if t.as_str().starts_with(r#"{"v":1,"type":"error""#) {
						let code = match protocol::decode_server(t.as_str()) {
							Ok(ServerMessage::Error { code, .. }) => code.as_str().to_owned(),
							_ => "undecodable".into(),
						};
						*out.errors.entry(code).or_default() += 1;
						outstanding = outstanding.saturating_sub(1);
					}
				},
				Some(Ok(_)) => {},
				_ => {
					*out.errors.entry("connection closed".into()).or_default() += 1;
					break;
				},
			},
			_ = &mut give_up => break,
		}
	}
	out.missing = acked.iter().filter(|a| !**a).count() as u64;
	// Close only once every connection is done, so that closing does not load the server while
	// others still wait for acks.
	tokio::time::sleep_until(close_at).await;
	let _ = ws.close(None).await;
	out
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
	if sorted.is_empty() {
		return f64::NAN;
	}
	let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
	sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

fn main() {
	let args = parse_args();
	match args.role {
		BenchRole::Server => run_server(args),
		BenchRole::Clients => run_clients(args),
	}
}

/// The viewer keys of connection `i`: the server and the client process derive the same ones.
fn viewer_pair(i: usize) -> sr25519::Pair {
	let mut seed = [0u8; 32];
	seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
	seed[31] = 0x5a;
	sr25519::Pair::from_seed(&seed)
}

fn unix_ms() -> u64 {
	vilokanam_sidecar::clock::unix_ms()
}

/// The tokio instant of Unix time `ms` (both processes read the same wall clock).
fn instant_at(ms: u64) -> tokio::time::Instant {
	let now_ms = unix_ms();
	tokio::time::Instant::now() + Duration::from_millis(ms.saturating_sub(now_ms))
}

/// What the client process reports, as one JSON line.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct ClientReport {
	opened: usize,
	samples: usize,
	p50_ms: f64,
	p99_ms: f64,
	p999_ms: f64,
	max_ms: f64,
	acks_in_window: u64,
	missing: u64,
	errors: BTreeMap<String, u64>,
	/// CPU-seconds of the whole client process inside the measured window.
	cpu_s: f64,
	/// RSS growth of the client process over opening its connections.
	rss_delta_bytes: u64,
}

/// The server: the sidecar with a seeded chain view, measured; the clients run in a child
/// process (this binary with `--role clients`), so that their work is not the server's.
fn run_server(mut args: Args) {
	// One descriptor per connection here (the other end is in the client process).
	let limit = raise_nofile(args.viewers as u64 + RESERVED_FDS);
	let max_viewers = limit.saturating_sub(RESERVED_FDS) as usize;
	if args.viewers > max_viewers {
		println!(
			"warning: RLIMIT_NOFILE is {limit} and cannot be raised: {} connections do not fit beside the server's own files, using {max_viewers} (use --rate to offer more heartbeats per second)",
			args.viewers
		);
		args.viewers = max_viewers.max(1);
	}
	let n = args.viewers;
	let total_beats = (args.warmup + args.seconds) * args.rate;
	println!(
		"heartbeats bench: {n} viewers x {} heartbeats/s, {} s measured after {} s warmup; server {} worker + {} verifier threads (0: auto), clients in their own process with {} threads, group window {} ms",
		args.rate, args.seconds, args.warmup, args.server_threads, args.verifier_threads, args.client_threads, args.group_window_ms
	);

	// The chain view, seeded without a node: every viewer's session, opened long enough ago
	// for every heartbeat of the run.
	let genesis = H256(rand::random());
	let chain = ChainView::offline(genesis);
	let creator = sr25519::Pair::from_seed(&[0xcc; 32]);
	chain.insert_stream(StreamEntry::new(
		STREAM_ID,
		account_of(&creator),
		PRICE,
		StreamStatus::Live,
	));
	let opened_at = unix_ms().saturating_sub((total_beats + 120) * 1000);
	for i in 0..n {
		chain.insert_session(SessionEntry::new(
			i as u64,
			account_of(&viewer_pair(i)),
			STREAM_ID,
			PRICE,
			opened_at,
			u64::MAX / 2,
			0,
		));
	}

	let dir = tempfile::tempdir().expect("tempdir");
	let server_rt = tokio::runtime::Builder::new_multi_thread()
		.worker_threads(args.server_threads)
		.thread_name("bench-server")
		.enable_all()
		.build()
		.expect("server runtime");
	let metrics = Metrics::new().expect("metrics");
	let (shutdown_tx, shutdown_rx) = watch::channel(false);
	let (addr, sidecar) = server_rt.block_on(async {
		let store = Store::open_with(
			dir.path().join("bench.sqlite"),
			StoreConfig {
				group_window: Duration::from_millis(args.group_window_ms),
				..StoreConfig::default()
			},
		)
		.expect("store");
		let sidecar = Sidecar::new(
			chain.clone(),
			store,
			metrics.clone(),
			Settings {
				verifier_threads: args.verifier_threads,
				// Tens of thousands of connections from a few loopback addresses.
				limits: vilokanam_sidecar::access::admission::Limits::off(),
				..Settings::default()
			},
		);
		sidecar.spawn_background();
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
		let addr = listener.local_addr().expect("addr");
		tokio::spawn(http::serve(listener, sidecar.clone(), shutdown_rx));
		(addr, sidecar)
	});

	let rss_before = rss_bytes();
	let t = Instant::now();
	let exe = std::env::current_exe().expect("this executable");
	let child = std::process::Command::new(exe)
		.args([
			"--role".to_owned(),
			"clients".to_owned(),
			"--server".to_owned(),
			addr.to_string(),
			"--genesis".to_owned(),
			hex::encode(genesis.0),
			"--viewers".to_owned(),
			n.to_string(),
			"--seconds".to_owned(),
			args.seconds.to_string(),
			"--warmup".to_owned(),
			args.warmup.to_string(),
			"--rate".to_owned(),
			args.rate.to_string(),
			"--client-threads".to_owned(),
			args.client_threads.to_string(),
		])
		.stdin(std::process::Stdio::piped())
		.stdout(std::process::Stdio::piped())
		.spawn()
		.expect("start the client process");
	let mut child = Reaped(child);
	let mut to_child = child.0.stdin.take().expect("child stdin");
	let mut from_child =
		std::io::BufReader::new(child.0.stdout.take().expect("child stdout")).lines();
	// Forward the child's progress until it has opened its connections.
	let opened = loop {
		let Some(Ok(line)) = from_child.next() else {
			println!("the client process ended before connecting");
			return;
		};
		match line.strip_prefix("READY ") {
			Some(count) => break count.parse::<usize>().unwrap_or(0),
			None => println!("clients: {line}"),
		}
	};
	let rss_after = rss_bytes();
	println!(
		"opened, authenticated and joined {opened} connections in {:.1} s (signing included)",
		t.elapsed().as_secs_f64()
	);
	if opened == 0 {
		return;
	}

	// Connection i sends at start + (i/N + k) × period; the window follows the warmup.
	let start_ms = unix_ms() + 500;
	writeln!(to_child, "START {start_ms}").expect("tell the clients when to start");
	to_child.flush().expect("flush");
	let window_start_ms = start_ms + args.warmup * 1000;
	let window_end_ms = window_start_ms + args.seconds * 1000;
	let snapshot = || (metrics.heartbeats_accepted.get(), thread_cpu(), machine_busy_ns());
	let (accepted_start, cpu_start, busy_start) = server_rt.block_on(async {
		tokio::time::sleep_until(instant_at(window_start_ms)).await;
		snapshot()
	});
	let (accepted_end, cpu_end, busy_end) = server_rt.block_on(async {
		tokio::time::sleep_until(instant_at(window_end_ms)).await;
		snapshot()
	});
	let report: ClientReport = loop {
		let Some(Ok(line)) = from_child.next() else {
			println!("the client process ended without a report");
			return;
		};
		match line.strip_prefix("RESULT ") {
			Some(json) => break serde_json::from_str(json).expect("the client report"),
			None => println!("clients: {line}"),
		}
	};
	drop(child);

	let secs = args.seconds as f64;
	let server_accepted = accepted_end - accepted_start;
	let server_cpu = (cpu_end.server - cpu_start.server) as f64 / 1e9;
	let other_cpu = (cpu_end.other - cpu_start.other) as f64 / 1e9;
	let machine_busy = (busy_end.saturating_sub(busy_start)) as f64 / 1e9;
	let other_processes = (machine_busy - server_cpu - other_cpu - report.cpu_s).max(0.0);

	println!("--- results ({} s window) ---", args.seconds);
	println!(
		"acks received by clients in window: {} = {:.0} heartbeats/s",
		report.acks_in_window,
		report.acks_in_window as f64 / secs
	);
	println!(
		"accepted by the server in window:   {server_accepted} = {:.0} heartbeats/s",
		server_accepted as f64 / secs
	);
	println!(
		"ack latency (client send -> ack received, {} samples): p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
		report.samples, report.p50_ms, report.p99_ms, report.p999_ms, report.max_ms
	);
	println!("unacknowledged heartbeats: {}; errors: {:?}", report.missing, report.errors);
	println!(
		"server CPU: {server_cpu:.2} s in {secs} s ({:.0}% of one core) = {:.1} µs per heartbeat (server threads only)",
		100.0 * server_cpu / secs,
		1e6 * server_cpu / server_accepted.max(1) as f64
	);
	println!(
		"client process CPU: {:.2} s ({:.1} µs per heartbeat); the server process's other threads: {other_cpu:.2} s",
		report.cpu_s,
		1e6 * report.cpu_s / server_accepted.max(1) as f64
	);
	println!(
		"other processes on this machine used {other_processes:.2} CPU-s during the window ({:.0}% of one core; {} CPUs)",
		100.0 * other_processes / secs,
		std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
	);
	println!(
		"memory: server RSS {:.0} MiB -> {:.0} MiB over {opened} connections = {:.1} KiB per connection; client process {:.1} KiB per connection",
		rss_before as f64 / 1048576.0,
		rss_after as f64 / 1048576.0,
		(rss_after.saturating_sub(rss_before)) as f64 / 1024.0 / opened as f64,
		report.rss_delta_bytes as f64 / 1024.0 / opened as f64
	);
	let server_hist = metrics.ack_latency.get_sample_count();
	println!(
		"server-side ack latency (receive -> ack queued): mean {:.2} ms over {server_hist} acks",
		1000.0 * metrics.ack_latency.get_sample_sum() / server_hist.max(1) as f64
	);

	let _ = shutdown_tx.send(true);
	drop(sidecar);
	server_rt.shutdown_timeout(Duration::from_secs(2));
}

/// The client process, waited for (killed first if it is still running) however the server
/// returns.
struct Reaped(std::process::Child);

impl Drop for Reaped {
	fn drop(&mut self) {
		if matches!(self.0.try_wait(), Ok(None)) {
			// It prints its report and exits on its own; only an early return leaves it running.
			std::thread::sleep(Duration::from_secs(3));
			if matches!(self.0.try_wait(), Ok(None)) {
				let _ = self.0.kill();
			}
		}
		let _ = self.0.wait();
	}
}

/// The client process: signs every voucher, opens the connections, says `READY <n>`, waits for
/// `START <unix ms>` on stdin, runs the schedule and prints `RESULT <json>`.
fn run_clients(args: Args) {
	let n = args.viewers;
	raise_nofile(n as u64 + RESERVED_FDS);
	let (Some(server), Some(genesis)) = (args.server, args.genesis.as_deref()) else {
		println!("--role clients needs --server and --genesis");
		return;
	};
	let mut g = [0u8; 32];
	hex::decode_to_slice(genesis.trim_start_matches("0x"), &mut g).expect("--genesis: 32 bytes");
	let genesis = H256(g);
	let total_beats = (args.warmup + args.seconds) * args.rate;
	let t = Instant::now();
	let viewers = Arc::new(presign(genesis, n, total_beats, 2));
	println!(
		"pre-signed {} vouchers in {:.1} s",
		n as u64 * total_beats,
		t.elapsed().as_secs_f64()
	);

	let client_rt = tokio::runtime::Builder::new_multi_thread()
		.worker_threads(args.client_threads)
		.thread_name("bench-client")
		.enable_all()
		.build()
		.expect("client runtime");
	let rss_before = rss_bytes();
	// A fresh 127.x.y.0 block per run, so that TIME_WAIT ports of a previous run do not collide.
	let base: [u8; 2] = rand_base();
	let conns: Vec<(usize, Ws)> = client_rt.block_on(async {
		let results: Vec<Result<(usize, Ws), String>> = futures::stream::iter(0..n)
			.map(|i| {
				let viewers = viewers.clone();
				let source = Ipv4Addr::new(127, base[0], base[1], 1 + (i / PER_SOURCE_IP) as u8);
				async move {
					let open = async move {
						tokio::time::timeout(
							Duration::from_secs(30),
							open(server, source, &viewers[i]),
						)
						.await
						.map_err(|_| "timed out".to_string())?
					};
					let ws = tokio::spawn(open).await.map_err(|e| e.to_string())??;
					Ok((i, ws))
				}
			})
			.buffer_unordered(CONNECT_CONCURRENCY)
			.collect()
			.await;
		let mut ok = Vec::with_capacity(n);
		let mut failures: BTreeMap<String, usize> = BTreeMap::new();
		for r in results {
			match r {
				Ok(c) => ok.push(c),
				Err(e) => *failures.entry(e).or_default() += 1,
			}
		}
		if !failures.is_empty() {
			println!("connection failures: {failures:?}");
		}
		ok
	});
	let opened = conns.len();
	let rss_delta_bytes = rss_bytes().saturating_sub(rss_before);
	println!("READY {opened}");
	let _ = std::io::stdout().flush();
	if opened == 0 {
		return;
	}
	let mut line = String::new();
	let _ = std::io::stdin().read_line(&mut line);
	let Some(start_ms) = line.trim().strip_prefix("START ").and_then(|m| m.parse::<u64>().ok())
	else {
		println!("expected START <unix ms>, got {line:?}");
		return;
	};

	let period = Duration::from_nanos(1_000_000_000 / args.rate);
	let window_start_ms = start_ms + args.warmup * 1000;
	let window_end_ms = window_start_ms + args.seconds * 1000;
	let (outcomes, cpu_s) = client_rt.block_on(async {
		let start = instant_at(start_ms);
		let window = (instant_at(window_start_ms).into_std(), instant_at(window_end_ms).into_std());
		let close_at = start + period * total_beats as u32 + Duration::from_secs(6);
		let mut handles = Vec::with_capacity(opened);
		for (i, ws) in conns {
			let offset = Duration::from_nanos((i as u64 * period.as_nanos() as u64) / n as u64);
			let at = Schedule {
				first_send: start + offset,
				period,
				warmup: args.warmup * args.rate,
				window,
				close_at,
			};
			handles.push(tokio::spawn(drive(i, ws, viewers[i].heartbeats.clone(), at)));
		}
		let cpu = tokio::spawn(async move {
			let total = |c: Cpu| c.server + c.client + c.other;
			tokio::time::sleep_until(instant_at(window_start_ms)).await;
			let before = total(thread_cpu());
			tokio::time::sleep_until(instant_at(window_end_ms)).await;
			(total(thread_cpu()) - before) as f64 / 1e9
		});
		let mut out = Vec::with_capacity(handles.len());
		for h in handles {
			if let Ok(o) = h.await {
				out.push(o);
			}
		}
		(out, cpu.await.unwrap_or(f64::NAN))
	});

	let mut latencies: Vec<u32> =
		outcomes.iter().flat_map(|o| o.latencies_us.iter().copied()).collect();
	latencies.sort_unstable();
	if std::env::var("BENCH_DETAIL").is_ok() {
		print_detail(&outcomes, n);
	}
	let mut report = ClientReport {
		opened,
		samples: latencies.len(),
		p50_ms: percentile(&latencies, 0.50),
		p99_ms: percentile(&latencies, 0.99),
		p999_ms: percentile(&latencies, 0.999),
		max_ms: latencies.last().map(|l| *l as f64 / 1000.0).unwrap_or(f64::NAN),
		acks_in_window: outcomes.iter().map(|o| o.acks_in_window).sum(),
		missing: outcomes.iter().map(|o| o.missing).sum(),
		cpu_s,
		rss_delta_bytes,
		..ClientReport::default()
	};
	for o in &outcomes {
		for (k, v) in &o.errors {
			*report.errors.entry(k.clone()).or_default() += v;
		}
	}
	println!("RESULT {}", serde_json::to_string(&report).expect("report"));
	client_rt.shutdown_timeout(Duration::from_secs(2));
}

/// Per-heartbeat latency breakdown (`BENCH_DETAIL=1`).
fn print_detail(outcomes: &[Outcome], n: usize) {
	let mut per: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
	for o in outcomes {
		for (k, l) in &o.by_beat {
			per.entry(*k).or_default().push(*l);
		}
	}
	// The last beats by sending offset (tenths of the period).
	let last = outcomes.iter().flat_map(|o| o.by_beat.iter().map(|b| b.0)).max().unwrap_or(0);
	for beat in last.saturating_sub(2)..=last {
		let mut tenths = vec![Vec::new(); 10];
		for o in outcomes {
			for (k, l) in &o.by_beat {
				if *k == beat {
					tenths[o.index * 10 / n].push(*l);
				}
			}
		}
		let line: Vec<String> = tenths
			.iter_mut()
			.map(|v| {
				v.sort_unstable();
				format!("{:.0}", percentile(v, 0.99))
			})
			.collect();
		println!("  beat {beat} p99 by tenth of the period (ms): {}", line.join(" "));
	}
	for (k, mut v) in per {
		v.sort_unstable();
		println!(
			"  beat {k}: p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
			percentile(&v, 0.5),
			percentile(&v, 0.99),
			v.last().copied().unwrap_or(0) as f64 / 1000.0
		);
	}
}

fn rand_base() -> [u8; 2] {
	let r: [u8; 2] = rand::random();
	[1 + r[0] % 250, r[1]]
}
