//! Replays: sessions opened on an ended stream while its creator offers the replay, paid at
//! the offer's price and settled like live ones; they idle out like live ones, and a live
//! session never passes for a replay one.

use super::*;
use frame_support::{assert_noop, pallet_prelude::InvalidTransaction};

/// Alice's stream at 4 per second, ended after 60 s, its replay offered at `offer`.
fn ended_with_offer(offer: Option<Balance>) -> StreamId {
	let stream = live_stream(4, vec![]);
	advance_secs(60);
	assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
	assert_ok!(Streams::set_replay_offer(RuntimeOrigin::signed(alice()), stream, offer));
	stream
}

#[test]
fn a_replay_session_pays_the_offer_price_for_exactly_the_seconds_watched() {
	ExtBuilder::build_and_execute(|| {
		let stream = ended_with_offer(Some(2));
		advance_secs(1);
		let sid = open(&charlie(), stream, 100);
		let s = Ticks::session(sid).unwrap();
		assert_eq!(s.price_per_second, 2);
		assert_eq!(free(&charlie()), INITIAL - 200);
		let alice_before = free(&alice());
		let k = voucher_key_of(&charlie());

		advance_secs(20);
		// No more seconds than elapsed (plus the mock's 5 s grace), as live.
		assert_ok!(settle(batch(vec![key_voucher(&k, sid, 26)])));
		assert_eq!(rejected_events(), vec![(sid, RejectReason::AheadOfTime)]);
		assert_ok!(settle(batch(vec![key_voucher(&k, sid, 20)])));
		let s = Ticks::session(sid).unwrap();
		assert_eq!((s.settled_seconds, s.escrow_remaining), (20, 160));
		// 40 paid, less the 2.5 % platform fee, to the creator.
		assert_eq!(free(&alice()) - alice_before, 39);
		let st = Streams::stream(stream).unwrap();
		assert_eq!((st.total_viewer_seconds, st.current_viewers), (20, 1));
	});
}

#[test]
fn an_ended_stream_without_an_offer_or_above_the_viewers_maximum_opens_nothing() {
	ExtBuilder::build_and_execute(|| {
		let stream = ended_with_offer(None);
		let key = account_of(&voucher_key_of(&charlie()));
		assert_noop!(
			Ticks::open_session(RuntimeOrigin::signed(charlie()), stream, 10, 100, key.clone()),
			Error::<Test>::ReplayNotOffered
		);
		assert_ok!(Streams::set_replay_offer(RuntimeOrigin::signed(alice()), stream, Some(3)));
		assert_noop!(
			Ticks::open_session(RuntimeOrigin::signed(charlie()), stream, 10, 2, key.clone()),
			Error::<Test>::PriceAboveMax
		);
		// Banned viewers stay banned from replays.
		assert_ok!(Streams::ban_viewer(RuntimeOrigin::signed(alice()), charlie()));
		assert_noop!(
			Ticks::open_session(RuntimeOrigin::signed(charlie()), stream, 10, 3, key),
			Error::<Test>::Banned
		);
		assert_eq!(free(&charlie()), INITIAL);
	});
}

/// A live session left open at the end waits for the settlement window; a replay session
/// opened after the end idles out like a live one, whether or not the offer still stands.
#[test]
fn a_replay_session_idles_out_and_a_live_one_keeps_its_window_after_the_end() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		let live = open(&dave(), stream, 100);
		advance_secs(30);
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		let ended_at = pallet_timestamp::Now::<Test>::get();
		assert_ok!(Streams::set_replay_offer(RuntimeOrigin::signed(alice()), stream, Some(1)));
		advance_secs(1);
		let replay = open(&charlie(), stream, 100);
		let k = voucher_key_of(&charlie());

		System::set_block_number(5);
		advance_secs(10);
		assert_ok!(settle(batch(vec![key_voucher(&k, replay, 10)])));
		assert_eq!(Ticks::expiry_now(replay), None);
		assert_eq!(Ticks::expiry_now(live), None, "the window after the end has not passed");

		// Withdrawn: no new replay sessions, and the open one idles out.
		assert_ok!(Streams::set_replay_offer(RuntimeOrigin::signed(alice()), stream, None));
		assert_noop!(
			Ticks::open_session(
				RuntimeOrigin::signed(eve()),
				stream,
				10,
				10,
				account_of(&voucher_key_of(&eve()))
			),
			Error::<Test>::ReplayNotOffered
		);
		System::set_block_number(14);
		assert_eq!(Ticks::expiry_now(replay), None, "idle for 9 blocks of 10");
		System::set_block_number(15);
		assert_eq!(Ticks::expiry_now(replay), Some(CloseReason::Expired));
		assert_eq!(Ticks::expiry_now(live), None, "idleness does not close a live session");

		Timestamp::set_timestamp(ended_at + SETTLE_WINDOW_MS);
		assert_eq!(Ticks::expiry_now(live), Some(CloseReason::WindowElapsed));
		assert_ok!(Ticks::close_expired(authorized(), vec![live, replay].try_into().unwrap()));
		// The replay viewer paid its 10 seconds at 1, and got the rest back.
		assert_eq!(free(&charlie()), INITIAL - 10);
		assert_eq!(Streams::stream(stream).unwrap().current_viewers, 0);
		assert_ok!(Streams::remove_stream(RuntimeOrigin::signed(alice()), stream));
	});
}

/// A session opened in the same block as (after) the end has the end's timestamp: it counts
/// as a live session (window after the end), never as a replay that could outlive it.
#[test]
fn a_session_opened_in_the_ending_block_is_not_a_replay() {
	ExtBuilder::build_and_execute(|| {
		let stream = ended_with_offer(Some(2));
		let sid = open(&charlie(), stream, 100);
		let s = Ticks::session(sid).unwrap();
		assert!(!Streams::is_replay(&Streams::stream(stream).unwrap(), s.opened_at));
		System::set_block_number(100);
		assert_eq!(Ticks::expiry_now(sid), None);
		advance_secs(SETTLE_WINDOW_MS / 1_000);
		assert_eq!(Ticks::expiry_now(sid), Some(CloseReason::WindowElapsed));
	});
}

/// A page opens a replay session through its allowance at the replay price (below the live
/// one): validation and dispatch both price it at the offer; without an offer it is refused
/// before it is included.
#[test]
fn a_delegate_opens_a_replay_session_at_the_offer_price() {
	ExtBuilder::build_and_execute(|| {
		let stream = ended_with_offer(Some(1));
		advance_secs(1);
		let delegate = pair(42);
		let now = pallet_timestamp::Now::<Test>::get();
		assert_ok!(Ticks::grant_allowance(
			RuntimeOrigin::signed(charlie()),
			account_of(&delegate),
			1_000,
			86_400_000,
			now + 86_400_000,
		));
		let op = DelegateOp::OpenSession {
			stream_id: stream,
			max_seconds: 100,
			max_price_per_second: 1,
			voucher_key: account_of(&voucher_key_of(&charlie())),
		};
		let call = |nonce, op: DelegateOp<Test>| {
			let payload =
				Ticks::delegate_payload(&Ticks::genesis_hash(), &charlie(), 0, nonce, &op);
			crate::Call::<Test>::delegate {
				viewer: charlie(),
				allowance_id: 0,
				nonce,
				op,
				encoding: VoucherEncoding::Raw,
				signature: MultiSignature::from(delegate.sign(&payload)),
			}
		};
		assert_eq!(Ticks::delegate_op_cost(&charlie(), &op), Ok(100));
		assert!(authorize(call(0, op.clone())).is_ok(), "valid at the replay price");
		let sid = NextSessionId::<Test>::get();
		assert_ok!(Ticks::delegate(
			authorized(),
			charlie(),
			0,
			0,
			op.clone(),
			VoucherEncoding::Raw,
			match call(0, op.clone()) {
				crate::Call::delegate { signature, .. } => signature,
				_ => unreachable!(),
			},
		));
		assert_eq!(Ticks::session(sid).unwrap().price_per_second, 1);
		// Withdrawn: the next one is refused at validation.
		assert_ok!(Streams::set_replay_offer(RuntimeOrigin::signed(alice()), stream, None));
		assert_eq!(authorize(call(1, op)), invalid(InvalidTransaction::Call));
	});
}
