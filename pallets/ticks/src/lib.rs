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
//! - Storage: [`Sessions`], [`OpenSessionCount`], [`NextSessionId`].
//! - [`Event`] and [`Error`]; domain types in [`types`]: [`Session`], [`Voucher`],
//!   [`RejectReason`].
//! - Helpers for clients: [`Pallet::voucher_payload`], [`Pallet::escrow_account`].
//!
//! ## Terminology
//!
//! - **Session**: a viewer's paid viewing of one stream, with a fixed price (copied from the
//!   stream at opening) and `max_seconds` paid into escrow.
//! - **Voucher**: `(session_id, cumulative_seconds, signature)`. The viewer signs
//!   `(b"vilokanam/tick/v1", genesis_hash, session_id, cumulative_seconds).encode()` — the tag
//!   as a fixed `[u8; 17]` (no length prefix), the genesis hash of the chain, then two `u64`s.
//!   The signature may also cover the browser-wallet wrapping `<Bytes>` ++ payload ++
//!   `</Bytes>`; the plain form is tried first. Vouchers are cumulative, so only the latest one
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
//! release-then-transfer). With one escrow account, settling a voucher touches exactly ONE
//! storage item — the session (one read, one write) — while the payments of a whole batch are
//! aggregated in memory per recipient ([`pallet_payouts::Credits`]) and per stream, and written
//! once per batch: one transfer per distinct recipient out of the escrow, one stream update per
//! distinct stream. Stream data is read once per batch (cached). This is what makes ≥ 15,000
//! vouchers per 6 s block reachable (≈ 41 µs sr25519 verification + 8 µs read + 50 µs write on
//! ParityDB per voucher).
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
//! The worker scans a bounded number of sessions per block (resuming from a cursor kept in
//! off-chain local storage), picks those idle for [`Config::IdleTimeout`] blocks or whose
//! stream is no longer live, and submits one authorized transaction
//! [`close_expired`](Pallet::close_expired) (via
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
pub const OCW_CURSOR_KEY: &[u8] = b"vilokanam::ticks::close-expired-cursor";
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

	/// The open sessions; closed sessions are removed.
	///
	/// A plain map (not a `CountedStorageMap`, whose `insert` reads the key again to maintain
	/// its counter), so that settling a voucher is exactly one read and one write.
	#[pallet::storage]
	pub type Sessions<T: Config> = StorageMap<_, Twox64Concat, SessionId, Session<T>, OptionQuery>;

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
		/// state is in [`Sessions`]); each rejected one has its own [`Event::VoucherRejected`].
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
				Session::<T> {
					viewer: viewer.clone(),
					stream_id,
					price_per_second: price,
					max_seconds,
					settled_seconds: 0,
					escrow_remaining: deposit,
					opened_at: Self::now_ms(),
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
			let mut session = Sessions::<T>::get(session_id).ok_or(Error::<T>::SessionNotFound)?;
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
			Sessions::<T>::insert(session_id, session);
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
		/// Per voucher, exactly one session read and (if accepted) one session write; payments
		/// are aggregated and made once per distinct recipient, stream totals once per distinct
		/// stream. The actual weight (refunding the rest) depends on the accepted and rejected
		/// counts and the number of distinct streams.
		///
		/// Emits [`Event::BatchSettled`], one [`Event::VoucherRejected`] per rejected voucher,
		/// and `pallet-payouts` credit events per recipient.
		///
		/// Errors: [`Error::EscrowInsufficient`] (an invariant violation; the whole batch is
		/// reverted); arithmetic overflow.
		#[pallet::call_index(3)]
		#[pallet::weight(Pallet::<T>::settle_batch_max_weight(vouchers.len() as u32))]
		pub fn settle_batch(
			origin: OriginFor<T>,
			vouchers: BoundedVec<Voucher<T::VoucherSignature>, T::MaxVouchersPerBatch>,
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			let mut batch = Batch::<T>::new();
			let (mut accepted, mut rejected) = (0u32, 0u32);
			for voucher in vouchers.iter() {
				match Self::settle_one(
					&mut batch,
					voucher.session_id,
					voucher.cumulative_seconds,
					Auth::Signature(&voucher.signature),
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
			let total_paid = batch.credits.total();
			Self::finish(batch)?;
			Self::deposit_event(Event::BatchSettled { accepted, rejected, total_paid });
			Ok(Some(Self::settle_batch_weight(accepted, rejected, streams)).into())
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
			final_voucher: Option<(u64, T::VoucherSignature)>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let session = Sessions::<T>::get(session_id).ok_or(Error::<T>::SessionNotFound)?;
			if session.viewer != who {
				let creator = pallet_streams::Pallet::<T>::stream(session.stream_id)
					.map(|s| s.creator)
					.ok_or(Error::<T>::NotParticipant)?;
				ensure!(creator == who, Error::<T>::NotParticipant);
			}
			if let Some((cumulative_seconds, signature)) = final_voucher {
				let mut batch = Batch::<T>::new();
				match Self::settle_one(
					&mut batch,
					session_id,
					cumulative_seconds,
					Auth::Signature(&signature),
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
				let Some(session) = Sessions::<T>::get(session_id) else { continue };
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
		/// By a voucher signature, checked against the session's viewer.
		Signature(&'a T::VoucherSignature),
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

	/// The in-memory state of one settlement batch.
	pub(crate) struct Batch<T: Config> {
		now_ms: u64,
		now_block: BlockNumberFor<T>,
		next_session_id: SessionId,
		genesis_hash: T::Hash,
		pub(crate) streams: BTreeMap<StreamId, StreamEntry<T>>,
		pub(crate) credits: Credits<T>,
	}

	impl<T: Config> Batch<T> {
		pub(crate) fn new() -> Self {
			Self {
				now_ms: Pallet::<T>::now_ms(),
				now_block: frame_system::Pallet::<T>::block_number(),
				next_session_id: NextSessionId::<T>::get(),
				genesis_hash: Pallet::<T>::genesis_hash(),
				streams: BTreeMap::new(),
				credits: Credits::<T>::new(),
			}
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

		/// Whether `signature` signs the voucher payload, plain or `<Bytes>`-wrapped, by `who`.
		pub fn verify_voucher(
			signature: &T::VoucherSignature,
			genesis_hash: &T::Hash,
			session_id: SessionId,
			cumulative_seconds: u64,
			who: &T::AccountId,
		) -> bool {
			let payload = Self::voucher_payload(genesis_hash, session_id, cumulative_seconds);
			if signature.verify(&payload[..], who) {
				return true;
			}
			let mut wrapped = Vec::with_capacity(
				WRAP_PREFIX.len().saturating_add(payload.len()).saturating_add(WRAP_SUFFIX.len()),
			);
			wrapped.extend_from_slice(WRAP_PREFIX);
			wrapped.extend_from_slice(&payload);
			wrapped.extend_from_slice(WRAP_SUFFIX);
			signature.verify(&wrapped[..], who)
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

		/// The pre-dispatch weight of a `settle_batch` of `n` vouchers: the worst of all
		/// accepted on distinct streams and all rejected.
		pub fn settle_batch_max_weight(n: u32) -> Weight {
			Self::settle_batch_weight(n, 0, n).max(Self::settle_batch_weight(0, n, 0))
		}

		/// The weight of a `settle_batch` with `accepted` and `rejected` vouchers touching
		/// `streams` distinct streams.
		pub fn settle_batch_weight(accepted: u32, rejected: u32, streams: u32) -> Weight {
			let base = <T as Config>::WeightInfo::settle_batch(accepted, rejected);
			let per_stream = <T as Config>::WeightInfo::settle_batch_streams(streams)
				.saturating_sub(<T as Config>::WeightInfo::settle_batch(streams, 0));
			base.saturating_add(per_stream)
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

		/// Settle one voucher into `batch`: one session read, checks, one session write, and
		/// the payment accumulated in memory. Returns the amount paid.
		pub(crate) fn settle_one(
			batch: &mut Batch<T>,
			session_id: SessionId,
			cumulative_seconds: u64,
			auth: Auth<T>,
		) -> Result<BalanceOf<T>, SettleError> {
			use RejectReason::*;
			let reject = |r| Err(SettleError::Rejected(r));
			let Some(mut session) = Sessions::<T>::get(session_id) else {
				return reject(if session_id < batch.next_session_id {
					SessionClosed
				} else {
					UnknownSession
				});
			};
			match auth {
				Auth::Signature(signature) => {
					if !Self::verify_voucher(
						signature,
						&batch.genesis_hash,
						session_id,
						cumulative_seconds,
						&session.viewer,
					) {
						return reject(BadSignature);
					}
				},
				Auth::Origin(who) => {
					if *who != session.viewer {
						return Err(SettleError::Fatal(Error::<T>::NotViewer.into()));
					}
				},
			}
			if cumulative_seconds <= session.settled_seconds {
				return reject(NotIncreasing);
			}
			if cumulative_seconds > session.max_seconds {
				return reject(AboveMaxSeconds);
			}
			let elapsed = batch.now_ms.saturating_sub(session.opened_at) / 1_000;
			if cumulative_seconds > elapsed.saturating_add(T::ElapsedGrace::get()) {
				return reject(AheadOfTime);
			}
			let delta = cumulative_seconds.saturating_sub(session.settled_seconds);
			let Some(amount) = Self::cost(session.price_per_second, delta) else {
				return reject(AboveMaxSeconds);
			};
			let Some(remaining) = session.escrow_remaining.checked_sub(&amount) else {
				return Err(SettleError::Fatal(Error::<T>::EscrowInsufficient.into()));
			};

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

			session.settled_seconds = cumulative_seconds;
			session.escrow_remaining = remaining;
			session.last_activity = batch.now_block;
			Sessions::<T>::insert(session_id, session);
			Ok(amount)
		}

		/// Write a batch out: the stream totals once per stream, the payments once per
		/// recipient.
		pub(crate) fn finish(batch: Batch<T>) -> DispatchResult {
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
			OpenSessionCount::<T>::mutate(|c| c.saturating_dec());
			let refund = session.escrow_remaining;
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
				settled_seconds: session.settled_seconds,
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
				if let Some(session) = Sessions::<T>::get(session_id) {
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
		/// [`Config::MaxCloseBatch`], scanning at most [`OCW_SCAN_LIMIT`] sessions from the
		/// cursor in off-chain local storage (wrapping around at the end).
		pub fn collect_expired(now: BlockNumberFor<T>) -> Vec<SessionId> {
			let cursor = StorageValueRef::persistent(OCW_CURSOR_KEY);
			let start: Vec<u8> = cursor.get::<Vec<u8>>().ok().flatten().unwrap_or_default();
			let mut iter = if start.is_empty() {
				Sessions::<T>::iter()
			} else {
				Sessions::<T>::iter_from(start)
			};
			let max = T::MaxCloseBatch::get() as usize;
			let mut ids = Vec::new();
			let mut next_start = Vec::new();
			let mut scanned = 0u32;
			while scanned < OCW_SCAN_LIMIT && ids.len() < max {
				let Some((id, session)) = iter.next() else {
					next_start.clear();
					break;
				};
				scanned.saturating_inc();
				next_start = Sessions::<T>::hashed_key_for(id);
				if Self::is_expired(&session, now) {
					ids.push(id);
				}
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
		/// - every session id is below [`NextSessionId`]; `settled_seconds ≤ max_seconds`;
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
			for (id, s) in Sessions::<T>::iter() {
				count.saturating_inc();
				ensure!(id < next, "session id not below NextSessionId");
				ensure!(s.settled_seconds <= s.max_seconds, "settled above max");
				ensure!(
					Self::cost(s.price_per_second, s.max_seconds.saturating_sub(s.settled_seconds))
						== Some(s.escrow_remaining),
					"escrow_remaining != price x unsettled seconds"
				);
				total = total.checked_add(&s.escrow_remaining).ok_or("escrow sum overflows")?;
				per_stream.entry(s.stream_id).or_default().saturating_inc();
			}
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
