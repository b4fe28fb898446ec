//! At an edge: one pull per stream from its origin, while the stream has viewers here.
//!
//! An edge serves the streams of the origins it is configured for
//! ([`crate::access::terms::Serving::Edge`]). When such a stream's first viewer offers media
//! here, [`Upstream::feed`] starts a task that pulls the stream from the origin as one viewer
//! there ([`vilokanam_sfu::MediaServer::pull`], `POST /edge/{stream}` with the edge's signed
//! header, [`crate::access::edge`]) and runs it as the room's publisher. The task keeps the
//! pull up while the room has viewers: a pull that fails or drops is tried again with a
//! backoff; once the room has had no viewer for [`LINGER`] (or the stream ended) it closes the
//! pull and ends. Viewers who join while the pull (re)connects wait for its first keyframe, as
//! for a publisher who has not started yet.

use crate::{
	access::{edge, rights::PublisherGate},
	chain::view::ChainView,
	clock,
	metrics::Metrics,
};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
	body::Bytes,
	header::{self, HeaderValue},
	Method, Request, StatusCode,
};
use hyper_util::rt::TokioIo;
use sp_core::sr25519;
use std::{
	collections::HashSet,
	sync::{Arc, Mutex},
	time::Duration,
};
use tokio::{net::TcpStream, sync::mpsc};
use vilokanam_chain_client::{StreamId, StreamStatus};
use vilokanam_sfu::{CloseReason, MediaEvent, MediaPeerId, MediaServer, PeerSetup};

/// How long a pull outlives the room's last viewer: a viewer who reloads its page finds it up.
pub const LINGER: Duration = Duration::from_secs(10);
/// The longest wait between two tries of a failing pull.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long the origin gets to answer.
const ORIGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the origin.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where an edge pulls from, and with which key.
pub struct Upstream {
	/// The origin's `host:port` (plain HTTP).
	authority: String,
	/// The origin's audience, as its signed header names it.
	audience: String,
	/// The edge's relayer key.
	key: sr25519::Pair,
	/// The streams being pulled.
	running: Mutex<HashSet<StreamId>>,
}

/// Why a pull could not start.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
	/// The origin's URL is not one this edge can reach.
	#[error("origin-url {0}: expected http://host[:port]")]
	Url(String),
	/// The origin could not be reached or answered badly.
	#[error("the origin: {0}")]
	Origin(String),
	/// The origin refused the pull.
	#[error("the origin refused the pull ({0}): {1}")]
	Refused(StatusCode, String),
	/// The media server refused it.
	#[error(transparent)]
	Media(#[from] vilokanam_sfu::MediaError),
}

impl Upstream {
	/// Pull from `origin_url` (`http://host[:port]`) with the edge's relayer `key`.
	pub fn new(origin_url: &str, key: sr25519::Pair) -> Result<Self, PullError> {
		let (authority, audience) = Self::check_url(origin_url)?;
		Ok(Self { authority, audience, key, running: Mutex::default() })
	}

	/// The `host:port` to connect to and the audience to sign for, of `origin_url`. Plain
	/// HTTP only: edges and their origin talk over the operator's own network (docs/SIDECAR.md).
	pub fn check_url(origin_url: &str) -> Result<(String, String), PullError> {
		let bad = || PullError::Url(origin_url.into());
		let url = url::Url::parse(origin_url).map_err(|_| bad())?;
		let (Some(host), "http") = (url.host_str(), url.scheme()) else { return Err(bad()) };
		let authority = format!("{host}:{}", url.port().unwrap_or(80));
		let audience = crate::access::identity::audience_of(origin_url).map_err(|_| bad())?;
		Ok((authority, audience))
	}

	/// A viewer of `stream_id` offered media here: pull the stream from the origin unless that
	/// is under way.
	pub fn feed(
		self: &Arc<Self>,
		stream_id: StreamId,
		media: MediaServer,
		chain: ChainView,
		metrics: Metrics,
	) {
		if !self.running.lock().unwrap_or_else(|p| p.into_inner()).insert(stream_id) {
			return;
		}
		let this = self.clone();
		tokio::spawn(async move {
			this.keep_pulling(stream_id, &media, &chain, &metrics).await;
			this.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream_id);
		});
	}

	async fn keep_pulling(
		&self,
		stream_id: StreamId,
		media: &MediaServer,
		chain: &ChainView,
		metrics: &Metrics,
	) {
		let mut idle = Idle::default();
		let mut backoff = Duration::from_secs(1);
		loop {
			let stream = match chain.stream(stream_id).await {
				Ok(Some(s)) if s.status() != StreamStatus::Ended => s,
				_ => return,
			};
			if idle.over(media, stream_id) {
				return;
			}
			let (events, mut rx) = mpsc::channel(8);
			let setup = PeerSetup {
				stream_id,
				role: vilokanam_sfu::MediaRole::Publisher,
				gate: Arc::new(PublisherGate { stream }),
				events: Some(events),
				label: format!("origin {}", self.authority),
				seat: None,
				take_over: true,
			};
			match self.pull(stream_id, media, chain, setup).await {
				Ok(peer) => {
					metrics.origin_pulls.with_label_values(&["answered"]).inc();
					tracing::info!(stream_id, origin = %self.authority, "pulling from the origin");
					backoff = Duration::from_secs(1);
					match run(peer, &mut rx, media, stream_id, &mut idle).await {
						Ended::Idle => {
							tracing::info!(stream_id, "no viewers left: the pull is closed");
							return;
						},
						Ended::Closed(CloseReason::StreamEnded) => return,
						Ended::Closed(reason) => {
							tracing::info!(stream_id, ?reason, "the pull ended; pulling again");
						},
					}
				},
				Err(e) => {
					metrics.origin_pulls.with_label_values(&["failed"]).inc();
					tracing::warn!(stream_id, "cannot pull from the origin: {e}");
				},
			}
			tokio::time::sleep(backoff).await;
			backoff = (backoff * 2).min(MAX_BACKOFF);
		}
	}

	/// One pull: our offer to the origin, its answer to the media server.
	async fn pull(
		&self,
		stream_id: StreamId,
		media: &MediaServer,
		chain: &ChainView,
		setup: PeerSetup,
	) -> Result<MediaPeerId, PullError> {
		let genesis =
			chain.genesis().ok_or(PullError::Origin("the chain is not known yet".into()))?;
		let (pending, offer) = media.pull(setup)?;
		let authorization =
			edge::authorization(&self.key, &genesis, &self.audience, stream_id, clock::unix_secs());
		let answer =
			tokio::time::timeout(ORIGIN_TIMEOUT, self.post(stream_id, &authorization, offer))
				.await
				.map_err(|_| PullError::Origin("no answer in time".into()))??;
		Ok(media.pulled(pending, &answer)?)
	}

	/// `POST /edge/{stream}` to the origin: its SDP answer.
	async fn post(
		&self,
		stream_id: StreamId,
		authorization: &str,
		offer: String,
	) -> Result<String, PullError> {
		let origin = |e: &dyn std::fmt::Display| PullError::Origin(e.to_string());
		let tcp = TcpStream::connect(&self.authority).await.map_err(|e| origin(&e))?;
		let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
			.await
			.map_err(|e| origin(&e))?;
		tokio::spawn(connection);
		let request = Request::builder()
			.method(Method::POST)
			.uri(format!("/edge/{stream_id}"))
			.header(header::HOST, &self.authority)
			.header(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"))
			.header(header::AUTHORIZATION, authorization)
			.body(Full::new(Bytes::from(offer)))
			.map_err(|e| origin(&e))?;
		let response = sender.send_request(request).await.map_err(|e| origin(&e))?;
		let status = response.status();
		let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
			.collect()
			.await
			.map_err(|e| origin(&e))?
			.to_bytes();
		let body = String::from_utf8_lossy(&body).into_owned();
		match status {
			StatusCode::CREATED => Ok(body),
			status => Err(PullError::Refused(status, body.trim().to_owned())),
		}
	}
}

/// How a running pull ended.
enum Ended {
	/// The room had no viewers for [`LINGER`]: the pull was closed.
	Idle,
	/// The media server closed it.
	Closed(CloseReason),
}

/// Since when the room has had no viewers, as of the last look.
#[derive(Default)]
struct Idle {
	since: Option<tokio::time::Instant>,
}

impl Idle {
	/// Whether the room has had no viewers (besides the pull) for [`LINGER`].
	fn over(&mut self, media: &MediaServer, stream_id: StreamId) -> bool {
		let viewers = media
			.snapshot()
			.rooms
			.iter()
			.find(|r| r.stream_id == stream_id)
			.map_or(0, |r| r.viewers.len());
		if viewers > 0 {
			self.since = None;
			return false;
		}
		let since = *self.since.get_or_insert_with(tokio::time::Instant::now);
		since.elapsed() >= LINGER
	}
}

/// Wait until the pull `peer` closes, or the room stays without viewers for [`LINGER`].
async fn run(
	peer: MediaPeerId,
	events: &mut mpsc::Receiver<(MediaPeerId, MediaEvent)>,
	media: &MediaServer,
	stream_id: StreamId,
	idle: &mut Idle,
) -> Ended {
	let mut tick = tokio::time::interval(Duration::from_secs(1));
	loop {
		tokio::select! {
			event = events.recv() => match event {
				Some((_, MediaEvent::Closed(reason))) => return Ended::Closed(reason),
				Some(_) => {},
				None => return Ended::Closed(CloseReason::Disconnected),
			},
			_ = tick.tick() => if idle.over(media, stream_id) {
				media.close(peer, CloseReason::Closed);
				return Ended::Idle;
			},
		}
	}
}
