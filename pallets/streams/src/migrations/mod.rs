//! Storage migrations of this pallet.
//!
//! - [`v1`]: version 0 → 1, streams gain a `relayer` (none for existing streams).

use frame_support::traits::StorageVersion;

pub mod v1;

/// The in-code storage version of the pallet.
pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);
