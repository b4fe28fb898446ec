//! Domain types of the ticks pallet: sessions (cold info, paged hot state and the combined
//! view), vouchers and rejection reasons.

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

/// How many consecutive session ids share one page of [`crate::SessionPages`].
pub const SESSIONS_PER_PAGE: u64 = 64;

/// [`SESSIONS_PER_PAGE`] as an array length.
const PAGE_LEN: usize = SESSIONS_PER_PAGE as usize;

/// The index of a page of [`crate::SessionPages`]: `session_id / SESSIONS_PER_PAGE`.
pub type PageIndex = u64;

/// The page holding the settlement state of `session_id`, and its slot in that page.
pub fn page_of(session_id: SessionId) -> (PageIndex, usize) {
	// The remainder is below `SESSIONS_PER_PAGE`, which fits a `usize`.
	(session_id / SESSIONS_PER_PAGE, (session_id % SESSIONS_PER_PAGE) as usize)
}

/// The number of distinct pages the sessions `ids` sit on: [`BatchWitness::pages`] for
/// vouchers of these sessions.
pub fn pages_of(ids: impl IntoIterator<Item = SessionId>) -> u32 {
	let pages: alloc::collections::BTreeSet<PageIndex> =
		ids.into_iter().map(|id| page_of(id).0).collect();
	u32::try_from(pages.len()).unwrap_or(u32::MAX)
}

/// What a [`crate::Call::settle_batch`] touches, declared by its submitter so that the call is
/// priced exactly before dispatch; the refund uses what it actually touched.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct BatchWitness {
	/// At least the number of distinct streams of the vouchers that will be accepted (the
	/// distinct streams of all the vouchers always is).
	pub streams: u32,
	/// At least the number of distinct session pages of the vouchers ([`pages_of`]).
	pub pages: u32,
}

/// The cold part of an open session, as stored in [`crate::Sessions`]: read by every
/// settlement, written only when the session is opened, topped up or closed. Closed sessions
/// are removed.
#[derive(
	Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct SessionInfo<T: Config> {
	/// The paying viewer; vouchers must be signed by this account.
	pub viewer: T::AccountId,
	/// The watched stream.
	pub stream_id: StreamId,
	/// The price per second, copied from the stream when the session was opened.
	pub price_per_second: BalanceOf<T>,
	/// The number of seconds paid into escrow (opening plus top-ups).
	pub max_seconds: u64,
	/// When the session was opened (`pallet_timestamp` milliseconds).
	pub opened_at: u64,
}

/// The hot part of an open session: what a settlement changes. Kept in a slot of a
/// [`SessionPage`], so that a batch settling consecutive sessions writes one page instead of
/// one item per session.
#[derive(
	Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct SessionState<T: Config> {
	/// The seconds already settled (the latest accepted voucher's `cumulative_seconds`).
	pub settled_seconds: u64,
	/// What is left of the escrowed amount: `price × (max_seconds − settled_seconds)`.
	pub escrow_remaining: BalanceOf<T>,
	/// The block of the opening, last top-up or last settlement.
	pub last_activity: BlockNumberFor<T>,
}

/// The settlement state of the [`SESSIONS_PER_PAGE`] consecutive sessions
/// `page × SESSIONS_PER_PAGE ..`, as stored in [`crate::SessionPages`]: slot
/// `id % SESSIONS_PER_PAGE` is `Some` exactly while session `id` is open. A page with no open
/// session is removed.
///
/// Slots are `Option`s rather than a default state, so that an open session whose state
/// happens to be all zeros (a free stream, block 0) is still told apart from a closed one.
#[derive(
	Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct SessionPage<T: Config> {
	/// The slots, indexed by `session_id % SESSIONS_PER_PAGE`.
	pub slots: [Option<SessionState<T>>; PAGE_LEN],
}

impl<T: Config> Default for SessionPage<T> {
	fn default() -> Self {
		Self { slots: core::array::from_fn(|_| None) }
	}
}

impl<T: Config> SessionPage<T> {
	/// Whether no slot holds an open session (such a page is not stored).
	pub fn is_empty(&self) -> bool {
		self.slots.iter().all(Option::is_none)
	}

	/// The state of `session_id`, if it is on this page and open.
	pub fn get(&self, session_id: SessionId) -> Option<&SessionState<T>> {
		self.slots.get(page_of(session_id).1).and_then(Option::as_ref)
	}

	/// The slot of `session_id` (`None` only if `SESSIONS_PER_PAGE` were not the array
	/// length, which it is).
	pub fn slot_mut(&mut self, session_id: SessionId) -> Option<&mut Option<SessionState<T>>> {
		self.slots.get_mut(page_of(session_id).1)
	}

	/// The open sessions of page `index` and their states.
	pub fn open_sessions(
		&self,
		index: PageIndex,
	) -> impl Iterator<Item = (SessionId, &SessionState<T>)> + '_ {
		let first = index.saturating_mul(SESSIONS_PER_PAGE);
		self.slots.iter().enumerate().filter_map(move |(slot, state)| {
			state.as_ref().map(|s| (first.saturating_add(slot as u64), s))
		})
	}
}

/// An open viewing session: the combined view of its [`SessionInfo`] (in [`crate::Sessions`])
/// and its [`SessionState`] (in [`crate::SessionPages`]), as returned by
/// [`crate::Pallet::session`]. Not stored as such.
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

impl<T: Config> Session<T> {
	/// The session made of its cold `info` and its hot `state` (pure: clients that read both
	/// storage items call it natively).
	pub fn assemble(info: SessionInfo<T>, state: SessionState<T>) -> Self {
		let SessionInfo { viewer, stream_id, price_per_second, max_seconds, opened_at } = info;
		let SessionState { settled_seconds, escrow_remaining, last_activity } = state;
		Self {
			viewer,
			stream_id,
			price_per_second,
			max_seconds,
			settled_seconds,
			escrow_remaining,
			opened_at,
			last_activity,
		}
	}

	/// The cold and hot parts of the session, as stored.
	pub fn split(self) -> (SessionInfo<T>, SessionState<T>) {
		let Self {
			viewer,
			stream_id,
			price_per_second,
			max_seconds,
			settled_seconds,
			escrow_remaining,
			opened_at,
			last_activity,
		} = self;
		(
			SessionInfo { viewer, stream_id, price_per_second, max_seconds, opened_at },
			SessionState { settled_seconds, escrow_remaining, last_activity },
		)
	}
}

/// A voucher: the viewer's signed statement "I have watched `cumulative_seconds` seconds of
/// session `session_id` in total".
///
/// The signed payload is `(VOUCHER_TAG, genesis_hash, session_id, cumulative_seconds).encode()`
/// (see [`crate::Pallet::voucher_payload`]), signed as is or wrapped in `<Bytes>`…`</Bytes>`
/// as `encoding` says.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Voucher<Signature> {
	/// The session.
	pub session_id: SessionId,
	/// Total seconds watched since the session was opened.
	pub cumulative_seconds: u64,
	/// Which bytes the signature covers.
	pub encoding: VoucherEncoding,
	/// The viewer's signature of the payload.
	pub signature: Signature,
}

/// The last voucher of a session, given when closing it (the session is the call's argument).
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct FinalVoucher<Signature> {
	/// Total seconds watched since the session was opened.
	pub cumulative_seconds: u64,
	/// Which bytes the signature covers.
	pub encoding: VoucherEncoding,
	/// The viewer's signature of the payload.
	pub signature: Signature,
}

/// Which bytes a voucher signature covers. Stated by the signer so that exactly one signature
/// verification runs per voucher.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum VoucherEncoding {
	/// The payload itself (native signers such as the sidecar or subxt).
	#[default]
	Raw,
	/// `<Bytes>` ++ payload ++ `</Bytes>`: what browser wallets' `signRaw` signs.
	Wrapped,
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
	/// The signature does not verify against the session's viewer in the stated encoding.
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
