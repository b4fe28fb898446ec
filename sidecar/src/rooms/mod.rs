//! Rooms: one per stream, with its publisher and viewers.
//!
//! A room relays WebRTC signaling between its publisher and its viewers (a viewer may signal
//! only the publisher; the publisher any viewer), carries the chat (rate-limited per account by
//! a token bucket; the creator deletes messages), drops members whose rights the chain revoked
//! (session closed, banned, stream ended) and pushes `stats` to every member every second.
//!
//! Members are told only about the peers they may signal: a viewer sees the publisher, the
//! publisher sees the viewers. Viewers do not see each other, so a join costs O(1) messages,
//! not O(viewers).
//!
//! Messages to a member go through its connection's bounded queue ([`Push`]); a member whose
//! queue is full misses messages (counted in `dropped_pushes`) rather than slowing the room.
//!
//! `stats` are computed once per second per room (a numbered snapshot). A connection that writes
//! anything anyway (an ack, typically every second for a viewer) appends the snapshot it has not
//! sent yet to the same flush ([`Membership::take_stats`]): one write instead of two. At the
//! next tick, the members that wrote nothing during the last second get that (now one second
//! old) snapshot pushed. So every member gets `stats` about once per second, without a burst
//! of one write per member at each tick.
//!
//! At an edge sidecar, a room's media comes from its origin: [`upstream`].

pub mod upstream;

use crate::{
	access::rate::TokenBucket,
	chain::view::{ChainView, Revocation, SessionEntry, StreamEntry},
	metrics::Metrics,
	protocol::{self, ChatEntry, ErrorCode, PeerId, PeerInfo, RevokeReason, Role, ServerMessage},
	store::{ChatMessage, Store},
};
use std::{
	collections::HashMap,
	sync::{
		atomic::{AtomicBool, AtomicU64, Ordering},
		Arc, Mutex, MutexGuard, RwLock,
	},
	time::{Duration, Instant},
};
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use vilokanam_chain_client::{AccountId, Balance, SessionId, StreamId, StreamStatus};

/// The longest chat message, in bytes.
pub const MAX_CHAT_BYTES: usize = 2_000;
/// The window of `--chat-rate` (messages per this many seconds).
pub const CHAT_RATE_WINDOW_SECS: u64 = 10;

/// A message for a connection from its room.
#[derive(Debug)]
pub enum Push {
	/// Send this text frame.
	Text(Utf8Bytes),
	/// The member `peer_id` was removed from its room on `stream_id`; send `notice`.
	Removed {
		/// The room's stream.
		stream_id: StreamId,
		/// The removed member.
		peer_id: PeerId,
		/// What to tell the client (`revoked`, or an error).
		notice: Utf8Bytes,
	},
}

/// Why a room operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
	/// The connection is not (or no longer) in the room.
	#[error("not in a room")]
	NotInRoom,
	/// No such peer or message.
	#[error("{0}")]
	NotFound(&'static str),
	/// Not allowed.
	#[error("{0}")]
	Forbidden(&'static str),
	/// Too many messages.
	#[error("{0}")]
	RateLimited(&'static str),
	/// A malformed request.
	#[error("{0}")]
	Invalid(&'static str),
	/// The store failed.
	#[error("internal error")]
	Internal,
}

impl RoomError {
	/// The protocol error code.
	pub fn code(&self) -> ErrorCode {
		match self {
			Self::NotInRoom => ErrorCode::NotInRoom,
			Self::NotFound(_) => ErrorCode::NotFound,
			Self::Forbidden(_) => ErrorCode::Forbidden,
			Self::RateLimited(_) => ErrorCode::RateLimited,
			Self::Invalid(_) => ErrorCode::BadJson,
			Self::Internal => ErrorCode::Internal,
		}
	}
}

struct Member {
	account: AccountId,
	ss58: Arc<str>,
	role: Role,
	session_id: Option<SessionId>,
	tx: mpsc::Sender<Push>,
	active: Arc<AtomicBool>,
	/// The last stats snapshot sent to it.
	stats_seen: Arc<AtomicU64>,
}

#[derive(Default)]
struct RoomState {
	publisher: Option<PeerId>,
	members: HashMap<PeerId, Member>,
	/// The sessions watched in this room since it exists (for `stats`).
	sessions: HashMap<SessionId, Arc<SessionEntry>>,
	/// Removed from the room map: joiners must create a new room.
	closed: bool,
}

/// A room: the members of one stream.
pub struct Room {
	/// The stream.
	pub stream_id: StreamId,
	/// The stream's creator (the only publisher and moderator).
	pub creator: AccountId,
	state: Mutex<RoomState>,
	/// The number of the current stats snapshot (0: none yet).
	stats_version: AtomicU64,
	/// The current stats snapshot, serialized.
	stats_text: RwLock<Utf8Bytes>,
}

impl Room {
	fn lock(&self) -> MutexGuard<'_, RoomState> {
		// A poisoned lock means a panic elsewhere; the state itself is still consistent enough
		// to keep serving.
		self.state.lock().unwrap_or_else(|p| p.into_inner())
	}
}

/// A connection's place in a room, returned by [`Rooms::join`].
pub struct Membership {
	/// The room.
	pub room: Arc<Room>,
	/// This member.
	pub peer_id: PeerId,
	/// Its role.
	pub role: Role,
	/// The session watched (viewers).
	pub session: Option<Arc<SessionEntry>>,
	active: Arc<AtomicBool>,
	stats_seen: Arc<AtomicU64>,
}

impl Membership {
	/// The room's stats snapshot if this member has not been sent it yet (to append to a write
	/// that happens anyway).
	pub fn take_stats(&self) -> Option<Utf8Bytes> {
		let version = self.room.stats_version.load(Ordering::Acquire);
		if version <= self.stats_seen.load(Ordering::Acquire) {
			return None;
		}
		self.stats_seen.fetch_max(version, Ordering::AcqRel);
		Some(self.room.stats_text.read().unwrap_or_else(|p| p.into_inner()).clone())
	}

	/// False once the member was removed (revoked, replaced or left): checked without a lock
	/// on the heartbeat path.
	pub fn is_active(&self) -> bool {
		self.active.load(Ordering::Acquire)
	}

	/// The room's stream.
	pub fn stream_id(&self) -> StreamId {
		self.room.stream_id
	}
}

/// What a joining connection brings.
pub struct JoinRequest {
	/// The stream (checked by the caller: exists, live for viewers).
	pub stream: Arc<StreamEntry>,
	/// The authenticated account.
	pub account: AccountId,
	/// Its SS58 form.
	pub ss58: Arc<str>,
	/// Publisher (the creator) or viewer.
	pub role: Role,
	/// The viewer's session (checked by the caller).
	pub session: Option<Arc<SessionEntry>>,
	/// The connection's queue.
	pub tx: mpsc::Sender<Push>,
}

struct Inner {
	rooms: Mutex<HashMap<StreamId, Arc<Room>>>,
	next_peer: AtomicU64,
	buckets: Mutex<HashMap<AccountId, TokenBucket>>,
	chat_capacity: f64,
	chat_per_sec: f64,
	store: Store,
	chain: ChainView,
	metrics: Metrics,
}

/// All rooms. Cheap to clone.
#[derive(Clone)]
pub struct Rooms {
	inner: Arc<Inner>,
}

fn text(msg: &ServerMessage) -> Utf8Bytes {
	Utf8Bytes::from(protocol::encode(msg))
}

fn price_total(seconds: u64, price: Balance) -> Balance {
	Balance::from(seconds).saturating_mul(price)
}

impl Rooms {
	/// Rooms whose members may post `chat_rate` messages per [`CHAT_RATE_WINDOW_SECS`].
	pub fn new(store: Store, chain: ChainView, metrics: Metrics, chat_rate: u32) -> Self {
		let capacity = f64::from(chat_rate);
		Self {
			inner: Arc::new(Inner {
				rooms: Mutex::new(HashMap::new()),
				next_peer: AtomicU64::new(1),
				buckets: Mutex::new(HashMap::new()),
				chat_capacity: capacity,
				chat_per_sec: capacity / CHAT_RATE_WINDOW_SECS as f64,
				store,
				chain,
				metrics,
			}),
		}
	}

	fn rooms(&self) -> MutexGuard<'_, HashMap<StreamId, Arc<Room>>> {
		self.inner.rooms.lock().unwrap_or_else(|p| p.into_inner())
	}

	/// The room of a stream, if it has members.
	pub fn room(&self, stream_id: StreamId) -> Option<Arc<Room>> {
		self.rooms().get(&stream_id).cloned()
	}

	/// Number of rooms.
	pub fn len(&self) -> usize {
		self.rooms().len()
	}

	/// Whether there is no room.
	pub fn is_empty(&self) -> bool {
		self.len() == 0
	}

	fn push(&self, member: &Member, push: Push) -> bool {
		match member.tx.try_send(push) {
			Ok(()) => true,
			Err(_) => {
				self.inner.metrics.dropped_pushes.inc();
				false
			},
		}
	}

	/// Join a room; returns the membership and the peers the new member may signal. A second
	/// publisher replaces the first (a reconnecting creator), which is told with an error.
	pub fn join(&self, req: JoinRequest) -> (Membership, Vec<PeerInfo>) {
		let peer_id = self.inner.next_peer.fetch_add(1, Ordering::Relaxed);
		let active = Arc::new(AtomicBool::new(true));
		let stats_seen = Arc::new(AtomicU64::new(0));
		loop {
			let room = {
				let mut rooms = self.rooms();
				rooms
					.entry(req.stream.id)
					.or_insert_with(|| {
						self.inner.metrics.rooms.inc();
						Arc::new(Room {
							stream_id: req.stream.id,
							creator: req.stream.creator.clone(),
							state: Mutex::new(RoomState::default()),
							stats_version: AtomicU64::new(0),
							stats_text: RwLock::new(Utf8Bytes::from_static("")),
						})
					})
					.clone()
			};
			let mut state = room.lock();
			if state.closed {
				// It was emptied and removed between the two locks: try again.
				continue;
			}
			let info = PeerInfo { peer_id, account: req.ss58.to_string(), role: req.role };
			let joined = ServerMessage::PeerJoined {
				peer_id,
				account: info.account.clone(),
				role: req.role,
			};
			let peers = match req.role {
				Role::Publisher => {
					if let Some(old) = state.publisher.take() {
						if let Some(m) = state.members.remove(&old) {
							m.active.store(false, Ordering::Release);
							let notice = text(&protocol::error(
								ErrorCode::Forbidden,
								"another connection of the creator took over publishing",
								Some("publish"),
							));
							self.push(
								&m,
								Push::Removed { stream_id: room.stream_id, peer_id: old, notice },
							);
						}
						let left = text(&ServerMessage::PeerLeft { peer_id: old });
						for m in state.members.values() {
							self.push(m, Push::Text(left.clone()));
						}
					}
					state.publisher = Some(peer_id);
					let joined = text(&joined);
					let mut peers = Vec::with_capacity(state.members.len());
					for (id, m) in state.members.iter() {
						self.push(m, Push::Text(joined.clone()));
						peers.push(PeerInfo {
							peer_id: *id,
							account: m.ss58.to_string(),
							role: m.role,
						});
					}
					peers
				},
				Role::Viewer => {
					let publisher =
						state.publisher.and_then(|p| state.members.get(&p).map(|m| (p, m)));
					match publisher {
						Some((p, m)) => {
							self.push(m, Push::Text(text(&joined)));
							vec![PeerInfo { peer_id: p, account: m.ss58.to_string(), role: m.role }]
						},
						None => Vec::new(),
					}
				},
			};
			if let Some(s) = &req.session {
				state.sessions.entry(s.id).or_insert_with(|| s.clone());
			}
			state.members.insert(
				peer_id,
				Member {
					account: req.account.clone(),
					ss58: req.ss58.clone(),
					role: req.role,
					session_id: req.session.as_ref().map(|s| s.id),
					tx: req.tx.clone(),
					active: active.clone(),
					stats_seen: stats_seen.clone(),
				},
			);
			drop(state);
			let membership = Membership {
				room,
				peer_id,
				role: req.role,
				session: req.session.clone(),
				active,
				stats_seen,
			};
			return (membership, peers);
		}
	}

	/// Remove members from a room (under its lock), telling them `notice` and telling the peers
	/// who could signal them that they left. Returns whether the room is now empty.
	fn remove_locked(
		&self,
		room: &Room,
		state: &mut RoomState,
		peers: &[PeerId],
		notice: Option<&Utf8Bytes>,
	) -> bool {
		for peer_id in peers {
			let Some(m) = state.members.remove(peer_id) else { continue };
			m.active.store(false, Ordering::Release);
			if let Some(notice) = notice {
				let push = Push::Removed {
					stream_id: room.stream_id,
					peer_id: *peer_id,
					notice: notice.clone(),
				};
				self.push(&m, push);
			}
			let left = text(&ServerMessage::PeerLeft { peer_id: *peer_id });
			match m.role {
				Role::Publisher => {
					if state.publisher == Some(*peer_id) {
						state.publisher = None;
					}
					for other in state.members.values() {
						self.push(other, Push::Text(left.clone()));
					}
				},
				Role::Viewer => {
					if let Some(p) = state.publisher.and_then(|p| state.members.get(&p)) {
						self.push(p, Push::Text(left));
					}
				},
			}
		}
		state.members.is_empty()
	}

	/// Drop an empty room.
	fn drop_if_empty(&self, room: &Arc<Room>) {
		let mut rooms = self.rooms();
		let mut state = room.lock();
		if !state.members.is_empty() || state.closed {
			return;
		}
		if rooms.get(&room.stream_id).is_some_and(|r| Arc::ptr_eq(r, room)) {
			rooms.remove(&room.stream_id);
			self.inner.metrics.rooms.dec();
		}
		state.closed = true;
		drop(state);
		drop(rooms);
		self.inner.chain.forget_closed(room.stream_id);
	}

	/// Leave the room (explicitly or by disconnecting).
	pub fn leave(&self, membership: &Membership) {
		let empty = {
			let mut state = membership.room.lock();
			self.remove_locked(&membership.room, &mut state, &[membership.peer_id], None)
		};
		membership.active.store(false, Ordering::Release);
		if empty {
			self.drop_if_empty(&membership.room);
		}
	}

	/// Relay a signaling payload from `membership` to `to`.
	pub fn signal(
		&self,
		membership: &Membership,
		to: PeerId,
		payload: protocol::SignalPayload,
	) -> Result<(), RoomError> {
		if !membership.is_active() {
			return Err(RoomError::NotInRoom);
		}
		let state = membership.room.lock();
		let target =
			state.members.get(&to).ok_or(RoomError::NotFound("no such peer in the room"))?;
		let allowed = match membership.role {
			Role::Viewer => target.role == Role::Publisher,
			Role::Publisher => target.role == Role::Viewer,
		};
		if !allowed {
			return Err(RoomError::Forbidden("viewers may only signal the publisher"));
		}
		let msg = text(&ServerMessage::Signal { from: membership.peer_id, payload });
		if self.push(target, Push::Text(msg)) {
			Ok(())
		} else {
			Err(RoomError::RateLimited("the peer is not keeping up"))
		}
	}

	fn take_chat_token(&self, account: &AccountId) -> bool {
		let (capacity, per_sec) = (self.inner.chat_capacity, self.inner.chat_per_sec);
		let now = Instant::now();
		let mut buckets = self.inner.buckets.lock().unwrap_or_else(|p| p.into_inner());
		buckets
			.entry(account.clone())
			.or_insert_with(|| TokenBucket::full(capacity, now))
			.try_take(now, capacity, per_sec)
	}

	fn broadcast(&self, room: &Room, msg: &ServerMessage) {
		let msg = text(msg);
		let state = room.lock();
		for m in state.members.values() {
			self.push(m, Push::Text(msg.clone()));
		}
	}

	/// Post a chat message: stored first, then broadcast to the room (the author included).
	pub async fn chat(
		&self,
		membership: &Membership,
		author: &AccountId,
		author_ss58: &str,
		text: String,
	) -> Result<(), RoomError> {
		if !membership.is_active() {
			return Err(RoomError::NotInRoom);
		}
		if text.trim().is_empty() || text.len() > MAX_CHAT_BYTES {
			return Err(RoomError::Invalid("chat text must be 1 to 2000 bytes"));
		}
		if !self.take_chat_token(author) {
			return Err(RoomError::RateLimited("too many chat messages"));
		}
		let stored = self
			.inner
			.store
			.append_chat(membership.stream_id(), author_ss58.to_owned(), text)
			.await
			.map_err(|e| {
				tracing::error!("cannot store a chat message: {e}");
				RoomError::Internal
			})?;
		self.inner.metrics.chat_messages.inc();
		self.broadcast(&membership.room, &ServerMessage::Chat(chat_entry(stored)));
		Ok(())
	}

	/// Delete a chat message (the creator only) and tell the room.
	pub async fn delete_chat(
		&self,
		membership: &Membership,
		account: &AccountId,
		id: u64,
	) -> Result<(), RoomError> {
		if !membership.is_active() {
			return Err(RoomError::NotInRoom);
		}
		if *account != membership.room.creator {
			return Err(RoomError::Forbidden("only the creator deletes chat messages"));
		}
		let deleted =
			self.inner.store.delete_chat(membership.stream_id(), id).await.map_err(|e| {
				tracing::error!("cannot delete a chat message: {e}");
				RoomError::Internal
			})?;
		if !deleted {
			return Err(RoomError::NotFound("no such chat message in this stream"));
		}
		self.broadcast(&membership.room, &ServerMessage::ChatDeleted { id });
		Ok(())
	}

	/// The room's recent chat.
	pub async fn chat_history(&self, stream_id: StreamId) -> Result<Vec<ChatEntry>, RoomError> {
		let history = self.inner.store.chat_history(stream_id).await.map_err(|e| {
			tracing::error!("cannot read the chat history: {e}");
			RoomError::Internal
		})?;
		Ok(history.into_iter().map(chat_entry).collect())
	}

	/// Remove the members a revocation concerns.
	pub fn apply_revocation(&self, r: &Revocation) {
		let rooms: Vec<Arc<Room>> = match r {
			Revocation::SessionClosed { stream_id, .. } | Revocation::StreamEnded { stream_id } => {
				self.room(*stream_id).into_iter().collect()
			},
			Revocation::Banned { creator, .. } => {
				self.rooms().values().filter(|room| room.creator == *creator).cloned().collect()
			},
		};
		let reason = match r {
			Revocation::SessionClosed { expired: true, .. } => RevokeReason::SessionExpired,
			Revocation::SessionClosed { expired: false, .. } => RevokeReason::SessionClosed,
			Revocation::Banned { .. } => RevokeReason::Banned,
			Revocation::StreamEnded { .. } => RevokeReason::StreamEnded,
		};
		for room in rooms {
			let empty = {
				let mut state = room.lock();
				let peers: Vec<PeerId> = state
					.members
					.iter()
					.filter(|(_, m)| match r {
						Revocation::SessionClosed { session_id, .. } => {
							m.session_id == Some(*session_id)
						},
						Revocation::Banned { viewer, .. } => {
							m.role == Role::Viewer && m.account == *viewer
						},
						Revocation::StreamEnded { .. } => true,
					})
					.map(|(id, _)| *id)
					.collect();
				if peers.is_empty() {
					continue;
				}
				let notice = text(&ServerMessage::Revoked { reason });
				self.remove_locked(&room, &mut state, &peers, Some(&notice))
			};
			if empty {
				self.drop_if_empty(&room);
			}
		}
	}

	/// Re-check every member against the cache (after missing revocations).
	pub fn sweep(&self) {
		let rooms: Vec<Arc<Room>> = self.rooms().values().cloned().collect();
		for room in rooms {
			let ended = self
				.inner
				.chain
				.cached_stream(room.stream_id)
				.is_none_or(|s| s.status() == StreamStatus::Ended);
			let revocations: Vec<Revocation> = {
				let state = room.lock();
				if ended {
					vec![Revocation::StreamEnded { stream_id: room.stream_id }]
				} else {
					state
						.members
						.values()
						.filter(|m| m.role == Role::Viewer)
						.filter_map(|m| {
							let session = m.session_id.and_then(|id| state.sessions.get(&id))?;
							if session.is_closed() {
								Some(Revocation::SessionClosed {
									session_id: session.id,
									stream_id: room.stream_id,
									expired: false,
								})
							} else if self.inner.chain.is_banned_cached(&room.creator, &m.account) {
								Some(Revocation::Banned {
									creator: room.creator.clone(),
									viewer: m.account.clone(),
								})
							} else {
								None
							}
						})
						.collect()
				}
			};
			for r in revocations {
				self.apply_revocation(&r);
			}
		}
	}

	/// Apply revocations from the chain view until it is dropped.
	pub async fn run_revocations(self, mut rx: broadcast::Receiver<Revocation>) {
		loop {
			match rx.recv().await {
				Ok(r) => self.apply_revocation(&r),
				Err(broadcast::error::RecvError::Lagged(n)) => {
					tracing::warn!("missed {n} revocations, re-checking every member");
					self.sweep();
				},
				Err(broadcast::error::RecvError::Closed) => return,
			}
		}
	}

	/// The current `stats` of a room.
	pub fn stats(&self, room: &Room) -> ServerMessage {
		let state = room.lock();
		stats_locked(room, &state)
	}

	/// Publish a `stats` snapshot of every room each `period`, pushing it to the members that
	/// did not pick up the previous one (see the module documentation), and forget idle
	/// rate-limit buckets.
	pub async fn run_stats(self, period: Duration) {
		let mut tick = tokio::time::interval(period);
		tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
		let mut last_gc = Instant::now();
		loop {
			tick.tick().await;
			let rooms: Vec<Arc<Room>> = self.rooms().values().cloned().collect();
			for room in rooms {
				self.publish_stats(&room);
			}
			let now = Instant::now();
			if now.duration_since(last_gc) >= Duration::from_secs(60) {
				last_gc = now;
				let (capacity, per_sec) = (self.inner.chat_capacity, self.inner.chat_per_sec);
				self.inner
					.buckets
					.lock()
					.unwrap_or_else(|p| p.into_inner())
					.retain(|_, b| !b.is_full(now, capacity, per_sec));
			}
		}
	}
}

impl Rooms {
	/// Publish a new stats snapshot of `room`, after pushing the previous one to the members
	/// that did not pick it up.
	pub fn publish_stats(&self, room: &Room) {
		let state = room.lock();
		let previous = room.stats_version.load(Ordering::Acquire);
		if previous > 0 {
			let old = room.stats_text.read().unwrap_or_else(|p| p.into_inner()).clone();
			for m in state.members.values() {
				if m.stats_seen.load(Ordering::Acquire) < previous {
					m.stats_seen.fetch_max(previous, Ordering::AcqRel);
					self.push(m, Push::Text(old.clone()));
				}
			}
		}
		let msg = text(&stats_locked(room, &state));
		*room.stats_text.write().unwrap_or_else(|p| p.into_inner()) = msg;
		room.stats_version.store(previous + 1, Ordering::Release);
	}
}

fn stats_locked(room: &Room, state: &RoomState) -> ServerMessage {
	let viewers = state.members.values().filter(|m| m.role == Role::Viewer).count();
	let (mut seconds, mut owed, mut settled): (u64, Balance, Balance) = (0, 0, 0);
	for s in state.sessions.values() {
		let acked = s.last_acked();
		seconds = seconds.saturating_add(acked);
		owed = owed.saturating_add(price_total(acked, s.price_per_second));
		settled = settled.saturating_add(price_total(s.settled_seconds(), s.price_per_second));
	}
	ServerMessage::Stats {
		stream_id: room.stream_id,
		viewers: u32::try_from(viewers).unwrap_or(u32::MAX),
		seconds_watched: seconds,
		owed: owed.to_string(),
		settled: settled.to_string(),
	}
}

fn chat_entry(m: ChatMessage) -> ChatEntry {
	ChatEntry { id: m.id, from: m.author, text: m.text, at_ms: m.at_ms }
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::protocol::decode_server;
	use vilokanam_chain_client::H256;

	fn acct(b: u8) -> AccountId {
		AccountId::new([b; 32])
	}

	struct Fixture {
		_dir: tempfile::TempDir,
		rooms: Rooms,
		chain: ChainView,
		stream: Arc<StreamEntry>,
	}

	fn fixture(chat_rate: u32) -> Fixture {
		let dir = tempfile::tempdir().unwrap();
		let store = Store::open(dir.path().join("db.sqlite")).unwrap();
		let chain = ChainView::offline(H256::zero());
		let stream = chain.insert_stream(StreamEntry::new(1, acct(1), 5, StreamStatus::Live));
		let rooms = Rooms::new(store, chain.clone(), Metrics::new().unwrap(), chat_rate);
		Fixture { _dir: dir, rooms, chain, stream }
	}

	fn join(
		f: &Fixture,
		account: u8,
		role: Role,
		session: Option<Arc<SessionEntry>>,
	) -> (Membership, Vec<PeerInfo>, mpsc::Receiver<Push>) {
		let (tx, rx) = mpsc::channel(64);
		let (m, peers) = f.rooms.join(JoinRequest {
			stream: f.stream.clone(),
			account: acct(account),
			ss58: protocol::account_to_ss58(&acct(account)).into(),
			role,
			session,
			tx,
		});
		(m, peers, rx)
	}

	fn next(rx: &mut mpsc::Receiver<Push>) -> ServerMessage {
		match rx.try_recv().expect("a push") {
			Push::Text(t) => decode_server(t.as_str()).unwrap(),
			Push::Removed { notice, .. } => decode_server(notice.as_str()).unwrap(),
		}
	}

	#[tokio::test]
	async fn signaling_rules() {
		let f = fixture(10);
		let (pubr, peers, mut pub_rx) = join(&f, 1, Role::Publisher, None);
		assert!(peers.is_empty());
		let (v1, peers, mut v1_rx) = join(&f, 2, Role::Viewer, None);
		assert_eq!(peers.len(), 1);
		assert_eq!(peers[0].peer_id, pubr.peer_id);
		assert!(matches!(next(&mut pub_rx), ServerMessage::PeerJoined { role: Role::Viewer, .. }));
		let (v2, _, mut v2_rx) = join(&f, 3, Role::Viewer, None);
		let _ = next(&mut pub_rx);
		// Viewers do not hear about each other.
		assert!(v1_rx.try_recv().is_err());

		let offer = protocol::SignalPayload::Offer { sdp: "x".into() };
		f.rooms.signal(&v1, pubr.peer_id, offer.clone()).unwrap();
		assert_eq!(
			next(&mut pub_rx),
			ServerMessage::Signal { from: v1.peer_id, payload: offer.clone() }
		);
		f.rooms.signal(&pubr, v2.peer_id, offer.clone()).unwrap();
		assert!(matches!(next(&mut v2_rx), ServerMessage::Signal { .. }));
		assert!(matches!(
			f.rooms.signal(&v1, v2.peer_id, offer.clone()),
			Err(RoomError::Forbidden(_))
		));
		assert!(matches!(f.rooms.signal(&v1, 999, offer.clone()), Err(RoomError::NotFound(_))));

		f.rooms.leave(&v1);
		assert_eq!(next(&mut pub_rx), ServerMessage::PeerLeft { peer_id: v1.peer_id });
		assert_eq!(f.rooms.signal(&v1, pubr.peer_id, offer), Err(RoomError::NotInRoom));
		f.rooms.leave(&pubr);
		assert_eq!(next(&mut v2_rx), ServerMessage::PeerLeft { peer_id: pubr.peer_id });
		f.rooms.leave(&v2);
		assert!(f.rooms.is_empty());
	}

	#[tokio::test]
	async fn chat_rate_limit_and_moderation() {
		let f = fixture(2);
		let (pubr, _, mut pub_rx) = join(&f, 1, Role::Publisher, None);
		let (v, _, mut v_rx) = join(&f, 2, Role::Viewer, None);
		let _ = next(&mut pub_rx);
		let ss58 = protocol::account_to_ss58(&acct(2));
		f.rooms.chat(&v, &acct(2), &ss58, "hello".into()).await.unwrap();
		f.rooms.chat(&v, &acct(2), &ss58, "again".into()).await.unwrap();
		assert!(matches!(
			f.rooms.chat(&v, &acct(2), &ss58, "third".into()).await,
			Err(RoomError::RateLimited(_))
		));
		assert!(matches!(
			f.rooms.chat(&v, &acct(2), &ss58, " ".into()).await,
			Err(RoomError::Invalid(_))
		));
		let ServerMessage::Chat(first) = next(&mut v_rx) else { panic!() };
		assert_eq!(first.text, "hello");
		assert_eq!(first.from, ss58);
		assert!(matches!(next(&mut pub_rx), ServerMessage::Chat(_)));
		let _ = next(&mut pub_rx);
		let _ = next(&mut v_rx);
		// Only the creator deletes.
		assert!(matches!(
			f.rooms.delete_chat(&v, &acct(2), first.id).await,
			Err(RoomError::Forbidden(_))
		));
		f.rooms.delete_chat(&pubr, &acct(1), first.id).await.unwrap();
		assert_eq!(next(&mut v_rx), ServerMessage::ChatDeleted { id: first.id });
		assert!(matches!(
			f.rooms.delete_chat(&pubr, &acct(1), first.id).await,
			Err(RoomError::NotFound(_))
		));
		let history = f.rooms.chat_history(1).await.unwrap();
		assert_eq!(history.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), vec!["again"]);
	}

	#[tokio::test]
	async fn revocations_remove_members() {
		let f = fixture(10);
		let s1 = f.chain.insert_session(SessionEntry::new(11, acct(2), 1, 5, 0, 100, 0));
		let s2 = f.chain.insert_session(SessionEntry::new(12, acct(3), 1, 5, 0, 100, 0));
		let (_p, _, mut pub_rx) = join(&f, 1, Role::Publisher, None);
		let (v1, _, mut v1_rx) = join(&f, 2, Role::Viewer, Some(s1.clone()));
		let (v2, _, mut v2_rx) = join(&f, 3, Role::Viewer, Some(s2.clone()));
		while pub_rx.try_recv().is_ok() {}

		s1.note_acked(10);
		s2.note_acked(20);
		let ServerMessage::Stats { viewers, seconds_watched, owed, settled, .. } =
			f.rooms.stats(&f.rooms.room(1).unwrap())
		else {
			panic!()
		};
		assert_eq!(
			(viewers, seconds_watched, owed.as_str(), settled.as_str()),
			(2, 30, "150", "0")
		);

		f.rooms.apply_revocation(&Revocation::SessionClosed {
			session_id: 11,
			stream_id: 1,
			expired: true,
		});
		assert!(!v1.is_active());
		assert_eq!(
			next(&mut v1_rx),
			ServerMessage::Revoked { reason: RevokeReason::SessionExpired }
		);
		assert_eq!(next(&mut pub_rx), ServerMessage::PeerLeft { peer_id: v1.peer_id });
		assert!(v2.is_active());

		f.rooms.apply_revocation(&Revocation::Banned { creator: acct(9), viewer: acct(3) });
		assert!(v2.is_active());
		f.rooms.apply_revocation(&Revocation::Banned { creator: acct(1), viewer: acct(3) });
		assert!(!v2.is_active());
		assert_eq!(next(&mut v2_rx), ServerMessage::Revoked { reason: RevokeReason::Banned });
		assert_eq!(next(&mut pub_rx), ServerMessage::PeerLeft { peer_id: v2.peer_id });

		// Stats still count the sessions watched in the room.
		let ServerMessage::Stats { viewers, seconds_watched, .. } =
			f.rooms.stats(&f.rooms.room(1).unwrap())
		else {
			panic!()
		};
		assert_eq!((viewers, seconds_watched), (0, 30));

		f.rooms.apply_revocation(&Revocation::StreamEnded { stream_id: 1 });
		assert_eq!(next(&mut pub_rx), ServerMessage::Revoked { reason: RevokeReason::StreamEnded });
		assert!(f.rooms.is_empty());
	}

	#[tokio::test]
	async fn second_publisher_takes_over() {
		let f = fixture(10);
		let (p1, _, mut p1_rx) = join(&f, 1, Role::Publisher, None);
		let (v, _, mut v_rx) = join(&f, 2, Role::Viewer, None);
		let (p2, peers, _p2_rx) = join(&f, 1, Role::Publisher, None);
		assert!(!p1.is_active());
		assert_eq!(peers.len(), 1);
		assert_eq!(peers[0].peer_id, v.peer_id);
		let _ = next(&mut p1_rx);
		assert!(matches!(
			next(&mut p1_rx),
			ServerMessage::Error { code: ErrorCode::Forbidden, .. }
		));
		assert_eq!(next(&mut v_rx), ServerMessage::PeerLeft { peer_id: p1.peer_id });
		assert!(
			matches!(next(&mut v_rx), ServerMessage::PeerJoined { peer_id, .. } if peer_id == p2.peer_id)
		);
	}

	#[tokio::test]
	async fn stats_are_piggybacked_or_pushed() {
		let f = fixture(10);
		let (active, _, mut active_rx) = join(&f, 2, Role::Viewer, None);
		let (_idle, _, mut idle_rx) = join(&f, 3, Role::Viewer, None);
		let room = f.rooms.room(1).unwrap();
		// Nothing published yet.
		assert!(active.take_stats().is_none());
		f.rooms.publish_stats(&room);
		// Snapshot 1 waits for writes.
		assert!(active_rx.try_recv().is_err());
		assert!(idle_rx.try_recv().is_err());
		let s = active.take_stats().expect("snapshot 1");
		let stats = decode_server(s.as_str()).unwrap();
		assert!(matches!(stats, ServerMessage::Stats { viewers: 2, .. }));
		assert!(active.take_stats().is_none());
		// Next tick: the idle member never wrote, so snapshot 1 is pushed to it; the active
		// member had it.
		f.rooms.publish_stats(&room);
		assert!(active_rx.try_recv().is_err());
		assert_eq!(next(&mut idle_rx), stats);
		assert!(active.take_stats().is_some());
		// And so on, once per tick for each.
		f.rooms.publish_stats(&room);
		assert!(matches!(next(&mut idle_rx), ServerMessage::Stats { .. }));
		assert!(idle_rx.try_recv().is_err());
		assert!(active_rx.try_recv().is_err());
		// A member that stops writing gets pushes.
		f.rooms.publish_stats(&room);
		assert!(matches!(next(&mut active_rx), ServerMessage::Stats { .. }));
	}

	#[tokio::test]
	async fn sweep_catches_missed_revocations() {
		let f = fixture(10);
		let s = f.chain.insert_session(SessionEntry::new(11, acct(2), 1, 5, 0, 100, 0));
		let (v, _, _rx) = join(&f, 2, Role::Viewer, Some(s));
		f.chain.insert_ban(acct(1), acct(2));
		f.rooms.sweep();
		assert!(!v.is_active());
	}
}
