//! Version 0 → 1: every [`Stream`](crate::Stream) gains `relayer: None`, the account trusted
//! to close the stream's sessions at once (set by the creator with `update_stream`).
//!
//! A multi-block migration ([`MigrateV0ToV1`]): each stream is read and rewritten once, as
//! many per block as the runtime's migration weight admits, so any number of streams migrate
//! without overweight blocks.

use crate::{
	BalanceOf, CategoryId, Config, EndpointOf, MetadataOf, MomentOf, Pallet, SplitOf, Stream,
	StreamId, StreamStatus, Streams, TagsOf, TitleOf,
};
use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{
	migrations::{MigrationId, SteppedMigration, SteppedMigrationError},
	traits::{GetStorageVersion, StorageVersion},
	weights::WeightMeter,
};
use scale_info::TypeInfo;

use super::weights;

#[cfg(feature = "try-runtime")]
use alloc::vec::Vec;

/// The storage layout of version 0. (`storage_alias` generates undocumented items.)
#[allow(missing_docs)]
pub mod v0 {
	use super::*;

	/// A stream as stored at version 0: today's fields without `relayer`, in the same order.
	#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
	#[scale_info(skip_type_params(T))]
	#[codec(mel_bound())]
	pub struct OldStream<T: Config> {
		pub id: StreamId,
		pub creator: T::AccountId,
		pub title: TitleOf<T>,
		pub metadata: MetadataOf<T>,
		pub category: CategoryId,
		pub tags: TagsOf<T>,
		pub price_per_second: BalanceOf<T>,
		pub status: StreamStatus,
		pub created_at: MomentOf<T>,
		pub started_at: Option<MomentOf<T>>,
		pub ended_at: Option<MomentOf<T>>,
		pub endpoint: Option<EndpointOf<T>>,
		pub collaborators: SplitOf<T>,
		pub total_viewer_seconds: u64,
		pub total_earned: BalanceOf<T>,
		pub current_viewers: u32,
		pub peak_viewers: u32,
		pub deposit: BalanceOf<T>,
	}

	impl<T: Config> From<OldStream<T>> for Stream<T> {
		fn from(old: OldStream<T>) -> Self {
			Stream {
				id: old.id,
				creator: old.creator,
				title: old.title,
				metadata: old.metadata,
				category: old.category,
				tags: old.tags,
				price_per_second: old.price_per_second,
				status: old.status,
				created_at: old.created_at,
				started_at: old.started_at,
				ended_at: old.ended_at,
				endpoint: old.endpoint,
				relayer: None,
				collaborators: old.collaborators,
				total_viewer_seconds: old.total_viewer_seconds,
				total_earned: old.total_earned,
				current_viewers: old.current_viewers,
				peak_viewers: old.peak_viewers,
				deposit: old.deposit,
			}
		}
	}

	/// What the migration reads back as a version-0 stream (for tests and benchmarks, which
	/// write version-0 storage from today's streams).
	impl<T: Config> From<Stream<T>> for OldStream<T> {
		fn from(s: Stream<T>) -> Self {
			OldStream {
				id: s.id,
				creator: s.creator,
				title: s.title,
				metadata: s.metadata,
				category: s.category,
				tags: s.tags,
				price_per_second: s.price_per_second,
				status: s.status,
				created_at: s.created_at,
				started_at: s.started_at,
				ended_at: s.ended_at,
				endpoint: s.endpoint,
				collaborators: s.collaborators,
				total_viewer_seconds: s.total_viewer_seconds,
				total_earned: s.total_earned,
				current_viewers: s.current_viewers,
				peak_viewers: s.peak_viewers,
				deposit: s.deposit,
			}
		}
	}

	/// `Streams` at version 0.
	#[frame_support::storage_alias]
	pub type Streams<T: Config> = StorageMap<
		Pallet<T>,
		frame_support::Twox64Concat,
		StreamId,
		OldStream<T>,
		frame_support::pallet_prelude::OptionQuery,
	>;
}

/// Version 0 → 1 of the streams pallet as a multi-block migration (run by
/// `pallet-migrations`): as many streams per block as `W::migration_v0_v1_step` admits in
/// the block's migration weight, the cursor being the last stream id migrated. A no-op if the
/// on-chain storage version is not 0 (a chain whose genesis has the new layout); sets it to
/// 1 when done.
pub struct MigrateV0ToV1<T, W = weights::SubstrateWeight<T>>(core::marker::PhantomData<(T, W)>);

impl<T: Config, W: weights::WeightInfo> SteppedMigration for MigrateV0ToV1<T, W> {
	type Cursor = StreamId;
	type Identifier = MigrationId<17>;

	fn id() -> Self::Identifier {
		MigrationId { pallet_id: *super::MIGRATIONS_ID, version_from: 0, version_to: 1 }
	}

	fn step(
		cursor: Option<Self::Cursor>,
		meter: &mut WeightMeter,
	) -> Result<Option<Self::Cursor>, SteppedMigrationError> {
		if cursor.is_none() && Pallet::<T>::on_chain_storage_version() != 0 {
			return Ok(None);
		}
		let next = super::stepped::step_through_map(
			cursor,
			meter,
			W::migration_v0_v1_step(),
			|after| match after {
				Some(id) => {
					v0::Streams::<T>::iter_from(v0::Streams::<T>::hashed_key_for(id)).next()
				},
				None => v0::Streams::<T>::iter().next(),
			},
			|id, old| Streams::<T>::insert(id, Stream::from(old)),
		)?;
		if next.is_none() {
			StorageVersion::new(1).put::<Pallet<T>>();
			log::info!(target: "runtime::streams", "streams migrated to v1 (relayer: none)");
		}
		Ok(next)
	}

	/// The streams as they must be after the migration (`None`: nothing to migrate).
	#[cfg(feature = "try-runtime")]
	fn pre_upgrade() -> Result<Vec<u8>, sp_runtime::TryRuntimeError> {
		let streams = (Pallet::<T>::on_chain_storage_version() == 0).then(|| {
			v0::Streams::<T>::iter()
				.map(|(id, old)| (id, old.into()))
				.collect::<Vec<(StreamId, Stream<T>)>>()
		});
		Ok(streams.encode())
	}

	#[cfg(feature = "try-runtime")]
	fn post_upgrade(state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
		let Some(before) = Option::<Vec<(StreamId, Stream<T>)>>::decode(&mut &state[..])
			.map_err(|_| "cannot decode the pre-upgrade streams")?
		else {
			return Ok(());
		};
		for (id, stream) in before.iter() {
			frame_support::ensure!(
				Streams::<T>::get(id).as_ref() == Some(stream),
				"a stream changed in the migration"
			);
		}
		frame_support::ensure!(
			Streams::<T>::iter_keys().count() == before.len(),
			"the number of streams changed in the migration"
		);
		frame_support::ensure!(Pallet::<T>::on_chain_storage_version() == 1, "not at version 1");
		Pallet::<T>::do_try_state()
	}
}
