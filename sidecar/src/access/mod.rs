//! Access: who a requester is, and what it may do.
//!
//! [`identity`] checks a login's signed challenge, [`tokens`] issues and checks the bearer
//! tokens of WHIP and WHEP, [`rights`] decides who may publish and watch (and builds the media
//! gates that keep deciding), [`rate`] limits how often.

pub mod identity;
pub mod rate;
pub mod rights;
pub mod tokens;
