//! Chain: what the sidecar knows of chain state.
//!
//! [`link`] keeps the one node connection every part gets its client from; [`view`] caches the
//! streams, sessions and bans that rights and heartbeats are checked against, kept current from
//! each best block's events.

pub mod link;
pub mod view;
