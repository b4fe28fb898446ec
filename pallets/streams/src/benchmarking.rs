//! Benchmarks of the streams pallet (benchmarks v2).

use super::*;
use crate::Pallet as Streams;
use alloc::vec;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Mutate, EnsureOrigin, Get},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::{traits::Saturating, Permill};

const CATEGORY: CategoryId = 7_777;
const OTHER_CATEGORY: CategoryId = 7_778;

fn text<S: Get<u32>>() -> BoundedVec<u8, S> {
	BoundedVec::truncate_from(vec![b'a'; S::get() as usize])
}

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, 0);
	let amount =
		T::StreamDeposit::get().saturating_mul(1_000u32.into()).saturating_add(1_000_000u32.into());
	T::Currency::set_balance(&who, amount);
	who
}

fn ensure_categories<T: Config>() {
	Categories::<T>::insert(CATEGORY, text::<T::MaxCategoryNameLen>());
	Categories::<T>::insert(OTHER_CATEGORY, text::<T::MaxCategoryNameLen>());
}

fn max_tags<T: Config>() -> TagsOf<T> {
	BoundedVec::truncate_from(vec![text::<T::MaxTagLen>(); T::MaxTags::get() as usize])
}

fn create<T: Config>(creator: &T::AccountId) -> Result<StreamId, BenchmarkError> {
	ensure_categories::<T>();
	let id = NextStreamId::<T>::get();
	Streams::<T>::create_stream(
		RawOrigin::Signed(creator.clone()).into(),
		text::<T::MaxTitleLen>(),
		text::<T::MaxMetadataLen>(),
		CATEGORY,
		max_tags::<T>(),
		10u32.into(),
		Some(text::<T::MaxEndpointLen>()),
		Some(creator.clone()),
	)?;
	Ok(id)
}

fn max_split<T: Config>(n: u32) -> SplitOf<T> {
	let share = Permill::from_rational(1u32, n.max(1));
	BoundedVec::truncate_from((0..n).map(|i| (account("collab", i, 0), share)).collect())
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn create_stream() {
		ensure_categories::<T>();
		let caller = funded::<T>("creator", 0);
		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller.clone()),
			text::<T::MaxTitleLen>(),
			text::<T::MaxMetadataLen>(),
			CATEGORY,
			max_tags::<T>(),
			10u32.into(),
			Some(text::<T::MaxEndpointLen>()),
			Some(caller.clone()),
		);
		assert!(StreamsByCreator::<T>::contains_key(&caller, 0));
	}

	#[benchmark]
	fn update_stream() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("creator", 0);
		let id = create::<T>(&caller)?;
		let update = StreamUpdate::<T> {
			title: Some(text::<T::MaxTitleLen>()),
			metadata: Some(text::<T::MaxMetadataLen>()),
			category: Some(OTHER_CATEGORY),
			tags: Some(max_tags::<T>()),
			price_per_second: Some(20u32.into()),
			endpoint: Some(Some(text::<T::MaxEndpointLen>())),
			relayer: Some(Some(caller.clone())),
		};
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), id, update);
		assert!(StreamsByCategory::<T>::contains_key(OTHER_CATEGORY, id));
		Ok(())
	}

	#[benchmark]
	fn go_live() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("creator", 0);
		let id = create::<T>(&caller)?;
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), id);
		assert!(LiveStreams::<T>::contains_key(id));
		Ok(())
	}

	#[benchmark]
	fn end_stream() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("creator", 0);
		let id = create::<T>(&caller)?;
		Streams::<T>::go_live(RawOrigin::Signed(caller.clone()).into(), id)?;
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), id);
		assert!(!LiveStreams::<T>::contains_key(id));
		Ok(())
	}

	#[benchmark]
	fn set_split(c: Linear<0, { T::MaxCollaborators::get() }>) -> Result<(), BenchmarkError> {
		let caller = funded::<T>("creator", 0);
		let id = create::<T>(&caller)?;
		let split = max_split::<T>(c);
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), id, split);
		assert_eq!(Streams::<T>::stream(id).map(|s| s.collaborators.len() as u32), Some(c));
		Ok(())
	}

	#[benchmark]
	fn ban_viewer() {
		let caller = funded::<T>("creator", 0);
		let viewer: T::AccountId = account("viewer", 0, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), viewer.clone());
		assert!(Streams::<T>::is_banned_by(&caller, &viewer));
	}

	#[benchmark]
	fn unban_viewer() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("creator", 0);
		let viewer: T::AccountId = account("viewer", 0, 0);
		Streams::<T>::ban_viewer(RawOrigin::Signed(caller.clone()).into(), viewer.clone())?;
		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), viewer.clone());
		assert!(!Streams::<T>::is_banned_by(&caller, &viewer));
		Ok(())
	}

	#[benchmark]
	fn follow() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("follower", 0);
		for i in 0..T::MaxFollows::get().saturating_sub(1) {
			Streams::<T>::follow(RawOrigin::Signed(caller.clone()).into(), account("c", i, 0))?;
		}
		let creator: T::AccountId = account("creator", 0, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), creator.clone());
		assert!(Followers::<T>::contains_key(&creator, &caller));
		Ok(())
	}

	#[benchmark]
	fn unfollow() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("follower", 0);
		let creator: T::AccountId = account("creator", 0, 0);
		Streams::<T>::follow(RawOrigin::Signed(caller.clone()).into(), creator.clone())?;
		for i in 0..T::MaxFollows::get().saturating_sub(1) {
			Streams::<T>::follow(RawOrigin::Signed(caller.clone()).into(), account("c", i, 0))?;
		}
		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), creator.clone());
		assert!(!Followers::<T>::contains_key(&creator, &caller));
		Ok(())
	}

	#[benchmark]
	fn add_category() -> Result<(), BenchmarkError> {
		let origin =
			T::CategoryOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, 4_242, text::<T::MaxCategoryNameLen>());
		assert!(Categories::<T>::contains_key(4_242));
		Ok(())
	}

	#[benchmark]
	fn remove_category() -> Result<(), BenchmarkError> {
		let origin =
			T::CategoryOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		Categories::<T>::insert(4_242, text::<T::MaxCategoryNameLen>());
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, 4_242);
		assert!(!Categories::<T>::contains_key(4_242));
		Ok(())
	}

	#[benchmark]
	fn remove_stream() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("creator", 0);
		let id = create::<T>(&caller)?;
		Streams::<T>::go_live(RawOrigin::Signed(caller.clone()).into(), id)?;
		Streams::<T>::end_stream(RawOrigin::Signed(caller.clone()).into(), id)?;
		Streams::<T>::set_replay_offer(
			RawOrigin::Signed(caller.clone()).into(),
			id,
			Some(10u32.into()),
		)?;
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), id);
		assert!(Streams::<T>::stream(id).is_none());
		assert!(!ReplayOffers::<T>::contains_key(id));
		Ok(())
	}

	#[benchmark]
	fn set_replay_offer() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("creator", 0);
		let id = create::<T>(&caller)?;
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), id, Some(10u32.into()));
		assert!(ReplayOffers::<T>::contains_key(id));
		Ok(())
	}

	/// One step of the v0 → v1 migration over one stream of the largest size (every text and
	/// the split at their bounds): what each stream costs the migration.
	#[benchmark]
	fn migration_v0_v1_step() -> Result<(), BenchmarkError> {
		use crate::migrations::v1::{v0, MigrateV0ToV1};
		use frame_support::{
			migrations::SteppedMigration,
			traits::{GetStorageVersion, StorageVersion},
			weights::WeightMeter,
		};
		let caller = funded::<T>("creator", 0);
		let id = create::<T>(&caller)?;
		Streams::<T>::set_split(
			RawOrigin::Signed(caller).into(),
			id,
			max_split::<T>(T::MaxCollaborators::get()),
		)?;
		let mut stream = Streams::<T>::stream(id).ok_or(BenchmarkError::Stop("no stream"))?;
		stream.relayer = None;
		v0::Streams::<T>::insert(id, v0::OldStream::<T>::from(stream.clone()));
		StorageVersion::new(0).put::<Streams<T>>();
		let mut meter = WeightMeter::new();
		let result;
		#[block]
		{
			result = MigrateV0ToV1::<T, ()>::step(None, &mut meter);
		}
		assert_eq!(result, Ok(None));
		assert_eq!(Streams::<T>::stream(id), Some(stream));
		assert_eq!(Streams::<T>::on_chain_storage_version(), 1);
		Ok(())
	}

	impl_benchmark_test_suite!(Streams, crate::mock::new_bench_ext(), crate::mock::Test);
}
