//! Transport: how clients reach the sidecar. Each transport authenticates its requester its own
//! way, asks [`crate::access`] for rights and maps refusals to its own errors.

pub mod edge;
pub mod http;
pub mod replay;
pub mod vouchers;
pub mod web;
pub mod whip;
pub mod ws;
