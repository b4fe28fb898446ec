//! TURN against attackers: the real dev node, the real `vilokanam-sidecar` binary and Debian's
//! coturn (configured by `scripts/coturn-conf.sh`, as `scripts/run.sh` runs it), driven by
//! coturn's own client, `turnutils_uclient`, relaying to `turnutils_peer`.
//!
//! A member's credential relays, over UDP and over TCP. Then each attack is refused by coturn:
//! a stranger without a credential, one guessing a password, a member who edits the user id
//! or the expiry in the username (the HMAC covers both), a former member whose credential
//! expired, a member who wants an open relay to another address than the SFU's (403), and one
//! session opening more relays than its quota (486). (Who gets credentials at all is
//! `tests/ws.rs`'s `turn_credentials_only_for_members`; a browser through the relay,
//! `web/tests/turn.test.mjs`.)
//!
//! Needs the node binary (`cargo build --release -p vilokanam-node`) and coturn
//! (`scripts/setup.sh` installs it).

mod common;

use common::*;
use std::{path::Path, process::Stdio, time::Duration};
use vilokanam_chain_client::Client;
use vilokanam_sidecar::protocol::{ClientMessage, IceServer, ServerMessage};
use vilokanam_test_utils::{free_port, Node, Process};

/// The credentials' lifetime in this test.
const TTL_SECS: u64 = 600;

/// coturn on a free port, configured by scripts/coturn-conf.sh into `dir`.
fn start_coturn(dir: &Path) -> (Process, u16) {
	let port = free_port();
	let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/coturn-conf.sh");
	// Relay ports away from the ephemeral range other tests draw from.
	let min_port = 50_000 + (std::process::id() % 200) as u16 * 50;
	let status = std::process::Command::new(script)
		.args([dir.to_str().unwrap(), "127.0.0.1", &port.to_string(), "127.0.0.1"])
		.arg(min_port.to_string())
		.status()
		.expect("scripts/coturn-conf.sh runs");
	assert!(status.success(), "scripts/coturn-conf.sh failed");
	let turnserver = Path::new("/usr/bin/turnserver");
	assert!(turnserver.exists(), "coturn is not installed: run scripts/setup.sh");
	let conf = dir.join("turnserver.conf");
	let process =
		Process::spawn(turnserver, ["-c", conf.to_str().unwrap()], dir.join("coturn.log"));
	(process, port)
}

/// What `turnutils_uclient` made of one run: its exit status and output.
struct Relayed {
	ok: bool,
	output: String,
}

/// coturn's client: allocates relays as `user`/`password` (none: anonymous), over TCP to the
/// server with `tcp`, and sends a few messages through them to `peer_ip`:`peer_port`.
async fn uclient(
	turn_port: u16,
	credential: Option<(&str, &str)>,
	peer: (&str, u16),
	tcp: bool,
	clients: u32,
) -> Relayed {
	let mut cmd = tokio::process::Command::new("turnutils_uclient");
	cmd.args(["-p", &turn_port.to_string(), "-n", "3", "-m", &clients.to_string()]);
	cmd.args(["-e", peer.0, "-r", &peer.1.to_string()]);
	if let Some((user, password)) = credential {
		cmd.args(["-u", user, "-w", password]);
	}
	if tcp {
		cmd.arg("-t");
	}
	cmd.arg("127.0.0.1").stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
	let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
		.await
		.expect("turnutils_uclient ends within 30 s")
		.expect("turnutils_uclient runs");
	let output =
		format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
	Relayed { ok: out.status.success() && output.contains("Total lost packets 0"), output }
}

/// `joined`'s TURN server and its expiry, for a viewer watching `session`.
async fn watch_with_turn(
	name: &'static str,
	url: &str,
	who: &sp_core::sr25519::Pair,
	stream_id: u64,
	session: u64,
) -> (IceServer, u64) {
	let mut peer = Peer::connect(name, url, who.clone()).await;
	peer.send(ClientMessage::Watch { stream_id, session_id: session }).await;
	let (mut servers, expires_at) = peer
		.expect("joined", |m| match m {
			ServerMessage::Joined { ice_servers, ice_expires_at: Some(e), .. } => {
				Some((ice_servers.clone(), *e))
			},
			_ => None,
		})
		.await;
	assert_eq!(servers.len(), 1, "{servers:?}");
	(servers.remove(0), expires_at)
}

#[tokio::test(flavor = "multi_thread")]
async fn turn_relays_members_only() {
	let dir = tempfile::tempdir().expect("temp dir");
	let (mut coturn, turn_port) = start_coturn(&dir.path().join("coturn"));
	let node = Node::start(&dir.path().join("node")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let stream_id = live_stream(&client, "TURN").await;
	let (bob, charlie, dave) = (pair("//Bob"), pair("//Charlie"), pair("//Dave"));
	let bob_session = open_session(&client, &bob, stream_id).await;
	let charlie_session = open_session(&client, &charlie, stream_id).await;
	let dave_session = open_session(&client, &dave, stream_id).await;
	let urls = format!(
		"turn:127.0.0.1:{turn_port}?transport=udp,turn:127.0.0.1:{turn_port}?transport=tcp"
	);
	let secret_file = dir.path().join("coturn/turn-secret");
	let sidecar = Sidecar::start_with(
		&node,
		&dir.path().join("sidecar.sqlite"),
		&dir.path().join("sidecar.log"),
		&[
			"--turn-url".into(),
			urls,
			"--turn-secret-file".into(),
			secret_file.display().to_string(),
			"--turn-ttl-secs".into(),
			TTL_SECS.to_string(),
		],
	)
	.await;
	assert!(!coturn.has_exited(), "coturn runs:\n{}", coturn.log_tail());
	let url = sidecar.ws_url();
	// The peer the relays send to, on the SFU's address (the one coturn allows).
	let peer_port = free_port();
	let _peer = Process::spawn(
		Path::new("/usr/bin/turnutils_peer"),
		["-L", "127.0.0.1", "-p", &peer_port.to_string()],
		dir.path().join("peer.log"),
	);
	tokio::time::sleep(Duration::from_millis(300)).await;
	let to_sfu = ("127.0.0.1", peer_port);

	// Members' credentials relay: Bob over UDP, Charlie over TCP.
	let (bob_server, expires_at) = watch_with_turn("bob", &url, &bob, stream_id, bob_session).await;
	assert_eq!(bob_server.username, format!("{expires_at}:s{bob_session}"));
	let bob_cred = (bob_server.username.as_str(), bob_server.credential.as_str());
	let r = uclient(turn_port, Some(bob_cred), to_sfu, false, 1).await;
	assert!(r.ok, "Bob's credential relays over UDP:\n{}", r.output);
	let (charlie_server, _) =
		watch_with_turn("charlie", &url, &charlie, stream_id, charlie_session).await;
	let charlie_cred = (charlie_server.username.as_str(), charlie_server.credential.as_str());
	let r = uclient(turn_port, Some(charlie_cred), to_sfu, true, 1).await;
	assert!(r.ok, "Charlie's credential relays over TCP:\n{}", r.output);

	// A stranger: no credential, or a guessed password.
	let r = uclient(turn_port, None, to_sfu, false, 1).await;
	assert!(!r.ok, "no credential, no relay:\n{}", r.output);
	let guessed = "jLMYa3pRsjfcDfCnfuA7ccuvQ9k=";
	let r = uclient(turn_port, Some((&bob_server.username, guessed)), to_sfu, false, 1).await;
	assert!(!r.ok, "a guessed password, no relay:\n{}", r.output);
	// A member editing the username: another session's id, or a later expiry.
	let other_user = format!("{expires_at}:s{dave_session}");
	let r = uclient(turn_port, Some((&other_user, bob_cred.1)), to_sfu, false, 1).await;
	assert!(!r.ok, "another user id with Bob's password:\n{}", r.output);
	let later = format!("{}:s{bob_session}", expires_at + 86_400);
	let r = uclient(turn_port, Some((&later, bob_cred.1)), to_sfu, false, 1).await;
	assert!(!r.ok, "a later expiry with Bob's password:\n{}", r.output);
	// A former member: a credential the sidecar issued, now past its expiry (the sidecar's
	// own issuer over the same secret, as of TTL + 10 s ago).
	let secret = std::fs::read_to_string(&secret_file).expect("the secret");
	let issuer = vilokanam_sidecar::access::turn::TurnIssuer::new(
		vec![format!("turn:127.0.0.1:{turn_port}?transport=udp")],
		&secret,
		TTL_SECS,
	)
	.expect("an issuer");
	let long_ago = vilokanam_sidecar::clock::unix_secs() - TTL_SECS - 10;
	let expired = issuer
		.issue(vilokanam_sidecar::access::turn::TurnUser::Session(dave_session), long_ago)
		.servers
		.remove(0);
	let r =
		uclient(turn_port, Some((&expired.username, &expired.credential)), to_sfu, false, 1).await;
	assert!(!r.ok, "an expired credential, no relay:\n{}", r.output);
	// Yet the same user with a fresh credential relays: only the expiry was refused.
	let (dave_server, _) = watch_with_turn("dave", &url, &dave, stream_id, dave_session).await;
	let dave_cred = (dave_server.username.as_str(), dave_server.credential.as_str());
	let r = uclient(turn_port, Some(dave_cred), to_sfu, false, 1).await;
	assert!(r.ok, "Dave's fresh credential relays:\n{}", r.output);

	// A member wanting an open relay: any peer but the SFU's address is forbidden.
	let r = uclient(turn_port, Some(charlie_cred), ("127.0.0.2", peer_port), false, 1).await;
	assert!(!r.ok && r.output.contains("403"), "127.0.0.2 is not a permitted peer:\n{}", r.output);
	// One session cannot hold more than its quota of relays (4; uclient takes 2 per client).
	let eve = pair("//Eve");
	let eve_session = open_session(&client, &eve, stream_id).await;
	let (eve_server, _) = watch_with_turn("eve", &url, &eve, stream_id, eve_session).await;
	let eve_cred = (eve_server.username.as_str(), eve_server.credential.as_str());
	let r = uclient(turn_port, Some(eve_cred), to_sfu, false, 3).await;
	assert!(!r.ok && r.output.contains("486"), "past the quota:\n{}", r.output);
	assert!(!coturn.has_exited(), "coturn survived:\n{}", coturn.log_tail());
	coturn.stop();
}
