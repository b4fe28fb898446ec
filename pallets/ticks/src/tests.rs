//! Unit tests of the ticks pallet.

use crate::{mock::*, *};
use codec::Decode;
use frame_support::{
	assert_noop, assert_ok,
	pallet_prelude::{InvalidTransaction, TransactionSource, TransactionValidityError},
	traits::{fungible::Inspect, Authorize, Hooks},
	BoundedVec,
};
use pallet_streams::{SplitOf, StreamId};
use sp_core::{
	offchain::{testing, OffchainDbExt, OffchainWorkerExt, TransactionPoolExt},
	sr25519, Pair,
};
use sp_runtime::{DispatchError, MultiSignature, Permill};

type AccountId = mock::AccountId;

fn free(who: &AccountId) -> Balance {
	Balances::balance(who)
}

fn live_stream(price: Balance, split: Vec<(AccountId, Permill)>) -> StreamId {
	let id = pallet_streams::NextStreamId::<Test>::get();
	assert_ok!(Streams::create_stream(
		RuntimeOrigin::signed(alice()),
		b"Live".to_vec().try_into().unwrap(),
		Default::default(),
		MUSIC,
		Default::default(),
		price,
		None,
	));
	let split: SplitOf<Test> = split.try_into().unwrap();
	assert_ok!(Streams::set_split(RuntimeOrigin::signed(alice()), id, split));
	assert_ok!(Streams::go_live(RuntimeOrigin::signed(alice()), id));
	id
}

fn open(viewer: &AccountId, stream: StreamId, max_seconds: u64) -> SessionId {
	let id = NextSessionId::<Test>::get();
	assert_ok!(Ticks::open_session(RuntimeOrigin::signed(viewer.clone()), stream, max_seconds));
	id
}

fn sign(p: &sr25519::Pair, session_id: SessionId, cumulative: u64) -> MultiSignature {
	let payload = Ticks::voucher_payload(&Ticks::genesis_hash(), session_id, cumulative);
	MultiSignature::from(p.sign(&payload))
}

fn sign_wrapped(p: &sr25519::Pair, session_id: SessionId, cumulative: u64) -> MultiSignature {
	let payload = Ticks::voucher_payload(&Ticks::genesis_hash(), session_id, cumulative);
	let wrapped = [WRAP_PREFIX, &payload[..], WRAP_SUFFIX].concat();
	MultiSignature::from(p.sign(&wrapped))
}

fn voucher(p: &sr25519::Pair, session_id: SessionId, cumulative: u64) -> Voucher<MultiSignature> {
	Voucher {
		session_id,
		cumulative_seconds: cumulative,
		signature: sign(p, session_id, cumulative),
	}
}

fn batch(v: Vec<Voucher<MultiSignature>>) -> BoundedVec<Voucher<MultiSignature>, ConstU32Max> {
	v.try_into().unwrap()
}

type ConstU32Max = <Test as Config>::MaxVouchersPerBatch;

fn advance_secs(secs: u64) {
	Timestamp::set_timestamp(pallet_timestamp::Now::<Test>::get() + secs * 1_000);
}

fn rejected_events() -> Vec<(SessionId, RejectReason)> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Ticks(Event::VoucherRejected { session_id, reason }) => {
				Some((session_id, reason))
			},
			_ => None,
		})
		.collect()
}

fn escrow() -> AccountId {
	Ticks::escrow_account()
}

#[test]
fn voucher_payload_layout_is_fixed() {
	ExtBuilder::build_and_execute(|| {
		let genesis = Ticks::genesis_hash();
		let payload = Ticks::voucher_payload(&genesis, 7, 300);
		assert_eq!(payload.len(), 17 + 32 + 8 + 8);
		assert_eq!(&payload[..17], b"vilokanam/tick/v1");
		assert_eq!(&payload[17..49], genesis.as_ref());
		assert_eq!(&payload[49..57], &7u64.to_le_bytes());
		assert_eq!(&payload[57..], &300u64.to_le_bytes());
	});
}

#[test]
fn genesis_endows_escrow() {
	ExtBuilder::build_and_execute(|| {
		assert_eq!(free(&escrow()), 10);
	});
}

#[test]
fn open_session_escrows_price_times_max_seconds() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(7, vec![]);
		let sid = open(&charlie(), stream, 100);
		assert_eq!(free(&charlie()), INITIAL - 700);
		assert_eq!(free(&escrow()), 10 + 700);
		let s = Sessions::<Test>::get(sid).unwrap();
		assert_eq!(s.viewer, charlie());
		assert_eq!(s.price_per_second, 7);
		assert_eq!((s.max_seconds, s.settled_seconds, s.escrow_remaining), (100, 0, 700));
		assert_eq!(s.opened_at, 1_000_000);
		assert_eq!(s.last_activity, 1);
		assert_eq!(Streams::stream(stream).unwrap().current_viewers, 1);
		System::assert_last_event(
			Event::SessionOpened {
				session_id: sid,
				viewer: charlie(),
				stream_id: stream,
				price_per_second: 7,
				max_seconds: 100,
				deposit: 700,
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
		assert_noop!(Ticks::open_session(c.clone(), stream, 0), Error::<Test>::ZeroSeconds);
		assert_noop!(Ticks::open_session(c.clone(), stream, 86_401), Error::<Test>::TooManySeconds);
		assert_noop!(Ticks::open_session(c.clone(), 99, 10), Error::<Test>::StreamNotFound);
		// Viewer cannot afford it: 86_400 s x 100 is more than the balance.
		let pricey = live_stream(100, vec![]);
		assert!(Ticks::open_session(c.clone(), pricey, 86_400).is_err());
		// Nor everything it has: the viewer must stay alive (10_000 s x 100 = INITIAL).
		assert!(Ticks::open_session(c.clone(), pricey, 10_000).is_err());
		// Banned viewer.
		assert_ok!(Streams::ban_viewer(RuntimeOrigin::signed(alice()), charlie()));
		assert_noop!(Ticks::open_session(c.clone(), stream, 10), Error::<Test>::Banned);
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
		));
		assert_noop!(Ticks::open_session(c.clone(), scheduled, 10), Error::<Test>::StreamNotLive);
		// Ended stream.
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		assert_noop!(Ticks::open_session(c, stream, 10), Error::<Test>::StreamNotLive);
		assert_eq!(free(&charlie()), INITIAL);
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
		let s = Sessions::<Test>::get(sid).unwrap();
		assert_eq!((s.max_seconds, s.escrow_remaining, s.last_activity), (150, 1_050, 3));
		assert_eq!(free(&charlie()), INITIAL - 1_050);
		// New sessions use the new price.
		let sid2 = open(&dave(), stream, 2);
		assert_eq!(Sessions::<Test>::get(sid2).unwrap().price_per_second, 1_000);
	});
}

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
		let s = Sessions::<Test>::get(sid).unwrap();
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
		assert_eq!(Sessions::<Test>::get(sid).unwrap().escrow_remaining, 0);
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
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(dave()), closed, None));
		advance_secs(60);
		let platform = Payouts::platform_account();
		let (alice0, bob0, platform0, escrow0) =
			(free(&alice()), free(&bob()), free(&platform), free(&escrow()));
		System::reset_events();

		let vouchers = vec![
			voucher(&c, s1, 50), // ok: 150
			Voucher { session_id: s2, cumulative_seconds: 30, signature: sign(&c, s2, 30) }, // forged
			Voucher { session_id: s2, cumulative_seconds: 33, signature: sign_wrapped(&d, s2, 33) }, // ok: 99
			voucher(&c, 99, 5),     // unknown
			voucher(&c, s1, 50),    // replay in the same batch
			voucher(&c, s3, 21),    // above max
			voucher(&d, s2, 70),    // ahead of time (60 + 5)
			voucher(&d, closed, 1), // closed session
			Voucher { session_id: s1, cumulative_seconds: 51, signature: sign(&c, s1, 52) }, // wrong amount signed
			voucher(&c, s3, 20),                                                             // ok: 60
		];
		assert_ok!(Ticks::settle_batch(RuntimeOrigin::signed(relayer()), batch(vouchers)));

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
		assert_eq!(Sessions::<Test>::get(s1).unwrap().settled_seconds, 50);
		assert_eq!(Sessions::<Test>::get(s2).unwrap().settled_seconds, 33);
		assert_eq!(Sessions::<Test>::get(s3).unwrap().settled_seconds, 20);
		let st = Streams::stream(stream).unwrap();
		assert_eq!((st.total_viewer_seconds, st.total_earned), (103, 309));
	});
}

#[test]
fn replayed_batch_never_charges_twice() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(5, vec![]);
		let sid = open(&charlie(), stream, 100);
		advance_secs(10);
		let v = batch(vec![voucher(&pair(3), sid, 10)]);
		assert_ok!(Ticks::settle_batch(RuntimeOrigin::signed(relayer()), v.clone()));
		let escrow0 = free(&escrow());
		let alice0 = free(&alice());
		System::reset_events();
		assert_ok!(Ticks::settle_batch(RuntimeOrigin::signed(relayer()), v));
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
		let info = Ticks::settle_batch(RuntimeOrigin::signed(relayer()), v).unwrap();
		assert_eq!(info.actual_weight, Some(Ticks::settle_batch_weight(1, 1, 1)));
		assert!(Ticks::settle_batch_weight(1, 1, 1).all_lte(Ticks::settle_batch_max_weight(2)));
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
		let s_ec = open(&ec_account, stream, 10);
		let genesis = Ticks::genesis_hash();
		advance_secs(5);
		let v = vec![
			Voucher {
				session_id: s_ed,
				cumulative_seconds: 5,
				signature: ed.sign(&Ticks::voucher_payload(&genesis, s_ed, 5)).into(),
			},
			Voucher {
				session_id: s_ec,
				cumulative_seconds: 4,
				signature: ec.sign(&Ticks::voucher_payload(&genesis, s_ec, 4)).into(),
			},
		];
		assert_ok!(Ticks::settle_batch(RuntimeOrigin::signed(relayer()), batch(v)));
		assert_eq!(Sessions::<Test>::get(s_ed).unwrap().settled_seconds, 5);
		assert_eq!(Sessions::<Test>::get(s_ec).unwrap().settled_seconds, 4);
	});
}

#[test]
fn close_session_settles_final_voucher_and_refunds() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		let sid = open(&charlie(), stream, 100);
		advance_secs(30);
		let alice0 = free(&alice());
		assert_noop!(
			Ticks::close_session(RuntimeOrigin::signed(dave()), sid, None),
			Error::<Test>::NotParticipant
		);
		assert_ok!(Ticks::close_session(
			RuntimeOrigin::signed(charlie()),
			sid,
			Some((30, sign(&pair(3), sid, 30)))
		));
		// 30 × 4 = 120 paid (fee 3), 280 refunded.
		assert_eq!(free(&alice()) - alice0, 117);
		assert_eq!(free(&charlie()), INITIAL - 120);
		assert_eq!(free(&escrow()), 10);
		assert!(Sessions::<Test>::get(sid).is_none());
		assert_eq!(Streams::stream(stream).unwrap().current_viewers, 0);
		System::assert_last_event(
			Event::SessionClosed {
				session_id: sid,
				settled_seconds: 30,
				refunded: 280,
				reason: CloseReason::Closed,
			}
			.into(),
		);
		// Vouchers for it are now refused as closed.
		assert_ok!(Ticks::settle_batch(
			RuntimeOrigin::signed(relayer()),
			batch(vec![voucher(&pair(3), sid, 31)])
		));
		assert_eq!(rejected_events().last(), Some(&(sid, RejectReason::SessionClosed)));
		assert_noop!(
			Ticks::close_session(RuntimeOrigin::signed(charlie()), sid, None),
			Error::<Test>::SessionNotFound
		);
	});
}

#[test]
fn creator_can_close_and_bad_final_voucher_is_ignored() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		let sid = open(&charlie(), stream, 100);
		advance_secs(30);
		// Signed by the wrong key: rejected, the session still closes with a full refund.
		assert_ok!(Ticks::close_session(
			RuntimeOrigin::signed(alice()),
			sid,
			Some((30, sign(&pair(4), sid, 30)))
		));
		assert_eq!(rejected_events(), vec![(sid, RejectReason::BadSignature)]);
		assert_eq!(free(&charlie()), INITIAL);
		assert!(Sessions::<Test>::get(sid).is_none());
	});
}

#[test]
fn stream_with_open_sessions_cannot_be_removed() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(4, vec![]);
		let sid = open(&charlie(), stream, 10);
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		assert_noop!(
			Streams::remove_stream(RuntimeOrigin::signed(alice()), stream),
			pallet_streams::Error::<Test>::ViewersPresent
		);
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(charlie()), sid, None));
		assert_ok!(Streams::remove_stream(RuntimeOrigin::signed(alice()), stream));
	});
}

fn authorize(
	ids: Vec<SessionId>,
) -> Option<
	Result<
		(sp_runtime::transaction_validity::ValidTransaction, frame_support::weights::Weight),
		TransactionValidityError,
	>,
> {
	let call = crate::Call::<Test>::close_expired { session_ids: ids.try_into().unwrap() };
	call.authorize(TransactionSource::External)
}

#[test]
fn close_expired_is_authorized_only_for_expired_sessions() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let s1 = open(&charlie(), stream, 100);
		let s2 = open(&dave(), stream, 100);
		// Fresh sessions: refused.
		assert_eq!(
			authorize(vec![s1]),
			Some(Err(TransactionValidityError::Invalid(InvalidTransaction::Call)))
		);
		System::set_block_number(5);
		advance_secs(20);
		assert_ok!(Ticks::tick(RuntimeOrigin::signed(dave()), s2, 10)); // s2 active at block 5
		System::set_block_number(11); // s1 idle for 10 blocks
		let (valid, _) = authorize(vec![s1]).unwrap().unwrap();
		assert_eq!(valid.provides.len(), 1);
		// One live session in the list spoils it.
		assert_eq!(
			authorize(vec![s1, s2]),
			Some(Err(TransactionValidityError::Invalid(InvalidTransaction::Call)))
		);
		// Unknown / closed ids only: stale.
		assert_eq!(
			authorize(vec![42]),
			Some(Err(TransactionValidityError::Invalid(InvalidTransaction::Stale)))
		);

		// Only an authorized origin can dispatch it.
		let ids: BoundedVec<_, _> = vec![s1, 42].try_into().unwrap();
		assert_noop!(
			Ticks::close_expired(RuntimeOrigin::signed(charlie()), ids.clone()),
			DispatchError::BadOrigin
		);
		let authorized: RuntimeOrigin = frame_system::RawOrigin::Authorized.into();
		assert_ok!(Ticks::close_expired(authorized.clone(), ids.clone()));
		assert!(Sessions::<Test>::get(s1).is_none());
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
		// Idempotent; a live session passed at dispatch is skipped, not closed.
		assert_ok!(Ticks::close_expired(authorized.clone(), ids));
		assert_ok!(Ticks::close_expired(authorized.clone(), vec![s2].try_into().unwrap()));
		assert!(Sessions::<Test>::get(s2).is_some());

		// Once the stream ends, its sessions are expired at once.
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		assert!(authorize(vec![s2]).unwrap().is_ok());
		assert_ok!(Ticks::close_expired(authorized, vec![s2].try_into().unwrap()));
		assert!(Sessions::<Test>::get(s2).is_none());
		assert_eq!(Streams::stream(stream).unwrap().current_viewers, 0);
	});
}

#[test]
fn offchain_worker_submits_one_authorized_close_expired() {
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

		// Nothing expired yet: nothing submitted.
		Ticks::offchain_worker(2);
		assert!(pool_state.read().transactions.is_empty());

		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		Ticks::offchain_worker(3);
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
		Ticks::offchain_worker(4);
		assert!(pool_state.read().transactions.is_empty());

		// The transaction is included.
		assert_ok!(Ticks::close_expired(
			frame_system::RawOrigin::Authorized.into(),
			session_ids.clone()
		));
		assert!(Sessions::<Test>::get(s3).is_some());
		assert_eq!(OpenSessionCount::<Test>::get(), 1);
		assert_ok!(Ticks::do_try_state());
	});
}

#[test]
fn try_state_detects_escrow_shortfall() {
	ExtBuilder::build().execute_with(|| {
		let stream = live_stream(2, vec![]);
		let sid = open(&charlie(), stream, 100);
		assert_ok!(Ticks::do_try_state());
		Sessions::<Test>::mutate(sid, |s| s.as_mut().unwrap().escrow_remaining = 10_000);
		assert!(Ticks::do_try_state().is_err());
		Sessions::<Test>::mutate(sid, |s| {
			let s = s.as_mut().unwrap();
			s.escrow_remaining = 200;
			s.settled_seconds = 101;
		});
		assert!(Ticks::do_try_state().is_err());
	});
}
