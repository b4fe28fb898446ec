//! Storage migrations of this pallet.
//!
//! None yet: the pallet is at its first storage layout.

use frame_support::traits::StorageVersion;

/// The in-code storage version of the pallet.
pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);
