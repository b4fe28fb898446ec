//! # Ticks pallet
//!
//! Viewing sessions and per-second settlement for Vilokanam. A viewer opens a session on a live
//! stream (or on an ended stream's replay, which its creator offers) and escrows `price × max_seconds`; while watching, the viewer's client signs
//! cumulative vouchers ("I watched N seconds of session S") with the session's **voucher key**,
//! a key the page generated and holds, so no wallet prompt is needed per second; a relayer (or
//! the viewer) submits the latest voucher and the pallet pays `(N − settled) × price` out of
//! escrow, split by `pallet-payouts`. With an **allowance**, the wallet is asked once (for the
//! allowance) and the page opens, tops up and closes sessions on any stream without a prompt.
//!
//! ## Map
//!
//! - [`Config`] — the signature type, the escrow [`PalletId`](Config::PalletId), batch and
//!   session bounds, idle timeout, clock grace, the [settlement window](Config::SettleWindow)
//!   and the [fee of delegate calls](Config::DelegateFee).
//! - [`Call`]:
//!   - sessions ([`sessions`]): [`open_session`](Pallet::open_session),
//!     [`top_up`](Pallet::top_up), [`close_session`](Pallet::close_session),
//!     [`submit_close_intent`](Pallet::submit_close_intent) (authorized by the intent's
//!     signature), [`close_expired`](Pallet::close_expired) (authorized, submitted by the
//!     off-chain worker: [`offchain`]);
//!   - settlement ([`settlement`]): [`settle_batch`](Pallet::settle_batch),
//!     [`tick`](Pallet::tick);
//!   - allowances ([`allowance`]): [`grant_allowance`](Pallet::grant_allowance),
//!     [`revoke_allowance`](Pallet::revoke_allowance), [`delegate`](Pallet::delegate)
//!     (authorized by the delegate's signature).
//! - Storage: [`Sessions`] (cold session data), [`SessionPages`] (hot settlement state, in
//!   pages of [`SESSIONS_PER_PAGE`] consecutive sessions), [`OpenSessionCount`],
//!   [`NextSessionId`], [`Allowances`], [`NextAllowanceId`]; closed sessions' records
//!   ([`history`]): [`ClosedSessions`], [`ClosedQueue`], [`ClosedQueueBounds`].
//! - Hooks: `offchain_worker` ([`offchain`]), `on_idle` (removes closed sessions' records
//!   older than [`Config::ClosedRetention`], [`history`]).
//! - [`Event`] and [`Error`]; domain types in [`types`]: [`Session`] (the combined view),
//!   [`SessionInfo`], [`SessionState`], [`SessionPage`], [`ClosedSession`], [`Voucher`],
//!   [`CloseIntent`], [`Allowance`], [`DelegateOp`], [`RejectReason`], [`CloseReason`].
//! - Helpers for clients: [`Pallet::session`], [`Pallet::closed_session`],
//!   [`Pallet::voucher_payload`], [`Pallet::close_payload`], [`Pallet::delegate_payload`],
//!   [`Pallet::escrow_account`], and the pure [`Session::assemble`], [`page_of`] and
//!   [`pages_of`] (the `pages` witness of `settle_batch`).
//! - Invariants: [`invariants`] (`try_state`).
//!
//! ## Terminology
//!
//! - **Session**: a viewer's paid viewing of one stream, with a fixed price (copied from the
//!   stream at opening, never above the viewer's `max_price_per_second`) and `max_seconds`
//!   paid into escrow. A session is *open*, then *closing* once the viewer asked to close it,
//!   then *closed* (removed, the rest refunded; a [`ClosedSession`] record says what it
//!   settled and refunded for [`Config::ClosedRetention`] blocks).
//! - **Voucher key**: a public key (sr25519 or ed25519, as the account it identifies) named at
//!   opening. Vouchers and close intents say which key signed them ([`VoucherSigner`]): the
//!   voucher key or the viewer's own account.
//! - **Voucher**: `(session_id, cumulative_seconds, signer, encoding, signature)`. The signer
//!   signs `(b"vilokanam/tick/v1", genesis_hash, session_id, cumulative_seconds).encode()` —
//!   the tag as a fixed `[u8; 17]` (no length prefix), the genesis hash of the chain, then two
//!   little-endian `u64`s — either as is ([`VoucherEncoding::Raw`]) or in the browser-wallet
//!   wrapping `<Bytes>` ++ payload ++ `</Bytes>` ([`VoucherEncoding::Wrapped`]). The voucher
//!   states signer and encoding, so one signature verification runs per voucher. Vouchers are
//!   cumulative, so only the latest one matters: an older or replayed voucher is rejected
//!   ([`RejectReason::NotIncreasing`]) and never charges twice.
//! - **Close intent**: the same layout under its own tag, `(b"vilokanam/close/v1",
//!   genesis_hash, session_id, cumulative_seconds)` (an 18-byte tag, so a voucher is never a
//!   close intent and the reverse). Anyone may submit it
//!   ([`submit_close_intent`](Pallet::submit_close_intent), no fee: the signature authorizes
//!   it, once per session): it settles its seconds and starts the settlement window.
//! - **Settlement window** ([`Config::SettleWindow`]): after the viewer asks to close (by
//!   `close_session` or a close intent) or after the stream ends, vouchers signed before that
//!   moment may still settle for this long; only then may anyone (the off-chain worker) refund
//!   the rest. The stream's creator or its relayer may close at once instead.
//! - **Relayer**: any account that submits [`settle_batch`](Pallet::settle_batch) on behalf of
//!   viewers (typically the stream's media sidecar). It needs no trust: every voucher carries
//!   a signature. The **stream's relayer** (`pallet_streams::Stream::relayer`, chosen by the
//!   creator) is the one the creator trusts to have settled everything it acknowledged: it may
//!   close the stream's sessions at once, ending their windows.
//! - **Allowance**: a budget a viewer grants a delegate key (see [`allowance`]).
//! - **Escrow account**: `PalletId::into_account_truncating()`; holds all sessions' funds.
//!
//! ## What a creator and a viewer risk
//!
//! - A viewer pays only for what it (or its voucher key) signed, never above the seconds
//!   elapsed since the opening plus [`Config::ElapsedGrace`] at settlement time, and, once it
//!   asked to close, never above the seconds elapsed until that request plus the grace
//!   ([`RejectReason::AfterClose`]).
//! - A creator is paid for every voucher its relayer submits within the settlement window
//!   after the viewer's close request or the stream's end. Its exposure is bounded by the
//!   window: acknowledged vouchers that its relayer has not settled when
//!   [`Config::SettleWindow`] has passed may be refunded to the viewer. While the stream is
//!   live and the viewer has not asked to close, a session is refunded only after
//!   [`Config::IdleTimeout`] blocks without settlement: the relayer settles well within that.
//!
//! ## Why an escrow account and not holds
//!
//! Settling from holds would touch, per voucher, the viewer's account and its holds list (and
//! release-then-transfer). With one escrow account, settling a voucher reads the session's
//! cold [`SessionInfo`] and changes only its [`SessionState`], while the payments of a whole
//! batch are aggregated in memory per recipient ([`pallet_payouts::Credits`]) and per stream,
//! and written once per batch: one transfer per distinct recipient out of the escrow, one
//! stream update per distinct stream. Stream data is read once per batch (cached).
//!
//! ## Session pages
//!
//! A storage write (≈ 50 µs on ParityDB) costs more than the voucher's signature check, so the
//! hot state of sessions is stored in pages of [`SESSIONS_PER_PAGE`] consecutive session ids
//! ([`SessionPages`], slot `id % SESSIONS_PER_PAGE`). A batch loads each page it touches once
//! (lazily) and writes it once at the end: a voucher costs one verification + one cold read +
//! about `1/64` of a page read and write when the batch settles consecutive sessions, which is
//! what makes ≥ 15,000 vouchers per 6 s block reachable. `settle_batch` takes the number of
//! distinct pages as a witness (`pages`, computed with [`pages_of`]) so that its pre-dispatch
//! weight charges for exactly those pages. A page is removed when its last session closes.
//!
//! ## Escrow and the existential deposit
//!
//! The escrow account is endowed with the existential deposit (ED) at genesis, and every
//! outflow uses `Preservation::Preserve`, so it is never reaped and never loses dust. The
//! invariant (checked by `try_state`) is `balance(escrow) ≥ ED + Σ escrow_remaining`; it is an
//! equality unless somebody sends funds to the escrow account directly. A refund that a
//! (reaped) viewer cannot receive because it is below ED goes to the platform account of
//! `pallet-payouts` instead; payouts below ED follow `pallet-payouts`' policy.
//!
//! ## Off-chain worker
//!
//! The worker scans a bounded number of sessions per block, page by page of [`SessionPages`]
//! (resuming from a cursor kept in off-chain local storage), picks those that may be refunded
//! ([`Pallet::expiry`]: idle on a live stream, or past their settlement window), and submits
//! one authorized transaction [`close_expired`](Pallet::close_expired) (via
//! [`CreateAuthorizedTransaction`](frame_system::offchain::CreateAuthorizedTransaction), not
//! `ValidateUnsigned`). Its `#[pallet::authorize]` function re-checks that every listed session
//! may be refunded and `provides` one tag per session so duplicates are dropped by the pool.
//! A [`StorageLock`](sp_runtime::offchain::storage_lock::StorageLock) with a block-and-time
//! deadline prevents a second submission while one is pending. No runtime hook iterates
//! sessions: `on_initialize`/`on_finalize` are not used; `on_idle` only removes expired
//! closed-session records, within the block's leftover weight.
//!
//! ## Assumptions
//!
//! - Sessions are only opened on `Live` streams, and a stream with stored sessions (open or
//!   closing) cannot be removed (`pallet-streams` checks `current_viewers == 0`, which this
//!   pallet keeps equal to the number of stored sessions of the stream).
//! - Timestamps are milliseconds (`pallet_timestamp`, and `pallet-streams`' clock).
//! - The page signs a voucher only for seconds it watched, so nothing limits vouchers of an
//!   ended stream beyond the elapsed-time rule: an honest client signs nothing after the end.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

pub mod allowance;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod history;
pub mod invariants;
pub mod migrations;
#[cfg(test)]
mod mock;
pub mod offchain;
pub mod sessions;
pub mod settlement;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

/// The key of the off-chain lock that prevents concurrent or duplicate submissions.
pub const OCW_LOCK_KEY: &[u8] = b"vilokanam::ticks::close-expired-lock";
/// The key of the off-chain scan cursor (the raw storage key where the next scan resumes).
/// (A raw key of [`SessionPages`]; a new name, so that a cursor into the former `Sessions`
/// layout is not reused.)
pub const OCW_CURSOR_KEY: &[u8] = b"vilokanam::ticks::close-expired-page-cursor";
/// Blocks a submission stays "pending" (the lock is held) before the worker may resubmit.
pub const OCW_LOCK_BLOCKS: u32 = 5;
/// Milliseconds a submission stays "pending" at least (together with [`OCW_LOCK_BLOCKS`]).
pub const OCW_LOCK_MILLIS: u64 = 30_000;
/// The most sessions one worker run reads.
pub const OCW_SCAN_LIMIT: u32 = 4_096;
/// The priority of `close_expired` transactions: the lowest, at or below every signed
/// transaction's (`settle_batch` included), since they pay no fee.
pub const CLOSE_EXPIRED_PRIORITY: u64 = 0;
/// How long (blocks) a `close_expired` transaction stays valid in the pool.
pub const CLOSE_EXPIRED_LONGEVITY: u64 = 5;
/// The most closed-session records one block's `on_idle` removes (fewer when the block has less
/// room): enough to keep up with any realistic rate of closes, small enough to bound the hook.
pub const MAX_PRUNED_PER_BLOCK: u32 = 512;
/// The priority of authorized calls that users submit (close intents, delegate calls): no
/// higher than a signed transaction without tip, so they cannot push paid work out of blocks.
pub const USER_AUTHORIZED_PRIORITY: u64 = 0;
/// How long (blocks) a close intent or delegate call stays valid in the pool.
pub const USER_AUTHORIZED_LONGEVITY: u64 = 20;

#[frame_support::pallet]
// `#[pallet::authorize]` spells out the type of `authorize_delegate`, a function of six
// arguments.
#[allow(clippy::type_complexity)]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::{offchain::CreateAuthorizedTransaction, pallet_prelude::*};
	use pallet_streams::StreamId;

	/// The ticks pallet.
	#[pallet::pallet]
	#[pallet::storage_version(migrations::STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of the ticks pallet.
	#[pallet::config]
	pub trait Config:
		frame_system::Config
		+ pallet_streams::Config
		+ pallet_payouts::Config
		+ pallet_timestamp::Config
		+ CreateAuthorizedTransaction<Call<Self>>
	{
		/// The signature of vouchers, close intents and delegate calls; its signer must
		/// identify as a `Self::AccountId` (`sp_runtime::MultiSignature` with `AccountId32` in
		/// the runtime).
		type VoucherSignature: Verify<Signer: IdentifyAccount<AccountId = Self::AccountId>>
			+ Parameter
			+ DecodeWithMemTracking
			+ MaxEncodedLen;

		/// The id from which the escrow account is derived.
		#[pallet::constant]
		type PalletId: Get<frame_support::PalletId>;

		/// Maximum number of vouchers in one `settle_batch`.
		#[pallet::constant]
		type MaxVouchersPerBatch: Get<u32>;

		/// Maximum number of sessions in one `close_expired`.
		#[pallet::constant]
		type MaxCloseBatch: Get<u32>;

		/// An open session of a live stream without opening, top-up or settlement for this
		/// many blocks may be refunded.
		#[pallet::constant]
		type IdleTimeout: Get<BlockNumberFor<Self>>;

		/// Seconds a voucher may run ahead of the on-chain clock (clock skew and latency).
		#[pallet::constant]
		type ElapsedGrace: Get<u64>;

		/// Maximum `max_seconds` of a session (including top-ups).
		#[pallet::constant]
		type MaxSecondsPerSession: Get<u64>;

		/// Milliseconds during which vouchers still settle after the viewer asked to close a
		/// session or its stream ended, before the rest may be refunded: a creator's relayer
		/// has this long to settle what it acknowledged.
		#[pallet::constant]
		type SettleWindow: Get<u64>;

		/// The fee of a delegate call, charged to the viewer and counted against the
		/// allowance.
		type DelegateFee: DelegateFee<BalanceOf<Self>>;

		/// Blocks a closed session's record ([`ClosedSessions`]) is kept at least, so that
		/// clients can still show what it settled and refunded (a day of blocks in the
		/// runtime). Records are removed by `on_idle`, oldest first.
		#[pallet::constant]
		type ClosedRetention: Get<BlockNumberFor<Self>>;

		/// Weight information for the calls of this pallet.
		type WeightInfo: WeightInfo;
	}

	/// The identifier the next opened session gets.
	#[pallet::storage]
	pub type NextSessionId<T> = StorageValue<_, SessionId, ValueQuery>;

	/// The cold data of the stored sessions (open or closing); closed sessions are removed.
	/// Their settlement state is in [`SessionPages`]; use [`Pallet::session`] for the combined
	/// view.
	///
	/// A plain map (not a `CountedStorageMap`, whose `insert` reads the key again to maintain
	/// its counter), so that settling a voucher reads it once and never writes it.
	#[pallet::storage]
	pub type Sessions<T: Config> =
		StorageMap<_, Twox64Concat, SessionId, SessionInfo<T>, OptionQuery>;

	/// The settlement state of the stored sessions, in pages of [`SESSIONS_PER_PAGE`]
	/// consecutive ids: page `id / SESSIONS_PER_PAGE`, slot `id % SESSIONS_PER_PAGE`. A slot
	/// is `Some` exactly while its session has an entry in [`Sessions`]; a page without stored
	/// sessions is removed.
	#[pallet::storage]
	pub type SessionPages<T: Config> =
		StorageMap<_, Twox64Concat, PageIndex, SessionPage<T>, OptionQuery>;

	/// The number of stored sessions (entries of [`Sessions`]).
	#[pallet::storage]
	pub type OpenSessionCount<T> = StorageValue<_, u32, ValueQuery>;

	/// What is kept of recently closed sessions ([`ClosedSession`]), for
	/// [`Config::ClosedRetention`] blocks at least; see [`history`].
	#[pallet::storage]
	pub type ClosedSessions<T: Config> =
		StorageMap<_, Twox64Concat, SessionId, ClosedSession<T>, OptionQuery>;

	/// The ids of [`ClosedSessions`] in the order they closed: entry `n` is the `n`-th record
	/// written; entries `head..tail` ([`ClosedQueueBounds`]) are live. `on_idle` removes from
	/// the head.
	#[pallet::storage]
	pub type ClosedQueue<T: Config> = StorageMap<_, Twox64Concat, u64, SessionId, OptionQuery>;

	/// `(head, tail)` of [`ClosedQueue`].
	#[pallet::storage]
	pub type ClosedQueueBounds<T> = StorageValue<_, (u64, u64), ValueQuery>;

	/// Each viewer's allowance (at most one; granting again replaces it).
	#[pallet::storage]
	pub type Allowances<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, Allowance<T>, OptionQuery>;

	/// The identifier the next granted allowance gets.
	#[pallet::storage]
	pub type NextAllowanceId<T> = StorageValue<_, AllowanceId, ValueQuery>;

	/// Genesis configuration: nothing to configure, but the build endows the escrow account
	/// with the existential deposit.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		#[serde(skip)]
		#[allow(missing_docs)]
		pub _config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			Pallet::<T>::endow_escrow();
		}
	}

	/// Events of the ticks pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(crate) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A viewer opened a session and paid `deposit` into escrow.
		SessionOpened {
			/// The new session.
			session_id: SessionId,
			/// The viewer.
			viewer: T::AccountId,
			/// The stream.
			stream_id: StreamId,
			/// The price per second, fixed for the session.
			price_per_second: BalanceOf<T>,
			/// Seconds paid for.
			max_seconds: u64,
			/// The amount moved into escrow.
			deposit: BalanceOf<T>,
			/// The session's voucher key.
			voucher_key: T::AccountId,
			/// The allowance whose delegate opened it, if one did.
			allowance: Option<AllowanceId>,
		},
		/// A viewer paid for more seconds.
		SessionToppedUp {
			/// The session.
			session_id: SessionId,
			/// The new `max_seconds`.
			max_seconds: u64,
			/// The amount moved into escrow.
			amount: BalanceOf<T>,
		},
		/// A single voucher, tick or close intent was settled (from `tick`, `close_session` or
		/// `submit_close_intent`).
		SessionSettled {
			/// The session.
			session_id: SessionId,
			/// The new settled total.
			cumulative_seconds: u64,
			/// The amount paid for the new seconds.
			amount: BalanceOf<T>,
		},
		/// A batch of vouchers was processed. Accepted vouchers are summarized here (their new
		/// state is in [`SessionPages`]); each rejected one has its own
		/// [`Event::VoucherRejected`].
		BatchSettled {
			/// Vouchers settled.
			accepted: u32,
			/// Vouchers rejected.
			rejected: u32,
			/// Total paid out of escrow (before fee and split).
			total_paid: BalanceOf<T>,
		},
		/// A voucher (or close intent) was not settled; nothing changed for its session.
		VoucherRejected {
			/// The voucher's session.
			session_id: SessionId,
			/// Why.
			reason: RejectReason,
		},
		/// The viewer asked to close a session: vouchers up to the seconds elapsed until now
		/// (plus grace) still settle until `refund_at`, then the rest is refunded.
		SessionClosing {
			/// The session.
			session_id: SessionId,
			/// Seconds settled so far.
			settled_seconds: u64,
			/// When the settlement window ends (milliseconds).
			refund_at: u64,
		},
		/// A session was closed and the rest of its escrow refunded to the viewer.
		SessionClosed {
			/// The session.
			session_id: SessionId,
			/// Seconds settled over the session's life.
			settled_seconds: u64,
			/// The amount refunded.
			refunded: BalanceOf<T>,
			/// Why it was closed.
			reason: CloseReason,
		},
		/// A viewer granted an allowance (replacing `replaced`, if it had one).
		AllowanceGranted {
			/// The viewer.
			viewer: T::AccountId,
			/// The new allowance.
			allowance_id: AllowanceId,
			/// The delegate key.
			delegate: T::AccountId,
			/// The budget per period.
			amount: BalanceOf<T>,
			/// The period (milliseconds; 0: no renewal).
			period: u64,
			/// When it stops working (milliseconds).
			expires_at: u64,
			/// The allowance it replaced.
			replaced: Option<AllowanceId>,
		},
		/// A viewer revoked its allowance.
		AllowanceRevoked {
			/// The viewer.
			viewer: T::AccountId,
			/// The revoked allowance.
			allowance_id: AllowanceId,
		},
		/// A delegate call was executed: its fee was paid, and its operation succeeded or
		/// changed nothing (`result`).
		DelegateCallExecuted {
			/// The viewer.
			viewer: T::AccountId,
			/// The allowance.
			allowance_id: AllowanceId,
			/// The call's nonce.
			nonce: u32,
			/// The fee charged to the viewer and the allowance.
			fee: BalanceOf<T>,
			/// The operation's outcome.
			result: DispatchResult,
		},
	}

	/// Errors of the ticks pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// The stream does not exist.
		StreamNotFound,
		/// Sessions can only be opened on live streams.
		StreamNotLive,
		/// The stream's creator banned the caller.
		Banned,
		/// `max_seconds` / `extra_seconds` must be above zero.
		ZeroSeconds,
		/// The session would exceed [`Config::MaxSecondsPerSession`].
		TooManySeconds,
		/// `price × seconds` overflows the balance type.
		Overflow,
		/// No stored session with this id.
		SessionNotFound,
		/// Only the session's viewer may do this.
		NotViewer,
		/// Only the session's viewer, the stream's creator or the stream's relayer may close
		/// it.
		NotParticipant,
		/// The session id space is exhausted.
		SessionIdOverflow,
		/// `tick`: the session was closed.
		SessionClosed,
		/// `tick`: the seconds are not above the settled seconds.
		NotIncreasing,
		/// `tick`: the seconds are above the seconds paid for.
		AboveMaxSeconds,
		/// `tick`: the seconds are ahead of the time elapsed since the opening (plus grace).
		AheadOfTime,
		/// The escrow account lacks funds for a payment (an invariant violation).
		EscrowInsufficient,
		/// `settle_batch`: the vouchers' sessions sit on more distinct pages than the witness
		/// declares (compute it with [`pages_of`]); nothing was settled.
		TooManyPages,
		/// `settle_batch`: the accepted vouchers are on more distinct streams than the witness
		/// declares (declare the distinct streams of all the vouchers); nothing was settled.
		TooManyStreams,
		/// The stream's price per second is above the viewer's `max_price_per_second`.
		PriceAboveMax,
		/// The viewer already asked to close this session: it can no longer be topped up or
		/// asked to close again.
		SessionClosing,
		/// `tick`: the seconds are above what had elapsed when the viewer asked to close.
		AfterClose,
		/// The viewer has no allowance (or not this one).
		AllowanceNotFound,
		/// An allowance must have a budget above zero and expire in the future.
		InvalidAllowance,
		/// The allowance expired.
		AllowanceExpired,
		/// The operation (with its fee) would commit more than is left of the allowance in
		/// this period.
		AllowanceExceeded,
		/// A delegate call's nonce is not the allowance's next one.
		BadNonce,
		/// The stream has ended and its creator does not offer its replay.
		ReplayNotOffered,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn offchain_worker(now: BlockNumberFor<T>) {
			match Self::submit_close_expired(now) {
				Ok(0) => {},
				Ok(n) => {
					log::debug!(target: LOG_TARGET, "submitted close_expired for {n} sessions")
				},
				Err(e) => log::debug!(target: LOG_TARGET, "close_expired not submitted: {e}"),
			}
		}

		fn on_idle(now: BlockNumberFor<T>, remaining: Weight) -> Weight {
			Self::prune_closed_within(now, remaining)
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Open a session on a live stream, or on the replay of an ended one whose creator
		/// offers it (at the offer's price: `pallet_streams::ReplayOffers`), and move
		/// `price × max_seconds` from the caller to the escrow account (the caller is kept
		/// alive). The price is fixed for the session; a
		/// stream whose price is above `max_price_per_second` is refused (the price may change
		/// while the transaction waits in the pool). Vouchers and close intents may be signed
		/// by `voucher_key` (or by the caller's own key).
		///
		/// Emits [`Event::SessionOpened`].
		///
		/// Errors: [`Error::ZeroSeconds`], [`Error::TooManySeconds`], [`Error::StreamNotFound`],
		/// [`Error::StreamNotLive`], [`Error::ReplayNotOffered`], [`Error::PriceAboveMax`],
		/// [`Error::Banned`],
		/// [`Error::Overflow`], [`Error::SessionIdOverflow`]; a currency error if the caller
		/// cannot pay.
		#[pallet::call_index(0)]
		#[pallet::weight(<T as Config>::WeightInfo::open_session())]
		pub fn open_session(
			origin: OriginFor<T>,
			stream_id: StreamId,
			max_seconds: u64,
			max_price_per_second: BalanceOf<T>,
			voucher_key: T::AccountId,
		) -> DispatchResult {
			let viewer = ensure_signed(origin)?;
			Self::do_open(viewer, stream_id, max_seconds, max_price_per_second, voucher_key, None)
				.map(|_| ())
		}

		/// Pay for `extra_seconds` more of an open session at its fixed price (viewer only; the
		/// caller is kept alive).
		///
		/// Emits [`Event::SessionToppedUp`].
		///
		/// Errors: [`Error::ZeroSeconds`], [`Error::SessionNotFound`], [`Error::NotViewer`],
		/// [`Error::SessionClosing`], [`Error::TooManySeconds`], [`Error::Overflow`]; a
		/// currency error if the caller cannot pay.
		#[pallet::call_index(1)]
		#[pallet::weight(<T as Config>::WeightInfo::top_up())]
		pub fn top_up(
			origin: OriginFor<T>,
			session_id: SessionId,
			extra_seconds: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_top_up(&who, session_id, extra_seconds, false).map(|_| ())
		}

		/// Settle the caller's own session up to `cumulative_seconds` (no signature needed: the
		/// origin is the viewer). Same rules as a voucher in `settle_batch`, but a refusal is an
		/// error instead of an event.
		///
		/// Emits [`Event::SessionSettled`], plus `pallet-payouts` credit events.
		///
		/// Errors: [`Error::SessionNotFound`], [`Error::SessionClosed`], [`Error::NotViewer`],
		/// [`Error::NotIncreasing`], [`Error::AboveMaxSeconds`], [`Error::AheadOfTime`],
		/// [`Error::AfterClose`], [`Error::EscrowInsufficient`].
		#[pallet::call_index(2)]
		#[pallet::weight(<T as Config>::WeightInfo::tick())]
		pub fn tick(
			origin: OriginFor<T>,
			session_id: SessionId,
			cumulative_seconds: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_tick(&who, session_id, cumulative_seconds)
		}

		/// Settle a batch of vouchers, each all-or-nothing: an accepted voucher pays
		/// `(cumulative − settled) × price` out of escrow; a rejected one changes nothing and
		/// is reported. Anyone may submit (typically a relayer).
		///
		/// `witness` declares what the batch touches, so that the call is priced exactly
		/// before dispatch (pricing every voucher as its own stream and page would cap a batch
		/// at a few hundred vouchers): `pages`, the distinct session pages of the vouchers
		/// ([`pages_of`] of their session ids), checked up front ([`Error::TooManyPages`]
		/// before changing anything); `streams`, the distinct streams of the vouchers that
		/// will be accepted (at most the distinct streams of all of them), checked as they are
		/// accepted ([`Error::TooManyStreams`] reverts the whole call).
		///
		/// Per voucher, exactly one read of its session's cold data; each touched page of
		/// settlement state is read once and (if a voucher on it is accepted) written once at
		/// the end. Payments are aggregated and made once per distinct recipient, stream totals
		/// once per distinct stream. The actual weight (refunding the rest) depends on the
		/// accepted and rejected counts and the numbers of distinct streams and pages.
		///
		/// Emits [`Event::BatchSettled`], one [`Event::VoucherRejected`] per rejected voucher,
		/// and `pallet-payouts` credit events per recipient.
		///
		/// Errors: [`Error::TooManyPages`], [`Error::TooManyStreams`];
		/// [`Error::EscrowInsufficient`] (an invariant violation; the whole batch is reverted);
		/// arithmetic overflow.
		#[pallet::call_index(3)]
		#[pallet::weight(Pallet::<T>::settle_batch_declared_weight(vouchers.len() as u32, *witness))]
		pub fn settle_batch(
			origin: OriginFor<T>,
			vouchers: BoundedVec<Voucher<T::VoucherSignature>, T::MaxVouchersPerBatch>,
			witness: BatchWitness,
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			Self::do_settle_batch(&vouchers, witness)
		}

		/// Close a session, settling `final_intent` first if given and valid (an invalid one is
		/// reported with [`Event::VoucherRejected`] and ignored).
		///
		/// - By the session's viewer: the session starts closing; vouchers up to the seconds
		///   elapsed until now (plus grace) still settle during [`Config::SettleWindow`], then
		///   the rest is refunded (by `close_expired`), or at once by the creator or relayer.
		/// - By the stream's creator or relayer: the session is closed and the rest of its
		///   escrow refunded to the viewer at once.
		///
		/// Emits [`Event::SessionClosing`] or [`Event::SessionClosed`];
		/// [`Event::SessionSettled`] or [`Event::VoucherRejected`] for the final intent.
		///
		/// Errors: [`Error::SessionNotFound`], [`Error::NotParticipant`],
		/// [`Error::SessionClosing`] (the viewer asked already), [`Error::EscrowInsufficient`].
		#[pallet::call_index(4)]
		#[pallet::weight(<T as Config>::WeightInfo::close_session())]
		pub fn close_session(
			origin: OriginFor<T>,
			session_id: SessionId,
			final_intent: Option<CloseIntent<T::VoucherSignature>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_close_session(&who, session_id, final_intent)
		}

		/// Refund sessions that may be refunded ([`Pallet::expiry`]): idle for
		/// [`Config::IdleTimeout`] blocks on a live stream, or past their settlement window
		/// after the viewer's close request or the stream's end. Submitted by the off-chain
		/// worker as an authorized transaction; the authorization checks that every listed
		/// stored session may be refunded. Sessions already closed are skipped, so the call is
		/// idempotent.
		///
		/// Emits [`Event::SessionClosed`] per closed session.
		///
		/// Errors: `BadOrigin` unless authorized; [`Error::EscrowInsufficient`].
		#[pallet::call_index(5)]
		#[pallet::weight(<T as Config>::WeightInfo::close_expired(session_ids.len() as u32))]
		#[pallet::authorize(Pallet::<T>::authorize_close_expired)]
		#[pallet::weight_of_authorize(
			<T as Config>::WeightInfo::authorize_close_expired(session_ids.len() as u32)
		)]
		pub fn close_expired(
			origin: OriginFor<T>,
			session_ids: BoundedVec<SessionId, T::MaxCloseBatch>,
		) -> DispatchResultWithPostInfo {
			frame_system::ensure_authorized(origin)?;
			Self::do_close_expired(&session_ids)
		}

		/// Close an open session by the viewer's close intent, without a wallet prompt and
		/// without a fee: the intent's signature (by the voucher key or the viewer) authorizes
		/// the call, so anyone may submit it (the sidecar does when the viewer leaves). Its
		/// seconds are settled if above the settled ones, then the session starts closing as
		/// in [`close_session`](Pallet::close_session) by the viewer.
		///
		/// The authorization refuses an intent whose session is not open, whose signature does
		/// not verify, or whose seconds are above the paid or elapsed seconds; each session
		/// takes one close intent (one transaction tag per session).
		///
		/// Emits [`Event::SessionSettled`] (if seconds were settled) and
		/// [`Event::SessionClosing`].
		///
		/// Errors: `BadOrigin` unless authorized; [`Error::EscrowInsufficient`].
		#[pallet::call_index(6)]
		#[pallet::weight(<T as Config>::WeightInfo::submit_close_intent())]
		#[pallet::authorize(Pallet::<T>::authorize_close_intent)]
		#[pallet::weight_of_authorize(<T as Config>::WeightInfo::authorize_close_intent())]
		pub fn submit_close_intent(
			origin: OriginFor<T>,
			session_id: SessionId,
			intent: CloseIntent<T::VoucherSignature>,
		) -> DispatchResult {
			frame_system::ensure_authorized(origin)?;
			Self::do_submit_close_intent(session_id, &intent)
		}

		/// Grant `delegate` (a key the viewer's page holds) an allowance: it may open and top
		/// up sessions for the caller, paying from the caller's balance, committing at most
		/// `amount` (deposits, top-ups and the fees of its calls) per `period` milliseconds
		/// (0: one budget for the allowance's life), until `expires_at` (milliseconds). Replaces
		/// the caller's previous allowance (whose delegate's signatures become worthless).
		///
		/// Emits [`Event::AllowanceGranted`].
		///
		/// Errors: [`Error::InvalidAllowance`] (zero amount, or an expiry not in the future).
		#[pallet::call_index(7)]
		#[pallet::weight(<T as Config>::WeightInfo::grant_allowance())]
		pub fn grant_allowance(
			origin: OriginFor<T>,
			delegate: T::AccountId,
			amount: BalanceOf<T>,
			period: u64,
			expires_at: u64,
		) -> DispatchResult {
			let viewer = ensure_signed(origin)?;
			Self::do_grant_allowance(viewer, delegate, amount, period, expires_at)
		}

		/// Revoke the caller's allowance: its delegate can do nothing more. Nothing of the
		/// allowance was ever taken from the caller's balance but what the delegate committed
		/// (sessions it opened refund as they close), so the unspent part stays with the
		/// caller.
		///
		/// Emits [`Event::AllowanceRevoked`].
		///
		/// Errors: [`Error::AllowanceNotFound`].
		#[pallet::call_index(8)]
		#[pallet::weight(<T as Config>::WeightInfo::revoke_allowance())]
		pub fn revoke_allowance(origin: OriginFor<T>) -> DispatchResult {
			let viewer = ensure_signed(origin)?;
			Self::do_revoke_allowance(&viewer)
		}

		/// A call of `viewer`'s delegate, authorized by the delegate's signature of
		/// [`Pallet::delegate_payload`] (`allowance_id` and `nonce` make every signature good
		/// for one call). The fee ([`Config::DelegateFee`], as for a signed transaction of this
		/// weight) is taken from the viewer's balance and counted against the allowance, then
		/// `op` runs as if the viewer had called it, within what is left of the allowance; if
		/// it fails, it changes nothing but the fee is still charged and the nonce used.
		///
		/// The authorization refuses a call whose allowance is unknown, replaced or expired,
		/// whose nonce is not the next one, whose signature does not verify, or which would
		/// exceed the allowance or the viewer's balance.
		///
		/// Emits [`Event::DelegateCallExecuted`], and the operation's events.
		///
		/// Errors: `BadOrigin` unless authorized; [`Error::AllowanceNotFound`],
		/// [`Error::AllowanceExpired`], [`Error::AllowanceExceeded`] (nothing charged); a
		/// currency error if the fee cannot be paid.
		#[pallet::call_index(9)]
		#[pallet::weight(Pallet::<T>::delegate_op_weight(op))]
		#[pallet::authorize(Pallet::<T>::authorize_delegate)]
		#[pallet::weight_of_authorize(<T as Config>::WeightInfo::authorize_delegate())]
		pub fn delegate(
			origin: OriginFor<T>,
			viewer: T::AccountId,
			allowance_id: AllowanceId,
			nonce: u32,
			op: DelegateOp<T>,
			encoding: VoucherEncoding,
			signature: T::VoucherSignature,
		) -> DispatchResult {
			frame_system::ensure_authorized(origin)?;
			let _ = (encoding, signature); // checked by the authorization
			Self::do_delegate(viewer, allowance_id, nonce, op)
		}
	}

	/// The log target of this pallet.
	pub(crate) const LOG_TARGET: &str = "runtime::ticks";
}

use frame_support::traits::Get;
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{AccountIdConversion, IdentifyAccount, SaturatedConversion, Verify, Zero};

impl<T: Config> Pallet<T> {
	/// The escrow account holding the funds of all stored sessions.
	pub fn escrow_account() -> T::AccountId {
		<T as Config>::PalletId::get().into_account_truncating()
	}

	/// The genesis hash vouchers are bound to.
	pub fn genesis_hash() -> T::Hash {
		frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero())
	}

	/// The chain's clock in milliseconds.
	pub(crate) fn now_ms() -> u64 {
		pallet_timestamp::Pallet::<T>::get().saturated_into::<u64>()
	}

	/// Stored session `id` (open or closing): its cold [`SessionInfo`] and its
	/// [`SessionState`] combined. `None` if it was never opened or is closed (or, against the
	/// invariants, if its page slot is missing).
	pub fn session(id: SessionId) -> Option<Session<T>> {
		let info = Sessions::<T>::get(id)?;
		let state = SessionPages::<T>::get(page_of(id).0)?.get(id).cloned()?;
		Some(Session::assemble(info, state))
	}
}
