//! The set's rules, written once: what the calls change, and what the session rotation takes.

use crate::{Config, Error, Event, Pallet, PlannedValidators};
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::{BoundedVec, DispatchResult},
	traits::{Get, ValidatorRegistration},
};
use sp_staking::SessionIndex;

impl<T: Config> Pallet<T> {
	/// The set as it will be once everything decided so far has rotated in: the plan if one
	/// waits, else the set `pallet-session` has queued for the next session.
	pub fn upcoming_validators() -> Vec<T::AccountId> {
		PlannedValidators::<T>::get().map(|planned| planned.into_inner()).unwrap_or_else(|| {
			pallet_session::Pallet::<T>::queued_keys().into_iter().map(|(who, _)| who).collect()
		})
	}

	pub(crate) fn do_add_validator(who: T::AccountId) -> DispatchResult {
		let mut set = Self::upcoming_validators();
		ensure!(!set.contains(&who), Error::<T>::AlreadyValidator);
		ensure!(pallet_session::Pallet::<T>::is_registered(&who), Error::<T>::NoSessionKeys);
		set.push(who.clone());
		Self::plan(set)?;
		Self::deposit_event(Event::ValidatorAdded { who });
		Ok(())
	}

	pub(crate) fn do_remove_validator(who: T::AccountId) -> DispatchResult {
		let mut set = Self::upcoming_validators();
		let position = set.iter().position(|v| v == &who).ok_or(Error::<T>::NotValidator)?;
		set.remove(position);
		Self::plan(set)?;
		Self::deposit_event(Event::ValidatorRemoved { who });
		Ok(())
	}

	fn plan(set: Vec<T::AccountId>) -> DispatchResult {
		ensure!(set.len() as u32 >= Self::min_validators(), Error::<T>::TooFewValidators);
		let bounded: BoundedVec<_, T::MaxValidators> =
			set.try_into().map_err(|_| Error::<T>::TooManyValidators)?;
		PlannedValidators::<T>::put(bounded);
		Ok(())
	}

	fn min_validators() -> u32 {
		T::MinValidators::get().max(1)
	}

	/// The planned set for `session`, less validators that purged their keys since; `None`
	/// (no change) when nothing is planned or too few would remain.
	pub(crate) fn take_plan(session: SessionIndex) -> Option<Vec<T::AccountId>> {
		let planned = PlannedValidators::<T>::take()?;
		let validators: Vec<_> =
			planned.into_iter().filter(pallet_session::Pallet::<T>::is_registered).collect();
		if (validators.len() as u32) < Self::min_validators() {
			log::warn!(
				target: "runtime::validator-set",
				"plan for session {session} dropped: {} validators with keys", validators.len()
			);
			Self::deposit_event(Event::PlanDropped { session });
			return None;
		}
		Self::deposit_event(Event::SetPlanned { session, validators: validators.clone() });
		Some(validators)
	}

	/// The plan, if any, is within bounds and holds no duplicate.
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		if let Some(planned) = PlannedValidators::<T>::get() {
			ensure!(planned.len() as u32 >= Self::min_validators(), "plan below MinValidators");
			let mut sorted = planned.into_inner();
			sorted.sort();
			let before = sorted.len();
			sorted.dedup();
			ensure!(sorted.len() == before, "plan holds a validator twice");
		}
		ensure!(
			crate::SessionPeriod::<T>::get() >= T::MinSessionLength::get(),
			"session period below MinSessionLength"
		);
		Ok(())
	}
}

impl<T: Config> pallet_session::SessionManager<T::AccountId> for Pallet<T> {
	fn new_session(new_index: SessionIndex) -> Option<Vec<T::AccountId>> {
		Self::take_plan(new_index)
	}

	/// Genesis validators are `pallet-session`'s genesis keys.
	fn new_session_genesis(_new_index: SessionIndex) -> Option<Vec<T::AccountId>> {
		None
	}

	fn end_session(_end_index: SessionIndex) {}

	fn start_session(_start_index: SessionIndex) {}
}
