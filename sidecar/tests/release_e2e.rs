//! End-to-end: paying without a wallet prompt, and leaving without losing a second, against the
//! real dev node and the real `vilokanam-sidecar` binary.
//!
//! Viewers log in and sign their vouchers with their sessions' voucher keys (what a page holds),
//! never with their own account keys. When a viewer leaves (a `close` message, or the `POST
//! /close` beacon of a closing tab) or the stream ends, the sidecar, as the stream's relayer,
//! first settles every second it acknowledged and then closes the session at once: the creator
//! is paid for every acknowledged second and the viewer gets the rest back with no action of
//! its own. Attacks on these paths are refused: a key that is not the session's, a forged or
//! inflated close intent, a voucher posted without the session's watch token.
//!
//! Needs the node and sidecar binaries (`cargo test --workspace --release` builds both).

mod common;

use common::*;
use futures::StreamExt;
use sp_core::{sr25519, Pair};
use std::time::Duration;
use vilokanam_chain_client::{
	voucher, AccountId, Balance, Client, CloseReason, RuntimeCall, RuntimeEvent, SessionId,
	StreamId, VoucherEncoding, H256,
};
use vilokanam_sidecar::protocol::{ClientMessage, ErrorCode, RevokeReason, ServerMessage};
use vilokanam_test_utils::Node;

/// What closed a session on chain.
#[derive(Debug, PartialEq, Eq)]
struct Closed {
	settled_seconds: u64,
	refunded: Balance,
	reason: CloseReason,
}

/// Follows best blocks until each of `sessions` is closed; returns how, in order.
async fn closed_on_chain(client: &Client, sessions: &[SessionId], within: Duration) -> Vec<Closed> {
	let mut heads = client.subscribe_heads(false).await.expect("follows best heads");
	let mut found: Vec<Option<Closed>> = sessions.iter().map(|_| None).collect();
	let deadline = tokio::time::Instant::now() + within;
	while found.iter().any(Option::is_none) {
		let head = tokio::time::timeout_at(deadline, heads.next())
			.await
			.unwrap_or_else(|_| panic!("sessions {sessions:?} not closed within {within:?}"))
			.expect("the head subscription lasts")
			.expect("a decodable head");
		for record in client.events(head.hash).await.expect("events") {
			if let RuntimeEvent::Ticks(pallet_ticks::Event::SessionClosed {
				session_id,
				settled_seconds,
				refunded,
				reason,
			}) = record.event
			{
				if let Some(i) = sessions.iter().position(|s| *s == session_id) {
					found[i] = Some(Closed { settled_seconds, refunded, reason });
				}
			}
		}
	}
	found.into_iter().flatten().collect()
}

/// Sends heartbeats `from..=to`, one per second (they may not run ahead of the clock).
async fn watch_seconds(peer: &mut Peer, session_id: SessionId, from: u64, to: u64) {
	for c in from..=to {
		tokio::time::sleep(Duration::from_millis(1_000)).await;
		peer.heartbeat(session_id, c, false).await;
	}
}

/// Everything `who` ever received through payouts, at `at`.
async fn lifetime(client: &Client, who: &AccountId, at: H256) -> Balance {
	let key = pallet_payouts::LifetimeEarnings::<vilokanam_runtime::Runtime>::hashed_key_for(who);
	match client.storage(&key, Some(at)).await.expect("rpc") {
		Some(raw) => codec::Decode::decode(&mut &raw[..]).expect("a balance"),
		None => 0,
	}
}

async fn free(client: &Client, who: &AccountId, at: H256) -> Balance {
	client.free_balance(who, Some(at)).await.expect("rpc")
}

/// A viewer's session on `stream_id` opened with its page key as voucher key, and a peer
/// logged in with that key (never with the viewer's own key).
async fn page_viewer(
	client: &Client,
	url: &str,
	name: &'static str,
	viewer: &sr25519::Pair,
	stream_id: StreamId,
) -> (SessionId, Peer) {
	let session = open_session(client, viewer, stream_id).await;
	let mut peer = Peer::connect_with_voucher_key(name, url, page_key(viewer), session).await;
	peer.watch(stream_id, session).await;
	(session, peer)
}

/// The creator ends the stream right after the viewers' last vouchers were acknowledged, with
/// the relay held back (the sidecar has no relayer key) until `end_stream` is in a block. The
/// sidecar is then restarted with its relayer key on the same database: every acknowledged
/// second is settled, then both sessions are closed at once and refunded, with no action of the
/// viewers'.
#[tokio::test(flavor = "multi_thread")]
async fn ending_a_stream_settles_every_acknowledged_second_then_refunds() {
	let dir = tempfile::tempdir().expect("temp dir");
	let node = Node::start(&dir.path().join("node")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let (alice, charlie, dave) = (pair("//Alice"), pair("//Charlie"), pair("//Dave"));
	let stream_id = live_stream(&client, "Ending").await;

	let db = dir.path().join("sidecar.sqlite");
	let mut held = Sidecar::start_without_relayer(&node, &db, &dir.path().join("held.log")).await;
	let url = held.ws_url();
	let (charlie_session, mut charlie_peer) =
		page_viewer(&client, &url, "charlie", &charlie, stream_id).await;
	let (dave_session, mut dave_peer) = page_viewer(&client, &url, "dave", &dave, stream_id).await;
	let before = client.best_head().await.expect("rpc").hash;
	let platform = pallet_payouts::Pallet::<vilokanam_runtime::Runtime>::platform_account();
	let alice_before = lifetime(&client, &account(&alice), before).await;
	let watched = [platform.clone(), account(&charlie), account(&dave)];
	let mut balances_before = Vec::new();
	for who in &watched {
		balances_before.push(free(&client, who, before).await);
	}
	let (charlie_acked, dave_acked) = (7, 5);
	watch_seconds(&mut charlie_peer, charlie_session, 1, charlie_acked).await;
	watch_seconds(&mut dave_peer, dave_session, 1, dave_acked).await;

	// Alice ends the stream: the viewers are told at once; nothing is settled yet.
	execute(&client, RuntimeCall::Streams(pallet_streams::Call::end_stream { stream_id }), &alice)
		.await;
	for peer in [&mut charlie_peer, &mut dave_peer] {
		peer.expect("revoked", |m| match m {
			ServerMessage::Revoked { reason: RevokeReason::StreamEnded } => Some(()),
			_ => None,
		})
		.await;
	}
	for session in [charlie_session, dave_session] {
		let s = client.session(session, None).await.expect("rpc").expect("still stored");
		assert_eq!(s.settled_seconds, 0, "the relay was held back");
	}
	// Let the sidecar record the end, then stop it.
	tokio::time::sleep(Duration::from_secs(2)).await;
	held.process.stop();

	let mut relaying = Sidecar::start(&node, &db, &dir.path().join("relaying.log")).await;
	let closed =
		closed_on_chain(&client, &[charlie_session, dave_session], Duration::from_secs(120)).await;
	let refund = |acked: u64| (MAX_SECONDS - acked) as Balance * PRICE;
	assert_eq!(
		closed,
		vec![
			Closed {
				settled_seconds: charlie_acked,
				refunded: refund(charlie_acked),
				reason: CloseReason::Closed
			},
			Closed {
				settled_seconds: dave_acked,
				refunded: refund(dave_acked),
				reason: CloseReason::Closed
			},
		],
		"{}",
		relaying.process.log_tail()
	);
	// Exact balances: the viewers paid exactly their acknowledged seconds (they sent nothing
	// after opening), the creator got them less the 10 % fee.
	let now = client.best_head().await.expect("rpc").hash;
	let paid = (charlie_acked + dave_acked) as Balance * PRICE;
	assert_eq!(lifetime(&client, &account(&alice), now).await - alice_before, paid - paid / 10);
	let expected = [
		balances_before[0] + paid / 10,
		balances_before[1] + refund(charlie_acked),
		balances_before[2] + refund(dave_acked),
	];
	for ((who, want), name) in watched.iter().zip(expected).zip(["platform", "charlie", "dave"]) {
		assert_eq!(free(&client, who, now).await, want, "{name}'s balance");
	}
	relaying.process.stop();
}

/// A viewer leaves with a close intent: the relayer settles and refunds at once. A closing
/// tab's beacon does the same; a player without the WebSocket pays over `POST /vouchers`; a
/// stream whose relayer is another account is not served, nor one reassigned since.
/// Forged and inflated intents and foreign keys are refused.
#[tokio::test(flavor = "multi_thread")]
async fn leaving_viewers_are_settled_and_refunded_at_once_and_attacks_fail() {
	let dir = tempfile::tempdir().expect("temp dir");
	let node = Node::start(&dir.path().join("node")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let genesis = client.genesis_hash();
	let (charlie, dave, eve) = (pair("//Charlie"), pair("//Dave"), pair("//Eve"));
	let stream_id = live_stream(&client, "Leaving").await;
	let mut sidecar =
		Sidecar::start(&node, &dir.path().join("sidecar.sqlite"), &dir.path().join("s.log")).await;
	let url = sidecar.ws_url();

	// A key that is not the session's voucher key (Dave's page key, Charlie's own account key)
	// does not log in as its viewer.
	let charlie_session = open_session(&client, &charlie, stream_id).await;
	for key in [page_key(&dave), charlie.clone()] {
		let code = Peer::refused_voucher_key_login(&url, key, charlie_session).await;
		assert_eq!(code, ErrorCode::Forbidden);
	}

	// Charlie watches with the page key, then leaves with a close intent.
	let mut charlie_peer =
		Peer::connect_with_voucher_key("charlie", &url, page_key(&charlie), charlie_session).await;
	charlie_peer.watch(stream_id, charlie_session).await;
	let opened_at = client.best_head().await.expect("rpc").hash;
	let charlie_before = free(&client, &account(&charlie), opened_at).await;
	watch_seconds(&mut charlie_peer, charlie_session, 1, 6).await;
	// Forged (signed by another key) and inflated (more seconds than elapsed) intents.
	charlie_peer.send(close_intent(&page_key(&dave), &genesis, charlie_session, 6)).await;
	assert_eq!(charlie_peer.expect_error("a forged intent").await, ErrorCode::BadSignature);
	charlie_peer.send(close_intent(&page_key(&charlie), &genesis, charlie_session, 500)).await;
	assert_eq!(charlie_peer.expect_error("an inflated intent").await, ErrorCode::AheadOfTime);
	charlie_peer.send(close_intent(&page_key(&charlie), &genesis, charlie_session, 6)).await;
	charlie_peer
		.expect("closing", |m| match m {
			ServerMessage::Closing { session_id, cumulative_seconds: 6 }
				if *session_id == charlie_session =>
			{
				Some(())
			},
			_ => None,
		})
		.await;

	// Dave's tab closes: the page's beacon carries his close intent.
	let (dave_session, mut dave_peer) = page_viewer(&client, &url, "dave", &dave, stream_id).await;
	watch_seconds(&mut dave_peer, dave_session, 1, 3).await;
	let ClientMessage::Close { signature, .. } =
		close_intent(&page_key(&dave), &genesis, dave_session, 4)
	else {
		unreachable!()
	};
	tokio::time::sleep(Duration::from_secs(1)).await;
	let beacon = format!(
		r#"{{"session_id":{dave_session},"cumulative_seconds":4,"encoding":"raw","crypto":"sr25519","signer":"voucher_key","signature":"0x{}"}}"#,
		hex::encode(signature.0)
	);
	let r = http(sidecar.port, "POST", "/close", &[("content-type", "text/plain")], &beacon).await;
	assert_eq!(r.status, 202, "{}", r.body);
	// The same beacon with another key's signature is refused.
	let forged = beacon.replace(&hex::encode(signature.0), &hex::encode([7u8; 64]));
	let r = http(sidecar.port, "POST", "/close", &[], &forged).await;
	assert_eq!(r.status, 403, "{}", r.body);

	let closed =
		closed_on_chain(&client, &[charlie_session, dave_session], Duration::from_secs(120)).await;
	assert_eq!(
		closed,
		vec![
			Closed {
				settled_seconds: 6,
				refunded: (MAX_SECONDS - 6) as Balance * PRICE,
				reason: CloseReason::Closed
			},
			Closed {
				settled_seconds: 4,
				refunded: (MAX_SECONDS - 4) as Balance * PRICE,
				reason: CloseReason::Closed
			},
		],
		"{}",
		sidecar.process.log_tail()
	);
	let now = client.best_head().await.expect("rpc").hash;
	assert_eq!(
		free(&client, &account(&charlie), now).await,
		charlie_before + (MAX_SECONDS - 6) as Balance * PRICE,
		"Charlie paid exactly 6 s and sent nothing to leave"
	);

	// A WHEP player pays over HTTP with its watch token; without the token, nothing.
	let (eve_session, mut eve_peer) = page_viewer(&client, &url, "eve", &eve, stream_id).await;
	eve_peer.send(ClientMessage::WatchToken {}).await;
	let token = eve_peer
		.expect("watch_token", |m| match m {
			ServerMessage::WatchToken { token, .. } => Some(token.clone()),
			_ => None,
		})
		.await;
	let posted = |c: u64| {
		let bytes = voucher::signed_bytes(&genesis, eve_session, c, VoucherEncoding::Raw);
		format!(
			r#"{{"cumulative_seconds":{c},"encoding":"raw","crypto":"sr25519","signer":"voucher_key","signature":"0x{}"}}"#,
			hex::encode(page_key(&eve).sign(&bytes).0)
		)
	};
	tokio::time::sleep(Duration::from_secs(2)).await;
	let r = http(sidecar.port, "POST", "/vouchers", &[], &posted(1)).await;
	assert_eq!(r.status, 401, "no token: {}", r.body);
	let bearer = format!("Bearer {token}");
	let auth = [("authorization", bearer.as_str()), ("content-type", "application/json")];
	for c in [1, 2] {
		let r = http(sidecar.port, "POST", "/vouchers", &auth, &posted(c)).await;
		assert_eq!(r.status, 200, "{}", r.body);
	}
	let r = http(sidecar.port, "POST", "/vouchers", &auth, &posted(2)).await;
	assert_eq!(r.status, 409, "a replay is stale: {}", r.body);
	let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
	while client.session(eve_session, None).await.expect("rpc").map(|s| s.settled_seconds)
		!= Some(2)
	{
		assert!(tokio::time::Instant::now() < deadline, "{}", sidecar.process.log_tail());
		tokio::time::sleep(Duration::from_secs(1)).await;
	}

	// A stream whose relayer is someone else is not served here (issue 18, item 4): no
	// watching, so nothing acknowledged, stored or settled at this relayer's cost.
	let other = other_relayers_stream(&client).await;
	let other_session = open_session(&client, &charlie, other).await;
	let mut other_peer =
		Peer::connect_with_voucher_key("charlie-2", &url, page_key(&charlie), other_session).await;
	other_peer.send(ClientMessage::Watch { stream_id: other, session_id: other_session }).await;
	assert_eq!(other_peer.expect_error("another relayer's stream").await, ErrorCode::Forbidden);
	// Nor a stream its creator hands to another relayer after the sidecar read it: the view
	// re-reads a stream on `StreamUpdated`, and the next viewer is refused.
	let update =
		pallet_streams::StreamUpdate { relayer: Some(Some(account(&eve))), ..Default::default() };
	let call = RuntimeCall::Streams(pallet_streams::Call::update_stream { stream_id, update });
	execute(&client, call, &pair("//Alice")).await;
	let bob = pair("//Bob");
	let late_session = open_session(&client, &bob, stream_id).await;
	let mut late = Peer::connect_with_voucher_key("bob", &url, page_key(&bob), late_session).await;
	late.send(ClientMessage::Watch { stream_id, session_id: late_session }).await;
	assert_eq!(late.expect_error("a reassigned stream").await, ErrorCode::Forbidden);
	sidecar.process.stop();
}

/// Alice's live stream whose relayer is Eve, not the sidecar.
async fn other_relayers_stream(client: &Client) -> StreamId {
	let alice = pair("//Alice");
	let create =
		create_stream_call("Relayed by someone else", PRICE, Some(account(&pair("//Eve"))));
	let stream_id = stream_created(&execute(client, create, &alice).await.events);
	execute(client, go_live_call(stream_id), &alice).await;
	stream_id
}
