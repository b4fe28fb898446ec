//! What Vilokanam's end-to-end tests share: starting the real `vilokanam-node` (and
//! `vilokanam-sidecar`) binaries on free ports in a temporary directory, and stopping them the
//! way an operator does — or the way a crash does.
//!
//! Accounts, calls and event lookups on the runtime's types are in [`chain`]; a JSON-RPC client
//! of the node that signs as a wallet does in [`rpc`]; the previous runtime's chain spec and
//! calls, for the upgrade tests, in [`upgrade`].
//!
//! The binaries are the ones cargo built for the test run: integration tests live in
//! `target/<profile>/deps/`, so the binaries are one directory up. `VILOKANAM_NODE_BIN` and
//! `VILOKANAM_SIDECAR_BIN` override them.

pub mod chain;
pub mod rpc;
pub mod upgrade;

use jsonrpsee::{
	core::client::ClientT,
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use serde_json::Value;
use std::{
	ffi::OsStr,
	net::TcpListener,
	path::{Path, PathBuf},
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};

/// A checked-in file generated from the code (metadata, test vectors) must hold `want`: with the
/// environment variable `write` set it is written instead; else a difference fails with `hint`
/// (the command that regenerates it).
pub fn golden_file(path: &Path, want: &[u8], write: &str, hint: &str) {
	if std::env::var_os(write).is_some() {
		std::fs::write(path, want).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
		return;
	}
	let have = std::fs::read(path).unwrap_or_default();
	assert!(have == want, "{} does not match the code: {hint}", path.display());
}

/// The HTTP status of `GET /health` on `127.0.0.1:port` (the sidecar's), if it answers
/// within 5 s.
pub async fn health_status(port: u16) -> Option<u16> {
	use tokio::io::{AsyncReadExt, AsyncWriteExt};
	let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
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

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
	TcpListener::bind("127.0.0.1:0")
		.and_then(|l| l.local_addr())
		.map(|a| a.port())
		.expect("the OS hands out an ephemeral port")
}

/// The directory holding the workspace's binaries for this test run's profile.
fn bin_dir() -> PathBuf {
	let exe = std::env::current_exe().expect("the test knows its own path");
	// target/<profile>/deps/<test>-<hash> → target/<profile>
	exe.parent().and_then(Path::parent).map(Path::to_path_buf).expect("tests run from deps/")
}

fn locate(env: &str, name: &str, package: &str) -> PathBuf {
	let path = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| bin_dir().join(name));
	assert!(
		path.exists(),
		"{} not found; build it first (`cargo build --release -p {package}`) or set {env}",
		path.display()
	);
	path
}

/// The `vilokanam-node` binary.
pub fn node_bin() -> PathBuf {
	locate("VILOKANAM_NODE_BIN", "vilokanam-node", "vilokanam-node")
}

/// The `vilokanam-sidecar` binary.
pub fn sidecar_bin() -> PathBuf {
	locate("VILOKANAM_SIDECAR_BIN", "vilokanam-sidecar", "vilokanam-sidecar")
}

/// A child process with its log file, stopped (SIGINT, then SIGKILL) when dropped.
pub struct Process {
	child: Option<Child>,
	log_path: PathBuf,
}

impl Process {
	/// Spawns `bin` with `args`, stdout and stderr to `log_path` (the node logs to stderr, the
	/// sidecar's `tracing` output goes to stdout).
	pub fn spawn<I, S>(bin: &Path, args: I, log_path: PathBuf) -> Process
	where
		I: IntoIterator<Item = S>,
		S: AsRef<OsStr>,
	{
		let log = std::fs::File::create(&log_path).expect("the temp dir is writable");
		let stdout = log.try_clone().map(Stdio::from).unwrap_or_else(|_| Stdio::null());
		let child = Command::new(bin)
			.args(args)
			.stdout(stdout)
			.stderr(log)
			.spawn()
			.unwrap_or_else(|e| panic!("{} starts: {e}", bin.display()));
		Process { child: Some(child), log_path }
	}

	/// The last 40 lines of the log (for failure messages).
	pub fn log_tail(&self) -> String {
		let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
		let lines: Vec<&str> = log.lines().collect();
		lines[lines.len().saturating_sub(40)..].join("\n")
	}

	/// The process id, while it runs.
	pub fn id(&self) -> Option<u32> {
		self.child.as_ref().map(Child::id)
	}

	/// Whether the process has exited.
	pub fn has_exited(&mut self) -> bool {
		self.child.as_mut().is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))))
	}

	/// Stops the process the way an operator does (SIGINT) and waits up to 30 s for it to exit,
	/// then kills it.
	pub fn stop(&mut self) {
		if let Some(mut child) = self.child.take() {
			let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
			let deadline = Instant::now() + Duration::from_secs(30);
			while Instant::now() < deadline {
				if let Ok(Some(_)) = child.try_wait() {
					return;
				}
				std::thread::sleep(Duration::from_millis(100));
			}
			let _ = child.kill();
			let _ = child.wait();
		}
	}

	/// Kills the process with SIGKILL (a crash: no shutdown code runs) and reaps it.
	pub fn kill9(&mut self) {
		if let Some(mut child) = self.child.take() {
			let _ = child.kill();
			let _ = child.wait();
		}
	}
}

impl Drop for Process {
	fn drop(&mut self) {
		self.stop();
	}
}

/// A running `vilokanam-node --dev`, stopped when dropped.
pub struct Node {
	/// The node process.
	pub process: Process,
	/// The node's base path (database, keystore).
	pub base_path: PathBuf,
	/// The JSON-RPC port.
	pub rpc_port: u16,
	bin: PathBuf,
	extra: Vec<String>,
	starts: u32,
}

impl Node {
	/// Starts the workspace's dev node on `base_path` and waits until its RPC server answers.
	pub async fn start(base_path: &Path) -> Node {
		Node::start_bin(&node_bin(), base_path).await
	}

	/// Starts `bin` as a dev node on `base_path` and waits until its RPC server answers.
	pub async fn start_bin(bin: &Path, base_path: &Path) -> Node {
		Node::start_bin_with(bin, base_path, &[]).await
	}

	/// As [`Node::start`], with extra command-line arguments (kept across restarts).
	pub async fn start_with(base_path: &Path, extra: &[&str]) -> Node {
		Node::start_bin_with(&node_bin(), base_path, extra).await
	}

	/// As [`Node::start_bin`], with extra command-line arguments (kept across restarts).
	pub async fn start_bin_with(bin: &Path, base_path: &Path, extra: &[&str]) -> Node {
		let rpc_port = free_port();
		let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
		let process = Node::spawn(bin, base_path, rpc_port, 0, &extra);
		let node = Node {
			process,
			base_path: base_path.to_owned(),
			rpc_port,
			bin: bin.to_owned(),
			extra,
			starts: 1,
		};
		node.wait_for_rpc().await;
		node
	}

	/// Stops the node (SIGINT) and starts it again on the same base path and RPC port, so that
	/// clients reconnect to the same URL; waits until its RPC server answers.
	pub async fn restart(&mut self) {
		self.stop();
		self.process =
			Node::spawn(&self.bin, &self.base_path, self.rpc_port, self.starts, &self.extra);
		self.starts += 1;
		self.wait_for_rpc().await;
	}

	/// Kills the node with SIGKILL (a crash: no shutdown code runs, the database is left as
	/// it was) and starts it again as [`Node::restart`] does.
	pub async fn crash_and_restart(&mut self) {
		self.process.kill9();
		self.process =
			Node::spawn(&self.bin, &self.base_path, self.rpc_port, self.starts, &self.extra);
		self.starts += 1;
		self.wait_for_rpc().await;
	}

	fn spawn(bin: &Path, base_path: &Path, rpc_port: u16, start: u32, extra: &[String]) -> Process {
		let log_path = base_path.with_extension(match start {
			0 => format!("{rpc_port}.log"),
			n => format!("{rpc_port}.{n}.log"),
		});
		let mut args: Vec<String> = ["--dev", "--no-telemetry", "--no-mdns", "--no-prometheus"]
			.into_iter()
			.map(String::from)
			.collect();
		args.extend(["--base-path".into(), base_path.display().to_string()]);
		args.extend(["--rpc-port".into(), rpc_port.to_string()]);
		args.extend(["--port".into(), free_port().to_string()]);
		args.extend_from_slice(extra);
		Process::spawn(bin, args, log_path)
	}

	/// The node's WebSocket JSON-RPC URL.
	pub fn ws_url(&self) -> String {
		format!("ws://127.0.0.1:{}", self.rpc_port)
	}

	/// The node's log so far (for failure messages).
	pub fn log_tail(&self) -> String {
		self.process.log_tail()
	}

	/// A new JSON-RPC client connected to the node.
	pub async fn ws_client(&self) -> WsClient {
		self.try_client().await.expect("the node's RPC answers")
	}

	/// Stops the node (SIGINT) and waits for it to exit.
	pub fn stop(&mut self) {
		self.process.stop()
	}

	async fn wait_for_rpc(&self) {
		let deadline = Instant::now() + Duration::from_secs(60);
		while Instant::now() < deadline {
			if let Ok(client) = self.try_client().await {
				if client.request::<Value, _>("system_health", rpc_params![]).await.is_ok() {
					return;
				}
			}
			tokio::time::sleep(Duration::from_millis(250)).await;
		}
		panic!("the node's RPC did not come up in 60 s:\n{}", self.log_tail());
	}

	async fn try_client(&self) -> Result<WsClient, jsonrpsee::core::ClientError> {
		WsClientBuilder::default()
			.request_timeout(Duration::from_secs(30))
			.build(self.ws_url())
			.await
	}
}
