//! Session pages: shared, written once per batch, witnessed, cleaned up.

use super::*;
use frame_support::assert_noop;

#[test]
fn consecutive_sessions_share_one_page_written_once() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let c = pair(3);
		let ids: Vec<SessionId> = (0..3).map(|_| open(&charlie(), stream, 100)).collect();
		assert_eq!(ids, vec![0, 1, 2]);
		// One page holds all three; its slots are the sessions' states.
		assert_eq!(SessionPages::<Test>::iter_keys().collect::<Vec<_>>(), vec![0]);
		let page = SessionPages::<Test>::get(0).unwrap();
		assert_eq!(page.open_sessions(0).map(|(id, _)| id).collect::<Vec<_>>(), ids);
		advance_secs(20);

		// Settling into a batch changes nothing in storage until `finish`, and the batch loads
		// the shared page once.
		let before = SessionPages::<Test>::get(0);
		let mut b = crate::settlement::Batch::<Test>::new();
		for (i, id) in ids.iter().enumerate() {
			let seconds = 10 + i as u64;
			let signature = sign(&c, *id, seconds);
			let auth = crate::settlement::Auth::Signature {
				kind: PayloadKind::Voucher,
				signer: VoucherSigner::Viewer,
				encoding: VoucherEncoding::Raw,
				signature: &signature,
			};
			assert!(Ticks::settle_one(&mut b, *id, seconds, auth).is_ok());
		}
		assert_eq!(b.pages.len(), 1);
		assert_eq!(SessionPages::<Test>::get(0), before);
		assert_ok!(Ticks::finish(b));
		for (i, id) in ids.iter().enumerate() {
			assert_eq!(Ticks::session(*id).unwrap().settled_seconds, 10 + i as u64);
		}

		// Through the call: the post-dispatch weight counts one page.
		let v = batch(ids.iter().map(|id| voucher(&c, *id, 15)).collect());
		assert_eq!(pages_of(v.iter().map(|v| v.session_id)), 1);
		let info = settle(v).unwrap();
		assert_eq!(info.actual_weight, Some(Ticks::settle_batch_weight(3, 0, 1, 1)));
		assert!(ids.iter().all(|id| Ticks::session(*id).unwrap().settled_seconds == 15));
	});
}

#[test]
fn pages_of_counts_distinct_pages() {
	assert_eq!(pages_of([]), 0);
	assert_eq!(pages_of([0, 1, 63]), 1);
	assert_eq!(pages_of([0, 64, 65, 128, 1]), 3);
	assert_eq!(page_of(130), (2, 2));
}

#[test]
fn settle_batch_fails_on_too_many_pages() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let c = pair(3);
		let s0 = open(&charlie(), stream, 100);
		NextSessionId::<Test>::put(SESSIONS_PER_PAGE);
		let s64 = open(&charlie(), stream, 100);
		assert_eq!((page_of(s0).0, page_of(s64).0), (0, 1));
		advance_secs(20);
		let v = batch(vec![voucher(&c, s0, 10), voucher(&c, s64, 10)]);
		for declared in [0, 1] {
			assert_noop!(
				Ticks::settle_batch(
					RuntimeOrigin::signed(relayer()),
					v.clone(),
					pages_only(declared)
				),
				Error::<Test>::TooManyPages
			);
		}
		// An unknown session on a third page counts too: the witness covers every voucher.
		let with_unknown = batch(vec![voucher(&c, s0, 10), voucher(&c, 1_000, 10)]);
		assert_noop!(
			Ticks::settle_batch(RuntimeOrigin::signed(relayer()), with_unknown, pages_only(1)),
			Error::<Test>::TooManyPages
		);
		// Declaring more is allowed; the refund counts the pages actually read.
		let info = Ticks::settle_batch(RuntimeOrigin::signed(relayer()), v, pages_only(5)).unwrap();
		assert_eq!(info.actual_weight, Some(Ticks::settle_batch_weight(2, 0, 1, 2)));
		assert_eq!(Ticks::session(s0).unwrap().settled_seconds, 10);
		assert_eq!(Ticks::session(s64).unwrap().settled_seconds, 10);
	});
}

#[test]
fn closing_clears_slots_and_removes_empty_pages() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let s0 = open(&charlie(), stream, 100);
		let s1 = open(&dave(), stream, 100);
		NextSessionId::<Test>::put(SESSIONS_PER_PAGE + 5);
		let s69 = open(&charlie(), stream, 100);
		assert_eq!(SessionPages::<Test>::iter_keys().count(), 2);

		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(alice()), s0, None));
		let page = SessionPages::<Test>::get(0).expect("s1 is still open on page 0");
		assert_eq!(page.open_sessions(0).map(|(id, _)| id).collect::<Vec<_>>(), vec![s1]);
		assert!(Ticks::session(s0).is_none());

		// The final intent settles into the page, then the close empties it: removed.
		advance_secs(10);
		assert_ok!(Ticks::close_session(
			RuntimeOrigin::signed(relayer()),
			s1,
			Some(intent(&voucher_key_of(&dave()), s1, 10))
		));
		assert!(SessionPages::<Test>::get(0).is_none());

		// `close_expired` cleans up too.
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		advance_secs(SETTLE_WINDOW_MS / 1_000);
		assert_ok!(Ticks::close_expired(authorized(), vec![s69].try_into().unwrap()));
		assert_eq!(SessionPages::<Test>::iter_keys().count(), 0);
		assert_eq!(Sessions::<Test>::iter_keys().count(), 0);
		assert_eq!(OpenSessionCount::<Test>::get(), 0);
	});
}

#[test]
fn try_state_detects_page_inconsistencies() {
	ExtBuilder::build().execute_with(|| {
		let stream = live_stream(2, vec![]);
		let s0 = open(&charlie(), stream, 100);
		let s1 = open(&dave(), stream, 100);
		assert_ok!(Ticks::do_try_state());

		// A stored session without its slot.
		let page = SessionPages::<Test>::get(0).unwrap();
		let mut without = page.clone();
		*without.slot_mut(s1).unwrap() = None;
		SessionPages::<Test>::insert(0, without);
		assert!(Ticks::do_try_state().is_err());

		// A filled slot of a closed (never opened) session.
		let mut extra = page.clone();
		*extra.slot_mut(5).unwrap() = page.get(s0).cloned();
		SessionPages::<Test>::insert(0, extra);
		assert!(Ticks::do_try_state().is_err());

		// An empty page stored.
		SessionPages::<Test>::insert(0, page);
		assert_ok!(Ticks::do_try_state());
		SessionPages::<Test>::insert(3, SessionPage::<Test>::default());
		assert!(Ticks::do_try_state().is_err());
		SessionPages::<Test>::remove(3);

		// A page without any stored session.
		let mut stray = SessionPage::<Test>::default();
		*stray.slot_mut(SESSIONS_PER_PAGE).unwrap() = Ticks::session(s0).map(|s| s.split().1);
		SessionPages::<Test>::insert(1, stray);
		assert!(Ticks::do_try_state().is_err());
	});
}
