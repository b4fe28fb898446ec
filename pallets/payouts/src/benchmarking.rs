//! Benchmarks of the payouts pallet (benchmarks v2).

use super::*;
use alloc::vec;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{
		fungible::{Inspect, Mutate},
		EnsureOrigin, Get,
	},
	BoundedVec,
};
use frame_system::RawOrigin;
use pallet_streams::{Categories, StreamId};
use sp_runtime::{traits::Saturating, Permill};

const CATEGORY: pallet_streams::CategoryId = 7_777;

/// An amount that keeps every account well above the existential deposit, whatever the
/// runtime's deposit and existential deposit are.
fn big<T: Config>() -> BalanceOf<T> {
	<T as Config>::Currency::minimum_balance()
		.saturating_mul(1_000u32.into())
		.max(1_000_000_000u32.into())
}

/// A stream with the maximum number of collaborators, all existing accounts.
fn stream_with_full_split<T: Config>() -> Result<StreamId, BenchmarkError> {
	let creator: T::AccountId = account("creator", 0, 0);
	let big = big::<T>();
	let deposit = <T as pallet_streams::Config>::StreamDeposit::get();
	<T as Config>::Currency::set_balance(
		&creator,
		big.saturating_add(deposit.saturating_mul(10u32.into())),
	);
	Categories::<T>::insert(CATEGORY, BoundedVec::truncate_from(vec![b'c'; 1]));
	let id = pallet_streams::NextStreamId::<T>::get();
	pallet_streams::Pallet::<T>::create_stream(
		RawOrigin::Signed(creator.clone()).into(),
		BoundedVec::truncate_from(vec![b't'; 1]),
		Default::default(),
		CATEGORY,
		Default::default(),
		1u32.into(),
		None,
		None,
	)?;
	let n = <T as pallet_streams::Config>::MaxCollaborators::get();
	let split = (0..n)
		.map(|i| {
			let who: T::AccountId = account("collab", i, 0);
			<T as Config>::Currency::set_balance(&who, big);
			(who, Permill::from_rational(1u32, n.saturating_add(1)))
		})
		.collect::<alloc::vec::Vec<_>>();
	pallet_streams::Pallet::<T>::set_split(
		RawOrigin::Signed(creator).into(),
		id,
		BoundedVec::truncate_from(split),
	)?;
	Ok(id)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn tip() -> Result<(), BenchmarkError> {
		let id = stream_with_full_split::<T>()?;
		let tipper: T::AccountId = whitelisted_caller();
		let big = big::<T>();
		<T as Config>::Currency::set_balance(&tipper, big.saturating_mul(2u32.into()));
		let message = BoundedVec::truncate_from(vec![b'm'; T::MaxTipMessageLen::get() as usize]);
		#[extrinsic_call]
		_(RawOrigin::Signed(tipper), id, big, Some(message));
		assert_eq!(StreamEarnings::<T>::get(id), big);
		Ok(())
	}

	#[benchmark]
	fn set_platform_fee() -> Result<(), BenchmarkError> {
		let origin =
			T::FeeOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, 123);
		assert_eq!(PlatformFeeBps::<T>::get(), 123);
		Ok(())
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_bench_ext(), crate::mock::Test);
}
