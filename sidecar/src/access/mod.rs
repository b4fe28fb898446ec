//! Access: who a requester is, and what it may do.
//!
//! [`identity`] checks a login's signed challenge, [`tokens`] issues and checks the bearer
//! tokens of WHIP and WHEP, [`rights`] decides who may publish and watch (and builds the media
//! gates that keep deciding) for the streams [`terms`] says this sidecar serves, [`rate`]
//! limits how often, [`admission`] how many connections and costly requests each client
//! address gets, [`turn`] issues the TURN credentials of members, and [`edge`] checks the
//! edge sidecars that pull streams from this one.

pub mod admission;
pub mod edge;
pub mod identity;
pub mod rate;
pub mod rights;
pub mod terms;
pub mod tokens;
pub mod turn;
