//! Settling vouchers: `tick`, `settle_batch`, who may sign, and what a batch costs.

use super::*;
use frame_support::assert_noop;

#[test]
fn tick_settles_with_exact_split() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(7, vec![(bob(), Permill::from_percent(30))]);
		let sid = open(&charlie(), stream, 100);
		let platform = Payouts::platform_account();
		let (alice0, bob0, platform0) = (free(&alice()), free(&bob()), free(&platform));
		advance_secs(40);
		assert_ok!(Ticks::tick(RuntimeOrigin::signed(charlie()), sid, 40));
		// 40 s × 7 = 280; fee 2.5 % = 7; rest 273; bob 30 % = 81 (81.9); alice 192.
		assert_eq!(free(&platform) - platform0, 7);
		assert_eq!(free(&bob()) - bob0, 81);
		assert_eq!(free(&alice()) - alice0, 192);
		assert_eq!(free(&escrow()), 10 + 700 - 280);
		let s = Ticks::session(sid).unwrap();
		assert_eq!((s.settled_seconds, s.escrow_remaining), (40, 420));
		let st = Streams::stream(stream).unwrap();
		assert_eq!((st.total_viewer_seconds, st.total_earned), (40, 280));
		assert_eq!(pallet_payouts::StreamEarnings::<Test>::get(stream), 280);
		System::assert_last_event(
			Event::SessionSettled { session_id: sid, cumulative_seconds: 40, amount: 280 }.into(),
		);

		// Replays and old values are refused.
		assert_noop!(
			Ticks::tick(RuntimeOrigin::signed(charlie()), sid, 40),
			Error::<Test>::NotIncreasing
		);
		assert_noop!(
			Ticks::tick(RuntimeOrigin::signed(charlie()), sid, 30),
			Error::<Test>::NotIncreasing
		);
		// Only the viewer can tick.
		assert_noop!(Ticks::tick(RuntimeOrigin::signed(dave()), sid, 41), Error::<Test>::NotViewer);
		// Ahead of time: elapsed 40 + grace 5.
		assert_noop!(
			Ticks::tick(RuntimeOrigin::signed(charlie()), sid, 46),
			Error::<Test>::AheadOfTime
		);
		assert_ok!(Ticks::tick(RuntimeOrigin::signed(charlie()), sid, 45));
		advance_secs(1_000);
		assert_noop!(
			Ticks::tick(RuntimeOrigin::signed(charlie()), sid, 101),
			Error::<Test>::AboveMaxSeconds
		);
		assert_ok!(Ticks::tick(RuntimeOrigin::signed(charlie()), sid, 100));
		assert_eq!(Ticks::session(sid).unwrap().escrow_remaining, 0);
		assert_eq!(free(&escrow()), 10);
		assert_noop!(
			Ticks::tick(RuntimeOrigin::signed(charlie()), 77, 1),
			Error::<Test>::SessionNotFound
		);
	});
}

#[test]
fn settle_batch_with_mixed_vouchers() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(3, vec![(bob(), Permill::from_percent(10))]);
		let (c, d) = (pair(3), pair(4));
		let s1 = open(&charlie(), stream, 100);
		let s2 = open(&dave(), stream, 100);
		let s3 = open(&charlie(), stream, 20);
		let closed = open(&dave(), stream, 10);
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(alice()), closed, None));
		advance_secs(60);
		let platform = Payouts::platform_account();
		let (alice0, bob0, platform0, escrow0) =
			(free(&alice()), free(&bob()), free(&platform), free(&escrow()));
		System::reset_events();

		let vouchers = vec![
			voucher(&c, s1, 50),                                       // ok: 150
			voucher(&c, s2, 30),                                       // forged
			wrapped_voucher(&d, s2, 33),                               // ok: 99
			voucher(&c, 99, 5),                                        // unknown
			voucher(&c, s1, 50),                                       // replay in the same batch
			voucher(&c, s3, 21),                                       // above max
			voucher(&d, s2, 70),                                       // ahead of time (60 + 5)
			voucher(&d, closed, 1),                                    // closed session
			Voucher { cumulative_seconds: 51, ..voucher(&c, s1, 52) }, // wrong amount signed
			key_voucher(&voucher_key_of(&charlie()), s3, 20),          // ok: 60
		];
		assert_ok!(settle(batch(vouchers)));

		assert_eq!(
			rejected_events(),
			vec![
				(s2, RejectReason::BadSignature),
				(99, RejectReason::UnknownSession),
				(s1, RejectReason::NotIncreasing),
				(s3, RejectReason::AboveMaxSeconds),
				(s2, RejectReason::AheadOfTime),
				(closed, RejectReason::SessionClosed),
				(s1, RejectReason::BadSignature),
			]
		);
		System::assert_last_event(
			Event::BatchSettled { accepted: 3, rejected: 7, total_paid: 309 }.into(),
		);
		// Paid per voucher: 150, 99, 60 -> fees floor(3.75)=3, floor(2.475)=2, floor(1.5)=1.
		// Rest 147, 97, 59 -> bob 14, 9, 5; alice 133, 88, 54.
		assert_eq!(free(&platform) - platform0, 6);
		assert_eq!(free(&bob()) - bob0, 28);
		assert_eq!(free(&alice()) - alice0, 275);
		assert_eq!(escrow0 - free(&escrow()), 309);
		// One credit event per recipient.
		let credited = System::events()
			.into_iter()
			.filter(|r| {
				matches!(r.event, RuntimeEvent::Payouts(pallet_payouts::Event::Credited { .. }))
			})
			.count();
		assert_eq!(credited, 3);
		assert_eq!(Ticks::session(s1).unwrap().settled_seconds, 50);
		assert_eq!(Ticks::session(s2).unwrap().settled_seconds, 33);
		assert_eq!(Ticks::session(s3).unwrap().settled_seconds, 20);
		let st = Streams::stream(stream).unwrap();
		assert_eq!((st.total_viewer_seconds, st.total_earned), (103, 309));
	});
}

/// A voucher names its signer: the voucher key and the viewer's account both work, each only
/// as what it is; somebody else's key, or the right key under the wrong name, does not.
#[test]
fn vouchers_verify_against_the_signer_they_name() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let sid = open(&charlie(), stream, 100);
		let (viewer_key, session_key) = (pair(3), voucher_key_of(&charlie()));
		advance_secs(30);
		System::reset_events();
		let v = vec![
			// The voucher key's signature claimed as the viewer's, and the reverse.
			Voucher { signer: VoucherSigner::Viewer, ..key_voucher(&session_key, sid, 5) },
			Voucher { signer: VoucherSigner::VoucherKey, ..voucher(&viewer_key, sid, 5) },
			// Another session's voucher key.
			key_voucher(&voucher_key_of(&dave()), sid, 5),
			key_voucher(&session_key, sid, 10),
			voucher(&viewer_key, sid, 20),
		];
		assert_ok!(settle(batch(v)));
		assert_eq!(
			rejected_events(),
			vec![
				(sid, RejectReason::BadSignature),
				(sid, RejectReason::BadSignature),
				(sid, RejectReason::BadSignature),
			]
		);
		assert_eq!(Ticks::session(sid).unwrap().settled_seconds, 20);
	});
}

/// A close intent is signed under its own tag: relayed as a voucher it is a bad signature,
/// and a voucher handed in as a close intent authorizes nothing.
#[test]
fn a_close_intent_is_no_voucher_and_a_voucher_no_close_intent() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let sid = open(&charlie(), stream, 100);
		let k = voucher_key_of(&charlie());
		advance_secs(30);
		System::reset_events();
		let as_voucher = Voucher {
			session_id: sid,
			cumulative_seconds: 20,
			signer: VoucherSigner::VoucherKey,
			encoding: VoucherEncoding::Raw,
			signature: sign_kind(&k, PayloadKind::CloseIntent, sid, 20),
		};
		assert_ok!(settle(batch(vec![as_voucher])));
		assert_eq!(rejected_events(), vec![(sid, RejectReason::BadSignature)]);

		let as_intent = CloseIntent {
			cumulative_seconds: 20,
			signer: VoucherSigner::VoucherKey,
			encoding: VoucherEncoding::Raw,
			signature: sign_kind(&k, PayloadKind::Voucher, sid, 20),
		};
		assert_eq!(
			authorize(crate::Call::submit_close_intent {
				session_id: sid,
				intent: as_intent.clone()
			}),
			invalid(frame_support::pallet_prelude::InvalidTransaction::BadProof)
		);
		// Handed to close_session by the creator, it settles nothing.
		System::reset_events();
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(alice()), sid, Some(as_intent)));
		assert_eq!(rejected_events(), vec![(sid, RejectReason::BadSignature)]);
		assert_eq!(free(&charlie()), INITIAL);
	});
}

#[test]
fn replayed_batch_never_charges_twice() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(5, vec![]);
		let sid = open(&charlie(), stream, 100);
		advance_secs(10);
		let v = batch(vec![voucher(&pair(3), sid, 10)]);
		assert_ok!(settle(v.clone()));
		let escrow0 = free(&escrow());
		let alice0 = free(&alice());
		System::reset_events();
		assert_ok!(settle(v));
		assert_eq!(free(&escrow()), escrow0);
		assert_eq!(free(&alice()), alice0);
		assert_eq!(rejected_events(), vec![(sid, RejectReason::NotIncreasing)]);
		System::assert_last_event(
			Event::BatchSettled { accepted: 0, rejected: 1, total_paid: 0 }.into(),
		);
	});
}

#[test]
fn settle_batch_refunds_unused_weight() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(5, vec![]);
		let sid = open(&charlie(), stream, 100);
		advance_secs(10);
		let v = batch(vec![voucher(&pair(3), sid, 10), voucher(&pair(3), 99, 1)]);
		let info = settle(v).unwrap();
		// Session 99 is on page 1, never loaded (no such session): one page read.
		assert_eq!(info.actual_weight, Some(Ticks::settle_batch_weight(1, 1, 1, 1)));
		let declared =
			Ticks::settle_batch_declared_weight(2, BatchWitness { streams: 2, pages: 2 });
		assert!(Ticks::settle_batch_weight(1, 1, 1, 1).all_lte(declared));
		assert!(declared.all_lte(Ticks::settle_batch_max_weight(2)));
		// Declared counts above the number of vouchers are priced as one per voucher.
		assert_eq!(
			Ticks::settle_batch_declared_weight(2, BatchWitness { streams: 9, pages: 1_000 }),
			declared
		);
	});
}

#[test]
fn ed25519_and_ecdsa_vouchers_verify() {
	ExtBuilder::build_and_execute(|| {
		use sp_runtime::{traits::IdentifyAccount, MultiSigner};
		let stream = live_stream(1, vec![]);
		let ed = sp_core::ed25519::Pair::from_seed(&[9; 32]);
		let ed_account = MultiSigner::from(ed.public()).into_account();
		let ec = sp_core::ecdsa::Pair::from_seed(&[8; 32]);
		let ec_account = MultiSigner::from(ec.public()).into_account();
		for who in [&ed_account, &ec_account] {
			assert_ok!(<Balances as frame_support::traits::fungible::Mutate<_>>::mint_into(
				who, 1_000
			));
		}
		let s_ed = open(&ed_account, stream, 10);
		// An ed25519 voucher key for an sr25519 viewer.
		let sid = NextSessionId::<Test>::get();
		assert_ok!(Ticks::open_session(
			RuntimeOrigin::signed(charlie()),
			stream,
			10,
			1,
			ed_account.clone()
		));
		let s_ec = open(&ec_account, stream, 10);
		let genesis = Ticks::genesis_hash();
		advance_secs(5);
		let raw = |session_id, cumulative_seconds, signer, signature| Voucher {
			session_id,
			cumulative_seconds,
			signer,
			encoding: VoucherEncoding::Raw,
			signature,
		};
		let v = vec![
			raw(
				s_ed,
				5,
				VoucherSigner::Viewer,
				ed.sign(&Ticks::voucher_payload(&genesis, s_ed, 5)).into(),
			),
			raw(
				sid,
				3,
				VoucherSigner::VoucherKey,
				ed.sign(&Ticks::voucher_payload(&genesis, sid, 3)).into(),
			),
			raw(
				s_ec,
				4,
				VoucherSigner::Viewer,
				ec.sign(&Ticks::voucher_payload(&genesis, s_ec, 4)).into(),
			),
		];
		assert_ok!(settle(batch(v)));
		assert_eq!(Ticks::session(s_ed).unwrap().settled_seconds, 5);
		assert_eq!(Ticks::session(sid).unwrap().settled_seconds, 3);
		assert_eq!(Ticks::session(s_ec).unwrap().settled_seconds, 4);
	});
}

#[test]
fn the_stated_encoding_is_the_only_one_verified() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let sid = open(&charlie(), stream, 100);
		advance_secs(20);
		let c = pair(3);
		System::reset_events();
		let vouchers = vec![
			// A wrapped signature stated as raw, and a raw one stated as wrapped: both refused.
			Voucher { encoding: VoucherEncoding::Raw, ..wrapped_voucher(&c, sid, 10) },
			Voucher { encoding: VoucherEncoding::Wrapped, ..voucher(&c, sid, 10) },
			wrapped_voucher(&c, sid, 11),
			voucher(&c, sid, 12),
		];
		assert_ok!(settle(batch(vouchers)));
		assert_eq!(
			rejected_events(),
			vec![(sid, RejectReason::BadSignature), (sid, RejectReason::BadSignature)]
		);
		assert_eq!(Ticks::session(sid).unwrap().settled_seconds, 12);
	});
}

#[test]
fn settle_batch_fails_on_too_many_streams_and_changes_nothing() {
	ExtBuilder::build_and_execute(|| {
		let (first, second) = (live_stream(2, vec![]), live_stream(3, vec![]));
		let c = pair(3);
		let s1 = open(&charlie(), first, 100);
		let s2 = open(&charlie(), second, 100);
		advance_secs(20);
		let v = batch(vec![voucher(&c, s1, 10), voucher(&c, s2, 10)]);
		let declared_one = BatchWitness { streams: 1, pages: 1 };
		assert_noop!(
			Ticks::settle_batch(RuntimeOrigin::signed(relayer()), v.clone(), declared_one),
			Error::<Test>::TooManyStreams
		);
		// The declared streams price the call: a thousand vouchers of one stream are cheaper
		// than a thousand of distinct streams.
		let on = |streams| BatchWitness { streams, pages: 16 };
		assert!(
			Ticks::settle_batch_declared_weight(1_000, on(1)).ref_time()
				< Ticks::settle_batch_declared_weight(1_000, on(1_000)).ref_time()
		);
		let info = settle(v).unwrap();
		assert_eq!(info.actual_weight, Some(Ticks::settle_batch_weight(2, 0, 2, 1)));
		assert_eq!(Ticks::session(s1).unwrap().settled_seconds, 10);
		assert_eq!(Ticks::session(s2).unwrap().settled_seconds, 10);
	});
}

#[test]
fn try_state_detects_escrow_shortfall() {
	ExtBuilder::build().execute_with(|| {
		let stream = live_stream(2, vec![]);
		let sid = open(&charlie(), stream, 100);
		assert_ok!(Ticks::do_try_state());
		let set = |f: &dyn Fn(&mut SessionState<Test>)| {
			SessionPages::<Test>::mutate(page_of(sid).0, |p| {
				f(p.as_mut().unwrap().slot_mut(sid).unwrap().as_mut().unwrap())
			})
		};
		set(&|s| s.escrow_remaining = 10_000);
		assert!(Ticks::do_try_state().is_err());
		set(&|s| {
			s.escrow_remaining = 200;
			s.settled_seconds = 101;
		});
		assert!(Ticks::do_try_state().is_err());
	});
}
