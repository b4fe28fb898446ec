//! The sidecar's WebSocket connection handler (`transport::ws::run`), the real one, over an
//! in-memory stream: what a stranger, a viewer or a creator can send once connected.
//!
//! Input: a first byte of flags (bit 0: log in as Bob first, bit 1: then watch stream 1 with
//! his session 100, bit 2: log in as Alice, the stream's creator, instead), then frames
//! separated by `0xff` (never in UTF-8): valid UTF-8 goes as a text frame, anything else as a
//! binary one. The connection is closed after the last frame and must close within 10 s.
//!
//! One sidecar serves every input (an offline chain view: stream 1 by Alice, live, price 10;
//! sessions 100 of Bob and 101 of Charlie), so state carries over between inputs (sessions'
//! acknowledged seconds, chat history, rate limits) as it does between real connections.

use futures::{SinkExt, StreamExt};
use sp_core::{sr25519, Pair, H256};
use std::{sync::OnceLock, time::Duration};
use tokio_tungstenite::{
	tungstenite::{protocol::Role, Message},
	WebSocketStream,
};
use vilokanam_chain_client::{voucher, Signature, StreamStatus, VoucherEncoding};
use vilokanam_sidecar::{
	access::identity,
	chain::view::{account_of, SessionEntry, StreamEntry},
	protocol::{self, ClientMessage, Crypto, Encoding, HexBytes, ServerMessage, Signer},
	store::StoreConfig,
	transport::{http, ws},
	ChainView, Metrics, Settings, Sidecar, Store,
};

const GENESIS: H256 = H256::repeat_byte(0x11);
const AUDIENCE: &str = "http://sidecar.fuzz";
/// The most frames one input sends.
const MAX_FRAMES: usize = 64;

struct World {
	rt: tokio::runtime::Runtime,
	sidecar: Sidecar,
	_dir: tempfile::TempDir,
}

fn pair(name: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//{name}"), None).expect("a dev key")
}

fn world() -> &'static World {
	static WORLD: OnceLock<World> = OnceLock::new();
	WORLD.get_or_init(|| {
		let rt =
			tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
		// In memory where the machine has it (fsyncs there cost nothing), committed at once:
		// durability is not what is fuzzed, and a commit per input would cap the rate at the
		// disk's.
		let dir = if std::path::Path::new("/dev/shm").is_dir() {
			tempfile::tempdir_in("/dev/shm")
		} else {
			tempfile::tempdir()
		}
		.expect("a temp dir");
		let config = StoreConfig { group_window: Duration::ZERO, ..StoreConfig::default() };
		let store = Store::open_with(dir.path().join("fuzz.sqlite"), config).expect("the store");
		let chain = ChainView::offline(GENESIS);
		chain.insert_stream(StreamEntry::new(
			1,
			account_of(&pair("Alice")),
			10,
			StreamStatus::Live,
		));
		let opened = vilokanam_sidecar::clock::unix_ms().saturating_sub(3_600_000);
		for (id, who) in [(100, "Bob"), (101, "Charlie")] {
			chain.insert_session(SessionEntry::new(
				id,
				account_of(&pair(who)),
				1,
				10,
				opened,
				1_000_000,
				0,
			));
		}
		let settings =
			Settings { audiences: vec![AUDIENCE.to_owned()].into(), ..Settings::default() };
		let sidecar = rt.block_on(async {
			let sidecar = Sidecar::new(chain, store, Metrics::new().expect("metrics"), settings);
			sidecar.spawn_background();
			sidecar
		});
		World { rt, sidecar, _dir: dir }
	})
}

type Client = WebSocketStream<tokio::io::DuplexStream>;

async fn next(ws: &mut Client) -> Option<ServerMessage> {
	loop {
		match ws.next().await? {
			Ok(Message::Text(t)) => return protocol::decode_server(t.as_str()).ok(),
			Ok(Message::Close(_)) | Err(_) => return None,
			Ok(_) => {},
		}
	}
}

async fn send(ws: &mut Client, msg: &ClientMessage) {
	let _ = ws.send(Message::text(protocol::encode_client(msg))).await;
}

/// Logs in as `who` (answers the challenge); whether the server said so.
async fn login(ws: &mut Client, who: &sr25519::Pair) -> bool {
	let Some(ServerMessage::Challenge { nonce, audience, .. }) = next(ws).await else {
		return false;
	};
	let signature = identity::sign_auth_sr25519(who, &GENESIS, &audience, &nonce.0, Encoding::Raw);
	let auth = ClientMessage::Auth {
		account: protocol::account_to_ss58(&account_of(who)),
		crypto: Crypto::Sr25519,
		signature: HexBytes(signature),
		encoding: Encoding::Raw,
		session_id: None,
	};
	send(ws, &auth).await;
	matches!(next(ws).await, Some(ServerMessage::Authenticated { .. }))
}

/// One connection: see the module documentation.
pub fn run(data: &[u8]) {
	let Some((&flags, rest)) = data.split_first() else { return };
	let w = world();
	w.rt.block_on(async {
		let (client_io, server_io) = tokio::io::duplex(64 * 1024);
		let config = Some(http::ws_config(w.sidecar.settings.max_message_bytes));
		let server = WebSocketStream::from_raw_socket(server_io, Role::Server, config).await;
		let (_shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
		let handler =
			tokio::spawn(ws::run(server, w.sidecar.clone(), shutdown_rx, AUDIENCE.to_owned()));
		let mut client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
		let session = async {
			if flags & 0b001 != 0 || flags & 0b100 != 0 {
				let who = if flags & 0b100 != 0 { pair("Alice") } else { pair("Bob") };
				if login(&mut client, &who).await && flags & 0b010 != 0 {
					send(&mut client, &ClientMessage::Watch { stream_id: 1, session_id: 100 })
						.await;
				}
			}
			for part in crate::parts(rest, 0xff, MAX_FRAMES) {
				let msg = match std::str::from_utf8(part) {
					Ok(text) => Message::text(text),
					Err(_) => Message::binary(part.to_vec()),
				};
				if client.send(msg).await.is_err() {
					break;
				}
			}
			let _ = client.close(None).await;
			while next(&mut client).await.is_some() {}
		};
		tokio::time::timeout(Duration::from_secs(10), session)
			.await
			.expect("the connection closes within 10 s of the client's close");
		tokio::time::timeout(Duration::from_secs(10), handler)
			.await
			.expect("the handler ends within 10 s of the close")
			.expect("the handler does not panic");
	});
}

/// A heartbeat of Bob's session 100, signed.
fn heartbeat(cumulative: u64) -> ClientMessage {
	let Signature::Sr25519(sig) =
		voucher::sign(&pair("Bob"), &GENESIS, 100, cumulative, VoucherEncoding::Raw)
	else {
		unreachable!("voucher::sign signs sr25519")
	};
	ClientMessage::Heartbeat {
		session_id: 100,
		cumulative_seconds: cumulative,
		encoding: Encoding::Raw,
		crypto: Crypto::Sr25519,
		signature: HexBytes(sig.0),
		signer: Signer::Viewer,
	}
}

/// Well-formed sessions: a viewer's heartbeats and chat, a creator's publish and token, junk.
pub fn seeds() -> Vec<Vec<u8>> {
	let join = |flags: u8, msgs: &[ClientMessage]| {
		let mut out = vec![flags];
		for (i, m) in msgs.iter().enumerate() {
			if i > 0 {
				out.push(0xff);
			}
			out.extend_from_slice(protocol::encode_client(m).as_bytes());
		}
		out
	};
	vec![
		join(0b011, &[heartbeat(1), heartbeat(2), ClientMessage::Chat { text: "hi".into() }]),
		join(0b011, &[heartbeat(5), heartbeat(5), heartbeat(4_000_000)]),
		join(
			0b101,
			&[
				ClientMessage::Publish { stream_id: 1 },
				ClientMessage::PublishToken { stream_id: 1, rotate: true },
			],
		),
		join(0b001, &[ClientMessage::Watch { stream_id: 1, session_id: 101 }]),
		join(0, &[heartbeat(1)]),
		b"\x00{\"v\":1,\"type\":\"auth\"}\xff\x80\x81".to_vec(),
	]
}

#[cfg(test)]
mod tests {
	use super::*;

	/// The harness reaches what it is for: a logged-in viewer's heartbeats are acknowledged
	/// and stored.
	#[test]
	fn seeds_reach_the_voucher_path() {
		for seed in seeds() {
			run(&seed);
		}
		let w = world();
		let stored = w.rt.block_on(w.sidecar.store.latest_voucher(100)).expect("the store");
		assert!(stored.is_some_and(|v| v.cumulative_seconds >= 2), "Bob's heartbeats stored");
	}
}
