//! A local multi-validator Vilokanam network, driven by [`zombienet_sdk`].
//!
//! The network is described once, in `zombienet/network.toml` (four validators of
//! `vilokanam-node` on the `local` chain: GRANDPA needs more than 2/3 of them, so four is the
//! smallest set that keeps finalizing with one down). Two things use it:
//!
//! - the network tests (`tests/network.rs`): they spawn it natively and check that blocks are
//!   produced and finalized and that the network survives losing, then getting back, one of its
//!   validators;
//! - the `local-testnet` binary (`scripts/local-testnet.sh`), which spawns it for a person and
//!   tears it down on Ctrl-C.
//!
//! `zombienet/fork.toml` is the same network with links the test sets ([`link`], [`unlink`]):
//! the fork test (`tests/fork.rs`) cuts one validator off so that it builds a branch of its own,
//! then reconnects it.
//!
//! This crate holds what they share: finding the node binary ([`node_binary`]), spawning the
//! network ([`spawn`]), a small JSON-RPC view of a node ([`Rpc`]), waiting with a deadline
//! ([`wait_for`]), killing a node for real ([`kill`]) and printing the end of the nodes' logs
//! ([`print_log_tails`]).
//!
//! # The node binary
//!
//! `network.toml` names the command `vilokanam-node`, so zombienet finds it on `PATH`.
//! [`node_binary`] looks for it in `$VILOKANAM_NODE`, then next to the running executable (the
//! same Cargo target directory and profile), then in `$CARGO_TARGET_DIR/release` and the
//! project's default `~/.cache/vilokanam/target/release`; [`put_on_path`] then puts its directory
//! first on `PATH`.

#![deny(missing_docs)]

use std::{
	env,
	ffi::OsString,
	fmt::Display,
	future::Future,
	path::{Path, PathBuf},
	time::{Duration, Instant},
};

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde_json::Value;
use zombienet_sdk::{
	subxt::ext::subxt_rpcs::{client::RpcParams, RpcClient},
	LocalFileSystem, Network, NetworkConfig, NetworkConfigExt, NetworkNode,
};

/// The file name zombienet runs (`default_command` in `network.toml`).
pub const NODE_BINARY_NAME: &str = "vilokanam-node";

/// Environment variable that overrides where the node binary is.
pub const NODE_BINARY_ENV: &str = "VILOKANAM_NODE";

/// The relay chain node of the parachain network (`relay/`), as zombienet runs it.
pub const RELAY_BINARY_NAME: &str = "vilokanam-relay";
/// Overrides where [`put_parachain_binaries_on_path`] finds the relay chain node.
pub const RELAY_BINARY_ENV: &str = "VILOKANAM_RELAY";
/// The parachain's collator (`collator/`), as zombienet runs it.
pub const COLLATOR_BINARY_NAME: &str = "vilokanam-collator";
/// Overrides where [`put_parachain_binaries_on_path`] finds the collator.
pub const COLLATOR_BINARY_ENV: &str = "VILOKANAM_COLLATOR";

/// The validators of `network.toml`, in spawn order (alice is the bootnode).
pub const VALIDATORS: [&str; 4] = ["alice", "bob", "charlie", "dave"];

/// How long one JSON-RPC request may take before it counts as failed (a killed or stopped node
/// never answers; without a bound a request to it would hang).
const RPC_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A running network spawned by zombienet's native provider.
pub type LocalNetwork = Network<LocalFileSystem>;

/// Path of `network.toml` in the source tree.
pub fn network_toml() -> PathBuf {
	Path::new(env!("CARGO_MANIFEST_DIR")).join("network.toml")
}

/// Path of `parachain.toml` in the source tree: a Rococo-local relay chain and Vilokanam's
/// collator.
pub fn parachain_toml() -> PathBuf {
	Path::new(env!("CARGO_MANIFEST_DIR")).join("parachain.toml")
}

/// Path of `fork.toml` in the source tree: `network.toml`'s validators, linked only where the
/// test says ([`link`]).
pub fn fork_toml() -> PathBuf {
	Path::new(env!("CARGO_MANIFEST_DIR")).join("fork.toml")
}

/// Finds the `vilokanam-node` binary, or says where it looked and how to build it.
///
/// In order: `$VILOKANAM_NODE` (an error if set to a missing file); `vilokanam-node` in the
/// profile directory of the running executable (`target/release/` for
/// `target/release/local-testnet` and `target/release/deps/network-…`); then
/// `$CARGO_TARGET_DIR/release/` and `~/.cache/vilokanam/target/release/`.
pub fn node_binary() -> Result<PathBuf> {
	find_binary(NODE_BINARY_NAME, NODE_BINARY_ENV, "scripts/build.sh")
}

/// The parachain network's binaries ([`RELAY_BINARY_NAME`] and [`COLLATOR_BINARY_NAME`]), found
/// as [`node_binary`] finds the node (`$VILOKANAM_RELAY`, `$VILOKANAM_COLLATOR`), and the
/// directory of each put first on `PATH` under its own name, where zombienet looks.
///
/// Call this before starting any thread (it changes the process environment).
pub fn put_parachain_binaries_on_path() -> Result<(PathBuf, PathBuf)> {
	let build = "scripts/test-parachain.sh (or scripts/local-parachain.sh)";
	let relay = find_binary(RELAY_BINARY_NAME, RELAY_BINARY_ENV, build)?;
	let collator = find_binary(COLLATOR_BINARY_NAME, COLLATOR_BINARY_ENV, build)?;
	for binary in [&relay, &collator] {
		let dir = binary.parent().context("a binary has no parent directory")?;
		prepend_to_path(dir);
	}
	Ok((relay, collator))
}

fn find_binary(name: &str, env_var: &str, build: &str) -> Result<PathBuf> {
	if let Some(path) = env::var_os(env_var) {
		let path = PathBuf::from(path);
		ensure!(
			path.is_file(),
			"{env_var} is set to {}, which is not a file; unset it to use the built binary, or \
			 build it with {build}",
			path.display()
		);
		ensure!(
			path.file_name() == Some(name.as_ref()),
			"{env_var} is set to {}: zombienet runs the binary by its name, {name}",
			path.display()
		);
		return Ok(path);
	}

	let mut dirs: Vec<PathBuf> = Vec::new();
	if let Ok(exe) = env::current_exe() {
		dirs.extend(exe.ancestors().skip(1).take(2).map(Path::to_path_buf));
	}
	if let Some(target) = env::var_os("CARGO_TARGET_DIR") {
		dirs.push(PathBuf::from(target).join("release"));
	}
	if let Some(home) = env::var_os("HOME") {
		dirs.push(PathBuf::from(home).join(".cache/vilokanam/target/release"));
	}
	let mut candidates: Vec<PathBuf> = Vec::new();
	for path in dirs.into_iter().map(|dir| dir.join(name)) {
		if !candidates.contains(&path) {
			candidates.push(path);
		}
	}

	candidates.iter().find(|path| path.is_file()).cloned().ok_or_else(|| {
		let looked = candidates.iter().map(|p| format!("\n  {}", p.display())).collect::<String>();
		anyhow!(
			"the {name} binary was not found; looked in:{looked}\nbuild it with {build}, or set \
			 {env_var} to its path"
		)
	})
}

fn prepend_to_path(dir: &Path) {
	let mut path = OsString::from(dir.as_os_str());
	if let Some(rest) = env::var_os("PATH") {
		path.push(":");
		path.push(rest);
	}
	env::set_var("PATH", path);
}

/// Puts `binary` first on `PATH` under the name zombienet runs, `vilokanam-node`.
///
/// A binary with another file name is reached through a symlink in a fresh directory under the
/// system temporary directory. Call this before starting any thread (it changes the process
/// environment): first thing in `main`, or in a `#[test]` before building the Tokio runtime.
pub fn put_on_path(binary: &Path) -> Result<()> {
	let binary = binary
		.canonicalize()
		.with_context(|| format!("resolving the node binary {}", binary.display()))?;
	let dir = if binary.file_name() == Some(NODE_BINARY_NAME.as_ref()) {
		binary.parent().context("the node binary has no parent directory")?.to_path_buf()
	} else {
		let dir = env::temp_dir().join(format!("vilokanam-node-bin-{}", std::process::id()));
		std::fs::create_dir_all(&dir)?;
		let link = dir.join(NODE_BINARY_NAME);
		let _ = std::fs::remove_file(&link);
		std::os::unix::fs::symlink(&binary, &link)
			.with_context(|| format!("linking {} to {}", link.display(), binary.display()))?;
		dir
	};
	prepend_to_path(&dir);
	Ok(())
}

/// Loads `toml` with zombienet and spawns the network natively.
///
/// Relative paths in the file resolve against its directory. On error nothing is left running:
/// zombienet starts every process with kill-on-drop, so what a failed spawn started dies with it.
pub async fn spawn(toml: &Path) -> Result<LocalNetwork> {
	let path = toml.to_str().context("the network TOML path is not UTF-8")?;
	let config = NetworkConfig::load_from_toml(path)
		.map_err(|e| anyhow!("loading {}: {e:#}", toml.display()))?;
	config.spawn_native().await.map_err(|e| anyhow!("spawning {}: {e}", toml.display()))
}

/// The zombie.json view of a node: what zombienet records about it (pid, ports, paths).
fn node_json(node: &NetworkNode) -> Result<Value> {
	serde_json::to_value(node).context("serializing the zombienet node")
}

/// Process id of the node's current process (it changes when the node restarts).
pub fn pid(node: &NetworkNode) -> Result<i32> {
	let json = node_json(node)?;
	let pid = json
		.pointer("/inner/process_handle")
		.and_then(Value::as_i64)
		.with_context(|| format!("{}: zombienet records no process id", node.name()))?;
	Ok(i32::try_from(pid)?)
}

/// The node's Prometheus endpoint, `http://127.0.0.1:<port>/metrics`.
pub fn prometheus_uri(node: &NetworkNode) -> Result<String> {
	node_json(node)?
		.get("prometheus_uri")
		.and_then(Value::as_str)
		.map(str::to_owned)
		.with_context(|| format!("{}: zombienet records no Prometheus URI", node.name()))
}

/// The file the node's stdout and stderr go to.
pub fn log_path(node: &NetworkNode) -> Result<PathBuf> {
	node_json(node)?
		.pointer("/inner/log_path")
		.and_then(Value::as_str)
		.map(PathBuf::from)
		.with_context(|| format!("{}: zombienet records no log path", node.name()))
}

/// Kills the node with SIGKILL: no shutdown, no flush, as in a crash or power loss.
///
/// The node is first marked paused with zombienet (SIGSTOP), so zombienet's liveness watcher does
/// not take the dead node for a failed network and tear everything down. [`NetworkNode::restart`]
/// starts it again on the same base path, keystore and ports.
pub async fn kill(node: &NetworkNode) -> Result<()> {
	use nix::{sys::signal, unistd::Pid};

	let pid = pid(node)?;
	node.pause().await.with_context(|| format!("{}: pausing before the kill", node.name()))?;
	signal::kill(Pid::from_raw(pid), signal::Signal::SIGKILL)
		.with_context(|| format!("{}: SIGKILL to pid {pid}", node.name()))?;
	Ok(())
}

/// Makes `a` and `b` reserved peers of each other (`system_addReservedPeer` on both sides). On
/// nodes run with `--reserved-only` (`fork.toml`) reserved peers are the only ones a node syncs
/// blocks, gossips GRANDPA votes and passes transactions with, so this is the link between them.
pub async fn link(a: &NetworkNode, b: &NetworkNode) -> Result<()> {
	let (rpc_a, rpc_b) = (Rpc::connect(a).await?, Rpc::connect(b).await?);
	rpc_a.add_reserved_peer(&rpc_b.listen_address().await?).await?;
	rpc_b.add_reserved_peer(&rpc_a.listen_address().await?).await?;
	Ok(())
}

/// Undoes [`link`]: each drops the other from its reserved peers (`system_removeReservedPeer`).
///
/// With `--reserved-only` on the libp2p backend that closes their connection at once; litep2p
/// (the default backend) keeps a removed reserved peer connected as a regular one while it has
/// free slots, even in reserved-only mode, which is why `fork.toml` picks libp2p.
pub async fn unlink(a: &NetworkNode, b: &NetworkNode) -> Result<()> {
	let (rpc_a, rpc_b) = (Rpc::connect(a).await?, Rpc::connect(b).await?);
	rpc_a.remove_reserved_peer(&rpc_b.local_peer_id().await?).await?;
	rpc_b.remove_reserved_peer(&rpc_a.local_peer_id().await?).await?;
	Ok(())
}

/// Prints the last `lines` lines of every node's log to stderr, for a failed run.
pub async fn print_log_tails(network: &LocalNetwork, lines: usize) {
	for node in network.nodes() {
		let path = log_path(node).map(|p| p.display().to_string()).unwrap_or_default();
		match node.logs().await {
			Ok(logs) => {
				let all: Vec<&str> = logs.lines().collect();
				let tail = all[all.len().saturating_sub(lines)..].join("\n");
				eprintln!("----- {} ({path}), last {lines} lines -----\n{tail}", node.name());
			},
			Err(e) => eprintln!("----- {}: no logs: {e}", node.name()),
		}
	}
}

/// Tears the network down after a scenario whose `outcome` is given: its files are removed
/// if the scenario passed and kept (for the logs) if not. The scenario's error comes first,
/// then the teardown's.
pub async fn tear_down(network: LocalNetwork, outcome: Result<()>) -> Result<()> {
	let base_dir = network.base_dir().map(str::to_owned);
	let teardown = network.destroy().await;
	// Dropping the network kills any node the teardown missed (zombienet spawns them with
	// kill-on-drop).
	if outcome.is_ok() {
		if let Some(dir) = base_dir {
			let _ = std::fs::remove_dir_all(dir);
		}
	}
	outcome?;
	teardown.context("tearing the network down")?;
	Ok(())
}

/// Calls `check` every `every` until it returns `Ok(Some(value))`, or fails after `timeout`.
///
/// `Ok(None)` and `Err(_)` both mean "not yet" (a node that is starting refuses connections);
/// the last of them is in the timeout error, so a failure says what was last seen.
pub async fn wait_for<T, F, Fut>(
	what: impl Display,
	timeout: Duration,
	every: Duration,
	mut check: F,
) -> Result<T>
where
	F: FnMut() -> Fut,
	Fut: Future<Output = Result<Option<T>>>,
{
	let start = Instant::now();
	let mut last = String::from("no attempt finished");
	loop {
		match tokio::time::timeout(timeout.saturating_sub(start.elapsed()), check()).await {
			Ok(Ok(Some(value))) => return Ok(value),
			Ok(Ok(None)) => last = "condition not met yet".into(),
			Ok(Err(e)) => last = format!("{e:#}"),
			Err(_) => {},
		}
		if start.elapsed() >= timeout {
			bail!("timed out after {}s waiting for {what} (last: {last})", timeout.as_secs());
		}
		tokio::time::sleep(every).await;
	}
}

/// Best and finalized block numbers of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heights {
	/// Number of the best block.
	pub best: u64,
	/// Number of the last finalized block.
	pub finalized: u64,
}

impl Heights {
	/// How many blocks finality trails the best block.
	pub fn finality_lag(&self) -> u64 {
		self.best.saturating_sub(self.finalized)
	}
}

/// The JSON-RPC calls the tests and the launcher make, over one WebSocket connection.
pub struct Rpc {
	name: String,
	client: RpcClient,
}

impl Rpc {
	/// Connects to the node's WebSocket endpoint (fails at once if it is not listening).
	pub async fn connect(node: &NetworkNode) -> Result<Self> {
		let client = tokio::time::timeout(RPC_REQUEST_TIMEOUT, node.rpc())
			.await
			.map_err(|_| anyhow!("{}: connecting to {} timed out", node.name(), node.ws_uri()))?
			.with_context(|| format!("{}: connecting to {}", node.name(), node.ws_uri()))?;
		Ok(Self { name: node.name().to_owned(), client })
	}

	async fn call(&self, method: &str, params: RpcParams) -> Result<Value> {
		tokio::time::timeout(RPC_REQUEST_TIMEOUT, self.client.request(method, params))
			.await
			.map_err(|_| anyhow!("{}: {method} timed out", self.name))?
			.with_context(|| format!("{}: {method}", self.name))
	}

	/// Vilokanam's own RPC: the live streams (an array, empty on a fresh network).
	pub async fn live_streams(&self) -> Result<Value> {
		let live = self.call("vilokanam_liveStreams", RpcParams::new()).await?;
		ensure!(live.is_array(), "{}: vilokanam_liveStreams returned {live}", self.name);
		Ok(live)
	}

	/// Number of connected peers (`system_health`).
	pub async fn peers(&self) -> Result<u64> {
		let health = self.call("system_health", RpcParams::new()).await?;
		health
			.get("peers")
			.and_then(Value::as_u64)
			.with_context(|| format!("{}: system_health without peers: {health}", self.name))
	}

	/// Number of the block with `hash`, or of the best block for `None` (`chain_getHeader`).
	async fn header_number(&self, hash: Option<&str>) -> Result<u64> {
		let mut params = RpcParams::new();
		if let Some(hash) = hash {
			params.push(hash)?;
		}
		let header = self.call("chain_getHeader", params).await?;
		let number = header
			.get("number")
			.and_then(Value::as_str)
			.with_context(|| format!("{}: header without number: {header}", self.name))?;
		u64::from_str_radix(number.trim_start_matches("0x"), 16)
			.with_context(|| format!("{}: block number {number}", self.name))
	}

	/// Best and finalized block numbers.
	pub async fn heights(&self) -> Result<Heights> {
		let finalized_hash = self.call("chain_getFinalizedHead", RpcParams::new()).await?;
		let finalized_hash = finalized_hash
			.as_str()
			.with_context(|| format!("{}: finalized head {finalized_hash}", self.name))?;
		let finalized = self.header_number(Some(finalized_hash)).await?;
		let best = self.header_number(None).await?;
		Ok(Heights { best, finalized })
	}

	/// The node's peer id on the network (`system_localPeerId`, base58).
	pub async fn local_peer_id(&self) -> Result<String> {
		let id = self.call("system_localPeerId", RpcParams::new()).await?;
		id.as_str()
			.map(str::to_owned)
			.with_context(|| format!("{}: system_localPeerId returned {id}", self.name))
	}

	/// An address the other nodes of this machine dial the node at, with its peer id
	/// (`/ip4/127.0.0.1/tcp/<port>/ws/p2p/<peer id>`), from `system_localListenAddresses`.
	pub async fn listen_address(&self) -> Result<String> {
		let addresses = self.call("system_localListenAddresses", RpcParams::new()).await?;
		addresses
			.as_array()
			.into_iter()
			.flatten()
			.filter_map(Value::as_str)
			// Loopback (every node listens there, see `default_args`) and a bound port: a
			// listener asked for port 0 may be reported before the OS picked one.
			.find(|a| {
				a.starts_with("/ip4/127.0.0.1/tcp/")
					&& !a.contains("/tcp/0/")
					&& a.contains("/p2p/")
			})
			.map(str::to_owned)
			.with_context(|| {
				format!("{}: no dialable loopback address among {addresses}", self.name)
			})
	}

	/// Adds the peer at `address` (ending in `/p2p/<peer id>`) to the node's reserved peers
	/// (`system_addReservedPeer`, an unsafe method: zombienet runs nodes with
	/// `--rpc-methods unsafe`).
	pub async fn add_reserved_peer(&self, address: &str) -> Result<()> {
		let mut params = RpcParams::new();
		params.push(address)?;
		self.call("system_addReservedPeer", params).await?;
		Ok(())
	}

	/// Removes `peer_id` from the node's reserved peers (`system_removeReservedPeer`).
	pub async fn remove_reserved_peer(&self, peer_id: &str) -> Result<()> {
		let mut params = RpcParams::new();
		params.push(peer_id)?;
		self.call("system_removeReservedPeer", params).await?;
		Ok(())
	}

	/// New session keys generated in the node's keystore, with the proof that their owner
	/// (the SCALE-encoded account that will call `session.set_keys`) holds them
	/// (`author_rotateKeysWithOwner`, an unsafe method). Returns the encoded keys and the proof.
	pub async fn rotate_keys_with_owner(&self, owner: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
		let mut params = RpcParams::new();
		params.push(format!("0x{}", hex::encode(owner)))?;
		let generated = self.call("author_rotateKeysWithOwner", params).await?;
		let field = |name: &str| -> Result<Vec<u8>> {
			let text = generated.get(name).and_then(Value::as_str).with_context(|| {
				format!("{}: author_rotateKeysWithOwner without {name}: {generated}", self.name)
			})?;
			hex::decode(text.trim_start_matches("0x"))
				.with_context(|| format!("{}: {name} is not hex: {text}", self.name))
		};
		Ok((field("keys")?, field("proof")?))
	}

	/// Hash of the block at `number` on the node's best chain, if it has one there.
	pub async fn block_hash(&self, number: u64) -> Result<Option<String>> {
		let mut params = RpcParams::new();
		params.push(number)?;
		let hash = self.call("chain_getBlockHash", params).await?;
		Ok(hash.as_str().map(str::to_owned))
	}
}
