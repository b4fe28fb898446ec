//! Domain types of the ticks pallet: sessions, vouchers and rejection reasons.

use crate::Config;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound};
use frame_system::pallet_prelude::BlockNumberFor;
use pallet_streams::StreamId;
use scale_info::TypeInfo;

/// Identifier of a viewing session. Assigned sequentially, never reused.
pub type SessionId = u64;

/// The balance type (the one of `pallet-streams` and `pallet-payouts`).
pub type BalanceOf<T> = pallet_streams::BalanceOf<T>;

/// The domain tag every voucher payload starts with, encoded as a fixed 17-byte array (no
/// length prefix).
pub const VOUCHER_TAG: [u8; 17] = *b"vilokanam/tick/v1";

/// The prefix browser wallets (polkadot.js `signRaw`) put around the bytes they sign.
pub const WRAP_PREFIX: &[u8] = b"<Bytes>";

/// The suffix browser wallets put around the bytes they sign.
pub const WRAP_SUFFIX: &[u8] = b"</Bytes>";

/// An open viewing session, as stored in [`crate::Sessions`]. Closed sessions are removed.
#[derive(
	Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct Session<T: Config> {
	/// The paying viewer; vouchers must be signed by this account.
	pub viewer: T::AccountId,
	/// The watched stream.
	pub stream_id: StreamId,
	/// The price per second, copied from the stream when the session was opened.
	pub price_per_second: BalanceOf<T>,
	/// The number of seconds paid into escrow (opening plus top-ups).
	pub max_seconds: u64,
	/// The seconds already settled (the latest accepted voucher's `cumulative_seconds`).
	pub settled_seconds: u64,
	/// What is left of the escrowed amount: `price_per_second × (max_seconds − settled_seconds)`.
	pub escrow_remaining: BalanceOf<T>,
	/// When the session was opened (`pallet_timestamp` milliseconds).
	pub opened_at: u64,
	/// The block of the opening, last top-up or last settlement.
	pub last_activity: BlockNumberFor<T>,
}

/// A voucher: the viewer's signed statement "I have watched `cumulative_seconds` seconds of
/// session `session_id` in total".
///
/// The signed payload is `(VOUCHER_TAG, genesis_hash, session_id, cumulative_seconds).encode()`
/// (see [`crate::Pallet::voucher_payload`]), either as is or wrapped in `<Bytes>`…`</Bytes>`.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Voucher<Signature> {
	/// The session.
	pub session_id: SessionId,
	/// Total seconds watched since the session was opened.
	pub cumulative_seconds: u64,
	/// The viewer's signature of the payload.
	pub signature: Signature,
}

/// Why a voucher was not settled. A rejected voucher changes nothing.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum RejectReason {
	/// The signature does not verify against the session's viewer (neither plain nor wrapped).
	BadSignature,
	/// No session with this id was ever opened.
	UnknownSession,
	/// The session was closed (its id is below `NextSessionId` but it is not stored).
	SessionClosed,
	/// `cumulative_seconds` is not above the settled seconds: a replay or an old voucher.
	NotIncreasing,
	/// `cumulative_seconds` is above the seconds paid into escrow.
	AboveMaxSeconds,
	/// `cumulative_seconds` is more than the time elapsed since the opening plus
	/// `Config::ElapsedGrace`.
	AheadOfTime,
}

/// Why a session was closed.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum CloseReason {
	/// The viewer or the creator closed it.
	Closed,
	/// It was idle too long or its stream ended; closed through `close_expired`.
	Expired,
}
