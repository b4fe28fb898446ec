//! Storage migrations: version 0 → 1 → 2, and 1 → 2 alone, run as the runtime runs them: by
//! `pallet-migrations`, started by a runtime upgrade, a bounded step per block.

use super::*;
use crate::migrations::v1::{v0, SessionInfoV1, SessionsV1};
use crate::mock::{MigrationWeightPerBlock, MultiBlockMigrations};
use frame_support::{
	migrations::MultiStepMigrator,
	traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion},
	weights::Weight,
};

/// Sessions a block may migrate (of either migration) in [`run_migrations`].
const SESSIONS_PER_BLOCK: u64 = 2;

/// What `pallet-migrations` itself may spend in a block: its per-block check and two
/// migration executions (one that completes and the next one's first step).
fn migrations_overhead() -> Weight {
	type W = ();
	let exec = <W as pallet_migrations::WeightInfo>::exec_migration_complete()
		.max(<W as pallet_migrations::WeightInfo>::exec_migration_completed())
		.max(<W as pallet_migrations::WeightInfo>::exec_migration_skipped_historic())
		.max(<W as pallet_migrations::WeightInfo>::exec_migration_advance())
		.max(<W as pallet_migrations::WeightInfo>::exec_migration_fail());
	<W as pallet_migrations::WeightInfo>::progress_mbms_none() + exec * 2
}

/// A runtime upgrade with the runtime's migrations, then blocks as the executive runs them
/// (one call of `pallet-migrations`' step each) until none is under way, each block with the
/// weight of [`SESSIONS_PER_BLOCK`] sessions of the costlier migration. Returns the number of
/// blocks, and checks that `entries` (the stored entries the migrations rewrite, counted once
/// per migration) could not have been rewritten in fewer: no block did more than its weight
/// allows.
fn run_migrations(entries: u64) -> u64 {
	let v01 = <() as crate::migrations::weights::WeightInfo>::migration_v0_v1_step();
	let v12 = <() as crate::migrations::weights::WeightInfo>::migration_v1_v2_step();
	let per_block = migrations_overhead() + v01.max(v12) * SESSIONS_PER_BLOCK;
	MigrationWeightPerBlock::set(&per_block);
	MultiBlockMigrations::on_runtime_upgrade();
	let mut blocks = 0;
	while MultiBlockMigrations::ongoing() {
		blocks += 1;
		assert!(blocks < 1_000, "the migrations never complete");
		System::set_block_number(System::block_number() + 1);
		MultiBlockMigrations::step();
	}
	// Most entries one block's weight could hold, whatever pallet-migrations spent.
	let most_per_block = (per_block.ref_time()
		- <() as pallet_migrations::WeightInfo>::progress_mbms_none().ref_time())
		/ v01.min(v12).ref_time();
	assert!(blocks >= entries.div_ceil(most_per_block), "{blocks} blocks");
	blocks
}

/// Six sessions over two pages, one of them settled in part, and what they must look like
/// after migrating: voucher key = the viewer's own key, not closing, no allowance.
fn sessions() -> Vec<(SessionId, Session<Test>)> {
	let stream = live_stream(3, vec![]);
	let mut ids = Vec::new();
	for i in 0..3u64 {
		// Sessions 0, 1, 2 on page 0 and 64, 65, 66 on page 1 (ids below 64 skipped).
		if i == 1 {
			NextSessionId::<Test>::put(SESSIONS_PER_PAGE);
		}
		ids.push(open(&charlie(), stream, 100 + i));
		ids.push(open(&dave(), stream, 50));
	}
	advance_secs(30);
	assert_ok!(Ticks::tick(RuntimeOrigin::signed(charlie()), ids[2], 30));
	ids.iter()
		.map(|id| {
			let mut s = Ticks::session(*id).unwrap();
			s.voucher_key = s.viewer.clone();
			(*id, s)
		})
		.collect()
}

fn v1_info(s: &Session<Test>) -> SessionInfoV1<Test> {
	SessionInfoV1 {
		viewer: s.viewer.clone(),
		stream_id: s.stream_id,
		price_per_second: s.price_per_second,
		max_seconds: s.max_seconds,
		opened_at: s.opened_at,
	}
}

#[test]
fn migration_v0_to_v2_splits_sessions_and_adds_voucher_keys() {
	ExtBuilder::build_and_execute(|| {
		let sessions = sessions();
		// Rewrite the storage as version 0 left it: whole sessions in `Sessions`, no pages.
		let _ = SessionPages::<Test>::clear(u32::MAX, None);
		for (id, s) in sessions.iter() {
			let s = s.clone();
			v0::Sessions::<Test>::insert(
				id,
				v0::OldSession::<Test> {
					viewer: s.viewer,
					stream_id: s.stream_id,
					price_per_second: s.price_per_second,
					max_seconds: s.max_seconds,
					settled_seconds: s.settled_seconds,
					escrow_remaining: s.escrow_remaining,
					opened_at: s.opened_at,
					last_activity: s.last_activity,
				},
			);
		}
		StorageVersion::new(0).put::<Ticks>();
		assert!(Ticks::do_try_state().is_err());

		// The runtime's order: v0 → v1, then v1 → v2, over several blocks.
		let blocks = run_migrations(2 * sessions.len() as u64);
		assert!(blocks > 1);
		assert_eq!(Ticks::on_chain_storage_version(), Ticks::in_code_storage_version());
		for (id, s) in sessions.iter() {
			assert_eq!(Ticks::session(*id).as_ref(), Some(s));
		}
		let mut pages: Vec<_> = SessionPages::<Test>::iter_keys().collect();
		pages.sort();
		assert_eq!(pages, vec![0, 1]);
		assert_ok!(Ticks::do_try_state());

		// The next upgrade runs nothing again: pallet-migrations remembers both as done (and
		// each is a no-op at version 2 anyway).
		MultiBlockMigrations::on_runtime_upgrade();
		while MultiBlockMigrations::ongoing() {
			System::set_block_number(System::block_number() + 1);
			MultiBlockMigrations::step();
		}
		for (id, s) in sessions.iter() {
			assert_eq!(Ticks::session(*id).as_ref(), Some(s));
		}
	});
}

/// An open session from before the upgrade keeps settling after it: its viewer's own
/// signatures are vouchers of its (migrated) voucher key.
#[test]
fn migration_v1_to_v2_keeps_open_sessions_settling() {
	ExtBuilder::build_and_execute(|| {
		let sessions = sessions();
		for (id, s) in sessions.iter() {
			SessionsV1::<Test>::insert(id, v1_info(s));
		}
		StorageVersion::new(1).put::<Ticks>();
		// v0 → v1 finds version 1 and does nothing; v1 → v2 migrates.
		run_migrations(sessions.len() as u64);
		assert_eq!(Ticks::on_chain_storage_version(), StorageVersion::new(2));
		let (id, _) = &sessions[0];
		let s = Ticks::session(*id).unwrap();
		assert_eq!((s.voucher_key, s.closing_since, s.allowance), (charlie(), None, None));
		advance_secs(10);
		assert_ok!(settle(batch(vec![
			voucher(&pair(3), *id, 12),
			key_voucher(&pair(3), sessions[2].0, 35),
		])));
		assert_eq!(Ticks::session(*id).unwrap().settled_seconds, 12);
		assert_eq!(Ticks::session(sessions[2].0).unwrap().settled_seconds, 35);
	});
}
