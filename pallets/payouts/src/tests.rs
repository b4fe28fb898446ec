//! Unit tests of the payouts pallet.

use crate::{mock::*, *};
use frame_support::{
	assert_noop, assert_ok,
	traits::{fungible::Inspect, tokens::Preservation},
};
use pallet_streams::{SplitOf, StreamId};
use sp_runtime::{DispatchError, Permill};

fn stream_with_split(split: Vec<(AccountId, Permill)>) -> StreamId {
	let id = pallet_streams::NextStreamId::<Test>::get();
	assert_ok!(Streams::create_stream(
		RuntimeOrigin::signed(ALICE),
		b"Stream".to_vec().try_into().unwrap(),
		Default::default(),
		MUSIC,
		Default::default(),
		1,
		None,
		None,
	));
	let split: SplitOf<Test> = split.try_into().unwrap();
	assert_ok!(Streams::set_split(RuntimeOrigin::signed(ALICE), id, split));
	id
}

fn free(who: AccountId) -> Balance {
	Balances::balance(&who)
}

#[test]
fn platform_fee_rounds_down() {
	assert_eq!(platform_fee(10_000u64, 250), 250);
	assert_eq!(platform_fee(39u64, 250), 0); // 0.975
	assert_eq!(platform_fee(41u64, 250), 1); // 1.025
	assert_eq!(platform_fee(9_999u64, 10_000), 9_999);
	assert_eq!(platform_fee(9_999u64, 0), 0);
	assert_eq!(platform_fee(u64::MAX, 1), u64::MAX / 10_000);
	// Above 100 % is capped.
	assert_eq!(platform_fee(77u64, 20_000), 77);
}

#[test]
fn split_parts_always_sum_to_amount() {
	let shares: Vec<Vec<(u64, Permill)>> = vec![
		vec![],
		vec![(2, Permill::from_percent(100))],
		vec![(2, Permill::from_parts(333_333)), (3, Permill::from_parts(333_333))],
		vec![
			(2, Permill::from_parts(1)),
			(3, Permill::from_parts(499_999)),
			(4, Permill::from_parts(123_457)),
			(5, Permill::from_parts(376_543)),
		],
		vec![(2, Permill::from_parts(999_999))],
	];
	let amounts: Vec<u64> =
		vec![0, 1, 2, 3, 7, 99, 101, 997, 10_007, 1_000_003, 999_999_937, u64::MAX];
	let fees: [u16; 7] = [0, 1, 3, 250, 3_333, 9_999, 10_000];
	let mut checked = 0u32;
	for collaborators in &shares {
		for &amount in &amounts {
			for &bps in &fees {
				let s = split(amount, bps, collaborators).unwrap();
				let sum = s
					.collaborators
					.iter()
					.fold(s.fee as u128 + s.creator as u128, |acc, (_, p)| acc + *p as u128);
				assert_eq!(sum, amount as u128, "amount {amount} bps {bps} {collaborators:?}");
				assert_eq!(s.fee, platform_fee(amount, bps));
				let rest = amount - s.fee;
				for ((_, part), (_, share)) in s.collaborators.iter().zip(collaborators.iter()) {
					assert_eq!(*part, share.mul_floor(rest));
				}
				checked += 1;
			}
		}
	}
	assert_eq!(checked, 5 * 12 * 7);
	// A split above 100 % is refused, not silently truncated.
	assert!(split(100u64, 0, &[(2u64, Permill::from_percent(60)), (3, Permill::from_percent(60))])
		.is_err());
}

#[test]
fn genesis_sets_fee_and_endows_platform() {
	ExtBuilder::build_and_execute(|| {
		assert_eq!(PlatformFeeBps::<Test>::get(), FEE_BPS);
		assert_eq!(free(Payouts::platform_account()), 10);
	});
}

#[test]
fn tip_splits_exactly() {
	ExtBuilder::build_and_execute(|| {
		// BOB gets 1/3 of what is left after the fee.
		let id = stream_with_split(vec![(BOB, Permill::from_parts(333_333))]);
		let platform = Payouts::platform_account();
		let (alice0, bob0, charlie0, platform0) =
			(free(ALICE), free(BOB), free(CHARLIE), free(platform));
		let amount = 10_007;
		assert_ok!(Payouts::tip(
			RuntimeOrigin::signed(CHARLIE),
			id,
			amount,
			Some(b"gg".to_vec().try_into().unwrap())
		));
		// fee = 10_007 * 250 / 10_000 = 250.175 -> 250; rest = 9_757
		// bob = floor(9_757 * 0.333333) = 3_252; alice = 9_757 - 3_252 = 6_505
		assert_eq!(free(platform) - platform0, 250);
		assert_eq!(free(BOB) - bob0, 3_252);
		assert_eq!(free(ALICE) - alice0, 6_505);
		assert_eq!(charlie0 - free(CHARLIE), amount);
		assert_eq!(StreamEarnings::<Test>::get(id), amount);
		assert_eq!(LifetimeEarnings::<Test>::get(ALICE), 6_505);
		assert_eq!(LifetimeEarnings::<Test>::get(BOB), 3_252);
		assert_eq!(LifetimeEarnings::<Test>::get(platform), 250);
		System::assert_has_event(Event::Credited { who: BOB, amount: 3_252 }.into());
		System::assert_last_event(
			Event::Tipped {
				stream_id: id,
				from: CHARLIE,
				amount,
				message: Some(b"gg".to_vec().try_into().unwrap()),
			}
			.into(),
		);
	});
}

#[test]
fn tip_errors() {
	ExtBuilder::build_and_execute(|| {
		let id = stream_with_split(vec![]);
		assert_noop!(
			Payouts::tip(RuntimeOrigin::signed(CHARLIE), id, 0, None),
			Error::<Test>::ZeroAmount
		);
		assert_noop!(
			Payouts::tip(RuntimeOrigin::signed(CHARLIE), 42, 10, None),
			Error::<Test>::StreamNotFound
		);
		assert_noop!(
			Payouts::tip(
				RuntimeOrigin::signed(CHARLIE),
				id,
				10,
				Some(vec![0xff].try_into().unwrap())
			),
			Error::<Test>::InvalidMessage
		);
		// The tipper is kept alive: BOB cannot tip everything.
		assert!(Payouts::tip(RuntimeOrigin::signed(BOB), id, 10_000, None).is_err());
		assert_eq!(free(BOB), 10_000);
	});
}

#[test]
fn dust_to_new_account_is_redirected_to_platform() {
	ExtBuilder::build_and_execute(|| {
		// DAVE does not exist; his 1 % of a small tip is below the existential deposit (10).
		let id = stream_with_split(vec![(DAVE, Permill::from_percent(1))]);
		let platform = Payouts::platform_account();
		let platform0 = free(platform);
		let alice0 = free(ALICE);
		assert_ok!(Payouts::tip(RuntimeOrigin::signed(CHARLIE), id, 1_000, None));
		// fee 25, rest 975, dave floor(9.75) = 9 -> redirected, alice 966.
		assert_eq!(free(DAVE), 0);
		assert_eq!(free(platform) - platform0, 25 + 9);
		assert_eq!(free(ALICE) - alice0, 966);
		System::assert_has_event(
			Event::CreditRedirected { intended: DAVE, to: platform, amount: 9 }.into(),
		);
		// Once the credit reaches the existential deposit it is paid.
		assert_ok!(Payouts::tip(RuntimeOrigin::signed(CHARLIE), id, 2_000, None));
		assert_eq!(free(DAVE), 19);
		assert_eq!(LifetimeEarnings::<Test>::get(DAVE), 19);
	});
}

#[test]
fn credits_aggregate_per_recipient_and_commit_once() {
	ExtBuilder::build_and_execute(|| {
		let s1 = stream_with_split(vec![(BOB, Permill::from_percent(50))]);
		let s2 = stream_with_split(vec![]);
		let platform = Payouts::platform_account();
		let escrow: AccountId = 777;
		assert_ok!(<Balances as frame_support::traits::fungible::Mutate<_>>::mint_into(
			&escrow, 100_000
		));
		let mut credits = Credits::<Test>::new();
		for _ in 0..10 {
			credits.add(s1, &ALICE, &[(BOB, Permill::from_percent(50))], 101).unwrap();
			credits.add(s2, &ALICE, &[], 7).unwrap();
		}
		assert_eq!(credits.total(), 1_080);
		assert_eq!(credits.recipient_count(), 3);
		assert_eq!(credits.stream_count(), 2);
		// Per add on s1: fee floor(2.525) = 2, rest 99, bob 49, alice 50. On s2: fee 0, alice 7.
		assert_eq!(credits.credit_of(&BOB), 490);
		assert_eq!(credits.credit_of(&ALICE), 570);
		assert_eq!(credits.credit_of(&platform), 20);
		let (alice0, bob0, platform0) = (free(ALICE), free(BOB), free(platform));
		System::reset_events();
		assert_ok!(Payouts::commit(&escrow, credits, Preservation::Preserve));
		assert_eq!(free(ALICE) - alice0, 570);
		assert_eq!(free(BOB) - bob0, 490);
		assert_eq!(free(platform) - platform0, 20);
		assert_eq!(free(escrow), 100_000 - 1_080);
		assert_eq!(StreamEarnings::<Test>::get(s1), 1_010);
		assert_eq!(StreamEarnings::<Test>::get(s2), 70);
		// Exactly one `Credited` event per recipient.
		let credited = System::events()
			.into_iter()
			.filter(|r| matches!(r.event, RuntimeEvent::Payouts(Event::Credited { .. })))
			.count();
		assert_eq!(credited, 3);
	});
}

#[test]
fn commit_fails_atomically_when_payer_cannot_pay() {
	ExtBuilder::build_and_execute(|| {
		let s = stream_with_split(vec![]);
		let mut credits = Credits::<Test>::new();
		credits.add(s, &ALICE, &[], 50_000).unwrap();
		assert!(frame_support::storage::with_storage_layer(|| Payouts::commit(
			&BOB,
			credits,
			Preservation::Preserve
		))
		.is_err());
		assert_eq!(free(BOB), 10_000);
		assert_eq!(StreamEarnings::<Test>::get(s), 0);
	});
}

#[test]
fn set_platform_fee_is_guarded() {
	ExtBuilder::build_and_execute(|| {
		assert_noop!(
			Payouts::set_platform_fee(RuntimeOrigin::signed(ALICE), 100),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Payouts::set_platform_fee(RuntimeOrigin::root(), 10_001),
			Error::<Test>::FeeTooHigh
		);
		assert_ok!(Payouts::set_platform_fee(RuntimeOrigin::root(), 10_000));
		assert_eq!(PlatformFeeBps::<Test>::get(), 10_000);
		System::assert_last_event(Event::PlatformFeeSet { bps: 10_000 }.into());
	});
}

#[test]
fn try_state_detects_bad_fee() {
	ExtBuilder::build().execute_with(|| {
		PlatformFeeBps::<Test>::put(10_001);
		assert!(Payouts::do_try_state().is_err());
	});
}
