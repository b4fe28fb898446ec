//! End-to-end: pay-per-second on the real dev node.
//!
//! A creator registers a stream and goes live; two viewers open sessions; vouchers signed
//! off-chain (one plain, one in the `<Bytes>` wrapping browser wallets add) settle in one batch
//! and balances move exactly (price × seconds, platform fee, collaborator split); a replayed
//! voucher, a forged one and one claiming more seconds than elapsed pay nothing; closing a
//! session refunds the rest; an abandoned session stays open for the idle timeout, after which
//! the off-chain worker closes it (that wait in the long suite only); and every
//! `vilokanam_*` RPC method agrees with chain state. (The wallet-free flows — voucher keys,
//! allowances, close intents, the settlement window — are tested against the real node and
//! sidecar in `sidecar/tests/release_e2e.rs` and the browser tests.)

mod common;

use common::{Node, Rpc};
use frame_support::{traits::Get, BoundedVec};
use jsonrpsee::{
	core::client::{ClientT, Subscription, SubscriptionClientT},
	rpc_params,
};
use pallet_ticks::{
	BatchWitness, CloseIntent, CloseReason, RejectReason, Voucher, VoucherEncoding, VoucherSigner,
};
use serde_json::Value;
use sp_core::{crypto::Ss58Codec, sr25519, Pair, H256};
use sp_keyring::Sr25519Keyring::{self, Alice, Bob, Charlie, Dave, Eve, Ferdie};
use sp_runtime::{MultiSignature, Permill};
use std::time::Duration;
use vilokanam_runtime::{AccountId, Balance, Runtime, RuntimeCall, RuntimeEvent, MILLI_VLK};
use vilokanam_test_utils::chain::{
	batch_settled, bounded, go_live_call, governance_calls, session_opened, stream_created,
};

const PRICE: Balance = MILLI_VLK;
const MAX_SECONDS: u64 = 600;
const FEE_BPS: u16 = 1_000;

fn sign_voucher(
	signer: &sr25519::Pair,
	genesis: H256,
	session_id: u64,
	cumulative: u64,
	wrapped: bool,
) -> (VoucherEncoding, MultiSignature) {
	let payload =
		pallet_ticks::Pallet::<Runtime>::voucher_payload(&genesis, session_id, cumulative);
	if wrapped {
		let message = [&b"<Bytes>"[..], &payload, b"</Bytes>"].concat();
		(VoucherEncoding::Wrapped, MultiSignature::Sr25519(signer.sign(&message)))
	} else {
		(VoucherEncoding::Raw, MultiSignature::Sr25519(signer.sign(&payload)))
	}
}

fn voucher(
	session_id: u64,
	cumulative_seconds: u64,
	(encoding, signature): (VoucherEncoding, MultiSignature),
) -> Voucher<MultiSignature> {
	Voucher { session_id, cumulative_seconds, signer: VoucherSigner::Viewer, encoding, signature }
}

async fn balance(rpc: &Rpc, who: &AccountId, at: H256) -> Balance {
	rpc.free_balance(who, Some(at)).await
}

fn fee_paid(events: &[RuntimeEvent], who: &AccountId) -> Balance {
	events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::TransactionPayment(
				pallet_transaction_payment::Event::TransactionFeePaid {
					who: w, actual_fee, ..
				},
			) if w == who => Some(*actual_fee),
			_ => None,
		})
		.unwrap_or(0)
}

fn opened_session(events: &[RuntimeEvent], viewer: &AccountId) -> u64 {
	session_opened(events, Some(viewer))
}

fn rejections(events: &[RuntimeEvent]) -> Vec<(u64, RejectReason)> {
	events
		.iter()
		.filter_map(|e| match e {
			RuntimeEvent::Ticks(pallet_ticks::Event::VoucherRejected { session_id, reason }) => {
				Some((*session_id, *reason))
			},
			_ => None,
		})
		.collect()
}

/// A fresh dev node past its first block, with a category and a [`FEE_BPS`] platform fee (sudo
/// is Alice on the dev chain): its folder, the node, a client and the genesis hash.
async fn governed_chain() -> (tempfile::TempDir, Node, Rpc, H256) {
	let dir = tempfile::tempdir().expect("temp dir");
	let node = Node::start(&dir.path().join("node")).await;
	let rpc = node.client().await;
	rpc.wait_best(1, Duration::from_secs(60)).await;
	let genesis = rpc.block_hash(0).await;
	for call in governance_calls(FEE_BPS) {
		rpc.execute(call, &Alice.pair()).await;
	}
	(dir, node, rpc, genesis)
}

fn account(k: Sr25519Keyring) -> AccountId {
	k.to_account_id()
}

#[tokio::test(flavor = "multi_thread")]
async fn viewers_pay_exactly_per_second_settled_in_batches() {
	// Governance: a category and a 10% platform fee (sudo is Alice on the dev chain).
	let (_dir, node, rpc, genesis) = governed_chain().await;

	// Bob creates a stream, shares 25% with Ferdie, goes live.
	let (_, events) = rpc
		.execute(
			RuntimeCall::Streams(pallet_streams::Call::create_stream {
				title: bounded("Late Night JAZZ"),
				metadata: bounded("ipfs://bafy-late-night"),
				category: 1,
				tags: vec![bounded("jazz"), bounded("live")].try_into().expect("two tags fit"),
				price_per_second: PRICE,
				endpoint: Some(bounded("wss://sidecar.example/ws")),
				relayer: None,
			}),
			&Bob.pair(),
		)
		.await;
	let stream_id = stream_created(&events);
	rpc.execute(
		RuntimeCall::Streams(pallet_streams::Call::set_split {
			stream_id,
			collaborators: vec![(account(Ferdie), Permill::from_percent(25))]
				.try_into()
				.expect("one collaborator fits"),
		}),
		&Bob.pair(),
	)
	.await;
	rpc.execute(go_live_call(stream_id), &Bob.pair()).await;

	// Two viewers open sessions escrowing 600 s each; Charlie follows Bob.
	let open = |who: Sr25519Keyring| {
		let rpc = &rpc;
		async move {
			let (_, events) = rpc
				.execute(
					RuntimeCall::Ticks(pallet_ticks::Call::open_session {
						stream_id,
						max_seconds: MAX_SECONDS,
						max_price_per_second: PRICE,
						voucher_key: account(who),
					}),
					&who.pair(),
				)
				.await;
			opened_session(&events, &account(who))
		}
	};
	let charlie_session = open(Charlie).await;
	let dave_session = open(Dave).await;
	rpc.execute(
		RuntimeCall::Streams(pallet_streams::Call::follow { creator: account(Bob) }),
		&Charlie.pair(),
	)
	.await;

	// Let real seconds elapse, then settle vouchers signed off-chain in one batch: two good
	// ones (Dave's in the browser-wallet wrapping), a forgery, one ahead of time, one above the
	// escrow.
	let opened = rpc.best_number().await;
	rpc.wait_best(opened + 2, Duration::from_secs(60)).await;
	let vouchers: BoundedVec<_, _> = vec![
		voucher(
			charlie_session,
			10,
			sign_voucher(&Charlie.pair(), genesis, charlie_session, 10, false),
		),
		voucher(dave_session, 8, sign_voucher(&Dave.pair(), genesis, dave_session, 8, true)),
		voucher(dave_session, 9, sign_voucher(&Eve.pair(), genesis, dave_session, 9, false)),
		voucher(
			charlie_session,
			300,
			sign_voucher(&Charlie.pair(), genesis, charlie_session, 300, false),
		),
		voucher(
			charlie_session,
			700,
			sign_voucher(&Charlie.pair(), genesis, charlie_session, 700, false),
		),
	]
	.try_into()
	.expect("five vouchers fit a batch");
	// The two sessions were opened one after the other: one page of settlement state; one
	// stream.
	let pages = pallet_ticks::pages_of(vouchers.iter().map(|v| v.session_id));
	assert_eq!(pages, pallet_ticks::pages_of([charlie_session, dave_session]));
	let witness = BatchWitness { streams: 1, pages };
	let (settle_block, events) = rpc
		.execute(
			RuntimeCall::Ticks(pallet_ticks::Call::settle_batch { vouchers, witness }),
			&Alice.pair(),
		)
		.await;
	let block = settle_block;

	let paid = 18 * PRICE;
	let fee = paid / 10;
	let ferdie_share = (paid - fee) / 4;
	let bob_share = paid - fee - ferdie_share;
	assert_eq!(batch_settled(&events), (2, 3, paid));
	assert_eq!(
		rejections(&events),
		vec![
			(dave_session, RejectReason::BadSignature),
			(charlie_session, RejectReason::AheadOfTime),
			(charlie_session, RejectReason::AboveMaxSeconds),
		]
	);
	let platform = pallet_payouts::Pallet::<Runtime>::platform_account();
	let escrow = pallet_ticks::Pallet::<Runtime>::escrow_account();
	assert_eq!(rpc.balance_change(&account(Bob), block).await, bob_share as i128);
	assert_eq!(rpc.balance_change(&account(Ferdie), block).await, ferdie_share as i128);
	assert_eq!(rpc.balance_change(&platform, block).await, fee as i128);
	assert_eq!(rpc.balance_change(&escrow, block).await, -(paid as i128));

	// A replayed voucher is a no-op.
	let replay: BoundedVec<_, _> = vec![voucher(
		charlie_session,
		10,
		sign_voucher(&Charlie.pair(), genesis, charlie_session, 10, false),
	)]
	.try_into()
	.expect("one voucher fits");
	let (replay_block, events) = rpc
		.execute(
			RuntimeCall::Ticks(pallet_ticks::Call::settle_batch {
				vouchers: replay,
				witness: BatchWitness { streams: 1, pages: 1 },
			}),
			&Alice.pair(),
		)
		.await;
	assert_eq!(batch_settled(&events), (0, 1, 0));
	assert_eq!(rejections(&events), vec![(charlie_session, RejectReason::NotIncreasing)]);
	assert_eq!(rpc.balance_change(&account(Bob), replay_block).await, 0);
	assert_eq!(rpc.balance_change(&escrow, replay_block).await, 0);

	// The RPC agrees with chain state.
	let bob_ss58 = account(Bob).to_ss58check();
	let live = rpc.call("vilokanam_liveStreams", rpc_params![]).await;
	let s = live
		.as_array()
		.and_then(|a| a.iter().find(|s| s["id"] == stream_id))
		.expect("the stream is listed live");
	assert_eq!(s["title"], "Late Night JAZZ");
	assert_eq!(s["status"], "Live");
	assert_eq!(s["creator"], bob_ss58.as_str());
	let by_category = rpc.call("vilokanam_liveStreams", rpc_params![1, 0, 10]).await;
	assert_eq!(by_category.as_array().map(Vec::len), Some(1));
	let s = rpc.call("vilokanam_stream", rpc_params![stream_id]).await;
	assert_eq!(s["totalSeconds"], 18);
	assert_eq!(s["totalEarned"], paid.to_string());
	assert_eq!(s["currentViewers"], 2);
	assert_eq!(s["pricePerSecond"], PRICE.to_string());
	assert_eq!(s["collaborators"][0][1], 250_000);
	let found = rpc.call("vilokanam_searchStreams", rpc_params!["jazz"]).await;
	assert_eq!(found.as_array().map(Vec::len), Some(1), "search ignores case");
	let none = rpc.call("vilokanam_searchStreams", rpc_params!["polka"]).await;
	assert_eq!(none.as_array().map(Vec::len), Some(0));
	let mine = rpc.call("vilokanam_streamsByCreator", rpc_params![bob_ss58.clone()]).await;
	assert_eq!(mine[0]["id"], stream_id);
	let session = rpc.call("vilokanam_session", rpc_params![dave_session, 12]).await;
	assert_eq!(session["settledSeconds"], 8);
	assert_eq!(session["escrowRemaining"], ((MAX_SECONDS - 8) as u128 * PRICE).to_string());
	assert_eq!(session["voucherCost"], (4 * PRICE).to_string());
	let stale = rpc.call("vilokanam_session", rpc_params![dave_session, 8]).await;
	assert_eq!(stale["voucherCost"], Value::Null, "a non-increasing voucher would pay nothing");
	let quote = rpc.call("vilokanam_quote", rpc_params![stream_id, 100]).await;
	assert_eq!(quote, (100 * PRICE).to_string());
	let earned = rpc.call("vilokanam_earnings", rpc_params![bob_ss58.clone()]).await;
	assert_eq!(earned, bob_share.to_string());
	let follows =
		rpc.call("vilokanam_following", rpc_params![account(Charlie).to_ss58check()]).await;
	assert_eq!(follows, serde_json::json!([bob_ss58]));
	let err = rpc.0.request::<Value, _>("vilokanam_quote", rpc_params![9_999, 1]).await;
	assert!(
		format!("{:?}", err.expect_err("an unknown stream is an error")).contains("does not exist"),
		"the error says why"
	);
	let mut sub: Subscription<Value> = rpc
		.0
		.subscribe(
			"vilokanam_subscribeStream",
			rpc_params![stream_id],
			"vilokanam_unsubscribeStream",
		)
		.await
		.expect("subscribe to the stream");
	for _ in 0..2 {
		let update = tokio::time::timeout(Duration::from_secs(30), sub.next())
			.await
			.expect("an update per block")
			.expect("subscription open")
			.expect("update decodes");
		assert_eq!(update["id"], stream_id);
		assert_eq!(update["currentViewers"], 2);
		assert_eq!(update["totalSeconds"], 18);
	}
	drop(sub);

	// Charlie leaves with a close intent; Bob, the creator, closes the session at once with it:
	// it settles and the rest of the escrow is refunded.
	let payload = pallet_ticks::Pallet::<Runtime>::close_payload(&genesis, charlie_session, 14);
	let intent = CloseIntent {
		cumulative_seconds: 14,
		signer: VoucherSigner::Viewer,
		encoding: VoucherEncoding::Raw,
		signature: MultiSignature::Sr25519(Charlie.pair().sign(&payload)),
	};
	let (block, events) = rpc
		.execute(
			RuntimeCall::Ticks(pallet_ticks::Call::close_session {
				session_id: charlie_session,
				final_intent: Some(intent),
			}),
			&Bob.pair(),
		)
		.await;
	let refund = (MAX_SECONDS - 14) as u128 * PRICE;
	assert!(events.iter().any(|e| matches!(
		e,
		RuntimeEvent::Ticks(pallet_ticks::Event::SessionClosed {
			session_id, settled_seconds: 14, refunded, reason: CloseReason::Closed,
		}) if *session_id == charlie_session && *refunded == refund
	)));
	assert_eq!(fee_paid(&events, &account(Charlie)), 0, "Charlie sent nothing");
	assert_eq!(rpc.balance_change(&account(Charlie), block).await, refund as i128);
	let last4 = 4 * PRICE;
	assert_eq!(rpc.balance_change(&platform, block).await, (last4 / 10) as i128);

	// Dave abandons his session. It stays open for the idle timeout (twelve minutes, so that a
	// sidecar cut off from the chain for ten loses nothing it acknowledged); then the off-chain
	// worker closes it and Dave gets the rest of his escrow back without sending anything. The
	// twelve minutes are the long suite's (scripts/test-long.sh sets VILOKANAM_LONG_TESTS=1).
	let s = rpc.call("vilokanam_session", rpc_params![dave_session]).await;
	assert!(
		s["closed"].is_null() && s["open"] == true,
		"Dave's session is open after {} blocks idle: {s}",
		rpc.best_number().await
	);
	let s = rpc.call("vilokanam_stream", rpc_params![stream_id]).await;
	assert_eq!(s["currentViewers"], 1);
	if std::env::var("VILOKANAM_LONG_TESTS").as_deref() != Ok("1") {
		eprintln!("the idle timeout's expiry is checked by scripts/test-long.sh");
		return;
	}
	// Dave has sent nothing since the batch; measure from there.
	let idle_blocks: u32 = <Runtime as pallet_ticks::Config>::IdleTimeout::get();
	let idle =
		Duration::from_millis(u64::from(idle_blocks) * vilokanam_runtime::MILLI_SECS_PER_BLOCK);
	let dave_before = balance(&rpc, &account(Dave), settle_block).await;
	let deadline = tokio::time::Instant::now() + idle + Duration::from_secs(150);
	let closed_at = loop {
		let s = rpc.call("vilokanam_session", rpc_params![dave_session]).await;
		if !s["closed"].is_null() {
			// Closed by the worker, and still reported, with what it settled and refunded.
			assert_eq!(s["closed"]["reason"], "Expired", "{s}");
			assert_eq!(s["open"], false);
			assert_eq!(s["escrowRemaining"], "0");
			assert_eq!(s["settledSeconds"], 8);
			assert_eq!(s["closed"]["refunded"], ((MAX_SECONDS - 8) as u128 * PRICE).to_string());
			break s["closed"]["closedIn"].as_u64().expect("a block number") as u32;
		}
		assert!(
			tokio::time::Instant::now() < deadline,
			"the off-chain worker did not close the abandoned session:\n{}",
			node.log_tail()
		);
		tokio::time::sleep(Duration::from_secs(3)).await;
	};
	let settled_at = rpc.block_number(settle_block).await;
	assert!(
		closed_at >= settled_at + idle_blocks,
		"closed at {closed_at}, settled at {settled_at}"
	);
	let dave_after = rpc.free_balance(&account(Dave), None).await;
	assert_eq!(dave_after - dave_before, (MAX_SECONDS - 8) as u128 * PRICE);
	let s = rpc.call("vilokanam_stream", rpc_params![stream_id]).await;
	assert_eq!(s["currentViewers"], 0);
	assert_eq!(s["peakViewers"], 2);
	assert_eq!(s["totalSeconds"], 22);

	// Escrow keeps exactly its existential deposit once no session is open.
	let escrow_left = rpc.free_balance(&escrow, None).await;
	assert_eq!(escrow_left, vilokanam_runtime::EXISTENTIAL_DEPOSIT);
}

/// Whether `events` hold a failed extrinsic with `error`.
fn failed_with(events: &[RuntimeEvent], error: sp_runtime::DispatchError) -> bool {
	let sp_runtime::DispatchError::Module(want) = error else { return false };
	events.iter().any(|e| {
		matches!(e, RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
			dispatch_error: sp_runtime::DispatchError::Module(got), ..
		}) if got.index == want.index && got.error == want.error)
	})
}

/// An ended stream's replay, as the creator offers it: sessions opened after the end pay the
/// offer's price for exactly the seconds settled, nobody can open one without an offer, and
/// the RPC shows the offer to dApps.
#[tokio::test(flavor = "multi_thread")]
async fn an_ended_streams_replay_is_paid_per_second_at_its_offer_price() {
	let (_dir, node, rpc, genesis) = governed_chain().await;
	let (_, events) = rpc
		.execute(
			vilokanam_test_utils::chain::create_stream_call("Replayed", PRICE, None),
			&Bob.pair(),
		)
		.await;
	let stream_id = stream_created(&events);
	rpc.execute(go_live_call(stream_id), &Bob.pair()).await;
	rpc.execute(RuntimeCall::Streams(pallet_streams::Call::end_stream { stream_id }), &Bob.pair())
		.await;

	// No offer: no replay session, and the RPC says why.
	let s = rpc.call("vilokanam_stream", rpc_params![stream_id]).await;
	assert_eq!((s["status"].as_str(), &s["replayPrice"]), (Some("Ended"), &Value::Null));
	let err = rpc.0.request::<Value, _>("vilokanam_quote", rpc_params![stream_id, 10]).await;
	assert!(format!("{:?}", err.expect_err("no offer")).contains("offers no replay"));
	let open = |price| {
		RuntimeCall::Ticks(pallet_ticks::Call::open_session {
			stream_id,
			max_seconds: 100,
			max_price_per_second: price,
			voucher_key: account(Eve),
		})
	};
	let xt = rpc.sign(open(PRICE), &Eve.pair()).await;
	let block = rpc.submit_and_wait(xt, false).await;
	let error = pallet_ticks::Error::<Runtime>::ReplayNotOffered.into();
	assert!(failed_with(&rpc.events(block).await, error), "refused without an offer");

	// A stranger cannot offer it; its creator offers it at half the live price.
	let offer = |price| {
		RuntimeCall::Streams(pallet_streams::Call::set_replay_offer {
			stream_id,
			price_per_second: price,
		})
	};
	let xt = rpc.sign(offer(Some(1)), &Eve.pair()).await;
	let block = rpc.submit_and_wait(xt, false).await;
	let error = pallet_streams::Error::<Runtime>::NotCreator.into();
	assert!(failed_with(&rpc.events(block).await, error), "only the creator offers a replay");
	let replay_price = PRICE / 2;
	rpc.execute(offer(Some(replay_price)), &Bob.pair()).await;
	let s = rpc.call("vilokanam_stream", rpc_params![stream_id]).await;
	assert_eq!(s["replayPrice"], replay_price.to_string());
	let mine =
		rpc.call("vilokanam_streamsByCreator", rpc_params![account(Bob).to_ss58check()]).await;
	assert_eq!(mine[0]["replayPrice"], replay_price.to_string(), "lists carry it too");
	let quote = rpc.call("vilokanam_quote", rpc_params![stream_id, 10]).await;
	assert_eq!(quote, (10 * replay_price).to_string());

	// Eve watches the replay: she escrows at the offer's price and pays for the seconds settled.
	let (_, events) = rpc.execute(open(replay_price), &Eve.pair()).await;
	let session = opened_session(&events, &account(Eve));
	let s = rpc.call("vilokanam_session", rpc_params![session]).await;
	assert_eq!(s["pricePerSecond"], replay_price.to_string());
	let opened = rpc.best_number().await;
	rpc.wait_best(opened + 2, Duration::from_secs(60)).await;
	let vouchers: BoundedVec<_, _> =
		vec![voucher(session, 10, sign_voucher(&Eve.pair(), genesis, session, 10, false))]
			.try_into()
			.expect("one voucher fits");
	let (block, events) = rpc
		.execute(
			RuntimeCall::Ticks(pallet_ticks::Call::settle_batch {
				vouchers,
				witness: BatchWitness { streams: 1, pages: 1 },
			}),
			&Alice.pair(),
		)
		.await;
	let paid = 10 * replay_price;
	assert_eq!(batch_settled(&events), (1, 0, paid));
	assert_eq!(rpc.balance_change(&account(Bob), block).await, (paid - paid / 10) as i128);

	// Withdrawn: no new replay sessions; the stream cannot be removed while Eve's is open.
	rpc.execute(offer(None), &Bob.pair()).await;
	let s = rpc.call("vilokanam_stream", rpc_params![stream_id]).await;
	assert_eq!(s["replayPrice"], Value::Null);
	let xt = rpc
		.sign(
			RuntimeCall::Ticks(pallet_ticks::Call::open_session {
				stream_id,
				max_seconds: 100,
				max_price_per_second: PRICE,
				voucher_key: account(Ferdie),
			}),
			&Ferdie.pair(),
		)
		.await;
	let block = rpc.submit_and_wait(xt, false).await;
	let error = pallet_ticks::Error::<Runtime>::ReplayNotOffered.into();
	assert!(failed_with(&rpc.events(block).await, error), "refused once withdrawn");
	let xt = rpc
		.sign(RuntimeCall::Streams(pallet_streams::Call::remove_stream { stream_id }), &Bob.pair())
		.await;
	let block = rpc.submit_and_wait(xt, false).await;
	let error = pallet_streams::Error::<Runtime>::ViewersPresent.into();
	assert!(failed_with(&rpc.events(block).await, error), "replay viewers hold the stream");
	drop(node);
}
