//! Network test of forks (issue 18, item 8): when the node a sidecar follows drops a branch for
//! another, the sidecar undoes a session close and a viewer ban that only the dropped branch
//! held.
//!
//! A fork needs two sets of validators that cannot see each other, so this runs on the
//! validators of `zombienet/fork.toml`: alice, bob, charlie and dave, each with
//! `--reserved-only`, linked and cut by the test with the reserved-peer RPCs. With four
//! validators GRANDPA finalizes with three: alice cut off authors in one Aura slot of four and
//! finalizes nothing, while bob, charlie and dave author in three of four and go on finalizing.
//! Linked again, alice switches to their branch (finalized, and longer) and drops her own.
//!
//! One network, one scenario, in order (each step with its own deadline):
//! 1. all four linked, finality advancing; Ferdie creates a stream and goes live, Eve (viewer 1)
//!    and Eve's stash (viewer 2) each open a session; all of it finalized on every node;
//! 2. the real sidecar binary (no relayer key: it serves every stream) follows alice; Ferdie
//!    publishes (he stays in the room, so that it never empties: an emptied room forgets its
//!    closed sessions, and a forgotten session is read afresh, which would hide a sidecar that
//!    never undoes a close), both viewers log in and `watch`;
//! 3. alice is cut off. Only to alice: viewer 1's `close_session` and Ferdie's
//!    `ban_viewer(viewer 2)`. Only to bob: a `system.remark` from each of the two accounts with
//!    the same nonce. On the winning branch those nonces are then used, so alice's pool finds
//!    the close and the ban stale once her blocks are retracted, instead of including them
//!    again on the new branch (which would leave nothing to undo);
//! 4. alice's best block holds the close and the ban (storage at her best block), and the
//!    sidecar acted on them: viewer 1 is told `revoked: session_closed`, viewer 2
//!    `revoked: banned`, and a new `watch` is refused (`not_found`, `forbidden`). Bob's
//!    finalized branch holds the remarks and neither the close nor the ban;
//! 5. bob finalizes past alice's best block; alice is linked again: she finalizes bob's
//!    finalized block, her block at the height of her close and ban is now another one, and at
//!    her new best block viewer 1's session is open and viewer 2 is not banned;
//! 6. the sidecar undid both: viewer 1 and viewer 2 `watch` again. Finally the close and the ban
//!    did not come back: the session is open and the ban absent at alice's finalized head, past
//!    the reorg.
//!
//! Why it cannot pass on a sidecar without the fix: that sidecar re-read state only after a gap
//! in the block numbers, and then only the sessions it held open and the bans of their viewers.
//! Viewer 1's session stays closed in its cache (the room, kept alive by the publisher, keeps
//! it), so step 6 fails for viewer 1; and when the new branch arrives as block n + 1 on
//! another parent, no gap is seen at all and viewer 2 stays banned too.
//!
//! The network and the sidecar are stopped at the end, whether the scenario passed or not; on
//! failure the end of every node's log and of the sidecar's is printed, and the files stay in
//! the network's base directory. Needs the node binary (as `tests/network.rs`) and the sidecar
//! binary (`$VILOKANAM_SIDECAR_BIN`, else next to this test in the Cargo target directory):
//! `cargo build --release -p vilokanam-node -p vilokanam-sidecar`.

use std::{
	path::{Path, PathBuf},
	time::Duration,
};

use anyhow::{anyhow, bail, ensure, Context, Result};
use codec::Encode;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sp_core::{sr25519, Pair};
use tokio::{net::TcpStream, task::JoinHandle};
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};
use vilokanam_chain_client::{
	AccountId, Balance, Client, Head, Included, RuntimeCall, SessionId, StreamId, TxStatus, H256,
};
use vilokanam_test_utils::{
	chain::{
		account, create_stream_call, go_live_call, governance_calls, pair, session_opened,
		stream_created,
	},
	free_port, health_status, sidecar_bin, Process,
};
use vilokanam_zombienet_tests::{
	fork_toml, link, node_binary, print_log_tails, put_on_path, spawn, tear_down, unlink, wait_for,
	LocalNetwork, Rpc, VALIDATORS,
};
use zombienet_sdk::{Arg, NetworkConfig, NetworkNode};

/// The whole scenario after the network is up; a stuck step fails before this.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// For links to come up or go down, a block to be authored or finalized, a node to sync.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_secs(2);
/// How long one expected sidecar message may take.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(60);
/// Node log lines printed on failure.
const LOG_LINES: usize = 40;

/// Sudo on the `local` preset: adds the stream category.
const SUDO: &str = "//Alice";
/// The stream's creator; bans viewer 2 on alice's branch.
const CREATOR: &str = "//Ferdie";
/// Closes its session on alice's branch.
const VIEWER_1: &str = "//Eve";
/// Banned on alice's branch. Every dev account of the preset is endowed, stashes included.
const VIEWER_2: &str = "//Eve//stash";

const PRICE: Balance = vilokanam_runtime::MILLI_VLK;
const MAX_SECONDS: u64 = 600;
const FEE_BPS: u16 = 1_000;

/// The node the sidecar follows and the test cuts off.
const CUT: &str = "alice";
/// The node the winning branch's transactions go to.
const WINNER: &str = "bob";

/// The domain tag of the sidecar's login payload (`access::identity::AUTH_TAG`).
const AUTH_TAG: [u8; 17] = *b"vilokanam/auth/v2";

/// `fork.toml` loads with zombienet and sets what the scenario relies on. Needs no node.
#[test]
fn fork_toml_lets_the_test_link_and_cut_validators() {
	let path = fork_toml();
	let config = NetworkConfig::load_from_toml(path.to_str().expect("a UTF-8 path"))
		.unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
	let chain = config.relaychain();
	assert_eq!(chain.chain().as_str(), "local");
	let nodes = chain.nodes();
	assert_eq!(nodes.iter().map(|node| node.name()).collect::<Vec<_>>(), VALIDATORS);
	let libp2p = Arg::Option("--network-backend".into(), "libp2p".into());
	for node in nodes {
		assert!(node.is_validator(), "{} is not a validator", node.name());
		assert_eq!(node.command().map(|c| c.as_str()), Some("vilokanam-node"));
		assert_eq!(node.initial_balance(), 0, "{} overrides the preset balances", node.name());
		assert_eq!(node.keystore_key_types(), ["aura", "gran"]);
		assert_eq!(node.chain_spec_key_types(), ["aura", "grandpa"]);
		let args = node.args();
		for arg in ["-:--prometheus-external", "--no-mdns", "--reserved-only"] {
			assert!(args.contains(&&Arg::Flag(arg.into())), "{} runs without {arg}", node.name());
		}
		assert!(args.contains(&&libp2p), "{} runs on another network backend", node.name());
		// Only the node that is cut off must author alone.
		assert_eq!(
			args.contains(&&Arg::Flag("--force-authoring".into())),
			node.name() == CUT,
			"--force-authoring on {}",
			node.name()
		);
	}
}

#[test]
fn a_reorg_undoes_a_close_and_a_ban_in_the_sidecar() {
	// Before any thread starts: the network finds `vilokanam-node` on PATH.
	let binary = node_binary().unwrap_or_else(|e| panic!("{e:#}"));
	put_on_path(&binary).unwrap_or_else(|e| panic!("{e:#}"));
	// Panics with how to build it when it is missing.
	let sidecar = sidecar_bin();
	eprintln!("node binary: {}\nsidecar binary: {}", binary.display(), sidecar.display());

	let runtime =
		tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a Tokio runtime");
	if let Err(e) = runtime.block_on(run(&sidecar)) {
		panic!("{e:#}");
	}
}

/// Spawns the network, runs the scenario and always stops the sidecar and the network.
async fn run(sidecar_bin: &Path) -> Result<()> {
	let network = spawn(&fork_toml()).await?;
	eprintln!("network spawned in {}", network.base_dir().unwrap_or("?"));

	let mut sidecar: Option<Process> = None;
	let steps = scenario(&network, sidecar_bin, &mut sidecar);
	let outcome = match tokio::time::timeout(SCENARIO_TIMEOUT, steps).await {
		Ok(outcome) => outcome,
		Err(_) => Err(anyhow!("the scenario took over {}s", SCENARIO_TIMEOUT.as_secs())),
	};
	if outcome.is_err() {
		print_log_tails(&network, LOG_LINES).await;
		if let Some(sidecar) = &sidecar {
			eprintln!("----- sidecar, last lines -----\n{}", sidecar.log_tail());
		}
	}
	// SIGINT, then SIGKILL after 30 s.
	if let Some(mut sidecar) = sidecar.take() {
		sidecar.stop();
	}
	tear_down(network, outcome).await
}

async fn scenario(
	network: &LocalNetwork,
	sidecar_bin: &Path,
	sidecar: &mut Option<Process>,
) -> Result<()> {
	let nodes: Vec<&NetworkNode> =
		VALIDATORS.iter().map(|name| network.get_node(*name)).collect::<Result<_>>()?;
	ensure!(network.nodes().len() == VALIDATORS.len(), "the network has extra nodes");
	let cut = network.get_node(CUT)?;
	let winner = network.get_node(WINNER)?;
	let others: Vec<&NetworkNode> = nodes.iter().copied().filter(|n| n.name() != CUT).collect();

	// 1. Up, all linked with all (`--reserved-only`: nobody syncs before this), finalizing.
	for node in &nodes {
		node.wait_until_is_up(STEP_TIMEOUT.as_secs()).await?;
	}
	for (i, a) in nodes.iter().enumerate() {
		for b in &nodes[i + 1..] {
			link(a, b).await?;
		}
	}
	for node in &nodes {
		wait_for_peers(node, nodes.len() - 1).await?;
	}
	let linked_at = Rpc::connect(cut).await?.heights().await?;
	for node in &nodes {
		let what = format!("{}: finalized past #{}", node.name(), linked_at.best);
		wait_for(&what, STEP_TIMEOUT, POLL, move || async move {
			let heights = Rpc::connect(node).await?.heights().await?;
			if heights.finalized > linked_at.best {
				Ok(Some(heights))
			} else {
				bail!("at {heights:?}")
			}
		})
		.await?;
	}

	let chain = Client::connect(cut.ws_uri()).await.context("alice's chain client")?;
	let winner_chain = Client::connect(winner.ws_uri()).await.context("bob's chain client")?;
	let (sudo, creator, viewer_1, viewer_2) =
		(pair(SUDO), pair(CREATOR), pair(VIEWER_1), pair(VIEWER_2));
	let (creator_id, viewer_1_id, viewer_2_id) =
		(account(&creator), account(&viewer_1), account(&viewer_2));

	for call in governance_calls(FEE_BPS) {
		execute(&chain, call, &sudo, "a governance call").await?;
	}
	let created =
		execute(&chain, create_stream_call("Forks", PRICE, None), &creator, "create_stream")
			.await?;
	let stream_id = stream_created(&created.events);
	execute(&chain, go_live_call(stream_id), &creator, "go_live").await?;
	let (opened_1, opened_2) = tokio::try_join!(
		execute(&chain, open_session_call(stream_id, &viewer_1_id), &viewer_1, "open_session 1"),
		execute(&chain, open_session_call(stream_id, &viewer_2_id), &viewer_2, "open_session 2"),
	)?;
	let session_1 = session_opened(&opened_1.events, Some(&viewer_1_id));
	let session_2 = session_opened(&opened_2.events, Some(&viewer_2_id));
	eprintln!("stream {stream_id} live; session {session_1} of viewer 1, {session_2} of viewer 2");

	// Finalized everywhere: the last setup block is on every node's finalized chain.
	let n_1 = block_number(&chain, opened_1.block).await?;
	let n_2 = block_number(&chain, opened_2.block).await?;
	let (last, last_number) = if n_2 > n_1 { (opened_2.block, n_2) } else { (opened_1.block, n_1) };
	for node in &nodes {
		let client = Client::connect(node.ws_uri()).await.context("a chain client")?;
		let client = &client;
		wait_for(
			format!("{}: block #{last_number} ({last:?}) finalized", node.name()),
			STEP_TIMEOUT,
			POLL,
			move || async move {
				let finalized = client.finalized_head().await?;
				let at = client.block_hash(last_number).await?;
				if finalized.number >= last_number && at == Some(last) {
					Ok(Some(()))
				} else {
					bail!("finalized #{}, block #{last_number} is {at:?}", finalized.number)
				}
			},
		)
		.await?;
	}
	// The setup as finalized (a block that `execute` saw may have been retracted since).
	let finalized = chain.finalized_head().await?;
	ensure!(
		chain.stream(stream_id, Some(finalized.hash)).await?.is_some(),
		"stream {stream_id} is not in the finalized state"
	);
	for (session, viewer) in [(session_1, &viewer_1_id), (session_2, &viewer_2_id)] {
		let found = chain.session(session, Some(finalized.hash)).await?;
		let as_opened = found
			.as_ref()
			.is_some_and(|s| s.is_open() && s.viewer == *viewer && s.stream_id == stream_id);
		ensure!(as_opened, "session {session} in the finalized state: {found:?}");
	}

	// 2. The sidecar follows alice; the creator publishes, the viewers watch.
	let dir = PathBuf::from(network.base_dir().context("the network has no base directory")?)
		.join("sidecar");
	std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
	let port = free_port();
	let args: Vec<String> = vec![
		"--listen".into(),
		format!("127.0.0.1:{port}"),
		"--node-url".into(),
		cut.ws_uri().into(),
		"--db".into(),
		dir.join("sidecar.sqlite").display().to_string(),
		"--media-listen".into(),
		"127.0.0.1:0".into(),
		"--log".into(),
		"info".into(),
	];
	*sidecar = Some(Process::spawn(sidecar_bin, args, dir.join("sidecar.log")));
	let every = Duration::from_millis(500);
	wait_for("the sidecar's /health to say 200", STEP_TIMEOUT, every, move || async move {
		Ok((health_status(port).await == Some(200)).then_some(()))
	})
	.await?;
	let url = format!("ws://127.0.0.1:{port}/ws");

	let mut publisher = SidecarClient::login("creator", &url, &creator).await?;
	publisher.publish(stream_id).await?;
	// Keeps the room from emptying until the end (see the module docs); nobody needs its
	// messages, but they are read so that nothing piles up.
	let _publisher = AbortOnDrop(tokio::spawn(publisher.drain()));

	let mut watcher_1 = SidecarClient::login("viewer 1", &url, &viewer_1).await?;
	let mut watcher_2 = SidecarClient::login("viewer 2", &url, &viewer_2).await?;
	for (watcher, session) in [(&mut watcher_1, session_1), (&mut watcher_2, session_2)] {
		let outcome = watcher.watch(stream_id, session).await?;
		ensure!(outcome == Watch::Joined, "{}: watch before the fork: {outcome:?}", watcher.name);
	}

	// 3. Cut alice off; the close and the ban go to her only, the remarks to bob only, on the
	// same nonces.
	let nonce_1 = chain.next_nonce(&viewer_1_id).await?;
	let nonce_creator = chain.next_nonce(&creator_id).await?;
	for other in &others {
		unlink(cut, other).await?;
	}
	wait_for_peers(cut, 0).await?;
	for other in &others {
		wait_for_peers(other, others.len() - 1).await?;
	}
	let cut_at = chain.best_head().await?;
	eprintln!("{CUT} cut off at #{} ({:?})", cut_at.number, cut_at.hash);

	let close = RuntimeCall::Ticks(pallet_ticks::Call::close_session {
		session_id: session_1,
		final_intent: None,
	});
	let ban =
		RuntimeCall::Streams(pallet_streams::Call::ban_viewer { viewer: viewer_2_id.clone() });
	for (call, signer, nonce, what) in [
		(close, &viewer_1, nonce_1, "viewer 1's close_session"),
		(ban, &creator, nonce_creator, "the creator's ban_viewer"),
	] {
		let xt = chain.sign(call, signer, nonce).await?;
		chain.submit(&xt).await.with_context(|| format!("{CUT} takes {what}"))?;
	}
	let mut remarks = Vec::new();
	for (signer, nonce, what) in [
		(&viewer_1, nonce_1, "viewer 1's remark"),
		(&creator, nonce_creator, "the creator's remark"),
	] {
		let call = RuntimeCall::System(vilokanam_runtime::SystemCall::remark {
			remark: format!("fork test: {what}").into_bytes(),
		});
		let xt = winner_chain.sign(call, signer, nonce).await?;
		let statuses = winner_chain
			.submit_and_watch(&xt)
			.await
			.with_context(|| format!("{WINNER} takes {what}"))?;
		remarks.push((what, xt, statuses));
	}

	// 4. Alice's branch closes and bans; the sidecar following her acts on it.
	let chain_ref = &chain;
	let (creator_ref, viewer_2_ref) = (&creator_id, &viewer_2_id);
	let fork: Head = wait_for(
		format!("{CUT}'s best block to hold the close and the ban"),
		STEP_TIMEOUT,
		POLL,
		move || async move {
			let best = chain_ref.best_head().await?;
			let session = chain_ref.session(session_1, Some(best.hash)).await?;
			let closed = session.as_ref().is_none_or(|s| !s.is_open());
			let banned = chain_ref.is_banned(creator_ref, viewer_2_ref, Some(best.hash)).await?;
			if closed && banned {
				Ok(Some(best))
			} else {
				bail!("at #{}: session 1 closed {closed}, viewer 2 banned {banned}", best.number)
			}
		},
	)
	.await?;
	eprintln!("{CUT}'s branch closed and banned at #{} ({:?})", fork.number, fork.hash);
	let cut_finalized = chain.finalized_head().await?;
	ensure!(
		cut_finalized.number < fork.number,
		"{CUT} finalized #{} while cut off: she is not cut off",
		cut_finalized.number
	);

	let reason = watcher_1.revoked().await?;
	ensure!(reason == "session_closed", "viewer 1 was revoked for {reason:?}, not session_closed");
	let reason = watcher_2.revoked().await?;
	ensure!(reason == "banned", "viewer 2 was revoked for {reason:?}, not banned");
	drop((watcher_1, watcher_2));
	match try_watch(&url, "viewer 1", &viewer_1, stream_id, session_1).await? {
		Watch::Refused { code, .. } if code == "not_found" => {},
		other => bail!("viewer 1's watch of a closed session: {other:?}, not not_found"),
	}
	match try_watch(&url, "viewer 2", &viewer_2, stream_id, session_2).await? {
		Watch::Refused { code, message } if code == "forbidden" && message.contains("banned") => {},
		other => bail!("viewer 2's watch after the ban: {other:?}, not forbidden (banned)"),
	}
	eprintln!("the sidecar revoked both viewers and refuses them");

	// The winning branch: both remarks finalized, neither the close nor the ban.
	for (what, xt, mut statuses) in remarks {
		let block = finalized_in(&mut statuses, what).await?;
		let included = winner_chain
			.included(block, &xt)
			.await?
			.with_context(|| format!("{what} is not in block {block:?}"))?;
		ensure!(included.success, "{what} failed: {:?}", included.dispatch_error());
	}
	let winner_finalized = winner_chain.finalized_head().await?;
	let session = winner_chain.session(session_1, Some(winner_finalized.hash)).await?;
	ensure!(
		session.as_ref().is_some_and(|s| s.is_open()),
		"{WINNER}'s finalized branch closed session 1 too: {session:?}"
	);
	ensure!(
		!winner_chain.is_banned(&creator_id, &viewer_2_id, Some(winner_finalized.hash)).await?,
		"{WINNER}'s finalized branch banned viewer 2 too"
	);

	// 5. Bob finalizes past the whole of alice's branch, then alice is linked again.
	let winner_ref = &winner_chain;
	wait_for(
		format!("{WINNER} to finalize past {CUT}'s best block"),
		STEP_TIMEOUT,
		POLL,
		move || async move {
			let cut_best = chain_ref.best_head().await?.number;
			let finalized = winner_ref.finalized_head().await?.number;
			if finalized > cut_best {
				Ok(Some(()))
			} else {
				bail!("{WINNER} finalized #{finalized}, {CUT}'s best is #{cut_best}")
			}
		},
	)
	.await?;
	for other in &others {
		link(cut, other).await?;
	}
	wait_for_peers(cut, others.len()).await?;
	let target = winner_chain.finalized_head().await?;
	wait_for(
		format!("{CUT} to finalize {WINNER}'s block #{} ({:?})", target.number, target.hash),
		STEP_TIMEOUT,
		POLL,
		move || async move {
			let finalized = chain_ref.finalized_head().await?;
			let at = chain_ref.block_hash(target.number).await?;
			if finalized.number >= target.number && at == Some(target.hash) {
				Ok(Some(()))
			} else {
				bail!("finalized #{}, block #{} is {at:?}", finalized.number, target.number)
			}
		},
	)
	.await?;
	let now_at_fork = chain.block_hash(fork.number).await?;
	ensure!(
		now_at_fork.is_some() && now_at_fork != Some(fork.hash),
		"{CUT}'s block #{} is still {:?}: her branch was not dropped",
		fork.number,
		fork.hash
	);
	ensure!(
		now_at_fork == winner_chain.block_hash(fork.number).await?,
		"{CUT} and {WINNER} disagree on block #{}",
		fork.number
	);
	let best = chain.best_head().await?;
	assert_undone(&chain, &best, session_1, &creator_id, &viewer_2_id).await?;
	eprintln!(
		"{CUT} took {WINNER}'s branch: #{} is now {now_at_fork:?}, best #{}",
		fork.number, best.number
	);

	// 6. The sidecar follows: both watch again.
	for (name, key, session) in
		[("viewer 1", &viewer_1, session_1), ("viewer 2", &viewer_2, session_2)]
	{
		let url = url.as_str();
		wait_for(
			format!("{name} to watch again after the reorg"),
			STEP_TIMEOUT,
			POLL,
			move || async move {
				match try_watch(url, name, key, stream_id, session).await? {
					Watch::Joined => Ok(Some(())),
					refused => bail!("{refused:?}"),
				}
			},
		)
		.await?;
	}
	eprintln!("the sidecar undid the close and the ban");

	// Alice's pool did not put the close or the ban back: not in her finalized state past the
	// reorg either.
	let settled = wait_for(
		format!("{CUT} to finalize past her best block #{}", best.number),
		STEP_TIMEOUT,
		POLL,
		move || async move {
			let finalized = chain_ref.finalized_head().await?;
			if finalized.number > best.number {
				Ok(Some(finalized))
			} else {
				bail!("finalized #{}", finalized.number)
			}
		},
	)
	.await?;
	assert_undone(&chain, &settled, session_1, &creator_id, &viewer_2_id).await?;
	Ok(())
}

/// Fails unless, at `at`, session `session` is open and `creator` has not banned `viewer`.
async fn assert_undone(
	chain: &Client,
	at: &Head,
	session: SessionId,
	creator: &AccountId,
	viewer: &AccountId,
) -> Result<()> {
	let found = chain.session(session, Some(at.hash)).await?;
	ensure!(
		found.as_ref().is_some_and(|s| s.is_open()),
		"at {CUT}'s block #{}: session {session} is not open: {found:?}",
		at.number
	);
	ensure!(
		!chain.is_banned(creator, viewer, Some(at.hash)).await?,
		"at {CUT}'s block #{}: viewer 2 is banned",
		at.number
	);
	Ok(())
}

/// Signs `call` as `signer`, waits until it is in a block and checks that it succeeded.
async fn execute(
	chain: &Client,
	call: RuntimeCall,
	signer: &sr25519::Pair,
	what: &str,
) -> Result<Included> {
	let included =
		chain.execute(call, signer, false).await.with_context(|| format!("executing {what}"))?;
	ensure!(included.success, "{what} failed: {:?}", included.dispatch_error());
	Ok(included)
}

/// Opening a session of [`MAX_SECONDS`] on `stream_id` at up to [`PRICE`], with the viewer's own
/// key as the voucher key (the viewer logs in with it).
fn open_session_call(stream_id: StreamId, viewer: &AccountId) -> RuntimeCall {
	RuntimeCall::Ticks(pallet_ticks::Call::open_session {
		stream_id,
		max_seconds: MAX_SECONDS,
		max_price_per_second: PRICE,
		voucher_key: viewer.clone(),
	})
}

/// The number of a block the node knows.
async fn block_number(chain: &Client, hash: H256) -> Result<u32> {
	chain.header_number(hash).await?.with_context(|| format!("no header for {hash:?}"))
}

/// Waits until a watched extrinsic is in a finalized block; fails if it leaves the pool.
async fn finalized_in(
	statuses: &mut futures::stream::BoxStream<'static, TxStatus>,
	what: &str,
) -> Result<H256> {
	let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
	loop {
		let status = tokio::time::timeout_at(deadline, statuses.next())
			.await
			.map_err(|_| anyhow!("{what} not finalized within {}s", STEP_TIMEOUT.as_secs()))?
			.with_context(|| format!("{WINNER} stopped reporting on {what}"))?;
		match status {
			TxStatus::Finalized(block) => return Ok(block),
			TxStatus::Dropped(why) | TxStatus::Invalid(why) => {
				bail!("{what} left {WINNER}'s pool: {why}")
			},
			TxStatus::Pool | TxStatus::InBlock(_) | TxStatus::Retracted(_) => {},
		}
	}
}

/// Waits until the node has exactly `count` peers (`system_health`).
async fn wait_for_peers(node: &NetworkNode, count: usize) -> Result<()> {
	let count = count as u64;
	let what = format!("{} to have {count} peers", node.name());
	wait_for(what, STEP_TIMEOUT, POLL, move || async move {
		let peers = Rpc::connect(node).await?.peers().await?;
		if peers == count {
			Ok(Some(()))
		} else {
			bail!("{peers} peers")
		}
	})
	.await?;
	eprintln!("{} has {count} peers", node.name());
	Ok(())
}

/// Aborts a background task when dropped (also when the scenario fails early).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
	fn drop(&mut self) {
		self.0.abort();
	}
}

/// The answer to a `watch`.
#[derive(Debug, PartialEq, Eq)]
enum Watch {
	/// `joined` as a viewer.
	Joined,
	/// An `error` answering the `watch`.
	Refused { code: String, message: String },
}

/// Logs in as `key` on a new connection and asks to `watch`; returns the answer.
async fn try_watch(
	url: &str,
	name: &'static str,
	key: &sr25519::Pair,
	stream_id: StreamId,
	session_id: SessionId,
) -> Result<Watch> {
	SidecarClient::login(name, url, key).await?.watch(stream_id, session_id).await
}

/// A client of the sidecar's WebSocket protocol (docs/SIDECAR.md, `sidecar/src/protocol.rs`),
/// logged in as one account. The few messages it needs are written as JSON here rather than
/// with the sidecar's own types, so that this crate does not build the sidecar's library (its
/// SFU and SQLite) for them.
struct SidecarClient {
	name: &'static str,
	ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl SidecarClient {
	/// Connects and answers the challenge with an sr25519 signature of the login payload.
	async fn login(name: &'static str, url: &str, key: &sr25519::Pair) -> Result<Self> {
		let (ws, _) = tokio::time::timeout(MESSAGE_TIMEOUT, tokio_tungstenite::connect_async(url))
			.await
			.map_err(|_| anyhow!("{name}: connecting to {url} timed out"))?
			.with_context(|| format!("{name}: connecting to {url}"))?;
		let mut client = Self { name, ws };
		let challenge = client
			.expect("the challenge", |m| (m["type"] == "challenge").then(|| m.clone()))
			.await?;
		let nonce = hex_32(&challenge["nonce"]).context("the challenge's nonce")?;
		let genesis = hex_32(&challenge["genesis"]).context("the challenge's genesis")?;
		let audience = challenge["audience"].as_str().context("a challenge without audience")?;
		// `access::identity::auth_payload`: SCALE of (tag, genesis, audience as bytes, nonce).
		let payload = (AUTH_TAG, genesis, audience.as_bytes(), nonce).encode();
		let signature = key.sign(&payload);
		client
			.send(json!({
				"type": "auth",
				"account": format!("0x{}", hex::encode(key.public())),
				"crypto": "sr25519",
				"signature": format!("0x{}", hex::encode(signature.0)),
				"encoding": "raw",
			}))
			.await?;
		client.expect("authenticated", |m| (m["type"] == "authenticated").then_some(())).await?;
		Ok(client)
	}

	/// Sends `msg` with the protocol version.
	async fn send(&mut self, mut msg: Value) -> Result<()> {
		msg["v"] = json!(1);
		self.ws
			.send(Message::text(msg.to_string()))
			.await
			.with_context(|| format!("{}: sending {msg}", self.name))
	}

	/// Reads messages until `pick` takes one; others (stats, peers, chat) are skipped, an
	/// `error` that `pick` does not take is a failure.
	async fn expect<T>(
		&mut self,
		what: &str,
		mut pick: impl FnMut(&Value) -> Option<T>,
	) -> Result<T> {
		let deadline = tokio::time::Instant::now() + MESSAGE_TIMEOUT;
		loop {
			let frame = match tokio::time::timeout_at(deadline, self.ws.next()).await {
				Ok(Some(Ok(frame))) => frame,
				Ok(Some(Err(e))) => {
					bail!("{}: WebSocket error waiting for {what}: {e}", self.name)
				},
				Ok(None) => bail!("{}: the sidecar closed the connection before {what}", self.name),
				Err(_) => bail!("{}: no {what} within {}s", self.name, MESSAGE_TIMEOUT.as_secs()),
			};
			let Message::Text(text) = frame else { continue };
			let msg: Value = serde_json::from_str(text.as_str())
				.with_context(|| format!("{}: undecodable message {}", self.name, text.as_str()))?;
			if let Some(picked) = pick(&msg) {
				return Ok(picked);
			}
			if msg["type"] == "error" {
				bail!("{}: error while waiting for {what}: {msg}", self.name);
			}
		}
	}

	/// `publish`: joins the stream's room as its publisher.
	async fn publish(&mut self, stream_id: StreamId) -> Result<()> {
		self.send(json!({ "type": "publish", "stream_id": stream_id })).await?;
		self.expect("joined as the publisher", |m| {
			(m["type"] == "joined" && m["role"] == "publisher").then_some(())
		})
		.await
	}

	/// `watch`: joined, or the error answering it.
	async fn watch(&mut self, stream_id: StreamId, session_id: SessionId) -> Result<Watch> {
		self.send(json!({ "type": "watch", "stream_id": stream_id, "session_id": session_id }))
			.await?;
		self.expect("the answer to watch", |m| match m["type"].as_str() {
			Some("joined") if m["role"] == "viewer" => Some(Watch::Joined),
			Some("error") if m["request"] == "watch" => Some(Watch::Refused {
				code: m["code"].as_str().unwrap_or_default().to_owned(),
				message: m["message"].as_str().unwrap_or_default().to_owned(),
			}),
			_ => None,
		})
		.await
	}

	/// Waits to be removed from the room; returns why (`revoked`'s reason).
	async fn revoked(&mut self) -> Result<String> {
		self.expect("revoked", |m| {
			(m["type"] == "revoked").then(|| m["reason"].as_str().unwrap_or_default().to_owned())
		})
		.await
	}

	/// Reads and drops everything until the connection ends.
	async fn drain(mut self) {
		while let Some(Ok(_)) = self.ws.next().await {}
	}
}

/// 32 bytes written as `0x` and hex.
fn hex_32(value: &Value) -> Result<[u8; 32]> {
	let text = value.as_str().with_context(|| format!("{value} is not a string"))?;
	let mut out = [0u8; 32];
	hex::decode_to_slice(text.trim_start_matches("0x"), &mut out)
		.with_context(|| format!("{text} is not 32 bytes of hex"))?;
	Ok(out)
}
