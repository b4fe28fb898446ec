//! Domain types of the ticks pallet: sessions (cold info, paged hot state and the combined
//! view), the signed payloads (vouchers, close intents, delegate calls), allowances and
//! rejection reasons.

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

/// The domain tag every close intent payload starts with, encoded as a fixed 18-byte array (no
/// length prefix). Its length differs from [`VOUCHER_TAG`]'s, so no voucher payload is ever a
/// close intent payload, nor the reverse.
pub const CLOSE_TAG: [u8; 18] = *b"vilokanam/close/v1";

/// The domain tag every delegate call payload starts with (21 bytes, no length prefix).
pub const DELEGATE_TAG: [u8; 21] = *b"vilokanam/delegate/v1";

/// Identifier of an allowance. Assigned sequentially, never reused, so that a delegate's
/// signatures under one allowance are worthless under the next one.
pub type AllowanceId = u64;

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
	/// The session's voucher key, as the account it identifies (for sr25519 and ed25519 the
	/// 32-byte public key itself): vouchers and close intents that say
	/// [`VoucherSigner::VoucherKey`] must be signed by it. Chosen by the viewer's client at
	/// opening (a key the page generated), so that it can sign every second without a wallet
	/// prompt.
	pub voucher_key: T::AccountId,
	/// When the viewer asked to close the session (milliseconds), if it did: vouchers up to the
	/// seconds elapsed by then (plus grace) still settle until the settlement window ends.
	pub closing_since: Option<u64>,
	/// The allowance whose delegate opened the session, if one did: the refund is credited
	/// back to it.
	pub allowance: Option<AllowanceId>,
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
	/// The session's voucher key (see [`SessionInfo::voucher_key`]).
	pub voucher_key: T::AccountId,
	/// When the viewer asked to close the session (see [`SessionInfo::closing_since`]).
	pub closing_since: Option<u64>,
	/// The allowance that opened the session (see [`SessionInfo::allowance`]).
	pub allowance: Option<AllowanceId>,
}

impl<T: Config> Session<T> {
	/// The session made of its cold `info` and its hot `state` (pure: clients that read both
	/// storage items call it natively).
	pub fn assemble(info: SessionInfo<T>, state: SessionState<T>) -> Self {
		let SessionInfo {
			viewer,
			stream_id,
			price_per_second,
			max_seconds,
			opened_at,
			voucher_key,
			closing_since,
			allowance,
		} = info;
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
			voucher_key,
			closing_since,
			allowance,
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
			voucher_key,
			closing_since,
			allowance,
		} = self;
		(
			SessionInfo {
				viewer,
				stream_id,
				price_per_second,
				max_seconds,
				opened_at,
				voucher_key,
				closing_since,
				allowance,
			},
			SessionState { settled_seconds, escrow_remaining, last_activity },
		)
	}

	/// Whether the session is open: not closing (closed sessions are not stored at all).
	pub fn is_open(&self) -> bool {
		self.closing_since.is_none()
	}
}

impl<T: Config> SessionInfo<T> {
	/// The account a signature by `signer` must verify against.
	pub fn signer_account(&self, signer: VoucherSigner) -> &T::AccountId {
		match signer {
			VoucherSigner::VoucherKey => &self.voucher_key,
			VoucherSigner::Viewer => &self.viewer,
		}
	}

	/// The most cumulative seconds a voucher may still settle once the viewer asked to close:
	/// the seconds elapsed from the opening to the close request, plus `grace`. `None` while
	/// the session is open.
	pub fn seconds_cap(&self, grace: u64) -> Option<u64> {
		self.closing_since
			.map(|since| (since.saturating_sub(self.opened_at) / 1_000).saturating_add(grace))
	}
}

/// A voucher: the viewer's signed statement "I have watched `cumulative_seconds` seconds of
/// session `session_id` in total".
///
/// The signed payload is `(VOUCHER_TAG, genesis_hash, session_id, cumulative_seconds).encode()`
/// (see [`crate::Pallet::voucher_payload`]), signed by the key `signer` names, as is or
/// wrapped in `<Bytes>`…`</Bytes>` as `encoding` says.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Voucher<Signature> {
	/// The session.
	pub session_id: SessionId,
	/// Total seconds watched since the session was opened.
	pub cumulative_seconds: u64,
	/// Which key signed: the session's voucher key or the viewer's account.
	pub signer: VoucherSigner,
	/// Which bytes the signature covers.
	pub encoding: VoucherEncoding,
	/// The signature of the payload.
	pub signature: Signature,
}

/// A close intent: the viewer's signed statement "close session `session_id`; I watched
/// `cumulative_seconds` seconds in total". Signed without a wallet prompt by the session's
/// voucher key, so that the page (or the sidecar it hands the intent to) can close a session
/// when the viewer leaves or the tab closes.
///
/// The signed payload is `(CLOSE_TAG, genesis_hash, session_id, cumulative_seconds).encode()`
/// (see [`crate::Pallet::close_payload`]): its own tag, so that a voucher is never a close
/// intent and a close intent never a voucher.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct CloseIntent<Signature> {
	/// Total seconds watched since the session was opened.
	pub cumulative_seconds: u64,
	/// Which key signed.
	pub signer: VoucherSigner,
	/// Which bytes the signature covers.
	pub encoding: VoucherEncoding,
	/// The signature of the payload.
	pub signature: Signature,
}

/// Which key signed a voucher or a close intent. Stated by the signer so that exactly one
/// signature verification runs.
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
pub enum VoucherSigner {
	/// The session's voucher key ([`SessionInfo::voucher_key`]).
	#[default]
	VoucherKey,
	/// The viewer's own account key.
	Viewer,
}

/// What a signed payload is: the domain its tag names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PayloadKind {
	/// A settlement voucher ([`VOUCHER_TAG`]).
	Voucher,
	/// A close intent ([`CLOSE_TAG`]).
	CloseIntent,
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
	/// The viewer asked to close the session, and `cumulative_seconds` is more than the time
	/// elapsed from the opening to that request plus `Config::ElapsedGrace`.
	AfterClose,
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
	/// The stream's creator or relayer closed it at once.
	Closed,
	/// Nothing settled for `Config::IdleTimeout` blocks on a live stream; closed through
	/// `close_expired`.
	Expired,
	/// The settlement window after the viewer's close request or the stream's end passed;
	/// closed through `close_expired`.
	WindowElapsed,
}

/// What is kept of a closed session for
/// [`Config::ClosedRetention`](crate::Config::ClosedRetention) blocks, in
/// [`crate::ClosedSessions`]: what it was, what it settled and refunded, and when and
/// why it closed. Clients read it (`vilokanam_session`) to show a viewer the outcome of a
/// session after the fact; nothing on chain reads it.
#[derive(
	Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct ClosedSession<T: Config> {
	/// The session's cold data as it was when it closed (viewer, stream, price, seconds paid
	/// for, opening, voucher key, close request, allowance).
	pub info: SessionInfo<T>,
	/// The seconds settled over the session's life.
	pub settled_seconds: u64,
	/// What the viewer (or, for a reaped viewer, the platform) got back at the close.
	pub refunded: BalanceOf<T>,
	/// When it closed (milliseconds, the block's timestamp).
	pub closed_at: u64,
	/// The block it closed in; the record is removed
	/// [`Config::ClosedRetention`](crate::Config::ClosedRetention) blocks later (or later still,
	/// when blocks have no room left to prune).
	pub closed_in: BlockNumberFor<T>,
	/// Why it closed.
	pub reason: CloseReason,
}

/// A viewer's allowance: a delegate key (held by the viewer's page) may open and top up
/// sessions for the viewer, paying deposits and fees from the viewer's balance, up to `amount`
/// per `period`, until `expires_at`. Stored in [`crate::Allowances`], one per viewer.
#[derive(
	Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct Allowance<T: Config> {
	/// The allowance's id; delegate calls name it, so a signature under an earlier
	/// allowance is worthless.
	pub id: AllowanceId,
	/// The delegate key, as the account it identifies.
	pub delegate: T::AccountId,
	/// What the delegate may commit per period: deposits and top-ups put into escrow, and the
	/// fees of its calls. Refunds of sessions it opened in the current period are credited back.
	pub amount: BalanceOf<T>,
	/// The period in milliseconds after which `used` starts again from zero; 0: never (one
	/// budget until `expires_at`).
	pub period: u64,
	/// When the allowance stops working (milliseconds).
	pub expires_at: u64,
	/// The start of the current period (milliseconds).
	pub period_start: u64,
	/// What the delegate committed in the current period.
	pub used: BalanceOf<T>,
	/// The nonce the next delegate call must carry.
	pub nonce: u32,
}

impl<T: Config> Allowance<T> {
	/// The allowance as of `now`: a new period starts with `used` at zero once the current one
	/// has passed (periods follow each other without gaps).
	pub fn rolled(mut self, now: u64) -> Self {
		if self.period > 0 && now >= self.period_start.saturating_add(self.period) {
			let periods = (now.saturating_sub(self.period_start)) / self.period;
			self.period_start =
				self.period_start.saturating_add(periods.saturating_mul(self.period));
			self.used = Default::default();
		}
		self
	}

	/// What is left to commit in the current period.
	pub fn remaining(&self) -> BalanceOf<T> {
		use sp_runtime::traits::Saturating;
		self.amount.saturating_sub(self.used)
	}
}

/// What a delegate may do for its viewer.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub enum DelegateOp<T: Config> {
	/// `open_session` for the viewer, with the deposit from the viewer's balance.
	OpenSession {
		/// The stream.
		stream_id: StreamId,
		/// Seconds to pay into escrow.
		max_seconds: u64,
		/// The highest price per second the viewer agreed to.
		max_price_per_second: BalanceOf<T>,
		/// The session's voucher key.
		voucher_key: T::AccountId,
	},
	/// `top_up` of one of the viewer's sessions.
	TopUp {
		/// The session.
		session_id: SessionId,
		/// Seconds to add.
		extra_seconds: u64,
	},
}

/// Fees charged for delegate calls (which are authorized, not signed, so the transaction
/// payment extension charges nothing): taken from the viewer's balance and counted against the
/// allowance. The runtime prices them like a signed transaction of the same weight and length.
pub trait DelegateFee<Balance> {
	/// The fee of a call of `weight` and encoded `length`.
	fn fee(weight: frame_support::weights::Weight, length: u32) -> Balance;
}

impl<Balance: Default> DelegateFee<Balance> for () {
	fn fee(_: frame_support::weights::Weight, _: u32) -> Balance {
		Balance::default()
	}
}
