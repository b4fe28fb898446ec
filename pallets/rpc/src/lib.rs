//! # `vilokanam_*` JSON-RPC
//!
//! The chain queries dApps need, served from the [`VilokanamApi`](RuntimeApi) runtime API:
//!
//! | method | returns |
//! |---|---|
//! | `vilokanam_liveStreams(category?, offset?, limit?, at?)` | live streams, paged |
//! | `vilokanam_stream(id, at?)` | one stream or `null` |
//! | `vilokanam_searchStreams(query, offset?, limit?, at?)` | streams whose title or a tag contains `query` (case-insensitive) |
//! | `vilokanam_streamsByCreator(creator, offset?, limit?, at?)` | a creator's streams |
//! | `vilokanam_session(id, cumulativeSeconds?, at?)` | a session (open, closing, or closed within the last day: what it settled and refunded), and what a voucher for `cumulativeSeconds` would pay |
//! | `vilokanam_allowance(who, at?)` | a viewer's allowance (budget, used, remaining, next nonce) or `null` |
//! | `vilokanam_quote(streamId, seconds, at?)` | the price of `seconds` of a stream |
//! | `vilokanam_earnings(who, at?)` | lifetime earnings |
//! | `vilokanam_following(who, at?)` | creators an account follows |
//! | `vilokanam_subscribeStream(id)` | the stream's state (viewers, seconds, earned) at every new best block |
//!
//! Balances are decimal strings, so JavaScript clients lose no precision. Failures are JSON-RPC
//! errors with a message that says what went wrong.
//!
//! [`create_full`] assembles these with the nonce and fee RPCs into the module both the solochain
//! node and the parachain collator serve.

#![deny(missing_docs)]

use std::{marker::PhantomData, sync::Arc};

use codec::Codec;
use futures::StreamExt;
use jsonrpsee::{
	core::{async_trait, RpcResult, SubscriptionResult},
	proc_macros::rpc,
	types::{ErrorObject, ErrorObjectOwned},
	PendingSubscriptionSink, SubscriptionMessage,
};
use sc_client_api::BlockchainEvents;
use serde::{Deserialize, Serialize};
use sp_api::{ApiExt, ProvideRuntimeApi};
use sp_blockchain::HeaderBackend;
use sp_runtime::traits::Block as BlockT;
use vilokanam_runtime_api::{
	AllowanceView, SessionEnd, SessionView, StreamStatus, StreamView, MAX_PAGE,
};

pub use vilokanam_runtime_api::VilokanamApi as RuntimeApi;

mod full;
pub use full::{create_full, FullDeps};

/// Error code: the runtime API call failed (for example, an unknown block).
pub const RUNTIME_ERROR: i32 = 1;
/// Error code: the request names something that does not exist.
pub const NOT_FOUND: i32 = 2;
/// Error code: a parameter is out of range.
pub const INVALID_PARAMS: i32 = 3;

/// A stream, for JSON clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stream<AccountId> {
	/// Stream id.
	pub id: u64,
	/// Creator.
	pub creator: AccountId,
	/// Title.
	pub title: String,
	/// Description or metadata (URL or CID).
	pub metadata: String,
	/// Category id.
	pub category: u32,
	/// Tags.
	pub tags: Vec<String>,
	/// Price per second, in plancks, as a decimal string.
	pub price_per_second: String,
	/// Scheduled, Live or Ended.
	pub status: StreamStatus,
	/// Registration time (ms since the Unix epoch).
	pub created_at: u64,
	/// When it went live.
	pub started_at: Option<u64>,
	/// When it ended.
	pub ended_at: Option<u64>,
	/// The sidecar/SFU endpoint serving it.
	pub endpoint: Option<String>,
	/// The account relaying its vouchers.
	pub relayer: Option<AccountId>,
	/// Collaborators and their shares in parts per million.
	pub collaborators: Vec<(AccountId, u32)>,
	/// Viewer-seconds settled.
	pub total_seconds: u64,
	/// Amount settled, decimal string.
	pub total_earned: String,
	/// Open sessions now.
	pub current_viewers: u32,
	/// Most open sessions at once.
	pub peak_viewers: u32,
	/// The replay's price per second, decimal string, while its creator offers it (sessions
	/// opened once the stream has ended pay it); `null` otherwise.
	pub replay_price: Option<String>,
}

/// A session, for JSON clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session<AccountId> {
	/// Session id.
	pub id: u64,
	/// Viewer.
	pub viewer: AccountId,
	/// The session's voucher key.
	pub voucher_key: AccountId,
	/// Stream watched.
	pub stream_id: u64,
	/// Price per second fixed at opening, decimal string.
	pub price_per_second: String,
	/// Seconds the escrow covers.
	pub max_seconds: u64,
	/// Seconds settled.
	pub settled_seconds: u64,
	/// Escrow left, decimal string.
	pub escrow_remaining: String,
	/// Opening time (ms since the Unix epoch).
	pub opened_at: u64,
	/// Whether it is open (not closing).
	pub open: bool,
	/// When the viewer asked to close it (ms), if it did.
	pub closing_since: Option<u64>,
	/// When anyone may refund the rest (ms), once the viewer asked to close or the stream
	/// ended.
	pub refund_at: Option<u64>,
	/// The allowance whose delegate opened it.
	pub allowance: Option<u64>,
	/// What a voucher for the requested cumulative seconds would pay now (decimal string), or
	/// `null` when none was asked or it would be rejected.
	pub voucher_cost: Option<String>,
	/// How a closed session ended (sessions are kept for a day of blocks after they close);
	/// `null` while it is stored (open or closing).
	pub closed: Option<SessionClosed>,
}

/// How a closed session ended, for JSON clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionClosed {
	/// When it closed (ms since the Unix epoch).
	pub closed_at: u64,
	/// The block it closed in.
	pub closed_in: u64,
	/// What the viewer got back, decimal string.
	pub refunded: String,
	/// Why: `Closed` (by the creator or relayer at once), `Expired` (idle on a live stream),
	/// `WindowElapsed` (the settlement window after a close request or the stream's end).
	pub reason: SessionEnd,
}

/// A viewer's allowance, for JSON clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allowance<AccountId> {
	/// Allowance id (delegate calls name it).
	pub id: u64,
	/// The delegate key.
	pub delegate: AccountId,
	/// Budget per period, decimal string.
	pub amount: String,
	/// Period in ms (0: no renewal).
	pub period: u64,
	/// When it stops working (ms).
	pub expires_at: u64,
	/// Start of the current period (ms).
	pub period_start: u64,
	/// Committed in the current period, decimal string.
	pub used: String,
	/// What the delegate may still commit in this period, decimal string.
	pub remaining: String,
	/// The nonce the next delegate call must carry.
	pub nonce: u32,
}

impl<AccountId, Balance: ToString> From<AllowanceView<AccountId, Balance>>
	for Allowance<AccountId>
{
	fn from(v: AllowanceView<AccountId, Balance>) -> Self {
		Allowance {
			id: v.id,
			delegate: v.delegate,
			amount: v.amount.to_string(),
			period: v.period,
			expires_at: v.expires_at,
			period_start: v.period_start,
			used: v.used.to_string(),
			remaining: v.remaining.to_string(),
			nonce: v.nonce,
		}
	}
}

/// A stream's live counters, pushed by `vilokanam_subscribeStream`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamStats {
	/// Stream id.
	pub id: u64,
	/// The block these counters are read at.
	pub block: String,
	/// Scheduled, Live or Ended.
	pub status: StreamStatus,
	/// Open sessions.
	pub current_viewers: u32,
	/// Most open sessions at once.
	pub peak_viewers: u32,
	/// Viewer-seconds settled.
	pub total_seconds: u64,
	/// Amount settled, decimal string.
	pub total_earned: String,
}

fn utf8(bytes: Vec<u8>) -> String {
	String::from_utf8_lossy(&bytes).into_owned()
}

impl<AccountId, Balance: ToString> From<StreamView<AccountId, Balance>> for Stream<AccountId> {
	fn from(v: StreamView<AccountId, Balance>) -> Self {
		Stream {
			id: v.id,
			creator: v.creator,
			title: utf8(v.title),
			metadata: utf8(v.metadata),
			category: v.category,
			tags: v.tags.into_iter().map(utf8).collect(),
			price_per_second: v.price_per_second.to_string(),
			status: v.status,
			created_at: v.created_at,
			started_at: v.started_at,
			ended_at: v.ended_at,
			endpoint: v.endpoint.map(utf8),
			relayer: v.relayer,
			collaborators: v.collaborators.into_iter().map(|(a, p)| (a, p.deconstruct())).collect(),
			total_seconds: v.total_seconds,
			total_earned: v.total_earned.to_string(),
			current_viewers: v.current_viewers,
			peak_viewers: v.peak_viewers,
			replay_price: None,
		}
	}
}

/// The `vilokanam_*` methods.
#[rpc(client, server, namespace = "vilokanam")]
pub trait VilokanamApi<BlockHash, AccountId> {
	/// Live streams, optionally of one category, paged (`limit` at most 100).
	#[method(name = "liveStreams")]
	fn live_streams(
		&self,
		category: Option<u32>,
		offset: Option<u32>,
		limit: Option<u32>,
		at: Option<BlockHash>,
	) -> RpcResult<Vec<Stream<AccountId>>>;

	/// One stream, or `null`.
	#[method(name = "stream")]
	fn stream(&self, id: u64, at: Option<BlockHash>) -> RpcResult<Option<Stream<AccountId>>>;

	/// Streams whose title or a tag contains `query`, ignoring case, paged.
	#[method(name = "searchStreams")]
	fn search_streams(
		&self,
		query: String,
		offset: Option<u32>,
		limit: Option<u32>,
		at: Option<BlockHash>,
	) -> RpcResult<Vec<Stream<AccountId>>>;

	/// A creator's streams, paged.
	#[method(name = "streamsByCreator")]
	fn streams_by_creator(
		&self,
		creator: AccountId,
		offset: Option<u32>,
		limit: Option<u32>,
		at: Option<BlockHash>,
	) -> RpcResult<Vec<Stream<AccountId>>>;

	/// A session (open, closing, or closed within the last day), and what a voucher for
	/// `cumulative_seconds` would pay now.
	#[method(name = "session")]
	fn session(
		&self,
		id: u64,
		cumulative_seconds: Option<u64>,
		at: Option<BlockHash>,
	) -> RpcResult<Option<Session<AccountId>>>;

	/// A viewer's allowance, or `null`.
	#[method(name = "allowance")]
	fn allowance(
		&self,
		who: AccountId,
		at: Option<BlockHash>,
	) -> RpcResult<Option<Allowance<AccountId>>>;

	/// The price of watching stream `stream_id` for `seconds` (decimal string).
	#[method(name = "quote")]
	fn quote(&self, stream_id: u64, seconds: u64, at: Option<BlockHash>) -> RpcResult<String>;

	/// Lifetime earnings of an account (decimal string).
	#[method(name = "earnings")]
	fn earnings(&self, who: AccountId, at: Option<BlockHash>) -> RpcResult<String>;

	/// The creators an account follows.
	#[method(name = "following")]
	fn following(&self, who: AccountId, at: Option<BlockHash>) -> RpcResult<Vec<AccountId>>;

	/// The stream's counters now and at every new best block, until it is unsubscribed.
	#[subscription(name = "subscribeStream" => "streamStats", unsubscribe = "unsubscribeStream", item = StreamStats)]
	async fn subscribe_stream(&self, id: u64) -> SubscriptionResult;
}

/// Serves [`VilokanamApiServer`] from a client whose runtime uses `Balance`.
pub struct Vilokanam<C, Block, Balance> {
	client: Arc<C>,
	_types: PhantomData<(Block, Balance)>,
}

impl<C, Block, Balance> Vilokanam<C, Block, Balance> {
	/// Serves the API from `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client, _types: PhantomData }
	}
}

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
	ErrorObject::owned(code, message.into(), None::<()>)
}

fn runtime_error(e: impl std::fmt::Display) -> ErrorObjectOwned {
	error(RUNTIME_ERROR, format!("runtime API call failed: {e}"))
}

fn page(offset: Option<u32>, limit: Option<u32>) -> RpcResult<(u32, u32)> {
	let limit = limit.unwrap_or(MAX_PAGE);
	if limit == 0 || limit > MAX_PAGE {
		return Err(error(INVALID_PARAMS, format!("limit must be between 1 and {MAX_PAGE}")));
	}
	Ok((offset.unwrap_or(0), limit))
}

impl<C, Block, Balance> Vilokanam<C, Block, Balance>
where
	Block: BlockT,
	C: HeaderBackend<Block>,
{
	fn at(&self, at: Option<Block::Hash>) -> Block::Hash {
		at.unwrap_or_else(|| self.client.info().best_hash)
	}

	/// `views` as JSON streams with their replay prices, read in one runtime call (a runtime
	/// before version 3 of the API offers no replays: `null`).
	fn streams<AccountId>(
		&self,
		at: Block::Hash,
		views: Vec<StreamView<AccountId, Balance>>,
	) -> RpcResult<Vec<Stream<AccountId>>>
	where
		C: ProvideRuntimeApi<Block>,
		C::Api: RuntimeApi<Block, AccountId, Balance>,
		AccountId: Codec,
		Balance: Codec + ToString,
	{
		let api = self.client.runtime_api();
		let version = api
			.api_version::<dyn RuntimeApi<Block, AccountId, Balance>>(at)
			.map_err(runtime_error)?
			.unwrap_or(1);
		let prices = if version >= 3 && !views.is_empty() {
			api.replay_prices(at, views.iter().map(|v| v.id).collect()).map_err(runtime_error)?
		} else {
			Vec::new()
		};
		let mut prices = prices.into_iter();
		Ok(views
			.into_iter()
			.map(|v| {
				let price = prices.next().flatten().map(|p| p.to_string());
				Stream { replay_price: price, ..Stream::from(v) }
			})
			.collect())
	}
}

#[async_trait]
impl<C, Block, AccountId, Balance> VilokanamApiServer<Block::Hash, AccountId>
	for Vilokanam<C, Block, Balance>
where
	Block: BlockT,
	C: ProvideRuntimeApi<Block>
		+ HeaderBackend<Block>
		+ BlockchainEvents<Block>
		+ Send
		+ Sync
		+ 'static,
	C::Api: RuntimeApi<Block, AccountId, Balance>,
	AccountId: Codec + Clone + Send + Sync + Serialize + for<'de> Deserialize<'de> + 'static,
	Balance: Codec + ToString + Send + Sync + 'static,
{
	fn live_streams(
		&self,
		category: Option<u32>,
		offset: Option<u32>,
		limit: Option<u32>,
		at: Option<Block::Hash>,
	) -> RpcResult<Vec<Stream<AccountId>>> {
		let (offset, limit) = page(offset, limit)?;
		let views = self
			.client
			.runtime_api()
			.live_streams(self.at(at), category, offset, limit)
			.map_err(runtime_error)?;
		self.streams(self.at(at), views)
	}

	fn stream(&self, id: u64, at: Option<Block::Hash>) -> RpcResult<Option<Stream<AccountId>>> {
		let at = self.at(at);
		let view = self.client.runtime_api().stream(at, id).map_err(runtime_error)?;
		Ok(self.streams(at, view.into_iter().collect())?.pop())
	}

	fn search_streams(
		&self,
		query: String,
		offset: Option<u32>,
		limit: Option<u32>,
		at: Option<Block::Hash>,
	) -> RpcResult<Vec<Stream<AccountId>>> {
		let (offset, limit) = page(offset, limit)?;
		if query.trim().is_empty() {
			return Err(error(INVALID_PARAMS, "the search query is empty"));
		}
		let views = self
			.client
			.runtime_api()
			.search_streams(self.at(at), query.into_bytes(), offset, limit)
			.map_err(runtime_error)?;
		self.streams(self.at(at), views)
	}

	fn streams_by_creator(
		&self,
		creator: AccountId,
		offset: Option<u32>,
		limit: Option<u32>,
		at: Option<Block::Hash>,
	) -> RpcResult<Vec<Stream<AccountId>>> {
		let (offset, limit) = page(offset, limit)?;
		let views = self
			.client
			.runtime_api()
			.streams_by_creator(self.at(at), creator, offset, limit)
			.map_err(runtime_error)?;
		self.streams(self.at(at), views)
	}

	fn session(
		&self,
		id: u64,
		cumulative_seconds: Option<u64>,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<Session<AccountId>>> {
		let at = self.at(at);
		let api = self.client.runtime_api();
		// A runtime before version 2 of the API (an old block) returns only stored sessions,
		// in the earlier layout.
		let version = api
			.api_version::<dyn RuntimeApi<Block, AccountId, Balance>>(at)
			.map_err(runtime_error)?
			.unwrap_or(1);
		let view: Option<SessionView<AccountId, Balance>> = if version >= 2 {
			api.session(at, id).map_err(runtime_error)?
		} else {
			#[allow(deprecated)]
			let old = api.session_before_version_2(at, id).map_err(runtime_error)?;
			old.map(Into::into)
		};
		let Some(view) = view else { return Ok(None) };
		let voucher_cost = match cumulative_seconds {
			Some(c) => api.voucher_cost(at, id, c).map_err(runtime_error)?.map(|b| b.to_string()),
			None => None,
		};
		Ok(Some(Session {
			id: view.id,
			viewer: view.viewer,
			voucher_key: view.voucher_key,
			stream_id: view.stream_id,
			price_per_second: view.price_per_second.to_string(),
			max_seconds: view.max_seconds,
			settled_seconds: view.settled_seconds,
			escrow_remaining: view.escrow_remaining.to_string(),
			opened_at: view.opened_at,
			open: view.open,
			closing_since: view.closing_since,
			refund_at: view.refund_at,
			allowance: view.allowance,
			voucher_cost,
			closed: view.closed.map(|c| SessionClosed {
				closed_at: c.closed_at,
				closed_in: c.closed_in,
				refunded: c.refunded.to_string(),
				reason: c.reason,
			}),
		}))
	}

	fn allowance(
		&self,
		who: AccountId,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<Allowance<AccountId>>> {
		let view = self.client.runtime_api().allowance(self.at(at), who).map_err(runtime_error)?;
		Ok(view.map(Into::into))
	}

	fn quote(&self, stream_id: u64, seconds: u64, at: Option<Block::Hash>) -> RpcResult<String> {
		let at = self.at(at);
		let api = self.client.runtime_api();
		if let Some(price) = api.quote(at, stream_id, seconds).map_err(runtime_error)? {
			return Ok(price.to_string());
		}
		// Say why: the stream is unknown, has ended without a replay, or the product overflows.
		let message = match api.stream(at, stream_id).map_err(runtime_error)? {
			None => format!("stream {stream_id} does not exist"),
			Some(s) if s.status == StreamStatus::Ended => {
				format!("stream {stream_id} has ended and offers no replay")
			},
			Some(_) => format!("the price of {seconds} s of stream {stream_id} overflows"),
		};
		Err(error(NOT_FOUND, message))
	}

	fn earnings(&self, who: AccountId, at: Option<Block::Hash>) -> RpcResult<String> {
		let e = self.client.runtime_api().earnings(self.at(at), who).map_err(runtime_error)?;
		Ok(e.to_string())
	}

	fn following(&self, who: AccountId, at: Option<Block::Hash>) -> RpcResult<Vec<AccountId>> {
		self.client.runtime_api().following(self.at(at), who).map_err(runtime_error)
	}

	async fn subscribe_stream(
		&self,
		pending: PendingSubscriptionSink,
		id: u64,
	) -> SubscriptionResult {
		let stats = |hash: Block::Hash| -> Result<Option<StreamStats>, ErrorObjectOwned> {
			let view: Option<StreamView<AccountId, Balance>> =
				self.client.runtime_api().stream(hash, id).map_err(runtime_error)?;
			Ok(view.map(|v| StreamStats {
				id,
				block: format!("{hash:?}"),
				status: v.status,
				current_viewers: v.current_viewers,
				peak_viewers: v.peak_viewers,
				total_seconds: v.total_seconds,
				total_earned: v.total_earned.to_string(),
			}))
		};

		// Subscribe to imports before reading the current state, so no block is missed.
		let mut blocks = self
			.client
			.import_notification_stream()
			.filter(|n| futures::future::ready(n.is_new_best));
		let first = match stats(self.client.info().best_hash) {
			Ok(Some(s)) => s,
			Ok(None) => {
				pending.reject(error(NOT_FOUND, format!("stream {id} does not exist"))).await;
				return Ok(());
			},
			Err(e) => {
				pending.reject(e).await;
				return Ok(());
			},
		};
		let sink = pending.accept().await?;
		sink.send(SubscriptionMessage::from_json(&first)?).await?;

		let closed = sink.closed();
		futures::pin_mut!(closed);
		loop {
			use futures::future::{select, Either};
			let notification = match select(closed.as_mut(), blocks.next()).await {
				Either::Left(_) | Either::Right((None, _)) => break,
				Either::Right((Some(n), _)) => n,
			};
			// A stream removed later simply ends the subscription.
			let Ok(Some(s)) = stats(notification.hash) else { break };
			if sink.send(SubscriptionMessage::from_json(&s)?).await.is_err() {
				break;
			}
		}
		Ok(())
	}
}
