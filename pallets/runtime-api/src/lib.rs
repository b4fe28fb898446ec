//! # Vilokanam runtime API
//!
//! What dApps and the sidecar read from the chain through the `vilokanam_*` JSON-RPC
//! (`vilokanam-rpc`): live streams and search, one stream, a creator's streams, a viewer
//! session (open, closing, or closed within the last day) and what a voucher would cost, a viewer's allowance, price quotes, earnings and
//! follows.
//!
//! The types here are views, decoupled from the pallets' storage layouts so that storage can
//! migrate without breaking clients. Listing calls are paged (`offset`, `limit`) and capped by
//! [`MAX_PAGE`].

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

use alloc::vec::Vec;
use codec::{Codec, Decode, Encode};
use scale_info::TypeInfo;
use sp_runtime::Permill;

/// The most items one listing call returns, whatever `limit` asks for.
pub const MAX_PAGE: u32 = 100;

/// Lifecycle of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum StreamStatus {
	/// Registered, not yet live.
	Scheduled,
	/// Live: viewers can open sessions.
	Live,
	/// Over: no new sessions; open ones are closed.
	Ended,
}

/// A stream as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct StreamView<AccountId, Balance> {
	/// Stream id.
	pub id: u64,
	/// The creator's account.
	pub creator: AccountId,
	/// Title (UTF-8).
	pub title: Vec<u8>,
	/// Description or metadata: a URL or content id.
	pub metadata: Vec<u8>,
	/// Category id.
	pub category: u32,
	/// Tags (UTF-8 each).
	pub tags: Vec<Vec<u8>>,
	/// Price per second watched, for sessions opened now.
	pub price_per_second: Balance,
	/// Lifecycle status.
	pub status: StreamStatus,
	/// When it was registered (ms since the Unix epoch).
	pub created_at: u64,
	/// When it went live, if it did.
	pub started_at: Option<u64>,
	/// When it ended, if it did.
	pub ended_at: Option<u64>,
	/// The sidecar/SFU endpoint serving it.
	pub endpoint: Option<Vec<u8>>,
	/// The account relaying its vouchers (trusted by the creator to close sessions at once).
	pub relayer: Option<AccountId>,
	/// Collaborators and their shares of the creator's revenue.
	pub collaborators: Vec<(AccountId, Permill)>,
	/// Viewer-seconds settled so far.
	pub total_seconds: u64,
	/// Amount settled to it so far (before the platform fee).
	pub total_earned: Balance,
	/// Open sessions now.
	pub current_viewers: u32,
	/// Most open sessions at once.
	pub peak_viewers: u32,
}

/// Why a closed session closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum SessionEnd {
	/// The stream's creator or relayer closed it at once (after settling what it held).
	Closed,
	/// Nothing was settled for the runtime's idle timeout on a live stream.
	Expired,
	/// The settlement window after the viewer's close request or the stream's end passed.
	WindowElapsed,
}

/// How a closed session ended: kept for a day of blocks after it closed.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ClosedView<Balance> {
	/// When it closed (ms since the Unix epoch, the block's timestamp).
	pub closed_at: u64,
	/// The block it closed in.
	pub closed_in: u64,
	/// What the viewer got back.
	pub refunded: Balance,
	/// Why it closed.
	pub reason: SessionEnd,
}

/// A viewer session as clients see it: stored (open or closing), or closed within the last day.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SessionView<AccountId, Balance> {
	/// Session id.
	pub id: u64,
	/// The viewer's account (it pays, and may sign vouchers itself).
	pub viewer: AccountId,
	/// The session's voucher key (signs vouchers and close intents without a wallet).
	pub voucher_key: AccountId,
	/// The stream watched.
	pub stream_id: u64,
	/// Price per second fixed when the session opened.
	pub price_per_second: Balance,
	/// Seconds the escrow covers.
	pub max_seconds: u64,
	/// Seconds settled so far.
	pub settled_seconds: u64,
	/// Escrow not yet paid out.
	pub escrow_remaining: Balance,
	/// When it opened (ms since the Unix epoch).
	pub opened_at: u64,
	/// Whether it is open: not closing (the viewer has not asked to close it).
	pub open: bool,
	/// When the viewer asked to close it (ms), if it did.
	pub closing_since: Option<u64>,
	/// When anyone may refund the rest (ms): the end of the settlement window after the
	/// viewer's close request or the stream's end; `None` while neither happened.
	pub refund_at: Option<u64>,
	/// The allowance whose delegate opened it, if one did.
	pub allowance: Option<u64>,
	/// How it ended, for a closed session (`open` is false, `escrow_remaining` zero and
	/// `refund_at` `None` then).
	pub closed: Option<ClosedView<Balance>>,
}

/// [`SessionView`] as version 1 of [`VilokanamApi`] returns it (stored sessions only, no
/// `closed`): what the node decodes from a runtime that predates version 2.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SessionViewV1<AccountId, Balance> {
	/// See [`SessionView::id`].
	pub id: u64,
	/// See [`SessionView::viewer`].
	pub viewer: AccountId,
	/// See [`SessionView::voucher_key`].
	pub voucher_key: AccountId,
	/// See [`SessionView::stream_id`].
	pub stream_id: u64,
	/// See [`SessionView::price_per_second`].
	pub price_per_second: Balance,
	/// See [`SessionView::max_seconds`].
	pub max_seconds: u64,
	/// See [`SessionView::settled_seconds`].
	pub settled_seconds: u64,
	/// See [`SessionView::escrow_remaining`].
	pub escrow_remaining: Balance,
	/// See [`SessionView::opened_at`].
	pub opened_at: u64,
	/// See [`SessionView::open`].
	pub open: bool,
	/// See [`SessionView::closing_since`].
	pub closing_since: Option<u64>,
	/// See [`SessionView::refund_at`].
	pub refund_at: Option<u64>,
	/// See [`SessionView::allowance`].
	pub allowance: Option<u64>,
}

impl<AccountId, Balance> From<SessionViewV1<AccountId, Balance>>
	for SessionView<AccountId, Balance>
{
	fn from(v: SessionViewV1<AccountId, Balance>) -> Self {
		let SessionViewV1 {
			id,
			viewer,
			voucher_key,
			stream_id,
			price_per_second,
			max_seconds,
			settled_seconds,
			escrow_remaining,
			opened_at,
			open,
			closing_since,
			refund_at,
			allowance,
		} = v;
		SessionView {
			id,
			viewer,
			voucher_key,
			stream_id,
			price_per_second,
			max_seconds,
			settled_seconds,
			escrow_remaining,
			opened_at,
			open,
			closing_since,
			refund_at,
			allowance,
			closed: None,
		}
	}
}

/// A viewer's allowance as of now (a period that has passed is shown renewed).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AllowanceView<AccountId, Balance> {
	/// Allowance id: delegate calls name it.
	pub id: u64,
	/// The delegate key.
	pub delegate: AccountId,
	/// Budget per period.
	pub amount: Balance,
	/// Period in ms (0: no renewal).
	pub period: u64,
	/// When it stops working (ms).
	pub expires_at: u64,
	/// Start of the current period (ms).
	pub period_start: u64,
	/// Committed in the current period.
	pub used: Balance,
	/// What the delegate may still commit in this period.
	pub remaining: Balance,
	/// The nonce the next delegate call must carry.
	pub nonce: u32,
}

sp_api::decl_runtime_apis! {
	/// Queries behind the `vilokanam_*` JSON-RPC.
	///
	/// Version 2: `session` also returns sessions closed within the last day
	/// ([`SessionView::closed`]).
	/// Version 3: `replay_prices`; `quote` prices an ended stream at its replay offer.
	#[api_version(3)]
	pub trait VilokanamApi<AccountId, Balance>
	where
		AccountId: Codec,
		Balance: Codec,
	{
		/// Live streams, optionally of one category, paged.
		fn live_streams(category: Option<u32>, offset: u32, limit: u32) -> Vec<StreamView<AccountId, Balance>>;
		/// One stream.
		fn stream(id: u64) -> Option<StreamView<AccountId, Balance>>;
		/// Streams whose title or a tag contains `query`, ignoring ASCII case, paged.
		fn search_streams(query: Vec<u8>, offset: u32, limit: u32) -> Vec<StreamView<AccountId, Balance>>;
		/// The streams of a creator, paged.
		fn streams_by_creator(creator: AccountId, offset: u32, limit: u32) -> Vec<StreamView<AccountId, Balance>>;
		/// One session: stored (open or closing), or closed within the last day.
		fn session(id: u64) -> Option<SessionView<AccountId, Balance>>;
		/// One stored session (open or closing), as version 1 returned it.
		#[changed_in(2)]
		fn session(id: u64) -> Option<SessionViewV1<AccountId, Balance>>;
		/// A viewer's allowance, if it has one.
		fn allowance(who: AccountId) -> Option<AllowanceView<AccountId, Balance>>;
		/// What settling a voucher for `cumulative_seconds` on session `id` would pay now, or
		/// `None` when the session is unknown or the voucher would be rejected.
		fn voucher_cost(id: u64, cumulative_seconds: u64) -> Option<Balance>;
		/// The price of watching stream `id` for `seconds` in a session opened now: at its
		/// price, or at its replay offer once it has ended (`None` without one).
		fn quote(id: u64, seconds: u64) -> Option<Balance>;
		/// Lifetime earnings of an account (creator or collaborator shares and tips).
		fn earnings(who: AccountId) -> Balance;
		/// The creators an account follows.
		fn following(who: AccountId) -> Vec<AccountId>;
		/// The replay price per second of each of `ids` (at most [`MAX_PAGE`]), in order:
		/// `None` where its creator offers no replay (or the stream is unknown).
		#[api_version(3)]
		fn replay_prices(ids: Vec<u64>) -> Vec<Option<Balance>>;
	}
}
