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
		encoding: VoucherEncoding::Raw,
		signature: sign(p, session_id, cumulative),
	}
}

fn wrapped_voucher(
	p: &sr25519::Pair,
	session_id: SessionId,
	cumulative: u64,
) -> Voucher<MultiSignature> {
	Voucher {
		session_id,
		cumulative_seconds: cumulative,
		encoding: VoucherEncoding::Wrapped,
		signature: sign_wrapped(p, session_id, cumulative),
	}
}

fn final_voucher(
	p: &sr25519::Pair,
	session_id: SessionId,
	cumulative: u64,
) -> Option<FinalVoucher<MultiSignature>> {
	Some(FinalVoucher {
		cumulative_seconds: cumulative,
		encoding: VoucherEncoding::Raw,
		signature: sign(p, session_id, cumulative),
	})
}

fn batch(v: Vec<Voucher<MultiSignature>>) -> BoundedVec<Voucher<MultiSignature>, ConstU32Max> {
	v.try_into().unwrap()
}

type ConstU32Max = <Test as Config>::MaxVouchersPerBatch;

/// `settle_batch` by the relayer, with the exact `pages` witness and the distinct streams of
/// the vouchers' open sessions.
fn settle(
	v: BoundedVec<Voucher<MultiSignature>, ConstU32Max>,
) -> frame_support::dispatch::DispatchResultWithPostInfo {
	Ticks::settle_batch(RuntimeOrigin::signed(relayer()), v.clone(), witness(&v))
}

fn witness(v: &[Voucher<MultiSignature>]) -> BatchWitness {
	let streams: std::collections::BTreeSet<_> =
		v.iter().filter_map(|v| Ticks::session(v.session_id)).map(|s| s.stream_id).collect();
	BatchWitness { streams: streams.len() as u32, pages: pages_of(v.iter().map(|v| v.session_id)) }
}

fn pages_only(pages: u32) -> BatchWitness {
	BatchWitness { streams: 1, pages }
}

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
		let s = Ticks::session(sid).unwrap();
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
		let s = Ticks::session(sid).unwrap();
		assert_eq!((s.max_seconds, s.escrow_remaining, s.last_activity), (150, 1_050, 3));
		assert_eq!(free(&charlie()), INITIAL - 1_050);
		// New sessions use the new price.
		let sid2 = open(&dave(), stream, 2);
		assert_eq!(Ticks::session(sid2).unwrap().price_per_second, 1_000);
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
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(dave()), closed, None));
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
			voucher(&c, s3, 20),                                       // ok: 60
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
		let s_ec = open(&ec_account, stream, 10);
		let genesis = Ticks::genesis_hash();
		advance_secs(5);
		let v = vec![
			Voucher {
				session_id: s_ed,
				cumulative_seconds: 5,
				encoding: VoucherEncoding::Raw,
				signature: ed.sign(&Ticks::voucher_payload(&genesis, s_ed, 5)).into(),
			},
			Voucher {
				session_id: s_ec,
				cumulative_seconds: 4,
				encoding: VoucherEncoding::Raw,
				signature: ec.sign(&Ticks::voucher_payload(&genesis, s_ec, 4)).into(),
			},
		];
		assert_ok!(settle(batch(v)));
		assert_eq!(Ticks::session(s_ed).unwrap().settled_seconds, 5);
		assert_eq!(Ticks::session(s_ec).unwrap().settled_seconds, 4);
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
			final_voucher(&pair(3), sid, 30)
		));
		// 30 × 4 = 120 paid (fee 3), 280 refunded.
		assert_eq!(free(&alice()) - alice0, 117);
		assert_eq!(free(&charlie()), INITIAL - 120);
		assert_eq!(free(&escrow()), 10);
		assert!(Ticks::session(sid).is_none());
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
		assert_ok!(settle(batch(vec![voucher(&pair(3), sid, 31)])));
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
			final_voucher(&pair(4), sid, 30)
		));
		assert_eq!(rejected_events(), vec![(sid, RejectReason::BadSignature)]);
		assert_eq!(free(&charlie()), INITIAL);
		assert!(Ticks::session(sid).is_none());
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
		// Idempotent; a live session passed at dispatch is skipped, not closed.
		assert_ok!(Ticks::close_expired(authorized.clone(), ids));
		assert_ok!(Ticks::close_expired(authorized.clone(), vec![s2].try_into().unwrap()));
		assert!(Ticks::session(s2).is_some());

		// Once the stream ends, its sessions are expired at once.
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		assert!(authorize(vec![s2]).unwrap().is_ok());
		assert_ok!(Ticks::close_expired(authorized, vec![s2].try_into().unwrap()));
		assert!(Ticks::session(s2).is_none());
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
		assert!(Ticks::session(s3).is_some());
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
		let mut b = crate::pallet::Batch::<Test>::new();
		for (i, id) in ids.iter().enumerate() {
			let seconds = 10 + i as u64;
			let signature = sign(&c, *id, seconds);
			assert!(Ticks::settle_one(
				&mut b,
				*id,
				seconds,
				crate::pallet::Auth::Signature(&signature, VoucherEncoding::Raw)
			)
			.is_ok());
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

		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(charlie()), s0, None));
		let page = SessionPages::<Test>::get(0).expect("s1 is still open on page 0");
		assert_eq!(page.open_sessions(0).map(|(id, _)| id).collect::<Vec<_>>(), vec![s1]);
		assert!(Ticks::session(s0).is_none());

		// The final voucher settles into the page, then the close empties it: removed.
		advance_secs(10);
		assert_ok!(Ticks::close_session(
			RuntimeOrigin::signed(dave()),
			s1,
			final_voucher(&pair(4), s1, 10)
		));
		assert!(SessionPages::<Test>::get(0).is_none());

		// `close_expired` cleans up too.
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		assert_ok!(Ticks::close_expired(
			frame_system::RawOrigin::Authorized.into(),
			vec![s69].try_into().unwrap()
		));
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

		// An open session without its slot.
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

		// A page without any open session.
		let mut stray = SessionPage::<Test>::default();
		*stray.slot_mut(SESSIONS_PER_PAGE).unwrap() = Ticks::session(s0).map(|s| s.split().1);
		SessionPages::<Test>::insert(1, stray);
		assert!(Ticks::do_try_state().is_err());
	});
}

#[test]
fn migration_v0_to_v1_splits_sessions_into_info_and_pages() {
	use crate::migrations::v1::{v0, MigrateV0ToV1};
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(3, vec![]);
		let mut expected = Vec::new();
		for i in 0..3u64 {
			// Sessions 0, 1, 2 on page 0 and 64, 65, 66 on page 1 (ids below 64 skipped).
			if i == 1 {
				NextSessionId::<Test>::put(SESSIONS_PER_PAGE);
			}
			let a = open(&charlie(), stream, 100 + i);
			let b = open(&dave(), stream, 50);
			expected.push(a);
			expected.push(b);
		}
		advance_secs(30);
		assert_ok!(Ticks::tick(RuntimeOrigin::signed(charlie()), expected[2], 30));
		let sessions: Vec<(SessionId, Session<Test>)> =
			expected.iter().map(|id| (*id, Ticks::session(*id).unwrap())).collect();

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

		MigrateV0ToV1::<Test>::on_runtime_upgrade();
		assert_eq!(Ticks::on_chain_storage_version(), StorageVersion::new(1));
		assert_eq!(Ticks::on_chain_storage_version(), Ticks::in_code_storage_version());
		for (id, s) in sessions.iter() {
			assert_eq!(Ticks::session(*id).as_ref(), Some(s));
		}
		let mut pages: Vec<_> = SessionPages::<Test>::iter_keys().collect();
		pages.sort();
		assert_eq!(pages, vec![0, 1]);
		assert_ok!(Ticks::do_try_state());

		// A second run is a no-op (the version is 1 already).
		let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
		MigrateV0ToV1::<Test>::on_runtime_upgrade();
		assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), root);
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
		// Five sessions on page 0 and five on page 1: ten expired, eight per call at most.
		let mut all: Vec<SessionId> = (0..5).map(|_| open(&charlie(), stream, 10)).collect();
		NextSessionId::<Test>::put(SESSIONS_PER_PAGE);
		all.extend((0..5).map(|_| open(&dave(), stream, 10)));
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(alice()), stream));
		let first = Ticks::collect_expired(2);
		assert_eq!(first.len(), 8);
		// The page cut short is scanned again: together the two runs see every session.
		let second = Ticks::collect_expired(2);
		let mut seen: Vec<SessionId> = first.into_iter().chain(second).collect();
		seen.sort();
		seen.dedup();
		assert_eq!(seen, all);
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
