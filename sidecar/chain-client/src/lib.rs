//! # Vilokanam chain client
//!
//! A typed JSON-RPC client for the Vilokanam node, built on the runtime crate's own types: calls,
//! events, storage values and transaction extensions are encoded and decoded with the very types
//! the runtime was compiled from, so they cannot drift apart. [`Client::connect`] checks that the
//! node runs the same runtime (spec name and transaction version).
//!
//! Every function returns `Result<_, Error>`; nothing panics on what the node sends.
//!
//! - [`Client`]: heads, storage (streams, sessions, bans, balances, time, events), nonces,
//!   signing (immortal, tip-free, with [`vilokanam_runtime::tx_extension`]), submission and
//!   watching, and finding an extrinsic's outcome in a block ([`Client::included`]).
//! - [`voucher`]: the voucher and close-intent payloads and native verification, identical to
//!   the pallet's.
//! - [`Client::authorized`]: an `#[pallet::authorize]`d call as a general transaction (close
//!   intents, delegate calls): no signer, no nonce, no fee.
//!
//! The client wraps one WebSocket connection; when it drops, [`Client::is_connected`] turns
//! false, every call fails with [`Error::Rpc`], and the owner connects again
//! ([`Client::reconnect`]).

#![deny(missing_docs)]

pub mod keys;
mod parse;
pub mod voucher;

pub use pallet_streams::{StreamId, StreamStatus};
pub use pallet_ticks::{
	page_of, pages_of, AllowanceId, CloseReason, PageIndex, PayloadKind, RejectReason, SessionId,
	VoucherEncoding, VoucherSigner, SESSIONS_PER_PAGE,
};
pub use sp_core::H256;
pub use vilokanam_runtime::{
	AccountId, Balance, BlockNumber, Nonce, Runtime, RuntimeCall, RuntimeEvent, Signature,
	UncheckedExtrinsic,
};

/// A stream as stored on chain.
pub type Stream = pallet_streams::Stream<Runtime>;
/// An open viewing session: its cold data and its settlement state combined
/// ([`pallet_ticks::Session::assemble`]).
pub type Session = pallet_ticks::Session<Runtime>;
/// The cold data of an open session, as stored in `Ticks::Sessions`.
pub type SessionInfo = pallet_ticks::SessionInfo<Runtime>;
/// A page of sessions' settlement state, as stored in `Ticks::SessionPages`.
pub type SessionPage = pallet_ticks::SessionPage<Runtime>;
/// A voucher of `settle_batch`.
pub type Voucher = pallet_ticks::Voucher<Signature>;
/// A viewer's close intent (`submit_close_intent`, `close_session`).
pub type CloseIntent = pallet_ticks::CloseIntent<Signature>;
/// A viewer's allowance, as stored in `Ticks::Allowances`.
pub type Allowance = pallet_ticks::Allowance<Runtime>;
/// An event with its phase and topics, as stored in `System::Events`.
pub type EventRecord = frame_system::EventRecord<RuntimeEvent, H256>;

use codec::{Decode, DecodeAll, Encode};
use futures::{stream::BoxStream, StreamExt};
use jsonrpsee::{
	core::{
		client::{ClientT, Subscription, SubscriptionClientT},
		ClientError,
	},
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use serde_json::Value;
use sp_core::Pair;
use sp_runtime::{traits::IdentifyAccount, DispatchError, MultiSigner};
use std::{sync::Arc, time::Duration};
use vilokanam_runtime::{Header, SignedPayload, TxExtension};

/// How long [`Client::execute`] waits for inclusion (or finality) at most.
const EXECUTE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most keys [`Client::storage_many`] reads per request.
pub const STORAGE_CHUNK: usize = 1024;
/// The largest response accepted: a block full of vouchers is a few MiB of hex.
const MAX_RESPONSE_BYTES: u32 = 64 * 1024 * 1024;

/// What can go wrong talking to the node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
	/// A transport or RPC failure (transient: retry, possibly after reconnecting).
	#[error("RPC error: {0}")]
	Rpc(#[from] ClientError),
	/// The node answered something that does not decode with this runtime's types.
	#[error("cannot decode the node's answer: {0}")]
	Decode(String),
	/// The node runs a runtime whose spec name or transaction version differ from the one this
	/// client was built with.
	#[error("incompatible runtime: expected {expected}, the node runs {found}")]
	IncompatibleRuntime {
		/// What this client was built for.
		expected: String,
		/// What the node runs.
		found: String,
	},
	/// The pool refused the extrinsic (invalid: bad nonce, cannot pay fees, ...).
	#[error("the transaction pool refused the extrinsic: {0}")]
	Rejected(String),
	/// The extrinsic left the pool without being included (dropped, usurped, timed out).
	#[error("the extrinsic was dropped: {0}")]
	Dropped(String),
}

/// A block head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
	/// The block hash.
	pub hash: H256,
	/// The block number.
	pub number: BlockNumber,
	/// Its parent's hash: a head whose parent is not the previous head is on another branch.
	pub parent: H256,
}

/// The outcome of one extrinsic in a block.
#[derive(Clone, Debug)]
pub struct Included {
	/// The block that includes the extrinsic.
	pub block: H256,
	/// The extrinsic's index in the block.
	pub index: u32,
	/// Whether it dispatched successfully (`System::ExtrinsicSuccess`).
	pub success: bool,
	/// Only this extrinsic's events (`Phase::ApplyExtrinsic(index)`), in order.
	pub events: Vec<RuntimeEvent>,
}

impl Included {
	/// The dispatch error of a failed extrinsic (`System::ExtrinsicFailed`), if any.
	pub fn dispatch_error(&self) -> Option<DispatchError> {
		self.events.iter().find_map(|e| match e {
			RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
				dispatch_error, ..
			}) => Some(*dispatch_error),
			_ => None,
		})
	}
}

/// The progress of a submitted extrinsic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
	/// In the pool (future, ready or broadcast).
	Pool,
	/// Included in this block (of the best chain, which may still be retracted).
	InBlock(H256),
	/// The block that included it was retracted; it is back in the pool or will be included
	/// again.
	Retracted(H256),
	/// Included in this finalized block. Final.
	Finalized(H256),
	/// Left the pool without inclusion: dropped, usurped by another extrinsic with the same
	/// nonce, or the node stopped watching it. Final.
	Dropped(String),
	/// No longer valid (for example its nonce was used by another extrinsic). Final.
	Invalid(String),
}

impl TxStatus {
	/// Whether no further status follows.
	pub fn is_final(&self) -> bool {
		matches!(self, TxStatus::Finalized(_) | TxStatus::Dropped(_) | TxStatus::Invalid(_))
	}
}

struct Inner {
	rpc: WsClient,
	url: String,
	genesis: H256,
}

/// A connection to a Vilokanam node. Cheap to clone (the connection is shared).
#[derive(Clone)]
pub struct Client {
	inner: Arc<Inner>,
}

/// The `expected`/`found` description of a runtime, for [`Error::IncompatibleRuntime`].
fn describe_runtime(spec_name: &str, transaction_version: u64) -> String {
	format!("{spec_name} (transaction version {transaction_version})")
}

impl Client {
	/// Connects to `url` (`ws://` or `wss://`), reads the genesis hash and the runtime version,
	/// and fails with [`Error::IncompatibleRuntime`] if the node's spec name or transaction
	/// version differ from [`vilokanam_runtime::VERSION`].
	pub async fn connect(url: &str) -> Result<Client, Error> {
		let rpc = WsClientBuilder::default()
			.request_timeout(REQUEST_TIMEOUT)
			.max_response_size(MAX_RESPONSE_BYTES)
			.build(url)
			.await?;
		let version: Value = rpc.request("state_getRuntimeVersion", rpc_params![]).await?;
		let (spec_name, tx_version) = parse::runtime_version(&version)?;
		let expected = &vilokanam_runtime::VERSION;
		if spec_name != expected.spec_name || tx_version != u64::from(expected.transaction_version)
		{
			return Err(Error::IncompatibleRuntime {
				expected: describe_runtime(
					&expected.spec_name,
					expected.transaction_version.into(),
				),
				found: describe_runtime(&spec_name, tx_version),
			});
		}
		let genesis: Value = rpc.request("chain_getBlockHash", rpc_params![0u32]).await?;
		let genesis = parse::hash(&genesis)?;
		tracing::debug!(target: "chain-client", %url, ?genesis, "connected");
		Ok(Client { inner: Arc::new(Inner { rpc, url: url.to_owned(), genesis }) })
	}

	/// A new connection to the same URL (after [`Client::is_connected`] turned false). Fails
	/// with [`Error::IncompatibleRuntime`] if the node now runs another chain (another genesis
	/// hash): vouchers are bound to the genesis.
	pub async fn reconnect(&self) -> Result<Client, Error> {
		let client = Client::connect(&self.inner.url).await?;
		if client.genesis_hash() != self.genesis_hash() {
			return Err(Error::IncompatibleRuntime {
				expected: format!("genesis {:?}", self.genesis_hash()),
				found: format!("genesis {:?}", client.genesis_hash()),
			});
		}
		Ok(client)
	}

	/// The URL this client connected to.
	pub fn url(&self) -> &str {
		&self.inner.url
	}

	/// The chain's genesis hash (read at connect).
	pub fn genesis_hash(&self) -> H256 {
		self.inner.genesis
	}

	/// The raw jsonrpsee client, for calls this crate does not wrap (e.g. `vilokanam_*` RPC).
	pub fn rpc(&self) -> &WsClient {
		&self.inner.rpc
	}

	/// True while the WebSocket connection is alive.
	pub fn is_connected(&self) -> bool {
		self.inner.rpc.is_connected()
	}

	/// Resolves when the WebSocket connection is gone.
	pub async fn disconnected(&self) {
		self.inner.rpc.on_disconnect().await
	}

	async fn header(&self, hash: Option<H256>) -> Result<Option<Header>, Error> {
		let header: Option<Value> =
			self.inner.rpc.request("chain_getHeader", rpc_params![hash]).await?;
		header.map(parse::header).transpose()
	}

	/// The best block.
	pub async fn best_head(&self) -> Result<Head, Error> {
		let header = self
			.header(None)
			.await?
			.ok_or_else(|| Error::Decode("the node has no best header".into()))?;
		Ok(parse::head(&header))
	}

	/// The last finalized block.
	pub async fn finalized_head(&self) -> Result<Head, Error> {
		let hash: Value = self.inner.rpc.request("chain_getFinalizedHead", rpc_params![]).await?;
		let hash = parse::hash(&hash)?;
		let header = self
			.header(Some(hash))
			.await?
			.ok_or_else(|| Error::Decode(format!("no header for the finalized head {hash:?}")))?;
		Ok(Head { hash, number: header.number, parent: header.parent_hash })
	}

	/// The hash of block `number` of the best chain, if there is one.
	pub async fn block_hash(&self, number: BlockNumber) -> Result<Option<H256>, Error> {
		let hash: Value = self.inner.rpc.request("chain_getBlockHash", rpc_params![number]).await?;
		if hash.is_null() {
			return Ok(None);
		}
		parse::hash(&hash).map(Some)
	}

	/// The number of block `hash`, if the node knows it.
	pub async fn header_number(&self, hash: H256) -> Result<Option<BlockNumber>, Error> {
		Ok(self.header(Some(hash)).await?.map(|h| h.number))
	}

	/// New best heads (`finalized = false`, `chain_subscribeNewHeads`) or finalized heads
	/// (`chain_subscribeFinalizedHeads`). Items are `Err` on decode problems; the stream ends
	/// when the connection drops.
	pub async fn subscribe_heads(
		&self,
		finalized: bool,
	) -> Result<BoxStream<'static, Result<Head, Error>>, Error> {
		let (method, unsubscribe) = if finalized {
			("chain_subscribeFinalizedHeads", "chain_unsubscribeFinalizedHeads")
		} else {
			("chain_subscribeNewHeads", "chain_unsubscribeNewHeads")
		};
		let sub: Subscription<Value> =
			self.inner.rpc.subscribe(method, rpc_params![], unsubscribe).await?;
		Ok(sub
			.map(|item| match item {
				Ok(v) => parse::header(v).map(|h| parse::head(&h)),
				Err(e) => Err(Error::Decode(e.to_string())),
			})
			.boxed())
	}

	/// The raw storage value at `key` in block `at` (the best block when `None`).
	pub async fn storage(&self, key: &[u8], at: Option<H256>) -> Result<Option<Vec<u8>>, Error> {
		let key = parse::to_hex(key);
		let value: Option<String> =
			self.inner.rpc.request("state_getStorage", rpc_params![key, at]).await?;
		value.map(|v| parse::from_hex(&v)).transpose()
	}

	/// The storage value at `key` decoded as `T`, if present.
	async fn decoded<T: Decode>(&self, key: &[u8], at: Option<H256>) -> Result<Option<T>, Error> {
		self.storage(key, at).await?.map(|raw| decode_value(&raw)).transpose()
	}

	/// The raw storage values at `keys` in block `at` (best when `None`), in the order of
	/// `keys`, read with `state_queryStorageAt` in chunks (one request per
	/// [`STORAGE_CHUNK`] keys instead of one per key).
	pub async fn storage_many(
		&self,
		keys: &[Vec<u8>],
		at: Option<H256>,
	) -> Result<Vec<Option<Vec<u8>>>, Error> {
		let mut out = Vec::with_capacity(keys.len());
		for chunk in keys.chunks(STORAGE_CHUNK) {
			let hex_keys: Vec<String> = chunk.iter().map(|k| parse::to_hex(k)).collect();
			let sets: Value =
				self.inner.rpc.request("state_queryStorageAt", rpc_params![hex_keys, at]).await?;
			out.extend(parse::query_storage_at(&sets, chunk)?);
		}
		Ok(out)
	}

	/// Open sessions `ids` in block `at` (best when `None`), in the order of `ids`; see
	/// [`Client::session`]. Reads each session's cold entry and each distinct page of
	/// settlement state once ([`SessionKeys`]).
	pub async fn sessions(
		&self,
		ids: &[SessionId],
		at: Option<H256>,
	) -> Result<Vec<Option<Session>>, Error> {
		let query = SessionKeys::new(ids);
		let values = self.storage_many(&query.keys(), at).await?;
		query.decode(values)
	}

	/// All events of block `at`.
	pub async fn events(&self, at: H256) -> Result<Vec<EventRecord>, Error> {
		Ok(self.decoded(&keys::events(), Some(at)).await?.unwrap_or_default())
	}

	/// Stream `id` in block `at` (best when `None`).
	pub async fn stream(&self, id: StreamId, at: Option<H256>) -> Result<Option<Stream>, Error> {
		self.decoded(&keys::stream(id), at).await
	}

	/// The price per second of stream `id`'s replay in block `at` (best when `None`), while its
	/// creator offers it.
	pub async fn replay_offer(
		&self,
		id: StreamId,
		at: Option<H256>,
	) -> Result<Option<Balance>, Error> {
		self.decoded(&keys::replay_offer(id), at).await
	}

	/// Open session `id` in block `at` (best when `None`); `None` if it was never opened or
	/// was closed (see [`Client::next_session_id`]).
	pub async fn session(&self, id: SessionId, at: Option<H256>) -> Result<Option<Session>, Error> {
		Ok(self.sessions(&[id], at).await?.pop().flatten())
	}

	/// The id the next opened session gets: ids below it that are not stored were closed.
	pub async fn next_session_id(&self, at: Option<H256>) -> Result<SessionId, Error> {
		Ok(self.decoded(&keys::next_session_id(), at).await?.unwrap_or_default())
	}

	/// Whether `creator` banned `viewer` (from all of the creator's streams).
	pub async fn is_banned(
		&self,
		creator: &AccountId,
		viewer: &AccountId,
		at: Option<H256>,
	) -> Result<bool, Error> {
		Ok(self.storage(&keys::banned(creator, viewer), at).await?.is_some())
	}

	/// The free balance of `who` (0 for an account that does not exist).
	pub async fn free_balance(&self, who: &AccountId, at: Option<H256>) -> Result<Balance, Error> {
		type Info = frame_system::AccountInfo<Nonce, pallet_balances::AccountData<Balance>>;
		Ok(self.decoded::<Info>(&keys::account(who), at).await?.map_or(0, |i| i.data.free))
	}

	/// `pallet_timestamp::Now` (milliseconds) in block `at`.
	pub async fn now_ms(&self, at: Option<H256>) -> Result<u64, Error> {
		Ok(self.decoded(&keys::now(), at).await?.unwrap_or_default())
	}

	/// The next nonce of `who`, counting the transactions in the pool
	/// (`system_accountNextIndex`).
	pub async fn next_nonce(&self, who: &AccountId) -> Result<Nonce, Error> {
		let nonce: Value =
			self.inner.rpc.request("system_accountNextIndex", rpc_params![who.to_string()]).await?;
		nonce
			.as_u64()
			.and_then(|n| Nonce::try_from(n).ok())
			.ok_or_else(|| Error::Decode(format!("nonce {nonce}")))
	}

	/// Signs `call` (immortal, no tip) with `signer` at `nonce`, with the runtime's
	/// [`vilokanam_runtime::tx_extension`] and the node's current spec and transaction version.
	pub async fn sign(
		&self,
		call: RuntimeCall,
		signer: &sp_core::sr25519::Pair,
		nonce: Nonce,
	) -> Result<UncheckedExtrinsic, Error> {
		let version: Value =
			self.inner.rpc.request("state_getRuntimeVersion", rpc_params![]).await?;
		let (spec_version, tx_version) = parse::signing_versions(&version)?;
		let genesis = self.inner.genesis;
		let extension: TxExtension = vilokanam_runtime::tx_extension(nonce);
		// The implicit data of each extension, in order: spec and transaction version, genesis
		// (twice: `CheckGenesis` and the immortal era's block), no metadata hash.
		let implicit = ((), (), spec_version, tx_version, genesis, genesis, (), (), (), None, ());
		let payload = SignedPayload::from_raw(call, extension, implicit);
		let signature = payload.using_encoded(|bytes| signer.sign(bytes));
		let (call, extension, _) = payload.deconstruct();
		let who: AccountId = MultiSigner::from(signer.public()).into_account();
		Ok(UncheckedExtrinsic::new_signed(call, who.into(), signature.into(), extension))
	}

	/// `call` as a general transaction for the runtime's `AuthorizeCall` extension: it is valid
	/// only if the call's `#[pallet::authorize]` function accepts it (a close intent's or a
	/// delegate's signature); nonce and fee checks do not apply to it.
	pub fn authorized(call: RuntimeCall) -> UncheckedExtrinsic {
		UncheckedExtrinsic::new_transaction(call, vilokanam_runtime::tx_extension(0))
	}

	/// Submits `xt` (`author_submitAndWatchExtrinsic`) and streams its [`TxStatus`] updates;
	/// the stream ends after a final status ([`TxStatus::is_final`]), or early if the connection
	/// drops (the outcome is then unknown). `Err(Rejected)` if the pool refuses it outright.
	pub async fn submit_and_watch(
		&self,
		xt: &UncheckedExtrinsic,
	) -> Result<BoxStream<'static, TxStatus>, Error> {
		let sub: Subscription<Value> = self
			.inner
			.rpc
			.subscribe(
				"author_submitAndWatchExtrinsic",
				rpc_params![parse::to_hex(&xt.encode())],
				"author_unwatchExtrinsic",
			)
			.await
			.map_err(rejected)?;
		let statuses = futures::stream::unfold(Some(sub), |sub| async move {
			let mut sub = sub?;
			loop {
				match sub.next().await? {
					Ok(v) => match parse::tx_status(&v) {
						Some(status) => {
							let next = if status.is_final() { None } else { Some(sub) };
							return Some((status, next));
						},
						None => {
							tracing::debug!(target: "chain-client", %v, "unknown extrinsic status")
						},
					},
					Err(e) => {
						tracing::debug!(target: "chain-client", %e, "undecodable extrinsic status")
					},
				}
			}
		});
		Ok(statuses.boxed())
	}

	/// Submits `xt` without watching it (`author_submitExtrinsic`); returns its hash.
	pub async fn submit(&self, xt: &UncheckedExtrinsic) -> Result<H256, Error> {
		let hash: Value = self
			.inner
			.rpc
			.request("author_submitExtrinsic", rpc_params![parse::to_hex(&xt.encode())])
			.await
			.map_err(rejected)?;
		parse::hash(&hash)
	}

	/// What `xt` would pay in fees at the best block, tip excluded (`payment_queryInfo`'s
	/// `partialFee`: base, length and weight fee): how a relayer prices its batches.
	pub async fn partial_fee(&self, xt: &UncheckedExtrinsic) -> Result<Balance, Error> {
		let info: Value = self
			.inner
			.rpc
			.request("payment_queryInfo", rpc_params![parse::to_hex(&xt.encode())])
			.await?;
		info.get("partialFee")
			.and_then(|f| match f {
				Value::String(s) => s.parse().ok(),
				Value::Number(n) => n.as_u64().map(Balance::from),
				_ => None,
			})
			.ok_or_else(|| Error::Decode(format!("payment_queryInfo: {info}")))
	}

	/// Finds `xt` (by its encoding) in block `block` and returns its outcome and its events;
	/// `None` if the block does not contain it (or the node does not know the block).
	pub async fn included(
		&self,
		block: H256,
		xt: &UncheckedExtrinsic,
	) -> Result<Option<Included>, Error> {
		let signed: Value = self.inner.rpc.request("chain_getBlock", rpc_params![block]).await?;
		if signed.is_null() {
			return Ok(None);
		}
		let Some(index) = parse::find_extrinsic(&signed, &xt.encode())? else { return Ok(None) };
		let events = self.events(block).await?;
		Ok(Some(parse::included(block, index, events)))
	}

	/// Signs `call` with the next nonce of `signer`, submits it and waits until it is in a block
	/// (finalized if `finalized`); returns its outcome. A failed dispatch is `Ok` with
	/// `success == false` (see [`Included::dispatch_error`]). Used by tests and tools.
	pub async fn execute(
		&self,
		call: RuntimeCall,
		signer: &sp_core::sr25519::Pair,
		finalized: bool,
	) -> Result<Included, Error> {
		let who: AccountId = MultiSigner::from(signer.public()).into_account();
		let nonce = self.next_nonce(&who).await?;
		let xt = self.sign(call, signer, nonce).await?;
		let mut statuses = self.submit_and_watch(&xt).await?;
		let wait = async {
			while let Some(status) = statuses.next().await {
				match status {
					TxStatus::InBlock(block) if !finalized => return Ok(block),
					TxStatus::Finalized(block) => return Ok(block),
					TxStatus::Dropped(why) => return Err(Error::Dropped(why)),
					TxStatus::Invalid(why) => return Err(Error::Rejected(why)),
					TxStatus::Pool | TxStatus::InBlock(_) | TxStatus::Retracted(_) => {},
				}
			}
			Err(Error::Dropped("the node stopped reporting the extrinsic's status".into()))
		};
		let block = tokio::time::timeout(EXECUTE_TIMEOUT, wait)
			.await
			.map_err(|_| Error::Dropped(format!("not included within {EXECUTE_TIMEOUT:?}")))??;
		self.included(block, &xt)
			.await?
			.ok_or_else(|| Error::Decode(format!("the extrinsic is not in block {block:?}")))
	}
}

/// A storage value decoded as `T` (all bytes consumed).
/// The storage reads that make up some sessions: the cold entry (`Ticks::Sessions`) of each,
/// then each distinct page of settlement state (`Ticks::SessionPages`) once. Pure: read
/// [`SessionKeys::keys`] at one block by any means, then [`SessionKeys::decode`] the values.
#[derive(Clone, Debug)]
pub struct SessionKeys {
	ids: Vec<SessionId>,
	pages: Vec<PageIndex>,
}

impl SessionKeys {
	/// The reads for sessions `ids`.
	pub fn new(ids: &[SessionId]) -> Self {
		let mut pages: Vec<PageIndex> = ids.iter().map(|id| page_of(*id).0).collect();
		pages.sort_unstable();
		pages.dedup();
		Self { ids: ids.to_vec(), pages }
	}

	/// The storage keys to read: the sessions' cold entries in the order of the ids, then
	/// the distinct pages.
	pub fn keys(&self) -> Vec<Vec<u8>> {
		self.ids
			.iter()
			.map(|id| keys::session_info(*id))
			.chain(self.pages.iter().map(|page| keys::session_page(*page)))
			.collect()
	}

	/// The sessions (in the order of the ids; `None` for those not open) from the values
	/// of [`SessionKeys::keys`], read at one block. An open session whose page slot is
	/// missing is an error: the runtime keeps both in step.
	pub fn decode(&self, values: Vec<Option<Vec<u8>>>) -> Result<Vec<Option<Session>>, Error> {
		if values.len() != self.ids.len() + self.pages.len() {
			return Err(Error::Decode(format!(
				"{} storage values for {} sessions on {} pages",
				values.len(),
				self.ids.len(),
				self.pages.len()
			)));
		}
		let mut values = values.into_iter();
		let infos: Vec<Option<Vec<u8>>> = values.by_ref().take(self.ids.len()).collect();
		let mut pages = std::collections::BTreeMap::new();
		for (index, raw) in self.pages.iter().zip(values) {
			if let Some(raw) = raw {
				pages.insert(*index, decode_value::<SessionPage>(&raw)?);
			}
		}
		self.ids
			.iter()
			.zip(infos)
			.map(|(id, raw)| {
				let Some(raw) = raw else { return Ok(None) };
				let info = decode_value::<SessionInfo>(&raw)?;
				let state =
					pages.get(&page_of(*id).0).and_then(|page| page.get(*id)).cloned().ok_or_else(
						|| Error::Decode(format!("open session {id} without settlement state")),
					)?;
				Ok(Some(Session::assemble(info, state)))
			})
			.collect()
	}
}

fn decode_value<T: Decode>(raw: &[u8]) -> Result<T, Error> {
	T::decode_all(&mut &raw[..])
		.map_err(|e| Error::Decode(format!("{}: {e}", core::any::type_name::<T>())))
}

/// A JSON-RPC error answer to a submission is the pool's refusal; anything else is transport.
fn rejected(e: ClientError) -> Error {
	match e {
		ClientError::Call(obj) => Error::Rejected(match obj.data() {
			Some(data) => format!("{}: {}", obj.message(), data.get()),
			None => obj.message().to_owned(),
		}),
		e => Error::Rpc(e),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn session(settled_seconds: u64) -> Session {
		Session {
			viewer: AccountId::new([7; 32]),
			stream_id: 3,
			price_per_second: 2,
			max_seconds: 100,
			settled_seconds,
			escrow_remaining: 2 * u128::from(100 - settled_seconds),
			opened_at: 1_000,
			last_activity: 4,
			voucher_key: AccountId::new([8; 32]),
			closing_since: (settled_seconds > 20).then_some(2_000),
			allowance: Some(1),
		}
	}

	#[test]
	fn session_keys_read_each_page_once_and_assemble() {
		// Sessions 1 and 2 share page 0, 65 is on page 1, 3 is not open.
		let query = SessionKeys::new(&[65, 1, 3, 2]);
		let keys = query.keys();
		assert_eq!(keys.len(), 4 + 2);
		assert_eq!(keys[0], keys::session_info(65));
		assert_eq!(&keys[4..], &[keys::session_page(0), keys::session_page(1)]);

		let open = [(65, session(10)), (1, session(20)), (2, session(30))];
		let (mut page0, mut page1) = (SessionPage::default(), SessionPage::default());
		let mut infos = std::collections::HashMap::new();
		for (id, s) in open.iter() {
			let (info, state) = s.clone().split();
			infos.insert(*id, info.encode());
			let page = if page_of(*id).0 == 0 { &mut page0 } else { &mut page1 };
			*page.slot_mut(*id).expect("in range") = Some(state);
		}
		let mut values: Vec<Option<Vec<u8>>> =
			[65, 1, 3, 2].iter().map(|id| infos.get(id).cloned()).collect();
		values.push(Some(page0.encode()));
		values.push(Some(page1.encode()));
		let sessions = query.decode(values.clone()).expect("decodes");
		assert_eq!(sessions, vec![Some(session(10)), Some(session(20)), None, Some(session(30))]);

		// An open session without its page slot, or a wrong number of values: errors.
		let mut missing = values.clone();
		missing[5] = None;
		assert!(query.decode(missing).is_err());
		assert!(query.decode(values[..5].to_vec()).is_err());
	}
}
