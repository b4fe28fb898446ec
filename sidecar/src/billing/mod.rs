//! Billing: the seconds viewers pay for.
//!
//! [`heartbeat`] verifies and durably acknowledges vouchers (a viewer's signed cumulative
//! seconds), [`close_intent`] accepts a viewer's intent to close its session, and [`relay`]
//! settles acknowledged vouchers on chain in batches and releases sessions asked to close.
//! [`pacing`] turns a replay session's acknowledged seconds into the bytes of its recording
//! it may be sent.

pub mod close_intent;
pub mod heartbeat;
pub mod pacing;
pub mod relay;
