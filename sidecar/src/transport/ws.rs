//! One WebSocket connection: the challenge, authentication, and dispatch of every client
//! message to the rooms and the heartbeat pipeline.
//!
//! A connection is ONE task: it waits for whichever comes first of a client frame, a push from
//! its room (signaling, chat, stats, revocation), the verdict of its in-flight heartbeat, and
//! shutdown, and writes what results in one flush. Heartbeats of a connection are processed in
//! order, one at a time (later ones queue), so "strictly above the last acknowledged" needs no
//! lock; other messages are served meanwhile.

use crate::{
	access::identity,
	access::rate::TokenBucket,
	access::rights::{self, PublisherGate, Refusal, ViewerGate, WatchRight},
	access::tokens::PublishClaims,
	access::turn::TurnUser,
	billing::close_intent::{self, CloseError, IntentRequest},
	billing::heartbeat::{Heartbeat, HeartbeatError, Verdict},
	chain::view::{SessionEntry, ViewError},
	clock,
	protocol::{
		self, decode_client, error, ClientMessage, ErrorCode, HexBytes, MediaState, Role,
		ServerMessage,
	},
	rooms::{JoinRequest, Membership, Push, RoomError},
	Sidecar,
};
use futures::{SinkExt, StreamExt};
use std::{
	collections::VecDeque,
	sync::Arc,
	time::{Duration, Instant},
};
use tokio::{
	io::{AsyncRead, AsyncWrite},
	sync::{mpsc, oneshot, watch},
};
use tokio_tungstenite::{
	tungstenite::{
		error::{CapacityError, Error as WsError},
		protocol::{frame::coding::CloseCode, CloseFrame},
		Message, Utf8Bytes,
	},
	WebSocketStream,
};
use vilokanam_chain_client::{AccountId, H256};
use vilokanam_sfu::{CloseReason, MediaError, MediaEvent, MediaPeerId, MediaRole, PeerSetup};

/// How long a connection may stay unauthenticated.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(30);
/// Pushes queued for a connection before further ones are dropped.
pub const PUSH_QUEUE: usize = 256;
/// Heartbeats queued behind the in-flight one before further ones are refused.
pub const MAX_QUEUED_HEARTBEATS: usize = 16;
/// Requests that cost a signature verification, chain reads or a store write (`auth`,
/// `publish`, `watch`, `media_offer`, `close`, `publish_token`) a
/// connection may burst...
const EXPENSIVE_BURST: f64 = 5.0;
/// ...and sustain, per second.
const EXPENSIVE_PER_SEC: f64 = 0.5;
/// How long closing handshakes may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

struct Authenticated {
	account: AccountId,
	ss58: Arc<str>,
}

/// A heartbeat of this connection being verified and stored.
struct PendingHeartbeat {
	verdict: oneshot::Receiver<Verdict>,
	session: Arc<SessionEntry>,
	cumulative_seconds: u64,
	received: Instant,
}

struct Conn {
	sidecar: Sidecar,
	genesis: H256,
	/// The origin this connection's challenge names.
	audience: String,
	nonce: [u8; 32],
	auth: Option<Authenticated>,
	membership: Option<Membership>,
	push_tx: mpsc::Sender<Push>,
	queued: VecDeque<(Heartbeat, Instant)>,
	out: Vec<Message>,
	/// Limits `auth`, `publish`, `watch` and `media_offer`, which cost verifications, node
	/// reads or a DTLS handshake.
	expensive: TokenBucket,
	/// This connection's media peer in the SFU, if any.
	media: Option<MediaPeerId>,
	media_tx: mpsc::Sender<(MediaPeerId, MediaEvent)>,
}

fn frame(msg: &ServerMessage) -> Message {
	Message::Text(Utf8Bytes::from(protocol::encode(msg)))
}

/// Serve one upgraded WebSocket until it closes or `shutdown` turns true; its challenge names
/// `audience` (see [`crate::Settings::audience_for`]).
pub async fn run<S>(
	mut ws: WebSocketStream<S>,
	sidecar: Sidecar,
	mut shutdown: watch::Receiver<bool>,
	audience: String,
) where
	S: AsyncRead + AsyncWrite + Unpin,
{
	let metrics = sidecar.metrics.clone();
	metrics.connections.inc();
	let Some(genesis) = sidecar.chain.genesis() else {
		// Without the genesis hash there is nothing to sign against.
		let _ = ws
			.send(frame(&error(
				ErrorCode::ChainUnavailable,
				"the chain node has not been reached yet",
				None,
			)))
			.await;
		close(&mut ws, CloseCode::Again, "chain unavailable").await;
		metrics.connections.dec();
		return;
	};
	let (push_tx, mut push_rx) = mpsc::channel(PUSH_QUEUE);
	let (media_tx, mut media_rx) = mpsc::channel(16);
	let mut conn = Conn {
		sidecar,
		genesis,
		audience,
		nonce: identity::new_nonce(),
		auth: None,
		membership: None,
		push_tx,
		queued: VecDeque::new(),
		out: Vec::with_capacity(8),
		expensive: TokenBucket::full(EXPENSIVE_BURST, Instant::now()),
		media: None,
		media_tx,
	};
	let mut inflight: Option<PendingHeartbeat> = None;
	conn.out.push(frame(&ServerMessage::Challenge {
		nonce: HexBytes(conn.nonce),
		genesis: HexBytes(genesis.0),
		audience: conn.audience.clone(),
	}));
	let auth_deadline = tokio::time::sleep(AUTH_TIMEOUT);
	tokio::pin!(auth_deadline);
	let mut closing: Option<(CloseCode, &'static str)> = None;

	loop {
		if !conn.out.is_empty() && !flush(&mut ws, &mut conn, &mut push_rx).await {
			break;
		}
		if let Some((code, reason)) = closing {
			close(&mut ws, code, reason).await;
			break;
		}
		tokio::select! {
			biased;
			_ = shutdown.changed() => {
				closing = Some((CloseCode::Away, "server shutting down"));
			},
			verdict = async {
				match inflight.as_mut() {
					Some(f) => (&mut f.verdict).await,
					None => std::future::pending().await,
				}
			} => {
				if let Some(f) = inflight.take() {
					let verdict = verdict.unwrap_or(Err(HeartbeatError::Internal));
					conn.finish_heartbeat(f, verdict);
				}
				inflight = conn.next_heartbeat();
			},
			push = push_rx.recv() => {
				if let Some(push) = push {
					conn.on_push(push);
				}
			},
			Some((id, event)) = media_rx.recv() => conn.on_media_event(id, event),
			msg = ws.next() => match msg {
				None => break,
				Some(Ok(Message::Text(text))) => {
					let received = Instant::now();
					match decode_client(text.as_str()) {
						Ok(ClientMessage::Heartbeat { session_id, cumulative_seconds, encoding, crypto, signature, signer }) => {
							let hb = Heartbeat {
								session_id,
								cumulative_seconds,
								encoding,
								crypto,
								signature: signature.0,
								signer,
							};
							if inflight.is_some() {
								if conn.queued.len() >= MAX_QUEUED_HEARTBEATS {
									conn.reject(ErrorCode::RateLimited, "too many heartbeats in flight");
								} else {
									conn.queued.push_back((hb, received));
								}
							} else {
								inflight = conn.start_heartbeat(hb, received);
							}
						},
						Ok(msg) => conn.on_message(msg).await,
						Err(e) => conn.out.push(frame(&e.into_message())),
					}
				},
				Some(Ok(Message::Binary(_))) => conn.out.push(frame(&error(
					ErrorCode::BadJson,
					"binary frames are not supported: send JSON text",
					None,
				))),
				Some(Ok(Message::Close(_))) => {
					// Answering the close is part of closing.
					closing = Some((CloseCode::Normal, ""));
				},
				Some(Ok(_)) => {},
				Some(Err(WsError::Capacity(e))) => {
					let limit = conn.sidecar.settings.max_message_bytes;
					let detail = match e {
						CapacityError::MessageTooLong { size, .. } => format!("{size} bytes"),
						other => other.to_string(),
					};
					conn.out.push(frame(&error(
						ErrorCode::TooLarge,
						format!("message too large ({detail}; the limit is {limit} bytes)"),
						None,
					)));
					closing = Some((CloseCode::Size, "message too large"));
				},
				Some(Err(e)) => {
					tracing::debug!("connection error: {e}");
					break;
				},
			},
			_ = &mut auth_deadline, if conn.auth.is_none() => {
				conn.out.push(frame(&error(
					ErrorCode::Unauthenticated,
					"authenticate within 30 seconds",
					None,
				)));
				closing = Some((CloseCode::Policy, "authentication timeout"));
			},
		}
	}

	conn.close_media(CloseReason::Closed);
	if let Some(m) = conn.membership.take() {
		conn.sidecar.rooms.leave(&m);
	}
	if conn.auth.is_some() {
		metrics.authenticated_peers.dec();
	}
	metrics.connections.dec();
}

/// Write what is pending, plus whatever pushes are already waiting, in one flush. False if the
/// socket is gone.
async fn flush<S>(
	ws: &mut WebSocketStream<S>,
	conn: &mut Conn,
	push_rx: &mut mpsc::Receiver<Push>,
) -> bool
where
	S: AsyncRead + AsyncWrite + Unpin,
{
	// Coalesce: pushes that arrived meanwhile go out with the same flush.
	for _ in 0..64 {
		match push_rx.try_recv() {
			Ok(push) => conn.on_push(push),
			Err(_) => break,
		}
	}
	// Piggyback the room's stats snapshot on this write if it was not sent yet.
	if let Some(stats) = conn.membership.as_ref().and_then(|m| m.take_stats()) {
		conn.out.push(Message::Text(stats));
	}
	for msg in conn.out.drain(..) {
		if ws.feed(msg).await.is_err() {
			return false;
		}
	}
	ws.flush().await.is_ok()
}

async fn close<S>(ws: &mut WebSocketStream<S>, code: CloseCode, reason: &'static str)
where
	S: AsyncRead + AsyncWrite + Unpin,
{
	let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
	let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
}

impl Conn {
	fn send(&mut self, msg: &ServerMessage) {
		self.out.push(frame(msg));
	}

	fn reject(&mut self, code: ErrorCode, message: &str) {
		self.out.push(frame(&error(code, message, Some("heartbeat"))));
		self.sidecar.metrics.heartbeats_rejected.with_label_values(&[code.as_str()]).inc();
	}

	fn on_push(&mut self, push: Push) {
		match push {
			Push::Text(text) => self.out.push(Message::Text(text)),
			Push::Removed { stream_id, peer_id, notice } => {
				if self
					.membership
					.as_ref()
					.is_some_and(|m| m.stream_id() == stream_id && m.peer_id == peer_id)
				{
					self.membership = None;
					// The media engine's gate would notice too; this is at once.
					self.close_media(CloseReason::Revoked);
				}
				self.out.push(Message::Text(notice));
			},
		}
	}

	/// Check and queue a heartbeat; errors are answered at once.
	fn start_heartbeat(&mut self, hb: Heartbeat, received: Instant) -> Option<PendingHeartbeat> {
		if self.auth.is_none() {
			self.reject(ErrorCode::Unauthenticated, "authenticate first");
			return None;
		}
		let Some(session) = active(&mut self.membership)
			.and_then(|m| m.session.clone())
			.filter(|s| s.id == hb.session_id)
		else {
			self.reject(ErrorCode::NotInRoom, "watch this session before sending its heartbeats");
			return None;
		};
		match self.sidecar.heartbeats.submit(&self.genesis, &session, &hb, clock::unix_ms()) {
			Ok(verdict) => Some(PendingHeartbeat {
				verdict,
				session,
				cumulative_seconds: hb.cumulative_seconds,
				received,
			}),
			Err(e) => {
				self.reject(e.code(), &e.to_string());
				None
			},
		}
	}

	/// Start the next queued heartbeat, answering those that fail at once.
	fn next_heartbeat(&mut self) -> Option<PendingHeartbeat> {
		while let Some((hb, received)) = self.queued.pop_front() {
			if let Some(f) = self.start_heartbeat(hb, received) {
				return Some(f);
			}
		}
		None
	}

	fn finish_heartbeat(&mut self, f: PendingHeartbeat, verdict: Verdict) {
		match verdict {
			Ok(()) => {
				f.session.note_acked(f.cumulative_seconds);
				self.send(&ServerMessage::Ack {
					session_id: f.session.id,
					cumulative_seconds: f.cumulative_seconds,
				});
				let metrics = &self.sidecar.metrics;
				metrics.heartbeats_accepted.inc();
				metrics.ack_latency.observe(f.received.elapsed().as_secs_f64());
			},
			Err(e) => self.reject(e.code(), &e.to_string()),
		}
	}

	async fn on_message(&mut self, msg: ClientMessage) {
		let request = msg.type_name();
		let expensive = matches!(
			msg,
			ClientMessage::Auth { .. }
				| ClientMessage::Publish { .. }
				| ClientMessage::Watch { .. }
				| ClientMessage::MediaOffer { .. }
				| ClientMessage::Close { .. }
				| ClientMessage::PublishToken { .. }
				| ClientMessage::Replay { .. }
				| ClientMessage::DeleteReplay { .. }
		);
		if expensive && !self.expensive.try_take(Instant::now(), EXPENSIVE_BURST, EXPENSIVE_PER_SEC)
		{
			self.send(&error(ErrorCode::RateLimited, "too many requests", Some(request)));
			return;
		}
		let result = match msg {
			ClientMessage::Auth { account, crypto, signature, encoding, session_id } => {
				self.on_auth(&account, crypto, encoding, &signature.0, session_id).await
			},
			ClientMessage::Publish { stream_id } => self.on_publish(stream_id).await,
			ClientMessage::Watch { stream_id, session_id } => {
				self.on_watch(stream_id, session_id).await
			},
			ClientMessage::Leave {} => match self.membership.take() {
				Some(m) => {
					self.close_media(CloseReason::Closed);
					self.sidecar.rooms.leave(&m);
					Ok(())
				},
				None => Err(not_in_room()),
			},
			ClientMessage::Signal { to, payload } => match active(&mut self.membership) {
				Some(m) => self.sidecar.rooms.signal(m, to, payload).map_err(room_error),
				None => Err(not_in_room()),
			},
			ClientMessage::Chat { text } => self.on_chat(text).await,
			ClientMessage::DeleteChat { id } => self.on_delete_chat(id).await,
			ClientMessage::MediaOffer { sdp } => self.on_media_offer(&sdp).await,
			ClientMessage::MediaClose {} => {
				self.close_media(CloseReason::Closed);
				Ok(())
			},
			ClientMessage::PublishToken { stream_id, rotate } => {
				self.on_publish_token(stream_id, rotate).await
			},
			ClientMessage::WatchToken {} => self.on_watch_token(),
			ClientMessage::Replay { stream_id, session_id } => {
				self.on_replay(stream_id, session_id).await
			},
			ClientMessage::DeleteReplay { stream_id } => self.on_delete_replay(stream_id).await,
			ClientMessage::IceServers {} => self.on_ice_servers(),
			ClientMessage::Close {
				session_id,
				cumulative_seconds,
				encoding,
				crypto,
				signature,
				signer,
			} => {
				let req = IntentRequest {
					session_id,
					cumulative_seconds,
					encoding,
					crypto,
					signature,
					signer,
				};
				self.on_close(&req).await
			},
			// Handled on the fast path in `run`.
			ClientMessage::Heartbeat { .. } => Ok(()),
		};
		if let Err((code, message)) = result {
			self.send(&error(code, message, Some(request)));
		}
	}

	/// `auth`: the signature answers this connection's challenge. With `session_id`, the
	/// signer is that session's voucher key and the connection acts as the session's viewer
	/// (a page logs in without its wallet).
	async fn on_auth(
		&mut self,
		account: &str,
		crypto: protocol::Crypto,
		encoding: protocol::Encoding,
		signature: &[u8; 64],
		session_id: Option<u64>,
	) -> Result<(), (ErrorCode, String)> {
		if self.auth.is_some() {
			return Err((ErrorCode::Forbidden, "already authenticated".into()));
		}
		let signer = protocol::parse_account(account).ok_or((
			ErrorCode::BadJson,
			"account must be SS58 or 0x and 64 hex digits".to_owned(),
		))?;
		if !identity::verify_auth(
			&self.genesis,
			&self.audience,
			&self.nonce,
			&signer,
			crypto,
			encoding,
			signature,
		) {
			return Err((
				ErrorCode::BadSignature,
				"the signature does not answer the challenge".into(),
			));
		}
		// Single use, even on this connection (also when the session check below fails).
		self.nonce = identity::new_nonce();
		let account = match session_id {
			None => signer,
			Some(id) => {
				let session = self
					.sidecar
					.chain
					.session(id)
					.await
					.map_err(view_error)?
					.filter(|s| !s.is_closed())
					.ok_or((ErrorCode::NotFound, format!("no open session {id}")))?;
				if session.voucher_key != signer {
					return Err((
						ErrorCode::Forbidden,
						"the key is not the session's voucher key".into(),
					));
				}
				session.viewer.clone()
			},
		};
		let ss58: Arc<str> = protocol::account_to_ss58(&account).into();
		self.send(&ServerMessage::Authenticated { account: ss58.to_string() });
		self.auth = Some(Authenticated { account, ss58 });
		self.sidecar.metrics.authenticated_peers.inc();
		Ok(())
	}

	/// `close`: a viewer's close intent, for any open session (not only the watched one; no
	/// authentication needed: the intent's signature is the authority).
	async fn on_close(&mut self, req: &IntentRequest) -> Result<(), (ErrorCode, String)> {
		match close_intent::accept(&self.sidecar, req, clock::unix_ms()).await {
			Ok(()) => {
				self.send(&ServerMessage::Closing {
					session_id: req.session_id,
					cumulative_seconds: req.cumulative_seconds,
				});
				Ok(())
			},
			Err(CloseError::NotFound(id)) => {
				Err((ErrorCode::NotFound, format!("no open session {id}")))
			},
			Err(CloseError::TooManySeconds) => Err((
				ErrorCode::AheadOfTime,
				"the intent claims more seconds than were paid for or have elapsed".into(),
			)),
			Err(CloseError::BadSignature) => Err((
				ErrorCode::BadSignature,
				"the signature does not verify against the key it names".into(),
			)),
			Err(CloseError::Chain(e)) => Err(view_error(e)),
			Err(CloseError::Store) => Err((ErrorCode::Internal, "storage failure".into())),
		}
	}

	async fn on_chat(&mut self, text: String) -> Result<(), (ErrorCode, String)> {
		let auth =
			self.auth.as_ref().ok_or((ErrorCode::Unauthenticated, "authenticate first".into()))?;
		let m = active(&mut self.membership).ok_or_else(not_in_room)?;
		self.sidecar.rooms.chat(m, &auth.account, &auth.ss58, text).await.map_err(room_error)
	}

	async fn on_delete_chat(&mut self, id: u64) -> Result<(), (ErrorCode, String)> {
		let auth =
			self.auth.as_ref().ok_or((ErrorCode::Unauthenticated, "authenticate first".into()))?;
		let m = active(&mut self.membership).ok_or_else(not_in_room)?;
		self.sidecar.rooms.delete_chat(m, &auth.account, id).await.map_err(room_error)
	}

	fn account(&self) -> Result<(AccountId, Arc<str>), (ErrorCode, String)> {
		self.auth
			.as_ref()
			.map(|a| (a.account.clone(), a.ss58.clone()))
			.ok_or((ErrorCode::Unauthenticated, "authenticate first".into()))
	}

	async fn on_publish(&mut self, stream_id: u64) -> Result<(), (ErrorCode, String)> {
		let (account, ss58) = self.account()?;
		let right = rights::may_publish(&self.sidecar.chain, &self.sidecar.terms, stream_id, |a| {
			*a == account
		})
		.await
		.map_err(refusal)?;
		self.join(JoinRequest {
			stream: right.stream,
			account,
			ss58,
			role: Role::Publisher,
			session: None,
			tx: self.push_tx.clone(),
		})
		.await
	}

	async fn on_watch(
		&mut self,
		stream_id: u64,
		session_id: u64,
	) -> Result<(), (ErrorCode, String)> {
		let (account, ss58) = self.account()?;
		let WatchRight { stream, session } = rights::may_watch(
			&self.sidecar.chain,
			&self.sidecar.terms,
			stream_id,
			session_id,
			|a| *a == account,
		)
		.await
		.map_err(refusal)?;
		// Resume above what was acknowledged before a reconnect or restart.
		match self.sidecar.store.latest_voucher(session_id).await {
			Ok(Some(v)) => session.note_acked(v.cumulative_seconds),
			Ok(None) => {},
			Err(e) => {
				tracing::error!("cannot read the latest voucher: {e}");
				return Err((ErrorCode::Internal, "storage failure".into()));
			},
		}
		self.join(JoinRequest {
			stream,
			account,
			ss58,
			role: Role::Viewer,
			session: Some(session),
			tx: self.push_tx.clone(),
		})
		.await
	}

	async fn join(&mut self, req: JoinRequest) -> Result<(), (ErrorCode, String)> {
		if let Some(old) = self.membership.take() {
			self.close_media(CloseReason::Closed);
			self.sidecar.rooms.leave(&old);
		}
		let stream_id = req.stream.id;
		let role = req.role;
		let grant = self.sidecar.ice_grant(turn_user(role, stream_id, req.session.as_ref()));
		let (membership, peers) = self.sidecar.rooms.join(req);
		self.send(&ServerMessage::Joined {
			role,
			stream_id,
			peer_id: membership.peer_id,
			peers,
			ice_servers: grant.servers,
			ice_expires_at: grant.expires_at,
		});
		self.membership = Some(membership);
		match self.sidecar.rooms.chat_history(stream_id).await {
			Ok(messages) => self.send(&ServerMessage::ChatHistory { messages }),
			Err(e) => return Err(room_error(e)),
		}
		Ok(())
	}
}

impl Conn {
	/// End this connection's media (if any) and say so now: the engine's own `Closed` event
	/// comes later and is then stale.
	fn close_media(&mut self, reason: CloseReason) {
		if let (Some(id), Some(media)) = (self.media.take(), &self.sidecar.media) {
			media.close(id, reason);
			self.send(&ServerMessage::MediaState {
				state: MediaState::Closed,
				reason: Some(reason.as_str().to_owned()),
			});
		}
	}

	fn on_media_event(&mut self, id: MediaPeerId, event: MediaEvent) {
		// Events of a replaced peer are stale.
		if self.media != Some(id) {
			return;
		}
		let (state, reason) = match event {
			MediaEvent::Connected => (MediaState::Connected, None),
			MediaEvent::Paused => (MediaState::Paused, None),
			MediaEvent::Resumed => (MediaState::Resumed, None),
			MediaEvent::Closed(r) => {
				self.media = None;
				(MediaState::Closed, Some(r.as_str().to_owned()))
			},
		};
		self.send(&ServerMessage::MediaState { state, reason });
	}

	/// `media_offer`: the room member's media with the SFU, gated by its rights.
	async fn on_media_offer(&mut self, sdp: &str) -> Result<(), (ErrorCode, String)> {
		let (_, ss58) = self.account()?;
		let media = self.sidecar.media.clone().ok_or((
			ErrorCode::MediaUnavailable,
			"this sidecar runs without a media server".to_owned(),
		))?;
		let m = active(&mut self.membership).ok_or_else(not_in_room)?;
		let (stream_id, role, session) = (m.stream_id(), m.role, m.session.clone());
		let stream = rights::stream(&self.sidecar.chain, stream_id).await.map_err(refusal)?;
		let fed = stream.clone();
		// The gate re-checks the room's standing rules as the chain changes (the join checked
		// them once).
		let (role, gate, seat): (_, Arc<dyn vilokanam_sfu::Gate>, _) = match (role, session) {
			(Role::Publisher, _) => {
				(MediaRole::Publisher, Arc::new(PublisherGate { stream }), None)
			},
			(Role::Viewer, Some(session)) => {
				let gate = ViewerGate::new(
					WatchRight { stream, session },
					self.sidecar.chain.clone(),
					self.sidecar.settings.voucher_grace,
				);
				let seat = Some(gate.seat());
				(MediaRole::Viewer, Arc::new(gate), seat)
			},
			(Role::Viewer, None) => return Err(not_in_room()),
		};
		// One media session per connection: a new offer replaces the last.
		self.close_media(CloseReason::Replaced);
		let setup = PeerSetup {
			stream_id,
			role,
			gate,
			events: Some(self.media_tx.clone()),
			label: ss58.to_string(),
			seat,
			// This connection's login is the creator's own signature, not a bearer token
			// that may have leaked: a studio page takes over from any publisher (OBS too).
			take_over: true,
		};
		match media.offer(sdp, setup) {
			Ok((id, answer)) => {
				self.media = Some(id);
				self.send(&ServerMessage::MediaAnswer { sdp: answer });
				if role == MediaRole::Viewer {
					self.sidecar.feed(&fed);
				}
				Ok(())
			},
			Err(e) => Err(media_error(e)),
		}
	}

	/// `publish_token`: a WHIP token for the creator; with `rotate`, every earlier token of the
	/// stream is refused from now on and a publisher connected over WHIP is disconnected.
	async fn on_publish_token(
		&mut self,
		stream_id: u64,
		rotate: bool,
	) -> Result<(), (ErrorCode, String)> {
		let (account, _) = self.account()?;
		rights::may_publish(&self.sidecar.chain, &self.sidecar.terms, stream_id, |a| *a == account)
			.await
			.map_err(refusal)?;
		let store = &self.sidecar.store;
		let generation = if rotate {
			store.rotate_publish_tokens(stream_id).await
		} else {
			store.publish_generation(stream_id).await
		}
		.map_err(|e| (ErrorCode::Internal, format!("the store failed: {e}")))?;
		if rotate {
			crate::transport::whip::close_publishers(&self.sidecar, stream_id);
		}
		let expires_s = clock::unix_secs() + self.sidecar.settings.publish_token_ttl.as_secs();
		let claims = PublishClaims { stream_id, account, generation, expires_s };
		let grant = self.sidecar.ice_grant(Some(TurnUser::Publisher(stream_id)));
		self.send(&ServerMessage::PublishToken {
			stream_id,
			token: self.sidecar.tokens.publish(&claims),
			whip_url: format!("/whip/{stream_id}"),
			expires_at: expires_s,
			ice_servers: grant.servers,
			ice_expires_at: grant.expires_at,
		});
		Ok(())
	}

	/// `replay`: a ticket for an ended stream's replay, to the viewer of a replay session.
	async fn on_replay(
		&mut self,
		stream_id: u64,
		session_id: u64,
	) -> Result<(), (ErrorCode, String)> {
		let (account, _) = self.account()?;
		let sidecar = &self.sidecar;
		let right =
			rights::may_replay(&sidecar.chain, &sidecar.terms, stream_id, session_id, |a| {
				*a == account
			})
			.await
			.map_err(refusal)?;
		let replay = sidecar
			.store
			.replay(stream_id)
			.await
			.map_err(|e| (ErrorCode::Internal, format!("the store failed: {e}")))?
			.ok_or_else(|| (ErrorCode::NotFound, "this stream was not recorded here".to_owned()))?;
		let token = sidecar.tokens.watch(right.session.id, &account);
		self.send(&ServerMessage::ReplayTicket {
			stream_id,
			session_id,
			url: format!("/replay/{stream_id}.webm?ticket={token}"),
			token,
			duration_ms: replay.duration_ms,
		});
		Ok(())
	}

	/// `delete_replay`: the stream's creator deletes its recordings.
	async fn on_delete_replay(&mut self, stream_id: u64) -> Result<(), (ErrorCode, String)> {
		let (account, _) = self.account()?;
		let stream = rights::stream(&self.sidecar.chain, stream_id).await.map_err(refusal)?;
		if stream.creator != account {
			return Err(refusal(Refusal::NotCreator));
		}
		let files = crate::transport::replay::delete(&self.sidecar, stream_id)
			.await
			.map_err(|e| (ErrorCode::Internal, format!("the store failed: {e}")))?;
		self.send(&ServerMessage::ReplayDeleted { stream_id, files: files as u32 });
		Ok(())
	}

	fn on_watch_token(&mut self) -> Result<(), (ErrorCode, String)> {
		let (account, _) = self.account()?;
		let m = active(&mut self.membership).ok_or_else(not_in_room)?;
		let session = m.session.clone().ok_or_else(not_in_room)?;
		let stream_id = m.stream_id();
		let token = self.sidecar.tokens.watch(session.id, &account);
		let grant = self.sidecar.ice_grant(Some(TurnUser::Session(session.id)));
		self.send(&ServerMessage::WatchToken {
			stream_id,
			session_id: session.id,
			token,
			whep_url: format!("/whep/{stream_id}"),
			ice_servers: grant.servers,
			ice_expires_at: grant.expires_at,
		});
		Ok(())
	}

	/// `ice_servers`: fresh TURN credentials for the room's member.
	fn on_ice_servers(&mut self) -> Result<(), (ErrorCode, String)> {
		let m = active(&mut self.membership).ok_or_else(not_in_room)?;
		let user = turn_user(m.role, m.stream_id(), m.session.as_ref());
		let grant = self.sidecar.ice_grant(user);
		self.send(&ServerMessage::IceServers {
			ice_servers: grant.servers,
			ice_expires_at: grant.expires_at,
		});
		Ok(())
	}
}

/// Whose TURN credential a member gets: its session's for a viewer, the stream's for the
/// publisher (None for a viewer without a session, which cannot be a member).
fn turn_user(role: Role, stream_id: u64, session: Option<&Arc<SessionEntry>>) -> Option<TurnUser> {
	match (role, session) {
		(Role::Publisher, _) => Some(TurnUser::Publisher(stream_id)),
		(Role::Viewer, Some(s)) => Some(TurnUser::Session(s.id)),
		(Role::Viewer, None) => None,
	}
}

fn media_error(e: MediaError) -> (ErrorCode, String) {
	let code = match e {
		MediaError::BadSdp(_) | MediaError::BadOffer(_) => ErrorCode::BadSdp,
		MediaError::Full
		| MediaError::Stopped
		| MediaError::NoCertificate
		| MediaError::Occupied => ErrorCode::MediaUnavailable,
	};
	(code, e.to_string())
}

/// The membership, if still active (a revocation may have removed it without its push
/// arriving, when the queue was full).
fn active(membership: &mut Option<Membership>) -> Option<&Membership> {
	if membership.as_ref().is_some_and(|m| !m.is_active()) {
		*membership = None;
	}
	membership.as_ref()
}

fn not_in_room() -> (ErrorCode, String) {
	(ErrorCode::NotInRoom, "not in a room".into())
}

fn view_error(e: ViewError) -> (ErrorCode, String) {
	match e {
		ViewError::Unavailable => {
			(ErrorCode::ChainUnavailable, "the chain node is not reachable".into())
		},
		ViewError::Chain(e) => {
			tracing::warn!("chain read failed: {e}");
			(ErrorCode::ChainUnavailable, "the chain node failed to answer".into())
		},
	}
}

/// A refused right, as the WebSocket says it.
fn refusal(r: Refusal) -> (ErrorCode, String) {
	match r {
		Refusal::Chain(e) => view_error(e),
		r @ (Refusal::NoStream(_) | Refusal::NoOpenSession(_)) => {
			(ErrorCode::NotFound, r.to_string())
		},
		r => (ErrorCode::Forbidden, r.to_string()),
	}
}

fn room_error(e: RoomError) -> (ErrorCode, String) {
	(e.code(), e.to_string())
}
