//! `POST /edge/{stream}`: an edge sidecar pulls a stream from this one, its origin.
//!
//! The request carries the edge's signed `Authorization: Vilokanam-Edge …` header
//! ([`crate::access::edge`]) and an `application/sdp` offer (receive-only audio and video,
//! from [`vilokanam_sfu::MediaServer::pull`]); the answer is `201 Created` with the SDP answer.
//! The edge then counts here as one viewer of the stream, seated by its account so that a new
//! pull replaces its last one, until the stream ends, the edge goes away (ICE consent) or the
//! operator takes it off the list (SIGHUP: cut at the next gate poll, [`EdgeGate`]). It
//! pays nothing here: its own viewers pay for their seconds at the edge.
//!
//! Refusals: `401` for a missing, malformed, stale, replayed or wrongly signed header, `403`
//! for an account that is not one of this sidecar's edges or a stream this sidecar does not
//! publish itself (an edge is never an origin: one hop), `404` for no such stream, `503`
//! without media or before the chain is known. The route is rate-limited per address like
//! WHIP and WHEP ([`crate::transport::http`]).

use crate::{
	access::{
		edge::EdgeRefusal,
		rights::{self, EdgeGate, Refusal},
		terms::Serving,
	},
	clock, protocol,
	transport::http::{read_sdp, response},
	Sidecar,
};
use http_body_util::Full;
use hyper::{
	body::{Bytes, Incoming},
	header::{self, HeaderValue},
	Request, Response, StatusCode,
};
use std::sync::Arc;
use vilokanam_chain_client::{AccountId, StreamId};
use vilokanam_sfu::{MediaError, MediaRole, PeerSetup};

/// The media seat of `edge`'s pull: derived from its account, with the top bit set so that it
/// never equals a session id (the seats of viewers).
pub fn edge_seat(edge: &AccountId) -> u64 {
	let bytes: &[u8; 32] = edge.as_ref();
	let mut first = [0u8; 8];
	first.copy_from_slice(&bytes[..8]);
	u64::from_le_bytes(first) | 1 << 63
}

fn text(status: StatusCode, message: impl std::fmt::Display) -> Response<Full<Bytes>> {
	response(status, "text/plain; charset=utf-8", format!("{message}\n"))
}

/// Serve `POST /edge/{stream}`.
pub async fn pull(req: Request<Incoming>, sidecar: Sidecar) -> Response<Full<Bytes>> {
	let Some(stream_id) =
		req.uri().path().strip_prefix("/edge/").and_then(|s| s.parse::<StreamId>().ok())
	else {
		return text(StatusCode::NOT_FOUND, "expected /edge/<stream id>");
	};
	let Some(media) = sidecar.media.clone() else {
		return text(StatusCode::SERVICE_UNAVAILABLE, "this sidecar runs without a media server");
	};
	let Some(genesis) = sidecar.chain.genesis() else {
		return text(StatusCode::SERVICE_UNAVAILABLE, "the chain is not known yet");
	};
	let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
	let checked = sidecar.edges.check(
		header,
		stream_id,
		clock::unix_secs(),
		&sidecar.settings.audiences,
		&genesis,
	);
	let edge = match checked {
		Ok(edge) => edge,
		Err(e @ EdgeRefusal::NotAnEdge) => {
			sidecar.metrics.edge_pulls.with_label_values(&["refused"]).inc();
			return text(StatusCode::FORBIDDEN, e);
		},
		Err(e) => {
			sidecar.metrics.edge_pulls.with_label_values(&["refused"]).inc();
			let mut r = text(StatusCode::UNAUTHORIZED, e);
			r.headers_mut().insert(
				header::WWW_AUTHENTICATE,
				HeaderValue::from_static(crate::access::edge::EDGE_SCHEME),
			);
			return r;
		},
	};
	let stream = match rights::stream(&sidecar.chain, stream_id).await {
		Ok(s) => s,
		Err(Refusal::NoStream(_)) => return text(StatusCode::NOT_FOUND, "no such stream"),
		Err(e) => return text(StatusCode::SERVICE_UNAVAILABLE, e),
	};
	// Only the streams published here: an edge's own edges would make a tree of unbounded
	// depth, and its media is already a copy.
	match sidecar.terms.serves(&stream) {
		Ok(Serving::Origin) => {},
		Ok(Serving::Edge { .. }) => {
			return text(StatusCode::FORBIDDEN, "this sidecar is itself an edge for this stream")
		},
		Err(r) => return text(StatusCode::FORBIDDEN, r),
	}
	if let Err(r) = rights::publish_standing(&stream) {
		return text(StatusCode::FORBIDDEN, r);
	}
	let sdp = match read_sdp(req, sidecar.settings.http_timeout).await {
		Ok(sdp) => sdp,
		Err((status, message)) => return text(status, message),
	};
	let label = format!("edge {}", protocol::account_to_ss58(&edge));
	let setup = PeerSetup {
		stream_id,
		role: MediaRole::Viewer,
		gate: Arc::new(EdgeGate { stream, edges: sidecar.edges.clone(), edge: edge.clone() }),
		events: None,
		label,
		seat: Some(edge_seat(&edge)),
		take_over: false,
	};
	match media.offer(&sdp, setup) {
		Ok((_, answer)) => {
			tracing::info!(stream_id, edge = %protocol::account_to_ss58(&edge), "an edge pulls");
			sidecar.metrics.edge_pulls.with_label_values(&["accepted"]).inc();
			let mut r = response(StatusCode::CREATED, "application/sdp", answer);
			r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
			r
		},
		Err(e @ (MediaError::BadSdp(_) | MediaError::BadOffer(_))) => {
			text(StatusCode::BAD_REQUEST, e)
		},
		Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, e),
	}
}
