//! Read-only views of Vilokanam's pallets for the `VilokanamApi` runtime API, shared with the
//! parachain runtime (`vilokanam_runtime_common::impl_vilokanam_views`).

use crate::Runtime;

vilokanam_runtime_common::impl_vilokanam_views!(Runtime);
