//! Vouchers and close intents over plain HTTP: `POST /vouchers` for players that watch over
//! WHEP without the WebSocket (a voucher a second keeps their media flowing, as heartbeats do),
//! and `POST /close` for the beacon a page sends when its tab closes.

use crate::{
	billing::close_intent::{self, CloseError, IntentRequest},
	billing::heartbeat::{Heartbeat, HeartbeatError},
	clock,
	protocol::{Crypto, Encoding, ErrorCode, HexBytes, Signer},
	transport::http,
	Sidecar,
};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
	body::{Bytes, Incoming},
	header::{self, HeaderValue},
	Request, Response, StatusCode,
};

/// The largest accepted body: a voucher or an intent is about 250 bytes of JSON.
const MAX_BODY_BYTES: usize = 2 * 1024;

/// A voucher posted with a watch token (its session is the token's).
#[derive(Debug, serde::Deserialize)]
struct PostedVoucher {
	cumulative_seconds: u64,
	encoding: Encoding,
	crypto: Crypto,
	signature: HexBytes<64>,
	#[serde(default)]
	signer: Signer,
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
	let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
	*r.status_mut() = status;
	let h = r.headers_mut();
	h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
	// Players and pages may be served from elsewhere; the token or signature is the credential.
	h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
	r
}

fn error(
	status: StatusCode,
	code: ErrorCode,
	message: impl std::fmt::Display,
) -> Response<Full<Bytes>> {
	json(status, serde_json::json!({ "code": code.as_str(), "message": message.to_string() }))
}

/// `OPTIONS /close`, `OPTIONS /vouchers`: the CORS preflight.
pub fn preflight() -> Response<Full<Bytes>> {
	let mut r = json(StatusCode::NO_CONTENT, serde_json::Value::Null);
	*r.body_mut() = Full::new(Bytes::new());
	let h = r.headers_mut();
	h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
	h.insert(
		header::ACCESS_CONTROL_ALLOW_HEADERS,
		HeaderValue::from_static("Authorization, Content-Type"),
	);
	r
}

/// The body as `T`, whatever its declared content type (`navigator.sendBeacon` sends
/// `text/plain` to avoid a preflight).
async fn body<T: serde::de::DeserializeOwned>(
	req: Request<Incoming>,
	timeout: std::time::Duration,
) -> Result<T, Response<Full<Bytes>>> {
	let collect = Limited::new(req.into_body(), MAX_BODY_BYTES).collect();
	let bytes = tokio::time::timeout(timeout, collect)
		.await
		.map_err(|_| {
			error(StatusCode::REQUEST_TIMEOUT, ErrorCode::BadJson, "the body took too long")
		})?
		.map_err(|_| {
			error(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, "the body is too large")
		})?
		.to_bytes();
	serde_json::from_slice(&bytes).map_err(|e| {
		error(StatusCode::BAD_REQUEST, ErrorCode::BadJson, format!("invalid body: {e}"))
	})
}

/// `POST /close`.
pub async fn close(req: Request<Incoming>, sidecar: &Sidecar) -> Response<Full<Bytes>> {
	let intent: IntentRequest = match body(req, sidecar.settings.http_timeout).await {
		Ok(i) => i,
		Err(r) => return r,
	};
	match close_intent::accept(sidecar, &intent, clock::unix_ms()).await {
		Ok(()) => json(
			StatusCode::ACCEPTED,
			serde_json::json!({
				"session_id": intent.session_id,
				"cumulative_seconds": intent.cumulative_seconds,
			}),
		),
		Err(e @ CloseError::NotFound(_)) => error(StatusCode::NOT_FOUND, ErrorCode::NotFound, e),
		Err(e @ CloseError::TooManySeconds) => {
			error(StatusCode::BAD_REQUEST, ErrorCode::AheadOfTime, e)
		},
		Err(e @ CloseError::BadSignature) => {
			error(StatusCode::FORBIDDEN, ErrorCode::BadSignature, e)
		},
		Err(e @ CloseError::Chain(_)) => {
			error(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ChainUnavailable, e)
		},
		Err(e @ CloseError::Store) => {
			error(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, e)
		},
	}
}

/// `POST /vouchers`: the same checks, verification and durable storage as a heartbeat.
pub async fn post(req: Request<Incoming>, sidecar: &Sidecar) -> Response<Full<Bytes>> {
	let Some(token) = http::bearer(&req) else {
		return error(
			StatusCode::UNAUTHORIZED,
			ErrorCode::Unauthenticated,
			"a watch token is required",
		);
	};
	// Checked before the body, the store or the chain: a forged token costs one hash.
	let (session_id, viewer) = match sidecar.tokens.check_watch(&token) {
		Ok(claims) => claims,
		Err(e) => {
			return error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, e.to_string())
		},
	};
	let posted: PostedVoucher = match body(req, sidecar.settings.http_timeout).await {
		Ok(v) => v,
		Err(r) => return r,
	};
	let Some(genesis) = sidecar.chain.genesis() else {
		return error(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ChainUnavailable, "no chain yet");
	};
	let session = match sidecar.chain.session(session_id).await {
		Ok(Some(s)) => s,
		Ok(None) => {
			return error(StatusCode::NOT_FOUND, ErrorCode::NotFound, "the session is not open")
		},
		Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ChainUnavailable, e),
	};
	if session.viewer != viewer {
		return error(
			StatusCode::UNAUTHORIZED,
			ErrorCode::Unauthenticated,
			"the token does not grant watching with this session",
		);
	}
	let hb = Heartbeat {
		session_id,
		cumulative_seconds: posted.cumulative_seconds,
		encoding: posted.encoding,
		crypto: posted.crypto,
		signature: posted.signature.0,
		signer: posted.signer,
	};
	let verdict = match sidecar.heartbeats.submit(&genesis, &session, &hb, clock::unix_ms()) {
		Ok(rx) => rx.await.unwrap_or(Err(HeartbeatError::Internal)),
		Err(e) => Err(e),
	};
	match verdict {
		Ok(()) => {
			session.note_acked(hb.cumulative_seconds);
			sidecar.metrics.heartbeats_accepted.inc();
			json(
				StatusCode::OK,
				serde_json::json!({
					"session_id": session_id,
					"cumulative_seconds": hb.cumulative_seconds,
				}),
			)
		},
		Err(e) => {
			sidecar.metrics.heartbeats_rejected.with_label_values(&[e.code().as_str()]).inc();
			let status = match e {
				HeartbeatError::SessionClosed => StatusCode::NOT_FOUND,
				HeartbeatError::BadSignature => StatusCode::FORBIDDEN,
				HeartbeatError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
				HeartbeatError::ChainSilent => StatusCode::SERVICE_UNAVAILABLE,
				_ => StatusCode::CONFLICT,
			};
			error(status, e.code(), e)
		},
	}
}
