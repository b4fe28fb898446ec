//! Storage migrations: version 0 → 1 → 2, and 1 → 2 alone.

use super::*;
use crate::migrations::{
	v1::{v0, MigrateV0ToV1, SessionInfoV1, SessionsV1},
	v2::MigrateV1ToV2,
};
use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};

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

		// The runtime's order: v0 → v1, then v1 → v2.
		MigrateV0ToV1::<Test>::on_runtime_upgrade();
		assert_eq!(Ticks::on_chain_storage_version(), StorageVersion::new(1));
		for (id, s) in sessions.iter() {
			assert_eq!(SessionsV1::<Test>::get(id), Some(v1_info(s)));
		}
		let mut pages: Vec<_> = SessionPages::<Test>::iter_keys().collect();
		pages.sort();
		assert_eq!(pages, vec![0, 1]);
		MigrateV1ToV2::<Test>::on_runtime_upgrade();
		assert_eq!(Ticks::on_chain_storage_version(), Ticks::in_code_storage_version());
		for (id, s) in sessions.iter() {
			assert_eq!(Ticks::session(*id).as_ref(), Some(s));
		}
		assert_ok!(Ticks::do_try_state());

		// A second run of either is a no-op (the version is 2 already).
		let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
		MigrateV0ToV1::<Test>::on_runtime_upgrade();
		MigrateV1ToV2::<Test>::on_runtime_upgrade();
		assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), root);
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
		MigrateV1ToV2::<Test>::on_runtime_upgrade();
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
