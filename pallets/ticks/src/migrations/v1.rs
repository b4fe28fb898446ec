//! Version 0 → 1: each `Sessions` entry (a whole session) becomes its cold
//! [`SessionInfo`](crate::SessionInfo) in [`Sessions`](crate::Sessions) and its
//! [`SessionState`](crate::SessionState) in the slot `id % SESSIONS_PER_PAGE` of page
//! `id / SESSIONS_PER_PAGE` of [`SessionPages`](crate::SessionPages).
//!
//! A single-block migration: it reads and rewrites every open session once and writes every
//! page once (pages are built in memory). Open sessions are few compared to what a block
//! allows at the time of this upgrade; a chain with many open sessions would need a
//! multi-block migration instead.

use crate::{
	page_of, BalanceOf, Config, PageIndex, Pallet, Session, SessionPage, SessionPages, Sessions,
};
use alloc::collections::BTreeMap;
use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{
	migrations::VersionedMigration,
	traits::{Get, UncheckedOnRuntimeUpgrade},
	weights::Weight,
};
use frame_system::pallet_prelude::BlockNumberFor;
use pallet_streams::StreamId;
use scale_info::TypeInfo;
use sp_runtime::Saturating;

#[cfg(feature = "try-runtime")]
use alloc::vec::Vec;

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

	impl<T: Config> From<OldSession<T>> for Session<T> {
		fn from(old: OldSession<T>) -> Self {
			Session {
				viewer: old.viewer,
				stream_id: old.stream_id,
				price_per_second: old.price_per_second,
				max_seconds: old.max_seconds,
				settled_seconds: old.settled_seconds,
				escrow_remaining: old.escrow_remaining,
				opened_at: old.opened_at,
				last_activity: old.last_activity,
			}
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

/// The migration without its version check; use [`MigrateV0ToV1`].
pub struct InnerMigrateV0ToV1<T>(core::marker::PhantomData<T>);

impl<T: Config> UncheckedOnRuntimeUpgrade for InnerMigrateV0ToV1<T> {
	fn on_runtime_upgrade() -> Weight {
		let mut pages: BTreeMap<PageIndex, SessionPage<T>> = BTreeMap::new();
		let mut sessions = 0u64;
		Sessions::<T>::translate::<v0::OldSession<T>, _>(|id, old| {
			sessions.saturating_inc();
			let (info, state) = Session::<T>::from(old).split();
			let page = pages.entry(page_of(id).0).or_default();
			if let Some(slot) = page.slot_mut(id) {
				*slot = Some(state);
			}
			Some(info)
		});
		let written = pages.len() as u64;
		for (index, page) in pages {
			SessionPages::<T>::insert(index, page);
		}
		log::info!(
			target: crate::LOG_TARGET,
			"migrated {sessions} sessions to the paged layout ({written} pages)"
		);
		T::DbWeight::get().reads_writes(sessions, sessions.saturating_add(written))
	}

	#[cfg(feature = "try-runtime")]
	fn pre_upgrade() -> Result<Vec<u8>, sp_runtime::TryRuntimeError> {
		let sessions: BTreeMap<crate::SessionId, Session<T>> =
			v0::Sessions::<T>::iter().map(|(id, old)| (id, old.into())).collect();
		Ok(sessions.encode())
	}

	#[cfg(feature = "try-runtime")]
	fn post_upgrade(state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
		let before = BTreeMap::<crate::SessionId, Session<T>>::decode(&mut &state[..])
			.map_err(|_| "cannot decode the pre-upgrade sessions")?;
		for (id, session) in before.iter() {
			frame_support::ensure!(
				Pallet::<T>::session(*id).as_ref() == Some(session),
				"a session changed in the migration"
			);
		}
		frame_support::ensure!(
			Sessions::<T>::iter_keys().count() == before.len(),
			"the number of sessions changed in the migration"
		);
		Pallet::<T>::do_try_state()
	}
}

/// Version 0 → 1 of the ticks pallet: the paged session layout. Runs only if the on-chain
/// storage version is 0, and sets it to 1.
pub type MigrateV0ToV1<T> = VersionedMigration<
	0,
	1,
	InnerMigrateV0ToV1<T>,
	Pallet<T>,
	<T as frame_system::Config>::DbWeight,
>;
