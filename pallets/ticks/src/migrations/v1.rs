//! Version 0 → 1: each `Sessions` entry (a whole session) becomes its cold
//! [`SessionInfo`](crate::SessionInfo) in [`Sessions`](crate::Sessions) and its
//! [`SessionState`](crate::SessionState) in the slot `id % SESSIONS_PER_PAGE` of page
//! `id / SESSIONS_PER_PAGE` of [`SessionPages`](crate::SessionPages).
//!
//! A multi-block migration ([`MigrateV0ToV1`]): each session is read and rewritten once and
//! its page read and written, as many sessions per block as the runtime's migration weight
//! admits, so any number of open sessions migrate without overweight blocks.
//!
//! It writes the version-1 layout of the cold data ([`SessionInfoV1`]), which [`super::v2`]
//! then extends: a chain at version 0 runs both, in order.

use super::weights;
use crate::{page_of, BalanceOf, Config, Pallet, SessionPage, SessionPages, SessionState};
use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{
	migrations::{MigrationId, SteppedMigration, SteppedMigrationError},
	traits::{GetStorageVersion, StorageVersion},
	weights::WeightMeter,
};
use frame_system::pallet_prelude::BlockNumberFor;
use pallet_streams::{migrations::stepped::step_through_map, StreamId};
use scale_info::TypeInfo;

#[cfg(feature = "try-runtime")]
use alloc::{collections::BTreeMap, vec::Vec};

/// The storage layout of version 0. (`storage_alias` generates undocumented items.)
#[allow(missing_docs)]
pub mod v0 {
	use super::*;

	/// A session as stored in `Sessions` at version 0 (the fields of today's
	/// [`Session`](crate::Session), in the same order).
	#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
	#[scale_info(skip_type_params(T))]
	#[codec(mel_bound())]
	pub struct OldSession<T: Config> {
		/// The paying viewer.
		pub viewer: T::AccountId,
		/// The watched stream.
		pub stream_id: StreamId,
		/// The price per second.
		pub price_per_second: BalanceOf<T>,
		/// The seconds paid into escrow.
		pub max_seconds: u64,
		/// The seconds already settled.
		pub settled_seconds: u64,
		/// What is left of the escrow.
		pub escrow_remaining: BalanceOf<T>,
		/// When the session was opened (milliseconds).
		pub opened_at: u64,
		/// The block of the last activity.
		pub last_activity: BlockNumberFor<T>,
	}

	impl<T: Config> OldSession<T> {
		/// The version-1 cold data and the settlement state of this session.
		pub fn split(self) -> (SessionInfoV1<T>, SessionState<T>) {
			(
				SessionInfoV1 {
					viewer: self.viewer,
					stream_id: self.stream_id,
					price_per_second: self.price_per_second,
					max_seconds: self.max_seconds,
					opened_at: self.opened_at,
				},
				SessionState {
					settled_seconds: self.settled_seconds,
					escrow_remaining: self.escrow_remaining,
					last_activity: self.last_activity,
				},
			)
		}
	}

	/// `Sessions` at version 0.
	#[frame_support::storage_alias]
	pub type Sessions<T: Config> = StorageMap<
		Pallet<T>,
		frame_support::Twox64Concat,
		crate::SessionId,
		OldSession<T>,
		frame_support::pallet_prelude::OptionQuery,
	>;
}

/// The cold data of a session at version 1 (before voucher keys, close requests and
/// allowances).
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct SessionInfoV1<T: Config> {
	/// The paying viewer.
	pub viewer: T::AccountId,
	/// The watched stream.
	pub stream_id: StreamId,
	/// The price per second.
	pub price_per_second: BalanceOf<T>,
	/// The seconds paid into escrow.
	pub max_seconds: u64,
	/// When the session was opened (milliseconds).
	pub opened_at: u64,
}

/// The storage item of version 1. (`storage_alias` generates undocumented items.)
#[allow(missing_docs)]
mod layout {
	use super::*;

	/// `Sessions` at version 1 (the alias's name is the storage item's).
	#[frame_support::storage_alias]
	pub type Sessions<T: Config> = StorageMap<
		Pallet<T>,
		frame_support::Twox64Concat,
		crate::SessionId,
		SessionInfoV1<T>,
		frame_support::pallet_prelude::OptionQuery,
	>;
}
pub use layout::Sessions as SessionsV1;

/// Version 0 → 1 of the ticks pallet as a multi-block migration (run by
/// `pallet-migrations`): as many sessions per block as `W::migration_v0_v1_step` admits in
/// the block's migration weight, the cursor being the last session id migrated. A no-op if
/// the on-chain storage version is not 0; sets it to 1 when done.
pub struct MigrateV0ToV1<T, W = weights::SubstrateWeight<T>>(core::marker::PhantomData<(T, W)>);

impl<T: Config, W: weights::WeightInfo> SteppedMigration for MigrateV0ToV1<T, W> {
	type Cursor = crate::SessionId;
	type Identifier = MigrationId<15>;

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
		let next = step_through_map(
			cursor,
			meter,
			W::migration_v0_v1_step(),
			|after| match after {
				Some(id) => {
					v0::Sessions::<T>::iter_from(v0::Sessions::<T>::hashed_key_for(id)).next()
				},
				None => v0::Sessions::<T>::iter().next(),
			},
			|id, old| {
				let (info, state) = old.split();
				SessionsV1::<T>::insert(id, info);
				// The page is read and written per session: a step's cost stays the same
				// whichever sessions it meets.
				SessionPages::<T>::mutate(page_of(*id).0, |page| {
					let page = page.get_or_insert_with(SessionPage::default);
					if let Some(slot) = page.slot_mut(*id) {
						*slot = Some(state);
					}
				});
			},
		)?;
		if next.is_none() {
			StorageVersion::new(1).put::<Pallet<T>>();
			log::info!(target: crate::LOG_TARGET, "sessions migrated to the paged layout (v1)");
		}
		Ok(next)
	}

	/// The version-0 sessions (`None`: nothing to migrate).
	#[cfg(feature = "try-runtime")]
	fn pre_upgrade() -> Result<Vec<u8>, sp_runtime::TryRuntimeError> {
		let sessions = (Pallet::<T>::on_chain_storage_version() == 0).then(|| {
			v0::Sessions::<T>::iter().collect::<BTreeMap<crate::SessionId, v0::OldSession<T>>>()
		});
		Ok(sessions.encode())
	}

	/// Checks this step's own layout only: the pallet's `try_state` reads the newest layout,
	/// which a chain at version 0 only has after [`super::v2`].
	#[cfg(feature = "try-runtime")]
	fn post_upgrade(state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
		let Some(before) =
			Option::<BTreeMap<crate::SessionId, v0::OldSession<T>>>::decode(&mut &state[..])
				.map_err(|_| "cannot decode the pre-upgrade sessions")?
		else {
			return Ok(());
		};
		for (id, old) in before.into_iter() {
			let (info, state) = old.split();
			frame_support::ensure!(
				SessionsV1::<T>::get(id).as_ref() == Some(&info),
				"a session's cold data changed in the migration"
			);
			let page = SessionPages::<T>::get(page_of(id).0).ok_or("a page is missing")?;
			frame_support::ensure!(page.get(id) == Some(&state), "a session's state changed");
		}
		frame_support::ensure!(Pallet::<T>::on_chain_storage_version() == 1, "not at version 1");
		Ok(())
	}
}
