//! Closed sessions' records: what a session settled and refunded, kept for
//! [`Config::ClosedRetention`] blocks after it closed so that a client (a viewer's page, a
//! wallet's history) can still show the outcome through `vilokanam_session`.
//!
//! Closing a session ([`Pallet::do_close`]) writes its [`ClosedSession`] and appends its id to
//! [`ClosedQueue`], a FIFO in closing order. `on_idle` removes records from the head of the
//! queue once they are older than the retention, as many as the block's leftover weight allows
//! (at most [`MAX_PRUNED_PER_BLOCK`]). Closing order is retention order, so the head is always
//! the oldest record and a scan stops at the first one still kept. When blocks stay full,
//! records are kept longer, never shorter.

use crate::{
	ClosedQueue, ClosedQueueBounds, ClosedSession, ClosedSessions, Config, Pallet, SessionId,
	WeightInfo, MAX_PRUNED_PER_BLOCK,
};
use frame_support::{pallet_prelude::Weight, traits::Get};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::Saturating;

impl<T: Config> Pallet<T> {
	/// Keeps `record` of the session `id` that just closed.
	pub(crate) fn record_closed(id: SessionId, record: ClosedSession<T>) {
		let (head, tail) = ClosedQueueBounds::<T>::get();
		ClosedQueue::<T>::insert(tail, id);
		ClosedSessions::<T>::insert(id, record);
		ClosedQueueBounds::<T>::put((head, tail.saturating_add(1)));
	}

	/// The record of closed session `id`, while it is kept.
	pub fn closed_session(id: SessionId) -> Option<ClosedSession<T>> {
		ClosedSessions::<T>::get(id)
	}

	/// `on_idle`: removes as many expired records as `remaining` pays for (at most
	/// [`MAX_PRUNED_PER_BLOCK`]) and returns the weight used.
	pub(crate) fn prune_closed_within(now: BlockNumberFor<T>, remaining: Weight) -> Weight {
		let base = <T as Config>::WeightInfo::prune_closed(0);
		if remaining.any_lt(base) {
			return Weight::zero();
		}
		let per_record = <T as Config>::WeightInfo::prune_closed(1).saturating_sub(base);
		let fits = remaining
			.saturating_sub(base)
			.checked_div_per_component(&per_record)
			.unwrap_or(u64::MAX);
		let max = u32::try_from(fits).unwrap_or(u32::MAX).min(MAX_PRUNED_PER_BLOCK);
		let pruned = Self::prune_closed(now, max);
		<T as Config>::WeightInfo::prune_closed(pruned)
	}

	/// Removes up to `max` records, oldest first, that closed at least
	/// [`Config::ClosedRetention`] blocks before `now`. Returns how many it removed.
	pub fn prune_closed(now: BlockNumberFor<T>, max: u32) -> u32 {
		let (first, tail) = ClosedQueueBounds::<T>::get();
		let mut head = first;
		let retention = T::ClosedRetention::get();
		let mut pruned = 0;
		while pruned < max && head < tail {
			let Some(id) = ClosedQueue::<T>::get(head) else {
				// Against the invariants (`try_state` checks them): skip the hole, counted as
				// a record since it cost a read.
				head.saturating_inc();
				pruned.saturating_inc();
				continue;
			};
			if let Some(record) = ClosedSessions::<T>::get(id) {
				if now < record.closed_in.saturating_add(retention) {
					break;
				}
				ClosedSessions::<T>::remove(id);
			}
			ClosedQueue::<T>::remove(head);
			head.saturating_inc();
			pruned.saturating_inc();
		}
		if head != first {
			ClosedQueueBounds::<T>::put((head, tail));
		}
		pruned
	}
}
