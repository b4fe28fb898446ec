//! End-to-end: the real dev node and the real `vilokanam-sidecar` binary.
//!
//! Alice creates a stream and goes live; Charlie and Dave open sessions; the sidecar starts (its
//! relay signs with Ferdie and settles every block); Alice publishes and both viewers watch and
//! send a signed heartbeat every second (Dave's in the browser-wallet `<Bytes>` wrapping).
//! After 8 acknowledged seconds the sidecar is killed with SIGKILL and restarted on the same
//! database; the viewers reconnect, see the chat sent before the crash, and watch 4 more
//! seconds. The relay must then settle exactly the last acknowledged seconds of each session,
//! and balances must move exactly: price × seconds out of escrow, 10 % to the platform, the rest
//! to the creator. Along the way, publishing someone else's stream and watching with someone
//! else's session are refused with `forbidden`.
//!
//! Needs the node binary: `cargo build --release -p vilokanam-node`.

use futures::{SinkExt, StreamExt};
use sp_core::{sr25519, Pair, H256};
use sp_runtime::{traits::IdentifyAccount, MultiSigner};
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
	identity,
	protocol::{self, ClientMessage, Crypto, Encoding, ErrorCode, HexBytes, Role, ServerMessage},
};
use vilokanam_test_utils::{free_port, sidecar_bin, Node, Process};

const PRICE: Balance = vilokanam_runtime::MILLI_VLK;
const MAX_SECONDS: u64 = 600;
const FEE_BPS: u16 = 1_000;
/// Seconds watched before the sidecar is killed, and in total.
const BEFORE_CRASH: u64 = 8;
const TOTAL: u64 = 12;
/// How long one expected message may take.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

fn pair(uri: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(uri, None).expect("a dev URI")
}

fn account(p: &sr25519::Pair) -> AccountId {
	MultiSigner::from(p.public()).into_account()
}

fn bounded<S: TryFrom<Vec<u8>>>(s: &str) -> S {
	s.as_bytes().to_vec().try_into().ok().expect("test strings fit")
}

/// Signs `call` as `signer`, waits until it is in a block and checks it succeeded.
async fn execute(
	client: &Client,
	call: RuntimeCall,
	signer: &sr25519::Pair,
) -> vilokanam_chain_client::Included {
	let included = client.execute(call, signer, false).await.expect("the extrinsic is included");
	assert!(included.success, "the extrinsic failed: {:?}", included.dispatch_error());
	included
}

/// A running sidecar process and where it listens.
struct Sidecar {
	process: Process,
	port: u16,
}

impl Sidecar {
	/// Starts the sidecar binary on a free port and waits until `/health` says the chain is
	/// connected.
	async fn start(node: &Node, db: &Path, log: &Path) -> Sidecar {
		let port = free_port();
		let args = [
			"--listen".to_owned(),
			format!("127.0.0.1:{port}"),
			"--node-url".to_owned(),
			node.ws_url(),
			"--db".to_owned(),
			db.display().to_string(),
			"--relayer-seed".to_owned(),
			"//Ferdie".to_owned(),
			"--settle-every-blocks".to_owned(),
			"1".to_owned(),
			"--log".to_owned(),
			"info,relay=debug".to_owned(),
		];
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

	fn ws_url(&self) -> String {
		format!("ws://127.0.0.1:{}/ws", self.port)
	}
}

/// The HTTP status of `GET /health`, if the server answers.
async fn health_status(port: u16) -> Option<u16> {
	let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
	let request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	stream.write_all(request.as_bytes()).await.ok()?;
	let mut response = Vec::new();
	tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
		.await
		.ok()?
		.ok()?;
	let text = String::from_utf8_lossy(&response);
	text.split_whitespace().nth(1)?.parse().ok()
}

/// A WebSocket client of the sidecar, authenticated as one account.
struct Peer {
	name: &'static str,
	ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
	pair: sr25519::Pair,
	genesis: H256,
}

impl Peer {
	/// Connects, answers the challenge (raw sr25519) and waits for `authenticated`.
	async fn connect(name: &'static str, url: &str, pair: sr25519::Pair) -> Peer {
		let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("the sidecar accepts /ws");
		let mut peer = Peer { name, ws, pair, genesis: H256::zero() };
		let (nonce, genesis) = peer
			.expect("challenge", |m| match m {
				ServerMessage::Challenge { nonce, genesis } => Some((nonce.0, H256(genesis.0))),
				_ => None,
			})
			.await;
		peer.genesis = genesis;
		let signature = identity::sign_auth_sr25519(&peer.pair, &genesis, &nonce, Encoding::Raw);
		peer.send(ClientMessage::Auth {
			account: protocol::account_to_ss58(&account(&peer.pair)),
			crypto: Crypto::Sr25519,
			signature: HexBytes(signature),
			encoding: Encoding::Raw,
		})
		.await;
		peer.expect("authenticated", |m| match m {
			ServerMessage::Authenticated { .. } => Some(()),
			_ => None,
		})
		.await;
		peer
	}

	async fn send(&mut self, msg: ClientMessage) {
		let text = protocol::encode_client(&msg);
		self.ws.send(Message::text(text)).await.expect("the sidecar takes the message");
	}

	/// Reads messages until `pick` returns something; other messages (stats, peers, chat) are
	/// skipped, an error message fails the test unless `pick` takes it.
	async fn expect<T>(
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
	async fn expect_error(&mut self, what: &str) -> ErrorCode {
		self.expect(what, |m| match m {
			ServerMessage::Error { code, .. } => Some(*code),
			_ => None,
		})
		.await
	}

	/// `watch` and wait for `joined` (as a viewer) and the chat history.
	async fn watch(&mut self, stream_id: StreamId, session_id: SessionId) -> Vec<String> {
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
	async fn heartbeat(&mut self, session_id: SessionId, cumulative: u64, wrapped: bool) {
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
		})
		.await;
		self.expect("ack", |m| match m {
			ServerMessage::Ack { session_id: s, cumulative_seconds: c }
				if *s == session_id && *c == cumulative =>
			{
				Some(())
			},
			_ => None,
		})
		.await;
	}
}

fn opened_session(events: &[RuntimeEvent]) -> SessionId {
	events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::Ticks(pallet_ticks::Event::SessionOpened { session_id, .. }) => {
				Some(*session_id)
			},
			_ => None,
		})
		.expect("SessionOpened")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_settles_exactly_what_was_acknowledged_across_a_crash() {
	let dir = tempfile::tempdir().expect("temp dir");
	let node = Node::start(&dir.path().join("node")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let (alice, charlie, dave, eve) =
		(pair("//Alice"), pair("//Charlie"), pair("//Dave"), pair("//Eve"));

	// Governance (sudo is Alice): a category and a 10 % platform fee.
	for call in [
		RuntimeCall::Streams(pallet_streams::Call::add_category {
			category: 1,
			name: bounded("Music"),
		}),
		RuntimeCall::Payouts(pallet_payouts::Call::set_platform_fee { bps: FEE_BPS }),
	] {
		execute(
			&client,
			RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(call) }),
			&alice,
		)
		.await;
	}

	// Alice's live stream; Charlie and Dave open sessions.
	let created = execute(
		&client,
		RuntimeCall::Streams(pallet_streams::Call::create_stream {
			title: bounded("Relay e2e"),
			metadata: bounded(""),
			category: 1,
			tags: Default::default(),
			price_per_second: PRICE,
			endpoint: None,
		}),
		&alice,
	)
	.await;
	let stream_id = created
		.events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::Streams(pallet_streams::Event::StreamCreated { stream_id, .. }) => {
				Some(*stream_id)
			},
			_ => None,
		})
		.expect("StreamCreated");
	execute(&client, RuntimeCall::Streams(pallet_streams::Call::go_live { stream_id }), &alice)
		.await;
	let open = RuntimeCall::Ticks(pallet_ticks::Call::open_session {
		stream_id,
		max_seconds: MAX_SECONDS,
	});
	let charlie_session = opened_session(&execute(&client, open.clone(), &charlie).await.events);
	let opened = execute(&client, open, &dave).await;
	let dave_session = opened_session(&opened.events);
	// Nothing Alice, Charlie, Dave, the platform or the escrow do after this block but what the
	// relay settles.
	let before = opened.block;
	let platform = pallet_payouts::Pallet::<vilokanam_runtime::Runtime>::platform_account();
	let escrow = pallet_ticks::Pallet::<vilokanam_runtime::Runtime>::escrow_account();
	let watched =
		[account(&alice), platform.clone(), escrow.clone(), account(&charlie), account(&dave)];
	let mut balances_before = Vec::new();
	for who in &watched {
		balances_before.push(client.free_balance(who, Some(before)).await.expect("rpc"));
	}

	// The sidecar, first run.
	let db = dir.path().join("sidecar.sqlite");
	let mut sidecar = Sidecar::start(&node, &db, &dir.path().join("sidecar-1.log")).await;
	let url = sidecar.ws_url();

	let mut publisher = Peer::connect("alice", &url, alice.clone()).await;
	publisher.send(ClientMessage::Publish { stream_id }).await;
	publisher
		.expect("joined", |m| match m {
			ServerMessage::Joined { role: Role::Publisher, .. } => Some(()),
			_ => None,
		})
		.await;

	let mut c = Peer::connect("charlie", &url, charlie.clone()).await;
	let mut d = Peer::connect("dave", &url, dave.clone()).await;
	let mut e = Peer::connect("eve", &url, eve.clone()).await;

	// Refusals: Charlie publishing Alice's stream, Eve (no session) watching with Charlie's
	// session, Charlie watching with Dave's.
	c.send(ClientMessage::Publish { stream_id }).await;
	assert_eq!(c.expect_error("publish refusal").await, ErrorCode::Forbidden);
	e.send(ClientMessage::Watch { stream_id, session_id: charlie_session }).await;
	assert_eq!(e.expect_error("watch refusal").await, ErrorCode::Forbidden);
	c.send(ClientMessage::Watch { stream_id, session_id: dave_session }).await;
	assert_eq!(c.expect_error("watch refusal").await, ErrorCode::Forbidden);
	e.send(ClientMessage::Watch { stream_id, session_id: 999_999 }).await;
	assert_eq!(e.expect_error("unknown session").await, ErrorCode::NotFound);
	drop(e);

	c.watch(stream_id, charlie_session).await;
	d.watch(stream_id, dave_session).await;

	// Heartbeats every second; Charlie chats before the crash.
	let chat = "see you after the crash";
	let start = tokio::time::Instant::now();
	for second in 1..=BEFORE_CRASH {
		tokio::time::sleep_until(start + Duration::from_secs(second)).await;
		c.heartbeat(charlie_session, second, false).await;
		d.heartbeat(dave_session, second, true).await;
		if second == 2 {
			c.send(ClientMessage::Chat { text: chat.into() }).await;
			d.expect("chat", |m| match m {
				ServerMessage::Chat(entry) if entry.text == chat => Some(()),
				_ => None,
			})
			.await;
		}
	}

	// Crash: SIGKILL, no shutdown code runs. Restart on the same database.
	sidecar.process.kill9();
	drop((c, d, publisher));
	let mut sidecar = Sidecar::start(&node, &db, &dir.path().join("sidecar-2.log")).await;
	let url = sidecar.ws_url();
	let mut c = Peer::connect("charlie", &url, charlie.clone()).await;
	let mut d = Peer::connect("dave", &url, dave.clone()).await;
	let history = c.watch(stream_id, charlie_session).await;
	assert!(history.iter().any(|t| t == chat), "the chat survives the crash: {history:?}");
	d.watch(stream_id, dave_session).await;
	let resume = tokio::time::Instant::now();
	for second in BEFORE_CRASH + 1..=TOTAL {
		tokio::time::sleep_until(resume + Duration::from_secs(second - BEFORE_CRASH)).await;
		c.heartbeat(charlie_session, second, false).await;
		d.heartbeat(dave_session, second, true).await;
	}
	drop((c, d));

	// The relay settles exactly the last acknowledged seconds, in a finalized block.
	let deadline = Instant::now() + Duration::from_secs(120);
	let settled_at = loop {
		let head = client.finalized_head().await.expect("rpc");
		let sessions =
			client.sessions(&[charlie_session, dave_session], Some(head.hash)).await.expect("rpc");
		let settled: Vec<Option<u64>> =
			sessions.iter().map(|s| s.as_ref().map(|s| s.settled_seconds)).collect();
		if settled == [Some(TOTAL), Some(TOTAL)] {
			break head.hash;
		}
		// (`None`: the session is not open in the finalized state yet.)
		assert!(
			settled.iter().all(|s| s.is_none_or(|s| s <= TOTAL)),
			"settled more than acknowledged: {settled:?}"
		);
		assert!(
			Instant::now() < deadline,
			"not settled in time: {settled:?}\n{}",
			sidecar.process.log_tail()
		);
		tokio::time::sleep(Duration::from_secs(2)).await;
	};
	assert!(!sidecar.process.has_exited(), "the sidecar keeps running");

	// Balances moved exactly: 2 × 12 s × price out of escrow, 10 % of it to the platform, the
	// rest to Alice; the viewers' balances did not move (their escrow was paid at opening).
	let paid = 2 * TOTAL as Balance * PRICE;
	let fee = paid * Balance::from(FEE_BPS) / 10_000;
	let expected: [i128; 5] = [(paid - fee) as i128, fee as i128, -(paid as i128), 0, 0];
	for ((who, before), expected) in watched.iter().zip(balances_before).zip(expected) {
		let after = client.free_balance(who, Some(settled_at)).await.expect("rpc");
		assert_eq!(after as i128 - before as i128, expected, "balance change of {who}");
	}
	for session_id in [charlie_session, dave_session] {
		let s = client.session(session_id, Some(settled_at)).await.expect("rpc").expect("open");
		assert_eq!(s.escrow_remaining, (MAX_SECONDS - TOTAL) as Balance * PRICE);
	}
	let stream = client.stream(stream_id, Some(settled_at)).await.expect("rpc").expect("stored");
	assert_eq!(stream.total_viewer_seconds, 2 * TOTAL);
	assert_eq!(stream.total_earned, paid);
	sidecar.process.stop();
}
