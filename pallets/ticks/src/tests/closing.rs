//! Closing: the viewer's request and its settlement window, close intents, closing at once by
//! the creator or relayer, and the end of a stream.

use super::*;
use frame_support::{assert_noop, pallet_prelude::InvalidTransaction};
use sp_runtime::DispatchError;

fn close_expired(ids: Vec<SessionId>) -> frame_support::dispatch::DispatchResultWithPostInfo {
	Ticks::close_expired(authorized(), ids.try_into().unwrap())
}

fn authorize_close_expired(
	ids: Vec<SessionId>,
) -> Result<(ValidTransaction, Weight), TransactionValidityError> {
	authorize(crate::Call::close_expired { session_ids: ids.try_into().unwrap() })
}

fn authorize_intent(
	session_id: SessionId,
	intent: CloseIntent<MultiSignature>,
) -> Result<(ValidTransaction, Weight), TransactionValidityError> {
	authorize(crate::Call::submit_close_intent { session_id, intent })
}

fn now_ms() -> u64 {
	pallet_timestamp::Now::<Test>::get()
}

/// The viewer closes early without a final voucher, just before the relayer's batch: the
/// vouchers it signed until then still settle during the window, and none for later seconds.
#[test]
fn an_early_close_still_settles_what_was_signed_before_it_and_nothing_after() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		let sid = open(&charlie(), stream, 100);
		let k = voucher_key_of(&charlie());
		advance_secs(30);
		// The page signed vouchers up to 30 s; the sidecar holds them, unsettled.
		let signed_before_close = key_voucher(&k, sid, 30);
		let closed_at = now_ms();
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(charlie()), sid, None));
		System::assert_last_event(
			Event::SessionClosing {
				session_id: sid,
				settled_seconds: 0,
				refund_at: closed_at + SETTLE_WINDOW_MS,
			}
			.into(),
		);
		let s = Ticks::session(sid).unwrap();
		assert_eq!(s.closing_since, Some(closed_at));
		assert!(!s.is_open());
		// Nothing was refunded yet; the session cannot be topped up or closed again by the
		// viewer.
		assert_eq!(free(&charlie()), INITIAL - 400);
		assert_noop!(
			Ticks::top_up(RuntimeOrigin::signed(charlie()), sid, 10),
			Error::<Test>::SessionClosing
		);
		assert_noop!(
			Ticks::close_session(RuntimeOrigin::signed(charlie()), sid, None),
			Error::<Test>::SessionClosing
		);
		// Nor refunded by anyone before the window ends.
		advance_secs(SETTLE_WINDOW_MS / 1_000 - 60);
		assert_eq!(authorize_close_expired(vec![sid]), invalid(InvalidTransaction::Call));
		assert_ok!(close_expired(vec![sid]));
		assert!(Ticks::session(sid).is_some());

		// Nine minutes later the relayer settles: the voucher signed before the close pays;
		// one for seconds after the close (30 + grace 5 < 36) does not.
		System::reset_events();
		assert_ok!(settle(batch(vec![key_voucher(&k, sid, 36)])));
		assert_eq!(rejected_events(), vec![(sid, RejectReason::AfterClose)]);
		let alice0 = free(&alice());
		assert_ok!(settle(batch(vec![signed_before_close])));
		assert_eq!(Ticks::session(sid).unwrap().settled_seconds, 30);
		assert_eq!(free(&alice()) - alice0, 120 - 3); // 30 × 4, less the 2.5 % fee
												// Within the grace, seconds the viewer may have signed just before closing still count.
		assert_ok!(settle(batch(vec![key_voucher(&k, sid, 35)])));
		assert_noop!(
			Ticks::tick(RuntimeOrigin::signed(charlie()), sid, 36),
			Error::<Test>::AfterClose
		);

		// The window ends: anyone (the off-chain worker) refunds the rest.
		advance_secs(60);
		assert!(authorize_close_expired(vec![sid]).is_ok());
		assert_ok!(close_expired(vec![sid]));
		System::assert_last_event(
			Event::SessionClosed {
				session_id: sid,
				settled_seconds: 35,
				refunded: 260,
				reason: CloseReason::WindowElapsed,
			}
			.into(),
		);
		assert_eq!(free(&charlie()), INITIAL - 140);
		assert_eq!(free(&escrow()), 10);
		// Too late for anything more.
		System::reset_events();
		assert_ok!(settle(batch(vec![key_voucher(&k, sid, 20)])));
		assert_eq!(rejected_events(), vec![(sid, RejectReason::SessionClosed)]);
	});
}

/// Closing and reopening before each relay batch gains the viewer nothing: every signed
/// second still settles, in whichever session it was signed.
#[test]
fn close_and_reopen_before_each_batch_refunds_no_watched_second() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let k = voucher_key_of(&charlie());
		let mut held = Vec::new();
		let mut sessions = Vec::new();
		for _ in 0..3 {
			let sid = open(&charlie(), stream, 100);
			advance_secs(20);
			held.push(key_voucher(&k, sid, 20));
			assert_ok!(Ticks::close_session(RuntimeOrigin::signed(charlie()), sid, None));
			sessions.push(sid);
		}
		// The relayer's batch comes after all of that, still within the windows.
		let alice0 = free(&alice());
		assert_ok!(settle(batch(held)));
		assert_eq!(free(&alice()) - alice0, 3 * (40 - 1));
		for sid in &sessions {
			assert_eq!(Ticks::session(*sid).unwrap().settled_seconds, 20);
		}
		advance_secs(SETTLE_WINDOW_MS / 1_000);
		assert_ok!(close_expired(sessions));
		assert_eq!(free(&charlie()), INITIAL - 3 * 40);
	});
}

#[test]
fn the_creator_or_the_relayer_closes_at_once_and_nobody_else() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		let s1 = open(&charlie(), stream, 100);
		let s2 = open(&dave(), stream, 100);
		advance_secs(30);
		assert_noop!(
			Ticks::close_session(RuntimeOrigin::signed(eve()), s1, None),
			Error::<Test>::NotParticipant
		);
		// The relayer closes with the viewer's close intent: settled, then refunded at once.
		let alice0 = free(&alice());
		assert_ok!(Ticks::close_session(
			RuntimeOrigin::signed(relayer()),
			s1,
			Some(intent(&voucher_key_of(&charlie()), s1, 30))
		));
		assert_eq!(free(&alice()) - alice0, 117); // 30 × 4 = 120, fee 3
		assert_eq!(free(&charlie()), INITIAL - 120);
		System::assert_last_event(
			Event::SessionClosed {
				session_id: s1,
				settled_seconds: 30,
				refunded: 280,
				reason: CloseReason::Closed,
			}
			.into(),
		);
		// A closing session too (the creator ends its window).
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(dave()), s2, None));
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(alice()), s2, None));
		assert_eq!(free(&dave()), INITIAL);
		assert!(Ticks::session(s2).is_none());
		assert_eq!(Streams::stream(stream).unwrap().current_viewers, 0);
		assert_eq!(free(&escrow()), 10);
		// A stream without a relayer: only its creator.
		let other = live_stream(1, vec![]);
		assert_ok!(Streams::update_stream(
			RuntimeOrigin::signed(alice()),
			other,
			pallet_streams::StreamUpdate::<Test> { relayer: Some(None), ..Default::default() }
		));
		let s3 = open(&charlie(), other, 10);
		assert_noop!(
			Ticks::close_session(RuntimeOrigin::signed(relayer()), s3, None),
			Error::<Test>::NotParticipant
		);
		assert_noop!(
			Ticks::close_session(RuntimeOrigin::signed(charlie()), 42, None),
			Error::<Test>::SessionNotFound
		);
	});
}

#[test]
fn creator_close_with_a_bad_intent_still_refunds_everything() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		let sid = open(&charlie(), stream, 100);
		advance_secs(30);
		// Signed by the wrong key: rejected, the session still closes with a full refund.
		assert_ok!(Ticks::close_session(
			RuntimeOrigin::signed(alice()),
			sid,
			Some(intent(&pair(4), sid, 30))
		));
		assert_eq!(rejected_events(), vec![(sid, RejectReason::BadSignature)]);
		assert_eq!(free(&charlie()), INITIAL);
		assert!(Ticks::session(sid).is_none());
	});
}

/// A close intent needs no wallet and no fee: its signature authorizes it, once per session,
/// and only for seconds that were paid for and have elapsed.
#[test]
fn close_intents_are_authorized_by_their_signature_once_per_session() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(3, vec![]);
		let sid = open(&charlie(), stream, 100);
		let k = voucher_key_of(&charlie());
		advance_secs(40);

		assert_eq!(
			authorize_intent(sid, intent(&pair(6), sid, 40)),
			invalid(InvalidTransaction::BadProof)
		);
		assert_eq!(authorize_intent(sid, intent(&k, sid, 46)), invalid(InvalidTransaction::Call));
		assert_eq!(authorize_intent(42, intent(&k, 42, 1)), invalid(InvalidTransaction::Stale));
		let (valid, _) = authorize_intent(sid, intent(&k, sid, 40)).unwrap();
		assert_eq!(valid.provides.len(), 1);
		assert_eq!(valid.priority, USER_AUTHORIZED_PRIORITY);
		// The viewer's own key may sign it too (a wallet, wrapped or not).
		let by_viewer = CloseIntent { signer: VoucherSigner::Viewer, ..intent(&pair(3), sid, 40) };
		assert!(authorize_intent(sid, by_viewer).is_ok());

		// Only through the authorization.
		assert_noop!(
			Ticks::submit_close_intent(RuntimeOrigin::signed(eve()), sid, intent(&k, sid, 40)),
			DispatchError::BadOrigin
		);
		let alice0 = free(&alice());
		assert_ok!(Ticks::submit_close_intent(authorized(), sid, intent(&k, sid, 40)));
		assert_eq!(free(&alice()) - alice0, 117); // 40 × 3 = 120, fee 3
		assert_eq!(Ticks::session(sid).unwrap().closing_since, Some(now_ms()));
		// Once closing, no second intent.
		assert_eq!(authorize_intent(sid, intent(&k, sid, 40)), invalid(InvalidTransaction::Stale));

		// An intent below what was settled settles nothing and still closes.
		let s2 = open(&dave(), stream, 100);
		advance_secs(20);
		assert_ok!(Ticks::tick(RuntimeOrigin::signed(dave()), s2, 15));
		System::reset_events();
		assert_ok!(Ticks::submit_close_intent(
			authorized(),
			s2,
			intent(&voucher_key_of(&dave()), s2, 10)
		));
		assert!(rejected_events().is_empty());
		assert_eq!(Ticks::session(s2).unwrap().settled_seconds, 15);
		// A viewer who states fewer seconds than it signed vouchers for does not escape
		// them: the relayer's voucher still settles in the window.
		assert_ok!(settle(batch(vec![key_voucher(&voucher_key_of(&dave()), s2, 20)])));
		assert_eq!(Ticks::session(s2).unwrap().settled_seconds, 20);
	});
}

/// The creator ends the stream right after the viewers' last vouchers were acknowledged and
/// before the relayer submitted them: they still settle, and only then are the viewers
/// refunded, with no action of theirs.
#[test]
fn ending_a_stream_settles_then_refunds() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(5, vec![(bob(), Permill::from_percent(20))]);
		let s1 = open(&charlie(), stream, 100);
		let s2 = open(&dave(), stream, 100);
		advance_secs(50);
		let held = vec![
			key_voucher(&voucher_key_of(&charlie()), s1, 50),
			key_voucher(&voucher_key_of(&dave()), s2, 48),
		];
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		// The off-chain worker may not refund yet.
		assert_eq!(authorize_close_expired(vec![s1, s2]), invalid(InvalidTransaction::Call));
		advance_secs(120);
		let (alice0, bob0) = (free(&alice()), free(&bob()));
		assert_ok!(settle(batch(held)));
		// 98 s × 5 = 490: 250 then 240, each split: fee 6 + 6, bob 48 + 46, alice 196 + 188.
		assert_eq!(free(&alice()) - alice0, 196 + 188);
		assert_eq!(free(&bob()) - bob0, 48 + 46);
		advance_secs(SETTLE_WINDOW_MS / 1_000 - 120);
		assert!(authorize_close_expired(vec![s1, s2]).is_ok());
		assert_ok!(close_expired(vec![s1, s2]));
		assert_eq!(free(&charlie()), INITIAL - 250);
		assert_eq!(free(&dave()), INITIAL - 240);
		assert_eq!(free(&escrow()), 10);
		assert_eq!(Streams::stream(stream).unwrap().current_viewers, 0);
	});
}

/// `close_expired` pays no fee: a call padded with ids that are not open and expired, listed
/// twice or out of order, would buy block space for free. Each is refused; an honest list is
/// valid at the lowest priority, at or below any signed transaction's (`settle_batch`'s).
#[test]
fn a_padded_close_expired_is_refused_and_an_honest_one_has_the_lowest_priority() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let s1 = open(&charlie(), stream, 100);
		let s2 = open(&dave(), stream, 100);
		let s3 = open(&eve(), stream, 100);
		System::set_block_number(5);
		advance_secs(20);
		assert_ok!(Ticks::tick(RuntimeOrigin::signed(eve()), s3, 10)); // s3 active at block 5
		System::set_block_number(12); // s1 and s2 idle for 10 blocks or more; s3 is not
		let (valid, _) = authorize_close_expired(vec![s1, s2]).unwrap();
		assert_eq!(valid.priority, CLOSE_EXPIRED_PRIORITY);
		assert_eq!(CLOSE_EXPIRED_PRIORITY, 0, "no higher than a signed transaction without tip");
		// One expired id padded with unknown ones, a repeated one, or one not expired.
		let padded: Vec<SessionId> = vec![s1, s3 + 1, s3 + 2, s3 + 3];
		assert_eq!(authorize_close_expired(padded), invalid(InvalidTransaction::Stale));
		assert_eq!(authorize_close_expired(vec![s1, s1]), invalid(InvalidTransaction::Call));
		assert_eq!(authorize_close_expired(vec![s2, s1]), invalid(InvalidTransaction::Call));
		assert_eq!(authorize_close_expired(vec![s1, s3]), invalid(InvalidTransaction::Call));
		assert_eq!(authorize_close_expired(vec![]), invalid(InvalidTransaction::Call));
	});
}

#[test]
fn idle_sessions_of_live_streams_expire_and_closing_ones_wait_for_their_window() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let s1 = open(&charlie(), stream, 100);
		let s2 = open(&dave(), stream, 100);
		// Fresh sessions: refused.
		assert_eq!(authorize_close_expired(vec![s1]), invalid(InvalidTransaction::Call));
		System::set_block_number(5);
		advance_secs(20);
		assert_ok!(Ticks::tick(RuntimeOrigin::signed(dave()), s2, 10)); // s2 active at block 5
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(dave()), s2, None));
		System::set_block_number(20); // both idle for 10 blocks or more
		let (valid, _) = authorize_close_expired(vec![s1]).unwrap();
		assert_eq!(valid.provides.len(), 1);
		// The closing one waits for its window, whatever its idleness: it spoils the list.
		assert_eq!(authorize_close_expired(vec![s1, s2]), invalid(InvalidTransaction::Call));
		// Unknown / closed ids only: stale.
		assert_eq!(authorize_close_expired(vec![42]), invalid(InvalidTransaction::Stale));
		assert_noop!(
			Ticks::close_expired(RuntimeOrigin::signed(charlie()), vec![s1].try_into().unwrap()),
			DispatchError::BadOrigin
		);
		assert_ok!(close_expired(vec![s1, 42, s2]));
		assert!(Ticks::session(s1).is_none());
		assert_eq!(free(&charlie()), INITIAL);
		System::assert_last_event(
			Event::SessionClosed {
				session_id: s1,
				settled_seconds: 0,
				refunded: 200,
				reason: CloseReason::Expired,
			}
			.into(),
		);
		// The closing session was skipped, not closed.
		assert!(Ticks::session(s2).is_some());
		assert_ok!(close_expired(vec![s1]));
	});
}
