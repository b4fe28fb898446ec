//! Sessions: opening with escrow, top-ups, the viewer's close request and its settlement
//! window, closing at once by the creator or relayer, and refunds.
//!
//! A session is *open*, then *closing* once its viewer asks to close ([`close_session`] by the
//! viewer, or a close intent), then *closed*: removed with the rest of its escrow refunded,
//! either at once by the stream's creator or relayer, or by [`close_expired`] once
//! [`Pallet::expiry`] says so.
//!
//! [`close_session`]: crate::Pallet::close_session
//! [`close_expired`]: crate::Pallet::close_expired

use crate::{
	pallet::LOG_TARGET, settlement::Auth, AllowanceId, BalanceOf, CloseIntent, CloseReason,
	ClosedSession, Config, Error, Event, NextSessionId, OpenSessionCount, Pallet, PayloadKind,
	Session, SessionId, SessionInfo, SessionPages, SessionState, Sessions,
	USER_AUTHORIZED_LONGEVITY, USER_AUTHORIZED_PRIORITY,
};
use frame_support::{
	dispatch::DispatchResultWithPostInfo,
	ensure,
	pallet_prelude::{
		DispatchResult, InvalidTransaction, TransactionSource, TransactionValidityWithRefund,
		ValidTransaction, Weight,
	},
	traits::{
		fungible::{Inspect, Mutate},
		tokens::Preservation,
		Get,
	},
	BoundedVec,
};
use frame_system::pallet_prelude::BlockNumberFor;
use pallet_streams::{Stream, StreamId, StreamStatus};
use sp_runtime::traits::{CheckedAdd, SaturatedConversion, Saturating, Zero};

use crate::WeightInfo;

impl<T: Config> Pallet<T> {
	/// Open a session for `viewer` (see [`open_session`](crate::Pallet::open_session)),
	/// recording `allowance` if a delegate opened it. Returns the session id and the deposit.
	pub(crate) fn do_open(
		viewer: T::AccountId,
		stream_id: StreamId,
		max_seconds: u64,
		max_price_per_second: BalanceOf<T>,
		voucher_key: T::AccountId,
		allowance: Option<AllowanceId>,
	) -> Result<(SessionId, BalanceOf<T>), sp_runtime::DispatchError> {
		ensure!(max_seconds > 0, Error::<T>::ZeroSeconds);
		ensure!(max_seconds <= T::MaxSecondsPerSession::get(), Error::<T>::TooManySeconds);
		let stream =
			pallet_streams::Pallet::<T>::stream(stream_id).ok_or(Error::<T>::StreamNotFound)?;
		// Live at the stream's price, or the replay of an ended one at its offer's.
		let price = pallet_streams::Pallet::<T>::session_price(&stream).map_err(|e| match e {
			pallet_streams::Error::ReplayNotOffered => Error::<T>::ReplayNotOffered,
			_ => Error::<T>::StreamNotLive,
		})?;
		ensure!(price <= max_price_per_second, Error::<T>::PriceAboveMax);
		ensure!(
			!pallet_streams::Pallet::<T>::is_banned_by(&stream.creator, &viewer),
			Error::<T>::Banned
		);
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
				voucher_key: voucher_key.clone(),
				closing_since: None,
				allowance,
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
			voucher_key,
			allowance,
		});
		Ok((session_id, deposit))
	}

	/// Top up `who`'s open session by `extra_seconds` (see
	/// [`top_up`](crate::Pallet::top_up)). Returns the amount moved into escrow.
	///
	/// `by_delegate`: the viewer's delegate pays it within its allowance. When the viewer's
	/// own wallet pays instead, the session no longer credits its refund to an allowance (the
	/// refund would then measure more than the delegate committed).
	pub(crate) fn do_top_up(
		who: &T::AccountId,
		session_id: SessionId,
		extra_seconds: u64,
		by_delegate: bool,
	) -> Result<BalanceOf<T>, sp_runtime::DispatchError> {
		ensure!(extra_seconds > 0, Error::<T>::ZeroSeconds);
		let mut session = Self::session(session_id).ok_or(Error::<T>::SessionNotFound)?;
		ensure!(session.viewer == *who, Error::<T>::NotViewer);
		ensure!(session.is_open(), Error::<T>::SessionClosing);
		let max_seconds =
			session.max_seconds.checked_add(extra_seconds).ok_or(Error::<T>::TooManySeconds)?;
		ensure!(max_seconds <= T::MaxSecondsPerSession::get(), Error::<T>::TooManySeconds);
		let amount =
			Self::cost(session.price_per_second, extra_seconds).ok_or(Error::<T>::Overflow)?;
		let remaining =
			session.escrow_remaining.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
		if !amount.is_zero() {
			<T as pallet_payouts::Config>::Currency::transfer(
				who,
				&Self::escrow_account(),
				amount,
				Preservation::Preserve,
			)?;
		}
		session.max_seconds = max_seconds;
		session.escrow_remaining = remaining;
		session.last_activity = frame_system::Pallet::<T>::block_number();
		if !by_delegate {
			session.allowance = None;
		}
		let (info, state) = session.split();
		Sessions::<T>::insert(session_id, info);
		Self::put_state(session_id, state);
		Self::deposit_event(Event::SessionToppedUp { session_id, max_seconds, amount });
		Ok(amount)
	}

	/// Whether `who` may close sessions of `stream` at once: its creator or its relayer.
	pub fn closes_at_once(stream: &Stream<T>, who: &T::AccountId) -> bool {
		stream.creator == *who || stream.relayer.as_ref() == Some(who)
	}

	/// `close_session` (see [`close_session`](crate::Pallet::close_session)).
	pub(crate) fn do_close_session(
		who: &T::AccountId,
		session_id: SessionId,
		final_intent: Option<CloseIntent<T::VoucherSignature>>,
	) -> DispatchResult {
		let info = Sessions::<T>::get(session_id).ok_or(Error::<T>::SessionNotFound)?;
		let at_once = pallet_streams::Pallet::<T>::stream(info.stream_id)
			.is_some_and(|s| Self::closes_at_once(&s, who));
		ensure!(*who == info.viewer || at_once, Error::<T>::NotParticipant);
		ensure!(at_once || info.closing_since.is_none(), Error::<T>::SessionClosing);
		if let Some(intent) = final_intent {
			let auth = Auth::Signature {
				kind: PayloadKind::CloseIntent,
				signer: intent.signer,
				encoding: intent.encoding,
				signature: &intent.signature,
			};
			Self::settle_single(session_id, intent.cumulative_seconds, auth)?;
		}
		if at_once {
			Self::do_close(session_id, CloseReason::Closed)
		} else {
			Self::begin_closing(session_id)
		}
	}

	/// `submit_close_intent`, once authorized: settle the intent's seconds if they are new,
	/// then start closing.
	pub(crate) fn do_submit_close_intent(
		session_id: SessionId,
		intent: &CloseIntent<T::VoucherSignature>,
	) -> DispatchResult {
		let session = Self::session(session_id).ok_or(Error::<T>::SessionNotFound)?;
		ensure!(session.is_open(), Error::<T>::SessionClosing);
		if intent.cumulative_seconds > session.settled_seconds {
			Self::settle_single(session_id, intent.cumulative_seconds, Auth::Verified)?;
		}
		Self::begin_closing(session_id)
	}

	/// The `#[pallet::authorize]` function of `submit_close_intent`: valid only for an open
	/// session, an intent whose seconds are within what was paid and what has elapsed (plus
	/// grace), and a signature by the key the intent names. One tag per session, so a session
	/// takes one close intent.
	pub fn authorize_close_intent(
		_source: TransactionSource,
		session_id: &SessionId,
		intent: &CloseIntent<T::VoucherSignature>,
	) -> TransactionValidityWithRefund {
		let session = Self::session(*session_id).ok_or(InvalidTransaction::Stale)?;
		if !session.is_open() {
			return Err(InvalidTransaction::Stale.into());
		}
		let elapsed = Self::now_ms().saturating_sub(session.opened_at) / 1_000;
		if intent.cumulative_seconds > session.max_seconds
			|| intent.cumulative_seconds > elapsed.saturating_add(T::ElapsedGrace::get())
		{
			return Err(InvalidTransaction::Call.into());
		}
		let (info, _) = session.split();
		if !Self::verify_payload(
			PayloadKind::CloseIntent,
			&intent.signature,
			intent.encoding,
			&Self::genesis_hash(),
			*session_id,
			intent.cumulative_seconds,
			info.signer_account(intent.signer),
		) {
			return Err(InvalidTransaction::BadProof.into());
		}
		let valid = ValidTransaction::with_tag_prefix("VilokanamTicksCloseIntent")
			.priority(USER_AUTHORIZED_PRIORITY)
			.longevity(USER_AUTHORIZED_LONGEVITY)
			.and_provides(session_id)
			.propagate(true)
			.build()?;
		Ok((valid, Weight::zero()))
	}

	/// Start the settlement window of an open session: from now on vouchers settle only up to
	/// the seconds elapsed until now (plus grace), and [`Pallet::expiry`] lets anyone refund it
	/// once [`Config::SettleWindow`] has passed.
	pub(crate) fn begin_closing(session_id: SessionId) -> DispatchResult {
		let now = Self::now_ms();
		Sessions::<T>::try_mutate(session_id, |info| -> DispatchResult {
			let info = info.as_mut().ok_or(Error::<T>::SessionNotFound)?;
			ensure!(info.closing_since.is_none(), Error::<T>::SessionClosing);
			info.closing_since = Some(now);
			Ok(())
		})?;
		let settled_seconds = Self::session(session_id).map(|s| s.settled_seconds).unwrap_or(0);
		Self::deposit_event(Event::SessionClosing {
			session_id,
			settled_seconds,
			refund_at: now.saturating_add(T::SettleWindow::get()),
		});
		Ok(())
	}

	/// Remove a session, refund its remaining escrow to the viewer (crediting its allowance,
	/// if a delegate opened it), update the stream's viewer count and keep the session's
	/// [`ClosedSession`] record ([`crate::history`]). A missing session is a no-op.
	pub(crate) fn do_close(session_id: SessionId, reason: CloseReason) -> DispatchResult {
		let Some(session) = Sessions::<T>::take(session_id) else { return Ok(()) };
		let Some(state) = Self::take_state(session_id) else {
			// Against the invariants: a stored session without settlement state. There is
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
		if let Some(allowance) = session.allowance {
			Self::credit_refund(&session.viewer, allowance, session.opened_at, refund);
		}
		pallet_streams::Pallet::<T>::note_session_closed(session.stream_id);
		Self::record_closed(
			session_id,
			ClosedSession {
				info: session,
				settled_seconds: state.settled_seconds,
				refunded: refund,
				closed_at: Self::now_ms(),
				closed_in: frame_system::Pallet::<T>::block_number(),
				reason,
			},
		);
		Self::deposit_event(Event::SessionClosed {
			session_id,
			settled_seconds: state.settled_seconds,
			refunded: refund,
			reason,
		});
		Ok(())
	}

	/// Whether `session` may be refunded now (at block `now` and `now_ms`), and why:
	/// - closing, and [`Config::SettleWindow`] has passed since the viewer's request:
	///   [`CloseReason::WindowElapsed`];
	/// - its stream is not live any more, and the window has passed since it ended (at once if
	///   the stream is gone): [`CloseReason::WindowElapsed`];
	/// - open on a live stream, or on the replay of an ended one (opened after the end), and
	///   idle for [`Config::IdleTimeout`] blocks: [`CloseReason::Expired`]. A replay session
	///   keeps this rule when the offer is withdrawn: its viewer stops getting media, so its
	///   vouchers stop and it idles out, with the relayer's last vouchers settled.
	pub fn expiry(
		session: &Session<T>,
		stream: Option<&Stream<T>>,
		now: BlockNumberFor<T>,
		now_ms: u64,
	) -> Option<CloseReason> {
		let window = T::SettleWindow::get();
		if let Some(since) = session.closing_since {
			return (now_ms >= since.saturating_add(window)).then_some(CloseReason::WindowElapsed);
		}
		match stream {
			Some(s)
				if s.status == StreamStatus::Live
					|| pallet_streams::Pallet::<T>::is_replay(s, session.opened_at) =>
			{
				(now.saturating_sub(session.last_activity) >= T::IdleTimeout::get())
					.then_some(CloseReason::Expired)
			},
			Some(s) => {
				let ended = s.ended_at.map_or(0, |t| t.saturated_into::<u64>());
				(now_ms >= ended.saturating_add(window)).then_some(CloseReason::WindowElapsed)
			},
			None => Some(CloseReason::WindowElapsed),
		}
	}

	/// [`Pallet::expiry`] of stored session `id` now, reading its stream.
	pub fn expiry_now(id: SessionId) -> Option<CloseReason> {
		let session = Self::session(id)?;
		let stream = pallet_streams::Pallet::<T>::stream(session.stream_id);
		Self::expiry(
			&session,
			stream.as_ref(),
			frame_system::Pallet::<T>::block_number(),
			Self::now_ms(),
		)
	}

	/// `close_expired`: refund each listed session that may be refunded now.
	pub(crate) fn do_close_expired(
		session_ids: &BoundedVec<SessionId, T::MaxCloseBatch>,
	) -> DispatchResultWithPostInfo {
		let mut closed = 0u32;
		for session_id in session_ids.iter() {
			if let Some(reason) = Self::expiry_now(*session_id) {
				Self::do_close(*session_id, reason)?;
				closed.saturating_inc();
			}
		}
		Ok(Some(<T as Config>::WeightInfo::close_expired(closed)).into())
	}

	/// Store the settlement state of session `id` in its page slot (one page read and one
	/// page write).
	pub(crate) fn put_state(id: SessionId, state: SessionState<T>) {
		SessionPages::<T>::mutate(crate::page_of(id).0, |page| {
			let page = page.get_or_insert_with(Default::default);
			if let Some(slot) = page.slot_mut(id) {
				*slot = Some(state);
			}
		});
	}

	/// Clear the page slot of session `id`, removing the page if it was the last stored
	/// session on it. Returns the state the slot held.
	pub(crate) fn take_state(id: SessionId) -> Option<SessionState<T>> {
		SessionPages::<T>::mutate_exists(crate::page_of(id).0, |maybe_page| {
			let page = maybe_page.as_mut()?;
			let state = page.slot_mut(id).and_then(Option::take);
			if page.is_empty() {
				*maybe_page = None;
			}
			state
		})
	}

	/// The free balance check the delegate's authorization uses (`Inspect` in scope here).
	pub(crate) fn reducible(who: &T::AccountId) -> BalanceOf<T> {
		<T as pallet_payouts::Config>::Currency::reducible_balance(
			who,
			Preservation::Preserve,
			frame_support::traits::tokens::Fortitude::Polite,
		)
	}
}
