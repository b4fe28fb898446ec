//! The pallet's invariants, checked by `try_state` (and after every unit test).
#![cfg_attr(not(any(feature = "try-runtime", test)), allow(unused_imports))]

use crate::{
	Allowances, BalanceOf, ClosedQueue, ClosedQueueBounds, ClosedSessions, Config, NextAllowanceId,
	NextSessionId, OpenSessionCount, Pallet, SessionPages, Sessions,
};
use alloc::collections::BTreeMap;
use frame_support::{ensure, traits::fungible::Inspect};
use pallet_streams::StreamId;
use sp_runtime::traits::{CheckedAdd, Saturating, Zero};

impl<T: Config> Pallet<T> {
	/// Check the invariants:
	/// - every session id is below [`NextSessionId`]; every stored session (entry of
	///   [`Sessions`]) has its slot in [`SessionPages`], and every filled slot belongs to a
	///   stored session; no stored page is empty;
	/// - `settled_seconds ≤ max_seconds`;
	///   `escrow_remaining == price × (max_seconds − settled_seconds)`;
	/// - a closing session was asked to close after it was opened;
	/// - the session counter is right, and each stream's `current_viewers` equals its number
	///   of stored sessions;
	/// - `balance(escrow) ≥ ED + Σ escrow_remaining`;
	/// - every allowance's id is below [`NextAllowanceId`], its `used` at most its `amount`
	///   and its nonce consistent with its life (no allowance is granted already used);
	/// - closed sessions' records: the queue's live entries `head..tail` are exactly the
	///   stored entries, each names a record, each record is named once, no record is of a
	///   stored (open or closing) session, every record's id is below [`NextSessionId`], and
	///   records were closed in the queue's order (their `closed_in` never decreases).
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let next = NextSessionId::<T>::get();
		let mut total: BalanceOf<T> = Zero::zero();
		let mut count = 0u32;
		let mut per_stream: BTreeMap<StreamId, u32> = BTreeMap::new();
		for (id, info) in Sessions::<T>::iter() {
			count.saturating_inc();
			ensure!(id < next, "session id not below NextSessionId");
			let s = Self::session(id).ok_or("stored session without its page slot")?;
			ensure!(s.settled_seconds <= s.max_seconds, "settled above max");
			ensure!(
				Self::cost(s.price_per_second, s.max_seconds.saturating_sub(s.settled_seconds))
					== Some(s.escrow_remaining),
				"escrow_remaining != price x unsettled seconds"
			);
			ensure!(
				s.closing_since.is_none_or(|since| since >= s.opened_at),
				"closing before opening"
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
		ensure!(slots == count, "page slots != stored sessions");
		ensure!(OpenSessionCount::<T>::get() == count, "session counter wrong");
		for (id, stream) in pallet_streams::Streams::<T>::iter() {
			ensure!(
				stream.current_viewers == per_stream.remove(&id).unwrap_or(0),
				"current_viewers != stored sessions"
			);
		}
		ensure!(per_stream.is_empty(), "session of a missing stream");
		let escrow = <T as pallet_payouts::Config>::Currency::balance(&Self::escrow_account());
		let ed = <T as pallet_payouts::Config>::Currency::minimum_balance();
		ensure!(escrow >= total.saturating_add(ed), "escrow below ED + open sessions");
		let next_allowance = NextAllowanceId::<T>::get();
		for (_, allowance) in Allowances::<T>::iter() {
			ensure!(allowance.id < next_allowance, "allowance id not below NextAllowanceId");
			ensure!(allowance.used <= allowance.amount, "allowance used above its amount");
		}
		let (head, tail) = ClosedQueueBounds::<T>::get();
		ensure!(head <= tail, "closed queue head past its tail");
		let live = tail.saturating_sub(head);
		ensure!(
			ClosedQueue::<T>::iter_keys().count() as u64 == live,
			"closed queue entries != tail - head"
		);
		ensure!(
			ClosedSessions::<T>::iter_keys().count() as u64 == live,
			"closed records != queue entries"
		);
		let mut last_closed_in = None;
		for n in head..tail {
			let id = ClosedQueue::<T>::get(n).ok_or("hole in the closed queue")?;
			let record = ClosedSessions::<T>::get(id).ok_or("queue entry without its record")?;
			ensure!(id < next, "closed record id not below NextSessionId");
			ensure!(!Sessions::<T>::contains_key(id), "a stored session has a closed record");
			ensure!(
				last_closed_in.is_none_or(|last| last <= record.closed_in),
				"closed records out of closing order"
			);
			last_closed_in = Some(record.closed_in);
		}
		Ok(())
	}
}
