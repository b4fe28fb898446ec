//! Network test: Vilokanam as a parachain (`zombienet/parachain.toml`): a Rococo-local relay
//! chain of two validators and one collator of para 2000, spawned natively with zombienet-sdk.
//! Run by `scripts/test-parachain.sh`, which builds the relay chain, the collator and the
//! upgrade Wasm first; `cargo test` alone fails and says how to build them.
//!
//! One network, one scenario, in order:
//! 1. the collator authors parachain blocks, the relay chain includes them (para 2000's head in
//!    the relay's finalized state advances) and the collator finalizes them; the figures (time
//!    to the first parachain block, blocks included per relay block) are printed;
//! 2. `vilokanam_*` answers on the collator;
//! 3. pay-per-second on the parachain, with exact balances: sudo adds a category and a 10 %
//!    platform fee, Bob registers a stream and goes live, Dave opens a session, a voucher he
//!    signs off-chain settles in a `settle_batch` (Bob + 90 %, the platform + 10 %, the escrow
//!    − 100 %), and Bob's close refunds Dave exactly the rest of his escrow;
//! 4. a runtime upgrade through the relay chain: `system.authorize_upgrade` (sudo) then
//!    `system.apply_authorized_upgrade` with the same runtime one spec version higher; the
//!    collator reports the new version once the relay chain enacted it, and blocks continue;
//! 5. the off-chain worker: Eve's session, opened in step 3 and never settled, is closed as
//!    expired by the collator's off-chain worker after the idle timeout (120 blocks), and Eve
//!    gets her whole escrow back.
//!
//! Transactions are signed with the solochain's test client (`vilokanam_test_utils::rpc`):
//! the two runtimes' transaction extensions encode alike (parachain-runtime/tests/shared.rs),
//! so one signer serves both; calls and events use the parachain runtime's own types.

use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use codec::{Decode, Encode};
use jsonrpsee::{rpc_params, ws_client::WsClientBuilder};
use pallet_ticks::{BatchWitness, Voucher, VoucherEncoding, VoucherSigner};
use serde_json::Value;
use sp_core::{sr25519, Pair, H256};
use sp_runtime::{traits::Hash as _, MultiSignature};
use vilokanam_parachain_runtime::{Balance, Header, Runtime, RuntimeCall, RuntimeEvent, MILLI_VLK};
use vilokanam_test_utils::{
	chain::{account, bounded, pair, CATEGORY},
	rpc::Rpc,
};
use vilokanam_zombienet_tests::{
	parachain_toml, print_log_tails, put_parachain_binaries_on_path, spawn, tear_down, wait_for,
	LocalNetwork,
};

/// The whole scenario after the network is up (the idle timeout alone is 120 blocks).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(45 * 60);
const STEP_TIMEOUT: Duration = Duration::from_secs(300);
/// The relay chain validates the new code (PVF pre-checking) before enacting it.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// 120 blocks of idle timeout at 6 s, with room for slower blocks on a loaded machine.
const EXPIRY_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const POLL: Duration = Duration::from_secs(3);
const LOG_LINES: usize = 60;

const PARA_ID: u32 = 2000;
const COLLATOR: &str = "charlie";
const RELAY_NODE: &str = "alice";
/// Relay blocks over which inclusion is measured.
const RELAY_WINDOW: u32 = 10;

const PRICE: Balance = MILLI_VLK;
const MAX_SECONDS: u64 = 600;
const FEE_BPS: u16 = 1_000;
/// Seconds Dave's voucher settles.
const WATCHED: u64 = 10;

/// The upgrade Wasm `scripts/test-parachain.sh` builds (`spec-bump`) and names here.
const UPGRADE_WASM_ENV: &str = "VILOKANAM_PARACHAIN_UPGRADE_WASM";

#[test]
fn parachain_collates_settles_upgrades_and_expires_sessions() {
	// Before any thread starts: the network finds both binaries on PATH.
	put_parachain_binaries_on_path().unwrap_or_else(|e| panic!("{e:#}"));
	let upgrade = upgrade_wasm().unwrap_or_else(|e| panic!("{e:#}"));
	let runtime =
		tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a Tokio runtime");
	if let Err(e) = runtime.block_on(run(upgrade)) {
		panic!("{e:#}");
	}
}

fn upgrade_wasm() -> Result<Vec<u8>> {
	let path = std::env::var_os(UPGRADE_WASM_ENV).with_context(|| {
		format!("{UPGRADE_WASM_ENV} is not set: scripts/test-parachain.sh builds the upgrade Wasm")
	})?;
	std::fs::read(&path).with_context(|| format!("reading {}", path.to_string_lossy()))
}

async fn run(upgrade: Vec<u8>) -> Result<()> {
	let started = Instant::now();
	let network = spawn(&parachain_toml()).await?;
	eprintln!("network up in {:.0} s", started.elapsed().as_secs_f64());
	let outcome = match tokio::time::timeout(SCENARIO_TIMEOUT, scenario(&network, upgrade)).await {
		Ok(outcome) => outcome,
		Err(_) => Err(anyhow!("the scenario took more than {} s", SCENARIO_TIMEOUT.as_secs())),
	};
	if outcome.is_err() {
		print_log_tails(&network, LOG_LINES).await;
	}
	tear_down(network, outcome).await
}

async fn connect(network: &LocalNetwork, name: &str) -> Result<Rpc> {
	let node = network.get_node(name).with_context(|| format!("no node {name}"))?;
	let client = WsClientBuilder::default()
		.request_timeout(Duration::from_secs(60))
		.max_request_size(16 * 1024 * 1024)
		.build(node.ws_uri())
		.await
		.with_context(|| format!("connecting to {name} at {}", node.ws_uri()))?;
	Ok(Rpc(client))
}

async fn scenario(network: &LocalNetwork, upgrade: Vec<u8>) -> Result<()> {
	let up = Instant::now();
	let para = &wait_for("the collator's RPC", STEP_TIMEOUT, POLL, move || async move {
		connect(network, COLLATOR).await.map(Some)
	})
	.await?;
	let relay = &connect(network, RELAY_NODE).await?;

	// 1. Blocks: authored, included by the relay chain, finalized.
	wait_for("the first parachain block", STEP_TIMEOUT, POLL, move || async move {
		Ok((para.best_number().await >= 1).then_some(()))
	})
	.await?;
	let first_block = up.elapsed();
	let (included_from, included_to, relay_blocks) = measure_inclusion(relay).await?;
	ensure!(included_to > included_from, "the relay chain included no parachain block");
	let para_finalized = wait_for("parachain finality", STEP_TIMEOUT, POLL, move || async move {
		let (_, finalized) = para.finalized().await;
		Ok((finalized >= 3).then_some(finalized))
	})
	.await?;
	eprintln!(
		"FIGURE time to the first parachain block after the network was up: {:.1} s",
		first_block.as_secs_f64()
	);
	eprintln!(
		"FIGURE parachain blocks included per relay block: {:.2} ({} over {relay_blocks} \
		 finalized relay blocks, head #{included_from} → #{included_to})",
		f64::from(included_to - included_from) / f64::from(relay_blocks),
		included_to - included_from,
	);
	eprintln!("collator finalized #{para_finalized}");

	// 2. `vilokanam_*` on the collator.
	let live: Value = para.call("vilokanam_liveStreams", rpc_params![]).await;
	ensure!(live == Value::Array(vec![]), "a new chain has no live stream: {live}");

	// 3. Pay-per-second.
	let genesis = para.block_hash(0).await;
	let (alice, bob, dave, eve) = (pair("//Alice"), pair("//Bob"), pair("//Dave"), pair("//Eve"));
	for call in [
		sudo(RuntimeCall::Streams(pallet_streams::Call::add_category {
			category: CATEGORY,
			name: bounded("Music"),
		})),
		sudo(RuntimeCall::Payouts(pallet_payouts::Call::set_platform_fee { bps: FEE_BPS })),
	] {
		execute(para, call, &alice).await?;
	}
	let (_, events) = execute(
		para,
		RuntimeCall::Streams(pallet_streams::Call::create_stream {
			title: bounded("Parachain jazz"),
			metadata: bounded(""),
			category: CATEGORY,
			tags: Default::default(),
			price_per_second: PRICE,
			endpoint: None,
			relayer: None,
		}),
		&bob,
	)
	.await?;
	let stream_id = events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::Streams(pallet_streams::Event::StreamCreated { stream_id, .. }) => {
				Some(*stream_id)
			},
			_ => None,
		})
		.context("StreamCreated among the events")?;
	execute(para, RuntimeCall::Streams(pallet_streams::Call::go_live { stream_id }), &bob).await?;
	let live: Value = para.call("vilokanam_liveStreams", rpc_params![]).await;
	ensure!(live[0]["id"] == stream_id, "vilokanam_liveStreams lists the stream: {live}");

	// Eve's session is never settled: the off-chain worker closes it (step 5).
	let eve_session = open_session(para, stream_id, &eve).await?;
	let dave_session = open_session(para, stream_id, &dave).await?;

	// Real seconds elapse before a voucher may claim them.
	let opened = para.best_number().await;
	wait_for("two blocks after the session opened", STEP_TIMEOUT, POLL, move || async move {
		Ok((para.best_number().await >= opened + 2).then_some(()))
	})
	.await?;
	let payload = pallet_ticks::Pallet::<Runtime>::voucher_payload(&genesis, dave_session, WATCHED);
	let voucher = Voucher {
		session_id: dave_session,
		cumulative_seconds: WATCHED,
		signer: VoucherSigner::Viewer,
		encoding: VoucherEncoding::Raw,
		signature: MultiSignature::Sr25519(dave.sign(&payload)),
	};
	let witness = BatchWitness { streams: 1, pages: pallet_ticks::pages_of([dave_session]) };
	let vouchers = vec![voucher].try_into().map_err(|_| anyhow!("one voucher fits a batch"))?;
	let (block, events) = execute(
		para,
		RuntimeCall::Ticks(pallet_ticks::Call::settle_batch { vouchers, witness }),
		&alice,
	)
	.await?;
	let paid = Balance::from(WATCHED as u32) * PRICE;
	let fee = paid / 10;
	let settled = events.iter().find_map(|e| match e {
		RuntimeEvent::Ticks(pallet_ticks::Event::BatchSettled {
			accepted,
			rejected,
			total_paid,
		}) => Some((*accepted, *rejected, *total_paid)),
		_ => None,
	});
	ensure!(settled == Some((1, 0, paid)), "the batch settles one voucher: {settled:?}");
	let platform = pallet_payouts::Pallet::<Runtime>::platform_account();
	let escrow = pallet_ticks::Pallet::<Runtime>::escrow_account();
	for (who, expected, name) in [
		(account(&bob), (paid - fee) as i128, "the creator"),
		(platform, fee as i128, "the platform"),
		(escrow.clone(), -(paid as i128), "the escrow"),
	] {
		let change = para.balance_change(&who, block).await;
		ensure!(change == expected, "{name}'s balance moved by {change}, not {expected}");
	}
	let session: Value = para.call("vilokanam_session", rpc_params![dave_session]).await;
	ensure!(session["settledSeconds"] == WATCHED, "vilokanam_session: {session}");

	// The creator closes Dave's session: the rest of his escrow comes back at once.
	let (block, _) = execute(
		para,
		RuntimeCall::Ticks(pallet_ticks::Call::close_session {
			session_id: dave_session,
			final_intent: None,
		}),
		&bob,
	)
	.await?;
	let refund = Balance::from((MAX_SECONDS - WATCHED) as u32) * PRICE;
	let change = para.balance_change(&account(&dave), block).await;
	ensure!(change == refund as i128, "Dave was refunded {change}, not {refund}");

	// 4. The runtime upgrade, through the relay chain.
	let (spec_before, _) = para.runtime_version(None).await;
	let code_hash = sp_runtime::traits::BlakeTwo256::hash(&upgrade);
	execute(
		para,
		sudo(RuntimeCall::System(frame_system::Call::authorize_upgrade { code_hash })),
		&alice,
	)
	.await?;
	let (block, events) = execute(
		para,
		RuntimeCall::System(frame_system::Call::apply_authorized_upgrade { code: upgrade }),
		&alice,
	)
	.await?;
	ensure!(
		events.iter().any(|e| matches!(
			e,
			RuntimeEvent::ParachainSystem(
				cumulus_pallet_parachain_system::Event::ValidationFunctionStored
			)
		)),
		"the new code went to the relay chain (ValidationFunctionStored) in {block:?}"
	);
	let applied = Instant::now();
	wait_for("the new runtime version", UPGRADE_TIMEOUT, POLL, move || async move {
		let (spec, _) = para.runtime_version(None).await;
		Ok((spec == spec_before + 1).then_some(()))
	})
	.await?;
	let enacted = applied.elapsed();
	let after = para.best_number().await;
	wait_for("blocks after the upgrade", STEP_TIMEOUT, POLL, move || async move {
		let (_, finalized) = para.finalized().await;
		Ok((finalized >= after + 3).then_some(()))
	})
	.await?;
	eprintln!(
		"upgrade: spec {spec_before} → {}, enacted {:.0} s after the block applying it was \
		 finalized; finality continued",
		spec_before + 1,
		enacted.as_secs_f64()
	);

	// 5. The off-chain worker closes Eve's abandoned session and refunds her.
	let closed = wait_for(
		"the off-chain worker's close_expired",
		EXPIRY_TIMEOUT,
		POLL,
		move || async move {
			let session: Value = para.call("vilokanam_session", rpc_params![eve_session]).await;
			Ok(session["closed"].is_object().then_some(session))
		},
	)
	.await?;
	ensure!(closed["closed"]["reason"] == "Expired", "Eve's session expired: {closed}");
	let closed_in = closed["closed"]["closedIn"].as_u64().context("closedIn")? as u32;
	let block = para.block_hash(closed_in).await;
	let change = para.balance_change(&account(&eve), block).await;
	let escrowed = Balance::from(MAX_SECONDS as u32) * PRICE;
	ensure!(change == escrowed as i128, "Eve was refunded {change}, not {escrowed}");
	Ok(())
}

/// `call` as sudo (Alice on the parachain's presets).
fn sudo(call: RuntimeCall) -> RuntimeCall {
	RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(call) })
}

/// Signs and submits `call` as `signer`, waits until it is in a finalized block; that block and
/// its events, or an error if it failed.
///
/// Finalized, not just in a block: a collator may build competing blocks at one height when
/// the relay chain does not back the first in time (measured here: every other block on 2
/// cores), and the next transaction's nonce must come from a state that keeps this one.
async fn execute(
	rpc: &Rpc,
	call: RuntimeCall,
	signer: &sr25519::Pair,
) -> Result<(H256, Vec<RuntimeEvent>)> {
	let nonce = rpc.next_nonce(&account(signer)).await;
	let context = rpc.signing_context().await;
	let xt =
		vilokanam_test_utils::upgrade::signed_extrinsic(&call.encode(), signer, nonce, context);
	let block = rpc.submit_bytes_and_wait(&xt, true).await;
	let events = events(rpc, block).await?;
	if let Some(failed) = events.iter().find(|e| {
		matches!(e, RuntimeEvent::System(frame_system::Event::ExtrinsicFailed { .. }))
			|| matches!(e, RuntimeEvent::Sudo(pallet_sudo::Event::Sudid { sudo_result: Err(_) }))
	}) {
		return Err(anyhow!("{call:?} failed: {failed:?}"));
	}
	Ok((block, events))
}

/// The events of block `at`, decoded with the parachain runtime's types.
async fn events(rpc: &Rpc, at: H256) -> Result<Vec<RuntimeEvent>> {
	let key = frame_support::storage::storage_prefix(b"System", b"Events").to_vec();
	let raw = rpc.storage(key, Some(at)).await.unwrap_or_default();
	if raw.is_empty() {
		return Ok(Vec::new());
	}
	Ok(Vec::<frame_system::EventRecord<RuntimeEvent, H256>>::decode(&mut &raw[..])
		.context("decoding the parachain's events")?
		.into_iter()
		.map(|r| r.event)
		.collect())
}

async fn open_session(rpc: &Rpc, stream_id: u64, viewer: &sr25519::Pair) -> Result<u64> {
	let who = account(viewer);
	let (_, events) = execute(
		rpc,
		RuntimeCall::Ticks(pallet_ticks::Call::open_session {
			stream_id,
			max_seconds: MAX_SECONDS,
			max_price_per_second: PRICE,
			voucher_key: who.clone(),
		}),
		viewer,
	)
	.await?;
	events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::Ticks(pallet_ticks::Event::SessionOpened {
				session_id, viewer, ..
			}) if *viewer == who => Some(*session_id),
			_ => None,
		})
		.context("SessionOpened among the events")
}

/// Para 2000's head number in the relay chain's finalized state, over [`RELAY_WINDOW`]
/// finalized relay blocks: (first, last, relay blocks between).
async fn measure_inclusion(relay: &Rpc) -> Result<(u32, u32, u32)> {
	let (start_hash, start) =
		wait_for("an included parachain head", STEP_TIMEOUT, POLL, move || async move {
			let (hash, number) = relay.finalized().await;
			Ok(para_head(relay, hash).await?.map(|_| (hash, number)))
		})
		.await?;
	let from = para_head(relay, start_hash).await?.context("para 2000 has a head")?;
	let end = start + RELAY_WINDOW;
	wait_for("relay chain finality", STEP_TIMEOUT, POLL, move || async move {
		let (_, number) = relay.finalized().await;
		Ok((number >= end).then_some(()))
	})
	.await?;
	let to = para_head(relay, relay.block_hash(end).await).await?.context("para 2000's head")?;
	Ok((from, to, RELAY_WINDOW))
}

/// The number of para 2000's head as the relay chain's block `at` records it (`Paras::Heads`).
async fn para_head(relay: &Rpc, at: H256) -> Result<Option<u32>> {
	let mut key = frame_support::storage::storage_prefix(b"Paras", b"Heads").to_vec();
	key.extend(<frame_support::Twox64Concat as frame_support::StorageHasher>::hash(
		&PARA_ID.encode(),
	));
	let Some(raw) = relay.storage(key, Some(at)).await else { return Ok(None) };
	// `HeadData` is the encoded header, as a byte vector.
	let head = Vec::<u8>::decode(&mut &raw[..]).context("decoding the head data")?;
	let header = Header::decode(&mut &head[..]).context("decoding the parachain header")?;
	Ok(Some(header.number))
}

#[test]
fn parachain_toml_declares_a_relay_chain_and_our_collator() {
	let path = parachain_toml();
	let config = zombienet_sdk::NetworkConfig::load_from_toml(path.to_str().expect("UTF-8"))
		.unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
	let relay = config.relaychain();
	assert_eq!(relay.chain().as_str(), "rococo-local");
	assert_eq!(relay.nodes().len(), 2);
	let para = &config.parachains()[0];
	assert_eq!(para.id(), PARA_ID);
	let collators = para.collators();
	assert_eq!(collators.iter().map(|c| c.name()).collect::<Vec<_>>(), [COLLATOR]);
	assert_eq!(collators[0].command().map(|c| c.as_str()), Some("vilokanam-collator"));
	assert_eq!(collators[0].initial_balance(), 0, "the preset's balances stay");
	assert_eq!(collators[0].keystore_key_types(), ["aura"]);
}
