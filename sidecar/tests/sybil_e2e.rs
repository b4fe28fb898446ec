//! Issue 18, item 4, against the real node and the real sidecar: sybil sessions cost the relayer
//! nothing it is not paid for, and paying sessions still settle.
//!
//! The sidecar relays on terms (a price floor, a relayer share of 10 %, vouchers of at least
//! [`MIN_SETTLE`] new seconds) whose floor is computed from the chain's own fee for the dearest
//! voucher, one alone in a `settle_batch`. On a low stream id, 20,000 sybil sessions at that
//! floor (the lowest price the sidecar serves) trickle: each of their viewers logs in, watches
//! and acknowledges one more second per visit, over and over, as many as the machine can, for
//! [`ATTACK`]. 2,000 more sybils hold sessions on a free stream. Twenty honest viewers of a later
//! stream at the same floor watch meanwhile, with a voucher a second. Then:
//! - the free sybils are refused (`forbidden`): the terms serve no free stream;
//! - the relayer account's balance did not go down over the attack: every fee it paid was
//!   covered by its share of what it settled;
//! - every honest session settled, again and again: the most blocks (relay rounds: one per
//!   block here) any honest session waited between two settlements is reported and bounded;
//! - when the honest viewers leave (close intents), their stream's total is exactly the seconds
//!   they acknowledged;
//! - then one sybil trickles one second per round for ten rounds: a voucher of one second in a
//!   batch of its own pays the relayer less than its fee. The relayer's balance does not go
//!   down.
//!
//! Against the relay from before its settle policy (every voucher in every round) the last
//! check fails: the relayer pays a batch fee per round for a tenth of it. Run with
//! `VILOKANAM_MIN_SETTLE=1` to see that. Against the sidecar from before the terms (every
//! stream served) the free sybils are served and the first check fails. `VILOKANAM_SYBILS`
//! scales the attack (default 20,000).
//!
//! Run by scripts/test-long.sh; needs the node binary.

mod common;

use common::*;
use futures::StreamExt;
use sp_core::{sr25519, Pair};
use std::{
	collections::HashMap,
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};
use vilokanam_chain_client::{keys, AccountId, Balance, Client, RuntimeCall, SessionId, StreamId};
use vilokanam_sidecar::{protocol::ErrorCode, store::StoredVoucher};
use vilokanam_test_utils::Node;

/// The relayer's share of each stream's revenue, parts per million.
const SHARE_PPM: u32 = 100_000;
/// The fewest new seconds a voucher settles with (`--min-settle-seconds`).
const MIN_SETTLE: u64 = 10;
/// How long the sybils trickle.
const ATTACK: Duration = Duration::from_secs(150);
/// Honest viewers.
const HONEST: usize = 20;
/// Sybil visits at once.
const CONCURRENT_VISITS: usize = 256;
/// The relay's tail, in blocks (`--settle-tail-blocks`, its default): the attack must end
/// before the first sybil session reaches it, or tails would be counted as trickle costs.
const TAIL_BLOCKS: u32 = 60;
/// Sybils that trickle a second per round at the end, and the rounds they do it for. One:
/// alone in its batch, a voucher pays its fee's fixed part alone (many fill batches whose fee
/// per voucher a second at the floor covers).
const TRICKLERS: usize = 1;
const TRICKLE_ROUNDS: usize = 10;
/// Escrowed seconds per session.
const SESSION_SECONDS: u64 = 300;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
	std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The fee of a `settle_batch` carrying a single voucher: the dearest fee per voucher.
async fn one_voucher_batch_fee(client: &Client, relayer: &sr25519::Pair) -> Balance {
	let voucher = StoredVoucher {
		session_id: 0,
		stream_id: 1,
		viewer: account(relayer),
		cumulative_seconds: 1,
		signer: vilokanam_chain_client::VoucherSigner::Viewer,
		encoding: vilokanam_chain_client::VoucherEncoding::Raw,
		signature: sr25519::Signature::from_raw([0; 64]).into(),
		settled_seconds: 0,
	};
	let call = vilokanam_sidecar::billing::relay::settle_call(&[voucher]).expect("one voucher");
	let xt = client.sign(call, relayer, 0).await.expect("signed");
	client.partial_fee(&xt).await.expect("payment_queryInfo")
}

/// The account's nonce in the best block.
async fn onchain_nonce(client: &Client, who: &AccountId) -> u32 {
	let raw = client.storage(&keys::account(who), None).await.expect("rpc").unwrap_or_default();
	raw.get(..4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Signs `calls[i]` with `signers[i]` at `nonces[i]` and submits them all, a few at a time.
async fn submit_all(client: &Client, jobs: Vec<(RuntimeCall, sr25519::Pair, u32)>) {
	let n = jobs.len();
	let submitted = futures::stream::iter(jobs)
		.map(|(call, signer, nonce)| async move {
			let xt = client.sign(call, &signer, nonce).await.expect("signed");
			client.submit(&xt).await.expect("the pool takes it");
		})
		.buffer_unordered(32)
		.count()
		.await;
	assert_eq!(submitted, n);
}

/// Waits until `done` holds at the best block, up to `limit`.
async fn wait_until<F: std::future::Future<Output = bool>>(
	what: &str,
	limit: Duration,
	node: &Node,
	mut done: impl FnMut() -> F,
) {
	let deadline = Instant::now() + limit;
	while !done().await {
		assert!(Instant::now() < deadline, "{what} took more than {limit:?}:\n{}", node.log_tail());
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
}

/// The sessions opened in blocks `from..=to`, by viewer.
async fn opened_sessions(client: &Client, from: u32, to: u32) -> HashMap<AccountId, SessionId> {
	let mut out = HashMap::new();
	for n in from..=to {
		let hash = client.block_hash(n).await.expect("rpc").expect("a block");
		for record in client.events(hash).await.expect("events") {
			if let vilokanam_chain_client::RuntimeEvent::Ticks(
				pallet_ticks::Event::SessionOpened { session_id, viewer, .. },
			) = record.event
			{
				out.insert(viewer, session_id);
			}
		}
	}
	out
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "opens 22,000 sessions and attacks for minutes: run by scripts/test-long.sh"]
async fn sybil_sessions_cost_the_relayer_nothing_it_is_not_paid_for() {
	let sybils: usize = env_or("VILOKANAM_SYBILS", 20_000);
	let free_sybils = sybils / 10;
	let min_settle: u64 = env_or("VILOKANAM_MIN_SETTLE", MIN_SETTLE);
	let dir = tempfile::tempdir().expect("temp dir");
	// A pool that holds every opening at once.
	let node = Node::start_with(
		&dir.path().join("node"),
		&["--pool-limit", "65536", "--pool-kbytes", "262144"],
	)
	.await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let (alice, ferdie) = (pair("//Alice"), pair(RELAYER));
	let relayer = account(&ferdie);

	// The floor: MIN_SETTLE seconds pay the relayer at least the dearest per-voucher fee
	// (plus 1 % for the split's rounding).
	let fee = one_voucher_batch_fee(&client, &ferdie).await;
	let floor = fee * 10_000 * 1_000_000
		/ (Balance::from(MIN_SETTLE) * Balance::from(10_000 - FEE_BPS) * Balance::from(SHARE_PPM))
		* 101 / 100
		+ 1;
	eprintln!("one-voucher settle_batch fee {fee}; floor {floor} plancks per second");

	// Governance, then three streams of Alice's relayed by Ferdie: free (sybils), the floor
	// (sybils, the lower id) and the floor again (honest viewers).
	for call in governance_calls(FEE_BPS) {
		execute(&client, call, &alice).await;
	}
	let mut streams: Vec<StreamId> = Vec::new();
	for (title, price) in [("free", 0), ("sybils", floor), ("honest", floor)] {
		let create = create_stream_call(title, price, Some(relayer.clone()));
		let stream_id = stream_created(&execute(&client, create, &alice).await.events);
		if price > 0 {
			let split = vec![(relayer.clone(), sp_runtime::Permill::from_parts(SHARE_PPM))];
			let call = RuntimeCall::Streams(pallet_streams::Call::set_split {
				stream_id,
				collaborators: split.try_into().expect("one collaborator"),
			});
			execute(&client, call, &alice).await;
		}
		execute(&client, go_live_call(stream_id), &alice).await;
		streams.push(stream_id);
	}
	let (free_stream, sybil_stream, honest_stream) = (streams[0], streams[1], streams[2]);

	// Keys and funds: Alice pays each an escrow and fees.
	let keys: Vec<sr25519::Pair> = (0..sybils + free_sybils + HONEST)
		.map(|i| {
			let mut seed = [0x5b; 32];
			seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
			sr25519::Pair::from_seed(&seed)
		})
		.collect();
	let endowment = floor * Balance::from(SESSION_SECONDS) + vilokanam_runtime::VLK;
	let alice_account = account(&alice);
	let first_nonce = onchain_nonce(&client, &alice_account).await;
	let transfers = keys
		.iter()
		.enumerate()
		.map(|(i, k)| {
			let call =
				RuntimeCall::Balances(vilokanam_runtime::BalancesCall::transfer_keep_alive {
					dest: account(k).into(),
					value: endowment,
				});
			(call, alice.clone(), first_nonce + i as u32)
		})
		.collect();
	let started = Instant::now();
	submit_all(&client, transfers).await;
	let funded = first_nonce + keys.len() as u32;
	wait_until("funding", Duration::from_secs(600), &node, || async {
		onchain_nonce(&client, &alice_account).await >= funded
	})
	.await;
	eprintln!("{} accounts funded in {:?}", keys.len(), started.elapsed());

	// Every key opens a session: sybils on the floor stream, then the free ones, then honest.
	let first_block = client.best_head().await.expect("rpc").number;
	let first_session = client.next_session_id(None).await.expect("rpc");
	let stream_of = |i: usize| match i {
		i if i < sybils => sybil_stream,
		i if i < sybils + free_sybils => free_stream,
		_ => honest_stream,
	};
	let opens = keys
		.iter()
		.enumerate()
		.map(|(i, k)| {
			let price = if stream_of(i) == free_stream { 0 } else { floor };
			let call = RuntimeCall::Ticks(pallet_ticks::Call::open_session {
				stream_id: stream_of(i),
				max_seconds: SESSION_SECONDS,
				max_price_per_second: price,
				voucher_key: account(k),
			});
			(call, k.clone(), 0)
		})
		.collect();
	let started = Instant::now();
	submit_all(&client, opens).await;
	let all_open = first_session + keys.len() as u64;
	wait_until("opening", Duration::from_secs(600), &node, || async {
		client.next_session_id(None).await.expect("rpc") >= all_open
	})
	.await;
	let last_block = client.best_head().await.expect("rpc").number;
	let by_viewer = opened_sessions(&client, first_block, last_block).await;
	let sessions: Vec<SessionId> = keys.iter().map(|k| by_viewer[&account(k)]).collect();
	eprintln!(
		"{} sessions opened in blocks #{first_block}..=#{last_block} in {:?}",
		keys.len(),
		started.elapsed()
	);

	// The sidecar, on its terms. Ferdie's balance from here on is what relaying costs and earns.
	wait_until("finality of the openings", Duration::from_secs(120), &node, || async {
		client.finalized_head().await.expect("rpc").number >= last_block
	})
	.await;
	let start = client.finalized_head().await.expect("rpc");
	let relayer_before = client.free_balance(&relayer, Some(start.hash)).await.expect("rpc");
	let extra: Vec<String> = [
		"--min-price-per-second",
		&floor.to_string(),
		"--min-relayer-share-ppm",
		&SHARE_PPM.to_string(),
		"--min-settle-seconds",
		&min_settle.to_string(),
		"--settle-tail-blocks",
		&TAIL_BLOCKS.to_string(),
		"--max-connections-per-ip",
		"0",
		"--connect-rate-per-ip",
		"0",
	]
	.iter()
	.map(|s| s.to_string())
	.collect();
	let db = dir.path().join("sidecar.sqlite");
	let sidecar = Sidecar::start_with(&node, &db, &dir.path().join("sidecar.log"), &extra).await;
	let url = sidecar.ws_url();

	// The free sybils are refused: this sidecar serves no free stream.
	let refused = futures::stream::iter(sybils..sybils + free_sybils)
		.map(|i| {
			let (url, key, session) = (url.clone(), keys[i].clone(), sessions[i]);
			async move {
				let mut peer = Peer::connect("free sybil", &url, key).await;
				peer.send(vilokanam_sidecar::protocol::ClientMessage::Watch {
					stream_id: free_stream,
					session_id: session,
				})
				.await;
				peer.expect_error("the free sybil's refusal").await
			}
		})
		.buffer_unordered(CONCURRENT_VISITS)
		.filter(|code| std::future::ready(*code == ErrorCode::Forbidden))
		.count()
		.await;
	assert_eq!(refused, free_sybils, "every free sybil is refused");

	// The honest viewers watch with a voucher a second until told to leave.
	let stop = Arc::new(AtomicBool::new(false));
	let mut honest = Vec::new();
	for i in sybils + free_sybils..keys.len() {
		let (url, key, session, stop) = (url.clone(), keys[i].clone(), sessions[i], stop.clone());
		honest.push(tokio::spawn(async move {
			let mut peer = Peer::connect("honest", &url, key).await;
			peer.watch(honest_stream, session).await;
			let begin = tokio::time::Instant::now();
			let mut second = 0;
			while !stop.load(Ordering::Relaxed) {
				second += 1;
				tokio::time::sleep_until(begin + Duration::from_secs(second)).await;
				peer.heartbeat(session, second, false).await;
			}
			(peer, session, second)
		}));
	}

	// The sybils trickle: visit after visit, one more second each (a pass over all of them at
	// most once a second, so that no voucher is ahead of the time the session was open).
	// Each sybil's acknowledged seconds; the lock keeps one sybil's visits in order.
	let acked: Arc<Vec<tokio::sync::Mutex<u64>>> =
		Arc::new((0..sybils).map(|_| tokio::sync::Mutex::new(0)).collect());
	let attack_start = tokio::time::Instant::now();
	let attack_until = Instant::now() + ATTACK;
	let visits = futures::stream::iter(0..)
		.take_while(|_| std::future::ready(Instant::now() < attack_until))
		.map(|n: usize| {
			let i = n % sybils;
			let (url, key, session, acked) =
				(url.clone(), keys[i].clone(), sessions[i], acked.clone());
			async move {
				let pass = (n / sybils) as u64;
				tokio::time::sleep_until(attack_start + Duration::from_secs(pass)).await;
				let mut seconds = acked[i].lock().await;
				let mut peer = Peer::connect("sybil", &url, key).await;
				peer.watch(sybil_stream, session).await;
				peer.heartbeat(session, *seconds + 1, false).await;
				*seconds += 1;
			}
		})
		.buffer_unordered(CONCURRENT_VISITS)
		.count();
	let visits = visits.await;
	stop.store(true, Ordering::Relaxed);
	let mut leaving = Vec::new();
	for task in honest {
		leaving.push(task.await.expect("an honest viewer watched throughout"));
	}
	eprintln!("{visits} sybil visits in {ATTACK:?}");

	// Let what was submitted land and finalize, then read the relayer's balance.
	let attack_end = client.best_head().await.expect("rpc").number;
	wait_until("finality after the attack", Duration::from_secs(120), &node, || async {
		client.finalized_head().await.expect("rpc").number >= attack_end + 4
	})
	.await;
	let end = client.finalized_head().await.expect("rpc");
	assert!(
		end.number < first_block + TAIL_BLOCKS,
		"the attack ran into the sybils' tails (#{} ≥ #{} + {TAIL_BLOCKS}): the machine is too \
		 slow for this scale, lower VILOKANAM_SYBILS",
		end.number,
		first_block
	);
	let relayer_after = client.free_balance(&relayer, Some(end.hash)).await.expect("rpc");

	// The honest sessions' settlements, block by block: the longest wait between two.
	let honest_sessions: Vec<SessionId> = sessions[sybils + free_sybils..].to_vec();
	let mut last_change: Vec<Option<u32>> = vec![None; HONEST];
	let mut previous = [0u64; HONEST];
	let mut longest_wait = 0;
	let mut settlements = 0;
	for n in start.number..=end.number {
		let hash = client.block_hash(n).await.expect("rpc").expect("a block");
		let now = client.sessions(&honest_sessions, Some(hash)).await.expect("rpc");
		for (i, s) in now.iter().enumerate() {
			let settled = s.as_ref().expect("honest sessions stay open").settled_seconds;
			if settled > previous[i] {
				settlements += 1;
				if let Some(before) = last_change[i] {
					longest_wait = longest_wait.max(n - before);
				}
				last_change[i] = Some(n);
				previous[i] = settled;
			}
		}
	}
	// Until the attack ended, a session that stopped settling waits still.
	for last in last_change.iter().flatten() {
		longest_wait = longest_wait.max(attack_end.saturating_sub(*last));
	}
	let sybil_settled: u64 = {
		let ids = &sessions[..sybils];
		let states = client.sessions(ids, Some(end.hash)).await.expect("rpc");
		states.iter().map(|s| s.as_ref().map_or(0, |s| s.settled_seconds)).sum()
	};
	let honest_acked: u64 = leaving.iter().map(|(_, _, s)| s).sum();
	eprintln!(
		"relayer balance {relayer_before} → {relayer_after} ({:+}); honest sessions: \
		 {settlements} settlements, at most {longest_wait} blocks (relay rounds) between two of \
		 one session; sybils: {} seconds acknowledged, {sybil_settled} settled",
		relayer_after as i128 - relayer_before as i128,
		futures::future::join_all(acked.iter().map(|a| async { *a.lock().await }))
			.await
			.iter()
			.sum::<u64>(),
	);
	assert!(
		relayer_after >= relayer_before,
		"relaying cost the relayer {} plancks it was not paid for",
		relayer_before - relayer_after
	);
	assert!(
		last_change.iter().all(Option::is_some),
		"every honest session settled during the attack: {last_change:?}"
	);
	// Two rounds of the queue (20,000 sessions in windows of 16,384), the threshold's two
	// blocks and finality: a bound well above what a fair queue needs, far below starvation.
	assert!(longest_wait <= 8, "an honest session waited {longest_wait} blocks");

	// The honest viewers leave: the relay settles their last seconds and closes their sessions,
	// and their stream earned exactly what they acknowledged.
	for (mut peer, session, second) in leaving {
		let (genesis, key) = (peer.genesis, peer.pair.clone());
		peer.send(close_intent(&key, &genesis, session, second)).await;
		peer.expect("closing", |m| match m {
			vilokanam_sidecar::protocol::ServerMessage::Closing { .. } => Some(()),
			_ => None,
		})
		.await;
	}
	wait_until("the honest sessions' close", Duration::from_secs(180), &node, || async {
		let head = client.finalized_head().await.expect("rpc");
		let open = client.sessions(&honest_sessions, Some(head.hash)).await.expect("rpc");
		open.iter().all(Option::is_none)
	})
	.await;
	let head = client.finalized_head().await.expect("rpc");
	let stream = client.stream(honest_stream, Some(head.hash)).await.expect("rpc").expect("kept");
	assert_eq!(stream.total_viewer_seconds, honest_acked, "every acknowledged second, once");

	// A sybil trickles a second per round: in a batch of its own, such a voucher pays the
	// relayer less than its fee (the floor makes ten seconds pay a one-voucher batch's
	// declared fee). Below the minimum it waits until it is worth a batch, so the relayer spends
	// nothing on it. (Many tricklers fill batches of 4,096 whose fee per voucher a second at
	// the floor covers: the volume above paid.)
	let quiet = client.finalized_head().await.expect("rpc");
	let relayer_quiet = client.free_balance(&relayer, Some(quiet.hash)).await.expect("rpc");
	let settled_quiet =
		client.sessions(&sessions[..TRICKLERS], Some(quiet.hash)).await.expect("rpc");
	for _ in 0..TRICKLE_ROUNDS {
		let round = tokio::time::Instant::now();
		for (i, key) in keys.iter().enumerate().take(TRICKLERS) {
			let mut seconds = acked[i].lock().await;
			let mut peer = Peer::connect("trickler", &url, key.clone()).await;
			peer.watch(sybil_stream, sessions[i]).await;
			peer.heartbeat(sessions[i], *seconds + 1, false).await;
			*seconds += 1;
		}
		tokio::time::sleep_until(round + Duration::from_secs(6)).await;
	}
	let trickled = client.best_head().await.expect("rpc").number;
	wait_until("finality after the trickle", Duration::from_secs(120), &node, || async {
		client.finalized_head().await.expect("rpc").number >= trickled + 4
	})
	.await;
	let after = client.finalized_head().await.expect("rpc");
	let relayer_trickled = client.free_balance(&relayer, Some(after.hash)).await.expect("rpc");
	let settled_trickled =
		client.sessions(&sessions[..TRICKLERS], Some(after.hash)).await.expect("rpc");
	let settled_seconds = |s: &[Option<vilokanam_chain_client::Session>]| -> u64 {
		s.iter().map(|s| s.as_ref().map_or(0, |s| s.settled_seconds)).sum()
	};
	eprintln!(
		"{TRICKLERS} tricklers × {TRICKLE_ROUNDS} rounds: relayer balance {relayer_quiet} → \
		 {relayer_trickled} ({:+}), {} seconds settled",
		relayer_trickled as i128 - relayer_quiet as i128,
		settled_seconds(&settled_trickled) - settled_seconds(&settled_quiet),
	);
	assert!(
		relayer_trickled >= relayer_quiet,
		"trickled seconds cost the relayer {} plancks it was not paid for",
		relayer_quiet - relayer_trickled
	);
	drop(sidecar);
}
