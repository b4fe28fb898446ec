//! The WebSocket protocol end to end, over real sockets, with a chain view seeded without a node.

use futures::{SinkExt, StreamExt};
use sp_core::{sr25519, Pair, H256};
use std::{net::SocketAddr, time::Duration};
use tokio::{
	io::{AsyncReadExt, AsyncWriteExt},
	net::TcpStream,
	sync::watch,
};
use tokio_tungstenite::{
	tungstenite::{protocol::frame::coding::CloseCode, Message},
	MaybeTlsStream, WebSocketStream,
};
use vilokanam_chain_client::{voucher, RuntimeEvent, Signature, StreamStatus, VoucherEncoding};
use vilokanam_sfu::{MediaConfig, MediaServer};
use vilokanam_sidecar::{
	access::identity,
	chain::view::{account_of, SessionEntry, StreamEntry},
	protocol::{
		self, ClientMessage, Crypto, Encoding, ErrorCode, HexBytes, RevokeReason, Role,
		ServerMessage, SignalPayload, Signer,
	},
	transport::http,
	ChainView, Metrics, Settings, Sidecar, Store, Tokens,
};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const GENESIS: H256 = H256::repeat_byte(0x11);

struct Server {
	addr: SocketAddr,
	chain: ChainView,
	store: Store,
	/// The WHIP/WHEP token issuer (the server's, when it has media).
	tokens: Tokens,
	_dir: tempfile::TempDir,
	_shutdown: watch::Sender<bool>,
}

fn pair(name: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//{name}"), None).unwrap()
}

/// Stream 1 by Alice (live, price 10); sessions 100 (Bob) and 101 (Charlie) on it, opened a
/// minute ago with 1,000 seconds paid.
async fn server(max_message_bytes: usize) -> Server {
	server_with(max_message_bytes, false).await
}

/// As [`server`], with the media server (SFU) when `media`.
async fn server_with(max_message_bytes: usize, media: bool) -> Server {
	server_tweaked(max_message_bytes, media, |_| {}).await
}

/// As [`server_with`], with settings changed by `tweak`.
async fn server_tweaked(
	max_message_bytes: usize,
	media: bool,
	tweak: impl FnOnce(&mut Settings),
) -> Server {
	server_relaying(max_message_bytes, media, tweak, None).await
}

/// As [`server_tweaked`], settling as `relayer` (so serving only the streams that name it).
async fn server_relaying(
	max_message_bytes: usize,
	media: bool,
	tweak: impl FnOnce(&mut Settings),
	relayer: Option<sp_core::crypto::AccountId32>,
) -> Server {
	server_built(max_message_bytes, media, tweak, move |sidecar| match relayer {
		Some(relayer) => sidecar.with_relayer(relayer),
		None => sidecar,
	})
	.await
}

/// As [`server_tweaked`], with the services changed by `build` (a relayer, TURN servers).
async fn server_built(
	max_message_bytes: usize,
	media: bool,
	tweak: impl FnOnce(&mut Settings),
	build: impl FnOnce(Sidecar) -> Sidecar,
) -> Server {
	let dir = tempfile::tempdir().unwrap();
	let store = Store::open(dir.path().join("db.sqlite")).unwrap();
	let chain = ChainView::offline(GENESIS);
	chain.insert_stream(StreamEntry::new(1, account_of(&pair("Alice")), 10, StreamStatus::Live));
	let opened = vilokanam_sidecar::clock::unix_ms() - 60_000;
	chain.insert_session(SessionEntry::new(100, account_of(&pair("Bob")), 1, 10, opened, 1_000, 0));
	chain.insert_session(SessionEntry::new(
		101,
		account_of(&pair("Charlie")),
		1,
		10,
		opened,
		1_000,
		0,
	));
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
	let addr = listener.local_addr().unwrap();
	let mut settings = Settings {
		max_message_bytes,
		chat_rate: 3,
		audiences: vec![format!("http://{addr}"), "https://sidecar.example".to_owned()].into(),
		..Settings::default()
	};
	tweak(&mut settings);
	let metrics = Metrics::new().unwrap();
	let mut sidecar = build(Sidecar::new(chain.clone(), store.clone(), metrics.clone(), settings));
	let tokens = Tokens::ephemeral();
	if media {
		let sfu = MediaServer::start(MediaConfig::default(), metrics.media.clone()).unwrap();
		sidecar = sidecar.with_media(sfu, tokens.clone());
	}
	sidecar.spawn_background();
	let (tx, rx) = watch::channel(false);
	tokio::spawn(http::serve(listener, sidecar, rx));
	Server { addr, chain, store, tokens, _dir: dir, _shutdown: tx }
}

async fn recv(ws: &mut Ws) -> ServerMessage {
	loop {
		let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
			.await
			.expect("a message within 10 s")
			.expect("open")
			.expect("no error");
		if let Message::Text(t) = msg {
			let m = protocol::decode_server(t.as_str()).unwrap();
			// Stats arrive every second; tests look at everything else.
			if !matches!(m, ServerMessage::Stats { .. }) {
				return m;
			}
		}
	}
}

async fn send(ws: &mut Ws, msg: &ClientMessage) {
	ws.send(Message::text(protocol::encode_client(msg))).await.unwrap();
}

async fn error_code(ws: &mut Ws) -> ErrorCode {
	match recv(ws).await {
		ServerMessage::Error { code, .. } => code,
		other => panic!("expected an error, got {other:?}"),
	}
}

/// Connect and read the challenge, which names the origin connected to.
async fn connect(s: &Server) -> (Ws, [u8; 32]) {
	let url = format!("ws://{}/ws", s.addr);
	let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
	let ServerMessage::Challenge { nonce, genesis, audience } = recv(&mut ws).await else {
		panic!()
	};
	assert_eq!(genesis.0, GENESIS.0);
	assert_eq!(Ok(audience), identity::audience_of(&url));
	(ws, nonce.0)
}

/// `who`'s answer to a challenge, signed as `signature` in `encoding`.
fn auth_message(who: &sr25519::Pair, signature: [u8; 64], encoding: Encoding) -> ClientMessage {
	ClientMessage::Auth {
		account: protocol::account_to_ss58(&account_of(who)),
		crypto: Crypto::Sr25519,
		signature: HexBytes(signature),
		encoding,
		session_id: None,
	}
}

/// Connect with `host` as the `Host` header; the challenge's audience and nonce.
async fn connect_as(s: &Server, host: &str) -> (Ws, String, [u8; 32]) {
	use tokio_tungstenite::tungstenite::client::IntoClientRequest;
	let mut request = format!("ws://{}/ws", s.addr).into_client_request().unwrap();
	request.headers_mut().insert("host", host.parse().unwrap());
	let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
	let ServerMessage::Challenge { audience, nonce, .. } = recv(&mut ws).await else { panic!() };
	(ws, audience, nonce.0)
}

/// The origin clients reach `s` at.
fn origin(s: &Server) -> String {
	format!("http://{}", s.addr)
}

async fn authed(s: &Server, who: &sr25519::Pair) -> Ws {
	let (mut ws, nonce) = connect(s).await;
	let signature =
		identity::sign_auth_sr25519(who, &GENESIS, &origin(s), &nonce, Encoding::Wrapped);
	send(&mut ws, &auth_message(who, signature, Encoding::Wrapped)).await;
	assert!(matches!(recv(&mut ws).await, ServerMessage::Authenticated { .. }));
	ws
}

fn heartbeat(who: &sr25519::Pair, session_id: u64, cumulative: u64) -> ClientMessage {
	let Signature::Sr25519(sig) =
		voucher::sign(who, &GENESIS, session_id, cumulative, VoucherEncoding::Raw)
	else {
		unreachable!()
	};
	ClientMessage::Heartbeat {
		session_id,
		cumulative_seconds: cumulative,
		encoding: Encoding::Raw,
		crypto: Crypto::Sr25519,
		signature: HexBytes(sig.0),
		signer: Signer::Viewer,
	}
}

#[tokio::test]
async fn auth_failures() {
	let s = server(16 * 1024).await;
	let (mut ws, nonce) = connect(&s).await;
	// Signed for another nonce.
	let bob = pair("Bob");
	let sig = identity::sign_auth_sr25519(&bob, &GENESIS, &origin(&s), &[0; 32], Encoding::Raw);
	let auth = |signature| auth_message(&bob, signature, Encoding::Raw);
	send(&mut ws, &auth(sig)).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::BadSignature);
	// Nothing but auth works before it.
	send(&mut ws, &ClientMessage::Watch { stream_id: 1, session_id: 100 }).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::Unauthenticated);
	send(&mut ws, &heartbeat(&bob, 100, 1)).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::Unauthenticated);
	// The right answer works.
	let right = identity::sign_auth_sr25519(&bob, &GENESIS, &origin(&s), &nonce, Encoding::Raw);
	send(&mut ws, &auth(right)).await;
	assert!(matches!(recv(&mut ws).await, ServerMessage::Authenticated { .. }));
}

/// The attack: a malicious sidecar (a stream's creator chooses it) opens a connection here,
/// shows our nonce to a visiting page and relays the page's answer. An honest page signs only
/// a challenge naming the origin it connected to, the malicious one: that answer is refused
/// here, and so is any for an origin that is not ours. Naming a foreign host cannot make us
/// issue a challenge for it.
#[tokio::test]
async fn relayed_login_is_refused() {
	let s = server(16 * 1024).await;
	let bob = pair("Bob");
	let auth = |signature| auth_message(&bob, signature, Encoding::Wrapped);
	for elsewhere in ["https://evil.example", "http://127.0.0.1:1", "http://localhost:7070"] {
		let (mut ws, nonce) = connect(&s).await;
		let relayed =
			identity::sign_auth_sr25519(&bob, &GENESIS, elsewhere, &nonce, Encoding::Wrapped);
		send(&mut ws, &auth(relayed)).await;
		assert_eq!(error_code(&mut ws).await, ErrorCode::BadSignature, "{elsewhere}");
		send(&mut ws, &ClientMessage::Watch { stream_id: 1, session_id: 100 }).await;
		assert_eq!(error_code(&mut ws).await, ErrorCode::Unauthenticated);
	}
	// A relay that sends its own Host gets a challenge naming our main origin, not its own.
	let (_, audience, _) = connect_as(&s, "evil.example").await;
	assert_eq!(audience, origin(&s));
	// Another of our own names is named when the client used it (a second public URL).
	let (mut ws, audience, nonce) = connect_as(&s, "Sidecar.Example").await;
	assert_eq!(audience, "https://sidecar.example");
	let signed = identity::sign_auth_sr25519(&bob, &GENESIS, &audience, &nonce, Encoding::Wrapped);
	// On a connection that reached us by our main name, an answer for the other is refused.
	let (mut ws2, ws2_nonce) = connect(&s).await;
	let other =
		identity::sign_auth_sr25519(&bob, &GENESIS, &audience, &ws2_nonce, Encoding::Wrapped);
	send(&mut ws2, &auth(other)).await;
	assert_eq!(error_code(&mut ws2).await, ErrorCode::BadSignature);
	send(&mut ws, &auth(signed)).await;
	assert!(matches!(recv(&mut ws).await, ServerMessage::Authenticated { .. }));
}

#[tokio::test]
async fn watch_heartbeat_ack() {
	let s = server(16 * 1024).await;
	let bob = pair("Bob");
	let mut ws = authed(&s, &bob).await;
	// Not Bob's session / no such session / not in the room yet.
	send(&mut ws, &heartbeat(&bob, 100, 1)).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::NotInRoom);
	send(&mut ws, &ClientMessage::Watch { stream_id: 1, session_id: 101 }).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::Forbidden);
	send(&mut ws, &ClientMessage::Watch { stream_id: 1, session_id: 999 }).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::NotFound);
	send(&mut ws, &ClientMessage::Watch { stream_id: 2, session_id: 100 }).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::NotFound);

	send(&mut ws, &ClientMessage::Watch { stream_id: 1, session_id: 100 }).await;
	let ServerMessage::Joined { role: Role::Viewer, stream_id: 1, peers, .. } = recv(&mut ws).await
	else {
		panic!()
	};
	assert!(peers.is_empty());
	assert!(matches!(recv(&mut ws).await, ServerMessage::ChatHistory { .. }));

	for c in [1, 2, 5] {
		send(&mut ws, &heartbeat(&bob, 100, c)).await;
		assert_eq!(
			recv(&mut ws).await,
			ServerMessage::Ack { session_id: 100, cumulative_seconds: c }
		);
	}
	// Pipelined: both are answered, in order.
	send(&mut ws, &heartbeat(&bob, 100, 6)).await;
	send(&mut ws, &heartbeat(&bob, 100, 7)).await;
	assert_eq!(recv(&mut ws).await, ServerMessage::Ack { session_id: 100, cumulative_seconds: 6 });
	assert_eq!(recv(&mut ws).await, ServerMessage::Ack { session_id: 100, cumulative_seconds: 7 });
	send(&mut ws, &heartbeat(&bob, 100, 7)).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::Stale);
	// Opened 60 s ago, grace 6 s.
	send(&mut ws, &heartbeat(&bob, 100, 200)).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::AheadOfTime);
	// Signed by somebody else.
	send(&mut ws, &heartbeat(&pair("Charlie"), 100, 8)).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::BadSignature);
	// Stored durably.
	let stored = s.store.latest_voucher(100).await.unwrap().unwrap();
	assert_eq!(stored.cumulative_seconds, 7);

	// A reconnect resumes above what was acknowledged.
	drop(ws);
	let mut ws = authed(&s, &bob).await;
	send(&mut ws, &ClientMessage::Watch { stream_id: 1, session_id: 100 }).await;
	assert!(matches!(recv(&mut ws).await, ServerMessage::Joined { .. }));
	assert!(matches!(recv(&mut ws).await, ServerMessage::ChatHistory { .. }));
	send(&mut ws, &heartbeat(&bob, 100, 7)).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::Stale);

	// Closing the session on chain revokes the viewer; the connection stays.
	s.chain.apply_events([RuntimeEvent::Ticks(pallet_ticks::Event::SessionClosed {
		session_id: 100,
		settled_seconds: 0,
		refunded: 0,
		reason: vilokanam_chain_client::CloseReason::Closed,
	})]);
	assert_eq!(recv(&mut ws).await, ServerMessage::Revoked { reason: RevokeReason::SessionClosed });
	send(&mut ws, &heartbeat(&bob, 100, 9)).await;
	assert_eq!(error_code(&mut ws).await, ErrorCode::NotInRoom);
}

#[tokio::test]
async fn publisher_viewer_signaling_and_chat() {
	let s = server(16 * 1024).await;
	let alice = pair("Alice");
	let bob = pair("Bob");
	let mut viewer = authed(&s, &bob).await;
	send(&mut viewer, &ClientMessage::Publish { stream_id: 1 }).await;
	assert_eq!(error_code(&mut viewer).await, ErrorCode::Forbidden);
	send(&mut viewer, &ClientMessage::Watch { stream_id: 1, session_id: 100 }).await;
	let ServerMessage::Joined { peer_id: viewer_id, .. } = recv(&mut viewer).await else {
		panic!()
	};
	let _history = recv(&mut viewer).await;

	let mut publisher = authed(&s, &alice).await;
	send(&mut publisher, &ClientMessage::Publish { stream_id: 1 }).await;
	let ServerMessage::Joined { role: Role::Publisher, peer_id: publisher_id, peers, .. } =
		recv(&mut publisher).await
	else {
		panic!()
	};
	assert_eq!(peers.len(), 1);
	assert_eq!(peers[0].peer_id, viewer_id);
	let _history = recv(&mut publisher).await;
	assert!(matches!(
		recv(&mut viewer).await,
		ServerMessage::PeerJoined { role: Role::Publisher, .. }
	));

	let offer = SignalPayload::Offer { sdp: "v=0".into() };
	send(&mut viewer, &ClientMessage::Signal { to: publisher_id, payload: offer.clone() }).await;
	assert_eq!(
		recv(&mut publisher).await,
		ServerMessage::Signal { from: viewer_id, payload: offer }
	);
	let candidate = SignalPayload::Candidate {
		candidate: "candidate:0 1 UDP 1 10.0.0.1 9 typ host".into(),
		sdp_mid: Some("0".into()),
		sdp_m_line_index: Some(0),
	};
	send(&mut publisher, &ClientMessage::Signal { to: viewer_id, payload: candidate.clone() })
		.await;
	assert_eq!(
		recv(&mut viewer).await,
		ServerMessage::Signal { from: publisher_id, payload: candidate }
	);

	send(&mut viewer, &ClientMessage::Chat { text: "hello".into() }).await;
	let ServerMessage::Chat(entry) = recv(&mut viewer).await else { panic!() };
	assert_eq!(recv(&mut publisher).await, ServerMessage::Chat(entry.clone()));
	assert_eq!(entry.from, protocol::account_to_ss58(&account_of(&bob)));
	send(&mut viewer, &ClientMessage::DeleteChat { id: entry.id }).await;
	assert_eq!(error_code(&mut viewer).await, ErrorCode::Forbidden);
	send(&mut publisher, &ClientMessage::DeleteChat { id: entry.id }).await;
	assert_eq!(recv(&mut publisher).await, ServerMessage::ChatDeleted { id: entry.id });
	assert_eq!(recv(&mut viewer).await, ServerMessage::ChatDeleted { id: entry.id });
	// Rate limit: 3 per 10 s.
	for _ in 0..2 {
		send(&mut viewer, &ClientMessage::Chat { text: "again".into() }).await;
		assert!(matches!(recv(&mut viewer).await, ServerMessage::Chat(_)));
	}
	send(&mut viewer, &ClientMessage::Chat { text: "too much".into() }).await;
	assert_eq!(error_code(&mut viewer).await, ErrorCode::RateLimited);

	// The creator bans the viewer on chain.
	s.chain.apply_events([RuntimeEvent::Streams(pallet_streams::Event::ViewerBanned {
		creator: account_of(&alice),
		viewer: account_of(&bob),
	})]);
	assert_eq!(recv(&mut viewer).await, ServerMessage::Revoked { reason: RevokeReason::Banned });
	send(&mut viewer, &ClientMessage::Watch { stream_id: 1, session_id: 100 }).await;
	assert_eq!(error_code(&mut viewer).await, ErrorCode::Forbidden);

	// The stream ends: everybody left is revoked.
	s.chain
		.apply_events([RuntimeEvent::Streams(pallet_streams::Event::StreamEnded { stream_id: 1 })]);
	loop {
		match recv(&mut publisher).await {
			ServerMessage::Revoked { reason } => {
				assert_eq!(reason, RevokeReason::StreamEnded);
				break;
			},
			// The viewer's departure and the chat that preceded it.
			ServerMessage::PeerLeft { .. } | ServerMessage::Chat(_) => {},
			other => panic!("unexpected {other:?}"),
		}
	}
}

#[tokio::test]
async fn bad_frames() {
	let s = server(2 * 1024).await;
	let (mut ws, _) = connect(&s).await;
	ws.send(Message::text("not json")).await.unwrap();
	assert_eq!(error_code(&mut ws).await, ErrorCode::BadJson);
	ws.send(Message::text(r#"{"v":1,"type":"fly"}"#)).await.unwrap();
	assert_eq!(error_code(&mut ws).await, ErrorCode::UnknownType);
	ws.send(Message::text(r#"{"v":9,"type":"leave"}"#)).await.unwrap();
	assert_eq!(error_code(&mut ws).await, ErrorCode::UnsupportedVersion);
	ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
	assert_eq!(error_code(&mut ws).await, ErrorCode::BadJson);
	ws.send(Message::text(r#"{"v":1,"type":"leave"}"#)).await.unwrap();
	assert_eq!(error_code(&mut ws).await, ErrorCode::NotInRoom);
	// Too large: an error, then a close with 1009.
	ws.send(Message::text("x".repeat(4 * 1024))).await.unwrap();
	assert_eq!(error_code(&mut ws).await, ErrorCode::TooLarge);
	let close = loop {
		match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap() {
			Some(Ok(Message::Close(frame))) => break frame,
			Some(Ok(_)) => continue,
			other => panic!("expected a close frame, got {other:?}"),
		}
	};
	assert_eq!(close.map(|f| f.code), Some(CloseCode::Size));
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
	let mut tcp = TcpStream::connect(addr).await.unwrap();
	tcp.write_all(
		format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
	)
	.await
	.unwrap();
	let mut out = String::new();
	tcp.read_to_string(&mut out).await.unwrap();
	out
}

/// A sidecar with a relayer key serves only the streams whose creators named its relayer, on
/// its terms (a price floor, a share of the revenue for the relayer): nobody can make it
/// acknowledge, store and pay to settle vouchers of any other stream.
#[tokio::test]
async fn only_streams_assigned_on_its_terms_are_served() {
	use sp_runtime::Permill;
	let ferdie = account_of(&pair("Ferdie"));
	let s = server_relaying(
		16 * 1024,
		false,
		|settings| {
			settings.min_price_per_second = 10;
			settings.min_relayer_share = Permill::from_percent(5);
			settings.min_settle_seconds = 10;
		},
		Some(ferdie.clone()),
	)
	.await;
	let (alice, bob) = (account_of(&pair("Alice")), pair("Bob"));
	let opened = vilokanam_sidecar::clock::unix_ms() - 60_000;
	// Stream → (price, relayer, the relayer's share): 2 meets the terms; 1 names no relayer,
	// 3 another relayer, 4 is priced below the floor, 5 gives the relayer too little, 6 is free.
	let streams: [(u64, u128, Option<&str>, u32); 5] = [
		(2, 10, Some("Ferdie"), 5),
		(3, 10, Some("Eve"), 5),
		(4, 9, Some("Ferdie"), 50),
		(5, 1_000, Some("Ferdie"), 4),
		(6, 0, Some("Ferdie"), 100),
	];
	for (id, price, relayer, share) in streams {
		let entry = StreamEntry::new(id, alice.clone(), price, StreamStatus::Live);
		let entry = match relayer {
			Some(r) => entry.with_relayer(account_of(&pair(r)), Permill::from_percent(share)),
			None => entry,
		};
		s.chain.insert_stream(entry);
		s.chain.insert_session(SessionEntry::new(
			id * 100,
			account_of(&bob),
			id,
			price,
			opened,
			1_000,
			0,
		));
	}
	s.chain.insert_session(SessionEntry::new(150, account_of(&bob), 1, 10, opened, 1_000, 0));

	for (stream_id, session_id, why) in [
		(1, 150, "relayer"),
		(3, 300, "relayer"),
		(4, 400, "per second"),
		(5, 500, "ppm"),
		(6, 600, "per second"),
	] {
		// A connection each: `watch` is rate-limited per connection.
		let mut viewer = authed(&s, &bob).await;
		send(&mut viewer, &ClientMessage::Watch { stream_id, session_id }).await;
		let ServerMessage::Error { code, message, .. } = recv(&mut viewer).await else {
			panic!("stream {stream_id} is not served")
		};
		assert_eq!(code, ErrorCode::Forbidden, "stream {stream_id}");
		assert!(message.contains(why), "stream {stream_id}: {message}");
		// Not in a room: its heartbeats are refused and nothing is stored.
		send(&mut viewer, &heartbeat(&bob, session_id, 1)).await;
		assert_eq!(error_code(&mut viewer).await, ErrorCode::NotInRoom);
		assert!(s.store.latest_voucher(session_id).await.unwrap().is_none());
	}
	// Nor may its creator publish there, or get a WHIP token for it.
	let mut creator = authed(&s, &pair("Alice")).await;
	send(&mut creator, &ClientMessage::Publish { stream_id: 3 }).await;
	assert_eq!(error_code(&mut creator).await, ErrorCode::Forbidden);
	send(&mut creator, &ClientMessage::PublishToken { stream_id: 3, rotate: false }).await;
	assert_eq!(error_code(&mut creator).await, ErrorCode::Forbidden);

	// The stream on its terms is served, and its vouchers acknowledged.
	let mut viewer = authed(&s, &bob).await;
	send(&mut viewer, &ClientMessage::Watch { stream_id: 2, session_id: 200 }).await;
	assert!(matches!(recv(&mut viewer).await, ServerMessage::Joined { stream_id: 2, .. }));
	assert!(matches!(recv(&mut viewer).await, ServerMessage::ChatHistory { .. }));
	send(&mut viewer, &heartbeat(&bob, 200, 1)).await;
	assert_eq!(
		recv(&mut viewer).await,
		ServerMessage::Ack { session_id: 200, cumulative_seconds: 1 }
	);
	send(&mut creator, &ClientMessage::Publish { stream_id: 2 }).await;
	assert!(matches!(recv(&mut creator).await, ServerMessage::Joined { stream_id: 2, .. }));

	// The pages learn the relayer and its terms.
	let config = http_get(s.addr, "/config.json").await;
	assert!(config.contains(&format!(r#""relayer":"{}""#, protocol::account_to_ss58(&ferdie))));
	assert!(config.contains(r#""min_price_per_second":"10""#), "{config}");
	assert!(config.contains(r#""min_relayer_share_ppm":50000"#), "{config}");
	assert!(config.contains(r#""min_settle_seconds":10"#), "{config}");
}

#[tokio::test]
async fn health_metrics_and_404() {
	let s = server(16 * 1024).await;
	// The offline view has no node: 503, but the database is fine.
	let health = http_get(s.addr, "/health").await;
	assert!(health.starts_with("HTTP/1.1 503"), "{health}");
	assert!(health.contains(r#""chain_connected":false"#), "{health}");
	assert!(health.contains(r#""db_ok":true"#), "{health}");
	let metrics = http_get(s.addr, "/metrics").await;
	assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
	assert!(metrics.contains("vilokanam_sidecar_connections"), "{metrics}");
	assert!(http_get(s.addr, "/nope").await.starts_with("HTTP/1.1 404"));
	// /ws without an upgrade.
	assert!(http_get(s.addr, "/ws").await.starts_with("HTTP/1.1 426"));
}

/// Joins `who` to stream 1: as its publisher, or as a viewer with `session`.
async fn join(s: &Server, who: &sr25519::Pair, session: Option<u64>) -> Ws {
	let mut ws = authed(s, who).await;
	match session {
		None => send(&mut ws, &ClientMessage::Publish { stream_id: 1 }).await,
		Some(session_id) => send(&mut ws, &ClientMessage::Watch { stream_id: 1, session_id }).await,
	}
	assert!(matches!(recv(&mut ws).await, ServerMessage::Joined { .. }));
	assert!(matches!(recv(&mut ws).await, ServerMessage::ChatHistory { .. }));
	ws
}

#[tokio::test]
async fn media_signaling_rules() {
	// Without a media server, media requests say so.
	let plain = server(16 * 1024).await;
	let mut bob = join(&plain, &pair("Bob"), Some(100)).await;
	send(&mut bob, &ClientMessage::MediaOffer { sdp: "v=0".into() }).await;
	assert_eq!(error_code(&mut bob).await, ErrorCode::MediaUnavailable);

	let s = server_with(16 * 1024, true).await;
	// Outside a room: no media, no watch token.
	let mut dave = authed(&s, &pair("Dave")).await;
	send(&mut dave, &ClientMessage::MediaOffer { sdp: "v=0".into() }).await;
	assert_eq!(error_code(&mut dave).await, ErrorCode::NotInRoom);
	send(&mut dave, &ClientMessage::WatchToken {}).await;
	assert_eq!(error_code(&mut dave).await, ErrorCode::NotInRoom);
	// Only the creator gets the stream's WHIP token.
	send(&mut dave, &ClientMessage::PublishToken { stream_id: 1, rotate: false }).await;
	assert_eq!(error_code(&mut dave).await, ErrorCode::Forbidden);
	// Nor can anyone else rotate it.
	send(&mut dave, &ClientMessage::PublishToken { stream_id: 1, rotate: true }).await;
	assert_eq!(error_code(&mut dave).await, ErrorCode::Forbidden);
	assert_eq!(s.store.publish_generation(1).await.unwrap(), 0);
	send(&mut dave, &ClientMessage::PublishToken { stream_id: 9, rotate: false }).await;
	assert_eq!(error_code(&mut dave).await, ErrorCode::NotFound);

	// A viewer in its room: a bad offer is refused with the reason, nothing else changes.
	let mut bob = join(&s, &pair("Bob"), Some(100)).await;
	send(&mut bob, &ClientMessage::MediaOffer { sdp: "not sdp".into() }).await;
	assert_eq!(error_code(&mut bob).await, ErrorCode::BadSdp);
	send(&mut bob, &ClientMessage::WatchToken {}).await;
	let ServerMessage::WatchToken { stream_id, session_id, token, whep_url, .. } =
		recv(&mut bob).await
	else {
		panic!("a watch token")
	};
	assert_eq!((stream_id, session_id, whep_url.as_str()), (1, 100, "/whep/1"));
	let bob_hex = hex::encode(account_of(&pair("Bob")));
	assert_eq!(token.len(), "w1.100.".len() + 64 + 1 + 64, "{token}");
	assert!(token.starts_with(&format!("w1.100.{bob_hex}.")), "{token}");
	// A viewer's (receive-only) offer from the publisher is refused.
	let (_, viewer_offer) = vilokanam_media_bots::ViewerBot::new().await.unwrap();
	let mut alice = join(&s, &pair("Alice"), None).await;
	send(&mut alice, &ClientMessage::MediaOffer { sdp: viewer_offer.clone() }).await;
	let ServerMessage::Error { code, message, .. } = recv(&mut alice).await else { panic!() };
	assert_eq!(code, ErrorCode::BadSdp);
	assert!(message.contains("must send"), "{message}");
	send(&mut alice, &ClientMessage::PublishToken { stream_id: 1, rotate: false }).await;
	let ServerMessage::PublishToken { token, whip_url, expires_at, .. } = recv(&mut alice).await
	else {
		panic!("a publish token")
	};
	let now_s = vilokanam_sidecar::clock::unix_secs();
	let ttl = vilokanam_sidecar::config::DEFAULT_PUBLISH_TOKEN_TTL_SECS;
	assert!((now_s + ttl - 5..=now_s + ttl + 5).contains(&expires_at), "{expires_at}");
	let alice_hex = hex::encode(account_of(&pair("Alice")));
	assert!(token.starts_with(&format!("p1.1.0.{expires_at}.{alice_hex}.")), "{token}");
	assert_eq!(whip_url, "/whip/1");
	// Rotating gives a token of the next generation.
	send(&mut alice, &ClientMessage::PublishToken { stream_id: 1, rotate: true }).await;
	let ServerMessage::PublishToken { token, .. } = recv(&mut alice).await else { panic!() };
	assert!(token.starts_with("p1.1.1."), "{token}");
	assert_eq!(s.store.publish_generation(1).await.unwrap(), 1);
	// The same offer from the viewer is answered.
	send(&mut bob, &ClientMessage::MediaOffer { sdp: viewer_offer }).await;
	let sdp = loop {
		match recv(&mut bob).await {
			// Bob was told about Alice joining.
			ServerMessage::PeerJoined { .. } => continue,
			ServerMessage::MediaAnswer { sdp } => break sdp,
			other => panic!("an answer, not {other:?}"),
		}
	};
	assert!(sdp.contains("a=ice-lite") && sdp.contains("a=candidate"), "{sdp}");
	// Leaving the room ends the media.
	send(&mut bob, &ClientMessage::Leave {}).await;
	let ServerMessage::MediaState { state, reason } = recv(&mut bob).await else { panic!() };
	assert_eq!((state, reason.as_deref()), (protocol::MediaState::Closed, Some("closed")));
}

/// A raw HTTP/1.1 request's whole response (the request must say `Connection: close`).
async fn http_raw(addr: SocketAddr, request: &str) -> String {
	let mut tcp = TcpStream::connect(addr).await.unwrap();
	tcp.write_all(request.as_bytes()).await.unwrap();
	let mut out = Vec::new();
	tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut out))
		.await
		.expect("an answer within 10 s")
		.unwrap();
	String::from_utf8_lossy(&out).into_owned()
}

/// The `Link` header values of a raw response.
fn links(response: &str) -> Vec<String> {
	let head = response.split("\r\n\r\n").next().unwrap_or_default();
	head.lines()
		.filter_map(|l| l.split_once(':'))
		.filter(|(name, _)| name.eq_ignore_ascii_case("link"))
		.map(|(_, v)| v.trim().to_owned())
		.collect()
}

/// TURN credentials go to members only, bound to what they are members for: a viewer's
/// session, a stream's publisher. A stranger (not in a room, no token, a forged or rotated
/// token, a CORS preflight) gets none, and `/config.json` says only that TURN exists.
#[tokio::test]
async fn turn_credentials_only_for_members() {
	use vilokanam_sidecar::access::turn::{TurnIssuer, TurnUser};
	const TTL: u64 = 600;
	let urls = vec![
		"turn:127.0.0.1:3478?transport=udp".to_owned(),
		"turn:127.0.0.1:3478?transport=tcp".to_owned(),
	];
	let secret = "0123456789abcdef0123456789abcdef";
	let issuer = TurnIssuer::new(urls.clone(), secret, TTL).unwrap();
	let s = server_built(16 * 1024, true, |_| {}, {
		let issuer = issuer.clone();
		move |sidecar| sidecar.with_turn(issuer)
	})
	.await;
	// What a member should have been given: the issuer's credential for `user`, issued when
	// the server said it expires (so the HMAC is checked, not only the shape).
	let expected = |user: TurnUser, expires_at: u64| issuer.issue(user, expires_at - TTL).servers;
	let fresh = |expires_at: u64| {
		let now = vilokanam_sidecar::clock::unix_secs();
		(now + TTL - 5..=now + TTL + 5).contains(&expires_at)
	};

	let config = reqwest_free_get(s.addr, "/config.json").await;
	assert!(config.contains("\"turn\":true"), "{config}");
	assert!(!config.contains(secret) && !config.contains("turn:"), "{config}");

	// Not in a room: nothing, authenticated or not.
	let (mut stranger, _) = connect(&s).await;
	send(&mut stranger, &ClientMessage::IceServers {}).await;
	assert_eq!(error_code(&mut stranger).await, ErrorCode::NotInRoom);
	let mut dave = authed(&s, &pair("Dave")).await;
	send(&mut dave, &ClientMessage::IceServers {}).await;
	assert_eq!(error_code(&mut dave).await, ErrorCode::NotInRoom);
	// Dave cannot join with Bob's session, so he gets no credential that way either.
	send(&mut dave, &ClientMessage::Watch { stream_id: 1, session_id: 100 }).await;
	assert_eq!(error_code(&mut dave).await, ErrorCode::Forbidden);
	send(&mut dave, &ClientMessage::IceServers {}).await;
	assert_eq!(error_code(&mut dave).await, ErrorCode::NotInRoom);

	// Bob, watching with session 100: a credential of his session in `joined`, again on
	// request, and with his WHEP token.
	let mut bob = authed(&s, &pair("Bob")).await;
	send(&mut bob, &ClientMessage::Watch { stream_id: 1, session_id: 100 }).await;
	let ServerMessage::Joined { ice_servers, ice_expires_at: Some(expires_at), .. } =
		recv(&mut bob).await
	else {
		panic!("joined with TURN servers")
	};
	assert!(fresh(expires_at), "{expires_at}");
	assert_eq!(ice_servers, expected(TurnUser::Session(100), expires_at));
	assert_eq!(ice_servers[0].urls, urls);
	assert_eq!(ice_servers[0].username, format!("{expires_at}:s100"));
	assert!(matches!(recv(&mut bob).await, ServerMessage::ChatHistory { .. }));
	send(&mut bob, &ClientMessage::IceServers {}).await;
	let ServerMessage::IceServers { ice_servers, ice_expires_at: Some(expires_at) } =
		recv(&mut bob).await
	else {
		panic!("ice_servers")
	};
	assert!(fresh(expires_at));
	assert_eq!(ice_servers, expected(TurnUser::Session(100), expires_at));
	send(&mut bob, &ClientMessage::WatchToken {}).await;
	let ServerMessage::WatchToken { token: watch_token, ice_servers, ice_expires_at, .. } =
		recv(&mut bob).await
	else {
		panic!("a watch token")
	};
	assert_eq!(ice_servers, expected(TurnUser::Session(100), ice_expires_at.unwrap()));

	// Alice, the creator: the stream's publisher credential, in `joined` and with her token.
	let mut alice = authed(&s, &pair("Alice")).await;
	send(&mut alice, &ClientMessage::Publish { stream_id: 1 }).await;
	let ServerMessage::Joined { ice_servers, ice_expires_at: Some(expires_at), .. } =
		recv(&mut alice).await
	else {
		panic!("joined with TURN servers")
	};
	assert_eq!(ice_servers, expected(TurnUser::Publisher(1), expires_at));
	assert!(matches!(recv(&mut alice).await, ServerMessage::ChatHistory { .. }));
	send(&mut alice, &ClientMessage::PublishToken { stream_id: 1, rotate: false }).await;
	let ServerMessage::PublishToken { token: publish_token, ice_servers, ice_expires_at, .. } =
		recv(&mut alice).await
	else {
		panic!("a publish token")
	};
	assert_eq!(ice_servers, expected(TurnUser::Publisher(1), ice_expires_at.unwrap()));

	// WHEP/WHIP `OPTIONS`: Links with a valid bearer token only, never on a preflight.
	let options = |path: &str, extra: &str| {
		format!("OPTIONS {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n")
	};
	let bearer = |t: &str| format!("Authorization: Bearer {t}\r\n");
	let got = links(&http_raw(s.addr, &options("/whep/1", &bearer(&watch_token))).await);
	assert_eq!(got.len(), 2, "{got:?}");
	assert!(got[0].starts_with(&format!("<{}>; rel=\"ice-server\"; username=\"", urls[0])));
	assert!(got[0].contains(":s100\"; credential=\"") && got[1].contains(":s100\""), "{got:?}");
	let got = links(&http_raw(s.addr, &options("/whip/1", &bearer(&publish_token))).await);
	assert!(got.len() == 2 && got[0].contains(":p1\""), "{got:?}");
	let preflight = format!("{}Access-Control-Request-Method: POST\r\n", bearer(&watch_token));
	let r = http_raw(s.addr, &options("/whep/1", &preflight)).await;
	assert!(r.starts_with("HTTP/1.1 204") && links(&r).is_empty(), "{r}");
	let last = if watch_token.ends_with('0') { '1' } else { '0' };
	let forged = format!("{}{last}", &watch_token[..watch_token.len() - 1]);
	for request in [
		options("/whep/1", ""),
		options("/whep/1", &bearer(&forged)),
		options("/whep/1", &bearer(&publish_token)),
		options("/whip/1", &bearer(&watch_token)),
		// Another stream's publish token names stream 1: refused for stream 2.
		options("/whip/2", &bearer(&publish_token)),
	] {
		let r = http_raw(s.addr, &request).await;
		assert!(r.starts_with("HTTP/1.1 204") && links(&r).is_empty(), "{request}\n{r}");
	}

	// The `201` of a WHEP offer carries the session's servers.
	let (_, offer) = vilokanam_media_bots::ViewerBot::new().await.unwrap();
	let post = format!(
		"POST /whep/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{}Content-Type: \
		 application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
		bearer(&watch_token),
		offer.len()
	);
	let r = http_raw(s.addr, &post).await;
	assert!(r.starts_with("HTTP/1.1 201"), "{r}");
	let got = links(&r);
	assert!(got.len() == 2 && got.iter().all(|l| l.contains(":s100\"")), "{got:?}");

	// Rotating the publish tokens takes their TURN servers with them.
	send(&mut alice, &ClientMessage::PublishToken { stream_id: 1, rotate: true }).await;
	assert!(matches!(recv(&mut alice).await, ServerMessage::PublishToken { .. }));
	let r = http_raw(s.addr, &options("/whip/1", &bearer(&publish_token))).await;
	assert!(links(&r).is_empty(), "{r}");

	// A watch token outlives its session; the TURN servers it fetched do not come again once
	// the session closed on chain, nor does a WHEP offer get any.
	s.chain.apply_events([RuntimeEvent::Ticks(pallet_ticks::Event::SessionClosed {
		session_id: 100,
		settled_seconds: 0,
		refunded: 0,
		reason: vilokanam_chain_client::CloseReason::Closed,
	})]);
	let r = http_raw(s.addr, &options("/whep/1", &bearer(&watch_token))).await;
	assert!(r.starts_with("HTTP/1.1 204") && links(&r).is_empty(), "{r}");
	let r = http_raw(s.addr, &post).await;
	assert!(r.starts_with("HTTP/1.1 403") && links(&r).is_empty(), "{r}");
}

/// Without TURN servers nothing changes for clients: `joined` has no `ice_servers`, asking
/// for them gets none, `/config.json` says `turn: false`, WHEP answers carry no `Link`.
#[tokio::test]
async fn no_turn_no_ice_servers() {
	let s = server_with(16 * 1024, true).await;
	assert!(reqwest_free_get(s.addr, "/config.json").await.contains("\"turn\":false"));
	let mut bob = authed(&s, &pair("Bob")).await;
	send(&mut bob, &ClientMessage::Watch { stream_id: 1, session_id: 100 }).await;
	let ServerMessage::Joined { ice_servers, ice_expires_at, .. } = recv(&mut bob).await else {
		panic!("joined")
	};
	assert!(ice_servers.is_empty() && ice_expires_at.is_none());
	assert!(matches!(recv(&mut bob).await, ServerMessage::ChatHistory { .. }));
	send(&mut bob, &ClientMessage::IceServers {}).await;
	assert_eq!(
		recv(&mut bob).await,
		ServerMessage::IceServers { ice_servers: Vec::new(), ice_expires_at: None }
	);
	send(&mut bob, &ClientMessage::WatchToken {}).await;
	let ServerMessage::WatchToken { token, .. } = recv(&mut bob).await else { panic!() };
	let r = http_raw(
		s.addr,
		&format!(
			"OPTIONS /whep/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: \
			 Bearer {token}\r\n\r\n"
		),
	)
	.await;
	assert!(r.starts_with("HTTP/1.1 204") && links(&r).is_empty(), "{r}");
}

/// Whether the server closed `tcp` (EOF or reset) within `within`.
async fn closed_by_server(tcp: &mut TcpStream, within: Duration) -> bool {
	let mut buf = [0u8; 1024];
	loop {
		match tokio::time::timeout(within, tcp.read(&mut buf)).await {
			Ok(Ok(0)) | Ok(Err(_)) => return true,
			Ok(Ok(_)) => continue,
			Err(_) => return false,
		}
	}
}

/// A raw HTTP/1.1 request's status line, read until the server answers.
async fn status_of(tcp: &mut TcpStream, request: &str) -> String {
	tcp.write_all(request.as_bytes()).await.unwrap();
	let mut buf = vec![0u8; 4096];
	let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
		.await
		.expect("an answer within 5 s")
		.unwrap();
	String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
}

/// The attacks of a stranger with sockets: holding every connection, trickling headers or a
/// body, hammering costly endpoints, and posting made-up tokens. Each is turned away at the
/// door or by a deadline; honest clients from elsewhere still get in.
#[tokio::test]
async fn floods_are_turned_away() {
	use vilokanam_sidecar::access::admission::Limits;
	let s = server_tweaked(16 * 1024, true, |settings| {
		settings.limits = Limits {
			max_connections: 6,
			max_per_ip: 4,
			// Opening too fast is the unit tests' (access::admission); here, room for the test.
			connect_burst: 32.0,
			connect_per_sec: 0.5,
			request_burst: 3.0,
			request_per_sec: 0.5,
		};
		settings.http_timeout = Duration::from_millis(800);
	})
	.await;
	// Four held connections from 127.0.0.1 are its share: the fifth is closed at once.
	let mut held = Vec::new();
	for _ in 0..4 {
		held.push(TcpStream::connect(s.addr).await.unwrap());
	}
	let mut fifth = TcpStream::connect(s.addr).await.unwrap();
	assert!(closed_by_server(&mut fifth, Duration::from_secs(2)).await, "a fifth from one address");
	// Another address still gets in (127.0.0.2 is loopback too), up to the total of six.
	let other = |n| async move {
		let socket = tokio::net::TcpSocket::new_v4().unwrap();
		socket.bind(format!("127.0.0.{n}:0").parse().unwrap()).unwrap();
		socket.connect(s.addr).await.unwrap()
	};
	let mut from_two = other(2).await;
	assert_eq!(
		status_of(&mut from_two, "GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await,
		"HTTP/1.1 200 OK"
	);
	let _also = other(3).await;
	let mut seventh = other(4).await;
	assert!(closed_by_server(&mut seventh, Duration::from_secs(2)).await, "over the total");
	// Silent or trickling connections are dropped at the header deadline, freeing their slots.
	held[0].write_all(b"GET /health HTTP/1.1\r\nhost:").await.unwrap();
	for tcp in &mut held {
		assert!(closed_by_server(tcp, Duration::from_secs(3)).await, "the header deadline");
	}
	drop(held);
	tokio::time::sleep(Duration::from_millis(100)).await;
	// A WHIP offer whose body never comes gets 408 at the body deadline; a made-up token is
	// refused before the body is even read (and before the store or the chain is asked).
	let alice = account_of(&pair("Alice"));
	let claims = vilokanam_sidecar::access::tokens::PublishClaims {
		stream_id: 1,
		account: alice,
		generation: 0,
		expires_s: vilokanam_sidecar::clock::unix_secs() + 60,
	};
	let token = s.tokens.publish(&claims);
	let mut tcp = TcpStream::connect(s.addr).await.unwrap();
	let slow = format!(
		"POST /whip/1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
		 content-type: application/sdp\r\ncontent-length: 1000\r\n\r\nv=0\r\n"
	);
	assert_eq!(status_of(&mut tcp, &slow).await, "HTTP/1.1 408 Request Timeout");
	let mut tcp = TcpStream::connect(s.addr).await.unwrap();
	let forged = slow
		.replace(&token, &format!("p1.1.0.99999999999.{}.{}", "11".repeat(32), "22".repeat(32)));
	let started = std::time::Instant::now();
	assert_eq!(status_of(&mut tcp, &forged).await, "HTTP/1.1 401 Unauthorized");
	assert!(started.elapsed() < Duration::from_millis(500), "not after the body deadline");
	// Costly requests from one address: a burst of three, then 429 with Retry-After (the slow
	// and the forged offer were two of them).
	let mut tcp = TcpStream::connect(s.addr).await.unwrap();
	let close = "POST /close HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
		 content-length: 2\r\n\r\n{}";
	assert_eq!(status_of(&mut tcp, close).await, "HTTP/1.1 400 Bad Request");
	let mut tcp = TcpStream::connect(s.addr).await.unwrap();
	assert_eq!(status_of(&mut tcp, close).await, "HTTP/1.1 429 Too Many Requests");
	// Cheap requests are not counted.
	let mut tcp = TcpStream::connect(s.addr).await.unwrap();
	assert_eq!(
		status_of(&mut tcp, "GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await,
		"HTTP/1.1 200 OK"
	);
	let metrics =
		String::from_utf8(reqwest_free_get(s.addr, "/metrics").await.into_bytes()).unwrap();
	for reason in ["too_many_from_ip", "full", "too_many_requests"] {
		assert!(
			metrics
				.contains(&format!("vilokanam_sidecar_turned_away_total{{reason=\"{reason}\"}}")),
			"{reason} counted"
		);
	}
}

/// A GET's body, over a fresh connection.
async fn reqwest_free_get(addr: SocketAddr, path: &str) -> String {
	let mut tcp = TcpStream::connect(addr).await.unwrap();
	tcp.write_all(
		format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
	)
	.await
	.unwrap();
	let mut out = Vec::new();
	tcp.read_to_end(&mut out).await.unwrap();
	String::from_utf8_lossy(&out).into_owned()
}
