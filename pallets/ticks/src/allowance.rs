//! Allowances: one wallet approval, then no prompt while watching.
//!
//! A viewer grants an allowance once ([`grant_allowance`](crate::Pallet::grant_allowance)):
//! a delegate key that its page generated and keeps, a budget `amount` per `period`, and an
//! expiry. Within it, the page opens and tops up sessions on any stream by
//! [`delegate`](crate::Pallet::delegate) calls signed with the delegate key, and closes them
//! with close intents signed by each session's voucher key: the wallet is not asked again.
//!
//! ## Design
//!
//! - **Nothing moves at grant time.** Deposits come from the viewer's free balance when the
//!   delegate opens or tops up a session; the allowance only bounds what the delegate may
//!   commit: `used + cost ≤ amount` in the current period, where `used` counts deposits,
//!   top-ups and fees, and the refund of a session the delegate opened in the current period is
//!   credited back when it closes. Revoking ([`revoke_allowance`](crate::Pallet::revoke_allowance))
//!   stops the delegate at once; the unspent part never left the viewer's account, and open
//!   sessions refund as they close.
//! - **Authorized, not signed.** A delegate call is a general transaction whose
//!   `#[pallet::authorize]` function checks the delegate's signature of
//!   `(b"vilokanam/delegate/v1", genesis_hash, viewer, allowance_id, nonce, op).encode()`
//!   ([`Pallet::delegate_payload`]), the allowance (known, this id, not expired), the nonce (the
//!   next one: a signature is good for one call, and ids are never reused, so signatures under
//!   a revoked or replaced allowance are worthless) and that the operation with its fee fits
//!   the allowance and the viewer's balance.
//! - **It costs the allowance.** The transaction payment extension charges nothing for an
//!   authorized call, so the call charges its own fee ([`Config::DelegateFee`]: in the runtime,
//!   what a signed transaction of the same weight and length pays), burned from the viewer's
//!   balance and counted in `used`. The fee is charged even when the operation fails (a stream
//!   that ended meanwhile): the operation runs in a storage layer and its failure is reported
//!   in [`Event::DelegateCallExecuted`](crate::Event::DelegateCallExecuted). A delegate thus
//!   cannot fill blocks for free, and cannot spend beyond its allowance.
//! - A viewer has one allowance; granting again replaces it (a new id).

use crate::{
	Allowance, AllowanceId, Allowances, BalanceOf, Config, DelegateFee, DelegateOp, Error, Event,
	NextAllowanceId, Pallet, Sessions, VoucherEncoding, WeightInfo, DELEGATE_TAG,
	USER_AUTHORIZED_LONGEVITY, USER_AUTHORIZED_PRIORITY,
};
use alloc::vec::Vec;
use codec::Encode;
use frame_support::{
	ensure,
	pallet_prelude::{
		DispatchResult, InvalidTransaction, TransactionSource, TransactionValidityWithRefund,
		ValidTransaction, Weight,
	},
	storage::with_storage_layer,
	traits::{
		fungible::Mutate,
		tokens::{Fortitude, Precision, Preservation},
	},
};
use sp_runtime::{
	traits::{CheckedAdd, Saturating, Zero},
	DispatchError,
};

impl<T: Config> Pallet<T> {
	/// The bytes a delegate signs for a call:
	/// `(b"vilokanam/delegate/v1", genesis_hash, viewer, allowance_id, nonce, op).encode()`.
	pub fn delegate_payload(
		genesis_hash: &T::Hash,
		viewer: &T::AccountId,
		allowance_id: AllowanceId,
		nonce: u32,
		op: &DelegateOp<T>,
	) -> Vec<u8> {
		(DELEGATE_TAG, genesis_hash, viewer, allowance_id, nonce, op).encode()
	}

	/// The weight of a delegate call's operation (its dispatch, fee included).
	pub fn delegate_op_weight(op: &DelegateOp<T>) -> Weight {
		match op {
			DelegateOp::OpenSession { .. } => <T as Config>::WeightInfo::delegate_open_session(),
			DelegateOp::TopUp { .. } => <T as Config>::WeightInfo::delegate_top_up(),
		}
	}

	/// The fee of a delegate call doing `op`: as for a signed transaction of its weight
	/// (authorization included) and length.
	pub fn delegate_fee(op: &DelegateOp<T>) -> BalanceOf<T> {
		// The call's arguments besides `op`: viewer, allowance id, nonce, encoding and a
		// signature, plus the call's two index bytes: a fixed upper bound.
		const OTHER_ARGS: u32 = 32 + 8 + 4 + 1 + 65 + 2;
		let length = (op.encoded_size() as u32).saturating_add(OTHER_ARGS);
		let weight = Self::delegate_op_weight(op)
			.saturating_add(<T as Config>::WeightInfo::authorize_delegate());
		T::DelegateFee::fee(weight, length)
	}

	/// What `op` would commit out of the viewer's balance now (fee aside): the deposit of a
	/// session at the price a session opened now pays (the stream's, or its replay's once
	/// ended; refused above the viewer's maximum), or a top-up at the
	/// session's price.
	pub fn delegate_op_cost(
		viewer: &T::AccountId,
		op: &DelegateOp<T>,
	) -> Result<BalanceOf<T>, DispatchError> {
		match op {
			DelegateOp::OpenSession { stream_id, max_seconds, max_price_per_second, .. } => {
				let stream = pallet_streams::Pallet::<T>::stream(*stream_id)
					.ok_or(Error::<T>::StreamNotFound)?;
				// The price a session opened now pays: live, or the replay's once ended.
				let price = pallet_streams::Pallet::<T>::session_price(&stream)?;
				ensure!(price <= *max_price_per_second, Error::<T>::PriceAboveMax);
				Ok(Self::cost(price, *max_seconds).ok_or(Error::<T>::Overflow)?)
			},
			DelegateOp::TopUp { session_id, extra_seconds } => {
				let info = Sessions::<T>::get(session_id).ok_or(Error::<T>::SessionNotFound)?;
				ensure!(info.viewer == *viewer, Error::<T>::NotViewer);
				Ok(Self::cost(info.price_per_second, *extra_seconds).ok_or(Error::<T>::Overflow)?)
			},
		}
	}

	/// `grant_allowance` (see [`grant_allowance`](crate::Pallet::grant_allowance)).
	pub(crate) fn do_grant_allowance(
		viewer: T::AccountId,
		delegate: T::AccountId,
		amount: BalanceOf<T>,
		period: u64,
		expires_at: u64,
	) -> DispatchResult {
		let now = Self::now_ms();
		ensure!(!amount.is_zero() && expires_at > now, Error::<T>::InvalidAllowance);
		let allowance_id = NextAllowanceId::<T>::get();
		let next = allowance_id.checked_add(1).ok_or(Error::<T>::Overflow)?;
		NextAllowanceId::<T>::put(next);
		let replaced = Allowances::<T>::get(&viewer).map(|a| a.id);
		Allowances::<T>::insert(
			&viewer,
			Allowance::<T> {
				id: allowance_id,
				delegate: delegate.clone(),
				amount,
				period,
				expires_at,
				period_start: now,
				used: Zero::zero(),
				nonce: 0,
			},
		);
		Self::deposit_event(Event::AllowanceGranted {
			viewer,
			allowance_id,
			delegate,
			amount,
			period,
			expires_at,
			replaced,
		});
		Ok(())
	}

	/// `revoke_allowance` (see [`revoke_allowance`](crate::Pallet::revoke_allowance)).
	pub(crate) fn do_revoke_allowance(viewer: &T::AccountId) -> DispatchResult {
		let allowance = Allowances::<T>::take(viewer).ok_or(Error::<T>::AllowanceNotFound)?;
		Self::deposit_event(Event::AllowanceRevoked {
			viewer: viewer.clone(),
			allowance_id: allowance.id,
		});
		Ok(())
	}

	/// The `#[pallet::authorize]` function of `delegate`: the allowance is the viewer's
	/// current one and not expired, the nonce is the next one, the delegate signed the call,
	/// and the operation with its fee fits both what is left of the allowance and the viewer's
	/// balance. One tag per `(viewer, allowance, nonce)`.
	pub fn authorize_delegate(
		_source: TransactionSource,
		viewer: &T::AccountId,
		allowance_id: &AllowanceId,
		nonce: &u32,
		op: &DelegateOp<T>,
		encoding: &VoucherEncoding,
		signature: &T::VoucherSignature,
	) -> TransactionValidityWithRefund {
		let now = Self::now_ms();
		let allowance = Allowances::<T>::get(viewer)
			.filter(|a| a.id == *allowance_id)
			.ok_or(InvalidTransaction::Stale)?;
		if now >= allowance.expires_at || *nonce < allowance.nonce {
			return Err(InvalidTransaction::Stale.into());
		}
		if *nonce > allowance.nonce {
			return Err(InvalidTransaction::Future.into());
		}
		let payload =
			Self::delegate_payload(&Self::genesis_hash(), viewer, *allowance_id, *nonce, op);
		if !Self::verify_bytes(signature, *encoding, &payload, &allowance.delegate) {
			return Err(InvalidTransaction::BadProof.into());
		}
		let cost = Self::delegate_op_cost(viewer, op)
			.ok()
			.and_then(|c| c.checked_add(&Self::delegate_fee(op)))
			.ok_or(InvalidTransaction::Call)?;
		let allowance = allowance.rolled(now);
		if cost > allowance.remaining() || cost > Self::reducible(viewer) {
			return Err(InvalidTransaction::Payment.into());
		}
		let valid = ValidTransaction::with_tag_prefix("VilokanamTicksDelegate")
			.priority(USER_AUTHORIZED_PRIORITY)
			.longevity(USER_AUTHORIZED_LONGEVITY)
			.and_provides((viewer, allowance_id, nonce))
			.propagate(true)
			.build()?;
		Ok((valid, Weight::zero()))
	}

	/// `delegate`, once authorized: charge the fee (allowance and balance), use the nonce,
	/// then run `op` in a storage layer within what is left of the allowance.
	pub(crate) fn do_delegate(
		viewer: T::AccountId,
		allowance_id: AllowanceId,
		nonce: u32,
		op: DelegateOp<T>,
	) -> DispatchResult {
		let now = Self::now_ms();
		let mut allowance = Allowances::<T>::get(&viewer)
			.filter(|a| a.id == allowance_id)
			.ok_or(Error::<T>::AllowanceNotFound)?
			.rolled(now);
		ensure!(now < allowance.expires_at, Error::<T>::AllowanceExpired);
		ensure!(nonce == allowance.nonce, Error::<T>::BadNonce);
		let fee = Self::delegate_fee(&op);
		allowance.used = allowance
			.used
			.checked_add(&fee)
			.filter(|used| *used <= allowance.amount)
			.ok_or(Error::<T>::AllowanceExceeded)?;
		if !fee.is_zero() {
			<T as pallet_payouts::Config>::Currency::burn_from(
				&viewer,
				fee,
				Preservation::Preserve,
				Precision::Exact,
				Fortitude::Polite,
			)?;
		}
		allowance.nonce = allowance.nonce.saturating_add(1);
		Allowances::<T>::insert(&viewer, allowance);

		let result = with_storage_layer(|| -> DispatchResult {
			let committed = match op {
				DelegateOp::OpenSession {
					stream_id,
					max_seconds,
					max_price_per_second,
					voucher_key,
				} => {
					Self::do_open(
						viewer.clone(),
						stream_id,
						max_seconds,
						max_price_per_second,
						voucher_key,
						Some(allowance_id),
					)?
					.1
				},
				DelegateOp::TopUp { session_id, extra_seconds } => {
					Self::do_top_up(&viewer, session_id, extra_seconds, true)?
				},
			};
			Self::commit_to_allowance(&viewer, committed)
		});
		Self::deposit_event(Event::DelegateCallExecuted {
			viewer,
			allowance_id,
			nonce,
			fee,
			result,
		});
		Ok(())
	}

	/// Count `amount` against the viewer's allowance, failing if it does not fit.
	fn commit_to_allowance(viewer: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		Allowances::<T>::try_mutate(viewer, |allowance| -> DispatchResult {
			let allowance = allowance.as_mut().ok_or(Error::<T>::AllowanceNotFound)?;
			allowance.used = allowance
				.used
				.checked_add(&amount)
				.filter(|used| *used <= allowance.amount)
				.ok_or(Error::<T>::AllowanceExceeded)?;
			Ok(())
		})
	}

	/// Credit the refund of a session that allowance `allowance_id` opened (at `opened_at`)
	/// back to it, if it is still the viewer's allowance and the session was opened in its
	/// current period.
	pub(crate) fn credit_refund(
		viewer: &T::AccountId,
		allowance_id: AllowanceId,
		opened_at: u64,
		refund: BalanceOf<T>,
	) {
		let now = Self::now_ms();
		Allowances::<T>::mutate(viewer, |maybe| {
			if let Some(allowance) = maybe.take() {
				let mut allowance = allowance.rolled(now);
				if allowance.id == allowance_id && opened_at >= allowance.period_start {
					allowance.used = allowance.used.saturating_sub(refund);
				}
				*maybe = Some(allowance);
			}
		});
	}
}
