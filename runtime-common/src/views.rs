//! The read-only views of Vilokanam's pallets behind the `VilokanamApi` runtime API, for both
//! runtimes: [`impl_vilokanam_views!`](crate::impl_vilokanam_views) defines them in the module
//! that invokes it. Listing goes through the pallets' indexes (live set, by creator, by
//! category); only text search scans, and it stops after `SEARCH_SCAN_LIMIT` streams.

/// Defines the views (`live_streams`, `stream`, `search_streams`, `streams_by_creator`,
/// `session`, `allowance`, `voucher_cost`, `quote`, `replay_prices`, `earnings`, `following`) of the runtime
/// type `$runtime` in the invoking module; the runtime's `VilokanamApi` implementation calls
/// them. The crate must have `alloc` (`extern crate alloc`).
#[macro_export]
macro_rules! impl_vilokanam_views {
	($runtime:ident) => {
		use alloc::vec::Vec;
		use pallet_streams::{
			Following, LiveStreams, Stream, StreamStatus, Streams, StreamsByCategory,
			StreamsByCreator,
		};
		use vilokanam_runtime_api::{
			self as api, AllowanceView, ClosedView, SessionEnd, SessionView, StreamView, MAX_PAGE,
		};

		use $crate::{AccountId, Balance};

		/// Streams examined by one search at most, so a query's cost is bounded however many streams
		/// are registered.
		pub const SEARCH_SCAN_LIMIT: usize = 10_000;

		fn status(s: StreamStatus) -> api::StreamStatus {
			match s {
				StreamStatus::Scheduled => api::StreamStatus::Scheduled,
				StreamStatus::Live => api::StreamStatus::Live,
				StreamStatus::Ended => api::StreamStatus::Ended,
			}
		}

		fn view(s: Stream<$runtime>) -> StreamView<AccountId, Balance> {
			StreamView {
				id: s.id,
				creator: s.creator,
				title: s.title.into_inner(),
				metadata: s.metadata.into_inner(),
				category: s.category,
				tags: s.tags.into_iter().map(|t| t.into_inner()).collect(),
				price_per_second: s.price_per_second,
				status: status(s.status),
				created_at: s.created_at,
				started_at: s.started_at,
				ended_at: s.ended_at,
				endpoint: s.endpoint.map(|e| e.into_inner()),
				relayer: s.relayer,
				collaborators: s.collaborators.into_inner(),
				total_seconds: s.total_viewer_seconds,
				total_earned: s.total_earned,
				current_viewers: s.current_viewers,
				peak_viewers: s.peak_viewers,
			}
		}

		fn page(
			ids: impl Iterator<Item = u64>,
			keep: impl Fn(&Stream<$runtime>) -> bool,
			offset: u32,
			limit: u32,
		) -> Vec<StreamView<AccountId, Balance>> {
			ids.filter_map(Streams::<$runtime>::get)
				.filter(|s| keep(s))
				.skip(offset as usize)
				.take(limit.min(MAX_PAGE) as usize)
				.map(view)
				.collect()
		}

		/// Live streams, optionally of one category.
		pub fn live_streams(
			category: Option<u32>,
			offset: u32,
			limit: u32,
		) -> Vec<StreamView<AccountId, Balance>> {
			let live = |s: &Stream<$runtime>| s.status == StreamStatus::Live;
			match category {
				Some(c) => {
					page(StreamsByCategory::<$runtime>::iter_key_prefix(c), live, offset, limit)
				},
				None => page(LiveStreams::<$runtime>::iter_keys(), live, offset, limit),
			}
		}

		/// One stream.
		pub fn stream(id: u64) -> Option<StreamView<AccountId, Balance>> {
			Streams::<$runtime>::get(id).map(view)
		}

		fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
			needle.is_empty()
				|| haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
		}

		/// Streams whose title or one of whose tags contains `query`, ignoring ASCII case.
		pub fn search_streams(
			query: Vec<u8>,
			offset: u32,
			limit: u32,
		) -> Vec<StreamView<AccountId, Balance>> {
			let query = query.trim_ascii();
			Streams::<$runtime>::iter_values()
				.take(SEARCH_SCAN_LIMIT)
				.filter(|s| {
					contains_ignore_ascii_case(&s.title, query)
						|| s.tags.iter().any(|t| contains_ignore_ascii_case(t, query))
				})
				.skip(offset as usize)
				.take(limit.min(MAX_PAGE) as usize)
				.map(view)
				.collect()
		}

		/// A creator's streams.
		pub fn streams_by_creator(
			creator: AccountId,
			offset: u32,
			limit: u32,
		) -> Vec<StreamView<AccountId, Balance>> {
			page(StreamsByCreator::<$runtime>::iter_key_prefix(creator), |_| true, offset, limit)
		}

		/// One session: a stored one (its cold data and its slot in the session pages, combined, with
		/// the end of its settlement window if it has one), or one closed within the last day (its
		/// record: what it settled and refunded, when and why it closed).
		pub fn session(id: u64) -> Option<SessionView<AccountId, Balance>> {
			use frame_support::traits::Get;
			let Some(s) = pallet_ticks::Pallet::<$runtime>::session(id) else {
				return closed_session(id);
			};
			let window = <$runtime as pallet_ticks::Config>::SettleWindow::get();
			let ended_at = Streams::<$runtime>::get(s.stream_id)
				.filter(|stream| stream.status != StreamStatus::Live)
				.map(|stream| stream.ended_at.unwrap_or(0));
			let refund_at = s.closing_since.or(ended_at).map(|t| t.saturating_add(window));
			Some(SessionView {
				id,
				open: s.is_open(),
				viewer: s.viewer,
				voucher_key: s.voucher_key,
				stream_id: s.stream_id,
				price_per_second: s.price_per_second,
				max_seconds: s.max_seconds,
				settled_seconds: s.settled_seconds,
				escrow_remaining: s.escrow_remaining,
				opened_at: s.opened_at,
				closing_since: s.closing_since,
				refund_at,
				allowance: s.allowance,
				closed: None,
			})
		}

		fn closed_session(id: u64) -> Option<SessionView<AccountId, Balance>> {
			use pallet_ticks::CloseReason;
			let r = pallet_ticks::Pallet::<$runtime>::closed_session(id)?;
			let reason = match r.reason {
				CloseReason::Closed => SessionEnd::Closed,
				CloseReason::Expired => SessionEnd::Expired,
				CloseReason::WindowElapsed => SessionEnd::WindowElapsed,
			};
			Some(SessionView {
				id,
				open: false,
				viewer: r.info.viewer,
				voucher_key: r.info.voucher_key,
				stream_id: r.info.stream_id,
				price_per_second: r.info.price_per_second,
				max_seconds: r.info.max_seconds,
				settled_seconds: r.settled_seconds,
				escrow_remaining: 0,
				opened_at: r.info.opened_at,
				closing_since: r.info.closing_since,
				refund_at: None,
				allowance: r.info.allowance,
				closed: Some(ClosedView {
					closed_at: r.closed_at,
					closed_in: r.closed_in.into(),
					refunded: r.refunded,
					reason,
				}),
			})
		}

		/// `who`'s allowance as of now.
		pub fn allowance(who: AccountId) -> Option<AllowanceView<AccountId, Balance>> {
			let now = pallet_timestamp::Now::<$runtime>::get();
			let a = pallet_ticks::Allowances::<$runtime>::get(who)?.rolled(now);
			Some(AllowanceView {
				id: a.id,
				remaining: a.remaining(),
				delegate: a.delegate,
				amount: a.amount,
				period: a.period,
				expires_at: a.expires_at,
				period_start: a.period_start,
				used: a.used,
				nonce: a.nonce,
			})
		}

		/// What a voucher for `cumulative_seconds` would pay now, by the same rules `settle_batch`
		/// applies (signature aside), or `None` if it would be rejected.
		pub fn voucher_cost(id: u64, cumulative_seconds: u64) -> Option<Balance> {
			use frame_support::traits::Get;
			let s = pallet_ticks::Pallet::<$runtime>::session(id)?;
			if cumulative_seconds <= s.settled_seconds || cumulative_seconds > s.max_seconds {
				return None;
			}
			let now = pallet_timestamp::Now::<$runtime>::get();
			let elapsed = now.saturating_sub(s.opened_at) / 1_000;
			let grace = <$runtime as pallet_ticks::Config>::ElapsedGrace::get();
			if cumulative_seconds > elapsed.saturating_add(grace) {
				return None;
			}
			let (info, _) = s.clone().split();
			if info.seconds_cap(grace).is_some_and(|cap| cumulative_seconds > cap) {
				return None;
			}
			let delta = Balance::from(cumulative_seconds - s.settled_seconds);
			s.price_per_second.checked_mul(delta).filter(|cost| *cost <= s.escrow_remaining)
		}

		/// The price of `seconds` of a session opened on stream `id` now: at its price while
		/// live or scheduled, at its replay offer once ended (`None` without an offer).
		pub fn quote(id: u64, seconds: u64) -> Option<Balance> {
			let stream = Streams::<$runtime>::get(id)?;
			let price = match stream.status {
				StreamStatus::Ended => pallet_streams::ReplayOffers::<$runtime>::get(id)?,
				_ => stream.price_per_second,
			};
			price.checked_mul(Balance::from(seconds))
		}

		/// The replay price per second of each stream of `ids` (at most `MAX_PAGE`), `None`
		/// where its creator offers no replay or the stream is unknown.
		pub fn replay_prices(ids: Vec<u64>) -> Vec<Option<Balance>> {
			ids.into_iter()
				.take(MAX_PAGE as usize)
				.map(pallet_streams::ReplayOffers::<$runtime>::get)
				.collect()
		}

		/// Everything `who` received through payouts.
		pub fn earnings(who: AccountId) -> Balance {
			pallet_payouts::LifetimeEarnings::<$runtime>::get(who)
		}

		/// The creators `who` follows.
		pub fn following(who: AccountId) -> Vec<AccountId> {
			Following::<$runtime>::get(who).into_inner()
		}
	};
}
