//! Storage migrations of this pallet.
//!
//! - [`v1`]: version 0 → 1, sessions split into cold data ([`crate::Sessions`]) and pages of
//!   settlement state ([`crate::SessionPages`]).
//! - [`v2`]: version 1 → 2, sessions gain a voucher key (the viewer's own key for existing
//!   sessions), a close-request time and an allowance.

use frame_support::traits::StorageVersion;

pub mod v1;
pub mod v2;

/// The in-code storage version of the pallet.
pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);
