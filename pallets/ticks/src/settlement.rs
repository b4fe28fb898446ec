//! Settlement: vouchers paid out of escrow, alone ([`tick`](crate::Pallet::tick), a close
//! intent) or in batches ([`settle_batch`](crate::Pallet::settle_batch)), and the signed
//! payloads they verify.
//!
//! Every settlement goes through [`Pallet::settle_one`] into a [`Batch`]: the batch reads each
//! session page and stream once, aggregates payments per recipient, and [`Pallet::finish`]
//! writes everything once.

use crate::{
	pallet::LOG_TARGET, BalanceOf, BatchWitness, Config, Error, Event, NextSessionId, PageIndex,
	Pallet, PayloadKind, RejectReason, SessionId, SessionPage, SessionPages, SessionState,
	Sessions, Voucher, VoucherEncoding, VoucherSigner, WeightInfo, CLOSE_TAG, VOUCHER_TAG,
	WRAP_PREFIX, WRAP_SUFFIX,
};
use alloc::{collections::BTreeMap, vec::Vec};
use codec::Encode;
use frame_support::{
	dispatch::DispatchResultWithPostInfo,
	pallet_prelude::{DispatchError, DispatchResult, Weight},
	traits::{fungible::Inspect, tokens::Preservation, Get},
};
use frame_system::pallet_prelude::BlockNumberFor;
use pallet_payouts::Credits;
use pallet_streams::{SplitOf, StreamId};
use sp_runtime::traits::{CheckedMul, CheckedSub, SaturatedConversion, Saturating, Verify, Zero};

/// How a settlement is authorized.
pub(crate) enum Auth<'a, T: Config> {
	/// By a signature of a payload of `kind`, by the key `signer` names, over `encoding`.
	Signature {
		/// What was signed.
		kind: PayloadKind,
		/// Which key signed.
		signer: VoucherSigner,
		/// Which bytes.
		encoding: VoucherEncoding,
		/// The signature.
		signature: &'a T::VoucherSignature,
	},
	/// By the origin, which must be the session's viewer.
	Origin(&'a T::AccountId),
	/// Already verified by the call's authorization (a close intent).
	Verified,
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
	/// The bytes a signer signs for a voucher:
	/// `(b"vilokanam/tick/v1", genesis_hash, session_id, cumulative_seconds).encode()`.
	pub fn voucher_payload(
		genesis_hash: &T::Hash,
		session_id: SessionId,
		cumulative_seconds: u64,
	) -> Vec<u8> {
		(VOUCHER_TAG, genesis_hash, session_id, cumulative_seconds).encode()
	}

	/// The bytes a signer signs for a close intent:
	/// `(b"vilokanam/close/v1", genesis_hash, session_id, cumulative_seconds).encode()`.
	pub fn close_payload(
		genesis_hash: &T::Hash,
		session_id: SessionId,
		cumulative_seconds: u64,
	) -> Vec<u8> {
		(CLOSE_TAG, genesis_hash, session_id, cumulative_seconds).encode()
	}

	/// Whether `signature` signs the payload of `kind` in `encoding` by `who`. One
	/// verification, whatever the encoding.
	#[allow(clippy::too_many_arguments)]
	pub fn verify_payload(
		kind: PayloadKind,
		signature: &T::VoucherSignature,
		encoding: VoucherEncoding,
		genesis_hash: &T::Hash,
		session_id: SessionId,
		cumulative_seconds: u64,
		who: &T::AccountId,
	) -> bool {
		let payload = match kind {
			PayloadKind::Voucher => {
				Self::voucher_payload(genesis_hash, session_id, cumulative_seconds)
			},
			PayloadKind::CloseIntent => {
				Self::close_payload(genesis_hash, session_id, cumulative_seconds)
			},
		};
		Self::verify_bytes(signature, encoding, &payload, who)
	}

	/// Whether `signature` signs `payload` in `encoding` by `who` (one verification).
	pub(crate) fn verify_bytes(
		signature: &T::VoucherSignature,
		encoding: VoucherEncoding,
		payload: &[u8],
		who: &T::AccountId,
	) -> bool {
		match encoding {
			VoucherEncoding::Raw => signature.verify(payload, who),
			VoucherEncoding::Wrapped => {
				let mut wrapped = Vec::with_capacity(
					WRAP_PREFIX
						.len()
						.saturating_add(payload.len())
						.saturating_add(WRAP_SUFFIX.len()),
				);
				wrapped.extend_from_slice(WRAP_PREFIX);
				wrapped.extend_from_slice(payload);
				wrapped.extend_from_slice(WRAP_SUFFIX);
				signature.verify(&wrapped[..], who)
			},
		}
	}

	pub(crate) fn cost(price: BalanceOf<T>, seconds: u64) -> Option<BalanceOf<T>> {
		let seconds: BalanceOf<T> = seconds.saturated_into();
		price.checked_mul(&seconds)
	}

	pub(crate) fn reject_error(reason: RejectReason) -> Error<T> {
		match reason {
			RejectReason::BadSignature | RejectReason::UnknownSession => {
				Error::<T>::SessionNotFound
			},
			RejectReason::SessionClosed => Error::<T>::SessionClosed,
			RejectReason::NotIncreasing => Error::<T>::NotIncreasing,
			RejectReason::AboveMaxSeconds => Error::<T>::AboveMaxSeconds,
			RejectReason::AheadOfTime => Error::<T>::AheadOfTime,
			RejectReason::AfterClose => Error::<T>::AfterClose,
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
		let Some(state) = batch.page(crate::page_of(session_id).0).page.get(session_id).cloned()
		else {
			// Against the invariants (`try_state` checks them): a stored session without
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
		let grace = T::ElapsedGrace::get();
		let elapsed = batch.now_ms.saturating_sub(session.opened_at) / 1_000;
		if cumulative_seconds > elapsed.saturating_add(grace) {
			return reject(AheadOfTime);
		}
		if session.seconds_cap(grace).is_some_and(|cap| cumulative_seconds > cap) {
			return reject(AfterClose);
		}
		// The signature is checked last: it is the expensive check, and replays (the common
		// rejection) are refused without it.
		if let Auth::Signature { kind, signer, encoding, signature } = auth {
			if !Self::verify_payload(
				kind,
				signature,
				encoding,
				&batch.genesis_hash,
				session_id,
				cumulative_seconds,
				session.signer_account(signer),
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
				// A stream with stored sessions cannot be removed, so it is there.
				let Some(stream) = pallet_streams::Pallet::<T>::stream(session.stream_id) else {
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
		let entry = batch.page(crate::page_of(session_id).0);
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
				pallet_streams::Pallet::<T>::note_settled(*stream_id, entry.seconds, entry.amount);
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

	/// Settle one payload of a session on its own (a tick or a close intent) and report it:
	/// [`Event::SessionSettled`] if it paid, [`Event::VoucherRejected`] if it was refused.
	/// Returns whether it settled; only a fatal error is an `Err`.
	pub(crate) fn settle_single(
		session_id: SessionId,
		cumulative_seconds: u64,
		auth: Auth<T>,
	) -> Result<bool, DispatchError> {
		let mut batch = Batch::<T>::new();
		match Self::settle_one(&mut batch, session_id, cumulative_seconds, auth) {
			Ok(amount) => {
				Self::finish(batch)?;
				Self::deposit_event(Event::SessionSettled {
					session_id,
					cumulative_seconds,
					amount,
				});
				Ok(true)
			},
			Err(SettleError::Rejected(reason)) => {
				Self::deposit_event(Event::VoucherRejected { session_id, reason });
				Ok(false)
			},
			Err(SettleError::Fatal(e)) => Err(e),
		}
	}

	/// `tick`: settle the caller's own session; a refusal is an error.
	pub(crate) fn do_tick(
		who: &T::AccountId,
		session_id: SessionId,
		cumulative_seconds: u64,
	) -> DispatchResult {
		let mut batch = Batch::<T>::new();
		let amount =
			match Self::settle_one(&mut batch, session_id, cumulative_seconds, Auth::Origin(who)) {
				Ok(amount) => amount,
				Err(SettleError::Rejected(reason)) => return Err(Self::reject_error(reason).into()),
				Err(SettleError::Fatal(e)) => return Err(e),
			};
		Self::finish(batch)?;
		Self::deposit_event(Event::SessionSettled { session_id, cumulative_seconds, amount });
		Ok(())
	}

	/// `settle_batch`: check the pages witness, settle each voucher, write out once.
	pub(crate) fn do_settle_batch(
		vouchers: &[Voucher<T::VoucherSignature>],
		witness: BatchWitness,
	) -> DispatchResultWithPostInfo {
		frame_support::ensure!(
			crate::pages_of(vouchers.iter().map(|v| v.session_id)) <= witness.pages,
			Error::<T>::TooManyPages
		);
		let mut batch = Batch::<T>::new();
		batch.max_streams = witness.streams;
		let (mut accepted, mut rejected) = (0u32, 0u32);
		for voucher in vouchers.iter() {
			let auth = Auth::Signature {
				kind: PayloadKind::Voucher,
				signer: voucher.signer,
				encoding: voucher.encoding,
				signature: &voucher.signature,
			};
			match Self::settle_one(&mut batch, voucher.session_id, voucher.cumulative_seconds, auth)
			{
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
	pub fn settle_batch_weight(accepted: u32, rejected: u32, streams: u32, pages: u32) -> Weight {
		let base = <T as Config>::WeightInfo::settle_batch(accepted, rejected);
		let per_stream = <T as Config>::WeightInfo::settle_batch_streams(streams)
			.saturating_sub(<T as Config>::WeightInfo::settle_batch(streams, 0));
		let per_page = <T as Config>::WeightInfo::settle_batch_pages(pages)
			.saturating_sub(<T as Config>::WeightInfo::settle_batch(pages, 0));
		base.saturating_add(per_stream).saturating_add(per_page)
	}

	/// Endow the escrow account with the existential deposit if it has less.
	pub(crate) fn endow_escrow() {
		use frame_support::traits::fungible::Mutate;
		let escrow = Self::escrow_account();
		let ed = <T as pallet_payouts::Config>::Currency::minimum_balance();
		let free = <T as pallet_payouts::Config>::Currency::balance(&escrow);
		if free < ed {
			if let Err(e) =
				<T as pallet_payouts::Config>::Currency::mint_into(&escrow, ed.saturating_sub(free))
			{
				log::error!(target: LOG_TARGET, "cannot endow escrow account: {e:?}");
			}
		}
	}
}
