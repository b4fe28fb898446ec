//! End-to-end: a chain started on the previous runtime is upgraded to today's with open sessions
//! in flight.
//!
//! The node runs the fixture's runtime (spec 102, `node/tests/fixtures/upgrade-from/`, built from
//! its commit by `scripts/build-upgrade-fixture.sh`): two creators go live, three viewers open
//! sessions and one settles seconds with the old `tick`, all through the old calls. Then sudo
//! applies today's runtime with `system.set_code`. The test shows that blocks go on being authored
//! and finalized; that each multi-block migration (among them ticks v1 → v2, which rewrites the
//! sessions) completed exactly once and the storage versions moved; that the session pallet was
//! seeded from the old authorities; and that every session opened before the upgrade settles
//! with today's vouchers, exactly, without losing or repaying the seconds settled before.

mod common;

use codec::Decode;
use common::Node;
use frame_support::{migrations::SteppedMigrations, BoundedVec};
use pallet_ticks::{BatchWitness, Voucher, VoucherEncoding, VoucherSigner};
use sp_core::{crypto::Ss58Codec, Pair};
use sp_keyring::Sr25519Keyring::{self, Alice, Bob, Charlie, Dave, Eve, Ferdie};
use sp_runtime::MultiSignature;
use std::{collections::BTreeMap, time::Duration};
use vilokanam_runtime::{AccountId, Balance, Runtime, RuntimeCall, RuntimeEvent};
use vilokanam_test_utils::chain::batch_settled;
use vilokanam_test_utils::upgrade::{
	calls, populate_previous_chain, signed_extrinsic, write_previous_chain_spec, MAX_SECONDS, PRICE,
};

const PREVIOUS_SPEC: u32 = 102;

fn account(k: Sr25519Keyring) -> AccountId {
	k.to_account_id()
}

#[tokio::test(flavor = "multi_thread")]
async fn open_sessions_survive_an_upgrade_from_the_previous_runtime() {
	let dir = tempfile::tempdir().expect("temp dir");
	let spec_path = dir.path().join("previous-dev.json");
	write_previous_chain_spec(&spec_path);
	let spec_arg = spec_path.display().to_string();
	let node = Node::start_with(&dir.path().join("node"), &["--chain", &spec_arg]).await;
	let rpc = node.client().await;
	rpc.wait_best(1, Duration::from_secs(60)).await;
	let genesis = rpc.block_hash(0).await;
	assert_eq!(rpc.runtime_version(None).await.0, PREVIOUS_SPEC, "the node runs the fixture");
	assert_eq!(rpc.storage_version("Ticks", None).await, 1);
	assert_eq!(rpc.storage_version("Streams", None).await, 0);

	// On the previous runtime, through its own calls: two live streams, three open sessions,
	// Charlie's first seconds settled.
	let chain = populate_previous_chain(&rpc).await;
	let session_of = |who: Sr25519Keyring| chain.session_of(who);

	// Today's runtime, by sudo. `Sudo` and `System` keep their indices, so today's call bytes
	// are the previous runtime's.
	let code = vilokanam_runtime::WASM_BINARY.expect("the runtime is built with its Wasm");
	let set_code = RuntimeCall::Sudo(pallet_sudo::Call::sudo {
		call: Box::new(RuntimeCall::System(frame_system::Call::set_code { code: code.to_vec() })),
	});
	let old_context = rpc.signing_context().await;
	let upgrade_block = rpc.execute_raw(&codec::Encode::encode(&set_code), &Alice.pair()).await;
	let upgrade_number = rpc.block_number(upgrade_block).await;
	let spec = vilokanam_runtime::VERSION.spec_version;
	let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
	while rpc.runtime_version(None).await.0 != spec {
		assert!(tokio::time::Instant::now() < deadline, "the new runtime never took over");
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	// The block with `set_code` stores the new code; the next block is the first it executes.
	assert_eq!(rpc.runtime_version(Some(upgrade_block)).await.0, spec);
	let before = rpc.parent_hash(upgrade_block).await;
	assert_eq!(rpc.runtime_version(Some(before)).await.0, PREVIOUS_SPEC);
	let first_new = upgrade_number + 1;

	// The migrations: every block from the first under the new code until a few after the
	// upgrade completed.
	let listed = <vilokanam_runtime::MultiBlockMigrationList as SteppedMigrations>::len();
	let mut completed: BTreeMap<u32, u32> = BTreeMap::new();
	let mut started = 0;
	let mut finished_at = None;
	let mut n = first_new;
	let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
	while finished_at.is_none_or(|f| n <= f + 3) {
		rpc.wait_best(n, deadline - tokio::time::Instant::now()).await;
		for event in rpc.events(rpc.block_hash(n).await).await {
			match event {
				RuntimeEvent::MultiBlockMigrations(e) => match e {
					pallet_migrations::Event::UpgradeStarted { migrations } => {
						assert_eq!(migrations, listed);
						started += 1;
					},
					pallet_migrations::Event::MigrationCompleted { index, .. } => {
						*completed.entry(index).or_default() += 1;
					},
					pallet_migrations::Event::UpgradeCompleted => finished_at = Some(n),
					pallet_migrations::Event::UpgradeFailed
					| pallet_migrations::Event::MigrationFailed { .. } => {
						panic!("a migration failed in block {n}: {e:?}\n{}", node.log_tail())
					},
					_ => {},
				},
				RuntimeEvent::System(frame_system::Event::ExtrinsicFailed { .. }) => {
					panic!("an extrinsic failed in block {n}: {event:?}")
				},
				_ => {},
			}
		}
		n += 1;
	}
	let finished_at = finished_at.expect("the loop ends once the upgrade completed");
	eprintln!(
		"upgrade: set_code in block {upgrade_number}; migrations done in block {finished_at} \
		 ({} blocks under the new code)",
		finished_at - upgrade_number
	);
	assert_eq!(started, 1, "the upgrade started once");
	assert_eq!(
		completed,
		(0..listed).map(|i| (i, 1)).collect::<BTreeMap<_, _>>(),
		"each migration completed exactly once"
	);
	assert_eq!(rpc.storage_version("Ticks", None).await, 2, "ticks v1 → v2 ran");
	assert_eq!(rpc.storage_version("Streams", None).await, 1, "streams v0 → v1 ran");

	// The session pallet took over the old authorities, and the chain goes on finalizing.
	let validators_key = frame_support::storage::storage_prefix(b"Session", b"Validators");
	let validators = rpc.storage(validators_key.to_vec(), None).await.expect("Session::Validators");
	assert_eq!(Vec::<AccountId>::decode(&mut &validators[..]).ok(), Some(vec![account(Alice)]));
	let best = rpc.best_number().await;
	rpc.wait_finalized(best + 2, Duration::from_secs(60)).await;

	// The migrated sessions: the viewer's own key, Charlie's seconds kept.
	for who in [Charlie, Dave, Eve] {
		let session = rpc.call("vilokanam_session", jsonrpsee::rpc_params![session_of(who)]).await;
		assert_eq!(session["voucherKey"], account(who).to_ss58check().as_str());
		assert_eq!(session["open"], true);
		let settled = if who == Charlie { chain.charlie_settled } else { 0 };
		assert_eq!(session["settledSeconds"], settled, "{who:?}'s seconds before the upgrade");
	}

	// A wallet still on the previous runtime is refused and changes nothing: today's
	// `open_session` signed for spec 102 (a bad proof), and the old `open_session` signed for
	// today's (its bytes no longer decode: the runtime traps on them, as FRAME does on any
	// undecodable transaction, and the node answers with an error).
	let sessions_before = rpc.storage_u64("Ticks", "NextSessionId").await;
	let nonce = rpc.next_nonce(&account(Ferdie)).await;
	let today = RuntimeCall::Ticks(pallet_ticks::Call::open_session {
		stream_id: chain.bob_stream,
		max_seconds: MAX_SECONDS,
		max_price_per_second: PRICE,
		voucher_key: account(Ferdie),
	});
	let stale = [
		(codec::Encode::encode(&today), old_context, "Invalid Transaction"),
		(calls::open_session(chain.bob_stream, MAX_SECONDS), rpc.signing_context().await, "trap"),
	];
	for (call, context, why) in stale {
		let xt = signed_extrinsic(&call, &Ferdie.pair(), nonce, context);
		match rpc.try_submit(&xt).await {
			Err(jsonrpsee::core::ClientError::Call(e)) => {
				assert!(e.message().contains(why), "refused for another reason: {e:?}")
			},
			other => panic!("the pool took a stale transaction: {other:?}"),
		}
	}
	let best = rpc.best_number().await;
	rpc.wait_best(best + 1, Duration::from_secs(30)).await;
	assert_eq!(rpc.storage_u64("Ticks", "NextSessionId").await, sessions_before);
	assert_eq!(rpc.next_nonce(&account(Ferdie)).await, nonce);

	// Every session opened before the upgrade settles with today's vouchers, in one batch.
	let voucher = |who: Sr25519Keyring, cumulative_seconds: u64| {
		let session_id = session_of(who);
		let payload = pallet_ticks::Pallet::<Runtime>::voucher_payload(
			&genesis,
			session_id,
			cumulative_seconds,
		);
		Voucher {
			session_id,
			cumulative_seconds,
			signer: VoucherSigner::Viewer,
			encoding: VoucherEncoding::Raw,
			signature: MultiSignature::Sr25519(who.pair().sign(&payload)),
		}
	};
	let vouchers: BoundedVec<_, _> =
		vec![voucher(Charlie, 15), voucher(Dave, 10), voucher(Eve, 10)].try_into().expect("fit");
	let pages = pallet_ticks::pages_of(vouchers.iter().map(|v| v.session_id));
	let (settled_block, events) = rpc
		.execute(
			RuntimeCall::Ticks(pallet_ticks::Call::settle_batch {
				vouchers,
				witness: BatchWitness { streams: 2, pages },
			}),
			&Alice.pair(),
		)
		.await;
	// Charlie's 5 s before the upgrade are not paid twice; no platform fee on this chain.
	let bob_paid = (10 + 10) * PRICE;
	let ferdie_paid = 10 * 2 * PRICE;
	assert_eq!(batch_settled(&events), (3, 0, bob_paid + ferdie_paid));
	assert_eq!(rpc.balance_change(&account(Bob), settled_block).await, bob_paid as i128);
	assert_eq!(rpc.balance_change(&account(Ferdie), settled_block).await, ferdie_paid as i128);
	let escrow = pallet_ticks::Pallet::<Runtime>::escrow_account();
	let escrow_change = rpc.balance_change(&escrow, settled_block).await;
	assert_eq!(escrow_change, -((bob_paid + ferdie_paid) as i128));

	// And the creator closes one, refunding the rest of its escrow at once.
	let (_, events) = rpc
		.execute(
			RuntimeCall::Ticks(pallet_ticks::Call::close_session {
				session_id: session_of(Charlie),
				final_intent: None,
			}),
			&Bob.pair(),
		)
		.await;
	let closed = events.iter().find_map(|e| match e {
		RuntimeEvent::Ticks(pallet_ticks::Event::SessionClosed {
			session_id,
			settled_seconds,
			refunded,
			..
		}) => Some((*session_id, *settled_seconds, *refunded)),
		_ => None,
	});
	assert_eq!(closed, Some((session_of(Charlie), 15, (MAX_SECONDS - 15) as Balance * PRICE)));
}
