//! The validator set's rules, and the attacks on them, in the mock runtime.

use crate::{mock::*, Error, Event, PlannedValidators, SessionLength, SessionPeriod};
use frame_support::{assert_noop, assert_ok, traits::Get};
use sp_runtime::DispatchError;

/// Runs `test` on the mock's genesis, then the pallet's invariants.
fn run(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		ValidatorSet::do_try_state().expect("invariants hold");
	});
}

fn root() -> RuntimeOrigin {
	RuntimeOrigin::root()
}

fn register(who: AccountId) {
	let keys = keys_of(who);
	let proof = proof_of(who, &keys);
	assert_ok!(Session::set_keys(RuntimeOrigin::signed(who), keys, proof));
}

/// Runs blocks up to the start of session `index`.
fn run_to_session(index: u32) {
	while Session::current_index() < index {
		let next = System::block_number() + 1;
		System::run_to_block::<AllPalletsWithSystem>(next);
	}
}

fn authorities() -> Vec<AccountId> {
	Authorities::get().into_iter().map(|(who, _)| who).collect()
}

fn last_event() -> RuntimeEvent {
	System::events().pop().expect("an event").event
}

#[test]
fn genesis_validators_come_from_session_keys() {
	run(|| {
		assert_eq!(Session::validators(), vec![1, 2, 3]);
		assert_eq!(Authorities::get(), vec![(1, 101), (2, 102), (3, 103)]);
		assert_eq!(PlannedValidators::<Test>::get(), None);
		assert_eq!(SessionPeriod::<Test>::get(), DEFAULT_SESSION_LENGTH);
	});
}

#[test]
fn an_added_validator_validates_two_rotations_later() {
	run(|| {
		register(4);
		assert_ok!(ValidatorSet::add_validator(root(), 4));
		assert_eq!(last_event(), Event::<Test>::ValidatorAdded { who: 4 }.into());
		assert_eq!(PlannedValidators::<Test>::get().unwrap().into_inner(), vec![1, 2, 3, 4]);

		// Session 1 was queued at genesis: the plan is handed over as it begins, for session 2.
		run_to_session(1);
		assert_eq!(authorities(), vec![1, 2, 3]);
		assert_eq!(PlannedValidators::<Test>::get(), None);
		assert!(System::events().iter().any(|r| r.event
			== Event::<Test>::SetPlanned { session: 2, validators: vec![1, 2, 3, 4] }.into()));

		run_to_session(2);
		assert_eq!(Session::validators(), vec![1, 2, 3, 4]);
		assert_eq!(Authorities::get(), vec![(1, 101), (2, 102), (3, 103), (4, 104)]);
	});
}

#[test]
fn a_removed_validator_stops_two_rotations_later() {
	run(|| {
		assert_ok!(ValidatorSet::remove_validator(root(), 1));
		assert_eq!(last_event(), Event::<Test>::ValidatorRemoved { who: 1 }.into());
		run_to_session(1);
		assert_eq!(authorities(), vec![1, 2, 3]);
		run_to_session(2);
		assert_eq!(authorities(), vec![2, 3]);
		assert_eq!(Session::validators(), vec![2, 3]);
	});
}

#[test]
fn changes_build_on_the_queued_set_not_the_active_one() {
	run(|| {
		register(4);
		register(5);
		assert_ok!(ValidatorSet::add_validator(root(), 4));
		// The plan is queued for session 2 while session 1 runs: a second change must keep 4.
		run_to_session(1);
		assert_ok!(ValidatorSet::add_validator(root(), 5));
		assert_eq!(PlannedValidators::<Test>::get().unwrap().into_inner(), vec![1, 2, 3, 4, 5]);
		// 4 is queued already: adding it again is refused, removing it is a change.
		assert_noop!(ValidatorSet::add_validator(root(), 4), Error::<Test>::AlreadyValidator);
		run_to_session(3);
		assert_eq!(authorities(), vec![1, 2, 3, 4, 5]);
	});
}

#[test]
fn only_the_manager_changes_the_set() {
	run(|| {
		register(4);
		for who in [1, 4] {
			assert_noop!(
				ValidatorSet::add_validator(RuntimeOrigin::signed(who), 4),
				DispatchError::BadOrigin
			);
			assert_noop!(
				ValidatorSet::remove_validator(RuntimeOrigin::signed(who), 1),
				DispatchError::BadOrigin
			);
			assert_noop!(
				ValidatorSet::set_session_length(RuntimeOrigin::signed(who), 50),
				DispatchError::BadOrigin
			);
		}
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::none(), 4),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn a_validator_without_keys_is_refused() {
	run(|| {
		assert_noop!(ValidatorSet::add_validator(root(), 4), Error::<Test>::NoSessionKeys);
		// Keys registered and purged again: still refused.
		register(4);
		assert_ok!(Session::purge_keys(RuntimeOrigin::signed(4)));
		assert_noop!(ValidatorSet::add_validator(root(), 4), Error::<Test>::NoSessionKeys);
	});
}

#[test]
fn someone_elses_keys_cannot_be_registered() {
	run(|| {
		// 5 presents 4's keys with a proof made for 4: the session pallet refuses it, so 5
		// cannot be added with keys it does not hold.
		let keys = keys_of(4);
		let proof = proof_of(4, &keys);
		assert!(Session::set_keys(RuntimeOrigin::signed(5), keys, proof).is_err());
		assert_noop!(ValidatorSet::add_validator(root(), 5), Error::<Test>::NoSessionKeys);
	});
}

#[test]
fn duplicates_and_unknowns_are_refused() {
	run(|| {
		assert_noop!(ValidatorSet::add_validator(root(), 1), Error::<Test>::AlreadyValidator);
		assert_noop!(ValidatorSet::remove_validator(root(), 9), Error::<Test>::NotValidator);
		assert_ok!(ValidatorSet::remove_validator(root(), 3));
		assert_noop!(ValidatorSet::remove_validator(root(), 3), Error::<Test>::NotValidator);
	});
}

#[test]
fn the_set_never_falls_below_the_minimum() {
	run(|| {
		assert_ok!(ValidatorSet::remove_validator(root(), 3));
		assert_noop!(ValidatorSet::remove_validator(root(), 2), Error::<Test>::TooFewValidators);
		run_to_session(2);
		assert_eq!(authorities(), vec![1, 2]);
		assert_noop!(ValidatorSet::remove_validator(root(), 1), Error::<Test>::TooFewValidators);
	});
}

#[test]
fn the_set_never_exceeds_the_maximum() {
	run(|| {
		for who in 4..=6 {
			register(who);
		}
		assert_ok!(ValidatorSet::add_validator(root(), 4));
		assert_ok!(ValidatorSet::add_validator(root(), 5));
		assert_eq!(MAX_VALIDATORS, 5);
		assert_noop!(ValidatorSet::add_validator(root(), 6), Error::<Test>::TooManyValidators);
	});
}

#[test]
fn a_planned_validator_that_purges_its_keys_is_left_out() {
	run(|| {
		register(4);
		register(5);
		assert_ok!(ValidatorSet::add_validator(root(), 4));
		assert_ok!(ValidatorSet::add_validator(root(), 5));
		assert_ok!(Session::purge_keys(RuntimeOrigin::signed(5)));
		run_to_session(2);
		assert_eq!(authorities(), vec![1, 2, 3, 4]);
	});
}

#[test]
fn a_plan_left_with_too_few_keys_is_dropped_and_the_set_continues() {
	run(|| {
		register(4);
		assert_ok!(ValidatorSet::remove_validator(root(), 1));
		assert_ok!(ValidatorSet::add_validator(root(), 4));
		// Planned: 2, 3 and 4; with 3 and 4 gone only 2 would remain, below the minimum.
		assert_ok!(Session::purge_keys(RuntimeOrigin::signed(3)));
		assert_ok!(Session::purge_keys(RuntimeOrigin::signed(4)));
		run_to_session(1);
		assert!(System::events()
			.iter()
			.any(|r| r.event == Event::<Test>::PlanDropped { session: 2 }.into()));
		assert_eq!(PlannedValidators::<Test>::get(), None);
		run_to_session(2);
		// Session keys purged by 3 drop it from consensus (pallet-session's rule); 1 and 2
		// continue, the plan that would have left nobody never applied.
		assert_eq!(authorities(), vec![1, 2]);
	});
}

#[test]
fn the_session_length_is_the_managers_within_bounds() {
	run(|| {
		assert_noop!(
			ValidatorSet::set_session_length(root(), MIN_SESSION_LENGTH - 1),
			Error::<Test>::SessionTooShort
		);
		assert_noop!(ValidatorSet::set_session_length(root(), 0), Error::<Test>::SessionTooShort);
		assert_ok!(ValidatorSet::set_session_length(root(), 20));
		assert_eq!(last_event(), Event::<Test>::SessionLengthSet { blocks: 20 }.into());
		assert_eq!(SessionPeriod::<Test>::get(), 20);
		System::run_to_block::<AllPalletsWithSystem>(19);
		assert_eq!(Session::current_index(), 0);
		System::run_to_block::<AllPalletsWithSystem>(20);
		assert_eq!(Session::current_index(), 1);
		System::run_to_block::<AllPalletsWithSystem>(40);
		assert_eq!(Session::current_index(), 2);
	});
}

#[test]
fn a_stored_length_below_the_minimum_is_never_used() {
	run(|| {
		// Storage written around the call (a migration gone wrong, a raw set_storage).
		SessionLength::<Test>::put(0);
		assert_eq!(SessionPeriod::<Test>::get(), MIN_SESSION_LENGTH);
		SessionLength::<Test>::put(MIN_SESSION_LENGTH - 1);
		assert_eq!(SessionPeriod::<Test>::get(), MIN_SESSION_LENGTH);
		SessionLength::<Test>::put(MIN_SESSION_LENGTH);
	});
}

#[test]
fn sessions_rotate_at_the_default_length() {
	run(|| {
		System::run_to_block::<AllPalletsWithSystem>(DEFAULT_SESSION_LENGTH - 1);
		assert_eq!(Session::current_index(), 0);
		System::run_to_block::<AllPalletsWithSystem>(DEFAULT_SESSION_LENGTH);
		assert_eq!(Session::current_index(), 1);
	});
}
