//! Version 1 → 2: each [`SessionInfo`](crate::SessionInfo) gains `voucher_key` (the viewer's
//! own key, which signed every voucher of the session so far), `closing_since: None` and
//! `allowance: None`. Settlement state ([`SessionPages`](crate::SessionPages)) is unchanged.
//!
//! A multi-block migration ([`MigrateV1ToV2`]): one read and one write per stored session, as
//! many sessions per block as the runtime's migration weight admits.

use super::{
	v1::{SessionInfoV1, SessionsV1},
	weights,
};
use crate::{Config, Pallet, SessionInfo, Sessions};
use frame_support::{
	migrations::{MigrationId, SteppedMigration, SteppedMigrationError},
	traits::{GetStorageVersion, StorageVersion},
	weights::WeightMeter,
};
use pallet_streams::migrations::stepped::step_through_map;

#[cfg(feature = "try-runtime")]
use {
	alloc::vec::Vec,
	codec::{Decode, Encode},
};

impl<T: Config> From<SessionInfoV1<T>> for SessionInfo<T> {
	fn from(old: SessionInfoV1<T>) -> Self {
		SessionInfo {
			voucher_key: old.viewer.clone(),
			viewer: old.viewer,
			stream_id: old.stream_id,
			price_per_second: old.price_per_second,
			max_seconds: old.max_seconds,
			opened_at: old.opened_at,
			closing_since: None,
			allowance: None,
		}
	}
}

/// Version 1 → 2 of the ticks pallet as a multi-block migration (run by
/// `pallet-migrations`, after [`super::v1::MigrateV0ToV1`] on a chain at version 0): as many
/// sessions per block as `W::migration_v1_v2_step` admits, the cursor being the last session
/// id migrated. A no-op if the on-chain storage version is not 1; sets it to 2 when done.
pub struct MigrateV1ToV2<T, W = weights::SubstrateWeight<T>>(core::marker::PhantomData<(T, W)>);

impl<T: Config, W: weights::WeightInfo> SteppedMigration for MigrateV1ToV2<T, W> {
	type Cursor = crate::SessionId;
	type Identifier = MigrationId<15>;

	fn id() -> Self::Identifier {
		MigrationId { pallet_id: *super::MIGRATIONS_ID, version_from: 1, version_to: 2 }
	}

	fn step(
		cursor: Option<Self::Cursor>,
		meter: &mut WeightMeter,
	) -> Result<Option<Self::Cursor>, SteppedMigrationError> {
		if cursor.is_none() && Pallet::<T>::on_chain_storage_version() != 1 {
			return Ok(None);
		}
		// Keys do not change: entries after the cursor are still in the version-1 layout.
		let next = step_through_map(
			cursor,
			meter,
			W::migration_v1_v2_step(),
			|after| match after {
				Some(id) => SessionsV1::<T>::iter_from(SessionsV1::<T>::hashed_key_for(id)).next(),
				None => SessionsV1::<T>::iter().next(),
			},
			|id, old| Sessions::<T>::insert(id, SessionInfo::from(old)),
		)?;
		if next.is_none() {
			StorageVersion::new(2).put::<Pallet<T>>();
			log::info!(
				target: crate::LOG_TARGET,
				"sessions migrated to v2 (voucher key: the viewer's own)"
			);
		}
		Ok(next)
	}

	/// The version-1 sessions (`None`: nothing to migrate).
	#[cfg(feature = "try-runtime")]
	fn pre_upgrade() -> Result<Vec<u8>, sp_runtime::TryRuntimeError> {
		let sessions = (Pallet::<T>::on_chain_storage_version() == 1).then(|| {
			SessionsV1::<T>::iter().collect::<Vec<(crate::SessionId, SessionInfoV1<T>)>>()
		});
		Ok(sessions.encode())
	}

	#[cfg(feature = "try-runtime")]
	fn post_upgrade(state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
		let Some(before) =
			Option::<Vec<(crate::SessionId, SessionInfoV1<T>)>>::decode(&mut &state[..])
				.map_err(|_| "cannot decode the pre-upgrade sessions")?
		else {
			return Ok(());
		};
		for (id, old) in before.iter() {
			let new = Sessions::<T>::get(id).ok_or("a session disappeared in the migration")?;
			frame_support::ensure!(new == SessionInfo::from(old.clone()), "a session changed");
		}
		frame_support::ensure!(
			Sessions::<T>::iter_keys().count() == before.len(),
			"the number of sessions changed in the migration"
		);
		frame_support::ensure!(Pallet::<T>::on_chain_storage_version() == 2, "not at version 2");
		// Not `do_try_state`: it reads pallet-streams' streams, which the same upgrade may
		// migrate after this one (streams v0 → v1 does, in the runtime's list), so they do not
		// decode yet. The runtime's `try_state` after the last migration checks them all.
		Ok(())
	}
}
