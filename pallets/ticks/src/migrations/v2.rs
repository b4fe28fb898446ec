//! Version 1 → 2: each [`SessionInfo`](crate::SessionInfo) gains `voucher_key` (the viewer's
//! own key, which signed every voucher of the session so far), `closing_since: None` and
//! `allowance: None`. Settlement state ([`SessionPages`](crate::SessionPages)) is unchanged.
//!
//! A single-block migration: one read and one write per stored session (≈ 60 µs each on
//! ParityDB, so about 10,000 sessions within a quarter of a block's weight). Open sessions are
//! few at the time of this upgrade; a chain with many more would need a multi-block migration.

use super::v1::SessionInfoV1;
use crate::{Config, Pallet, SessionInfo, Sessions};
use frame_support::{
	migrations::VersionedMigration,
	traits::{Get, UncheckedOnRuntimeUpgrade},
	weights::Weight,
};
use sp_runtime::Saturating;

#[cfg(feature = "try-runtime")]
use {
	super::v1::SessionsV1,
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

/// The migration without its version check; use [`MigrateV1ToV2`].
pub struct InnerMigrateV1ToV2<T>(core::marker::PhantomData<T>);

impl<T: Config> UncheckedOnRuntimeUpgrade for InnerMigrateV1ToV2<T> {
	fn on_runtime_upgrade() -> Weight {
		let mut sessions = 0u64;
		Sessions::<T>::translate::<SessionInfoV1<T>, _>(|_, old| {
			sessions.saturating_inc();
			Some(old.into())
		});
		log::info!(
			target: crate::LOG_TARGET,
			"migrated {sessions} sessions to v2 (voucher key: the viewer's own)"
		);
		T::DbWeight::get().reads_writes(sessions, sessions)
	}

	#[cfg(feature = "try-runtime")]
	fn pre_upgrade() -> Result<Vec<u8>, sp_runtime::TryRuntimeError> {
		let sessions: Vec<(crate::SessionId, SessionInfoV1<T>)> = SessionsV1::<T>::iter().collect();
		Ok(sessions.encode())
	}

	#[cfg(feature = "try-runtime")]
	fn post_upgrade(state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
		let before = Vec::<(crate::SessionId, SessionInfoV1<T>)>::decode(&mut &state[..])
			.map_err(|_| "cannot decode the pre-upgrade sessions")?;
		for (id, old) in before.iter() {
			let new = Sessions::<T>::get(id).ok_or("a session disappeared in the migration")?;
			frame_support::ensure!(new == SessionInfo::from(old.clone()), "a session changed");
		}
		frame_support::ensure!(
			Sessions::<T>::iter_keys().count() == before.len(),
			"the number of sessions changed in the migration"
		);
		Pallet::<T>::do_try_state()
	}
}

/// Version 1 → 2 of the ticks pallet: voucher keys, close requests and allowances. Runs only
/// if the on-chain storage version is 1, and sets it to 2.
pub type MigrateV1ToV2<T> = VersionedMigration<
	1,
	2,
	InnerMigrateV1ToV2<T>,
	Pallet<T>,
	<T as frame_system::Config>::DbWeight,
>;
