//! Who may publish and who may watch: the one place these rules are written.
//!
//! - **Serving at all**: only the streams assigned to this sidecar, on its terms ([`Terms`]),
//!   checked when a member joins.
//! - **Publishing**: the stream's creator, while the stream has not ended, at its origin
//!   (never at an edge, [`Serving::Edge`]).
//! - **Watching**: the viewer of an open session of that stream, while the stream is live and
//!   its creator has not banned the viewer; media keeps flowing while the viewer's vouchers keep
//!   coming (at most `voucher_grace` apart). One media peer per session: a viewer's peer holds
//!   its session's seat ([`ViewerGate::seat`]), so a new one replaces the old, and the first
//!   voucher's grace runs once per session, from its first media peer, not again for each.
//! - **Watching a replay**: the viewer of an open session of an ended stream whose creator
//!   offers its replay, opened after the end (a live session never passes for a replay one),
//!   unbanned, at the stream's origin (edges hold no recording); the replay's bytes are paced
//!   by the session's vouchers ([`crate::transport::replay`]).
//!
//! Each transport (the WebSocket's `publish`/`watch`/`publish_token`, WHIP, WHEP) authenticates
//! the requester its own way and asks here with a predicate saying whether the requester is a
//! given account (its login, or a bearer token bound to that account). A refusal is a typed
//! [`Refusal`] that each transport maps to its own error. The media gates that the SFU polls
//! ([`PublisherGate`], [`ViewerGate`]) apply the same standing rules ([`publish_standing`],
//! [`watch_standing`]) to the chain view as it changes.

use super::terms::{Serving, Terms};
use crate::{
	chain::view::{ChainView, SessionEntry, StreamEntry, ViewError},
	clock,
};
use std::{sync::Arc, time::Duration};
use vilokanam_chain_client::{AccountId, SessionId, StreamId, StreamStatus};
use vilokanam_sfu::{CloseReason, Gate, GateState};

/// Why a right is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
	/// There is no such stream.
	#[error("no stream {0}")]
	NoStream(StreamId),
	/// There is no open session with this id.
	#[error("no open session {0}")]
	NoOpenSession(SessionId),
	/// Publishing asked by someone else than the creator.
	#[error("only the stream's creator publishes")]
	NotCreator,
	/// Watching asked by someone else than the session's viewer.
	#[error("the session is another account's")]
	NotViewer,
	/// The session pays for another stream.
	#[error("the session is for another stream")]
	OtherStream,
	/// The stream has ended.
	#[error("the stream has ended")]
	StreamEnded,
	/// The stream is not live (scheduled).
	#[error("the stream is not live")]
	NotLive,
	/// The creator banned the viewer.
	#[error("the creator banned this account")]
	Banned,
	/// The stream names another relayer than this sidecar's ([`Terms`]).
	#[error(
		"this sidecar does not serve stream {0}: its creator has not named this sidecar's relayer"
	)]
	NotAssigned(StreamId),
	/// This sidecar is an edge for the stream ([`Serving::Edge`]): it is published to its
	/// origin.
	#[error("this sidecar relays stream {0} from its origin sidecar: publish it there")]
	PublishAtOrigin(StreamId),
	/// The stream does not pay for relaying on this sidecar's terms ([`Terms`]).
	#[error("{0}")]
	BelowTerms(String),
	/// The session was closed (or is closing) since it was looked up.
	#[error("the session is not open")]
	SessionClosed,
	/// A replay asked of a stream that has not ended.
	#[error("the stream has not ended: watch it live")]
	NotEnded,
	/// The stream's creator does not offer its replay.
	#[error("the stream's creator does not offer its replay")]
	NoReplay,
	/// A replay asked with a session opened for the live stream.
	#[error("the session was opened to watch the stream live, not its replay")]
	LiveSession,
	/// A replay asked of an edge, which holds no recording.
	#[error("this sidecar relays stream {0} from its origin sidecar: its replay is there")]
	ReplayAtOrigin(StreamId),
	/// The chain could not be read.
	#[error(transparent)]
	Chain(#[from] ViewError),
}

/// A right to publish a stream.
#[derive(Clone)]
pub struct PublishRight {
	/// The stream.
	pub stream: Arc<StreamEntry>,
}

/// A right to watch a stream with a session.
#[derive(Clone)]
pub struct WatchRight {
	/// The stream.
	pub stream: Arc<StreamEntry>,
	/// The viewer's session on it.
	pub session: Arc<SessionEntry>,
}

/// Whether a known stream may still be published.
pub fn publish_standing(stream: &StreamEntry) -> Result<(), Refusal> {
	match stream.status() {
		StreamStatus::Ended => Err(Refusal::StreamEnded),
		StreamStatus::Scheduled | StreamStatus::Live => Ok(()),
	}
}

/// Whether a session is still open and pays for `stream`: first of the watching rules.
fn session_standing(stream: &StreamEntry, session: &SessionEntry) -> Result<(), Refusal> {
	if session.is_closed() {
		return Err(Refusal::SessionClosed);
	}
	if session.stream_id != stream.id {
		return Err(Refusal::OtherStream);
	}
	Ok(())
}

/// Whether a known session may still watch its stream (`banned`: whether the stream's creator
/// banned the session's viewer). Closing reasons come before pausing ones.
pub fn watch_standing(
	stream: &StreamEntry,
	session: &SessionEntry,
	banned: bool,
) -> Result<(), Refusal> {
	session_standing(stream, session)?;
	if stream.status() == StreamStatus::Ended {
		return Err(Refusal::StreamEnded);
	}
	if banned {
		return Err(Refusal::Banned);
	}
	if stream.status() != StreamStatus::Live {
		return Err(Refusal::NotLive);
	}
	Ok(())
}

/// Whether a known session may watch its stream's replay (`banned`: whether the stream's
/// creator banned the session's viewer).
pub fn replay_standing(
	stream: &StreamEntry,
	session: &SessionEntry,
	banned: bool,
) -> Result<(), Refusal> {
	session_standing(stream, session)?;
	if stream.status() != StreamStatus::Ended {
		return Err(Refusal::NotEnded);
	}
	if stream.replay_price().is_none() {
		return Err(Refusal::NoReplay);
	}
	if !stream.is_replay_session(session.opened_at_ms) {
		return Err(Refusal::LiveSession);
	}
	if banned {
		return Err(Refusal::Banned);
	}
	Ok(())
}

/// May the requester watch the replay of `stream_id` with session `session_id`?
/// `is_requester(account)`: whether the requester is that account.
pub async fn may_replay(
	chain: &ChainView,
	terms: &Terms,
	stream_id: StreamId,
	session_id: SessionId,
	is_requester: impl FnOnce(&AccountId) -> bool,
) -> Result<WatchRight, Refusal> {
	let (stream, session) = viewers_session(chain, stream_id, session_id, is_requester).await?;
	if let Serving::Edge { .. } = terms.serves(&stream)? {
		return Err(Refusal::ReplayAtOrigin(stream_id));
	}
	let banned = chain.is_banned(&stream.creator, &session.viewer).await?;
	replay_standing(&stream, &session, banned)?;
	Ok(WatchRight { stream, session })
}

/// The stream and the requester's open session, whatever the session is for (the standing
/// rules check that).
async fn viewers_session(
	chain: &ChainView,
	stream_id: StreamId,
	session_id: SessionId,
	is_requester: impl FnOnce(&AccountId) -> bool,
) -> Result<(Arc<StreamEntry>, Arc<SessionEntry>), Refusal> {
	let stream = stream(chain, stream_id).await?;
	let session = chain
		.session(session_id)
		.await?
		.filter(|s| !s.is_closed())
		.ok_or(Refusal::NoOpenSession(session_id))?;
	if !is_requester(&session.viewer) {
		return Err(Refusal::NotViewer);
	}
	Ok((stream, session))
}

/// The stream, or [`Refusal::NoStream`].
pub async fn stream(chain: &ChainView, stream_id: StreamId) -> Result<Arc<StreamEntry>, Refusal> {
	chain.stream(stream_id).await?.ok_or(Refusal::NoStream(stream_id))
}

/// May the requester publish `stream_id`? `is_requester(account)`: whether the requester is
/// that account.
pub async fn may_publish(
	chain: &ChainView,
	terms: &Terms,
	stream_id: StreamId,
	is_requester: impl FnOnce(&AccountId) -> bool,
) -> Result<PublishRight, Refusal> {
	let stream = stream(chain, stream_id).await?;
	if !is_requester(&stream.creator) {
		return Err(Refusal::NotCreator);
	}
	if let Serving::Edge { .. } = terms.serves(&stream)? {
		return Err(Refusal::PublishAtOrigin(stream_id));
	}
	publish_standing(&stream)?;
	Ok(PublishRight { stream })
}

/// May the requester watch `stream_id` with session `session_id`? `is_requester(account)`:
/// whether the requester is that account.
pub async fn may_watch(
	chain: &ChainView,
	terms: &Terms,
	stream_id: StreamId,
	session_id: SessionId,
	is_requester: impl FnOnce(&AccountId) -> bool,
) -> Result<WatchRight, Refusal> {
	let (stream, session) = viewers_session(chain, stream_id, session_id, is_requester).await?;
	terms.serves(&stream)?;
	let banned = chain.is_banned(&stream.creator, &session.viewer).await?;
	watch_standing(&stream, &session, banned)?;
	Ok(WatchRight { stream, session })
}

/// A publisher may send until its stream ends.
pub struct PublisherGate {
	/// The stream.
	pub stream: Arc<StreamEntry>,
}

impl From<PublishRight> for PublisherGate {
	fn from(right: PublishRight) -> Self {
		Self { stream: right.stream }
	}
}

impl Gate for PublisherGate {
	fn check(&self) -> GateState {
		match publish_standing(&self.stream) {
			Ok(()) => GateState::Open,
			Err(r) => GateState::Closed(close_reason(&r)),
		}
	}
}

/// An edge sidecar receives a stream at its origin while the stream may be published and the
/// edge is still one of the origin's (`--edge-account`, re-read on SIGHUP); its own viewers'
/// gates, at the edge, decide who among them gets it.
pub struct EdgeGate {
	/// The stream.
	pub stream: Arc<StreamEntry>,
	/// The origin's edges.
	pub edges: Arc<super::edge::EdgeAccounts>,
	/// This edge's relayer account.
	pub edge: AccountId,
}

impl Gate for EdgeGate {
	fn check(&self) -> GateState {
		if let Err(r) = publish_standing(&self.stream) {
			return GateState::Closed(close_reason(&r));
		}
		if self.edges.contains(&self.edge) {
			GateState::Open
		} else {
			GateState::Closed(CloseReason::Revoked)
		}
	}
}

/// A viewer receives while [`watch_standing`] holds and its last acknowledged voucher is at
/// most `voucher_grace` old.
pub struct ViewerGate {
	/// The stream.
	pub stream: Arc<StreamEntry>,
	/// The viewer's session on it.
	pub session: Arc<SessionEntry>,
	/// For bans.
	pub chain: ChainView,
	/// How late the next voucher may be (vouchers come every second).
	pub voucher_grace: Duration,
	/// When the session first got media (Unix ms): the first voucher may take `voucher_grace`
	/// (plus a second) from then.
	pub since_ms: u64,
}

impl ViewerGate {
	/// The gate of a right to watch; the first voucher's grace runs from the session's first
	/// media (now, for its first peer).
	pub fn new(right: WatchRight, chain: ChainView, voucher_grace: Duration) -> Self {
		let WatchRight { stream, session } = right;
		let since_ms = session.media_since_ms(clock::unix_ms());
		Self { stream, session, chain, voucher_grace, since_ms }
	}

	/// The media seat its peer takes: its session's (one media peer per session).
	pub fn seat(&self) -> u64 {
		self.session.id
	}
}

impl Gate for ViewerGate {
	fn check(&self) -> GateState {
		let banned = self.chain.is_banned_cached(&self.stream.creator, &self.session.viewer);
		if let Err(r) = watch_standing(&self.stream, &self.session, banned) {
			return match r {
				Refusal::NotLive => GateState::Paused,
				r => GateState::Closed(close_reason(&r)),
			};
		}
		let grace = u64::try_from(self.voucher_grace.as_millis()).unwrap_or(u64::MAX);
		let last = self.session.last_ack_at_ms().max(self.since_ms + 1_000);
		if clock::unix_ms().saturating_sub(last) > grace {
			GateState::Paused
		} else {
			GateState::Open
		}
	}
}

/// Why media ends when a standing rule stops holding.
fn close_reason(r: &Refusal) -> CloseReason {
	match r {
		Refusal::Banned => CloseReason::Banned,
		Refusal::StreamEnded => CloseReason::StreamEnded,
		// A session closed, or one that never was for this stream (a gate is only built from
		// a right, so the latter means the chain view changed under it).
		_ => CloseReason::SessionClosed,
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::H256;

	fn acct(b: u8) -> AccountId {
		AccountId::new([b; 32])
	}

	struct Fixture {
		chain: ChainView,
		stream: Arc<StreamEntry>,
		session: Arc<SessionEntry>,
	}

	/// Stream 1 of account 1, live; session 10 of viewer 2 on it.
	fn fixture() -> Fixture {
		let chain = ChainView::offline(H256::zero());
		let stream = chain.insert_stream(StreamEntry::new(1, acct(1), 5, StreamStatus::Live));
		let session = chain.insert_session(SessionEntry::new(10, acct(2), 1, 5, 0, 100, 0));
		Fixture { chain, stream, session }
	}

	fn block_on<F: std::future::Future>(f: F) -> F::Output {
		tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
	}

	#[test]
	fn only_the_creator_publishes_a_stream_not_ended() {
		let f = fixture();
		let publish = |who: u8, stream| {
			block_on(may_publish(&f.chain, &Terms::default(), stream, |a| *a == acct(who)))
		};
		assert!(publish(1, 1).is_ok());
		assert!(matches!(publish(2, 1), Err(Refusal::NotCreator)));
		assert!(matches!(publish(1, 9), Err(Refusal::NoStream(9))));
		f.stream.set_status(StreamStatus::Ended);
		assert!(matches!(publish(1, 1), Err(Refusal::StreamEnded)));
	}

	#[test]
	fn only_the_sessions_viewer_watches_a_live_stream_unbanned() {
		let f = fixture();
		let watch = |who: u8, stream, session| {
			block_on(may_watch(&f.chain, &Terms::default(), stream, session, |a| *a == acct(who)))
		};
		assert!(watch(2, 1, 10).is_ok());
		assert!(matches!(watch(3, 1, 10), Err(Refusal::NotViewer)));
		assert!(matches!(watch(2, 1, 11), Err(Refusal::NoOpenSession(11))));
		assert!(matches!(watch(2, 9, 10), Err(Refusal::NoStream(9))));
		let other = f.chain.insert_stream(StreamEntry::new(2, acct(1), 5, StreamStatus::Live));
		assert!(matches!(watch(2, other.id, 10), Err(Refusal::OtherStream)));
		f.stream.set_status(StreamStatus::Scheduled);
		assert!(matches!(watch(2, 1, 10), Err(Refusal::NotLive)));
		f.stream.set_status(StreamStatus::Live);
		f.chain.insert_ban(acct(1), acct(2));
		assert!(matches!(watch(2, 1, 10), Err(Refusal::Banned)));
	}

	#[test]
	fn only_a_session_opened_after_the_end_watches_an_offered_replay() {
		let chain = ChainView::offline(H256::zero());
		let stream = chain.insert_stream(
			StreamEntry::new(1, acct(1), 5, StreamStatus::Live).with_replay(1_000, Some(2)),
		);
		let replay = chain.insert_session(SessionEntry::new(10, acct(2), 1, 2, 1_001, 100, 0));
		let live = chain.insert_session(SessionEntry::new(11, acct(3), 1, 5, 1_000, 100, 0));
		let other = chain.insert_stream(StreamEntry::new(2, acct(1), 5, StreamStatus::Live));
		let ask = |who: u8, stream, session| {
			block_on(may_replay(&chain, &Terms::default(), stream, session, |a| *a == acct(who)))
		};
		assert!(ask(2, 1, 10).is_ok());
		assert!(matches!(ask(3, 1, 10), Err(Refusal::NotViewer)));
		// The live session, opened in the ending millisecond, is not a replay session.
		assert!(matches!(ask(3, 1, 11), Err(Refusal::LiveSession)));
		assert!(matches!(ask(2, other.id, 10), Err(Refusal::OtherStream)));
		assert!(matches!(ask(2, 9, 10), Err(Refusal::NoStream(9))));
		stream.set_replay_price(None);
		assert!(matches!(ask(2, 1, 10), Err(Refusal::NoReplay)));
		stream.set_replay_price(Some(2));
		chain.insert_ban(acct(1), acct(2));
		assert!(matches!(ask(2, 1, 10), Err(Refusal::Banned)));
		replay.close();
		assert!(matches!(ask(2, 1, 10), Err(Refusal::NoOpenSession(10))));
		let _ = live;
		let not_ended = chain.insert_stream(StreamEntry::new(3, acct(1), 5, StreamStatus::Live));
		let on_live = chain.insert_session(SessionEntry::new(12, acct(2), 3, 5, 9_999, 100, 0));
		assert!(matches!(replay_standing(&not_ended, &on_live, false), Err(Refusal::NotEnded)));
	}

	#[test]
	fn gates_follow_the_same_rules() {
		let f = fixture();
		let publisher = PublisherGate { stream: f.stream.clone() };
		let viewer = ViewerGate::new(
			WatchRight { stream: f.stream.clone(), session: f.session.clone() },
			f.chain.clone(),
			Duration::from_secs(5),
		);
		assert_eq!(publisher.check(), GateState::Open);
		// Within the first voucher's grace.
		assert_eq!(viewer.check(), GateState::Open);
		// Late vouchers pause; so does a stream that is not live.
		let late = ViewerGate { since_ms: 0, ..viewer };
		assert_eq!(late.check(), GateState::Paused);
		let viewer = ViewerGate { since_ms: clock::unix_ms(), ..late };
		f.stream.set_status(StreamStatus::Scheduled);
		assert_eq!(viewer.check(), GateState::Paused);
		f.stream.set_status(StreamStatus::Live);
		f.chain.insert_ban(acct(1), acct(2));
		assert_eq!(viewer.check(), GateState::Closed(CloseReason::Banned));
		f.stream.set_status(StreamStatus::Ended);
		assert_eq!(viewer.check(), GateState::Closed(CloseReason::StreamEnded));
		assert_eq!(publisher.check(), GateState::Closed(CloseReason::StreamEnded));
		f.session.close();
		assert_eq!(viewer.check(), GateState::Closed(CloseReason::SessionClosed));
	}

	#[test]
	fn an_edge_gets_a_stream_while_listed_and_the_stream_not_ended() {
		let f = fixture();
		let edges = Arc::new(super::super::edge::EdgeAccounts::new(vec![acct(7), acct(8)]));
		let gate = EdgeGate { stream: f.stream.clone(), edges: edges.clone(), edge: acct(7) };
		assert_eq!(gate.check(), GateState::Open);
		// The operator takes edge 7 off the list (SIGHUP).
		edges.replace(vec![acct(8)]);
		assert_eq!(gate.check(), GateState::Closed(CloseReason::Revoked));
		edges.replace(vec![acct(7)]);
		assert_eq!(gate.check(), GateState::Open);
		f.stream.set_status(StreamStatus::Ended);
		assert_eq!(gate.check(), GateState::Closed(CloseReason::StreamEnded));
	}
}
