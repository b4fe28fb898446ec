//! Rights and prices from chain state.
//!
//! An in-memory cache of the streams and sessions the sidecar cares about. An entry is read from
//! the node at the best block the first time a `publish` or `watch` needs it (never per
//! message), then kept current by [`ChainView::follow`], which follows best heads and applies
//! each block's events: streams starting, ending or being removed, viewers banned and unbanned,
//! sessions topped up, settled and closed. After a `BatchSettled` (which does not list the
//! sessions it settled) the sessions with unsettled acknowledged seconds are re-read; after a
//! gap in the heads (reconnect, an undecodable block) or a head on another parent (a reorg)
//! everything cached is re-read, closed sessions and known bans included, so that what only a
//! retracted block did (a close, a ban, an end) is undone.
//!
//! Losing a right is broadcast as a [`Revocation`] (tokio broadcast channel) so that rooms drop
//! the member at once: session closed, viewer banned by the creator, stream ended.
//!
//! The hot path (heartbeats) never takes a lock here: a watching connection holds its session's
//! [`SessionEntry`], whose changing fields are atomics.
//!
//! [`ChainView::offline`] builds a view without a node, filled by explicit
//! [`ChainView::insert_stream`] / [`ChainView::insert_session`] calls: it exists for the load
//! benchmark (and unit tests), not for production.

use codec::Decode;
use futures::StreamExt;
use sp_runtime::{traits::IdentifyAccount, Permill};
use std::{
	collections::{HashMap, HashSet},
	sync::{
		atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering},
		Arc, Mutex, OnceLock, RwLock,
	},
};
use tokio::sync::broadcast;
use vilokanam_chain_client::{
	keys, AccountId, Balance, BlockNumber, Client, CloseReason, Head, RuntimeEvent, Session,
	SessionId, SessionKeys, Stream, StreamId, StreamStatus, VoucherSigner, H256,
};

/// Capacity of the revocation channel; a receiver that lags further re-checks every member.
const REVOCATION_CAPACITY: usize = 4096;

/// Why the view cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
	/// No node connection right now.
	#[error("the chain node is not connected")]
	Unavailable,
	/// The node failed or answered something undecodable.
	#[error(transparent)]
	Chain(#[from] vilokanam_chain_client::Error),
}

/// A lost right, broadcast to the rooms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
	/// The session was closed on chain.
	SessionClosed {
		/// The session.
		session_id: SessionId,
		/// Its stream.
		stream_id: StreamId,
		/// Closed as expired (`close_expired`) rather than by a participant.
		expired: bool,
	},
	/// `creator` banned `viewer` from all of the creator's streams.
	Banned {
		/// The creator.
		creator: AccountId,
		/// The banned viewer.
		viewer: AccountId,
	},
	/// The stream ended or was removed.
	StreamEnded {
		/// The stream.
		stream_id: StreamId,
	},
}

/// A stream, as far as rights and prices are concerned.
#[derive(Debug)]
pub struct StreamEntry {
	/// The stream.
	pub id: StreamId,
	/// Its creator: the only account that may publish and moderate.
	pub creator: AccountId,
	/// Its price per second when first read (sessions keep the price they were opened with;
	/// see [`StreamEntry::relaying`] for the current one).
	pub price_per_second: Balance,
	status: AtomicU8,
	relaying: RwLock<Relaying>,
	/// When it ended (Unix ms, the chain's clock; 0: not ended).
	ended_at_ms: AtomicU64,
	/// The price per second of its replay, while its creator offers it.
	replay_price: RwLock<Option<Balance>>,
}

/// Who relays a stream's vouchers and what relaying it pays, as of the last block read: the
/// creator may change these (`update_stream`), so they are re-read on `StreamUpdated`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Relaying {
	/// The current price per second.
	pub price_per_second: Balance,
	/// The account the creator named to relay the stream's vouchers, if any.
	pub relayer: Option<AccountId>,
	/// Every collaborator's share of the creator's part of the revenue: the relayer's, and an
	/// edge sidecar's, which relays a stream named to its origin ([`crate::access::terms`]).
	pub collaborators: Vec<(AccountId, Permill)>,
}

impl Relaying {
	fn of(s: &Stream) -> Self {
		Self {
			price_per_second: s.price_per_second,
			relayer: s.relayer.clone(),
			collaborators: s.collaborators.iter().cloned().collect(),
		}
	}

	/// `who`'s share of the creator's part (zero if it is not a collaborator).
	pub fn share_of(&self, who: &AccountId) -> Permill {
		self.collaborators.iter().find(|(a, _)| a == who).map_or(Permill::zero(), |(_, s)| *s)
	}
}

fn status_to_u8(s: StreamStatus) -> u8 {
	match s {
		StreamStatus::Scheduled => 0,
		StreamStatus::Live => 1,
		StreamStatus::Ended => 2,
	}
}

impl StreamEntry {
	/// A stream entry.
	pub fn new(
		id: StreamId,
		creator: AccountId,
		price_per_second: Balance,
		status: StreamStatus,
	) -> Self {
		Self {
			id,
			creator,
			price_per_second,
			status: AtomicU8::new(status_to_u8(status)),
			relaying: RwLock::new(Relaying { price_per_second, ..Relaying::default() }),
			ended_at_ms: AtomicU64::new(0),
			replay_price: RwLock::new(None),
		}
	}

	/// Ended at `ended_at_ms`, its replay offered at `price` (tests).
	pub fn with_replay(self, ended_at_ms: u64, price: Option<Balance>) -> Self {
		self.set_status(StreamStatus::Ended);
		self.ended_at_ms.store(ended_at_ms, Ordering::Release);
		*write(&self.replay_price) = price;
		self
	}

	/// When it ended (Unix ms; 0: not ended, as far as the view knows).
	pub fn ended_at_ms(&self) -> u64 {
		self.ended_at_ms.load(Ordering::Acquire)
	}

	/// The price per second of its replay, while its creator offers it.
	pub fn replay_price(&self) -> Option<Balance> {
		*read(&self.replay_price)
	}

	/// Whether a session opened at `opened_at_ms` watches its replay: opened after the end (as
	/// `pallet_streams::Pallet::is_replay` decides; a session opened in the ending
	/// millisecond is a live one).
	pub fn is_replay_session(&self, opened_at_ms: u64) -> bool {
		let ended = self.ended_at_ms();
		ended > 0 && opened_at_ms > ended
	}

	pub(crate) fn set_replay_price(&self, price: Option<Balance>) {
		*write(&self.replay_price) = price;
	}

	fn apply_chain(&self, s: &Stream) {
		*write(&self.relaying) = Relaying::of(s);
		self.ended_at_ms.store(s.ended_at.unwrap_or(0), Ordering::Release);
	}

	/// With `relayer` relaying it for `relayer_share` (as [`StreamEntry::new`] names none).
	pub fn with_relayer(self, relayer: AccountId, relayer_share: Permill) -> Self {
		let this = self.with_collaborator(relayer.clone(), relayer_share);
		write(&this.relaying).relayer = Some(relayer);
		this
	}

	/// With `who` among its collaborators, at `share` (tests).
	pub fn with_collaborator(self, who: AccountId, share: Permill) -> Self {
		let mut relaying = self.relaying();
		relaying.collaborators.retain(|(a, _)| *a != who);
		relaying.collaborators.push((who, share));
		*write(&self.relaying) = relaying;
		self
	}

	fn from_chain(id: StreamId, s: &Stream, replay_price: Option<Balance>) -> Self {
		let entry = Self::new(id, s.creator.clone(), s.price_per_second, s.status);
		entry.apply_chain(s);
		entry.set_replay_price(replay_price);
		entry
	}

	/// Who relays it and on what terms, as of the last block read.
	pub fn relaying(&self) -> Relaying {
		read(&self.relaying).clone()
	}

	/// The lifecycle state.
	pub fn status(&self) -> StreamStatus {
		match self.status.load(Ordering::Acquire) {
			0 => StreamStatus::Scheduled,
			1 => StreamStatus::Live,
			_ => StreamStatus::Ended,
		}
	}

	/// Set the state; returns the previous one.
	pub(crate) fn set_status(&self, s: StreamStatus) -> StreamStatus {
		match self.status.swap(status_to_u8(s), Ordering::AcqRel) {
			0 => StreamStatus::Scheduled,
			1 => StreamStatus::Live,
			_ => StreamStatus::Ended,
		}
	}
}

/// An open (or recently closed) session, plus what the sidecar acknowledged for it.
///
/// The fields that change are atomics so that the heartbeat path reads them without a lock.
/// "Closed" here means the session gives no right to watch any more: closed on chain, or
/// closing (its viewer asked to close it; its vouchers still settle during the window).
#[derive(Debug)]
pub struct SessionEntry {
	/// The session.
	pub id: SessionId,
	/// The paying viewer: vouchers may be signed by this account.
	pub viewer: AccountId,
	/// The session's voucher key: vouchers and close intents may be signed by it.
	pub voucher_key: AccountId,
	/// The watched stream.
	pub stream_id: StreamId,
	/// The price per second, fixed at opening.
	pub price_per_second: Balance,
	/// When the session was opened (Unix milliseconds, the chain's clock).
	pub opened_at_ms: u64,
	max_seconds: AtomicU64,
	settled_seconds: AtomicU64,
	closed: AtomicBool,
	last_acked: AtomicU64,
	/// When the last voucher was acknowledged (Unix ms; 0: never).
	last_ack_at_ms: AtomicU64,
	/// When media was first granted to the session (Unix ms; 0: never): the first voucher's
	/// grace runs from then, once per session however many media peers it asks for.
	media_since_ms: AtomicU64,
	sr25519_key: OnceLock<Option<schnorrkel::PublicKey>>,
	sr25519_voucher_key: OnceLock<Option<schnorrkel::PublicKey>>,
}

impl SessionEntry {
	/// A session entry.
	pub fn new(
		id: SessionId,
		viewer: AccountId,
		stream_id: StreamId,
		price_per_second: Balance,
		opened_at_ms: u64,
		max_seconds: u64,
		settled_seconds: u64,
	) -> Self {
		Self {
			id,
			voucher_key: viewer.clone(),
			viewer,
			stream_id,
			price_per_second,
			opened_at_ms,
			max_seconds: AtomicU64::new(max_seconds),
			settled_seconds: AtomicU64::new(settled_seconds),
			closed: AtomicBool::new(false),
			last_acked: AtomicU64::new(0),
			last_ack_at_ms: AtomicU64::new(0),
			media_since_ms: AtomicU64::new(0),
			sr25519_key: OnceLock::new(),
			sr25519_voucher_key: OnceLock::new(),
		}
	}

	/// With `key` as the session's voucher key (by default the viewer's own).
	pub fn with_voucher_key(mut self, key: AccountId) -> Self {
		self.voucher_key = key;
		self
	}

	fn from_chain(id: SessionId, s: &Session) -> Self {
		let entry = Self::new(
			id,
			s.viewer.clone(),
			s.stream_id,
			s.price_per_second,
			s.opened_at,
			s.max_seconds,
			s.settled_seconds,
		)
		.with_voucher_key(s.voucher_key.clone());
		// A closing session gives no right to watch (its vouchers still settle).
		if !s.is_open() {
			entry.close();
		}
		entry
	}

	/// The account a signature by `signer` must verify against.
	pub fn signer_account(&self, signer: VoucherSigner) -> &AccountId {
		match signer {
			VoucherSigner::VoucherKey => &self.voucher_key,
			VoucherSigner::Viewer => &self.viewer,
		}
	}

	/// Seconds paid into escrow.
	pub fn max_seconds(&self) -> u64 {
		self.max_seconds.load(Ordering::Acquire)
	}

	/// Seconds settled on chain.
	pub fn settled_seconds(&self) -> u64 {
		self.settled_seconds.load(Ordering::Acquire)
	}

	/// Whether the session was closed on chain.
	pub fn is_closed(&self) -> bool {
		self.closed.load(Ordering::Acquire)
	}

	/// The highest cumulative seconds acknowledged by this sidecar (at least what is settled).
	pub fn last_acked(&self) -> u64 {
		self.last_acked.load(Ordering::Acquire).max(self.settled_seconds())
	}

	/// Record an acknowledged (durably stored) cumulative; keeps the maximum.
	pub fn note_acked(&self, cumulative_seconds: u64) {
		self.last_acked.fetch_max(cumulative_seconds, Ordering::AcqRel);
		self.last_ack_at_ms.fetch_max(crate::clock::unix_ms(), Ordering::AcqRel);
	}

	/// When this sidecar last acknowledged a voucher of the session (Unix ms; 0: never). The
	/// media gate pauses a viewer whose vouchers stop.
	pub fn last_ack_at_ms(&self) -> u64 {
		self.last_ack_at_ms.load(Ordering::Acquire)
	}

	/// When media was first granted to this session: `now_ms` if never before.
	pub fn media_since_ms(&self, now_ms: u64) -> u64 {
		match self.media_since_ms.compare_exchange(0, now_ms, Ordering::AcqRel, Ordering::Acquire) {
			Ok(_) => now_ms,
			Err(first) => first,
		}
	}

	/// The sr25519 key of `signer` (the viewer's account or the voucher key), decompressed
	/// once; `None` if that account is not a valid sr25519 key.
	pub fn sr25519_key(&self, signer: VoucherSigner) -> Option<&schnorrkel::PublicKey> {
		let (cell, account) = match signer {
			VoucherSigner::Viewer => (&self.sr25519_key, &self.viewer),
			VoucherSigner::VoucherKey => (&self.sr25519_voucher_key, &self.voucher_key),
		};
		cell.get_or_init(|| schnorrkel::PublicKey::from_bytes(account.as_ref()).ok()).as_ref()
	}

	fn set_max_seconds(&self, max: u64) {
		self.max_seconds.store(max, Ordering::Release);
	}

	fn note_settled(&self, settled: u64) {
		self.settled_seconds.fetch_max(settled, Ordering::AcqRel);
	}

	/// Mark closed; returns whether it was open.
	pub(crate) fn close(&self) -> bool {
		!self.closed.swap(true, Ordering::AcqRel)
	}

	/// Mark open again: the block that closed it was retracted (a reorg). Returns whether it
	/// was closed.
	pub(crate) fn reopen(&self) -> bool {
		self.closed.swap(false, Ordering::AcqRel)
	}

	/// Take the state the chain has for it at some block (`None`: not stored, so closed).
	/// Returns whether that closed it (a revocation is due). A session the chain has open is
	/// open here too, even if a block since retracted had closed it.
	fn apply_chain_state(&self, state: Option<&Session>) -> bool {
		match state {
			Some(s) => {
				self.set_max_seconds(s.max_seconds);
				self.note_settled(s.settled_seconds);
				if s.is_open() {
					if self.reopen() {
						tracing::info!(session = self.id, "a reorg reopened the session");
					}
					false
				} else {
					self.close()
				}
			},
			None => self.close(),
		}
	}
}

/// Whether `head` continues the chain of `last`: its child, not a block of another branch
/// (a reorg) or past a gap.
fn continues(last: Option<&Head>, head: &Head) -> bool {
	last.is_some_and(|l| head.parent == l.hash && head.number == l.number.saturating_add(1))
}

struct Inner {
	offline: bool,
	genesis: OnceLock<H256>,
	client: RwLock<Option<Client>>,
	streams: RwLock<HashMap<StreamId, Arc<StreamEntry>>>,
	sessions: RwLock<HashMap<SessionId, Arc<SessionEntry>>>,
	bans: RwLock<HashSet<(AccountId, AccountId)>>,
	/// The best block number seen, `u64::MAX` before any.
	best: AtomicU64,
	/// Ids the node said do not exist, at the best block they were asked at.
	misses: Mutex<Misses>,
	/// When the last new best block arrived (Unix ms); the view's creation before any.
	last_block_ms: AtomicU64,
	revocations: broadcast::Sender<Revocation>,
	/// Streams removed on chain (`StreamRemoved`), whether cached or not.
	removals: broadcast::Sender<StreamId>,
}

/// Streams and sessions the node said do not exist at best block `at`: asking again before the
/// next block would get the same answer, so a flood of lookups of made-up ids costs the node
/// one read per id and block, not one per request.
#[derive(Default)]
struct Misses {
	at: u64,
	streams: HashSet<StreamId>,
	sessions: HashSet<SessionId>,
}

/// Misses kept per kind and block; past it, lookups go to the node again.
const MAX_MISSES: usize = 65_536;

impl Misses {
	/// The sets for best block `best`, emptied if they were for another.
	fn at(&mut self, best: u64) -> &mut Self {
		if self.at != best {
			self.streams.clear();
			self.sessions.clear();
			self.at = best;
		}
		self
	}
}

/// The chain-state cache. Cheap to clone.
#[derive(Clone)]
pub struct ChainView {
	inner: Arc<Inner>,
}

/// What a block's events leave to be re-read.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Dirty {
	/// Sessions whose settled seconds may have changed without an event saying so.
	pub sessions: Vec<SessionId>,
	/// Cached streams whose creator changed them (price, relayer, split).
	pub streams: Vec<StreamId>,
}

// A poisoned lock only means another thread panicked while holding it; the maps stay usable.
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
	l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
	l.write().unwrap_or_else(|p| p.into_inner())
}

impl Default for ChainView {
	fn default() -> Self {
		Self::new()
	}
}

impl ChainView {
	fn build(offline: bool) -> Self {
		let (revocations, _) = broadcast::channel(REVOCATION_CAPACITY);
		let (removals, _) = broadcast::channel(REVOCATION_CAPACITY);
		Self {
			inner: Arc::new(Inner {
				offline,
				genesis: OnceLock::new(),
				client: RwLock::new(None),
				streams: RwLock::new(HashMap::new()),
				sessions: RwLock::new(HashMap::new()),
				bans: RwLock::new(HashSet::new()),
				best: AtomicU64::new(u64::MAX),
				misses: Mutex::new(Misses::default()),
				last_block_ms: AtomicU64::new(crate::clock::unix_ms()),
				revocations,
				removals,
			}),
		}
	}

	/// A view that reads from a node once one is [attached](ChainView::attach).
	pub fn new() -> Self {
		Self::build(false)
	}

	/// A view without a node, for the load benchmark and tests only: nothing is ever fetched,
	/// entries come from [`ChainView::insert_stream`], [`ChainView::insert_session`] and
	/// [`ChainView::insert_ban`].
	#[cfg(any(test, feature = "testing"))]
	pub fn offline(genesis: H256) -> Self {
		let view = Self::build(true);
		let _ = view.inner.genesis.set(genesis);
		view
	}

	/// Insert (or replace) a stream. For the offline view of the benchmark and tests.
	#[cfg(any(test, feature = "testing"))]
	pub fn insert_stream(&self, entry: StreamEntry) -> Arc<StreamEntry> {
		let entry = Arc::new(entry);
		write(&self.inner.streams).insert(entry.id, entry.clone());
		entry
	}

	/// Insert (or replace) a session. For the offline view of the benchmark and tests.
	#[cfg(any(test, feature = "testing"))]
	pub fn insert_session(&self, entry: SessionEntry) -> Arc<SessionEntry> {
		let entry = Arc::new(entry);
		write(&self.inner.sessions).insert(entry.id, entry.clone());
		entry
	}

	/// Record a ban. For the offline view of tests.
	#[cfg(any(test, feature = "testing"))]
	pub fn insert_ban(&self, creator: AccountId, viewer: AccountId) {
		write(&self.inner.bans).insert((creator, viewer));
	}

	/// Use `client` from now on. Fails if it serves another chain than the one this view was
	/// first attached to (stored vouchers are bound to that genesis).
	pub fn attach(&self, client: Client) -> Result<(), String> {
		let genesis = client.genesis_hash();
		let known = *self.inner.genesis.get_or_init(|| genesis);
		if known != genesis {
			return Err(format!(
				"the node serves genesis {genesis:?}, but this sidecar works for {known:?}"
			));
		}
		*write(&self.inner.client) = Some(client);
		Ok(())
	}

	/// Stop using the current client (it disconnected).
	pub fn detach(&self) {
		write(&self.inner.client).take();
	}

	/// The current client, if any.
	pub fn client(&self) -> Option<Client> {
		read(&self.inner.client).clone()
	}

	/// Whether a live node connection is attached.
	pub fn is_connected(&self) -> bool {
		read(&self.inner.client).as_ref().is_some_and(|c| c.is_connected())
	}

	/// The chain's genesis hash, once known.
	pub fn genesis(&self) -> Option<H256> {
		self.inner.genesis.get().copied()
	}

	/// The best block number seen by [`ChainView::follow`].
	pub fn best_block(&self) -> Option<BlockNumber> {
		BlockNumber::try_from(self.inner.best.load(Ordering::Acquire)).ok()
	}

	/// How long, at `now_ms`, since a new best block arrived (since the view was made, before
	/// any): the node is unreachable, or the chain stalled. Zero for the offline view.
	pub fn silent_ms(&self, now_ms: u64) -> u64 {
		if self.inner.offline {
			return 0;
		}
		now_ms.saturating_sub(self.inner.last_block_ms.load(Ordering::Acquire))
	}

	/// Subscribe to revocations.
	pub fn subscribe(&self) -> broadcast::Receiver<Revocation> {
		self.inner.revocations.subscribe()
	}

	/// The streams removed on chain from now on (what was kept of them can go).
	pub fn subscribe_removals(&self) -> broadcast::Receiver<StreamId> {
		self.inner.removals.subscribe()
	}

	fn revoke(&self, r: Revocation) {
		tracing::debug!(?r, "revocation");
		// No receiver (no rooms yet) is fine.
		let _ = self.inner.revocations.send(r);
	}

	fn connected_client(&self) -> Result<Option<Client>, ViewError> {
		if self.inner.offline {
			return Ok(None);
		}
		match self.client() {
			Some(c) if c.is_connected() => Ok(Some(c)),
			_ => Err(ViewError::Unavailable),
		}
	}

	/// A cached stream, without fetching.
	pub fn cached_stream(&self, id: StreamId) -> Option<Arc<StreamEntry>> {
		read(&self.inner.streams).get(&id).cloned()
	}

	/// A cached session, without fetching.
	pub fn cached_session(&self, id: SessionId) -> Option<Arc<SessionEntry>> {
		read(&self.inner.sessions).get(&id).cloned()
	}

	fn misses(&self) -> std::sync::MutexGuard<'_, Misses> {
		self.inner.misses.lock().unwrap_or_else(|p| p.into_inner())
	}

	/// Whether the node said at the current best block that stream `id` (or session `id`)
	/// does not exist.
	fn known_missing(&self, stream: Option<StreamId>, session: Option<SessionId>) -> bool {
		let best = self.inner.best.load(Ordering::Acquire);
		let mut misses = self.misses();
		let m = misses.at(best);
		stream.is_some_and(|id| m.streams.contains(&id))
			|| session.is_some_and(|id| m.sessions.contains(&id))
	}

	/// Remember a miss asked at best block `asked_at`, unless a block came since.
	fn note_missing(&self, asked_at: u64, stream: Option<StreamId>, session: Option<SessionId>) {
		let best = self.inner.best.load(Ordering::Acquire);
		if best != asked_at {
			return;
		}
		let mut misses = self.misses();
		let m = misses.at(best);
		if let Some(id) = stream.filter(|_| m.streams.len() < MAX_MISSES) {
			m.streams.insert(id);
		}
		if let Some(id) = session.filter(|_| m.sessions.len() < MAX_MISSES) {
			m.sessions.insert(id);
		}
	}

	/// The stream, from the cache or else the best block. `None` if it does not exist.
	pub async fn stream(&self, id: StreamId) -> Result<Option<Arc<StreamEntry>>, ViewError> {
		if let Some(s) = self.cached_stream(id) {
			return Ok(Some(s));
		}
		let Some(client) = self.connected_client()? else { return Ok(None) };
		if self.known_missing(Some(id), None) {
			return Ok(None);
		}
		let asked_at = self.inner.best.load(Ordering::Acquire);
		let Some(stream) = client.stream(id, None).await? else {
			self.note_missing(asked_at, Some(id), None);
			return Ok(None);
		};
		let replay_price = client.replay_offer(id, None).await?;
		let entry = Arc::new(StreamEntry::from_chain(id, &stream, replay_price));
		// Another task may have fetched it meanwhile: keep the first so everybody shares it.
		Ok(Some(write(&self.inner.streams).entry(id).or_insert(entry).clone()))
	}

	/// The session, from the cache or else the best block. `None` if it is not open (never
	/// opened, or closed before it was cached); a cached session closed since is returned with
	/// [`SessionEntry::is_closed`].
	pub async fn session(&self, id: SessionId) -> Result<Option<Arc<SessionEntry>>, ViewError> {
		if let Some(s) = self.cached_session(id) {
			return Ok(Some(s));
		}
		let Some(client) = self.connected_client()? else { return Ok(None) };
		if self.known_missing(None, Some(id)) {
			return Ok(None);
		}
		let asked_at = self.inner.best.load(Ordering::Acquire);
		let Some(session) = client.session(id, None).await? else {
			self.note_missing(asked_at, None, Some(id));
			return Ok(None);
		};
		let entry = Arc::new(SessionEntry::from_chain(id, &session));
		Ok(Some(write(&self.inner.sessions).entry(id).or_insert(entry).clone()))
	}

	/// Whether `creator` banned `viewer`, at the best block (or as learnt from events since).
	pub async fn is_banned(
		&self,
		creator: &AccountId,
		viewer: &AccountId,
	) -> Result<bool, ViewError> {
		if read(&self.inner.bans).contains(&(creator.clone(), viewer.clone())) {
			return Ok(true);
		}
		let Some(client) = self.connected_client()? else { return Ok(false) };
		Ok(client.is_banned(creator, viewer, None).await?)
	}

	/// Whether a ban of `viewer` by `creator` is known (from events or earlier checks), without
	/// asking the node.
	pub fn is_banned_cached(&self, creator: &AccountId, viewer: &AccountId) -> bool {
		read(&self.inner.bans).contains(&(creator.clone(), viewer.clone()))
	}

	/// Drop what can no longer be used of a stream whose room emptied: its closed sessions, and
	/// the stream itself if it ended. Open entries stay: a connection may be joining with them,
	/// and they must keep receiving updates. The offline view keeps everything.
	pub fn forget_closed(&self, id: StreamId) {
		if self.inner.offline {
			return;
		}
		write(&self.inner.sessions).retain(|_, s| s.stream_id != id || !s.is_closed());
		let mut streams = write(&self.inner.streams);
		if streams.get(&id).is_some_and(|s| s.status() == StreamStatus::Ended) {
			streams.remove(&id);
		}
	}

	/// Apply one block's events to the cache, broadcasting revocations. Returns what must be
	/// re-read from storage.
	pub fn apply_events(&self, events: impl IntoIterator<Item = RuntimeEvent>) -> Dirty {
		use pallet_streams::Event as S;
		use pallet_ticks::Event as T;
		let mut batch_settled = false;
		let mut updated = Vec::new();
		for event in events {
			match event {
				RuntimeEvent::Streams(S::StreamUpdated { stream_id })
					if self.cached_stream(stream_id).is_some() =>
				{
					updated.push(stream_id);
				},
				RuntimeEvent::Streams(S::StreamStarted { stream_id }) => {
					if let Some(s) = self.cached_stream(stream_id) {
						s.set_status(StreamStatus::Live);
					}
				},
				RuntimeEvent::Streams(S::StreamEnded { stream_id }) => {
					if let Some(s) = self.cached_stream(stream_id) {
						if s.set_status(StreamStatus::Ended) != StreamStatus::Ended {
							self.revoke(Revocation::StreamEnded { stream_id });
						}
						// When it ended (the block's time) decides which sessions are replays.
						updated.push(stream_id);
					}
				},
				RuntimeEvent::Streams(S::ReplayOfferChanged { stream_id, price_per_second }) => {
					if let Some(s) = self.cached_stream(stream_id) {
						s.set_replay_price(price_per_second);
					}
				},
				RuntimeEvent::Streams(S::StreamRemoved { stream_id, .. }) => {
					// No receiver is fine.
					let _ = self.inner.removals.send(stream_id);
					if let Some(s) = write(&self.inner.streams).remove(&stream_id) {
						if s.set_status(StreamStatus::Ended) != StreamStatus::Ended {
							self.revoke(Revocation::StreamEnded { stream_id });
						}
					}
				},
				RuntimeEvent::Streams(S::ViewerBanned { creator, viewer }) => {
					write(&self.inner.bans).insert((creator.clone(), viewer.clone()));
					self.revoke(Revocation::Banned { creator, viewer });
				},
				RuntimeEvent::Streams(S::ViewerUnbanned { creator, viewer }) => {
					write(&self.inner.bans).remove(&(creator, viewer));
				},
				RuntimeEvent::Ticks(T::SessionToppedUp { session_id, max_seconds, .. }) => {
					if let Some(s) = self.cached_session(session_id) {
						s.set_max_seconds(max_seconds);
					}
				},
				RuntimeEvent::Ticks(T::SessionSettled {
					session_id, cumulative_seconds, ..
				}) => {
					if let Some(s) = self.cached_session(session_id) {
						s.note_settled(cumulative_seconds);
					}
				},
				RuntimeEvent::Ticks(T::BatchSettled { .. }) => batch_settled = true,
				RuntimeEvent::Ticks(T::SessionClosing { session_id, settled_seconds, .. }) => {
					// The viewer asked to close: no more watching; its vouchers still settle.
					if let Some(s) = self.cached_session(session_id) {
						s.note_settled(settled_seconds);
						if s.close() {
							self.revoke(Revocation::SessionClosed {
								session_id,
								stream_id: s.stream_id,
								expired: false,
							});
						}
					}
				},
				RuntimeEvent::Ticks(T::SessionClosed {
					session_id,
					settled_seconds,
					reason,
					..
				}) => {
					if let Some(s) = self.cached_session(session_id) {
						s.note_settled(settled_seconds);
						if s.close() {
							self.revoke(Revocation::SessionClosed {
								session_id,
								stream_id: s.stream_id,
								expired: reason == CloseReason::Expired,
							});
						}
					}
				},
				_ => {},
			}
		}
		let mut dirty = Dirty { streams: updated, ..Dirty::default() };
		if batch_settled {
			// The batch does not say which sessions it settled: re-read those with acknowledged
			// seconds beyond what is known to be settled.
			dirty.sessions = read(&self.inner.sessions)
				.values()
				.filter(|s| !s.is_closed() && s.last_acked() > s.settled_seconds())
				.map(|s| s.id)
				.collect();
		}
		dirty
	}

	/// Follow the best heads of `client` until its subscription ends (the connection dropped).
	pub async fn follow(&self, client: &Client) -> Result<(), ViewError> {
		let mut heads = client.subscribe_heads(false).await?;
		let mut last: Option<Head> = None;
		while let Some(item) = heads.next().await {
			let head = match item {
				Ok(h) => h,
				Err(e) => {
					tracing::warn!("undecodable head: {e}");
					continue;
				},
			};
			self.inner.best.store(u64::from(head.number), Ordering::Release);
			self.inner.last_block_ms.store(crate::clock::unix_ms(), Ordering::Release);
			let contiguous = continues(last.as_ref(), &head);
			if !contiguous {
				// What the node said did not exist was said of the branch left (at the same
				// height, a block number does not tell the branches apart).
				let mut misses = self.misses();
				misses.streams.clear();
				misses.sessions.clear();
			}
			let result = match client.events(head.hash).await {
				Ok(records) => {
					let dirty = self.apply_events(records.into_iter().map(|r| r.event));
					if contiguous {
						match self.refresh_sessions(client, head.hash, &dirty.sessions).await {
							Ok(()) => self.refresh_streams(client, head.hash, &dirty.streams).await,
							Err(e) => Err(e),
						}
					} else {
						// A gap or a fork switch: events of other blocks were missed.
						self.refresh_all(client, head.hash).await
					}
				},
				Err(vilokanam_chain_client::Error::Decode(e)) => {
					tracing::warn!(
						block = head.number,
						"undecodable events, re-reading state: {e}"
					);
					self.refresh_all(client, head.hash).await
				},
				Err(e) => Err(e.into()),
			};
			match result {
				Ok(()) => last = Some(head),
				Err(e) => {
					tracing::warn!(block = head.number, "cannot update from block: {e}");
					// Re-read everything at the next head.
					last = None;
				},
			}
		}
		Ok(())
	}

	/// Read many storage values at `at` in few calls ([`Client::storage_many`]), falling back to
	/// one read per key if the node refuses batched reads.
	async fn query(
		&self,
		client: &Client,
		keys: &[Vec<u8>],
		at: H256,
	) -> Result<Vec<Option<Vec<u8>>>, ViewError> {
		match client.storage_many(keys, Some(at)).await {
			Ok(values) => Ok(values),
			Err(e) if client.is_connected() => {
				tracing::debug!("batched storage read failed ({e}), reading keys one by one");
				let mut out = Vec::with_capacity(keys.len());
				for k in keys {
					out.push(client.storage(k, Some(at)).await?);
				}
				Ok(out)
			},
			Err(e) => Err(e.into()),
		}
	}

	/// Re-read sessions at `at`.
	async fn refresh_sessions(
		&self,
		client: &Client,
		at: H256,
		ids: &[SessionId],
	) -> Result<(), ViewError> {
		if ids.is_empty() {
			return Ok(());
		}
		// Each session's cold entry plus its page of settlement state (pages read once).
		let query = SessionKeys::new(ids);
		let values = self.query(client, &query.keys(), at).await?;
		let sessions = match query.decode(values) {
			Ok(sessions) => sessions,
			Err(e) => {
				tracing::warn!(sessions = ids.len(), "undecodable sessions: {e}");
				return Ok(());
			},
		};
		for (id, session) in ids.iter().zip(sessions) {
			let Some(entry) = self.cached_session(*id) else { continue };
			if entry.apply_chain_state(session.as_ref()) {
				self.revoke(Revocation::SessionClosed {
					session_id: *id,
					stream_id: entry.stream_id,
					expired: false,
				});
			}
		}
		Ok(())
	}

	/// Re-read cached streams at `at`: their status and relaying terms.
	async fn refresh_streams(
		&self,
		client: &Client,
		at: H256,
		ids: &[StreamId],
	) -> Result<(), ViewError> {
		let streams: Vec<Arc<StreamEntry>> =
			ids.iter().filter_map(|id| self.cached_stream(*id)).collect();
		if streams.is_empty() {
			return Ok(());
		}
		// Each stream, then each one's replay offer.
		let keys: Vec<_> = streams
			.iter()
			.map(|s| keys::stream(s.id))
			.chain(streams.iter().map(|s| keys::replay_offer(s.id)))
			.collect();
		let mut values = self.query(client, &keys, at).await?;
		let offers = values.split_off(streams.len());
		for (entry, (value, offer)) in streams.iter().zip(values.into_iter().zip(offers)) {
			match offer.map(|raw| Balance::decode(&mut &raw[..])).transpose() {
				Ok(price) => entry.set_replay_price(price),
				Err(e) => tracing::warn!(stream = entry.id, "undecodable replay offer: {e}"),
			}
			let status = match value {
				Some(raw) => match Stream::decode(&mut &raw[..]) {
					Ok(s) => {
						entry.apply_chain(&s);
						s.status
					},
					Err(e) => {
						tracing::warn!(stream = entry.id, "undecodable stream: {e}");
						continue;
					},
				},
				None => {
					write(&self.inner.streams).remove(&entry.id);
					StreamStatus::Ended
				},
			};
			let before = entry.set_status(status);
			if status == StreamStatus::Ended && before != StreamStatus::Ended {
				self.revoke(Revocation::StreamEnded { stream_id: entry.id });
			}
		}
		Ok(())
	}

	/// Re-read every cached stream, session and ban that matters at `at`: after a gap or a
	/// reorg, what a retracted block did (a close, a ban, an end) is undone here too.
	async fn refresh_all(&self, client: &Client, at: H256) -> Result<(), ViewError> {
		// Closed ones too: the block that closed them may be the one retracted.
		let cached: Vec<SessionId> = read(&self.inner.sessions).keys().copied().collect();
		self.refresh_sessions(client, at, &cached).await?;

		let streams: Vec<StreamId> = read(&self.inner.streams).keys().copied().collect();
		self.refresh_streams(client, at, &streams).await?;

		// Bans between the creators and viewers of open cached sessions, and the bans known
		// (one a retracted block made is lifted here).
		let pairs: HashSet<(AccountId, AccountId)> = {
			let sessions = read(&self.inner.sessions);
			let streams = read(&self.inner.streams);
			let mut pairs: HashSet<_> = sessions
				.values()
				.filter(|s| !s.is_closed())
				.filter_map(|s| {
					streams.get(&s.stream_id).map(|st| (st.creator.clone(), s.viewer.clone()))
				})
				.collect();
			pairs.extend(read(&self.inner.bans).iter().cloned());
			pairs
		};
		let pairs: Vec<_> = pairs.into_iter().collect();
		let keys: Vec<_> = pairs.iter().map(|(c, v)| keys::banned(c, v)).collect();
		let values = self.query(client, &keys, at).await?;
		for ((creator, viewer), value) in pairs.into_iter().zip(values) {
			let key = (creator.clone(), viewer.clone());
			if value.is_some() {
				if write(&self.inner.bans).insert(key) {
					self.revoke(Revocation::Banned { creator, viewer });
				}
			} else {
				write(&self.inner.bans).remove(&key);
			}
		}
		Ok(())
	}
}

/// An sr25519 account id of a key pair (tests, benchmark).
pub fn account_of(pair: &sp_core::sr25519::Pair) -> AccountId {
	use sp_core::Pair;
	sp_runtime::MultiSigner::from(pair.public()).into_account()
}

#[cfg(test)]
mod tests {
	use super::*;
	use vilokanam_chain_client::Runtime;

	#[test]
	fn misses_hold_for_the_block_they_were_asked_at() {
		let view = ChainView::new();
		view.inner.best.store(10, Ordering::Release);
		view.note_missing(10, Some(7), Some(70));
		assert!(view.known_missing(Some(7), None));
		assert!(view.known_missing(None, Some(70)));
		assert!(!view.known_missing(Some(70), Some(7)), "streams and sessions apart");
		// Asked at 10, answered after block 11 came: the answer may be stale, not kept.
		view.inner.best.store(11, Ordering::Release);
		assert!(!view.known_missing(Some(7), Some(70)), "a new block forgets them");
		view.note_missing(10, Some(8), None);
		assert!(!view.known_missing(Some(8), None));
		// Bounded.
		for id in 0..(MAX_MISSES as u64 + 10) {
			view.note_missing(11, None, Some(id));
		}
		assert_eq!(view.misses().sessions.len(), MAX_MISSES);
	}

	fn acct(b: u8) -> AccountId {
		AccountId::new([b; 32])
	}

	/// Issue 18, item 8: a new best block at n + 1 on another parent is a reorg, not a
	/// continuation (the view then re-reads everything it holds).
	#[test]
	fn a_head_on_another_parent_is_a_reorg() {
		let head = |n: u32, hash: u8, parent: u8| Head {
			hash: H256::repeat_byte(hash),
			number: n,
			parent: H256::repeat_byte(parent),
		};
		let last = head(10, 0xa0, 0x90);
		assert!(continues(Some(&last), &head(11, 0xa1, 0xa0)));
		assert!(!continues(Some(&last), &head(11, 0xb1, 0xb0)), "n + 1 on another parent");
		assert!(!continues(Some(&last), &head(10, 0xb0, 0x90)), "a sibling");
		assert!(!continues(Some(&last), &head(12, 0xa2, 0xa1)), "a gap");
		assert!(!continues(None, &head(11, 0xa1, 0xa0)), "the first head");
	}

	/// A session closed by a block that a reorg retracted is open again once the new branch's
	/// state is read, and a ban only the retracted block held is lifted.
	#[test]
	fn a_retracted_close_is_undone_by_the_new_branchs_state() {
		let v = view();
		let entry = v.cached_session(5).unwrap();
		let open = Session {
			viewer: acct(2),
			stream_id: 1,
			price_per_second: 10,
			max_seconds: 100,
			settled_seconds: 3,
			escrow_remaining: 970,
			opened_at: 0,
			last_activity: 1,
			voucher_key: acct(2),
			closing_since: None,
			allowance: None,
		};
		// The abandoned branch closed it.
		v.apply_events([RuntimeEvent::Ticks(pallet_ticks::Event::SessionClosing {
			session_id: 5,
			settled_seconds: 3,
			refund_at: 0,
		})]);
		assert!(entry.is_closed());
		// The new branch has it open: open here too, nothing to revoke.
		assert!(!entry.apply_chain_state(Some(&open)));
		assert!(!entry.is_closed());
		assert_eq!(entry.settled_seconds(), 3);
		// Closing on the new branch (or gone) closes it, and that is revoked.
		let closing = Session { closing_since: Some(9), ..open.clone() };
		assert!(entry.apply_chain_state(Some(&closing)));
		assert!(entry.is_closed());
		assert!(!entry.apply_chain_state(None), "already closed: revoked once");
	}

	fn view() -> ChainView {
		let v = ChainView::offline(H256::repeat_byte(1));
		v.insert_stream(StreamEntry::new(1, acct(1), 10, StreamStatus::Live));
		v.insert_session(SessionEntry::new(5, acct(2), 1, 10, 0, 100, 0));
		v.insert_session(SessionEntry::new(6, acct(3), 1, 10, 0, 100, 0));
		v
	}

	#[tokio::test]
	async fn offline_view_answers_from_inserts() {
		let v = view();
		assert_eq!(v.stream(1).await.unwrap().unwrap().creator, acct(1));
		assert!(v.stream(2).await.unwrap().is_none());
		assert_eq!(v.session(5).await.unwrap().unwrap().viewer, acct(2));
		assert!(v.session(7).await.unwrap().is_none());
		assert!(!v.is_banned(&acct(1), &acct(2)).await.unwrap());
		v.insert_ban(acct(1), acct(2));
		assert!(v.is_banned(&acct(1), &acct(2)).await.unwrap());
		assert_eq!(v.genesis(), Some(H256::repeat_byte(1)));
		assert!(!v.is_connected());
		// Forgetting does nothing offline: the benchmark's seed stays.
		v.forget_closed(1);
		assert!(v.cached_stream(1).is_some());
	}

	#[tokio::test]
	async fn online_view_without_node_is_unavailable() {
		let v = ChainView::new();
		assert!(matches!(v.stream(1).await, Err(ViewError::Unavailable)));
		assert!(matches!(v.session(1).await, Err(ViewError::Unavailable)));
		assert_eq!(v.genesis(), None);
		assert_eq!(v.best_block(), None);
	}

	#[test]
	fn events_update_cache_and_revoke() {
		let v = view();
		let mut rx = v.subscribe();
		let s5 = v.cached_session(5).unwrap();
		s5.note_acked(30);
		let dirty = v.apply_events([
			RuntimeEvent::Ticks(pallet_ticks::Event::<Runtime>::SessionToppedUp {
				session_id: 5,
				max_seconds: 200,
				amount: 1000,
			}),
			RuntimeEvent::Ticks(pallet_ticks::Event::<Runtime>::SessionSettled {
				session_id: 5,
				cumulative_seconds: 20,
				amount: 200,
			}),
			RuntimeEvent::Ticks(pallet_ticks::Event::<Runtime>::BatchSettled {
				accepted: 1,
				rejected: 0,
				total_paid: 10,
			}),
		]);
		assert_eq!(s5.max_seconds(), 200);
		assert_eq!(s5.settled_seconds(), 20);
		// Session 5 has acknowledged seconds beyond the settled ones; 6 has none.
		assert_eq!(dirty.sessions, vec![5]);
		assert!(rx.try_recv().is_err());

		v.apply_events([RuntimeEvent::Ticks(pallet_ticks::Event::<Runtime>::SessionClosed {
			session_id: 6,
			settled_seconds: 3,
			refunded: 0,
			reason: CloseReason::Expired,
		})]);
		assert_eq!(
			rx.try_recv().unwrap(),
			Revocation::SessionClosed { session_id: 6, stream_id: 1, expired: true }
		);
		assert!(v.cached_session(6).unwrap().is_closed());
		// Closing twice revokes once.
		v.apply_events([RuntimeEvent::Ticks(pallet_ticks::Event::<Runtime>::SessionClosed {
			session_id: 6,
			settled_seconds: 3,
			refunded: 0,
			reason: CloseReason::Closed,
		})]);
		assert!(rx.try_recv().is_err());

		v.apply_events([RuntimeEvent::Streams(pallet_streams::Event::<Runtime>::ViewerBanned {
			creator: acct(1),
			viewer: acct(2),
		})]);
		assert_eq!(
			rx.try_recv().unwrap(),
			Revocation::Banned { creator: acct(1), viewer: acct(2) }
		);
		v.apply_events([RuntimeEvent::Streams(pallet_streams::Event::<Runtime>::ViewerUnbanned {
			creator: acct(1),
			viewer: acct(2),
		})]);

		v.apply_events([RuntimeEvent::Streams(pallet_streams::Event::<Runtime>::StreamEnded {
			stream_id: 1,
		})]);
		assert_eq!(rx.try_recv().unwrap(), Revocation::StreamEnded { stream_id: 1 });
		assert_eq!(v.cached_stream(1).unwrap().status(), StreamStatus::Ended);
		// Events about entries that are not cached change nothing.
		v.apply_events([RuntimeEvent::Streams(pallet_streams::Event::<Runtime>::StreamEnded {
			stream_id: 99,
		})]);
		assert!(rx.try_recv().is_err());
	}

	#[test]
	fn last_acked_is_at_least_settled() {
		let s = SessionEntry::new(1, acct(1), 1, 1, 0, 100, 40);
		assert_eq!(s.last_acked(), 40);
		s.note_acked(50);
		s.note_acked(45);
		assert_eq!(s.last_acked(), 50);
		// An account that is not a valid sr25519 point has no key.
		let bad = SessionEntry::new(1, AccountId::new([0xff; 32]), 1, 1, 0, 1, 0);
		assert!(bad.sr25519_key(VoucherSigner::Viewer).is_none());
		// The voucher key is the viewer's own unless the session names another.
		assert_eq!(s.voucher_key, acct(1));
		let keyed = SessionEntry::new(1, acct(1), 1, 1, 0, 1, 0).with_voucher_key(acct(9));
		assert_eq!(keyed.signer_account(VoucherSigner::VoucherKey), &acct(9));
		assert_eq!(keyed.signer_account(VoucherSigner::Viewer), &acct(1));
	}
}
