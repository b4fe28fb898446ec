//! `local-testnet`: spawns the four-validator network of `zombienet/network.toml` (or, with
//! `--parachain`, the relay chain and collator of `zombienet/parachain.toml`) for a person,
//! prints where to reach each node, and tears the network down on Ctrl-C (or SIGTERM).
//!
//! ```text
//! local-testnet [--parachain] [NETWORK_TOML]
//! ```
//!
//! `scripts/local-testnet.sh` builds the node and this binary, then runs it;
//! `scripts/local-parachain.sh` builds the relay chain node and the collator instead. The
//! binaries come from `$VILOKANAM_NODE` (`$VILOKANAM_RELAY`, `$VILOKANAM_COLLATOR`) or the Cargo
//! target directory (see [`vilokanam_zombienet_tests::node_binary`]).

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};
use vilokanam_zombienet_tests::{
	log_path, network_toml, node_binary, parachain_toml, prometheus_uri, put_on_path,
	put_parachain_binaries_on_path, spawn, wait_for, LocalNetwork, Rpc,
};

fn main() -> ExitCode {
	let mut args: Vec<_> = std::env::args_os().skip(1).collect();
	let parachain = args.first().is_some_and(|a| a == "--parachain");
	if parachain {
		args.remove(0);
	}
	// Before the runtime starts any thread: the network finds its binaries on PATH.
	let setup = if parachain {
		put_parachain_binaries_on_path().map(|(_, collator)| collator)
	} else {
		node_binary().and_then(|binary| {
			put_on_path(&binary)?;
			Ok(binary)
		})
	};
	let binary = match setup {
		Ok(binary) => binary,
		Err(e) => {
			eprintln!("error: {e:#}");
			return ExitCode::FAILURE;
		},
	};
	let default_toml = if parachain { parachain_toml } else { network_toml };
	let toml = args.into_iter().next().map(PathBuf::from).unwrap_or_else(default_toml);

	let runtime =
		tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a Tokio runtime");
	match runtime.block_on(run(binary, toml)) {
		Ok(()) => ExitCode::SUCCESS,
		Err(e) => {
			eprintln!("error: {e:#}");
			ExitCode::FAILURE
		},
	}
}

async fn run(binary: PathBuf, toml: PathBuf) -> Result<()> {
	eprintln!("spawning {} with {} …", toml.display(), binary.display());
	let mut interrupt = signal(SignalKind::interrupt())?;
	let mut terminate = signal(SignalKind::terminate())?;

	let network = tokio::select! {
		network = spawn(&toml) => network?,
		_ = interrupt.recv() => anyhow::bail!("interrupted while spawning"),
		_ = terminate.recv() => anyhow::bail!("terminated while spawning"),
	};

	let result = tokio::select! {
		printed = describe(&network) => printed,
		_ = interrupt.recv() => Ok(()),
		_ = terminate.recv() => Ok(()),
	};
	if result.is_ok() {
		eprintln!("\n  Ctrl-C stops the network.\n");
		tokio::select! {
			_ = interrupt.recv() => {},
			_ = terminate.recv() => {},
		}
	}

	eprintln!("tearing the network down …");
	let teardown = network.destroy().await.context("tearing the network down");
	result.and(teardown)
}

/// Prints each node's endpoints, then waits for the first finalized block so that the person
/// knows the network works before using it.
async fn describe(network: &LocalNetwork) -> Result<()> {
	eprintln!("\n  Vilokanam local testnet ({})", network.base_dir().unwrap_or("?"));
	for node in network.nodes() {
		eprintln!("\n  {}", node.name());
		eprintln!("    JSON-RPC / WebSocket : {}", node.ws_uri());
		eprintln!("    Prometheus metrics   : {}", prometheus_uri(node)?);
		eprintln!("    log                  : {}", log_path(node)?.display());
	}
	if let Some(alice) = network.nodes().into_iter().find(|node| node.name() == "alice") {
		let ws = alice.ws_uri().replace(':', "%3A").replace('/', "%2F");
		eprintln!("\n  polkadot.js apps: https://polkadot.js.org/apps/?rpc={ws}");
		let heights = wait_for(
			"the first finalized block",
			Duration::from_secs(120),
			Duration::from_secs(2),
			move || async move {
				let heights = Rpc::connect(alice).await?.heights().await?;
				Ok((heights.finalized >= 1).then_some(heights))
			},
		)
		.await?;
		eprintln!(
			"  alice: best block #{}, finalized #{}; blocks every 6 s",
			heights.best, heights.finalized
		);
	}
	// A parachain network: its collators' first blocks come once the relay chain includes them.
	for collator in network.parachains().iter().flat_map(|para| para.collators()) {
		let heights = wait_for(
			format!("{}'s first parachain block", collator.name()),
			Duration::from_secs(300),
			Duration::from_secs(2),
			move || async move {
				let heights = Rpc::connect(collator).await?.heights().await?;
				Ok((heights.best >= 1).then_some(heights))
			},
		)
		.await?;
		eprintln!(
			"  {} (parachain collator): best block #{}, finalized #{}",
			collator.name(),
			heights.best,
			heights.finalized
		);
	}
	Ok(())
}
