//! Closed sessions' records: kept for the retention with what the session settled and
//! refunded, then removed by `on_idle`, oldest first, within the block's leftover weight.

use super::*;
use frame_support::traits::Hooks;

fn on_idle(block: u64, remaining: Weight) -> Weight {
	<Ticks as Hooks<u64>>::on_idle(block, remaining)
}

/// Opens a session of `viewer` on `stream`, settles `seconds` of it, and has the creator
/// close it at once.
fn settle_and_close(viewer: &AccountId, stream: StreamId, seconds: u64) -> SessionId {
	let sid = open(viewer, stream, 100);
	advance_secs(seconds);
	assert_ok!(settle(batch(vec![key_voucher(&voucher_key_of(viewer), sid, seconds)])));
	assert_ok!(Ticks::close_session(RuntimeOrigin::signed(alice()), sid, None));
	sid
}

#[test]
fn a_closed_session_keeps_what_it_settled_and_refunded_for_the_retention() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		System::set_block_number(5);
		let sid = settle_and_close(&charlie(), stream, 30);
		assert!(Ticks::session(sid).is_none());
		let record = Ticks::closed_session(sid).expect("kept");
		assert_eq!(record.info.viewer, charlie());
		assert_eq!(record.info.stream_id, stream);
		assert_eq!((record.info.price_per_second, record.info.max_seconds), (4, 100));
		assert_eq!(record.info.voucher_key, account_of(&voucher_key_of(&charlie())));
		assert_eq!(record.settled_seconds, 30);
		assert_eq!(record.refunded, 70 * 4);
		assert_eq!(record.closed_at, pallet_timestamp::Now::<Test>::get());
		assert_eq!(record.closed_in, 5);
		assert_eq!(record.reason, CloseReason::Closed);
		// Kept for the whole retention, whatever room the blocks have.
		assert_eq!(
			on_idle(5 + CLOSED_RETENTION - 1, Weight::MAX),
			<() as WeightInfo>::prune_closed(0)
		);
		assert!(Ticks::closed_session(sid).is_some());
		// Then removed.
		assert_eq!(on_idle(5 + CLOSED_RETENTION, Weight::MAX), <() as WeightInfo>::prune_closed(1));
		assert!(Ticks::closed_session(sid).is_none());
		assert_eq!(ClosedQueueBounds::<Test>::get(), (1, 1));
	});
}

#[test]
fn the_worker_closes_record_why() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		let sid = open(&charlie(), stream, 100);
		System::set_block_number(1 + 10);
		assert_ok!(Ticks::close_expired(authorized(), vec![sid].try_into().unwrap()));
		let record = Ticks::closed_session(sid).expect("kept");
		assert_eq!(record.reason, CloseReason::Expired);
		assert_eq!((record.settled_seconds, record.refunded), (0, 400));
	});
}

#[test]
fn records_go_oldest_first_and_only_as_many_as_the_leftover_weight_pays_for() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		let mut ids = Vec::new();
		for (block, viewer) in [(2, charlie()), (3, dave()), (4, eve()), (5, charlie())] {
			System::set_block_number(block);
			ids.push(settle_and_close(&viewer, stream, 1));
		}
		let now = 4 + CLOSED_RETENTION; // the first three have expired
								  // No room for the hook's base: nothing is read or removed.
		let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
		let base = <() as WeightInfo>::prune_closed(0);
		assert_eq!(on_idle(now, base - Weight::from_parts(1, 0)), Weight::zero());
		assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), root);
		// Room for two records: the two oldest go.
		let two = <() as WeightInfo>::prune_closed(2);
		assert_eq!(on_idle(now, two), two);
		assert!(ids[..2].iter().all(|id| Ticks::closed_session(*id).is_none()));
		assert!(ids[2..].iter().all(|id| Ticks::closed_session(*id).is_some()));
		// Plenty of room: the third goes, the fourth is younger than the retention.
		assert_eq!(on_idle(now, Weight::MAX), <() as WeightInfo>::prune_closed(1));
		assert!(Ticks::closed_session(ids[2]).is_none());
		assert!(Ticks::closed_session(ids[3]).is_some());
		assert_eq!(ClosedQueueBounds::<Test>::get(), (3, 4));
	});
}

/// Somebody opens and closes many cheap sessions to bloat the state: each one paid its
/// opening, the records go after the retention, and no block's hook removes more than
/// `MAX_PRUNED_PER_BLOCK` of them, however much room it has.
#[test]
fn a_flood_of_closes_is_pruned_at_a_bounded_rate() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(1, vec![]);
		let n = MAX_PRUNED_PER_BLOCK + 10;
		// Records written directly (opening that many sessions adds nothing here), for ids
		// the invariants accept.
		NextSessionId::<Test>::put(1_000 + u64::from(n));
		for i in 0..u64::from(n) {
			Ticks::record_closed(
				1_000 + i,
				ClosedSession {
					info: SessionInfo {
						viewer: charlie(),
						stream_id: stream,
						price_per_second: 1,
						max_seconds: 1,
						opened_at: 0,
						voucher_key: charlie(),
						closing_since: None,
						allowance: None,
					},
					settled_seconds: 0,
					refunded: 1,
					closed_at: 0,
					closed_in: 1,
					reason: CloseReason::Closed,
				},
			);
		}
		let now = 1 + CLOSED_RETENTION;
		let used = on_idle(now, Weight::MAX);
		assert_eq!(used, <() as WeightInfo>::prune_closed(MAX_PRUNED_PER_BLOCK));
		assert_eq!(
			ClosedQueueBounds::<Test>::get(),
			(u64::from(MAX_PRUNED_PER_BLOCK), u64::from(n))
		);
		assert_eq!(on_idle(now + 1, Weight::MAX), <() as WeightInfo>::prune_closed(10));
		assert_eq!(ClosedSessions::<Test>::iter().count(), 0);
	});
}

/// The invariants catch a queue that lost an entry.
#[test]
fn try_state_catches_a_record_missing_from_the_queue() {
	ExtBuilder::build().execute_with(|| {
		let stream = live_stream(4, vec![]);
		settle_and_close(&charlie(), stream, 1);
		settle_and_close(&dave(), stream, 1);
		assert_ok!(Ticks::do_try_state());
		ClosedQueue::<Test>::remove(0);
		assert!(Ticks::do_try_state().is_err());
	});
}
