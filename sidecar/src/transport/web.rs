//! The web pages (viewer and creator), served from `--web-dir`, and what they need to know.
//!
//! - `GET /config.json`: where the chain node is, whether to offer development accounts, the
//!   media server's candidate, and whether members get TURN servers (never a credential);
//! - `GET /media/stats`: the SFU's once-per-second snapshot (rooms, publishers, viewers);
//! - any other `GET`: a file under the web directory (`/` is `index.html`); paths are
//!   confined to that directory.

use crate::{transport::http::response, Sidecar};
use http_body_util::Full;
use hyper::{
	body::Bytes,
	header::{self, HeaderValue},
	Response, StatusCode,
};
use std::path::{Component, Path, PathBuf};
use vilokanam_sfu::MediaSnapshot;

/// `GET /config.json`.
pub fn config(sidecar: &Sidecar) -> Response<Full<Bytes>> {
	let body = serde_json::json!({
		"node_url": sidecar.web.node_url,
		"ws_path": "/ws",
		"dev": sidecar.web.dev_accounts,
		"media": sidecar.media.as_ref().map(|m| m.candidate().to_string()),
		// Members get TURN credentials in `joined`; only whether there are any is public.
		"turn": sidecar.turn.is_some(),
		"genesis": sidecar.chain.genesis().map(|g| format!("{g:?}")),
		// How late a voucher may be before the media pauses.
		"voucher_grace_ms": sidecar.settings.voucher_grace.as_millis() as u64,
		// The account creators name as their streams' relayer when they use this sidecar.
		"relayer": sidecar.relayer.as_ref().map(crate::protocol::account_to_ss58),
		// The terms it serves streams on (`access::terms`): the lowest price per second (a
		// decimal string, as the chain's JSON gives balances) and the relayer's lowest share
		// of the creator's part, which a stream's split must give it.
		"relayer_terms": {
			"min_price_per_second": sidecar.terms.min_price_per_second.to_string(),
			"min_relayer_share_ppm": sidecar.terms.min_relayer_share.deconstruct(),
			"min_settle_seconds": sidecar.terms.min_settle_seconds,
		},
		// Its edges' WebSocket URLs: a stream's endpoint names them after this sidecar.
		"edge_urls": sidecar.web.edge_urls,
	});
	let mut r = response(StatusCode::OK, "application/json", body.to_string());
	r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
	r
}

/// `GET /media/stats`, open to anyone: viewers' accounts are left out (who watches what is
/// theirs to tell), the publishers' (the streams' creators, public on chain) are kept.
pub fn media_stats(sidecar: &Sidecar) -> Response<Full<Bytes>> {
	match &sidecar.media {
		Some(m) => match serde_json::to_string(&without_viewer_accounts(m.snapshot())) {
			Ok(body) => response(StatusCode::OK, "application/json", body),
			Err(_) => response(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "stats\n"),
		},
		None => response(StatusCode::NOT_FOUND, "text/plain", "no media server\n"),
	}
}

fn without_viewer_accounts(mut snapshot: MediaSnapshot) -> MediaSnapshot {
	for viewer in snapshot.rooms.iter_mut().flat_map(|r| r.viewers.iter_mut()) {
		viewer.label.clear();
	}
	snapshot
}

fn content_type(path: &Path) -> &'static str {
	match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
		"html" => "text/html; charset=utf-8",
		"js" | "mjs" => "text/javascript; charset=utf-8",
		"css" => "text/css; charset=utf-8",
		"json" | "map" => "application/json",
		"svg" => "image/svg+xml",
		"png" => "image/png",
		"ico" => "image/x-icon",
		"wasm" => "application/wasm",
		"txt" => "text/plain; charset=utf-8",
		_ => "application/octet-stream",
	}
}

/// The file `url_path` names under `root`, if it is a plain relative path.
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
	let rel = url_path.trim_start_matches('/');
	let rel = if rel.is_empty() { "index.html" } else { rel };
	let mut out = root.to_path_buf();
	for c in Path::new(rel).components() {
		match c {
			Component::Normal(p) => out.push(p),
			// `..`, absolute paths, prefixes: never leave the root.
			_ => return None,
		}
	}
	Some(out)
}

/// Any other `GET`: a static file.
pub async fn file(sidecar: &Sidecar, url_path: &str) -> Response<Full<Bytes>> {
	let not_found = || response(StatusCode::NOT_FOUND, "text/plain", "not found\n");
	let Some(root) = &sidecar.web.dir else { return not_found() };
	let Some(path) = resolve(root, url_path) else { return not_found() };
	match tokio::fs::read(&path).await {
		Ok(bytes) => {
			let mut r = response(StatusCode::OK, content_type(&path), bytes);
			// Pages change with each build; assets are small. Revalidate always.
			r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
			r
		},
		Err(_) => not_found(),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn paths_stay_inside_the_root() {
		let root = Path::new("/srv/web");
		assert_eq!(resolve(root, "/"), Some(PathBuf::from("/srv/web/index.html")));
		assert_eq!(resolve(root, "/assets/app.js"), Some(PathBuf::from("/srv/web/assets/app.js")));
		assert_eq!(resolve(root, "/../etc/passwd"), None);
		assert_eq!(resolve(root, "/a/../../b"), None);
		assert_eq!(resolve(root, "//etc/passwd"), Some(PathBuf::from("/srv/web/etc/passwd")));
	}
}
