//! What the end-to-end tests share: the real `vilokanam-node` binary (started through
//! `vilokanam-test-utils`), talked to over JSON-RPC, with signed extrinsics built exactly as a
//! wallet does.

#![allow(dead_code)]

use std::path::Path;
pub use vilokanam_test_utils::rpc::Rpc;

/// The node binary cargo built for this test run (same profile as the test itself).
pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_vilokanam-node");

/// A running `vilokanam-node --dev` (the binary cargo built for this test run), stopped when
/// dropped.
pub struct Node(vilokanam_test_utils::Node);

impl Node {
	/// Starts a dev node on `base_path` and waits until its RPC server answers.
	pub async fn start(base_path: &Path) -> Node {
		Node(vilokanam_test_utils::Node::start_bin(Path::new(NODE_BIN), base_path).await)
	}

	/// As [`Node::start`], with extra command-line arguments (`--chain <spec>` wins over the
	/// `--dev` chain).
	pub async fn start_with(base_path: &Path, extra: &[&str]) -> Node {
		Node(
			vilokanam_test_utils::Node::start_bin_with(Path::new(NODE_BIN), base_path, extra).await,
		)
	}

	/// The node's log so far (for failure messages).
	pub fn log_tail(&self) -> String {
		self.0.log_tail()
	}

	/// A new JSON-RPC client connected to the node.
	pub async fn client(&self) -> Rpc {
		Rpc(self.0.ws_client().await)
	}

	/// Stops the node the way an operator does (SIGINT) and waits for it to exit.
	pub fn stop(&mut self) {
		self.0.stop()
	}
}
