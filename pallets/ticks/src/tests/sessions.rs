//! Opening, topping up, and what a session records.

use super::*;
use frame_support::assert_noop;

#[test]
fn payload_layouts_are_fixed_and_distinct() {
	ExtBuilder::build_and_execute(|| {
		let genesis = Ticks::genesis_hash();
		let payload = Ticks::voucher_payload(&genesis, 7, 300);
		assert_eq!(payload.len(), 17 + 32 + 8 + 8);
		assert_eq!(&payload[..17], b"vilokanam/tick/v1");
		assert_eq!(&payload[17..49], genesis.as_ref());
		assert_eq!(&payload[49..57], &7u64.to_le_bytes());
		assert_eq!(&payload[57..], &300u64.to_le_bytes());

		let close = Ticks::close_payload(&genesis, 7, 300);
		assert_eq!(close.len(), 18 + 32 + 8 + 8);
		assert_eq!(&close[..18], b"vilokanam/close/v1");
		assert_eq!(&close[18..], &payload[17..]);

		let op = DelegateOp::<Test>::TopUp { session_id: 7, extra_seconds: 60 };
		let delegate = Ticks::delegate_payload(&genesis, &charlie(), 3, 9, &op);
		assert_eq!(&delegate[..21], b"vilokanam/delegate/v1");
		assert_eq!(&delegate[21..53], genesis.as_ref());
		assert_eq!(&delegate[53..85], AsRef::<[u8]>::as_ref(&charlie()));
		assert_eq!(&delegate[85..93], &3u64.to_le_bytes());
		assert_eq!(&delegate[93..97], &9u32.to_le_bytes());
		// The op: variant index 1, then its two u64s.
		assert_eq!(
			&delegate[97..],
			&[&[1u8][..], &7u64.to_le_bytes(), &60u64.to_le_bytes()].concat()[..]
		);
	});
}

#[test]
fn genesis_endows_escrow() {
	ExtBuilder::build_and_execute(|| {
		assert_eq!(free(&escrow()), 10);
	});
}

#[test]
fn open_session_escrows_price_times_max_seconds_and_records_the_voucher_key() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(7, vec![]);
		let key = account_of(&voucher_key_of(&charlie()));
		let sid = open(&charlie(), stream, 100);
		assert_eq!(free(&charlie()), INITIAL - 700);
		assert_eq!(free(&escrow()), 10 + 700);
		let s = Ticks::session(sid).unwrap();
		assert_eq!(s.viewer, charlie());
		assert_eq!(s.voucher_key, key);
		assert_eq!(s.price_per_second, 7);
		assert_eq!((s.max_seconds, s.settled_seconds, s.escrow_remaining), (100, 0, 700));
		assert_eq!((s.opened_at, s.closing_since, s.allowance), (1_000_000, None, None));
		assert_eq!(s.last_activity, 1);
		assert!(s.is_open());
		assert_eq!(Streams::stream(stream).unwrap().current_viewers, 1);
		System::assert_last_event(
			Event::SessionOpened {
				session_id: sid,
				viewer: charlie(),
				stream_id: stream,
				price_per_second: 7,
				max_seconds: 100,
				deposit: 700,
				voucher_key: key,
				allowance: None,
			}
			.into(),
		);
	});
}

#[test]
fn open_session_errors() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(7, vec![]);
		let c = RuntimeOrigin::signed(charlie());
		let key = account_of(&voucher_key_of(&charlie()));
		let open_ =
			|stream, seconds| Ticks::open_session(c.clone(), stream, seconds, 1_000, key.clone());
		assert_noop!(open_(stream, 0), Error::<Test>::ZeroSeconds);
		assert_noop!(open_(stream, 86_401), Error::<Test>::TooManySeconds);
		assert_noop!(open_(99, 10), Error::<Test>::StreamNotFound);
		// Viewer cannot afford it: 86_400 s x 100 is more than the balance.
		let pricey = live_stream(100, vec![]);
		assert!(open_(pricey, 86_400).is_err());
		// Nor everything it has: the viewer must stay alive (10_000 s x 100 = INITIAL).
		assert!(open_(pricey, 10_000).is_err());
		// Banned viewer.
		assert_ok!(Streams::ban_viewer(RuntimeOrigin::signed(alice()), charlie()));
		assert_noop!(open_(stream, 10), Error::<Test>::Banned);
		assert_ok!(Streams::unban_viewer(RuntimeOrigin::signed(alice()), charlie()));
		// Scheduled stream.
		let scheduled = pallet_streams::NextStreamId::<Test>::get();
		assert_ok!(Streams::create_stream(
			RuntimeOrigin::signed(alice()),
			b"Later".to_vec().try_into().unwrap(),
			Default::default(),
			MUSIC,
			Default::default(),
			1,
			None,
			None,
		));
		assert_noop!(open_(scheduled, 10), Error::<Test>::StreamNotLive);
		// Ended stream.
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		assert_noop!(open_(stream, 10), Error::<Test>::ReplayNotOffered);
		assert_eq!(free(&charlie()), INITIAL);
	});
}

/// The page shows the price and signs `open_session` with it as the maximum; the creator
/// raises the price while the transaction waits in the pool: it is refused, nothing is paid.
#[test]
fn a_price_rise_between_submission_and_dispatch_is_refused() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(7, vec![]);
		let key = account_of(&voucher_key_of(&charlie()));
		let submitted = Ticks::open_session(
			RuntimeOrigin::signed(charlie()),
			stream,
			100,
			7, // the price the page showed
			key.clone(),
		);
		assert_ok!(submitted);
		// The next viewer's transaction waits while the price goes up by one.
		assert_ok!(Streams::update_stream(
			RuntimeOrigin::signed(alice()),
			stream,
			pallet_streams::StreamUpdate::<Test> {
				price_per_second: Some(8),
				..Default::default()
			}
		));
		assert_noop!(
			Ticks::open_session(RuntimeOrigin::signed(dave()), stream, 100, 7, key.clone()),
			Error::<Test>::PriceAboveMax
		);
		assert_eq!(free(&dave()), INITIAL);
		// At or below the cap it opens at the stream's price, not at the cap.
		let sid = NextSessionId::<Test>::get();
		assert_ok!(Ticks::open_session(RuntimeOrigin::signed(dave()), stream, 100, 9, key));
		assert_eq!(Ticks::session(sid).unwrap().price_per_second, 8);
	});
}

#[test]
fn top_up_adds_seconds_at_the_session_price() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(7, vec![]);
		let sid = open(&charlie(), stream, 100);
		// A later price change does not affect the open session.
		assert_ok!(Streams::update_stream(
			RuntimeOrigin::signed(alice()),
			stream,
			pallet_streams::StreamUpdate::<Test> {
				price_per_second: Some(1_000),
				..Default::default()
			}
		));
		assert_noop!(
			Ticks::top_up(RuntimeOrigin::signed(dave()), sid, 10),
			Error::<Test>::NotViewer
		);
		assert_noop!(
			Ticks::top_up(RuntimeOrigin::signed(charlie()), sid, 0),
			Error::<Test>::ZeroSeconds
		);
		assert_noop!(
			Ticks::top_up(RuntimeOrigin::signed(charlie()), sid, 86_301),
			Error::<Test>::TooManySeconds
		);
		assert_noop!(
			Ticks::top_up(RuntimeOrigin::signed(charlie()), 42, 1),
			Error::<Test>::SessionNotFound
		);
		System::set_block_number(3);
		assert_ok!(Ticks::top_up(RuntimeOrigin::signed(charlie()), sid, 50));
		let s = Ticks::session(sid).unwrap();
		assert_eq!((s.max_seconds, s.escrow_remaining, s.last_activity), (150, 1_050, 3));
		assert_eq!(free(&charlie()), INITIAL - 1_050);
		// New sessions use the new price.
		let sid2 = open(&dave(), stream, 2);
		assert_eq!(Ticks::session(sid2).unwrap().price_per_second, 1_000);
	});
}

#[test]
fn stream_with_stored_sessions_cannot_be_removed() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		let sid = open(&charlie(), stream, 10);
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		assert_noop!(
			Streams::remove_stream(RuntimeOrigin::signed(alice()), stream),
			pallet_streams::Error::<Test>::ViewersPresent
		);
		// A closing session still holds escrow and still counts.
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(charlie()), sid, None));
		assert_noop!(
			Streams::remove_stream(RuntimeOrigin::signed(alice()), stream),
			pallet_streams::Error::<Test>::ViewersPresent
		);
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(alice()), sid, None));
		assert_ok!(Streams::remove_stream(RuntimeOrigin::signed(alice()), stream));
	});
}
