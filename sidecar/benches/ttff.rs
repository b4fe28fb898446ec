//! Time to first frame: how long a person waits, from a viewer's WHEP offer to the first video
//! frame its browser decodes and presents, with and without the SFU's keyframe cache.
//!
//! ```text
//! scripts/bench.sh ttff [--single 20] [--storm 100] [--storm-secs 10] [--hold-ms 1000]
//!                       [--rounds 2] [--cache-ms 1000]
//! ```
//!
//! Starts two sidecars in this process, each with its SFU, on one chain view seeded without a
//! node (one live stream and a session per viewer, vouchers not required for the run's
//! length): `ask`, whose SFU asks the publisher for a keyframe for every new viewer (the
//! keyframe cache off), and `cache`, whose SFU starts new viewers on the packets since the last
//! keyframe while it is at most `--cache-ms` old. It mints a WHIP token for the creator and a
//! WHEP token per session and hands them to `web/bench/ttff.mjs`, which drives Debian's
//! Chromium, `--rounds` times alternating the two sidecars: one page publishes the fake camera
//! over WHIP; viewers then offer over WHEP and wait for `requestVideoFrameCallback`'s first
//! frame, first `--single` viewers one at a time, then `--storm` viewers joining evenly within
//! `--storm-secs`. Each viewer leaves `--hold-ms` after its first frame, so that Chromium
//! decoding many streams on this machine's two cores does not become what is measured.
//! Reported per sidecar, as p50/p95/max in milliseconds: offer → answer, offer → ICE+DTLS
//! connected, offer → first frame, and the delay a frame waits in the viewer between its
//! arrival and its presentation in the second half of the hold (what a viewer started on an
//! old keyframe lags behind, if its player keeps the lag). The publisher's keyframes come when
//! the SFU asks for them (PLI): a browser sends no periodic ones.

use std::{
	io::Write,
	net::SocketAddr,
	path::Path,
	process::{Command, Stdio},
	time::Duration,
};
use tokio::sync::watch;
use vilokanam_chain_client::StreamStatus;
use vilokanam_sfu::{MediaConfig, MediaServer};
use vilokanam_sidecar::{
	access::{admission::Limits, tokens::PublishClaims},
	chain::view::{account_of, SessionEntry, StreamEntry},
	transport::http,
	ChainView, Metrics, Settings, Sidecar, Store, Tokens,
};

use sp_core::{sr25519, Pair, H256};

const STREAM_ID: u64 = 1;
const PRICE: u128 = 1_000_000;

fn viewer_pair(i: u64) -> sr25519::Pair {
	let mut seed = [0u8; 32];
	seed[..8].copy_from_slice(&i.to_le_bytes());
	seed[31] = 0x7f;
	sr25519::Pair::from_seed(&seed)
}

/// The options (`--name number` pairs), passed on to the Chromium driver as they are; how
/// many sessions they need; the `cache` sidecar's keyframe cache.
fn driver_args() -> (Vec<String>, u64, Duration) {
	let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
	assert!(args.len().is_multiple_of(2), "options come in pairs: {args:?}");
	let mut single = 20;
	let mut storm = 100;
	let mut cache_ms = vilokanam_sfu::DEFAULT_KEYFRAME_CACHE.as_millis() as u64;
	for pair in args.chunks(2) {
		let known = ["--single", "--storm", "--storm-secs", "--hold-ms", "--rounds", "--cache-ms"];
		assert!(known.contains(&pair[0].as_str()), "unknown option {} (see the header)", pair[0]);
		let n: u64 = pair[1].parse().unwrap_or_else(|_| panic!("{} takes a number", pair[0]));
		match pair[0].as_str() {
			"--single" => single = n,
			"--storm" => storm = n,
			"--cache-ms" => cache_ms = n,
			_ => {},
		}
	}
	(args, single + storm, Duration::from_millis(cache_ms))
}

/// A sidecar with its SFU on `chain`, serving HTTP on a loopback port: its origin.
fn start_sidecar(
	rt: &tokio::runtime::Runtime,
	chain: &ChainView,
	tokens: &Tokens,
	keyframe_cache: Duration,
	db: &Path,
	shutdown: watch::Receiver<bool>,
) -> String {
	let addr: SocketAddr = rt.block_on(async {
		let metrics = Metrics::new().expect("metrics");
		let store = Store::open(db).expect("store");
		let settings = Settings {
			// No vouchers in this run: the media must not pause for want of them.
			voucher_grace: Duration::from_secs(3600),
			limits: Limits::off(),
			..Settings::default()
		};
		let media = MediaServer::start(
			MediaConfig {
				listen: "127.0.0.1:0".parse().expect("addr"),
				keyframe_cache,
				..MediaConfig::default()
			},
			metrics.media.clone(),
		)
		.expect("the SFU starts");
		let sidecar = Sidecar::new(chain.clone(), store, metrics.clone(), settings)
			.with_media(media, tokens.clone());
		sidecar.spawn_background();
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
		let addr = listener.local_addr().expect("addr");
		tokio::spawn(http::serve(listener, sidecar, shutdown));
		addr
	});
	format!("http://{addr}")
}

fn main() {
	let (args, viewers, cache) = driver_args();
	let genesis = H256::repeat_byte(0x42);
	let chain = ChainView::offline(genesis);
	let creator = sr25519::Pair::from_string("//Alice", None).expect("dev key");
	chain.insert_stream(StreamEntry::new(
		STREAM_ID,
		account_of(&creator),
		PRICE,
		StreamStatus::Live,
	));
	let opened_at = vilokanam_sidecar::clock::unix_ms() - 60_000;
	for i in 0..viewers {
		let viewer = account_of(&viewer_pair(i));
		chain.insert_session(SessionEntry::new(i, viewer, STREAM_ID, PRICE, opened_at, 1 << 40, 0));
	}
	let dir = tempfile::tempdir().expect("tempdir");
	let rt = tokio::runtime::Builder::new_multi_thread()
		.worker_threads(1)
		.enable_all()
		.build()
		.expect("runtime");
	let tokens = Tokens::ephemeral();
	let (_shutdown, shutdown_rx) = watch::channel(false);
	let targets: Vec<serde_json::Value> = [("ask", Duration::ZERO), ("cache", cache)]
		.into_iter()
		.map(|(name, keyframe_cache)| {
			let db = dir.path().join(format!("ttff-{name}.sqlite"));
			let origin =
				start_sidecar(&rt, &chain, &tokens, keyframe_cache, &db, shutdown_rx.clone());
			serde_json::json!({ "name": name, "cache_ms": keyframe_cache.as_millis() as u64, "origin": origin })
		})
		.collect();
	let publish = tokens.publish(&PublishClaims {
		stream_id: STREAM_ID,
		account: account_of(&creator),
		generation: 0,
		expires_s: vilokanam_sidecar::clock::unix_secs() + 3600,
	});
	let watch: Vec<String> =
		(0..viewers).map(|i| tokens.watch(i, &account_of(&viewer_pair(i)))).collect();
	let config = serde_json::json!({
		"targets": targets,
		"stream_id": STREAM_ID,
		"publish_token": publish,
		"watch_tokens": watch,
	});
	let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/bench/ttff.mjs");
	let mut child = Command::new("node")
		.arg(driver)
		.args(&args)
		.stdin(Stdio::piped())
		.spawn()
		.expect("node runs web/bench/ttff.mjs");
	// The tokens go over stdin, not the command line.
	if let Some(mut stdin) = child.stdin.take() {
		stdin.write_all(config.to_string().as_bytes()).expect("the driver reads its config");
	}
	let status = child.wait().expect("the driver ends");
	drop(rt);
	std::process::exit(status.code().unwrap_or(1));
}
