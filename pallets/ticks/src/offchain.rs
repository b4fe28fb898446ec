//! The off-chain worker: find sessions that may be refunded ([`Pallet::expiry`]) and submit
//! one authorized [`close_expired`](crate::Pallet::close_expired) for them.

use crate::{
	Call, CloseReason, Config, Pallet, SessionId, SessionPages, Sessions, CLOSE_EXPIRED_LONGEVITY,
	CLOSE_EXPIRED_PRIORITY, OCW_CURSOR_KEY, OCW_LOCK_BLOCKS, OCW_LOCK_KEY, OCW_LOCK_MILLIS,
	OCW_SCAN_LIMIT,
};
use alloc::{collections::BTreeMap, vec::Vec};
use frame_support::{
	pallet_prelude::{
		InvalidTransaction, TransactionSource, TransactionValidityWithRefund, ValidTransaction,
		Weight,
	},
	traits::Get,
	BoundedVec,
};
use frame_system::{offchain::SubmitTransaction, pallet_prelude::BlockNumberFor};
use pallet_streams::{Stream, StreamId};
use sp_runtime::{
	offchain::{
		storage::StorageValueRef,
		storage_lock::{BlockAndTime, StorageLock},
		Duration,
	},
	traits::Saturating,
};

impl<T: Config> Pallet<T> {
	/// The `#[pallet::authorize]` function of `close_expired`: valid only if every listed
	/// session is stored and may be refunded now, and the ids are listed in increasing order
	/// (no repeats). A call padded with ids that are not open and expired is refused: the call
	/// pays no fee, so it may carry only work that must be done. Its priority is
	/// [`CLOSE_EXPIRED_PRIORITY`], no higher than any signed transaction's (`settle_batch`), so
	/// refunds never push settlement out of blocks. Provides one tag per session, so that two
	/// transactions closing the same session conflict.
	pub fn authorize_close_expired(
		_source: TransactionSource,
		session_ids: &BoundedVec<SessionId, T::MaxCloseBatch>,
	) -> TransactionValidityWithRefund {
		let now = frame_system::Pallet::<T>::block_number();
		let now_ms = Self::now_ms();
		let mut builder = ValidTransaction::with_tag_prefix("VilokanamTicksCloseExpired")
			.priority(CLOSE_EXPIRED_PRIORITY)
			.longevity(CLOSE_EXPIRED_LONGEVITY)
			.propagate(true);
		if session_ids.is_empty() || session_ids.windows(2).any(|w| w[0] >= w[1]) {
			return Err(InvalidTransaction::Call.into());
		}
		let mut streams: BTreeMap<StreamId, Option<Stream<T>>> = BTreeMap::new();
		for session_id in session_ids.iter() {
			// Closed (or never opened) since the list was made: the list is stale.
			let Some(session) = Self::session(*session_id) else {
				return Err(InvalidTransaction::Stale.into());
			};
			let stream = streams
				.entry(session.stream_id)
				.or_insert_with(|| pallet_streams::Pallet::<T>::stream(session.stream_id));
			if Self::expiry(&session, stream.as_ref(), now, now_ms).is_none() {
				return Err(InvalidTransaction::Call.into());
			}
			builder = builder.and_provides(session_id);
		}
		Ok((builder.build()?, Weight::zero()))
	}

	/// The sessions the off-chain worker would refund now: at most [`Config::MaxCloseBatch`],
	/// scanning the stored sessions of [`SessionPages`] page by page from the cursor in
	/// off-chain local storage (wrapping around at the end), and stopping after the page on
	/// which the [`OCW_SCAN_LIMIT`]th session is. Each session's cold data and stream (cached
	/// per stream) are read. A page is only passed by the cursor once all of its sessions were
	/// looked at.
	pub fn collect_expired(now: BlockNumberFor<T>) -> Vec<(SessionId, CloseReason)> {
		let cursor = StorageValueRef::persistent(OCW_CURSOR_KEY);
		let start: Vec<u8> = cursor.get::<Vec<u8>>().ok().flatten().unwrap_or_default();
		let mut iter = if start.is_empty() {
			SessionPages::<T>::iter()
		} else {
			SessionPages::<T>::iter_from(start.clone())
		};
		let now_ms = Self::now_ms();
		let max = T::MaxCloseBatch::get() as usize;
		let mut streams: BTreeMap<StreamId, Option<Stream<T>>> = BTreeMap::new();
		let mut found = Vec::new();
		let mut next_start = start;
		let mut scanned = 0u32;
		'pages: while scanned < OCW_SCAN_LIMIT && found.len() < max {
			let Some((index, page)) = iter.next() else {
				next_start.clear();
				break;
			};
			for (id, state) in page.open_sessions(index) {
				if found.len() >= max {
					// Resume at this page next time.
					break 'pages;
				}
				scanned.saturating_inc();
				let Some(info) = Sessions::<T>::get(id) else { continue };
				let stream = streams
					.entry(info.stream_id)
					.or_insert_with(|| pallet_streams::Pallet::<T>::stream(info.stream_id));
				let session = crate::Session::assemble(info, state.clone());
				if let Some(reason) = Self::expiry(&session, stream.as_ref(), now, now_ms) {
					found.push((id, reason));
				}
			}
			next_start = SessionPages::<T>::hashed_key_for(index);
		}
		cursor.set(&next_start);
		found
	}

	/// The off-chain worker's job: unless a submission is pending (lock held), collect
	/// refundable sessions and submit one authorized `close_expired`. Returns how many
	/// sessions were submitted.
	pub fn submit_close_expired(now: BlockNumberFor<T>) -> Result<usize, &'static str> {
		let mut lock =
			StorageLock::<BlockAndTime<frame_system::Pallet<T>>>::with_block_and_time_deadline(
				OCW_LOCK_KEY,
				OCW_LOCK_BLOCKS,
				Duration::from_millis(OCW_LOCK_MILLIS),
			);
		let guard = lock.try_lock().map_err(|_| "a submission is pending")?;
		let mut ids: Vec<SessionId> =
			Self::collect_expired(now).into_iter().map(|(id, _)| id).collect();
		// In increasing order, as the authorization requires (pages are found in hash order).
		ids.sort_unstable();
		ids.dedup();
		if ids.is_empty() {
			return Ok(0);
		}
		let n = ids.len();
		let session_ids: BoundedVec<SessionId, T::MaxCloseBatch> = BoundedVec::truncate_from(ids);
		let xt = T::create_authorized_transaction(Call::<T>::close_expired { session_ids }.into());
		SubmitTransaction::<T, Call<T>>::submit_transaction(xt)
			.map_err(|_| "submitting the transaction failed")?;
		// Keep the lock until its deadline: no duplicate while this one is pending.
		guard.forget();
		Ok(n)
	}
}
