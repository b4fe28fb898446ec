//! Network test: the validator set changes on a running chain, and finality continues throughout.
//!
//! The four validators of `zombienet/network.toml` (session keys in genesis, accounts
//! `//Alice//stash` … `//Dave//stash` as zombienet names them), then, in order:
//! 1. sudo shortens sessions to ten blocks (`validatorSet.setSessionLength`), so that a change
//!    rotates in within two minutes;
//! 2. a fifth node, eve, joins the network. Her node generates her keys
//!    (`author_rotateKeysWithOwner` with //Eve's account as the owner), //Eve registers them
//!    (`session.setKeys` with the proof), and sudo adds //Eve (`validatorSet.addValidator`);
//! 3. the finalized state shows five validators in the session and five GRANDPA authorities,
//!    eve's among them;
//! 4. dave is killed: four of five remain, and GRANDPA needs more than two thirds of five, so
//!    finality continues only because eve votes;
//! 5. sudo removes dave's account (`validatorSet.removeValidator`): the finalized state shows
//!    four validators without him, and blocks keep being finalized.
//!
//! Finality is checked after every step: blocks authored after it must be finalized.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use codec::{Decode, Encode};
use sp_core::sr25519;
use vilokanam_chain_client::{AccountId, Client, RuntimeCall, H256};
use vilokanam_runtime::{Runtime, SessionKeys};
use vilokanam_test_utils::chain::{account, pair, sudo};
use vilokanam_zombienet_tests::{
	kill, link, network_toml, node_binary, print_log_tails, put_on_path, spawn, tear_down,
	wait_for, LocalNetwork, Rpc, VALIDATORS,
};
use zombienet_sdk::AddNodeOptions;

/// The whole scenario after the network is up.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// A set change rotates in within two sessions of ten 6-second blocks, then GRANDPA enacts it
/// when the announcing block is finalized.
const ROTATION_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_secs(3);
const LOG_LINES: usize = 40;

/// Sudo on the `local` preset.
const SUDO: &str = "//Alice";
/// The joining validator's account, and her node's name.
const JOINER: &str = "//Eve";
const JOINER_NODE: &str = "eve";
/// The validator that is killed, then removed.
const LEAVER_NODE: &str = "dave";
const LEAVER: &str = "//Dave//stash";
/// Blocks per session during the test (the runtime's minimum).
const SESSION_LENGTH: u32 = 10;
/// Blocks that must be finalized after each change.
const FINALIZED_AFTER: u32 = 3;

#[test]
fn validators_join_and_leave_while_finality_continues() {
	let binary = node_binary().unwrap_or_else(|e| panic!("{e:#}"));
	put_on_path(&binary).unwrap_or_else(|e| panic!("{e:#}"));
	let runtime =
		tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a Tokio runtime");
	if let Err(e) = runtime.block_on(run()) {
		panic!("{e:#}");
	}
}

async fn run() -> Result<()> {
	let mut network = spawn(&network_toml()).await?;
	eprintln!("network spawned in {}", network.base_dir().unwrap_or("?"));
	let outcome = match tokio::time::timeout(SCENARIO_TIMEOUT, scenario(&mut network)).await {
		Ok(outcome) => outcome,
		Err(_) => Err(anyhow::anyhow!("the scenario took over {}s", SCENARIO_TIMEOUT.as_secs())),
	};
	if outcome.is_err() {
		print_log_tails(&network, LOG_LINES).await;
	}
	tear_down(network, outcome).await
}

async fn scenario(network: &mut LocalNetwork) -> Result<()> {
	for name in VALIDATORS {
		network.get_node(name)?.wait_until_is_up(STEP_TIMEOUT.as_secs()).await?;
	}
	let alice = network.get_node("alice")?;
	let chain = Client::connect(alice.ws_uri()).await?;
	let stashes: Vec<AccountId> = VALIDATORS
		.iter()
		.map(|name| account(&pair(&format!("//{}//stash", capitalize(name)))))
		.collect();
	let genesis_set = wait_for_set(&chain, "the genesis validators", |set| !set.is_empty()).await?;
	ensure!(genesis_set == stashes, "genesis validators {genesis_set:?}, expected the stashes");

	// 1. Short sessions for the test.
	let root = pair(SUDO);
	let length = RuntimeCall::ValidatorSet(pallet_validator_set::Call::set_session_length {
		blocks: SESSION_LENGTH,
	});
	execute(&chain, sudo(length), &root, "setSessionLength").await?;

	// 2. Eve's node joins and her account registers the keys it generated.
	network
		.add_node(JOINER_NODE, AddNodeOptions { is_validator: true, ..Default::default() })
		.await?;
	let eve_node = network.get_node(JOINER_NODE)?;
	for peer in ["alice", "bob"] {
		link(eve_node, network.get_node(peer)?).await?;
	}
	let joiner = pair(JOINER);
	let joiner_id = account(&joiner);
	let (keys, proof) =
		Rpc::connect(eve_node).await?.rotate_keys_with_owner(&joiner_id.encode()).await?;
	let keys = SessionKeys::decode(&mut &keys[..]).context("the node's session keys")?;
	eprintln!("eve's keys: aura {:?}, grandpa {:?}", keys.aura, keys.grandpa);
	let set_keys =
		RuntimeCall::Session(pallet_session::Call::set_keys { keys: keys.clone(), proof });
	execute(&chain, set_keys, &joiner, "eve's session.setKeys").await?;

	// An account that is not root cannot add itself.
	let self_add = RuntimeCall::ValidatorSet(pallet_validator_set::Call::add_validator {
		who: joiner_id.clone(),
	});
	let refused = chain.execute(self_add.clone(), &joiner, false).await?;
	ensure!(!refused.success, "eve added herself without sudo");

	execute(&chain, sudo(self_add), &root, "sudo addValidator(eve)").await?;

	// 3. Five validators in the finalized state, eve's GRANDPA key among the authorities.
	let mut five = stashes.clone();
	five.push(joiner_id.clone());
	wait_for_set(&chain, "five validators, eve's included", |set| set == five.as_slice()).await?;
	wait_for_grandpa(&chain, "eve's GRANDPA key in the authority set", |authorities| {
		authorities.len() == 5 && authorities.contains(&keys.grandpa.encode())
	})
	.await?;
	assert_finalizing(&chain, "with eve validating").await?;

	// 4. Dave down: four of five vote, eve among them.
	kill(network.get_node(LEAVER_NODE)?).await?;
	assert_finalizing(&chain, "with dave down (eve's vote needed)").await?;

	// 5. Dave removed.
	let leaver = account(&pair(LEAVER));
	let remove = RuntimeCall::ValidatorSet(pallet_validator_set::Call::remove_validator {
		who: leaver.clone(),
	});
	execute(&chain, sudo(remove), &root, "sudo removeValidator(dave)").await?;
	let four: Vec<AccountId> = five.iter().filter(|v| **v != leaver).cloned().collect();
	wait_for_set(&chain, "four validators without dave", |set| set == four.as_slice()).await?;
	wait_for_grandpa(&chain, "four GRANDPA authorities", |authorities| authorities.len() == 4)
		.await?;
	assert_finalizing(&chain, "after dave's removal").await?;
	Ok(())
}

fn capitalize(name: &str) -> String {
	let mut chars = name.chars();
	chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

async fn execute(
	chain: &Client,
	call: RuntimeCall,
	signer: &sr25519::Pair,
	what: &str,
) -> Result<()> {
	let included =
		chain.execute(call, signer, false).await.with_context(|| format!("executing {what}"))?;
	ensure!(included.success, "{what} failed: {:?}", included.dispatch_error());
	// A sudo call succeeds as an extrinsic even when the call inside fails.
	let failed_inside = included.events.iter().any(|event| {
		matches!(
			event,
			vilokanam_runtime::RuntimeEvent::Sudo(pallet_sudo::Event::Sudid {
				sudo_result: Err(_)
			})
		)
	});
	ensure!(!failed_inside, "{what}: the call inside sudo failed: {:?}", included.events);
	eprintln!("{what}: included");
	Ok(())
}

/// `Session::Validators` at the finalized head.
async fn finalized_set(chain: &Client) -> Result<(u32, Vec<AccountId>)> {
	let head = chain.finalized_head().await?;
	let raw = chain
		.storage(&pallet_session::Validators::<Runtime>::hashed_key(), Some(head.hash))
		.await?;
	let set = match raw {
		Some(raw) => Vec::<AccountId>::decode(&mut &raw[..]).context("Session::Validators")?,
		None => Vec::new(),
	};
	Ok((head.number, set))
}

/// Waits until the finalized validator set satisfies `done`; returns it.
async fn wait_for_set(
	chain: &Client,
	what: &str,
	done: impl Fn(&[AccountId]) -> bool,
) -> Result<Vec<AccountId>> {
	let done = &done;
	let (number, set) = wait_for(what, ROTATION_TIMEOUT, POLL, move || async move {
		let (number, set) = finalized_set(chain).await?;
		if done(&set) {
			Ok(Some((number, set)))
		} else {
			anyhow::bail!("finalized #{number}: {} validators", set.len())
		}
	})
	.await?;
	eprintln!("{what}: finalized #{number}");
	Ok(set)
}

/// The GRANDPA authorities (encoded ids) at `at`, as the runtime holds them (`Grandpa::Authorities`).
async fn grandpa_authorities(chain: &Client, at: H256) -> Result<Vec<Vec<u8>>> {
	let raw = chain
		.storage(&pallet_grandpa::Authorities::<Runtime>::hashed_key(), Some(at))
		.await?
		.context("no Grandpa::Authorities")?;
	let list = Vec::<(sp_consensus_grandpa::AuthorityId, u64)>::decode(&mut &raw[..])
		.context("Grandpa::Authorities")?;
	Ok(list.into_iter().map(|(id, _)| id.encode()).collect())
}

async fn wait_for_grandpa(
	chain: &Client,
	what: &str,
	done: impl Fn(&[Vec<u8>]) -> bool,
) -> Result<()> {
	let done = &done;
	wait_for(what, ROTATION_TIMEOUT, POLL, move || async move {
		let head = chain.finalized_head().await?;
		let authorities = grandpa_authorities(chain, head.hash).await?;
		if done(&authorities) {
			Ok(Some(()))
		} else {
			anyhow::bail!("finalized #{}: {} GRANDPA authorities", head.number, authorities.len())
		}
	})
	.await?;
	eprintln!("{what}");
	Ok(())
}

/// Waits until blocks authored after this call are finalized: the finalized head passes the
/// best block at the call by [`FINALIZED_AFTER`], so no vote cast before (a killed validator's,
/// say) can have finalized them.
async fn assert_finalizing(chain: &Client, when: &str) -> Result<()> {
	let from = chain.best_head().await?.number;
	let what = format!("{FINALIZED_AFTER} blocks past the best block finalized {when}");
	let to = wait_for(&what, STEP_TIMEOUT, POLL, move || async move {
		let now = chain.finalized_head().await?.number;
		Ok((now >= from + FINALIZED_AFTER).then_some(now))
	})
	.await?;
	eprintln!("{what}: best #{from} → finalized #{to}");
	Ok(())
}
