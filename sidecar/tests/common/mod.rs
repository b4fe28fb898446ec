//! What the end-to-end tests against the real node and sidecar share: signing and executing
//! calls, starting the sidecar binary, and a WebSocket client of its protocol.

#![allow(dead_code)]

pub mod media;

use futures::{SinkExt, StreamExt};
use sp_core::{sr25519, Pair, H256};
use std::{
	path::Path,
	time::{Duration, Instant},
};
use tokio::{
	io::{AsyncReadExt, AsyncWriteExt},
	net::TcpStream,
};
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};
use vilokanam_chain_client::{
	voucher, AccountId, Balance, Client, RuntimeCall, RuntimeEvent, SessionId, StreamId,
	VoucherEncoding,
};
use vilokanam_sidecar::{
	access::identity,
	protocol::{
		self, ClientMessage, Crypto, Encoding, ErrorCode, HexBytes, Role, ServerMessage, Signer,
	},
};
pub use vilokanam_test_utils::chain::{
	account, create_stream_call, go_live_call, governance_calls, pair, session_opened,
	stream_created,
};
pub use vilokanam_test_utils::health_status;
use vilokanam_test_utils::{free_port, sidecar_bin, Node, Process};

pub const PRICE: Balance = vilokanam_runtime::MILLI_VLK;
/// The sidecar's relayer key, named as every test stream's relayer.
pub const RELAYER: &str = "//Ferdie";
pub const MAX_SECONDS: u64 = 600;
pub const FEE_BPS: u16 = 1_000;
/// How long one expected message may take.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Signs `call` as `signer`, waits until it is in a block and checks it succeeded.
pub async fn execute(
	client: &Client,
	call: RuntimeCall,
	signer: &sr25519::Pair,
) -> vilokanam_chain_client::Included {
	let included = client.execute(call, signer, false).await.expect("the extrinsic is included");
	assert!(included.success, "the extrinsic failed: {:?}", included.dispatch_error());
	included
}

/// A running sidecar process and where it listens.
pub struct Sidecar {
	pub process: Process,
	pub port: u16,
}

impl Sidecar {
	/// Starts the sidecar binary on a free port and waits until `/health` says the chain is
	/// connected.
	pub async fn start(node: &Node, db: &Path, log: &Path) -> Sidecar {
		Self::start_with(node, db, log, &[]).await
	}

	/// As [`Sidecar::start`], with extra command-line arguments.
	pub async fn start_with(node: &Node, db: &Path, log: &Path, extra: &[String]) -> Sidecar {
		Self::start_via(&node.ws_url(), db, log, extra).await
	}

	/// As [`Sidecar::start_with`], reaching the node at `node_url` (a [`Link`]).
	pub async fn start_via(node_url: &str, db: &Path, log: &Path, extra: &[String]) -> Sidecar {
		let mut args = vec!["--relayer-seed".to_owned(), RELAYER.to_owned()];
		args.extend_from_slice(extra);
		Self::spawn(node_url, db, log, &args).await
	}

	/// As [`Sidecar::start_with`], settling with `relayer` (a secret URI) instead of
	/// [`RELAYER`].
	pub async fn start_as(
		node: &Node,
		relayer: &str,
		db: &Path,
		log: &Path,
		extra: &[String],
	) -> Sidecar {
		let mut args = vec!["--relayer-seed".to_owned(), relayer.to_owned()];
		args.extend_from_slice(extra);
		Self::spawn(&node.ws_url(), db, log, &args).await
	}

	/// As [`Sidecar::start`], but without a relayer key: vouchers are stored and acknowledged,
	/// nothing is settled.
	pub async fn start_without_relayer(node: &Node, db: &Path, log: &Path) -> Sidecar {
		Self::spawn(&node.ws_url(), db, log, &[]).await
	}

	async fn spawn(node_url: &str, db: &Path, log: &Path, extra: &[String]) -> Sidecar {
		let port = free_port();
		let mut args = vec![
			"--listen".to_owned(),
			format!("127.0.0.1:{port}"),
			"--node-url".to_owned(),
			node_url.to_owned(),
			"--db".to_owned(),
			db.display().to_string(),
			"--settle-every-blocks".to_owned(),
			"1".to_owned(),
			"--log".to_owned(),
			"info,relay=debug".to_owned(),
		];
		// An ephemeral media port, so that sidecars of tests running at once do not collide.
		if !extra.iter().any(|a| a == "--media-listen") {
			args.extend(["--media-listen".to_owned(), "127.0.0.1:0".to_owned()]);
		}
		args.extend_from_slice(extra);
		let mut sidecar =
			Sidecar { process: Process::spawn(&sidecar_bin(), args, log.into()), port };
		let deadline = Instant::now() + Duration::from_secs(60);
		loop {
			if health_status(port).await == Some(200) {
				return sidecar;
			}
			assert!(
				Instant::now() < deadline && !sidecar.process.has_exited(),
				"the sidecar did not become healthy:\n{}",
				sidecar.process.log_tail()
			);
			tokio::time::sleep(Duration::from_millis(250)).await;
		}
	}

	pub fn ws_url(&self) -> String {
		format!("ws://127.0.0.1:{}/ws", self.port)
	}

	pub fn http_url(&self, path: &str) -> String {
		format!("http://127.0.0.1:{}{path}", self.port)
	}
}

/// A TCP link to the node that a test can cut: the sidecar's network path to the chain.
/// While cut, open connections are dropped and new ones closed at once.
pub struct Link {
	pub port: u16,
	cut: tokio::sync::watch::Sender<bool>,
}

impl Link {
	/// A link on a free port to `127.0.0.1:target`.
	pub async fn start(target: u16) -> Link {
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
		let port = listener.local_addr().expect("addr").port();
		let (cut, watch) = tokio::sync::watch::channel(false);
		tokio::spawn(async move {
			while let Ok((mut inbound, _)) = listener.accept().await {
				if *watch.borrow() {
					continue;
				}
				let mut watch = watch.clone();
				tokio::spawn(async move {
					let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
						return;
					};
					tokio::select! {
						_ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {},
						_ = watch.wait_for(|cut| *cut) => {},
					}
				});
			}
		});
		Link { port, cut }
	}

	/// The node's WebSocket URL through the link.
	pub fn url(&self) -> String {
		format!("ws://127.0.0.1:{}", self.port)
	}

	/// Cut (`true`) or restore (`false`) the link.
	pub fn set_cut(&self, cut: bool) {
		self.cut.send_replace(cut);
	}
}

/// A WebSocket client of the sidecar, authenticated as one account.
pub struct Peer {
	pub name: &'static str,
	pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
	pub pair: sr25519::Pair,
	pub genesis: H256,
	/// Which key `pair` is for the vouchers it signs.
	pub signer: Signer,
}

impl Peer {
	/// Connects, answers the challenge (raw sr25519) and waits for `authenticated`.
	pub async fn connect(name: &'static str, url: &str, pair: sr25519::Pair) -> Peer {
		Self::connect_as(name, url, pair, None).await
	}

	/// Connects with a session's voucher key (`pair`), as a page does: authenticated as that
	/// session's viewer, without the viewer's own key. Heartbeats are then signed by it.
	pub async fn connect_with_voucher_key(
		name: &'static str,
		url: &str,
		pair: sr25519::Pair,
		session_id: SessionId,
	) -> Peer {
		Self::connect_as(name, url, pair, Some(session_id)).await
	}

	/// Tries to log in with `pair` as the voucher key of `session_id`; returns the error.
	pub async fn refused_voucher_key_login(
		url: &str,
		pair: sr25519::Pair,
		session_id: SessionId,
	) -> ErrorCode {
		let mut peer = Self::handshake("refused", url, pair, Some(session_id)).await;
		peer.expect_error("the refused login").await
	}

	async fn connect_as(
		name: &'static str,
		url: &str,
		pair: sr25519::Pair,
		session_id: Option<SessionId>,
	) -> Peer {
		let mut peer = Self::handshake(name, url, pair, session_id).await;
		peer.expect("authenticated", |m| match m {
			ServerMessage::Authenticated { .. } => Some(()),
			_ => None,
		})
		.await;
		peer
	}

	/// Connects and answers the challenge; the answer's reply is still to be read.
	async fn handshake(
		name: &'static str,
		url: &str,
		pair: sr25519::Pair,
		session_id: Option<SessionId>,
	) -> Peer {
		let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("the sidecar accepts /ws");
		let signer = if session_id.is_some() { Signer::VoucherKey } else { Signer::Viewer };
		let mut peer = Peer { name, ws, pair, genesis: H256::zero(), signer };
		let (nonce, genesis, audience) = peer
			.expect("challenge", |m| match m {
				ServerMessage::Challenge { nonce, genesis, audience } => {
					Some((nonce.0, H256(genesis.0), audience.clone()))
				},
				_ => None,
			})
			.await;
		// As a page does: sign only a challenge naming the sidecar connected to.
		assert_eq!(Ok(&audience), identity::audience_of(url).as_ref(), "the challenge's audience");
		peer.genesis = genesis;
		let signature =
			identity::sign_auth_sr25519(&peer.pair, &genesis, &audience, &nonce, Encoding::Raw);
		peer.send(ClientMessage::Auth {
			account: protocol::account_to_ss58(&account(&peer.pair)),
			crypto: Crypto::Sr25519,
			signature: HexBytes(signature),
			encoding: Encoding::Raw,
			session_id,
		})
		.await;
		peer
	}

	pub async fn send(&mut self, msg: ClientMessage) {
		let text = protocol::encode_client(&msg);
		self.ws.send(Message::text(text)).await.expect("the sidecar takes the message");
	}

	/// Reads messages until `pick` returns something; other messages (stats, peers, chat) are
	/// skipped, an error message fails the test unless `pick` takes it.
	pub async fn expect<T>(
		&mut self,
		what: &str,
		mut pick: impl FnMut(&ServerMessage) -> Option<T>,
	) -> T {
		let deadline = tokio::time::Instant::now() + MESSAGE_TIMEOUT;
		loop {
			let next = tokio::time::timeout_at(deadline, self.ws.next()).await;
			let frame = match next {
				Ok(Some(Ok(frame))) => frame,
				Ok(Some(Err(e))) => {
					panic!("{}: WebSocket error waiting for {what}: {e}", self.name)
				},
				Ok(None) => panic!("{}: connection closed waiting for {what}", self.name),
				Err(_) => panic!("{}: no {what} within {MESSAGE_TIMEOUT:?}", self.name),
			};
			let Message::Text(text) = frame else { continue };
			let msg = protocol::decode_server(text.as_str())
				.unwrap_or_else(|e| panic!("{}: undecodable {text}: {e}", self.name));
			if let Some(picked) = pick(&msg) {
				return picked;
			}
			if let ServerMessage::Error { .. } = msg {
				panic!("{}: error while waiting for {what}: {msg:?}", self.name);
			}
		}
	}

	/// The error code answering the last request.
	pub async fn expect_error(&mut self, what: &str) -> ErrorCode {
		self.expect(what, |m| match m {
			ServerMessage::Error { code, .. } => Some(*code),
			_ => None,
		})
		.await
	}

	/// `watch` and wait for `joined` (as a viewer) and the chat history.
	pub async fn watch(&mut self, stream_id: StreamId, session_id: SessionId) -> Vec<String> {
		self.send(ClientMessage::Watch { stream_id, session_id }).await;
		self.expect("joined", |m| match m {
			ServerMessage::Joined { role: Role::Viewer, stream_id: s, .. } if *s == stream_id => {
				Some(())
			},
			_ => None,
		})
		.await;
		self.expect("chat_history", |m| match m {
			ServerMessage::ChatHistory { messages } => {
				Some(messages.iter().map(|c| c.text.clone()).collect())
			},
			_ => None,
		})
		.await
	}

	/// Sends the signed heartbeat `cumulative` of `session_id` and waits for its ack.
	pub async fn heartbeat(&mut self, session_id: SessionId, cumulative: u64, wrapped: bool) {
		if let Err(code) = self.try_heartbeat(session_id, cumulative, wrapped).await {
			panic!("{}: heartbeat {cumulative} refused: {code:?}", self.name);
		}
	}

	/// As [`Peer::heartbeat`]; a refusal is returned.
	pub async fn try_heartbeat(
		&mut self,
		session_id: SessionId,
		cumulative: u64,
		wrapped: bool,
	) -> Result<(), ErrorCode> {
		self.send_heartbeat(session_id, cumulative, wrapped).await;
		self.expect("ack", |m| match m {
			ServerMessage::Ack { session_id: s, cumulative_seconds: c }
				if *s == session_id && *c == cumulative =>
			{
				Some(Ok(()))
			},
			ServerMessage::Error { code, request: Some(r), .. } if r == "heartbeat" => {
				Some(Err(*code))
			},
			_ => None,
		})
		.await
	}

	/// Sends the signed heartbeat `cumulative` of `session_id` without waiting for its ack.
	pub async fn send_heartbeat(&mut self, session_id: SessionId, cumulative: u64, wrapped: bool) {
		let (encoding, wire) = if wrapped {
			(VoucherEncoding::Wrapped, Encoding::Wrapped)
		} else {
			(VoucherEncoding::Raw, Encoding::Raw)
		};
		let bytes = voucher::signed_bytes(&self.genesis, session_id, cumulative, encoding);
		let signature = HexBytes(self.pair.sign(&bytes).0);
		self.send(ClientMessage::Heartbeat {
			session_id,
			cumulative_seconds: cumulative,
			encoding: wire,
			crypto: Crypto::Sr25519,
			signature,
			signer: self.signer,
		})
		.await;
	}
}

pub fn opened_session(events: &[RuntimeEvent]) -> SessionId {
	session_opened(events, None)
}

/// As sudo (Alice): category 1 and a [`FEE_BPS`] platform fee; then Alice's live stream at
/// [`PRICE`] per second. Returns the stream.
pub async fn live_stream(client: &Client, title: &str) -> StreamId {
	let alice = pair("//Alice");
	for call in governance_calls(FEE_BPS) {
		execute(client, call, &alice).await;
	}
	let create = create_stream_call(title, PRICE, Some(account(&pair(RELAYER))));
	let stream_id = stream_created(&execute(client, create, &alice).await.events);
	execute(client, go_live_call(stream_id), &alice).await;
	stream_id
}

/// `viewer` opens a session of [`MAX_SECONDS`] on `stream_id`, with its [`page_key`] as the
/// voucher key.
pub async fn open_session(
	client: &Client,
	viewer: &sr25519::Pair,
	stream_id: StreamId,
) -> SessionId {
	let call = open_session_call(stream_id, account(&page_key(viewer)));
	opened_session(&execute(client, call, viewer).await.events)
}

/// The call opening a session of [`MAX_SECONDS`] on `stream_id` at up to [`PRICE`] per second.
pub fn open_session_call(stream_id: StreamId, voucher_key: AccountId) -> RuntimeCall {
	RuntimeCall::Ticks(pallet_ticks::Call::open_session {
		stream_id,
		max_seconds: MAX_SECONDS,
		max_price_per_second: PRICE,
		voucher_key,
	})
}

/// The key a viewer's page would hold for `viewer` (its sessions' voucher key).
pub fn page_key(viewer: &sr25519::Pair) -> sr25519::Pair {
	// Any deterministic seed other than the viewer's own will do.
	sr25519::Pair::from_seed(&viewer.public().0)
}

/// The viewer's close intent for `cumulative` seconds of `session_id`, signed by `key`.
pub fn close_intent(
	key: &sr25519::Pair,
	genesis: &H256,
	session_id: SessionId,
	cumulative: u64,
) -> ClientMessage {
	let bytes = voucher::close_payload(genesis, session_id, cumulative);
	ClientMessage::Close {
		session_id,
		cumulative_seconds: cumulative,
		encoding: Encoding::Raw,
		crypto: Crypto::Sr25519,
		signature: HexBytes(key.sign(&bytes).0),
		signer: Signer::VoucherKey,
	}
}

/// An HTTP/1.1 response: status, headers (lower-case names), body.
pub struct HttpResponse {
	pub status: u16,
	pub headers: Vec<(String, String)>,
	pub body: String,
}

impl HttpResponse {
	pub fn header(&self, name: &str) -> Option<&str> {
		self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
	}
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), as a WHIP client does.
pub async fn http(
	port: u16,
	method: &str,
	path: &str,
	headers: &[(&str, &str)],
	body: &str,
) -> HttpResponse {
	let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("the sidecar listens");
	let mut request =
		format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
	for (n, v) in headers {
		request.push_str(&format!("{n}: {v}\r\n"));
	}
	request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
	stream.write_all(request.as_bytes()).await.expect("the request is sent");
	let mut response = Vec::new();
	tokio::time::timeout(MESSAGE_TIMEOUT, stream.read_to_end(&mut response))
		.await
		.expect("the sidecar answers in time")
		.expect("the response is read");
	let text = String::from_utf8_lossy(&response).into_owned();
	let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
	let mut lines = head.lines();
	let status = lines
		.next()
		.and_then(|l| l.split_whitespace().nth(1))
		.and_then(|s| s.parse().ok())
		.expect("a status line");
	let headers = lines
		.filter_map(|l| l.split_once(':'))
		.map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
		.collect();
	HttpResponse { status, headers, body: body.to_owned() }
}
