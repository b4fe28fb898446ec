//! What the end-to-end tests share: the real `vilokanam-node` binary (started through
//! `vilokanam-test-utils`), talked to over JSON-RPC, with signed extrinsics built exactly as a
//! wallet does.

#![allow(dead_code)]

use codec::{Decode, Encode};
use jsonrpsee::{
	core::client::{ClientT, Subscription, SubscriptionClientT},
	rpc_params,
	ws_client::WsClient,
};
use serde_json::Value;
use sp_core::{sr25519, Pair, H256};
use sp_runtime::{traits::IdentifyAccount, MultiSigner};
use std::{
	path::Path,
	time::{Duration, Instant},
};
use vilokanam_runtime::{
	AccountId, Balance, Nonce, Runtime, RuntimeCall, RuntimeEvent, SignedPayload, TxExtension,
	UncheckedExtrinsic,
};

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

/// A JSON-RPC client with the few typed calls the tests need.
pub struct Rpc(pub WsClient);

fn hex_decode(s: &str) -> Vec<u8> {
	let s = s.trim_start_matches("0x");
	(0..s.len())
		.step_by(2)
		.map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("the node returns valid hex"))
		.collect()
}

fn hex_encode(bytes: &[u8]) -> String {
	let mut s = String::with_capacity(2 + bytes.len() * 2);
	s.push_str("0x");
	for b in bytes {
		s.push_str(&format!("{b:02x}"));
	}
	s
}

fn parse_number(v: &Value) -> u32 {
	let s = v.as_str().expect("block numbers are hex strings");
	u32::from_str_radix(s.trim_start_matches("0x"), 16).expect("valid hex number")
}

fn parse_hash(v: &Value) -> H256 {
	H256::from_slice(&hex_decode(v.as_str().expect("hashes are hex strings")))
}

impl Rpc {
	/// The best block's number.
	pub async fn best_number(&self) -> u32 {
		let header: Value =
			self.0.request("chain_getHeader", rpc_params![]).await.expect("chain_getHeader");
		parse_number(&header["number"])
	}

	/// The finalized block's hash and number.
	pub async fn finalized(&self) -> (H256, u32) {
		let hash: Value = self
			.0
			.request("chain_getFinalizedHead", rpc_params![])
			.await
			.expect("chain_getFinalizedHead");
		let header: Value = self
			.0
			.request("chain_getHeader", rpc_params![hash.clone()])
			.await
			.expect("chain_getHeader");
		(parse_hash(&hash), parse_number(&header["number"]))
	}

	/// The hash of block `n` of the best chain.
	pub async fn block_hash(&self, n: u32) -> H256 {
		let hash: Value =
			self.0.request("chain_getBlockHash", rpc_params![n]).await.expect("chain_getBlockHash");
		parse_hash(&hash)
	}

	/// The number of block `hash`.
	pub async fn block_number(&self, hash: H256) -> u32 {
		let header: Value =
			self.0.request("chain_getHeader", rpc_params![hash]).await.expect("chain_getHeader");
		parse_number(&header["number"])
	}

	/// The parent of block `hash`.
	pub async fn parent_hash(&self, hash: H256) -> H256 {
		let header: Value =
			self.0.request("chain_getHeader", rpc_params![hash]).await.expect("chain_getHeader");
		parse_hash(&header["parentHash"])
	}

	/// Waits until the best block is at least `n`.
	pub async fn wait_best(&self, n: u32, timeout: Duration) -> u32 {
		let deadline = Instant::now() + timeout;
		loop {
			let best = self.best_number().await;
			if best >= n {
				return best;
			}
			assert!(Instant::now() < deadline, "best block stuck at {best}, expected {n}");
			tokio::time::sleep(Duration::from_millis(500)).await;
		}
	}

	/// Waits until the finalized block is at least `n`.
	pub async fn wait_finalized(&self, n: u32, timeout: Duration) -> u32 {
		let deadline = Instant::now() + timeout;
		loop {
			let (_, finalized) = self.finalized().await;
			if finalized >= n {
				return finalized;
			}
			assert!(Instant::now() < deadline, "finality stuck at {finalized}, expected {n}");
			tokio::time::sleep(Duration::from_millis(500)).await;
		}
	}

	/// Raw storage at `key` in block `at` (best block when `None`).
	pub async fn storage(&self, key: Vec<u8>, at: Option<H256>) -> Option<Vec<u8>> {
		let v: Value = self
			.0
			.request("state_getStorage", rpc_params![hex_encode(&key), at])
			.await
			.expect("state_getStorage");
		v.as_str().map(hex_decode)
	}

	/// The free balance of `who` in block `at`.
	pub async fn free_balance(&self, who: &AccountId, at: Option<H256>) -> Balance {
		let key = frame_system::Account::<Runtime>::hashed_key_for(who);
		match self.storage(key, at).await {
			Some(raw) => {
				frame_system::AccountInfo::<Nonce, pallet_balances::AccountData<Balance>>::decode(
					&mut &raw[..],
				)
				.expect("AccountInfo decodes")
				.data
				.free
			},
			None => 0,
		}
	}

	/// The events of block `at`.
	pub async fn events(&self, at: H256) -> Vec<RuntimeEvent> {
		// `System::Events` is private to frame-system; its key is the well-known prefix.
		let key = frame_support::storage::storage_prefix(b"System", b"Events").to_vec();
		let raw = self.storage(key, Some(at)).await.unwrap_or_default();
		if raw.is_empty() {
			return Vec::new();
		}
		Vec::<frame_system::EventRecord<RuntimeEvent, H256>>::decode(&mut &raw[..])
			.expect("the events decode with the runtime's types")
			.into_iter()
			.map(|r| r.event)
			.collect()
	}

	/// The next nonce of `who`, counting transactions in the pool.
	pub async fn next_nonce(&self, who: &AccountId) -> Nonce {
		self.0
			.request("system_accountNextIndex", rpc_params![who.to_string()])
			.await
			.expect("system_accountNextIndex")
	}

	/// Signs `call` as `signer` (immortal, no tip) the way a wallet does.
	pub async fn sign(&self, call: RuntimeCall, signer: &sr25519::Pair) -> UncheckedExtrinsic {
		let who: AccountId = MultiSigner::from(signer.public()).into_account();
		let nonce = self.next_nonce(&who).await;
		let genesis = self.block_hash(0).await;
		let version: Value = self
			.0
			.request("state_getRuntimeVersion", rpc_params![])
			.await
			.expect("state_getRuntimeVersion");
		let spec_version = version["specVersion"].as_u64().expect("specVersion") as u32;
		let tx_version = version["transactionVersion"].as_u64().expect("transactionVersion") as u32;

		let extension: TxExtension = vilokanam_runtime::tx_extension(nonce);
		let implicit = ((), (), spec_version, tx_version, genesis, genesis, (), (), (), None, ());
		let payload = SignedPayload::from_raw(call.clone(), extension.clone(), implicit);
		let signature = payload.using_encoded(|bytes| signer.sign(bytes));
		UncheckedExtrinsic::new_signed(call, who.into(), signature.into(), extension)
	}

	/// Signs `call` as `signer`, submits it and waits until it is in a block; returns that block
	/// and its events. Panics if the extrinsic failed.
	pub async fn execute(
		&self,
		call: RuntimeCall,
		signer: &sr25519::Pair,
	) -> (H256, Vec<RuntimeEvent>) {
		let xt = self.sign(call, signer).await;
		let block = self.submit_and_wait(xt, false).await;
		let events = self.events(block).await;
		if let Some(e) = events.iter().find(|e| {
			matches!(e, RuntimeEvent::System(frame_system::Event::ExtrinsicFailed { .. }))
		}) {
			panic!("extrinsic failed: {e:?}");
		}
		(block, events)
	}

	/// Submits `xt` and waits until it is in a finalized block, returning that block's hash.
	pub async fn submit_and_finalize(&self, xt: UncheckedExtrinsic) -> H256 {
		self.submit_and_wait(xt, true).await
	}

	/// Submits `xt` and waits until it is in a block (finalized if `finalized`).
	pub async fn submit_and_wait(&self, xt: UncheckedExtrinsic, finalized: bool) -> H256 {
		let mut sub: Subscription<Value> = self
			.0
			.subscribe(
				"author_submitAndWatchExtrinsic",
				rpc_params![hex_encode(&xt.encode())],
				"author_unwatchExtrinsic",
			)
			.await
			.expect("the pool accepts the extrinsic");
		let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
		loop {
			let status = tokio::time::timeout_at(deadline, sub.next())
				.await
				.expect("the extrinsic is finalized within 90 s")
				.expect("the subscription stays open")
				.expect("status updates decode");
			if let Some(hash) = status.get("finalized") {
				return parse_hash(hash);
			}
			if let Some(hash) = status.get("inBlock").filter(|_| !finalized) {
				return parse_hash(hash);
			}
			if status.get("invalid").is_some()
				|| status.get("dropped").is_some()
				|| status.get("usurped").is_some()
				|| status.get("finalityTimeout").is_some()
			{
				panic!("the extrinsic did not make it: {status}");
			}
		}
	}
}
