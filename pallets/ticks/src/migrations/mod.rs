//! Storage migrations of this pallet, all multi-block (`SteppedMigration`s that the runtime
//! lists in `pallet-migrations`' `Migrations`, in this order; their loop is
//! `pallet_streams::migrations::stepped`).
//!
//! - [`v1`]: version 0 → 1, sessions split into cold data ([`crate::Sessions`]) and pages of
//!   settlement state ([`crate::SessionPages`]).
//! - [`v2`]: version 1 → 2, sessions gain a voucher key (the viewer's own key for existing
//!   sessions), a close-request time and an allowance.
//! - [`weights`]: the benchmarked weight of one session in a step of each.

use frame_support::traits::StorageVersion;

pub mod v1;
pub mod v2;
pub mod weights;

/// The in-code storage version of the pallet.
pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

/// The `pallet_id` of this pallet's migrations' identifiers in `pallet-migrations`.
pub const MIGRATIONS_ID: &[u8; 15] = b"vilokanam-ticks";
