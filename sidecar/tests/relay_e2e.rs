//! End-to-end: the real dev node and the real `vilokanam-sidecar` binary.
//!
//! Alice creates a stream and goes live; Charlie and Dave open sessions; the sidecar starts (its
//! relay signs with Ferdie and settles every block); Alice publishes and both viewers watch and
//! send a signed heartbeat every second (Dave's in the browser-wallet `<Bytes>` wrapping).
//! After 8 acknowledged seconds the sidecar is killed with SIGKILL and restarted on the same
//! database; the viewers reconnect, see the chat sent before the crash, and watch 4 more
//! seconds. Then the node restarts under the sidecar, which reconnects. The relay must then
//! settle exactly the last acknowledged seconds of each session,
//! and balances must move exactly: price × seconds out of escrow, 10 % to the platform, the rest
//! to the creator. Along the way, publishing someone else's stream and watching with someone
//! else's session are refused with `forbidden`.
//!
//! Needs the node binary: `cargo build --release -p vilokanam-node`.

mod common;

use common::*;
use std::time::{Duration, Instant};
use vilokanam_chain_client::{Balance, Client};
use vilokanam_sidecar::protocol::{ClientMessage, ErrorCode, Role, ServerMessage};
use vilokanam_test_utils::Node;

/// Seconds watched before the sidecar is killed, and in total.
const BEFORE_CRASH: u64 = 8;
const TOTAL: u64 = 12;

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_settles_exactly_what_was_acknowledged_across_a_crash() {
	let dir = tempfile::tempdir().expect("temp dir");
	let mut node = Node::start(&dir.path().join("node")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let (alice, charlie, dave, eve) =
		(pair("//Alice"), pair("//Charlie"), pair("//Dave"), pair("//Eve"));

	// Governance (a category, a 10 % platform fee) and Alice's live stream; Charlie and Dave
	// open sessions.
	let stream_id = live_stream(&client, "Relay e2e").await;
	let charlie_session = open_session(&client, &charlie, stream_id).await;
	let opened =
		execute(&client, open_session_call(stream_id, account(&page_key(&dave))), &dave).await;
	let dave_session = opened_session(&opened.events);
	// Nothing Alice, Charlie, Dave, the platform or the escrow do after this block but what the
	// relay settles.
	let before = opened.block;
	let platform = pallet_payouts::Pallet::<vilokanam_runtime::Runtime>::platform_account();
	let escrow = pallet_ticks::Pallet::<vilokanam_runtime::Runtime>::escrow_account();
	let watched =
		[account(&alice), platform.clone(), escrow.clone(), account(&charlie), account(&dave)];
	let mut balances_before = Vec::new();
	for who in &watched {
		balances_before.push(client.free_balance(who, Some(before)).await.expect("rpc"));
	}

	// The sidecar, first run.
	let db = dir.path().join("sidecar.sqlite");
	let mut sidecar = Sidecar::start(&node, &db, &dir.path().join("sidecar-1.log")).await;
	let url = sidecar.ws_url();

	let mut publisher = Peer::connect("alice", &url, alice.clone()).await;
	publisher.send(ClientMessage::Publish { stream_id }).await;
	publisher
		.expect("joined", |m| match m {
			ServerMessage::Joined { role: Role::Publisher, .. } => Some(()),
			_ => None,
		})
		.await;

	let mut c = Peer::connect("charlie", &url, charlie.clone()).await;
	let mut d = Peer::connect("dave", &url, dave.clone()).await;
	let mut e = Peer::connect("eve", &url, eve.clone()).await;

	// Refusals: Charlie publishing Alice's stream, Eve (no session) watching with Charlie's
	// session, Charlie watching with Dave's.
	c.send(ClientMessage::Publish { stream_id }).await;
	assert_eq!(c.expect_error("publish refusal").await, ErrorCode::Forbidden);
	e.send(ClientMessage::Watch { stream_id, session_id: charlie_session }).await;
	assert_eq!(e.expect_error("watch refusal").await, ErrorCode::Forbidden);
	c.send(ClientMessage::Watch { stream_id, session_id: dave_session }).await;
	assert_eq!(c.expect_error("watch refusal").await, ErrorCode::Forbidden);
	e.send(ClientMessage::Watch { stream_id, session_id: 999_999 }).await;
	assert_eq!(e.expect_error("unknown session").await, ErrorCode::NotFound);
	drop(e);

	c.watch(stream_id, charlie_session).await;
	d.watch(stream_id, dave_session).await;

	// Heartbeats every second; Charlie chats before the crash.
	let chat = "see you after the crash";
	let start = tokio::time::Instant::now();
	for second in 1..=BEFORE_CRASH {
		tokio::time::sleep_until(start + Duration::from_secs(second)).await;
		c.heartbeat(charlie_session, second, false).await;
		d.heartbeat(dave_session, second, true).await;
		if second == 2 {
			c.send(ClientMessage::Chat { text: chat.into() }).await;
			d.expect("chat", |m| match m {
				ServerMessage::Chat(entry) if entry.text == chat => Some(()),
				_ => None,
			})
			.await;
		}
	}

	// Crash: SIGKILL, no shutdown code runs. Restart on the same database.
	sidecar.process.kill9();
	drop((c, d, publisher));
	let mut sidecar = Sidecar::start(&node, &db, &dir.path().join("sidecar-2.log")).await;
	let url = sidecar.ws_url();
	let mut c = Peer::connect("charlie", &url, charlie.clone()).await;
	let mut d = Peer::connect("dave", &url, dave.clone()).await;
	let history = c.watch(stream_id, charlie_session).await;
	assert!(history.iter().any(|t| t == chat), "the chat survives the crash: {history:?}");
	d.watch(stream_id, dave_session).await;
	let resume = tokio::time::Instant::now();
	for second in BEFORE_CRASH + 1..=TOTAL {
		tokio::time::sleep_until(resume + Duration::from_secs(second - BEFORE_CRASH)).await;
		c.heartbeat(charlie_session, second, false).await;
		d.heartbeat(dave_session, second, true).await;
	}
	drop((c, d));

	// The node restarts under the sidecar (an operator's upgrade): the sidecar's one node link
	// reconnects, its health says so, and the relay goes on settling on the new connection.
	node.restart().await;
	let client = Client::connect(&node.ws_url()).await.expect("the restarted node answers");
	let deadline = Instant::now() + Duration::from_secs(60);
	while health_status(sidecar.port).await != Some(200) {
		assert!(
			Instant::now() < deadline,
			"the sidecar did not reconnect to the restarted node:\n{}",
			sidecar.process.log_tail()
		);
		tokio::time::sleep(Duration::from_millis(250)).await;
	}

	// The relay settles exactly the last acknowledged seconds, in a finalized block.
	let deadline = Instant::now() + Duration::from_secs(120);
	let settled_at = loop {
		let head = client.finalized_head().await.expect("rpc");
		let sessions =
			client.sessions(&[charlie_session, dave_session], Some(head.hash)).await.expect("rpc");
		let settled: Vec<Option<u64>> =
			sessions.iter().map(|s| s.as_ref().map(|s| s.settled_seconds)).collect();
		if settled == [Some(TOTAL), Some(TOTAL)] {
			break head.hash;
		}
		// (`None`: the session is not open in the finalized state yet.)
		assert!(
			settled.iter().all(|s| s.is_none_or(|s| s <= TOTAL)),
			"settled more than acknowledged: {settled:?}"
		);
		assert!(
			Instant::now() < deadline,
			"not settled in time: {settled:?}\n{}",
			sidecar.process.log_tail()
		);
		tokio::time::sleep(Duration::from_secs(2)).await;
	};
	assert!(!sidecar.process.has_exited(), "the sidecar keeps running");

	// Balances moved exactly: 2 × 12 s × price out of escrow, 10 % of it to the platform, the
	// rest to Alice; the viewers' balances did not move (their escrow was paid at opening).
	let paid = 2 * TOTAL as Balance * PRICE;
	let fee = paid * Balance::from(FEE_BPS) / 10_000;
	let expected: [i128; 5] = [(paid - fee) as i128, fee as i128, -(paid as i128), 0, 0];
	for ((who, before), expected) in watched.iter().zip(balances_before).zip(expected) {
		let after = client.free_balance(who, Some(settled_at)).await.expect("rpc");
		assert_eq!(after as i128 - before as i128, expected, "balance change of {who}");
	}
	for session_id in [charlie_session, dave_session] {
		let s = client.session(session_id, Some(settled_at)).await.expect("rpc").expect("open");
		assert_eq!(s.escrow_remaining, (MAX_SECONDS - TOTAL) as Balance * PRICE);
	}
	let stream = client.stream(stream_id, Some(settled_at)).await.expect("rpc").expect("stored");
	assert_eq!(stream.total_viewer_seconds, 2 * TOTAL);
	assert_eq!(stream.total_earned, paid);
	sidecar.process.stop();
}

/// How long the sidecar is cut off from the chain in the outage test.
const OUTAGE: Duration = Duration::from_secs(5 * 60);
/// How long it goes on acknowledging without a block in that test (`--ack-without-chain-secs`).
const ACK_WITHOUT_CHAIN: Duration = Duration::from_secs(60);

/// The settled seconds of `session_id` at the best block (`None`: closed).
async fn settled(client: &Client, session_id: u64) -> Option<u64> {
	client.session(session_id, None).await.expect("rpc").map(|s| s.settled_seconds)
}

/// Issue 18, item 7: the sidecar and its relay are cut off from the chain for five minutes
/// while the node keeps producing blocks. Seconds acknowledged just before the cut (not yet
/// settled) and in the first minute of the outage are all settled once the link is back, and
/// the session is never refunded as idle; past that minute the sidecar acknowledges nothing
/// more (the viewer's media would pause), so nothing is at risk. With the runtime's former
/// one-minute idle timeout the off-chain worker closed the session during the outage and the
/// acknowledged seconds were lost.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a five-minute outage: run by scripts/test-long.sh"]
async fn a_five_minute_outage_of_the_chain_link_loses_no_acknowledged_second() {
	let dir = tempfile::tempdir().expect("temp dir");
	let node = Node::start(&dir.path().join("node")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let charlie = pair("//Charlie");
	let stream_id = live_stream(&client, "Outage").await;
	let session = open_session(&client, &charlie, stream_id).await;
	let link = Link::start(node.rpc_port).await;
	let sidecar = Sidecar::start_via(
		&link.url(),
		&dir.path().join("sidecar.sqlite"),
		&dir.path().join("sidecar.log"),
		&["--ack-without-chain-secs".into(), ACK_WITHOUT_CHAIN.as_secs().to_string()],
	)
	.await;
	let mut c = Peer::connect("charlie", &sidecar.ws_url(), charlie.clone()).await;
	c.watch(stream_id, session).await;

	// Five seconds acknowledged and settled.
	let start = tokio::time::Instant::now();
	for second in 1..=5 {
		tokio::time::sleep_until(start + Duration::from_secs(second)).await;
		c.heartbeat(session, second, false).await;
	}
	let deadline = Instant::now() + Duration::from_secs(60);
	while settled(&client, session).await != Some(5) {
		assert!(Instant::now() < deadline, "not settled:\n{}", sidecar.process.log_tail());
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	// The sixth is acknowledged, and the link is cut before the relay can settle it.
	tokio::time::sleep_until(start + Duration::from_secs(6)).await;
	c.heartbeat(session, 6, false).await;
	link.set_cut(true);
	let cut_at = tokio::time::Instant::now();
	let best_at_cut = client.best_head().await.expect("rpc").number;

	// The sidecar goes on acknowledging for a while, then refuses: the chain is silent.
	let mut last_acked = 6;
	let refused_after = loop {
		let second = last_acked + 1;
		tokio::time::sleep_until(start + Duration::from_secs(second)).await;
		match c.try_heartbeat(session, second, false).await {
			Ok(()) => last_acked = second,
			Err(code) => {
				assert_eq!(code, ErrorCode::ChainUnavailable);
				break cut_at.elapsed();
			},
		}
		assert!(cut_at.elapsed() < ACK_WITHOUT_CHAIN * 2, "still acknowledging after {second} s");
	};
	assert!(
		refused_after >= ACK_WITHOUT_CHAIN - Duration::from_secs(12),
		"refused after only {refused_after:?}"
	);
	drop(c);

	// The chain goes on without the sidecar; nothing of the session settles meanwhile.
	tokio::time::sleep_until(cut_at + OUTAGE).await;
	let best = client.best_head().await.expect("rpc").number;
	assert!(best >= best_at_cut + 40, "blocks went on: {best_at_cut} → {best}");
	assert_eq!(settled(&client, session).await, Some(5), "open, and nothing more settled");

	// The link is back: the relay settles exactly what was acknowledged.
	link.set_cut(false);
	let deadline = Instant::now() + Duration::from_secs(120);
	loop {
		let s = settled(&client, session).await;
		assert!(s.is_some(), "the session was refunded:\n{}", sidecar.process.log_tail());
		if s == Some(last_acked) {
			break;
		}
		assert!(s <= Some(last_acked), "settled {s:?}, above the {last_acked} acknowledged");
		assert!(
			Instant::now() < deadline,
			"{s:?} of {last_acked} settled after the outage:\n{}",
			sidecar.process.log_tail()
		);
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	assert!(last_acked >= 6 + ACK_WITHOUT_CHAIN.as_secs() - 15, "acknowledged {last_acked}");
}

/// Sidecar crashes in the crash-loop test, and node crashes among them.
const SIDECAR_CRASHES: usize = 20;
const NODE_CRASHES: usize = 5;

/// Issue 18, crash loops: during a stream with two paying viewers the sidecar is killed with
/// SIGKILL 20 times (half of the time right after a heartbeat was sent, before its ack could
/// arrive) and the node 5 times, each restarted on its own database. Then every second a viewer
/// saw acknowledged is settled, exactly once: each session's settled seconds lie between the
/// last acknowledged and the last signed second, the stream's total is their sum, and balances
/// moved by exactly price × seconds (nothing charged twice, nothing for seconds never signed).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "twenty sidecar crashes and five node crashes: run by scripts/test-long.sh"]
async fn every_acknowledged_second_survives_a_crash_loop_and_is_settled_once() {
	let dir = tempfile::tempdir().expect("temp dir");
	let mut node = Node::start(&dir.path().join("node")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let (alice, charlie, dave) = (pair("//Alice"), pair("//Charlie"), pair("//Dave"));
	let stream_id = live_stream(&client, "Crash loop").await;
	let charlie_session = open_session(&client, &charlie, stream_id).await;
	let opened =
		execute(&client, open_session_call(stream_id, account(&page_key(&dave))), &dave).await;
	let dave_session = opened_session(&opened.events);
	let platform = pallet_payouts::Pallet::<vilokanam_runtime::Runtime>::platform_account();
	let escrow = pallet_ticks::Pallet::<vilokanam_runtime::Runtime>::escrow_account();
	let watched = [account(&alice), platform, escrow];
	let mut balances_before = Vec::new();
	for who in &watched {
		balances_before.push(client.free_balance(who, Some(opened.block)).await.expect("rpc"));
	}
	drop(client);

	let db = dir.path().join("sidecar.sqlite");
	let sessions = [(charlie_session, false), (dave_session, true)];
	// Per session: the last second acknowledged to the viewer, and the last one signed.
	let mut acked = [0u64; 2];
	let mut signed = [0u64; 2];
	let mut node_crashes = 0;
	for round in 0..SIDECAR_CRASHES {
		let log = dir.path().join(format!("sidecar-{round}.log"));
		let mut sidecar = Sidecar::start(&node, &db, &log).await;
		let url = sidecar.ws_url();
		let mut viewers = [
			Peer::connect_with_voucher_key("charlie", &url, page_key(&charlie), charlie_session)
				.await,
			Peer::connect_with_voucher_key("dave", &url, page_key(&dave), dave_session).await,
		];
		for (peer, (session, _)) in viewers.iter_mut().zip(sessions) {
			peer.watch(stream_id, session).await;
		}
		// Two acknowledged seconds each, one per second of wall time (never ahead of it).
		for _ in 0..2 {
			tokio::time::sleep(Duration::from_secs(1)).await;
			for (i, (peer, (session, wrapped))) in viewers.iter_mut().zip(sessions).enumerate() {
				signed[i] += 1;
				peer.heartbeat(session, signed[i], wrapped).await;
				acked[i] = signed[i];
			}
		}
		if round % 2 == 1 {
			// One more, sent and not waited for: its ack may never arrive, but it may be stored.
			tokio::time::sleep(Duration::from_secs(1)).await;
			for (i, (peer, (session, wrapped))) in viewers.iter_mut().zip(sessions).enumerate() {
				signed[i] += 1;
				peer.send_heartbeat(session, signed[i], wrapped).await;
			}
		}
		sidecar.process.kill9();
		drop(viewers);
		if round % (SIDECAR_CRASHES / NODE_CRASHES) == 2 {
			node.crash_and_restart().await;
			node_crashes += 1;
		}
	}
	assert_eq!(node_crashes, NODE_CRASHES);

	// A last run of the sidecar settles what the crashes left.
	let mut sidecar = Sidecar::start(&node, &db, &dir.path().join("sidecar-last.log")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let deadline = Instant::now() + Duration::from_secs(180);
	let (settled, at) = loop {
		let head = client.finalized_head().await.expect("rpc");
		let found =
			client.sessions(&[charlie_session, dave_session], Some(head.hash)).await.expect("rpc");
		let settled: Vec<u64> =
			found.iter().map(|s| s.as_ref().map_or(0, |s| s.settled_seconds)).collect();
		for (i, s) in settled.iter().enumerate() {
			assert!(*s <= signed[i], "settled {s} s, more than the {} signed", signed[i]);
		}
		if settled.iter().zip(acked).all(|(s, a)| *s >= a) {
			break (settled, head.hash);
		}
		assert!(
			Instant::now() < deadline,
			"acknowledged {acked:?}, settled {settled:?}\n{}",
			sidecar.process.log_tail()
		);
		tokio::time::sleep(Duration::from_secs(2)).await;
	};
	// Settled once: the stream's total is the sessions' sum, and money moved exactly for it.
	let total: u64 = settled.iter().sum();
	let stream = client.stream(stream_id, Some(at)).await.expect("rpc").expect("stored");
	assert_eq!(stream.total_viewer_seconds, total);
	let paid = total as Balance * PRICE;
	let fee = paid * Balance::from(FEE_BPS) / 10_000;
	let expected: [i128; 3] = [(paid - fee) as i128, fee as i128, -(paid as i128)];
	for ((who, before), expected) in watched.iter().zip(balances_before).zip(expected) {
		let after = client.free_balance(who, Some(at)).await.expect("rpc");
		assert_eq!(after as i128 - before as i128, expected, "balance change of {who}");
	}
	println!(
		"crash loop: {SIDECAR_CRASHES} sidecar and {NODE_CRASHES} node crashes; acknowledged \
		 {acked:?}, signed {signed:?}, settled {settled:?}"
	);
	sidecar.process.stop();
}
