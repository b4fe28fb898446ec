//! Storage migrations of this pallet, all multi-block (`SteppedMigration`s that the
//! runtime lists in `pallet-migrations`' `Migrations`).
//!
//! - [`v1`]: version 0 → 1, streams gain a `relayer` (none for existing streams).
//! - [`stepped`]: the loop of every such migration (shared with `pallet-ticks`).
//! - [`weights`]: the benchmarked weight of one step of each migration.

use frame_support::traits::StorageVersion;

pub mod stepped;
pub mod v1;
pub mod weights;

/// The in-code storage version of the pallet.
pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

/// The `pallet_id` of this pallet's migrations' identifiers in `pallet-migrations`.
pub const MIGRATIONS_ID: &[u8; 17] = b"vilokanam-streams";
