//! Scaling out, end to end: the real dev node, one origin and two edge `vilokanam-sidecar`
//! binaries on loopback, webrtc-rs bots, real HTTP, WebSocket and UDP.
//!
//! Alice's stream names Ferdie's sidecar (the origin) as relayer; Charlie's and Dave's
//! sidecars are its edges (`--origin-url`, `--serve-for` Ferdie; the origin lists them with
//! `--edge-account`). Alice publishes to the origin. Bob watches at the origin, Eve and Eve's
//! stash at edge A, Bob's stash at edge B: every viewer gets the stream from a keyframe, the
//! origin counts each edge as one viewer (one pull for edge A's two viewers), and every
//! viewer's acknowledged seconds settle exactly, each by the sidecar it paid at: the edges pay
//! their own `settle_batch` fees. Edge B's pull is closed once its viewer has gone. The
//! operator takes edge A off the origin's list (its configuration file, SIGHUP): edge A's pull
//! is cut and its pulls again are refused.
//!
//! Attacks, each changing nothing: a stranger's sidecar (a viewer's own key) signing a pull
//! gets 403; a stale, replayed or malformed header 401; a header for another stream 401; an
//! edge asked to be an origin 403; a creator publishing at an edge and a viewer of a sidecar
//! that does not serve the stream are refused.
//!
//! Needs the node binary: `cargo build --release -p vilokanam-node`.

mod common;

use common::{media::*, *};
use sp_core::{sr25519, H256};
use std::time::{Duration, Instant};
use vilokanam_chain_client::{Balance, Client, SessionId, StreamId};
use vilokanam_media_bots::ViewerBot;
use vilokanam_sidecar::{
	access::edge,
	protocol::{self, ClientMessage, ErrorCode},
};
use vilokanam_test_utils::Node;

const T: Duration = Duration::from_secs(30);
/// Seconds each viewer pays for, at least.
const WATCH_SECS: u64 = 6;

fn unix_secs() -> u64 {
	std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_secs())
		.unwrap_or_default()
}

fn ss58(p: &sr25519::Pair) -> String {
	protocol::account_to_ss58(&account(p))
}

/// `POST /edge/{stream}` of `offer` with `authorization`.
async fn pull(port: u16, stream_id: StreamId, authorization: &str, offer: &str) -> HttpResponse {
	let headers = [("content-type", "application/sdp"), ("authorization", authorization)];
	http(port, "POST", &format!("/edge/{stream_id}"), &headers, offer).await
}

/// The viewers (their labels, blank in public stats) of `stream_id`'s room in `port`'s `/media/stats`, and whether it has a
/// publisher.
async fn room(port: u16, stream_id: StreamId) -> (Vec<String>, bool) {
	let r = http(port, "GET", "/media/stats", &[], "").await;
	let stats: serde_json::Value = serde_json::from_str(&r.body).expect("JSON stats");
	let Some(room) = stats["rooms"]
		.as_array()
		.and_then(|rooms| rooms.iter().find(|r| r["stream_id"] == stream_id))
	else {
		return (Vec::new(), false);
	};
	let labels = room["viewers"]
		.as_array()
		.map(|v| v.iter().filter_map(|p| p["label"].as_str().map(str::to_owned)).collect())
		.unwrap_or_default();
	(labels, !room["publisher"].is_null())
}

/// Waits until `cond` holds for `port`'s room of `stream_id`.
async fn room_until(
	port: u16,
	stream_id: StreamId,
	what: &str,
	cond: impl Fn(&[String], bool) -> bool,
) {
	let deadline = Instant::now() + T;
	loop {
		let (viewers, publisher) = room(port, stream_id).await;
		if cond(&viewers, publisher) {
			return;
		}
		assert!(Instant::now() < deadline, "{what}: viewers {viewers:?}, publisher {publisher}");
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

/// Waits until `bot` has `frames` complete video frames, the first a keyframe, none out of
/// order, with audio.
async fn receives(name: &str, bot: &ViewerBot, frames: u64) {
	let deadline = Instant::now() + T;
	loop {
		let s = bot.stats();
		if s.frames_complete >= frames && s.audio_packets > 0 {
			assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{name}: {s:?}");
			assert_eq!(s.frames_out_of_order, 0, "{name}: {s:?}");
			assert_eq!(s.frames_corrupt, 0, "{name}: {s:?}");
			assert_eq!(s.audio_corrupt, 0, "{name}: {s:?}");
			return;
		}
		assert!(Instant::now() < deadline, "{name} got no stream: {s:?}");
		tokio::time::sleep(Duration::from_millis(250)).await;
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn an_origin_feeds_two_edges_and_every_viewer_settles_where_it_paid() {
	let dir = tempfile::tempdir().expect("temp dir");
	let node = Node::start(&dir.path().join("node")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let stream_id = live_stream(&client, "Edge e2e").await;
	let (edge_a_key, edge_b_key) = (pair("//Charlie"), pair("//Dave"));
	// Bob at the origin; Eve and her stash at edge A; Bob's stash at edge B.
	let viewers = [pair("//Bob"), pair("//Eve"), pair("//Eve//stash"), pair("//Bob//stash")];
	let mut sessions: Vec<SessionId> = Vec::new();
	for v in &viewers {
		sessions.push(open_session(&client, v, stream_id).await);
	}
	let log = |name: &str| dir.path().join(format!("{name}.log"));
	let db = |name: &str| dir.path().join(format!("{name}.sqlite"));
	// The origin's edges are in its configuration file, which SIGHUP re-reads.
	let origin_toml = dir.path().join("origin.toml");
	let edge_list = |keys: &[&sr25519::Pair]| {
		let quoted: Vec<String> = keys.iter().map(|k| format!("\"{}\"", ss58(k))).collect();
		std::fs::write(&origin_toml, format!("edge-account = [{}]\n", quoted.join(", ")))
			.expect("the origin's configuration is written");
	};
	edge_list(&[&edge_a_key, &edge_b_key]);
	let origin = Sidecar::start_with(
		&node,
		&db("origin"),
		&log("origin"),
		&["--config".into(), origin_toml.display().to_string()],
	)
	.await;
	let origin_url = format!("http://127.0.0.1:{}", origin.port);
	let edge_args = || {
		vec!["--origin-url".into(), origin_url.clone(), "--serve-for".into(), ss58(&pair(RELAYER))]
	};
	let edge_a =
		Sidecar::start_as(&node, "//Charlie", &db("edge-a"), &log("edge-a"), &edge_args()).await;
	let edge_b =
		Sidecar::start_as(&node, "//Dave", &db("edge-b"), &log("edge-b"), &edge_args()).await;
	let fees_before = [
		client.free_balance(&account(&edge_a_key), None).await.expect("rpc"),
		client.free_balance(&account(&edge_b_key), None).await.expect("rpc"),
	];
	let alice_before = client.free_balance(&account(&pair("//Alice")), None).await.expect("rpc");

	// Attacks on the origin's edge route, before any media.
	let genesis = client.genesis_hash();
	let audience = origin_url.as_str();
	let (probe, offer) = ViewerBot::new().await.expect("a bot's offer");
	let now = unix_secs();
	let sign = |key: &sr25519::Pair, stream, secs| {
		edge::authorization(key, &genesis, audience, stream, secs)
	};
	let stranger = sign(&viewers[0], stream_id, now);
	let r = pull(origin.port, stream_id, &stranger, &offer).await;
	assert_eq!(r.status, 403, "a viewer's key is not an edge: {}", r.body);
	let stale = sign(&edge_a_key, stream_id, now - 120);
	assert_eq!(pull(origin.port, stream_id, &stale, &offer).await.status, 401, "stale");
	let other_stream = sign(&edge_a_key, stream_id + 1, now);
	assert_eq!(pull(origin.port, stream_id, &other_stream, &offer).await.status, 401, "stream");
	let other_chain = edge::authorization(&edge_a_key, &H256::zero(), audience, stream_id, now);
	assert_eq!(pull(origin.port, stream_id, &other_chain, &offer).await.status, 401, "chain");
	let bearer = "Bearer x";
	assert_eq!(pull(origin.port, stream_id, bearer, &offer).await.status, 401, "malformed");
	// A valid header works once (the probe's offer, never connected, times out at the
	// origin); the same header again is refused.
	let valid = sign(&edge_a_key, stream_id, now);
	let r = pull(origin.port, stream_id, &valid, &offer).await;
	assert_eq!(r.status, 201, "{}", r.body);
	assert!(r.body.starts_with("v=0"), "an SDP answer: {}", r.body);
	let r = pull(origin.port, stream_id, &valid, &offer).await;
	assert_eq!(r.status, 401, "replayed: {}", r.body);
	drop(probe);
	// An edge is not an origin: edge A lists no edges of its own.
	let at_edge = sign(&edge_b_key, stream_id, unix_secs());
	let r = pull(edge_a.port, stream_id, &at_edge, &offer).await;
	assert_eq!(r.status, 403, "{}", r.body);

	// Nobody publishes at an edge.
	let mut alice_at_edge = Peer::connect("alice@edge", &edge_a.ws_url(), pair("//Alice")).await;
	alice_at_edge.send(ClientMessage::Publish { stream_id }).await;
	assert_eq!(alice_at_edge.expect_error("publish at an edge").await, ErrorCode::Forbidden);
	// A sidecar with its own key and no --serve-for does not serve the stream.
	let bystander =
		Sidecar::start_as(&node, "//Ferdie//stash", &db("bystander"), &log("bystander"), &[]).await;
	let mut lost = Peer::connect("bob@bystander", &bystander.ws_url(), viewers[0].clone()).await;
	lost.send(ClientMessage::Watch { stream_id, session_id: sessions[0] }).await;
	assert_eq!(lost.expect_error("watch, not assigned").await, ErrorCode::Forbidden);
	drop(lost);
	drop(bystander);

	// Alice publishes at the origin.
	let (_alice, publisher) = publish(&origin.ws_url(), pair("//Alice"), stream_id).await;

	// Four viewers on three sidecars.
	let urls = [origin.ws_url(), edge_a.ws_url(), edge_a.ws_url(), edge_b.ws_url()];
	let names = ["bob@origin", "eve@edge-a", "eve-stash@edge-a", "bob-stash@edge-b"];
	let mut watching = Vec::new();
	for i in 0..4 {
		let (bot, paying) =
			viewer(names[i], &urls[i], viewers[i].clone(), stream_id, sessions[i]).await;
		watching.push((bot, paying));
	}
	for (i, (bot, _)) in watching.iter().enumerate() {
		receives(names[i], bot, 30).await;
	}
	// The origin serves Bob and one pull per edge (the probe's seat was edge A's: replaced);
	// edge A serves its two viewers from its one pull. (Stats are once a second.)
	room_until(origin.port, stream_id, "Bob and two edges at the origin", |v, _| v.len() == 3)
		.await;
	room_until(edge_a.port, stream_id, "edge A's two viewers, fed", |v, fed| v.len() == 2 && fed)
		.await;
	let (origin_viewers, _) = room(origin.port, stream_id).await;
	assert_eq!(origin_viewers.len(), 3, "not one peer per edge viewer");

	// Everyone pays a few seconds more, then stops.
	tokio::time::sleep(Duration::from_secs(WATCH_SECS)).await;
	let mut acked = Vec::new();
	let mut bots = Vec::new();
	for (bot, paying) in watching {
		let (peer, last, _) = paying.stop().await;
		acked.push(last);
		bots.push((bot, peer));
	}
	assert!(acked.iter().all(|a| *a >= WATCH_SECS), "{acked:?}");

	// Edge B's viewer leaves: its pull closes once the room has been empty a while.
	let (bot_b, peer_b) = bots.pop().expect("edge B's viewer");
	drop(peer_b);
	let _ = bot_b.close().await;
	room_until(edge_b.port, stream_id, "edge B's pull closed", |v, publisher| {
		v.is_empty() && !publisher
	})
	.await;

	// Every acknowledged second settles, exactly, each by the sidecar that acknowledged it.
	let deadline = Instant::now() + Duration::from_secs(120);
	let settled_at = loop {
		let head = client.finalized_head().await.expect("rpc");
		let found = client.sessions(&sessions, Some(head.hash)).await.expect("rpc");
		let settled: Vec<u64> =
			found.iter().map(|s| s.as_ref().map_or(0, |s| s.settled_seconds)).collect();
		for (s, a) in settled.iter().zip(&acked) {
			assert!(s <= a, "settled {settled:?}, above the acknowledged {acked:?}");
		}
		if settled == acked {
			break head.hash;
		}
		assert!(
			Instant::now() < deadline,
			"settled {settled:?} of {acked:?}\norigin:\n{}\nedge A:\n{}\nedge B:\n{}",
			origin.process.log_tail(),
			edge_a.process.log_tail(),
			edge_b.process.log_tail()
		);
		tokio::time::sleep(Duration::from_secs(2)).await;
	};
	let total: u64 = acked.iter().sum();
	let stream = client.stream(stream_id, Some(settled_at)).await.expect("rpc").expect("stored");
	assert_eq!(stream.total_viewer_seconds, total);
	let paid = Balance::from(total) * PRICE;
	assert_eq!(stream.total_earned, paid);
	let fee = paid * Balance::from(FEE_BPS) / 10_000;
	let alice_after =
		client.free_balance(&account(&pair("//Alice")), Some(settled_at)).await.expect("rpc");
	assert_eq!(alice_after - alice_before, paid - fee, "Alice is credited what was watched");
	// Each edge paid its own settlement fees.
	for (key, before) in [&edge_a_key, &edge_b_key].into_iter().zip(fees_before) {
		let after = client.free_balance(&account(key), Some(settled_at)).await.expect("rpc");
		assert!(after < before, "{} paid no fee: it settled nothing", ss58(key));
	}

	// The operator takes edge A off the origin's list: its pull is cut at the next gate poll,
	// and its pulls again (its viewers are still there) are refused.
	let refused_before = metric(origin.port, "edge_pulls_total{result=\"refused\"}").await;
	edge_list(&[&edge_b_key]);
	let pid = origin.process.id().expect("the origin runs");
	let hup = std::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status();
	assert!(hup.expect("kill runs").success());
	let deadline = Instant::now() + Duration::from_secs(60);
	loop {
		let failed = metric(edge_a.port, "origin_pulls_total{result=\"failed\"}").await;
		let refused = metric(origin.port, "edge_pulls_total{result=\"refused\"}").await;
		if failed >= 1 && refused > refused_before {
			break;
		}
		assert!(
			Instant::now() < deadline,
			"edge A kept its pull ({failed} failed, {refused} refused)\norigin:\n{}\nedge A:\n{}",
			origin.process.log_tail(),
			edge_a.process.log_tail()
		);
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	drop(bots);
	drop(publisher);
}

/// The value of `vilokanam_sidecar_<name>` (with its labels) in `port`'s `/metrics`; 0 if absent.
async fn metric(port: u16, name: &str) -> u64 {
	let text = http(port, "GET", "/metrics", &[], "").await.body;
	let line = format!("vilokanam_sidecar_{name} ");
	text.lines()
		.find_map(|l| l.strip_prefix(&line))
		.and_then(|v| v.trim().parse::<f64>().ok())
		.map_or(0, |v| v as u64)
}
