//! WHIP (RFC 9725) and WHEP: media sessions over plain HTTP, for OBS Studio and standard
//! players.
//!
//! - `POST /whip/{stream}` with `Authorization: Bearer <publish token>` and an
//!   `application/sdp` offer → `201 Created`, the answer, and `Location: /whip/{stream}/{id}`;
//! - `POST /whep/{stream}` the same with a watch token (the viewer's open session);
//! - `DELETE` on the `Location` ends the session; `OPTIONS` answers CORS preflights;
//!   `PATCH` (trickle ICE, ICE restart) is not supported: the server is ICE-lite and its one
//!   candidate is in the answer, so `405`;
//! - TURN servers, when the sidecar has them, come as RFC 9725 `Link: <turn:…>;
//!   rel="ice-server"` headers on the `201` (credentials of the token's session or stream),
//!   and on an `OPTIONS` whose bearer token an offer would be accepted with (never on a CORS
//!   preflight, which carries no credentials).
//!
//! Rights are the same as over the WebSocket ([`crate::access::rights`]), checked against the
//! chain when the offer comes and then by the media engine's gates for as long as the session
//! lasts. The bearer token is checked first ([`crate::access::tokens`]): a forged, expired or
//! rotated one is refused before the store or the chain is asked anything, and before the
//! body is read. A WHIP offer never takes over from a connected publisher (`409 Conflict`):
//! a leaked token must not replace the creator's live stream; the creator takes over from the
//! studio (signed in) or rotates the token, which disconnects the WHIP publisher.

use crate::{
	access::{
		rights::{self, PublisherGate, Refusal, ViewerGate},
		tokens::TokenError,
		turn::TurnUser,
	},
	clock, protocol,
	transport::http,
	Sidecar,
};
use http_body_util::Full;
use hyper::{
	body::{Bytes, Incoming},
	header::{self, HeaderValue},
	Method, Request, Response, StatusCode,
};
use std::{
	collections::HashMap,
	sync::{Arc, Mutex},
};
use tokio::sync::mpsc;
use vilokanam_sfu::{CloseReason, Gate, MediaError, MediaEvent, MediaPeerId, MediaRole, PeerSetup};

/// The live WHIP/WHEP sessions, by resource id.
#[derive(Default)]
pub struct Resources {
	map: Mutex<HashMap<String, Resource>>,
}

pub(crate) struct Resource {
	peer: MediaPeerId,
	stream_id: u64,
	role: MediaRole,
	token: String,
}

impl Resources {
	pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Resource>> {
		self.map.lock().unwrap_or_else(|p| p.into_inner())
	}

	/// Live sessions.
	pub fn len(&self) -> usize {
		self.lock().len()
	}

	/// Whether there are none.
	pub fn is_empty(&self) -> bool {
		self.len() == 0
	}
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
	let mut r = Response::new(Full::new(body.into()));
	*r.status_mut() = status;
	let h = r.headers_mut();
	h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
	cors(h);
	r
}

fn cors(h: &mut hyper::HeaderMap) {
	// Players and the pages may be served from elsewhere; the bearer token is the credential.
	h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
	h.insert(
		header::ACCESS_CONTROL_EXPOSE_HEADERS,
		HeaderValue::from_static("Location, Link, ETag"),
	);
}

fn unauthorized(message: &str) -> Response<Full<Bytes>> {
	let mut r = respond(StatusCode::UNAUTHORIZED, format!("{message}\n"));
	r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
	r
}

/// Disconnect the WHIP publishers of `stream_id` (its tokens were rotated).
pub fn close_publishers(sidecar: &Sidecar, stream_id: u64) {
	let peers: Vec<MediaPeerId> = {
		let mut map = sidecar.whip.lock();
		let ids: Vec<String> = map
			.iter()
			.filter(|(_, r)| r.stream_id == stream_id && r.role == MediaRole::Publisher)
			.map(|(id, _)| id.clone())
			.collect();
		ids.iter().filter_map(|id| map.remove(id)).map(|r| r.peer).collect()
	};
	if let Some(media) = &sidecar.media {
		for peer in peers {
			media.close(peer, CloseReason::Revoked);
		}
	}
}

/// Route `/whip/...` and `/whep/...`.
pub async fn handle(req: Request<Incoming>, sidecar: Sidecar) -> Response<Full<Bytes>> {
	let path = req.uri().path().to_owned();
	let mut parts = path.trim_start_matches('/').split('/');
	let kind = match parts.next() {
		Some("whip") => MediaRole::Publisher,
		_ => MediaRole::Viewer,
	};
	let Some(Ok(stream_id)) = parts.next().map(str::parse::<u64>) else {
		return respond(StatusCode::NOT_FOUND, "expected /whip/<stream id> or /whep/<stream id>\n");
	};
	let resource = parts.next().map(str::to_owned);
	if parts.next().is_some() {
		return respond(StatusCode::NOT_FOUND, "no such resource\n");
	}
	match (req.method().clone(), resource) {
		(Method::OPTIONS, _) => {
			let links = ice_links(&req, &sidecar, kind, stream_id).await;
			let mut r = respond(StatusCode::NO_CONTENT, Bytes::new());
			for link in links {
				r.headers_mut().append(header::LINK, link);
			}
			let h = r.headers_mut();
			h.insert(
				header::ACCESS_CONTROL_ALLOW_METHODS,
				HeaderValue::from_static("POST, DELETE, OPTIONS"),
			);
			h.insert(
				header::ACCESS_CONTROL_ALLOW_HEADERS,
				HeaderValue::from_static("Authorization, Content-Type"),
			);
			h.insert("accept-post", HeaderValue::from_static("application/sdp"));
			r
		},
		(Method::POST, None) => offer(req, sidecar, kind, stream_id).await,
		(Method::DELETE, Some(id)) => delete(&req, &sidecar, stream_id, &id),
		(Method::PATCH, Some(_)) => respond(
			StatusCode::METHOD_NOT_ALLOWED,
			"trickle ICE and ICE restarts are not supported\n",
		),
		_ => respond(StatusCode::METHOD_NOT_ALLOWED, "use POST to start, DELETE to end\n"),
	}
}

async fn offer(
	req: Request<Incoming>,
	sidecar: Sidecar,
	role: MediaRole,
	stream_id: u64,
) -> Response<Full<Bytes>> {
	let Some(media) = sidecar.media.clone() else {
		return respond(
			StatusCode::SERVICE_UNAVAILABLE,
			"this sidecar runs without a media server\n",
		);
	};
	let Some(token) = http::bearer(&req) else {
		return unauthorized("an Authorization: Bearer token is required");
	};
	// The token and the right it names come first: no body is read for a refused one.
	let right = match authorize(&sidecar, role, stream_id, &token).await {
		Ok(right) => right,
		Err(refusal) => return refusal,
	};
	let sdp = match http::read_sdp(req, sidecar.settings.http_timeout).await {
		Ok(sdp) => sdp,
		Err((status, message)) => return respond(status, format!("{message}\n")),
	};
	let turn_user = right.turn_user(stream_id);
	let (gate, label, seat, fed): (Arc<dyn Gate>, String, _, _) = match right {
		Right::Publish(right) => {
			let label = protocol::account_to_ss58(&right.stream.creator);
			(Arc::new(PublisherGate::from(right)), label, None, None)
		},
		Right::Watch(right) => {
			let label = protocol::account_to_ss58(&right.session.viewer);
			let fed = Some(right.stream.clone());
			// Built here only, with media coming: it starts the session's first voucher grace.
			let gate =
				ViewerGate::new(right, sidecar.chain.clone(), sidecar.settings.voucher_grace);
			let seat = Some(gate.seat());
			(Arc::new(gate), label, seat, fed)
		},
	};
	let (events, mut rx) = mpsc::channel(8);
	// A bearer token never takes over from a connected publisher (it may have leaked).
	let setup =
		PeerSetup { stream_id, role, gate, events: Some(events), label, seat, take_over: false };
	let (peer, answer) =
		match media.offer(&sdp, setup) {
			Ok(ok) => ok,
			Err(e @ (MediaError::BadSdp(_) | MediaError::BadOffer(_))) => {
				return respond(StatusCode::BAD_REQUEST, format!("{e}\n"))
			},
			Err(MediaError::Occupied) => return respond(
				StatusCode::CONFLICT,
				"a publisher is connected to this stream: take over from the studio, or rotate \
				 the token there to disconnect it\n",
			),
			Err(e) => return respond(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")),
		};
	if let Some(stream) = fed {
		sidecar.feed(&stream);
	}
	let id = hex::encode(rand::random::<[u8; 16]>());
	sidecar.whip.lock().insert(id.clone(), Resource { peer, stream_id, role, token });
	// Forget the resource when the engine closes the peer (gate, failure).
	let resources = sidecar.whip.clone();
	let key = id.clone();
	tokio::spawn(async move {
		while let Some((_, event)) = rx.recv().await {
			if matches!(event, MediaEvent::Closed(_)) {
				break;
			}
		}
		resources.lock().remove(&key);
	});
	let prefix = match role {
		MediaRole::Publisher => "whip",
		MediaRole::Viewer => "whep",
	};
	let mut r = Response::new(Full::new(Bytes::from(answer)));
	*r.status_mut() = StatusCode::CREATED;
	let h = r.headers_mut();
	h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
	if let Ok(v) = HeaderValue::from_str(&format!("/{prefix}/{stream_id}/{id}")) {
		h.insert(header::LOCATION, v);
	}
	for link in link_values(&sidecar, turn_user) {
		h.append(header::LINK, link);
	}
	cors(h);
	r
}

/// The `Link` values of `user`'s TURN servers (none without TURN).
fn link_values(sidecar: &Sidecar, user: TurnUser) -> Vec<HeaderValue> {
	let grant = sidecar.ice_grant(Some(user));
	grant.link_headers().into_iter().filter_map(|l| HeaderValue::from_str(&l).ok()).collect()
}

/// TURN `Link`s for an `OPTIONS` request: only with a bearer token an offer would be accepted
/// with (its MAC, expiry and generation, and the chain's say on the right it names), and never
/// on a CORS preflight (RFC 9725: it carries no credentials, and its answer may be cached for
/// others).
async fn ice_links(
	req: &Request<Incoming>,
	sidecar: &Sidecar,
	role: MediaRole,
	stream_id: u64,
) -> Vec<HeaderValue> {
	if sidecar.turn.is_none() || req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
		return Vec::new();
	}
	let Some(token) = http::bearer(req) else { return Vec::new() };
	let user = match authorize(sidecar, role, stream_id, &token).await {
		Ok(right) => right.turn_user(stream_id),
		Err(_) => return Vec::new(),
	};
	link_values(sidecar, user)
}

/// The right a bearer token grants now.
enum Right {
	Publish(rights::PublishRight),
	Watch(rights::WatchRight),
}

impl Right {
	/// Whose TURN credentials it comes with.
	fn turn_user(&self, stream_id: u64) -> TurnUser {
		match self {
			Self::Publish(_) => TurnUser::Publisher(stream_id),
			Self::Watch(w) => TurnUser::Session(w.session.id),
		}
	}
}

/// The checks of an offer (and of an `OPTIONS` asking for TURN servers), written once: the
/// token's MAC and expiry first, needing neither the store nor the chain; then a publish
/// token's generation (rotation) and the chain's say on the right the token names. A refusal
/// comes as the response to give.
async fn authorize(
	sidecar: &Sidecar,
	role: MediaRole,
	stream_id: u64,
	token: &str,
) -> Result<Right, Response<Full<Bytes>>> {
	let (chain, terms) = (&sidecar.chain, &sidecar.terms);
	match role {
		MediaRole::Publisher => {
			let claims = sidecar
				.tokens
				.check_publish(token, stream_id, clock::unix_secs())
				.map_err(|e| unauthorized(&e.to_string()))?;
			match sidecar.store.publish_generation(stream_id).await {
				Ok(g) if g == claims.generation => {},
				Ok(_) => return Err(unauthorized(&TokenError::Rotated.to_string())),
				Err(e) => return Err(respond(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n"))),
			}
			match rights::may_publish(chain, terms, stream_id, |c| *c == claims.account).await {
				Ok(right) => Ok(Right::Publish(right)),
				Err(Refusal::NotCreator) => {
					Err(unauthorized("the token's account no longer creates this stream"))
				},
				Err(r) => Err(refused(r)),
			}
		},
		MediaRole::Viewer => {
			let (session_id, viewer) =
				sidecar.tokens.check_watch(token).map_err(|e| unauthorized(&e.to_string()))?;
			match rights::may_watch(chain, terms, stream_id, session_id, |v| *v == viewer).await {
				Ok(right) => Ok(Right::Watch(right)),
				Err(Refusal::NotViewer) => {
					Err(unauthorized("the token does not grant watching with this session"))
				},
				Err(r) => Err(refused(r)),
			}
		},
	}
}

/// A refused right, as WHIP and WHEP say it.
fn refused(r: Refusal) -> Response<Full<Bytes>> {
	let status = match r {
		Refusal::NoStream(_) => StatusCode::NOT_FOUND,
		Refusal::Chain(_) => StatusCode::SERVICE_UNAVAILABLE,
		_ => StatusCode::FORBIDDEN,
	};
	respond(status, format!("{r}\n"))
}

fn delete(
	req: &Request<Incoming>,
	sidecar: &Sidecar,
	stream_id: u64,
	id: &str,
) -> Response<Full<Bytes>> {
	let Some(token) = http::bearer(req) else {
		return unauthorized("an Authorization: Bearer token is required");
	};
	let mut map = sidecar.whip.lock();
	match map.get(id) {
		Some(r) if r.stream_id == stream_id && r.token == token => {
			let peer = r.peer;
			map.remove(id);
			drop(map);
			if let Some(media) = &sidecar.media {
				media.close(peer, CloseReason::Closed);
			}
			respond(StatusCode::OK, Bytes::new())
		},
		Some(_) => unauthorized("the token does not own this session"),
		None => respond(StatusCode::NOT_FOUND, "no such session\n"),
	}
}
