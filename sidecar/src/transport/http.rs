//! The HTTP server (hyper 1, HTTP/1.1) on `--listen`:
//!
//! - `GET /ws`: WebSocket upgrade (RFC 6455), then [`crate::transport::ws::run`];
//! - `GET /health`: `{"status", "chain_connected", "best_block", "db_ok"}`, 200 when the chain
//!   node is connected and the database answers, 503 otherwise;
//! - `GET /metrics`: Prometheus text format;
//! - `/whip/…`, `/whep/…`: WHIP and WHEP ([`crate::transport::whip`]);
//! - `POST /edge/{stream}`: an edge sidecar pulls a stream ([`crate::transport::edge`]);
//! - `GET /replay/{stream}.webm?ticket=…`: an ended stream's recording, paced by the replay
//!   session's vouchers ([`crate::transport::replay`]);
//! - `POST /close`: a viewer's close intent as JSON (the beacon a page sends when its tab
//!   closes; [`crate::billing::close_intent`]): `202`, or `400`/`403`/`404`/`503` with `{code, message}`;
//! - `POST /vouchers` with `Authorization: Bearer <watch token>`: a voucher as JSON, for
//!   players that watch over WHEP without the WebSocket: `200 {session_id,
//!   cumulative_seconds}` once it is durably stored (the media keeps flowing), else an error;
//! - `GET /config.json`, `GET /media/stats` and the web pages ([`crate::transport::web`]);
//! - anything else: 404.
//!
//! At the door ([`crate::access::admission`]): a connection over the global or per-address cap,
//! or opened too fast, is closed at once; offers, posted vouchers and close intents past an
//! address's rate get `429`; a client has `http_timeout` to send a request's headers.

use crate::{access::admission::Permit, transport::ws, Sidecar};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
	body::{Bytes, Incoming},
	header::{self, HeaderValue},
	server::conn::http1,
	service::service_fn,
	Method, Request, Response, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::{convert::Infallible, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::watch};
use tokio_tungstenite::{
	tungstenite::{
		handshake::derive_accept_key,
		protocol::{Role, WebSocketConfig},
	},
	WebSocketStream,
};

/// Every response's body: whole (most), or streamed (replays).
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// A whole body as a [`Body`].
fn whole(r: Response<Full<Bytes>>) -> Response<Body> {
	r.map(|b| b.map_err(|never| match never {}).boxed_unsync())
}

/// How long `/health` waits for the database.
const DB_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The WebSocket settings: frames and messages up to `max_message_bytes`, and a small initial
/// read buffer (it grows when needed) so that idle connections cost little memory.
pub fn ws_config(max_message_bytes: usize) -> WebSocketConfig {
	WebSocketConfig::default()
		.read_buffer_size(2 * 1024)
		.write_buffer_size(16 * 1024)
		.max_message_size(Some(max_message_bytes))
		.max_frame_size(Some(max_message_bytes))
}

/// Serve HTTP on `listener` until `shutdown` turns true. WebSocket connections are told to go
/// away at shutdown; this returns once the listener is closed.
pub async fn serve(listener: TcpListener, sidecar: Sidecar, mut shutdown: watch::Receiver<bool>) {
	loop {
		let (stream, peer) = tokio::select! {
			accepted = listener.accept() => match accepted {
				Ok(a) => a,
				Err(e) => {
					// Out of file descriptors, typically: back off instead of spinning.
					tracing::warn!("accept failed: {e}");
					tokio::time::sleep(Duration::from_millis(50)).await;
					continue;
				},
			},
			_ = shutdown.changed() => break,
		};
		let permit = match sidecar.door.admit(peer.ip()) {
			Ok(permit) => permit,
			Err(turned) => {
				// Closed at once: an answer would cost more than the refusal saves.
				sidecar.metrics.turned_away.with_label_values(&[turned.as_str()]).inc();
				tracing::debug!(%peer, "connection turned away: {turned}");
				continue;
			},
		};
		// Acks and signaling are small and latency-bound.
		let _ = stream.set_nodelay(true);
		let sidecar = sidecar.clone();
		let shutdown = shutdown.clone();
		let header_timeout = sidecar.settings.http_timeout;
		tokio::spawn(async move {
			// Held for as long as the connection (and a WebSocket it upgrades to) lives.
			let permit = Arc::new(permit);
			let service = service_fn(move |req| {
				let sidecar = sidecar.clone();
				let shutdown = shutdown.clone();
				let permit = permit.clone();
				async move { Ok::<_, Infallible>(dispatch(req, sidecar, shutdown, permit).await) }
			});
			if let Err(e) = http1::Builder::new()
				// Slow or silent clients must not hold connections open forever.
				.timer(TokioTimer::new())
				.header_read_timeout(header_timeout)
				.serve_connection(TokioIo::new(stream), service)
				.with_upgrades()
				.await
			{
				tracing::debug!(%peer, "HTTP connection error: {e}");
			}
		});
	}
	tracing::info!("HTTP server stopped accepting connections");
}

/// A response with `status`, `content_type` and `body` (the pages, `/metrics`, `/health`).
pub(crate) fn response(
	status: StatusCode,
	content_type: &'static str,
	body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
	let mut r = Response::new(Full::new(body.into()));
	*r.status_mut() = status;
	r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
	r
}

/// The `Authorization: Bearer` token of `req`, if it has one (WHIP/WHEP, `POST /vouchers`).
pub(crate) fn bearer(req: &Request<Incoming>) -> Option<String> {
	let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
	let (scheme, token) = v.split_once(' ')?;
	scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

/// The largest accepted SDP offer.
const MAX_OFFER_BYTES: usize = 64 * 1024;

/// The `application/sdp` body of an offer (WHIP, WHEP, an edge's pull), read within `timeout`;
/// or the status and message to refuse it with.
pub(crate) async fn read_sdp(
	req: Request<Incoming>,
	timeout: Duration,
) -> Result<String, (StatusCode, &'static str)> {
	let is_sdp = req
		.headers()
		.get(header::CONTENT_TYPE)
		.and_then(|v| v.to_str().ok())
		.is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/sdp"));
	if !is_sdp {
		return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, "the offer must be application/sdp"));
	}
	// A slow body must not hold a connection and its task.
	let limited = Limited::new(req.into_body(), MAX_OFFER_BYTES);
	let body = match tokio::time::timeout(timeout, limited.collect()).await {
		Ok(Ok(b)) => b.to_bytes(),
		Ok(Err(_)) => return Err((StatusCode::PAYLOAD_TOO_LARGE, "the offer is too large")),
		Err(_) => return Err((StatusCode::REQUEST_TIMEOUT, "the offer took too long")),
	};
	String::from_utf8(body.to_vec())
		.map_err(|_| (StatusCode::BAD_REQUEST, "the offer is not UTF-8"))
}

/// Whether a request costs enough work (an SDP offer, a signature check and a write) to be
/// rate-limited per client address.
fn is_costly(method: &Method, path: &str) -> bool {
	*method == Method::POST
		&& (path.starts_with("/whip/")
			|| path.starts_with("/whep/")
			|| path.starts_with("/edge/")
			|| path == "/close"
			|| path == "/vouchers")
		|| (*method == Method::GET && path.starts_with("/replay/"))
}

async fn dispatch(
	req: Request<Incoming>,
	sidecar: Sidecar,
	shutdown: watch::Receiver<bool>,
	permit: Arc<Permit>,
) -> Response<Body> {
	if is_costly(req.method(), req.uri().path()) {
		if let Err(turned) = sidecar.door.request(permit.ip()) {
			sidecar.metrics.turned_away.with_label_values(&[turned.as_str()]).inc();
			let mut r =
				response(StatusCode::TOO_MANY_REQUESTS, "text/plain", format!("{turned}\n"));
			r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
			return whole(r);
		}
	}
	if req.method() == Method::GET && req.uri().path().starts_with("/replay/") {
		return crate::transport::replay::get(req, &sidecar).await;
	}
	whole(route(req, sidecar, shutdown, permit).await)
}

async fn route(
	req: Request<Incoming>,
	sidecar: Sidecar,
	shutdown: watch::Receiver<bool>,
	permit: Arc<Permit>,
) -> Response<Full<Bytes>> {
	match (req.method(), req.uri().path()) {
		(&Method::GET, "/ws") => upgrade(req, sidecar, shutdown, permit),
		(&Method::GET, "/health") => health(&sidecar).await,
		(&Method::GET, "/metrics") => {
			response(StatusCode::OK, "text/plain; version=0.0.4", sidecar.metrics.encode())
		},
		(_, p) if p.starts_with("/whip/") || p.starts_with("/whep/") => {
			crate::transport::whip::handle(req, sidecar).await
		},
		(&Method::POST, p) if p.starts_with("/edge/") => {
			crate::transport::edge::pull(req, sidecar).await
		},
		(&Method::POST, "/close") => crate::transport::vouchers::close(req, &sidecar).await,
		(&Method::POST, "/vouchers") => crate::transport::vouchers::post(req, &sidecar).await,
		(&Method::OPTIONS, "/close" | "/vouchers") => crate::transport::vouchers::preflight(),
		(&Method::GET, "/config.json") => crate::transport::web::config(&sidecar),
		(&Method::GET, "/media/stats") => crate::transport::web::media_stats(&sidecar),
		(&Method::GET, p) => crate::transport::web::file(&sidecar, p).await,
		_ => response(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
	}
}

fn header_has(req: &Request<Incoming>, name: header::HeaderName, token: &str) -> bool {
	req.headers().get_all(name).iter().any(|v| {
		v.to_str()
			.map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
			.unwrap_or(false)
	})
}

fn upgrade(
	mut req: Request<Incoming>,
	sidecar: Sidecar,
	shutdown: watch::Receiver<bool>,
	permit: Arc<Permit>,
) -> Response<Full<Bytes>> {
	let key = req.headers().get(header::SEC_WEBSOCKET_KEY).map(|k| k.as_bytes().to_vec());
	let version_ok =
		req.headers().get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v.as_bytes() == b"13");
	let (Some(key), true, true, true) = (
		key,
		version_ok,
		header_has(&req, header::UPGRADE, "websocket"),
		header_has(&req, header::CONNECTION, "upgrade"),
	) else {
		let mut r = response(
			StatusCode::UPGRADE_REQUIRED,
			"text/plain",
			"a WebSocket (version 13) upgrade is required\n",
		);
		r.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
		return r;
	};
	let accept = derive_accept_key(&key);
	// The challenge names the origin the client reached us at, if it is one of ours.
	let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
	let audience = sidecar.settings.audience_for(host).to_owned();
	let on_upgrade = hyper::upgrade::on(&mut req);
	let config = ws_config(sidecar.settings.max_message_bytes);
	tokio::spawn(async move {
		match on_upgrade.await {
			Ok(upgraded) => {
				let socket = WebSocketStream::from_raw_socket(
					TokioIo::new(upgraded),
					Role::Server,
					Some(config),
				)
				.await;
				ws::run(socket, sidecar, shutdown, audience).await;
				drop(permit);
			},
			Err(e) => tracing::debug!("WebSocket upgrade failed: {e}"),
		}
	});
	let mut r = Response::new(Full::new(Bytes::new()));
	*r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
	let headers = r.headers_mut();
	headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
	headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
	if let Ok(v) = HeaderValue::from_str(&accept) {
		headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
	}
	r
}

async fn health(sidecar: &Sidecar) -> Response<Full<Bytes>> {
	let chain_connected = sidecar.chain.is_connected();
	let db_ok =
		matches!(tokio::time::timeout(DB_PING_TIMEOUT, sidecar.store.ping()).await, Ok(Ok(())));
	let healthy = chain_connected && db_ok;
	let body = serde_json::json!({
		"status": if healthy { "ok" } else { "degraded" },
		"chain_connected": chain_connected,
		"best_block": sidecar.chain.best_block(),
		"db_ok": db_ok,
	});
	let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
	response(status, "application/json", body.to_string())
}
