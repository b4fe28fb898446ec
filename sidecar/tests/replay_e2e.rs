//! Replays end to end: the real dev node and `vilokanam-sidecar` binary (with `--record-dir`), a
//! webrtc-rs publisher bot, real WebSocket and HTTP.
//!
//! Alice publishes 20 s, ends the stream and offers its replay at half the live price. The
//! recording is kept. Bob opens a replay session and gets a ticket; without a voucher his
//! requests (two at once, over the whole file) get no more than the lead and the two requests'
//! grants of media time, then stall; each voucher he posts buys more. Alice withdraws the
//! offer: his body ends and new requests are refused. Bob leaves; Alice removes the stream: its
//! recording is deleted from disk and its URL is gone.
//!
//! Attacks, each refused and changing nothing: another viewer asking with Bob's session; Bob's
//! ticket on another stream; a forged ticket; several byte ranges at once; Bob deleting Alice's
//! recordings. (A live session asking for the replay is refused by `access::rights`, whose unit
//! tests cover it: here the relayer closes live sessions as soon as the stream ends.)
//!
//! Needs the node binary: `cargo build --release -p vilokanam-node`.

mod common;

use common::{media::publish, *};
use sp_core::{sr25519, Pair};
use std::{
	path::{Path, PathBuf},
	time::Duration,
};
use tokio::{
	io::{AsyncReadExt, AsyncWriteExt},
	net::TcpStream,
};
use vilokanam_chain_client::{voucher, Client, RuntimeCall, SessionId, StreamId, VoucherEncoding};
use vilokanam_sfu::recorder::ebml;
use vilokanam_sidecar::{
	billing::pacing::{MediaMap, LEAD_MS, START_GRANT_MS},
	protocol::{ClientMessage, ErrorCode, ServerMessage},
};
use vilokanam_test_utils::Node;

const REPLAY_PRICE: vilokanam_chain_client::Balance = PRICE / 2;
/// How long a paced body may be silent before it counts as stalled.
const QUIET: Duration = Duration::from_secs(3);

/// A paced GET: status, headers and the body bytes read until the body ended or was `QUIET`
/// (stalled) — the connection is then dropped, as a player that gives up does.
struct Paced {
	status: u16,
	head: String,
	body: Vec<u8>,
	ended: bool,
}

async fn get(port: u16, path: &str, range: Option<&str>) -> Paced {
	let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("the sidecar listens");
	let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
	let request =
		format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{range}\r\n");
	stream.write_all(request.as_bytes()).await.expect("sent");
	let mut raw = Vec::new();
	let mut buf = vec![0u8; 64 * 1024];
	let mut ended = false;
	loop {
		match tokio::time::timeout(QUIET, stream.read(&mut buf)).await {
			Ok(Ok(0)) | Ok(Err(_)) => {
				ended = true;
				break;
			},
			Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
			Err(_) => break,
		}
	}
	let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
	let head = String::from_utf8_lossy(&raw[..split]).into_owned();
	let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
	Paced { status, head, body: raw[split + 4..].to_vec(), ended }
}

/// The one recording in `dir`, and its map.
fn recording(dir: &Path) -> (PathBuf, ebml::WebmIndex, MediaMap) {
	let path = std::fs::read_dir(dir)
		.expect("the recording directory")
		.map(|e| e.expect("an entry").path())
		.find(|p| p.extension().is_some_and(|e| e == "webm"))
		.expect("a WebM recording");
	let index = ebml::index(&mut std::fs::File::open(&path).expect("open")).expect("an index");
	let clusters: Vec<(u64, u64)> = index.clusters.iter().map(|c| (c.time_ms, c.offset)).collect();
	let map = MediaMap::new(&clusters, index.media_end, index.duration_ms);
	(path, index, map)
}

/// The media time (ms) of `len` bytes from `from`.
fn media_ms(map: &MediaMap, from: u64, len: u64) -> u64 {
	map.affordable(from, len, u64::MAX).1 / 1_000
}

async fn ask_replay(
	peer: &mut Peer,
	stream_id: StreamId,
	session_id: SessionId,
) -> Result<(String, String), ErrorCode> {
	peer.send(ClientMessage::Replay { stream_id, session_id }).await;
	let reply = peer
		.expect("replay_ticket or error", |m| match m {
			ServerMessage::ReplayTicket { token, url, .. } => {
				Some(Ok((token.clone(), url.clone())))
			},
			ServerMessage::Error { code, .. } => Some(Err(*code)),
			_ => None,
		})
		.await;
	reply
}

fn voucher_body(
	key: &sr25519::Pair,
	genesis: &sp_core::H256,
	session: SessionId,
	c: u64,
) -> String {
	let bytes = voucher::signed_bytes(genesis, session, c, VoucherEncoding::Raw);
	format!(
		r#"{{"cumulative_seconds":{c},"encoding":"raw","crypto":"sr25519","signer":"voucher_key","signature":"0x{}"}}"#,
		hex::encode(key.sign(&bytes).0)
	)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_reaches_only_its_paying_viewer_and_only_as_far_as_it_paid() {
	let dir = tempfile::tempdir().expect("temp dir");
	let node = Node::start(&dir.path().join("node")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node");
	let genesis = client.genesis_hash();
	let records = dir.path().join("recordings");
	let extra = ["--record-dir".to_owned(), records.display().to_string()];
	let sidecar =
		Sidecar::start_with(&node, &dir.path().join("db"), &dir.path().join("sidecar.log"), &extra)
			.await;
	let url = sidecar.ws_url();
	let (alice, bob, eve) = (pair("//Alice"), pair("//Bob"), pair("//Eve"));
	let stream = live_stream(&client, "Replayed").await;

	// Alice publishes 20 s, then ends the stream and offers its replay.
	let (creator, publisher) = publish(&url, alice.clone(), stream).await;
	tokio::time::sleep(Duration::from_secs(20)).await;
	publisher.close().await.expect("the publisher closes");
	drop(creator);
	execute(
		&client,
		RuntimeCall::Streams(pallet_streams::Call::end_stream { stream_id: stream }),
		&alice,
	)
	.await;
	let offer = |price| {
		RuntimeCall::Streams(pallet_streams::Call::set_replay_offer {
			stream_id: stream,
			price_per_second: price,
		})
	};
	execute(&client, offer(Some(REPLAY_PRICE)), &alice).await;

	// Bob's replay session, and his page's login.
	let bob_key = page_key(&bob);
	let bob_session = open_session(&client, &bob, stream).await;
	let mut bob_peer =
		Peer::connect_with_voucher_key("bob", &url, bob_key.clone(), bob_session).await;
	let (token, path) = loop {
		// The recording is kept once its file is finished: ask until it is.
		match ask_replay(&mut bob_peer, stream, bob_session).await {
			Ok(t) => break t,
			Err(ErrorCode::NotFound) => tokio::time::sleep(Duration::from_millis(500)).await,
			Err(e) => panic!("Bob's replay refused: {e:?}\n{}", sidecar.process.log_tail()),
		}
	};
	assert_eq!(path, format!("/replay/{stream}.webm?ticket={token}"));
	let (file, index, map) = recording(&records);
	assert!(index.duration_ms > 18_000, "{index:?}");
	let size = index.bytes;

	// Refused: another viewer with Bob's session; Bob deleting the recordings.
	let mut eve_peer = Peer::connect("eve", &url, eve.clone()).await;
	assert_eq!(ask_replay(&mut eve_peer, stream, bob_session).await, Err(ErrorCode::Forbidden));
	bob_peer.send(ClientMessage::DeleteReplay { stream_id: stream }).await;
	assert_eq!(bob_peer.expect_error("a viewer's delete_replay").await, ErrorCode::Forbidden);
	assert!(file.exists(), "nothing was deleted");
	// Refused over HTTP: a forged ticket, Bob's ticket on another stream, several ranges.
	let forged = format!("/replay/{stream}.webm?ticket={}0", &token[..token.len() - 1]);
	assert_eq!(get(sidecar.port, &forged, None).await.status, 401);
	let other = {
		let create = create_stream_call("Other", PRICE, Some(account(&pair(RELAYER))));
		let id = stream_created(&execute(&client, create, &alice).await.events);
		execute(
			&client,
			RuntimeCall::Streams(pallet_streams::Call::end_stream { stream_id: id }),
			&alice,
		)
		.await;
		id
	};
	let r = get(sidecar.port, &format!("/replay/{other}.webm?ticket={token}"), None).await;
	assert_eq!(r.status, 403, "{}", r.head);
	let r = get(sidecar.port, &path, Some("bytes=0-99,200-299")).await;
	assert_eq!(r.status, 416, "{}", r.head);

	// Without a voucher: two requests at once over the whole file get the lead and their two
	// grants of media time between them, then stall.
	let (a, b) =
		tokio::join!(get(sidecar.port, &path, Some("bytes=0-")), get(sidecar.port, &path, None));
	assert_eq!((a.status, b.status), (206, 200), "{}\n{}", a.head, b.head);
	assert!(a.head.contains(&format!("bytes 0-{}/{size}", size - 1)), "{}", a.head);
	assert!(!a.ended && !b.ended, "both stalled rather than ended");
	let sent = media_ms(&map, 0, a.body.len() as u64) + media_ms(&map, 0, b.body.len() as u64);
	let cap = LEAD_MS + 2 * START_GRANT_MS;
	assert!(
		sent <= cap && sent + 2_000 >= cap,
		"{sent} ms of media sent without a voucher, cap {cap} ms"
	);
	assert!((a.body.len() as u64) < size && (b.body.len() as u64) < size);
	// The bytes are the file's.
	let bytes = std::fs::read(&file).expect("the recording");
	assert_eq!(a.body[..], bytes[..a.body.len()]);

	// Bob pays 4 s: a request from the middle gets its grant and 4 s more, not the rest.
	tokio::time::sleep(Duration::from_secs(4)).await;
	let bearer = format!("Bearer {token}");
	let auth = [("authorization", bearer.as_str()), ("content-type", "application/json")];
	let r = http(
		sidecar.port,
		"POST",
		"/vouchers",
		&auth,
		&voucher_body(&bob_key, &genesis, bob_session, 4),
	)
	.await;
	assert_eq!(r.status, 200, "{}", r.body);
	let middle = index.clusters[index.clusters.len() / 2].offset;
	let c = get(sidecar.port, &path, Some(&format!("bytes={middle}-"))).await;
	assert_eq!(c.status, 206);
	let more = media_ms(&map, middle, c.body.len() as u64);
	let paid_for = 4_000 + START_GRANT_MS;
	assert!(more <= paid_for && more + 2_000 >= paid_for, "{more} ms after 4 s paid");
	assert!(!c.ended, "the rest waits for vouchers");

	// Alice withdraws the offer: a body in flight ends, a new request is refused.
	let paced = tokio::spawn({
		let (port, path) = (sidecar.port, path.clone());
		async move { get(port, &path, None).await }
	});
	tokio::time::sleep(Duration::from_secs(1)).await;
	execute(&client, offer(None), &alice).await;
	let d = paced.await.expect("the request");
	assert!(d.ended, "the body ended with the offer");
	assert_eq!(get(sidecar.port, &path, None).await.status, 403);

	// Bob leaves (his close intent, the relayer closes at once); Alice removes the stream: its
	// recording goes from the disk, its URL with it.
	bob_peer.send(close_intent(&bob_key, &genesis, bob_session, 4)).await;
	let deadline = std::time::Instant::now() + Duration::from_secs(90);
	loop {
		let s = client.stream(stream, None).await.expect("rpc").expect("the stream");
		if s.current_viewers == 0 {
			break;
		}
		assert!(
			std::time::Instant::now() < deadline,
			"the sessions were not closed:\n{}",
			sidecar.process.log_tail()
		);
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	let settled = client.session(bob_session, None).await.expect("rpc");
	assert!(settled.is_none(), "Bob's session is closed");
	execute(
		&client,
		RuntimeCall::Streams(pallet_streams::Call::remove_stream { stream_id: stream }),
		&alice,
	)
	.await;
	let deadline = std::time::Instant::now() + Duration::from_secs(30);
	while file.exists() {
		assert!(std::time::Instant::now() < deadline, "the removed stream's recording stayed");
		tokio::time::sleep(Duration::from_millis(250)).await;
	}
	assert_eq!(get(sidecar.port, &path, None).await.status, 404);
}
