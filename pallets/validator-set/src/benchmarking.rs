//! Benchmarks (v2) of the validator set's calls, each at its worst case: the largest set, read
//! from `pallet-session`'s queued keys (no plan waiting), and a plan written back.

use super::*;
use alloc::vec::Vec;
use codec::Decode;
use frame_benchmarking::v2::*;
use frame_support::traits::{EnsureOrigin, Get};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::TrailingZeroInput;

/// Any session keys: the calls only check that keys are registered, never what they are.
fn some_keys<T: Config>() -> T::Keys {
	T::Keys::decode(&mut TrailingZeroInput::zeroes()).expect("keys decode from zeroes")
}

/// Queues `n` validators for the next session, as `pallet-session` holds them.
fn queue<T: Config>(n: u32) -> Vec<T::AccountId> {
	let validators: Vec<T::AccountId> = (0..n).map(|i| account("validator", i, 0)).collect();
	pallet_session::QueuedKeys::<T>::put(
		validators.iter().map(|v| (v.clone(), some_keys::<T>())).collect::<Vec<_>>(),
	);
	validators
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn add_validator() -> Result<(), BenchmarkError> {
		queue::<T>(T::MaxValidators::get() - 1);
		let who: T::AccountId = account("joining", 0, 0);
		pallet_session::NextKeys::<T>::insert(&who, some_keys::<T>());
		let origin =
			T::ManagerOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone());

		assert!(PlannedValidators::<T>::get().is_some_and(|set| set.contains(&who)));
		Ok(())
	}

	#[benchmark]
	fn remove_validator() -> Result<(), BenchmarkError> {
		let validators = queue::<T>(T::MaxValidators::get());
		let who = validators.last().cloned().expect("at least one validator");
		let origin =
			T::ManagerOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone());

		assert!(PlannedValidators::<T>::get().is_some_and(|set| !set.contains(&who)));
		Ok(())
	}

	#[benchmark]
	fn set_session_length() -> Result<(), BenchmarkError> {
		let blocks: BlockNumberFor<T> = T::MinSessionLength::get();
		let origin =
			T::ManagerOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, blocks);

		assert_eq!(SessionLength::<T>::get(), Some(blocks));
		Ok(())
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
