//! # Ticks pallet
//!
//! Viewing sessions and per-second settlement for Vilokanam. A viewer opens a session on a live
//! stream and escrows `price × max_seconds`; while watching, the viewer's client signs
//! cumulative vouchers ("I watched N seconds of session S"); a relayer (or the viewer) submits
//! the latest voucher and the pallet pays `(N − settled) × price` out of escrow, split by
//! `pallet-payouts`. Closing refunds the rest at once.
//!
//! ## Map
//!
//! - [`Config`] — the voucher signature type, the escrow [`PalletId`](Config::PalletId), batch
//!   and session bounds, idle timeout and clock grace.
//! - [`Call`] — [`open_session`](Pallet::open_session), [`top_up`](Pallet::top_up),
//!   [`tick`](Pallet::tick), [`settle_batch`](Pallet::settle_batch),
//!   [`close_session`](Pallet::close_session), [`close_expired`](Pallet::close_expired)
//!   (authorized, submitted by the off-chain worker).
//! - Storage: [`Sessions`] (cold session data), [`SessionPages`] (hot settlement state, in
//!   pages of [`SESSIONS_PER_PAGE`] consecutive sessions), [`OpenSessionCount`],
//!   [`NextSessionId`].
//! - [`Event`] and [`Error`]; domain types in [`types`]: [`Session`] (the combined view),
//!   [`SessionInfo`], [`SessionState`], [`SessionPage`], [`Voucher`], [`RejectReason`].
//! - Helpers for clients: [`Pallet::session`], [`Pallet::voucher_payload`],
//!   [`Pallet::escrow_account`], and the pure [`Session::assemble`], [`page_of`] and
//!   [`pages_of`] (the `pages` witness of `settle_batch`).
//!
//! ## Terminology
//!
//! - **Session**: a viewer's paid viewing of one stream, with a fixed price (copied from the
//!   stream at opening) and `max_seconds` paid into escrow.
//! - **Voucher**: `(session_id, cumulative_seconds, encoding, signature)`. The viewer signs
//!   `(b"vilokanam/tick/v1", genesis_hash, session_id, cumulative_seconds).encode()` — the tag
//!   as a fixed `[u8; 17]` (no length prefix), the genesis hash of the chain, then two `u64`s —
//!   either as is ([`VoucherEncoding::Raw`]) or in the browser-wallet wrapping `<Bytes>` ++
//!   payload ++ `</Bytes>` ([`VoucherEncoding::Wrapped`]). The voucher states which, so one
//!   signature verification runs per voucher. Vouchers are cumulative, so only the latest one
//!   matters: an older or replayed voucher is rejected ([`RejectReason::NotIncreasing`]) and
//!   never charges twice.
//! - **Relayer**: any account that submits [`settle_batch`](Pallet::settle_batch) on behalf of
//!   viewers (typically the stream's media sidecar). It needs no trust: every voucher carries
//!   the viewer's signature.
//! - **Escrow account**: `PalletId::into_account_truncating()`; holds all open sessions' funds.
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
//! (resuming from a cursor kept in off-chain local storage), picks those idle for
//! [`Config::IdleTimeout`] blocks or whose stream is no longer live, and submits one authorized
//! transaction [`close_expired`](Pallet::close_expired) (via
//! [`CreateAuthorizedTransaction`](frame_system::offchain::CreateAuthorizedTransaction), not
//! `ValidateUnsigned`). Its `#[pallet::authorize]` function re-checks that every listed session
//! is really expired and `provides` one tag per session so duplicates are dropped by the pool.
//! A [`StorageLock`](sp_runtime::offchain::storage_lock::StorageLock) with a block-and-time
//! deadline prevents a second submission while one is pending. No runtime hook iterates
//! sessions: `on_initialize`/`on_finalize` are not used.
//!
//! ## Assumptions
//!
//! - Sessions are only opened on `Live` streams, and a stream with open sessions cannot be
//!   removed (`pallet-streams` checks `current_viewers == 0`, which this pallet maintains).
//! - Timestamps are milliseconds (`pallet_timestamp`).
//! - Relayers settle outstanding vouchers before a creator ends a stream: sessions of an ended
//!   stream are closed (and refunded) by the off-chain worker.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod migrations;
#[cfg(test)]
mod mock;
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
/// The priority of `close_expired` transactions.
pub const CLOSE_EXPIRED_PRIORITY: u64 = 1 << 20;
/// How long (blocks) a `close_expired` transaction stays valid in the pool.
pub const CLOSE_EXPIRED_LONGEVITY: u64 = 5;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::{collections::BTreeMap, vec::Vec};
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, Mutate},
			tokens::Preservation,
		},
		PalletId,
	};
	use frame_system::{
		offchain::{CreateAuthorizedTransaction, SubmitTransaction},
		pallet_prelude::*,
	};
	use pallet_payouts::Credits;
	use pallet_streams::{SplitOf, StreamId, StreamStatus};
	use sp_runtime::{
		offchain::{
			storage::StorageValueRef,
			storage_lock::{BlockAndTime, StorageLock},
			Duration,
		},
		traits::{
			AccountIdConversion, CheckedAdd, CheckedMul, CheckedSub, IdentifyAccount,
			SaturatedConversion, Saturating, Verify, Zero,
		},
	};

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
		/// The signature of vouchers; its signer must identify as a `Self::AccountId`
		/// (`sp_runtime::MultiSignature` with `AccountId32` in the runtime).
		type VoucherSignature: Verify<Signer: IdentifyAccount<AccountId = Self::AccountId>>
			+ Parameter
			+ DecodeWithMemTracking
			+ MaxEncodedLen;

		/// The id from which the escrow account is derived.
		#[pallet::constant]
		type PalletId: Get<PalletId>;

		/// Maximum number of vouchers in one `settle_batch`.
		#[pallet::constant]
		type MaxVouchersPerBatch: Get<u32>;

		/// Maximum number of sessions in one `close_expired`.
		#[pallet::constant]
		type MaxCloseBatch: Get<u32>;

		/// A session without opening, top-up or settlement for this many blocks is expired.
		#[pallet::constant]
		type IdleTimeout: Get<BlockNumberFor<Self>>;

		/// Seconds a voucher may run ahead of the on-chain clock (clock skew and latency).
		#[pallet::constant]
		type ElapsedGrace: Get<u64>;

		/// Maximum `max_seconds` of a session (including top-ups).
		#[pallet::constant]
		type MaxSecondsPerSession: Get<u64>;

		/// Weight information for the calls of this pallet.
		type WeightInfo: WeightInfo;
	}

	/// The identifier the next opened session gets.
	#[pallet::storage]
	pub type NextSessionId<T> = StorageValue<_, SessionId, ValueQuery>;

	/// The cold data of the open sessions (the presence of an entry means the session is
	/// open); closed sessions are removed. Their settlement state is in [`SessionPages`]; use
	/// [`Pallet::session`] for the combined view.
	///
	/// A plain map (not a `CountedStorageMap`, whose `insert` reads the key again to maintain
	/// its counter), so that settling a voucher reads it once and never writes it.
	#[pallet::storage]
	pub type Sessions<T: Config> =
		StorageMap<_, Twox64Concat, SessionId, SessionInfo<T>, OptionQuery>;

	/// The settlement state of the open sessions, in pages of [`SESSIONS_PER_PAGE`]
	/// consecutive ids: page `id / SESSIONS_PER_PAGE`, slot `id % SESSIONS_PER_PAGE`. A slot
	/// is `Some` exactly while its session has an entry in [`Sessions`]; a page without open
	/// sessions is removed.
	#[pallet::storage]
	pub type SessionPages<T: Config> =
		StorageMap<_, Twox64Concat, PageIndex, SessionPage<T>, OptionQuery>;

	/// The number of open sessions (entries of [`Sessions`]).
	#[pallet::storage]
	pub type OpenSessionCount<T> = StorageValue<_, u32, ValueQuery>;

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
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
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
		/// A single voucher or tick was settled (from `tick` or `close_session`).
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
		/// A voucher was not settled; nothing changed for its session.
		VoucherRejected {
			/// The voucher's session.
			session_id: SessionId,
			/// Why.
			reason: RejectReason,
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
		/// No open session with this id.
		SessionNotFound,
		/// Only the session's viewer may do this.
		NotViewer,
		/// Only the session's viewer or the stream's creator may close it.
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

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Open a session on a live stream and move `price × max_seconds` from the caller to the
		/// escrow account (the caller is kept alive). The price is fixed for the session.
		///
		/// Emits [`Event::SessionOpened`].
		///
		/// Errors: [`Error::ZeroSeconds`], [`Error::TooManySeconds`], [`Error::StreamNotFound`],
		/// [`Error::StreamNotLive`], [`Error::Banned`], [`Error::Overflow`],
		/// [`Error::SessionIdOverflow`]; a currency error if the caller cannot pay.
		#[pallet::call_index(0)]
		#[pallet::weight(<T as Config>::WeightInfo::open_session())]
		pub fn open_session(
			origin: OriginFor<T>,
			stream_id: StreamId,
			max_seconds: u64,
		) -> DispatchResult {
			let viewer = ensure_signed(origin)?;
			ensure!(max_seconds > 0, Error::<T>::ZeroSeconds);
			ensure!(max_seconds <= T::MaxSecondsPerSession::get(), Error::<T>::TooManySeconds);
			let stream =
				pallet_streams::Pallet::<T>::stream(stream_id).ok_or(Error::<T>::StreamNotFound)?;
			ensure!(stream.status == StreamStatus::Live, Error::<T>::StreamNotLive);
			ensure!(
				!pallet_streams::Pallet::<T>::is_banned_by(&stream.creator, &viewer),
				Error::<T>::Banned
			);
			let price = stream.price_per_second;
			let deposit = Self::cost(price, max_seconds).ok_or(Error::<T>::Overflow)?;
			let session_id = NextSessionId::<T>::get();
			let next = session_id.checked_add(1).ok_or(Error::<T>::SessionIdOverflow)?;

			if !deposit.is_zero() {
				<T as pallet_payouts::Config>::Currency::transfer(
					&viewer,
					&Self::escrow_account(),
					deposit,
					Preservation::Preserve,
				)?;
			}
			pallet_streams::Pallet::<T>::note_session_opened(stream_id)?;
			Sessions::<T>::insert(
				session_id,
				SessionInfo::<T> {
					viewer: viewer.clone(),
					stream_id,
					price_per_second: price,
					max_seconds,
					opened_at: Self::now_ms(),
				},
			);
			Self::put_state(
				session_id,
				SessionState::<T> {
					settled_seconds: 0,
					escrow_remaining: deposit,
					last_activity: frame_system::Pallet::<T>::block_number(),
				},
			);
			NextSessionId::<T>::put(next);
			OpenSessionCount::<T>::mutate(|c| c.saturating_inc());
			Self::deposit_event(Event::SessionOpened {
				session_id,
				viewer,
				stream_id,
				price_per_second: price,
				max_seconds,
				deposit,
			});
			Ok(())
		}

		/// Pay for `extra_seconds` more of an open session at its fixed price (viewer only; the
		/// caller is kept alive).
		///
		/// Emits [`Event::SessionToppedUp`].
		///
		/// Errors: [`Error::ZeroSeconds`], [`Error::SessionNotFound`], [`Error::NotViewer`],
		/// [`Error::TooManySeconds`], [`Error::Overflow`]; a currency error if the caller cannot
		/// pay.
		#[pallet::call_index(1)]
		#[pallet::weight(<T as Config>::WeightInfo::top_up())]
		pub fn top_up(
			origin: OriginFor<T>,
			session_id: SessionId,
			extra_seconds: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(extra_seconds > 0, Error::<T>::ZeroSeconds);
			let mut session = Self::session(session_id).ok_or(Error::<T>::SessionNotFound)?;
			ensure!(session.viewer == who, Error::<T>::NotViewer);
			let max_seconds =
				session.max_seconds.checked_add(extra_seconds).ok_or(Error::<T>::TooManySeconds)?;
			ensure!(max_seconds <= T::MaxSecondsPerSession::get(), Error::<T>::TooManySeconds);
			let amount =
				Self::cost(session.price_per_second, extra_seconds).ok_or(Error::<T>::Overflow)?;
			let remaining =
				session.escrow_remaining.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
			if !amount.is_zero() {
				<T as pallet_payouts::Config>::Currency::transfer(
					&who,
					&Self::escrow_account(),
					amount,
					Preservation::Preserve,
				)?;
			}
			session.max_seconds = max_seconds;
			session.escrow_remaining = remaining;
			session.last_activity = frame_system::Pallet::<T>::block_number();
			let (info, state) = session.split();
			Sessions::<T>::insert(session_id, info);
			Self::put_state(session_id, state);
			Self::deposit_event(Event::SessionToppedUp { session_id, max_seconds, amount });
			Ok(())
		}

		/// Settle the caller's own session up to `cumulative_seconds` (no signature needed: the
		/// origin is the viewer). Same rules as a voucher in `settle_batch`, but a refusal is an
		/// error instead of an event.
		///
		/// Emits [`Event::SessionSettled`], plus `pallet-payouts` credit events.
		///
		/// Errors: [`Error::SessionNotFound`], [`Error::SessionClosed`], [`Error::NotViewer`],
		/// [`Error::NotIncreasing`], [`Error::AboveMaxSeconds`], [`Error::AheadOfTime`],
		/// [`Error::EscrowInsufficient`].
		#[pallet::call_index(2)]
		#[pallet::weight(<T as Config>::WeightInfo::tick())]
		pub fn tick(
			origin: OriginFor<T>,
			session_id: SessionId,
			cumulative_seconds: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut batch = Batch::<T>::new();
			let amount = match Self::settle_one(
				&mut batch,
				session_id,
				cumulative_seconds,
				Auth::Origin(&who),
			) {
				Ok(amount) => amount,
				Err(SettleError::Rejected(reason)) => return Err(Self::reject_error(reason).into()),
				Err(SettleError::Fatal(e)) => return Err(e),
			};
			Self::finish(batch)?;
			Self::deposit_event(Event::SessionSettled { session_id, cumulative_seconds, amount });
			Ok(())
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
		/// [`Error::EscrowInsufficient`] (an invariant
		/// violation; the whole batch is reverted); arithmetic overflow.
		#[pallet::call_index(3)]
		#[pallet::weight(Pallet::<T>::settle_batch_declared_weight(vouchers.len() as u32, *witness))]
		pub fn settle_batch(
			origin: OriginFor<T>,
			vouchers: BoundedVec<Voucher<T::VoucherSignature>, T::MaxVouchersPerBatch>,
			witness: BatchWitness,
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			ensure!(
				pages_of(vouchers.iter().map(|v| v.session_id)) <= witness.pages,
				Error::<T>::TooManyPages
			);
			let mut batch = Batch::<T>::new();
			batch.max_streams = witness.streams;
			let (mut accepted, mut rejected) = (0u32, 0u32);
			for voucher in vouchers.iter() {
				match Self::settle_one(
					&mut batch,
					voucher.session_id,
					voucher.cumulative_seconds,
					Auth::Signature(&voucher.signature, voucher.encoding),
				) {
					Ok(_) => accepted.saturating_inc(),
					Err(SettleError::Rejected(reason)) => {
						rejected.saturating_inc();
						Self::deposit_event(Event::VoucherRejected {
							session_id: voucher.session_id,
							reason,
						});
					},
					Err(SettleError::Fatal(e)) => return Err(e.into()),
				}
			}
			let streams = batch.streams.len() as u32;
			let pages = batch.pages.len() as u32;
			let total_paid = batch.credits.total();
			Self::finish(batch)?;
			Self::deposit_event(Event::BatchSettled { accepted, rejected, total_paid });
			Ok(Some(Self::settle_batch_weight(accepted, rejected, streams, pages)).into())
		}

		/// Close a session (its viewer or the stream's creator): settle `final_voucher` if given
		/// and valid (an invalid one is reported and ignored), refund the rest of the escrow to
		/// the viewer at once and remove the session.
		///
		/// Emits [`Event::SessionClosed`]; [`Event::SessionSettled`] or
		/// [`Event::VoucherRejected`] for the final voucher.
		///
		/// Errors: [`Error::SessionNotFound`], [`Error::NotParticipant`],
		/// [`Error::EscrowInsufficient`].
		#[pallet::call_index(4)]
		#[pallet::weight(<T as Config>::WeightInfo::close_session())]
		pub fn close_session(
			origin: OriginFor<T>,
			session_id: SessionId,
			final_voucher: Option<FinalVoucher<T::VoucherSignature>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let session = Sessions::<T>::get(session_id).ok_or(Error::<T>::SessionNotFound)?;
			if session.viewer != who {
				let creator = pallet_streams::Pallet::<T>::stream(session.stream_id)
					.map(|s| s.creator)
					.ok_or(Error::<T>::NotParticipant)?;
				ensure!(creator == who, Error::<T>::NotParticipant);
			}
			if let Some(FinalVoucher { cumulative_seconds, encoding, signature }) = final_voucher {
				let mut batch = Batch::<T>::new();
				match Self::settle_one(
					&mut batch,
					session_id,
					cumulative_seconds,
					Auth::Signature(&signature, encoding),
				) {
					Ok(amount) => {
						Self::finish(batch)?;
						Self::deposit_event(Event::SessionSettled {
							session_id,
							cumulative_seconds,
							amount,
						});
					},
					Err(SettleError::Rejected(reason)) => {
						Self::deposit_event(Event::VoucherRejected { session_id, reason })
					},
					Err(SettleError::Fatal(e)) => return Err(e),
				}
			}
			Self::do_close(session_id, CloseReason::Closed)?;
			Ok(())
		}

		/// Close expired sessions: idle for [`Config::IdleTimeout`] blocks or whose stream is no
		/// longer live. Submitted by the off-chain worker as an authorized transaction; the
		/// authorization checks that every listed open session is expired. Sessions already
		/// closed are skipped, so the call is idempotent.
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
			let now = frame_system::Pallet::<T>::block_number();
			let mut closed = 0u32;
			for session_id in session_ids.iter() {
				let Some(session) = Self::session(*session_id) else { continue };
				if Self::is_expired(&session, now) {
					Self::do_close(*session_id, CloseReason::Expired)?;
					closed.saturating_inc();
				}
			}
			Ok(Some(<T as Config>::WeightInfo::close_expired(closed)).into())
		}
	}

	/// The log target of this pallet.
	pub(crate) const LOG_TARGET: &str = "runtime::ticks";

	/// How a settlement is authorized.
	pub(crate) enum Auth<'a, T: Config> {
		/// By a voucher signature over the stated encoding, checked against the session's viewer.
		Signature(&'a T::VoucherSignature, VoucherEncoding),
		/// By the origin, which must be the session's viewer.
		Origin(&'a T::AccountId),
	}

	/// The outcome of a refused settlement.
	pub(crate) enum SettleError {
		/// The voucher is refused; nothing changed.
		Rejected(RejectReason),
		/// Something that must abort the whole call.
		Fatal(DispatchError),
	}

	/// What a batch keeps about a stream.
	pub(crate) struct StreamEntry<T: Config> {
		creator: T::AccountId,
		collaborators: SplitOf<T>,
		seconds: u64,
		amount: BalanceOf<T>,
	}

	/// A page of settlement state loaded by a batch.
	pub(crate) struct PageEntry<T: Config> {
		page: SessionPage<T>,
		/// Whether a slot changed, so the page must be written back.
		dirty: bool,
	}

	/// The in-memory state of one settlement batch.
	pub(crate) struct Batch<T: Config> {
		now_ms: u64,
		now_block: BlockNumberFor<T>,
		next_session_id: SessionId,
		genesis_hash: T::Hash,
		pub(crate) streams: BTreeMap<StreamId, StreamEntry<T>>,
		/// The pages read so far (each read once), written back by [`Pallet::finish`].
		pub(crate) pages: BTreeMap<PageIndex, PageEntry<T>>,
		pub(crate) credits: Credits<T>,
		/// The most distinct streams this batch may pay (the `settle_batch` witness).
		pub(crate) max_streams: u32,
	}

	impl<T: Config> Batch<T> {
		pub(crate) fn new() -> Self {
			Self {
				now_ms: Pallet::<T>::now_ms(),
				now_block: frame_system::Pallet::<T>::block_number(),
				next_session_id: NextSessionId::<T>::get(),
				genesis_hash: Pallet::<T>::genesis_hash(),
				streams: BTreeMap::new(),
				pages: BTreeMap::new(),
				credits: Credits::<T>::new(),
				max_streams: u32::MAX,
			}
		}

		/// The loaded page `index`, read from storage on first use.
		fn page(&mut self, index: PageIndex) -> &mut PageEntry<T> {
			self.pages.entry(index).or_insert_with(|| PageEntry {
				page: SessionPages::<T>::get(index).unwrap_or_default(),
				dirty: false,
			})
		}
	}

	impl<T: Config> Pallet<T> {
		/// The escrow account holding the funds of all open sessions.
		pub fn escrow_account() -> T::AccountId {
			<T as Config>::PalletId::get().into_account_truncating()
		}

		/// The genesis hash vouchers are bound to.
		pub fn genesis_hash() -> T::Hash {
			frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero())
		}

		/// The bytes a viewer signs for a voucher:
		/// `(b"vilokanam/tick/v1", genesis_hash, session_id, cumulative_seconds).encode()`.
		pub fn voucher_payload(
			genesis_hash: &T::Hash,
			session_id: SessionId,
			cumulative_seconds: u64,
		) -> Vec<u8> {
			(VOUCHER_TAG, genesis_hash, session_id, cumulative_seconds).encode()
		}

		/// Whether `signature` signs the voucher payload in `encoding` by `who`. One
		/// verification, whatever the encoding.
		pub fn verify_voucher(
			signature: &T::VoucherSignature,
			encoding: VoucherEncoding,
			genesis_hash: &T::Hash,
			session_id: SessionId,
			cumulative_seconds: u64,
			who: &T::AccountId,
		) -> bool {
			let payload = Self::voucher_payload(genesis_hash, session_id, cumulative_seconds);
			match encoding {
				VoucherEncoding::Raw => signature.verify(&payload[..], who),
				VoucherEncoding::Wrapped => {
					let mut wrapped = Vec::with_capacity(
						WRAP_PREFIX
							.len()
							.saturating_add(payload.len())
							.saturating_add(WRAP_SUFFIX.len()),
					);
					wrapped.extend_from_slice(WRAP_PREFIX);
					wrapped.extend_from_slice(&payload);
					wrapped.extend_from_slice(WRAP_SUFFIX);
					signature.verify(&wrapped[..], who)
				},
			}
		}

		/// Whether `session` may be closed by `close_expired` at block `now`: idle for
		/// [`Config::IdleTimeout`] blocks, or its stream is not live any more.
		pub fn is_expired(session: &Session<T>, now: BlockNumberFor<T>) -> bool {
			if now.saturating_sub(session.last_activity) >= T::IdleTimeout::get() {
				return true;
			}
			!pallet_streams::Pallet::<T>::stream(session.stream_id)
				.is_some_and(|s| s.status == StreamStatus::Live)
		}

		/// The pre-dispatch weight of a `settle_batch` of `n` vouchers with `witness` (counts
		/// above `n` count as `n`): the worst of all accepted, on the declared streams and
		/// pages, and all rejected.
		pub fn settle_batch_declared_weight(n: u32, witness: BatchWitness) -> Weight {
			let (streams, pages) = (witness.streams.min(n), witness.pages.min(n));
			Self::settle_batch_weight(n, 0, streams, pages)
				.max(Self::settle_batch_weight(0, n, 0, pages))
		}

		/// The worst-case weight of a `settle_batch` of `n` vouchers, whatever pages they
		/// touch (each on its own page).
		pub fn settle_batch_max_weight(n: u32) -> Weight {
			Self::settle_batch_declared_weight(n, BatchWitness { streams: n, pages: n })
		}

		/// The weight of a `settle_batch` with `accepted` and `rejected` vouchers touching
		/// `streams` distinct streams and `pages` distinct pages: the `settle_batch(a, r)`
		/// benchmark (one stream, consecutive sessions), plus what `streams` distinct streams
		/// and `pages` distinct pages cost on top of as many vouchers on one stream and on
		/// consecutive sessions (`settle_batch_streams(s) − settle_batch(s, 0)` and
		/// `settle_batch_pages(p) − settle_batch(p, 0)`).
		pub fn settle_batch_weight(
			accepted: u32,
			rejected: u32,
			streams: u32,
			pages: u32,
		) -> Weight {
			let base = <T as Config>::WeightInfo::settle_batch(accepted, rejected);
			let per_stream = <T as Config>::WeightInfo::settle_batch_streams(streams)
				.saturating_sub(<T as Config>::WeightInfo::settle_batch(streams, 0));
			let per_page = <T as Config>::WeightInfo::settle_batch_pages(pages)
				.saturating_sub(<T as Config>::WeightInfo::settle_batch(pages, 0));
			base.saturating_add(per_stream).saturating_add(per_page)
		}

		/// Open session `id`: its cold [`SessionInfo`] and its [`SessionState`] combined.
		/// `None` if it was never opened or is closed (or, against the invariants, if its page
		/// slot is missing).
		pub fn session(id: SessionId) -> Option<Session<T>> {
			let info = Sessions::<T>::get(id)?;
			let state = SessionPages::<T>::get(page_of(id).0)?.get(id).cloned()?;
			Some(Session::assemble(info, state))
		}

		/// Store the settlement state of session `id` in its page slot (one page read and one
		/// page write).
		pub(crate) fn put_state(id: SessionId, state: SessionState<T>) {
			SessionPages::<T>::mutate(page_of(id).0, |page| {
				let page = page.get_or_insert_with(Default::default);
				if let Some(slot) = page.slot_mut(id) {
					*slot = Some(state);
				}
			});
		}

		/// Clear the page slot of session `id`, removing the page if it was the last open
		/// session on it. Returns the state the slot held.
		pub(crate) fn take_state(id: SessionId) -> Option<SessionState<T>> {
			SessionPages::<T>::mutate_exists(page_of(id).0, |maybe_page| {
				let page = maybe_page.as_mut()?;
				let state = page.slot_mut(id).and_then(Option::take);
				if page.is_empty() {
					*maybe_page = None;
				}
				state
			})
		}

		fn now_ms() -> u64 {
			pallet_timestamp::Pallet::<T>::get().saturated_into::<u64>()
		}

		fn cost(price: BalanceOf<T>, seconds: u64) -> Option<BalanceOf<T>> {
			let seconds: BalanceOf<T> = seconds.saturated_into();
			price.checked_mul(&seconds)
		}

		fn reject_error(reason: RejectReason) -> Error<T> {
			match reason {
				RejectReason::BadSignature | RejectReason::UnknownSession => {
					Error::<T>::SessionNotFound
				},
				RejectReason::SessionClosed => Error::<T>::SessionClosed,
				RejectReason::NotIncreasing => Error::<T>::NotIncreasing,
				RejectReason::AboveMaxSeconds => Error::<T>::AboveMaxSeconds,
				RejectReason::AheadOfTime => Error::<T>::AheadOfTime,
			}
		}

		/// Settle one voucher into `batch`: one read of the session's cold data, its state
		/// taken from the batch's copy of its page (read on first use), checks, the new state
		/// written to that copy, and the payment accumulated in memory. Returns the amount
		/// paid.
		pub(crate) fn settle_one(
			batch: &mut Batch<T>,
			session_id: SessionId,
			cumulative_seconds: u64,
			auth: Auth<T>,
		) -> Result<BalanceOf<T>, SettleError> {
			use RejectReason::*;
			let reject = |r| Err(SettleError::Rejected(r));
			let Some(session) = Sessions::<T>::get(session_id) else {
				return reject(if session_id < batch.next_session_id {
					SessionClosed
				} else {
					UnknownSession
				});
			};
			let Some(state) = batch.page(page_of(session_id).0).page.get(session_id).cloned()
			else {
				// Against the invariants (`try_state` checks them): an open session without
				// settlement state. Refuse the voucher rather than fail the whole batch.
				log::error!(target: LOG_TARGET, "session {session_id} has no page slot");
				return reject(SessionClosed);
			};
			if let Auth::Origin(who) = auth {
				if *who != session.viewer {
					return Err(SettleError::Fatal(Error::<T>::NotViewer.into()));
				}
			}
			if cumulative_seconds <= state.settled_seconds {
				return reject(NotIncreasing);
			}
			if cumulative_seconds > session.max_seconds {
				return reject(AboveMaxSeconds);
			}
			let elapsed = batch.now_ms.saturating_sub(session.opened_at) / 1_000;
			if cumulative_seconds > elapsed.saturating_add(T::ElapsedGrace::get()) {
				return reject(AheadOfTime);
			}
			// The signature is checked last: it is the expensive check, and replays (the common
			// rejection) are refused without it.
			if let Auth::Signature(signature, encoding) = auth {
				if !Self::verify_voucher(
					signature,
					encoding,
					&batch.genesis_hash,
					session_id,
					cumulative_seconds,
					&session.viewer,
				) {
					return reject(BadSignature);
				}
			}
			let delta = cumulative_seconds.saturating_sub(state.settled_seconds);
			let Some(amount) = Self::cost(session.price_per_second, delta) else {
				return reject(AboveMaxSeconds);
			};
			let Some(remaining) = state.escrow_remaining.checked_sub(&amount) else {
				return Err(SettleError::Fatal(Error::<T>::EscrowInsufficient.into()));
			};

			// The declared stream count priced this batch; paying one more would be unpriced.
			if !batch.streams.contains_key(&session.stream_id)
				&& batch.streams.len() as u32 >= batch.max_streams
			{
				return Err(SettleError::Fatal(Error::<T>::TooManyStreams.into()));
			}
			let entry = match batch.streams.entry(session.stream_id) {
				alloc::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
				alloc::collections::btree_map::Entry::Vacant(e) => {
					// A stream with open sessions cannot be removed, so it is there.
					let Some(stream) = pallet_streams::Pallet::<T>::stream(session.stream_id)
					else {
						return reject(SessionClosed);
					};
					e.insert(StreamEntry {
						creator: stream.creator,
						collaborators: stream.collaborators,
						seconds: 0,
						amount: Zero::zero(),
					})
				},
			};
			batch
				.credits
				.add(session.stream_id, &entry.creator, &entry.collaborators, amount)
				.map_err(|e| SettleError::Fatal(e.into()))?;
			entry.seconds = entry.seconds.saturating_add(delta);
			entry.amount = entry.amount.saturating_add(amount);

			let now_block = batch.now_block;
			let entry = batch.page(page_of(session_id).0);
			if let Some(slot) = entry.page.slot_mut(session_id) {
				*slot = Some(SessionState {
					settled_seconds: cumulative_seconds,
					escrow_remaining: remaining,
					last_activity: now_block,
				});
				entry.dirty = true;
			}
			Ok(amount)
		}

		/// Write a batch out: each changed page once, the stream totals once per stream, the
		/// payments once per recipient.
		pub(crate) fn finish(batch: Batch<T>) -> DispatchResult {
			for (index, entry) in batch.pages.into_iter() {
				if !entry.dirty {
					continue;
				}
				if entry.page.is_empty() {
					SessionPages::<T>::remove(index);
				} else {
					SessionPages::<T>::insert(index, entry.page);
				}
			}
			for (stream_id, entry) in batch.streams.iter() {
				if entry.seconds > 0 || !entry.amount.is_zero() {
					pallet_streams::Pallet::<T>::note_settled(
						*stream_id,
						entry.seconds,
						entry.amount,
					);
				}
			}
			if batch.credits.is_empty() {
				return Ok(());
			}
			pallet_payouts::Pallet::<T>::commit(
				&Self::escrow_account(),
				batch.credits,
				Preservation::Preserve,
			)
			.map_err(|_| Error::<T>::EscrowInsufficient.into())
		}

		/// Remove a session, refund its remaining escrow to the viewer and update the stream's
		/// viewer count. A missing session is a no-op.
		pub(crate) fn do_close(session_id: SessionId, reason: CloseReason) -> DispatchResult {
			let Some(session) = Sessions::<T>::take(session_id) else { return Ok(()) };
			let Some(state) = Self::take_state(session_id) else {
				// Against the invariants: an open session without settlement state. There is
				// nothing to refund that the pallet knows of.
				log::error!(target: LOG_TARGET, "closing session {session_id} without page slot");
				return Err(Error::<T>::SessionNotFound.into());
			};
			OpenSessionCount::<T>::mutate(|c| c.saturating_dec());
			let refund = state.escrow_remaining;
			let escrow = Self::escrow_account();
			let paid = pallet_payouts::Pallet::<T>::pay_or_redirect(
				&escrow,
				&session.viewer,
				refund,
				Preservation::Preserve,
			)
			.map_err(|_| Error::<T>::EscrowInsufficient)?;
			if !paid {
				// The viewer was reaped and the refund is below the existential deposit.
				let platform = pallet_payouts::Pallet::<T>::platform_account();
				pallet_payouts::Pallet::<T>::pay_or_redirect(
					&escrow,
					&platform,
					refund,
					Preservation::Preserve,
				)
				.map_err(|_| Error::<T>::EscrowInsufficient)?;
			}
			pallet_streams::Pallet::<T>::note_session_closed(session.stream_id);
			Self::deposit_event(Event::SessionClosed {
				session_id,
				settled_seconds: state.settled_seconds,
				refunded: refund,
				reason,
			});
			Ok(())
		}

		/// The `#[pallet::authorize]` function of `close_expired`: valid only if at least one
		/// listed session is open and every open listed session is expired. Provides one tag
		/// per open session, so that two transactions closing the same session conflict.
		pub fn authorize_close_expired(
			_source: TransactionSource,
			session_ids: &BoundedVec<SessionId, T::MaxCloseBatch>,
		) -> TransactionValidityWithRefund {
			let now = frame_system::Pallet::<T>::block_number();
			let mut builder = ValidTransaction::with_tag_prefix("VilokanamTicksCloseExpired")
				.priority(CLOSE_EXPIRED_PRIORITY)
				.longevity(CLOSE_EXPIRED_LONGEVITY)
				.propagate(true);
			let mut open = 0u32;
			for session_id in session_ids.iter() {
				if let Some(session) = Self::session(*session_id) {
					if !Self::is_expired(&session, now) {
						return Err(InvalidTransaction::Call.into());
					}
					open.saturating_inc();
					builder = builder.and_provides(session_id);
				}
			}
			if open == 0 {
				return Err(InvalidTransaction::Stale.into());
			}
			Ok((builder.build()?, Weight::zero()))
		}

		/// Endow the escrow account with the existential deposit if it has less.
		pub(crate) fn endow_escrow() {
			let escrow = Self::escrow_account();
			let ed = <T as pallet_payouts::Config>::Currency::minimum_balance();
			let free = <T as pallet_payouts::Config>::Currency::balance(&escrow);
			if free < ed {
				if let Err(e) = <T as pallet_payouts::Config>::Currency::mint_into(
					&escrow,
					ed.saturating_sub(free),
				) {
					log::error!(target: LOG_TARGET, "cannot endow escrow account: {e:?}");
				}
			}
		}

		/// The expired sessions the off-chain worker would close now: at most
		/// [`Config::MaxCloseBatch`], scanning the open sessions of [`SessionPages`] page by page
		/// from the cursor in off-chain local storage (wrapping around at the end), and stopping
		/// after the page on which the [`OCW_SCAN_LIMIT`]th session is. An idle session is
		/// expired without reading more; otherwise its cold data and stream (cached per stream)
		/// are read. A page is only passed by the cursor once all of its sessions were looked at.
		pub fn collect_expired(now: BlockNumberFor<T>) -> Vec<SessionId> {
			let cursor = StorageValueRef::persistent(OCW_CURSOR_KEY);
			let start: Vec<u8> = cursor.get::<Vec<u8>>().ok().flatten().unwrap_or_default();
			let mut iter = if start.is_empty() {
				SessionPages::<T>::iter()
			} else {
				SessionPages::<T>::iter_from(start.clone())
			};
			let max = T::MaxCloseBatch::get() as usize;
			let idle_timeout = T::IdleTimeout::get();
			let mut live: BTreeMap<StreamId, bool> = BTreeMap::new();
			let mut ids = Vec::new();
			let mut next_start = start;
			let mut scanned = 0u32;
			'pages: while scanned < OCW_SCAN_LIMIT && ids.len() < max {
				let Some((index, page)) = iter.next() else {
					next_start.clear();
					break;
				};
				for (id, state) in page.open_sessions(index) {
					if ids.len() >= max {
						// Resume at this page next time.
						break 'pages;
					}
					scanned.saturating_inc();
					let expired = now.saturating_sub(state.last_activity) >= idle_timeout || {
						Sessions::<T>::get(id).is_some_and(|info| {
							!*live.entry(info.stream_id).or_insert_with(|| {
								pallet_streams::Pallet::<T>::stream(info.stream_id)
									.is_some_and(|s| s.status == StreamStatus::Live)
							})
						})
					};
					if expired {
						ids.push(id);
					}
				}
				next_start = SessionPages::<T>::hashed_key_for(index);
			}
			cursor.set(&next_start);
			ids
		}

		/// The off-chain worker's job: unless a submission is pending (lock held), collect
		/// expired sessions and submit one authorized `close_expired`. Returns how many
		/// sessions were submitted.
		pub fn submit_close_expired(now: BlockNumberFor<T>) -> Result<usize, &'static str> {
			let mut lock =
				StorageLock::<BlockAndTime<frame_system::Pallet<T>>>::with_block_and_time_deadline(
					OCW_LOCK_KEY,
					OCW_LOCK_BLOCKS,
					Duration::from_millis(OCW_LOCK_MILLIS),
				);
			let guard = lock.try_lock().map_err(|_| "a submission is pending")?;
			let ids = Self::collect_expired(now);
			if ids.is_empty() {
				return Ok(0);
			}
			let n = ids.len();
			let session_ids: BoundedVec<SessionId, T::MaxCloseBatch> =
				BoundedVec::truncate_from(ids);
			let xt =
				T::create_authorized_transaction(Call::<T>::close_expired { session_ids }.into());
			SubmitTransaction::<T, Call<T>>::submit_transaction(xt)
				.map_err(|_| "submitting the transaction failed")?;
			// Keep the lock until its deadline: no duplicate while this one is pending.
			guard.forget();
			Ok(n)
		}

		/// Check the invariants:
		/// - every session id is below [`NextSessionId`]; every open session (entry of
		///   [`Sessions`]) has its slot in [`SessionPages`], and every filled slot belongs to
		///   an open session; no stored page is empty;
		/// - `settled_seconds ≤ max_seconds`;
		///   `escrow_remaining == price × (max_seconds − settled_seconds)`;
		/// - the session counter is right, and each stream's `current_viewers` equals its number
		///   of open sessions;
		/// - `balance(escrow) ≥ ED + Σ escrow_remaining`.
		#[cfg(any(feature = "try-runtime", test))]
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			let next = NextSessionId::<T>::get();
			let mut total: BalanceOf<T> = Zero::zero();
			let mut count = 0u32;
			let mut per_stream: BTreeMap<StreamId, u32> = BTreeMap::new();
			for (id, info) in Sessions::<T>::iter() {
				count.saturating_inc();
				ensure!(id < next, "session id not below NextSessionId");
				let s = Self::session(id).ok_or("open session without its page slot")?;
				ensure!(s.settled_seconds <= s.max_seconds, "settled above max");
				ensure!(
					Self::cost(s.price_per_second, s.max_seconds.saturating_sub(s.settled_seconds))
						== Some(s.escrow_remaining),
					"escrow_remaining != price x unsettled seconds"
				);
				total = total.checked_add(&s.escrow_remaining).ok_or("escrow sum overflows")?;
				per_stream.entry(info.stream_id).or_default().saturating_inc();
			}
			let mut slots = 0u32;
			for (index, page) in SessionPages::<T>::iter() {
				ensure!(!page.is_empty(), "empty session page stored");
				for (id, _) in page.open_sessions(index) {
					slots.saturating_inc();
					ensure!(Sessions::<T>::contains_key(id), "page slot of a closed session");
				}
			}
			ensure!(slots == count, "page slots != open sessions");
			ensure!(OpenSessionCount::<T>::get() == count, "session counter wrong");
			for (id, stream) in pallet_streams::Streams::<T>::iter() {
				ensure!(
					stream.current_viewers == per_stream.remove(&id).unwrap_or(0),
					"current_viewers != open sessions"
				);
			}
			ensure!(per_stream.is_empty(), "session of a missing stream");
			let escrow = <T as pallet_payouts::Config>::Currency::balance(&Self::escrow_account());
			let ed = <T as pallet_payouts::Config>::Currency::minimum_balance();
			ensure!(escrow >= total.saturating_add(ed), "escrow below ED + open sessions");
			Ok(())
		}
	}
}
