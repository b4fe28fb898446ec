//! Storage migrations of this pallet.
//!
//! - [`v1`]: version 0 → 1, sessions split into cold data ([`crate::Sessions`]) and pages of
//!   settlement state ([`crate::SessionPages`]).

use frame_support::traits::StorageVersion;

pub mod v1;

/// The in-code storage version of the pallet.
pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);
