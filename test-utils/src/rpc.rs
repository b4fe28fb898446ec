//! A JSON-RPC client of the real node with the typed calls the end-to-end tests need: blocks,
//! storage and events on the runtime's types, and extrinsics signed exactly as a wallet signs
//! them (typed calls, or raw call bytes for a runtime whose calls are not today's).

use codec::{Decode, Encode};
use jsonrpsee::{
	core::client::{ClientT, Subscription, SubscriptionClientT},
	rpc_params,
	ws_client::WsClient,
};
use serde_json::Value;
use sp_core::{sr25519, Pair, H256};
use sp_runtime::{traits::IdentifyAccount, MultiSigner};
use std::time::{Duration, Instant};
use vilokanam_runtime::{
	AccountId, Balance, Nonce, Runtime, RuntimeCall, RuntimeEvent, SignedPayload, TxExtension,
	UncheckedExtrinsic,
};

/// A JSON-RPC client with the few typed calls the tests need.
pub struct Rpc(pub WsClient);

fn hex_decode(s: &str) -> Vec<u8> {
	let s = s.trim_start_matches("0x");
	(0..s.len())
		.step_by(2)
		.map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("the node returns valid hex"))
		.collect()
}

/// `0x`-prefixed lower-case hex, as JSON-RPC takes bytes.
pub fn hex_encode(bytes: &[u8]) -> String {
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
	/// Calls `method` (a `vilokanam_*` one, say) and returns its JSON result; panics on an
	/// error.
	pub async fn call(&self, method: &str, params: jsonrpsee::core::params::ArrayParams) -> Value {
		self.0.request(method, params).await.unwrap_or_else(|e| panic!("{method} failed: {e}"))
	}

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

	/// The change of `who`'s free balance made by block `at`.
	pub async fn balance_change(&self, who: &AccountId, at: H256) -> i128 {
		let before = self.free_balance(who, Some(self.parent_hash(at).await)).await;
		self.free_balance(who, Some(at)).await as i128 - before as i128
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

	/// The runtime version (`specVersion`, `transactionVersion`) of block `at` (best when
	/// `None`).
	pub async fn runtime_version(&self, at: Option<H256>) -> (u32, u32) {
		let version: Value = self
			.0
			.request("state_getRuntimeVersion", rpc_params![at])
			.await
			.expect("state_getRuntimeVersion");
		let number = |field: &str| version[field].as_u64().expect("a version number") as u32;
		(number("specVersion"), number("transactionVersion"))
	}

	/// A `u64` `StorageValue` (`ValueQuery`: 0 when unset) of `pallet` in the best block.
	pub async fn storage_u64(&self, pallet: &str, item: &str) -> u64 {
		let key = frame_support::storage::storage_prefix(pallet.as_bytes(), item.as_bytes());
		self.storage(key.to_vec(), None)
			.await
			.map(|raw| u64::decode(&mut &raw[..]).expect("a u64"))
			.unwrap_or(0)
	}

	/// The storage version of `pallet` in block `at` (0 when never written).
	pub async fn storage_version(&self, pallet: &str, at: Option<H256>) -> u16 {
		let key = frame_support::storage::storage_prefix(
			pallet.as_bytes(),
			frame_support::traits::STORAGE_VERSION_STORAGE_KEY_POSTFIX,
		);
		self.storage(key.to_vec(), at)
			.await
			.map(|raw| u16::decode(&mut &raw[..]).expect("a storage version is a u16"))
			.unwrap_or(0)
	}

	/// Signs the raw `call` bytes as `signer` for the best block's runtime, submits them and
	/// waits until they are in a block. For calls of a runtime whose `RuntimeCall` is not
	/// today's (the upgrade test's previous runtime); their events are not decoded either.
	pub async fn execute_raw(&self, call: &[u8], signer: &sr25519::Pair) -> H256 {
		let who: AccountId = MultiSigner::from(signer.public()).into_account();
		let nonce = self.next_nonce(&who).await;
		let context = self.signing_context().await;
		let xt = crate::upgrade::signed_extrinsic(call, signer, nonce, context);
		self.submit_bytes_and_wait(&xt, false).await
	}

	/// Submits the encoded extrinsic `xt` without waiting: the pool's answer (its hash, or why
	/// it refused it).
	pub async fn try_submit(&self, xt: &[u8]) -> Result<Value, jsonrpsee::core::ClientError> {
		self.0.request("author_submitExtrinsic", rpc_params![hex_encode(xt)]).await
	}

	/// What a signature of a transaction for the best block's runtime commits to.
	pub async fn signing_context(&self) -> crate::upgrade::SigningContext {
		let (spec_version, transaction_version) = self.runtime_version(None).await;
		crate::upgrade::SigningContext {
			spec_version,
			transaction_version,
			genesis: self.block_hash(0).await,
		}
	}

	/// Signs `call` as `signer` (immortal, no tip) the way a wallet does.
	pub async fn sign(&self, call: RuntimeCall, signer: &sr25519::Pair) -> UncheckedExtrinsic {
		let who: AccountId = MultiSigner::from(signer.public()).into_account();
		let nonce = self.next_nonce(&who).await;
		let crate::upgrade::SigningContext { spec_version, transaction_version, genesis } =
			self.signing_context().await;

		let extension: TxExtension = vilokanam_runtime::tx_extension(nonce);
		let implicit =
			((), (), spec_version, transaction_version, genesis, genesis, (), (), (), None, ());
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
		self.submit_bytes_and_wait(&xt.encode(), finalized).await
	}

	/// Submits the encoded extrinsic `xt` and waits until it is in a block (finalized if
	/// `finalized`).
	pub async fn submit_bytes_and_wait(&self, xt: &[u8], finalized: bool) -> H256 {
		let mut sub: Subscription<Value> = self
			.0
			.subscribe(
				"author_submitAndWatchExtrinsic",
				rpc_params![hex_encode(xt)],
				"author_unwatchExtrinsic",
			)
			.await
			.expect("the pool accepts the extrinsic");
		let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
		loop {
			let status = tokio::time::timeout_at(deadline, sub.next())
				.await
				.expect("the extrinsic is finalized within 180 s")
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
