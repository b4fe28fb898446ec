//! The off-chain worker: what it finds, what it submits, and its scan cursor.

use super::*;
use codec::Decode;
use frame_support::traits::Hooks;
use sp_core::offchain::{testing, OffchainDbExt, OffchainWorkerExt, TransactionPoolExt};

#[test]
fn offchain_worker_submits_one_authorized_close_expired_once_the_window_passed() {
	let mut ext = ExtBuilder::build();
	let (offchain, _state) = testing::TestOffchainExt::new();
	let (pool, pool_state) = testing::TestTransactionPoolExt::new();
	ext.register_extension(OffchainWorkerExt::new(offchain.clone()));
	ext.register_extension(OffchainDbExt::new(offchain));
	ext.register_extension(TransactionPoolExt::new(pool));
	ext.execute_with(|| {
		let stream = live_stream(2, vec![]);
		let s1 = open(&charlie(), stream, 100);
		let s2 = open(&dave(), stream, 100);
		let other = live_stream(2, vec![]);
		let s3 = open(&charlie(), other, 100);

		// Nothing to refund yet: nothing submitted.
		Ticks::offchain_worker(2);
		assert!(pool_state.read().transactions.is_empty());

		// The stream ended, but its window has not passed.
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		Ticks::offchain_worker(3);
		assert!(pool_state.read().transactions.is_empty());

		advance_secs(SETTLE_WINDOW_MS / 1_000);
		Ticks::offchain_worker(4);
		let tx = pool_state.write().transactions.pop().unwrap();
		let xt = Extrinsic::decode(&mut &*tx).unwrap();
		assert!(matches!(xt.preamble, sp_runtime::generic::Preamble::General(..)));
		let RuntimeCall::Ticks(call @ crate::Call::close_expired { .. }) = xt.function else {
			panic!("unexpected call");
		};
		let crate::Call::close_expired { ref session_ids } = call else { unreachable!() };
		let mut ids = session_ids.to_vec();
		ids.sort();
		assert_eq!(ids, vec![s1, s2]);
		assert!(call.authorize(TransactionSource::Local).unwrap().is_ok());

		// While the submission is pending, the lock stops a duplicate.
		Ticks::offchain_worker(5);
		assert!(pool_state.read().transactions.is_empty());

		// The transaction is included.
		assert_ok!(Ticks::close_expired(authorized(), session_ids.clone()));
		assert!(Ticks::session(s3).is_some());
		assert_eq!(OpenSessionCount::<Test>::get(), 1);
		assert_ok!(Ticks::do_try_state());
	});
}

#[test]
fn offchain_scan_resumes_at_an_unfinished_page() {
	let mut ext = ExtBuilder::build();
	let (offchain, _state) = testing::TestOffchainExt::new();
	ext.register_extension(OffchainWorkerExt::new(offchain.clone()));
	ext.register_extension(OffchainDbExt::new(offchain));
	ext.execute_with(|| {
		let stream = live_stream(1, vec![]);
		// Five sessions on page 0 and five on page 1: ten to refund, eight per call at most.
		let mut all: Vec<SessionId> = (0..5).map(|_| open(&charlie(), stream, 10)).collect();
		NextSessionId::<Test>::put(SESSIONS_PER_PAGE);
		all.extend((0..5).map(|_| open(&dave(), stream, 10)));
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		advance_secs(SETTLE_WINDOW_MS / 1_000);
		let first = Ticks::collect_expired(2);
		assert_eq!(first.len(), 8);
		assert!(first.iter().all(|(_, reason)| *reason == CloseReason::WindowElapsed));
		// The page cut short is scanned again: together the two runs see every session.
		let second = Ticks::collect_expired(2);
		let mut seen: Vec<SessionId> = first.into_iter().chain(second).map(|(id, _)| id).collect();
		seen.sort();
		seen.dedup();
		assert_eq!(seen, all);
	});
}
