//! try-runtime: today's migrations against a state snapshot of a chain running the previous
//! runtime.
//!
//! A node runs the fixture's runtime (spec 102, as `node/tests/runtime_upgrade.rs` does) and gets
//! streams and open sessions through the old calls. FRAME's `frame-remote-externalities` takes a
//! snapshot of its finalized state over JSON-RPC into a file; the node is stopped and the rest
//! runs from the file alone. On it, today's runtime (built with `try-runtime`) runs what the first
//! block under the new code runs (the runtime's single-block migrations with their
//! `pre_upgrade` / `post_upgrade` checks, every pallet's upgrade hook), then the multi-block
//! migrations block by block until `pallet-migrations` has none left (under `try-runtime` it runs
//! each one's own `pre_upgrade` / `post_upgrade`), then `Executive::try_runtime_upgrade` with
//! every check on the migrated state (storage versions, the whole state decoding, `try_state`,
//! the migrations run a second time changing nothing).
//!
//! Why not `try-runtime-cli`: it is published only as a git repository (its crates.io namesake
//! is the polkadot-v1.10 one), and this machine reaches package registries only. This test runs
//! the same hooks on the same state, natively instead of in Wasm.

use frame_remote_externalities::{Builder, Mode, OfflineConfig, OnlineConfig, SnapshotConfig};
use frame_support::{
	migrations::{MultiStepMigrator, SteppedMigrations},
	traits::{
		BeforeAllRuntimeMigrations, GetStorageVersion, OnRuntimeUpgrade, StorageVersion, TryState,
		TryStateSelect,
	},
	weights::Weight,
};
use frame_try_runtime::UpgradeCheckSelect;
use std::{collections::BTreeMap, path::Path, time::Duration};
use vilokanam_runtime::{
	AllPalletsWithSystem, Block, Executive, MultiBlockMigrationList, Runtime, RuntimeEvent,
	SingleBlockMigrations,
};
use vilokanam_test_utils::{
	upgrade::{populate_previous_chain, write_previous_chain_spec, PreviousChain},
	Node,
};

const PREVIOUS_SPEC: u32 = 102;
/// A bound against migrations that never finish (100,000 open sessions take about 24 blocks).
const MAX_MIGRATION_BLOCKS: u32 = 1_000;

/// Takes the snapshot of the finalized state of the node at `uri` into `path`.
async fn snapshot(uri: String, path: &Path) {
	let online = OnlineConfig {
		transport_uris: vec![uri],
		state_snapshot: Some(SnapshotConfig::new(path)),
		..Default::default()
	};
	Builder::<Block>::new().mode(Mode::Online(online)).build().await.expect("the snapshot");
}

/// The fixture's chain, snapshotted into `path` once it holds streams and open sessions.
async fn snapshot_fixture_chain(dir: &Path, path: &Path) -> PreviousChain {
	let spec_path = dir.join("previous-dev.json");
	write_previous_chain_spec(&spec_path);
	let spec_arg = spec_path.display().to_string();
	let mut node = Node::start_with(&dir.join("node"), &["--chain", &spec_arg]).await;
	let rpc = vilokanam_test_utils::rpc::Rpc(node.ws_client().await);
	rpc.wait_best(1, Duration::from_secs(60)).await;
	assert_eq!(rpc.runtime_version(None).await.0, PREVIOUS_SPEC);
	let chain = populate_previous_chain(&rpc).await;
	let best = rpc.best_number().await;
	rpc.wait_finalized(best, Duration::from_secs(60)).await;
	snapshot(node.ws_url(), path).await;
	node.stop();
	chain
}

/// The chain to check: the fixture's by default; with `VILOKANAM_TRY_RUNTIME_URI` set, the
/// chain that node serves (an operator's, before an upgrade).
#[tokio::test(flavor = "multi_thread")]
async fn todays_migrations_pass_try_runtime_on_a_previous_runtime_snapshot() {
	// The checks report what failed in the log.
	sp_tracing::try_init_simple();
	let dir = tempfile::tempdir().expect("temp dir");
	let snapshot_path = dir.path().join("previous.snap");
	let fixture = match std::env::var("VILOKANAM_TRY_RUNTIME_URI") {
		Ok(uri) => {
			snapshot(uri, &snapshot_path).await;
			None
		},
		Err(_) => Some(snapshot_fixture_chain(dir.path(), &snapshot_path).await),
	};
	let size = std::fs::metadata(&snapshot_path).expect("the snapshot file").len();

	// From here on, the file alone.
	let offline = OfflineConfig { state_snapshot: SnapshotConfig::new(&snapshot_path) };
	let mut ext =
		Builder::<Block>::new().mode(Mode::Offline(offline)).build().await.expect("the snapshot");
	eprintln!("snapshot: {size} bytes, at block {}", ext.header.number);

	ext.execute_with(|| {
		// A snapshot of a chain already migrated would prove nothing.
		let last =
			frame_system::LastRuntimeUpgrade::<Runtime>::get().expect("recorded").spec_version.0;
		assert!(last < vilokanam_runtime::VERSION.spec_version, "the snapshot runs spec {last}");
		if fixture.is_some() {
			assert_eq!(last, PREVIOUS_SPEC, "the snapshot runs the fixture's runtime");
		}
		if fixture.is_some() {
			assert_eq!(ticks_version(), 1);
		}

		let max_block = <Runtime as frame_system::Config>::BlockWeights::get().max_block;

		// 1. What the first block under the new code runs before anything else, as
		// `Executive::try_runtime_upgrade` runs it, but with the pallets' storage-version checks
		// left for after the multi-block migrations: those of ticks and streams bump the
		// versions when they complete, blocks later.
		let weight =
			<AllPalletsWithSystem as BeforeAllRuntimeMigrations>::before_all_runtime_migrations()
				+ <SingleBlockMigrations as OnRuntimeUpgrade>::try_on_runtime_upgrade(true)
					.expect("the runtime's single-block migrations and their checks pass")
				+ <AllPalletsWithSystem as OnRuntimeUpgrade>::try_on_runtime_upgrade(false)
					.expect("the pallets' upgrade hooks");
		frame_system::LastRuntimeUpgrade::<Runtime>::put(
			frame_system::LastRuntimeUpgradeInfo::from(vilokanam_runtime::VERSION),
		);
		eprintln!(
			"single-block migrations: {weight} ({:.2}% of a block's ref_time)",
			percent(weight, max_block)
		);

		// 2. The multi-block migrations, block by block, as `Executive` steps them after the
		// inherents (pallet-migrations runs each one's `pre_upgrade` and `post_upgrade`).
		let (completed, blocks, heaviest) = run_multi_block_migrations();
		let listed = <MultiBlockMigrationList as SteppedMigrations>::len();
		assert_eq!(
			completed,
			(0..listed).map(|i| (i, 1)).collect::<BTreeMap<_, _>>(),
			"each multi-block migration completed exactly once"
		);
		eprintln!(
			"multi-block migrations: {listed} in {blocks} blocks, heaviest step {heaviest} \
			 ({:.2}% of a block's ref_time)",
			percent(heaviest, max_block)
		);
		assert_eq!(ticks_version(), 2);

		// 3. The whole upgrade again on the migrated state, with every check FRAME has: each
		// pallet's storage version equal to its code's, every migration's `pre_upgrade` and
		// `post_upgrade`, the entire state decoding with today's types, every pallet's
		// `try_state`; and running the migrations twice changes nothing (the multi-block ones
		// are skipped, being in pallet-migrations' history).
		Executive::try_runtime_upgrade(UpgradeCheckSelect::All)
			.expect("today's runtime passes try-runtime on the migrated state");
		let (again, _, _) = run_multi_block_migrations();
		assert!(again.is_empty(), "a second upgrade ran migrations again: {again:?}");
		let n = frame_system::Pallet::<Runtime>::block_number();
		AllPalletsWithSystem::try_state(n, TryStateSelect::All)
			.expect("every pallet's invariants hold after the migrations");

		// The sessions opened before the upgrade are still there, as the new code reads them.
		for (who, session_id) in fixture.iter().flat_map(|chain| chain.sessions) {
			let session = pallet_ticks::Pallet::<Runtime>::session(session_id).expect("kept");
			assert_eq!(session.viewer, who.to_account_id());
			assert_eq!(session.voucher_key, who.to_account_id());
		}
	});
}

fn ticks_version() -> StorageVersion {
	<vilokanam_runtime::Ticks as GetStorageVersion>::on_chain_storage_version()
}

fn percent(weight: Weight, max: Weight) -> f64 {
	weight.ref_time() as f64 * 100.0 / max.ref_time() as f64
}

/// Steps pallet-migrations block by block until no migration is under way; returns how often
/// each migration completed, the blocks it took and the heaviest step.
fn run_multi_block_migrations() -> (BTreeMap<u32, u32>, u32, Weight) {
	let mut completed: BTreeMap<u32, u32> = BTreeMap::new();
	let mut blocks = 0;
	let mut heaviest = Weight::zero();
	while <Runtime as frame_system::Config>::MultiBlockMigrator::ongoing() {
		assert!(blocks < MAX_MIGRATION_BLOCKS, "the migrations never finish");
		blocks += 1;
		let n = frame_system::Pallet::<Runtime>::block_number() + 1;
		frame_system::Pallet::<Runtime>::reset_events();
		frame_system::Pallet::<Runtime>::set_block_number(n);
		heaviest = heaviest.max(<Runtime as frame_system::Config>::MultiBlockMigrator::step());
		for record in frame_system::Pallet::<Runtime>::events() {
			match record.event {
				RuntimeEvent::MultiBlockMigrations(
					pallet_migrations::Event::MigrationCompleted { index, .. },
				) => *completed.entry(index).or_default() += 1,
				RuntimeEvent::MultiBlockMigrations(
					e @ (pallet_migrations::Event::UpgradeFailed
					| pallet_migrations::Event::MigrationFailed { .. }),
				) => panic!("a multi-block migration failed in block {n}: {e:?}"),
				_ => {},
			}
		}
	}
	(completed, blocks, heaviest)
}
