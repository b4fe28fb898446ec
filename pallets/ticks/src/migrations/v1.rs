//! Version 0 → 1: each `Sessions` entry (a whole session) becomes its cold
//! [`SessionInfo`](crate::SessionInfo) in [`Sessions`](crate::Sessions) and its
//! [`SessionState`](crate::SessionState) in the slot `id % SESSIONS_PER_PAGE` of page
//! `id / SESSIONS_PER_PAGE` of [`SessionPages`](crate::SessionPages).
//!
//! A single-block migration: it reads and rewrites every open session once and writes every
//! page once (pages are built in memory). Open sessions are few compared to what a block
//! allows at the time of this upgrade; a chain with many open sessions would need a
//! multi-block migration instead.
//!
//! It writes the version-1 layout of the cold data ([`SessionInfoV1`]), which [`super::v2`]
//! then extends: a chain at version 0 runs both, in order.

use crate::{
	page_of, BalanceOf, Config, PageIndex, Pallet, SessionPage, SessionPages, SessionState,
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

/// The migration without its version check; use [`MigrateV0ToV1`].
pub struct InnerMigrateV0ToV1<T>(core::marker::PhantomData<T>);

impl<T: Config> UncheckedOnRuntimeUpgrade for InnerMigrateV0ToV1<T> {
	fn on_runtime_upgrade() -> Weight {
		let mut pages: BTreeMap<PageIndex, SessionPage<T>> = BTreeMap::new();
		let mut sessions = 0u64;
		SessionsV1::<T>::translate::<v0::OldSession<T>, _>(|id, old| {
			sessions.saturating_inc();
			let (info, state) = old.split();
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
		let sessions: BTreeMap<crate::SessionId, v0::OldSession<T>> =
			v0::Sessions::<T>::iter().collect();
		Ok(sessions.encode())
	}

	/// Checks this step's own layout only: the pallet's `try_state` reads the newest layout,
	/// which a chain at version 0 only has after [`super::v2`].
	#[cfg(feature = "try-runtime")]
	fn post_upgrade(state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
		let before = BTreeMap::<crate::SessionId, v0::OldSession<T>>::decode(&mut &state[..])
			.map_err(|_| "cannot decode the pre-upgrade sessions")?;
		for (id, old) in before.into_iter() {
			let (info, state) = old.split();
			frame_support::ensure!(
				SessionsV1::<T>::get(id).as_ref() == Some(&info),
				"a session's cold data changed in the migration"
			);
			let page = SessionPages::<T>::get(page_of(id).0).ok_or("a page is missing")?;
			frame_support::ensure!(page.get(id) == Some(&state), "a session's state changed");
		}
		Ok(())
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
