//! Replays over HTTP: `GET /replay/{stream}.webm?ticket=<watch token>` serves an ended
//! stream's recording to the viewer of a replay session, paced by its vouchers.
//!
//! A `<video src>` cannot send `Authorization`, so the watch token (from the WebSocket's
//! `replay` message) rides in the query; it names the session and its viewer, and the chain
//! is asked, per request and per chunk, whether that session may still watch the replay
//! ([`crate::access::rights::replay_standing`]). Ranges (`bytes=a-b`, `a-`, `-n`) are answered
//! with `206`; each chunk is sent only as the session's budget allows
//! ([`crate::billing::pacing`]): when the viewer's vouchers stop, the body stalls (the player
//! buffers, then waits) and ends after [`MAX_STALL`]. Vouchers go to `POST /vouchers` with
//! the same token.
//!
//! Deletion: the creator's `delete_replay` (WebSocket), and [`forget_removed`] when the chain
//! removes the stream.

use crate::{
	access::rights::{self, Refusal},
	billing::pacing::MediaMap,
	chain::view::{SessionEntry, StreamEntry},
	store::StoredReplay,
	transport::http::Body,
	Sidecar,
};
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::{
	body::{Bytes, Frame, Incoming},
	header::{self, HeaderValue},
	Request, Response, StatusCode,
};
use std::{
	sync::Arc,
	time::{Duration, Instant},
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The most bytes sent at once.
const CHUNK: u64 = 64 * 1024;
/// How often a stalled body asks again whether more may be sent.
const STALL_POLL: Duration = Duration::from_millis(250);
/// A body stalled this long (no vouchers) ends.
pub const MAX_STALL: Duration = Duration::from_secs(60);

/// A byte range of a file, `start..=end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
	/// First byte.
	pub start: u64,
	/// Last byte (inclusive).
	pub end: u64,
}

/// Why a `Range` header cannot be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
	/// Not one `bytes=` range (several, another unit, or not numbers).
	Unsupported,
	/// Outside the file.
	Unsatisfiable,
}

/// The single byte range `header` asks of a file of `size` bytes (`None`: the whole file).
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<ByteRange>, RangeError> {
	let Some(header) = header else { return Ok(None) };
	let spec = header.trim().strip_prefix("bytes=").ok_or(RangeError::Unsupported)?;
	if spec.contains(',') {
		return Err(RangeError::Unsupported);
	}
	let (first, last) = spec.split_once('-').ok_or(RangeError::Unsupported)?;
	let number = |s: &str| s.trim().parse::<u64>().map_err(|_| RangeError::Unsupported);
	let range = match (first.trim().is_empty(), last.trim().is_empty()) {
		// `-n`: the last n bytes.
		(true, false) => {
			let n = number(last)?;
			if n == 0 || size == 0 {
				return Err(RangeError::Unsatisfiable);
			}
			ByteRange { start: size.saturating_sub(n), end: size - 1 }
		},
		(false, true) => ByteRange { start: number(first)?, end: size.saturating_sub(1) },
		(false, false) => {
			let (start, end) = (number(first)?, number(last)?);
			if end < start {
				return Err(RangeError::Unsupported);
			}
			ByteRange { start, end: end.min(size.saturating_sub(1)) }
		},
		(true, true) => return Err(RangeError::Unsupported),
	};
	if range.start >= size {
		return Err(RangeError::Unsatisfiable);
	}
	Ok(Some(range))
}

/// The stream id of a `/replay/{stream}.webm` path.
fn stream_of(path: &str) -> Option<u64> {
	let id = path.strip_prefix("/replay/")?.strip_suffix(".webm")?;
	if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
		return None;
	}
	id.parse().ok()
}

/// The `ticket` query parameter.
fn ticket(req: &Request<Incoming>) -> Option<&str> {
	req.uri().query()?.split('&').find_map(|kv| kv.strip_prefix("ticket="))
}

fn text(status: StatusCode, message: impl std::fmt::Display) -> Response<Body> {
	let mut r = Response::new(
		Full::new(Bytes::from(format!("{message}\n")))
			.map_err(|never| match never {})
			.boxed_unsync(),
	);
	*r.status_mut() = status;
	r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
	r
}

fn refused(r: &Refusal) -> StatusCode {
	match r {
		Refusal::NoStream(_) | Refusal::NoOpenSession(_) => StatusCode::NOT_FOUND,
		Refusal::Chain(_) => StatusCode::SERVICE_UNAVAILABLE,
		_ => StatusCode::FORBIDDEN,
	}
}

/// `GET /replay/{stream}.webm?ticket=…`.
pub async fn get(req: Request<Incoming>, sidecar: &Sidecar) -> Response<Body> {
	let Some(stream_id) = stream_of(req.uri().path()) else {
		return text(StatusCode::NOT_FOUND, "not found");
	};
	let Some(ticket) = ticket(&req) else {
		return text(StatusCode::UNAUTHORIZED, "a replay ticket is required");
	};
	// A forged ticket costs one hash, before the chain or the store is asked anything.
	let (session_id, viewer) = match sidecar.tokens.check_watch(ticket) {
		Ok(claims) => claims,
		Err(e) => return text(StatusCode::UNAUTHORIZED, e),
	};
	let right =
		rights::may_replay(&sidecar.chain, &sidecar.terms, stream_id, session_id, |a| *a == viewer)
			.await;
	let right = match right {
		Ok(right) => right,
		Err(r) => return text(refused(&r), r),
	};
	let replay = match sidecar.store.replay(stream_id).await {
		Ok(Some(r)) => r,
		Ok(None) => return text(StatusCode::NOT_FOUND, "this stream was not recorded here"),
		Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e),
	};
	let mut file = match tokio::fs::File::open(&replay.path).await {
		Ok(f) => f,
		Err(e) => {
			tracing::warn!(stream_id, "the replay's file {} is gone: {e}", replay.path);
			return text(StatusCode::NOT_FOUND, "the recording is gone");
		},
	};
	let size = match file.metadata().await {
		Ok(m) => m.len(),
		Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e),
	};
	let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok());
	let range = match parse_range(range, size) {
		Ok(r) => r,
		Err(RangeError::Unsupported) => {
			return text(StatusCode::RANGE_NOT_SATISFIABLE, "one bytes= range is served");
		},
		Err(RangeError::Unsatisfiable) => {
			let mut r = text(StatusCode::RANGE_NOT_SATISFIABLE, "the range is outside the file");
			if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
				r.headers_mut().insert(header::CONTENT_RANGE, v);
			}
			return r;
		},
	};
	let whole = ByteRange { start: 0, end: size.saturating_sub(1) };
	let served = range.unwrap_or(whole);
	if let Err(e) = file.seek(std::io::SeekFrom::Start(served.start)).await {
		return text(StatusCode::INTERNAL_SERVER_ERROR, e);
	}
	// Each request's grant: a seek shows frames at once even with the lead spent reading ahead.
	let grant_us = sidecar.replays.begin(session_id, right.session.last_acked());
	let sending = Sending {
		file,
		pos: served.start,
		end: if size == 0 { 0 } else { served.end + 1 },
		stream: right.stream,
		session: right.session,
		map: Arc::new(media_map(&replay)),
		grant_us,
		sidecar: sidecar.clone(),
		stalled_since: None,
	};
	let body = StreamBody::new(futures::stream::unfold(sending, next_chunk).boxed());
	let mut r = Response::new(BodyExt::boxed_unsync(body));
	let h = r.headers_mut();
	h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/webm"));
	h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
	// Paid media: no cache may keep it for someone else.
	h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
	let length = if size == 0 { 0 } else { served.end - served.start + 1 };
	h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
	if range.is_some() {
		*r.status_mut() = StatusCode::PARTIAL_CONTENT;
		let v = format!("bytes {}-{}/{size}", served.start, served.end);
		if let Ok(v) = HeaderValue::from_str(&v) {
			r.headers_mut().insert(header::CONTENT_RANGE, v);
		}
	}
	r
}

fn media_map(r: &StoredReplay) -> MediaMap {
	MediaMap::new(&r.clusters, r.media_end, r.duration_ms)
}

/// A body being sent.
struct Sending {
	file: tokio::fs::File,
	pos: u64,
	/// One past the last byte.
	end: u64,
	stream: Arc<StreamEntry>,
	session: Arc<SessionEntry>,
	map: Arc<MediaMap>,
	/// What is left of this request's grant (µs of media).
	grant_us: u64,
	sidecar: Sidecar,
	stalled_since: Option<Instant>,
}

/// The next chunk the session may be sent, once it may; `None` ends the body (all sent, the
/// right lapsed, or stalled for [`MAX_STALL`]).
async fn next_chunk(mut s: Sending) -> Option<(Result<Frame<Bytes>, std::io::Error>, Sending)> {
	loop {
		if s.pos >= s.end {
			return None;
		}
		let banned = s.sidecar.chain.is_banned_cached(&s.stream.creator, &s.session.viewer);
		if let Err(r) = rights::replay_standing(&s.stream, &s.session, banned) {
			tracing::debug!(session = s.session.id, "replay ended: {r}");
			if s.session.is_closed() {
				s.sidecar.replays.forget(s.session.id);
			}
			return None;
		}
		let want = (s.end - s.pos).min(CHUNK);
		let acked = s.session.last_acked();
		let n = s.sidecar.replays.take(s.session.id, acked, &mut s.grant_us, &s.map, s.pos, want);
		if n == 0 {
			let since = *s.stalled_since.get_or_insert_with(Instant::now);
			if since.elapsed() >= MAX_STALL {
				tracing::debug!(session = s.session.id, "replay stalled too long: ended");
				return None;
			}
			tokio::time::sleep(STALL_POLL).await;
			continue;
		}
		s.stalled_since = None;
		let mut chunk = vec![0u8; n as usize];
		if let Err(e) = s.file.read_exact(&mut chunk).await {
			return Some((Err(e), Sending { end: 0, ..s }));
		}
		s.pos += n;
		s.sidecar.metrics.replay_bytes.inc_by(n);
		return Some((Ok(Frame::data(Bytes::from(chunk))), s));
	}
}

/// Keep a finished recording for replays (called with each one the SFU reports).
pub async fn keep(store: &crate::store::Store, recorded: vilokanam_sfu::recorder::Recorded) {
	let index = recorded.index;
	let replay = StoredReplay {
		stream_id: recorded.stream_id,
		path: recorded.path.to_string_lossy().into_owned(),
		bytes: index.bytes,
		duration_ms: index.duration_ms,
		clusters: index.clusters.iter().map(|c| (c.time_ms, c.offset)).collect(),
		media_end: index.media_end,
	};
	if let Err(e) = store.put_replay(replay).await {
		tracing::error!(stream = recorded.stream_id, "cannot keep the recording: {e}");
	}
}

/// Delete a stream's recordings (files and rows); returns how many files went.
pub async fn delete(sidecar: &Sidecar, stream_id: u64) -> Result<usize, crate::store::StoreError> {
	let paths = sidecar.store.delete_replays(stream_id).await?;
	let mut deleted = 0;
	for path in paths {
		match tokio::fs::remove_file(&path).await {
			Ok(()) => deleted += 1,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => {},
			Err(e) => tracing::warn!(stream_id, "cannot delete the recording {path}: {e}"),
		}
	}
	Ok(deleted)
}

/// Delete the recordings of streams the chain removes, as the chain view reports them.
pub async fn forget_removed(sidecar: Sidecar) {
	let mut removals = sidecar.chain.subscribe_removals();
	loop {
		let stream_id = match removals.recv().await {
			Ok(id) => id,
			Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
				tracing::warn!("missed {n} stream removals: their recordings stay until deleted");
				continue;
			},
			Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
		};
		match delete(&sidecar, stream_id).await {
			Ok(0) => {},
			Ok(n) => tracing::info!(stream_id, "stream removed: {n} recording(s) deleted"),
			Err(e) => tracing::warn!(stream_id, "cannot delete the recordings: {e}"),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn ranges_are_parsed_as_browsers_send_them_and_nothing_else() {
		let r = |start, end| Ok(Some(ByteRange { start, end }));
		assert_eq!(parse_range(None, 100), Ok(None));
		assert_eq!(parse_range(Some("bytes=0-"), 100), r(0, 99));
		assert_eq!(parse_range(Some("bytes=10-19"), 100), r(10, 19));
		assert_eq!(parse_range(Some("bytes=90-500"), 100), r(90, 99), "clamped to the file");
		assert_eq!(parse_range(Some("bytes=-10"), 100), r(90, 99));
		assert_eq!(parse_range(Some("bytes=-500"), 100), r(0, 99));
		use RangeError::*;
		assert_eq!(parse_range(Some("bytes=100-"), 100), Err(Unsatisfiable));
		assert_eq!(parse_range(Some("bytes=-0"), 100), Err(Unsatisfiable));
		for bad in ["items=0-1", "bytes=0-1,5-9", "bytes=5-1", "bytes=-", "bytes=a-b", "bytes=1"] {
			assert_eq!(parse_range(Some(bad), 100), Err(Unsupported), "{bad}");
		}
	}

	#[test]
	fn only_replay_paths_name_a_stream() {
		assert_eq!(stream_of("/replay/7.webm"), Some(7));
		for bad in
			["/replay/.webm", "/replay/7", "/replay/x.webm", "/replay/-1.webm", "/replays/7.webm"]
		{
			assert_eq!(stream_of(bad), None, "{bad}");
		}
	}
}
