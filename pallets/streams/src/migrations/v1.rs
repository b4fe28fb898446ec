//! Version 0 → 1: every [`Stream`](crate::Stream) gains `relayer: None`, the account trusted
//! to close the stream's sessions at once (set by the creator with `update_stream`).
//!
//! A single-block migration: it reads and rewrites every stream once. Streams are few at the
//! time of this upgrade (thousands at most, a few milliseconds of weight each thousand); a
//! chain with many more would need a multi-block migration.

use crate::{
	BalanceOf, CategoryId, Config, EndpointOf, MetadataOf, MomentOf, Pallet, SplitOf, Stream,
	StreamId, StreamStatus, Streams, TagsOf, TitleOf,
};
use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{
	migrations::VersionedMigration,
	traits::{Get, UncheckedOnRuntimeUpgrade},
	weights::Weight,
};
use scale_info::TypeInfo;
use sp_runtime::Saturating;

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

/// The migration without its version check; use [`MigrateV0ToV1`].
pub struct InnerMigrateV0ToV1<T>(core::marker::PhantomData<T>);

impl<T: Config> UncheckedOnRuntimeUpgrade for InnerMigrateV0ToV1<T> {
	fn on_runtime_upgrade() -> Weight {
		let mut streams = 0u64;
		Streams::<T>::translate::<v0::OldStream<T>, _>(|_, old| {
			streams.saturating_inc();
			Some(old.into())
		});
		log::info!(target: "runtime::streams", "migrated {streams} streams (relayer: none)");
		T::DbWeight::get().reads_writes(streams, streams)
	}

	#[cfg(feature = "try-runtime")]
	fn pre_upgrade() -> Result<Vec<u8>, sp_runtime::TryRuntimeError> {
		let streams: Vec<(StreamId, Stream<T>)> =
			v0::Streams::<T>::iter().map(|(id, old)| (id, old.into())).collect();
		Ok(streams.encode())
	}

	#[cfg(feature = "try-runtime")]
	fn post_upgrade(state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
		let before = Vec::<(StreamId, Stream<T>)>::decode(&mut &state[..])
			.map_err(|_| "cannot decode the pre-upgrade streams")?;
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
		Pallet::<T>::do_try_state()
	}
}

/// Version 0 → 1 of the streams pallet: streams gain a relayer. Runs only if the on-chain
/// storage version is 0, and sets it to 1.
pub type MigrateV0ToV1<T> = VersionedMigration<
	0,
	1,
	InnerMigrateV0ToV1<T>,
	Pallet<T>,
	<T as frame_system::Config>::DbWeight,
>;
