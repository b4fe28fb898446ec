//! The runtime a chain ran before today's, for the runtime-upgrade tests: its chain spec (the
//! fixture `node/tests/fixtures/upgrade-from/`, written by `scripts/build-upgrade-fixture.sh`) and
//! its calls, encoded by hand because today's `RuntimeCall` no longer has their shapes
//! (`create_stream` gained a relayer, `open_session` a price cap and a voucher key).
//!
//! Signed extrinsics are built from raw call bytes with today's transaction extensions: the
//! fixture's runtime (spec 102) has the same list, so the bytes a wallet signs are the same.

use crate::rpc::Rpc;
use codec::{Compact, Encode};
use sp_core::{crypto::AccountId32, sr25519, Pair, H256};
use sp_keyring::Sr25519Keyring;
use sp_runtime::{
	traits::{BlakeTwo256, Hash},
	MultiAddress, MultiSignature,
};
use std::path::{Path, PathBuf};
use vilokanam_runtime::{Balance, Nonce};

/// The fixture's directory.
pub fn fixture_dir() -> PathBuf {
	Path::new(env!("CARGO_MANIFEST_DIR")).join("../node/tests/fixtures/upgrade-from")
}

/// The previous runtime's compressed Wasm, as the chain stores it in `:code`.
pub fn previous_code() -> Vec<u8> {
	let path = fixture_dir().join("vilokanam_runtime.compact.compressed.wasm");
	std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Writes the previous runtime's development chain spec (its Wasm as the genesis code) to
/// `path`, for `vilokanam-node --chain <path>`.
pub fn write_previous_chain_spec(path: &Path) {
	let spec_path = fixture_dir().join("chain-spec.json");
	let text = std::fs::read_to_string(&spec_path)
		.unwrap_or_else(|e| panic!("{}: {e}", spec_path.display()));
	let mut spec: serde_json::Value = serde_json::from_str(&text).expect("the fixture is JSON");
	spec["genesis"]["runtimeGenesis"]["code"] = crate::rpc::hex_encode(&previous_code()).into();
	std::fs::write(path, spec.to_string()).expect("the temp dir is writable");
}

/// Pallet and call indices of the previous runtime (unchanged today, which the upgrade test
/// relies on for `sudo(system.set_code)`).
mod index {
	pub const SUDO: u8 = 6;
	pub const STREAMS: u8 = 20;
	pub const TICKS: u8 = 22;
}

fn call(pallet: u8, call: u8, args: impl Encode) -> Vec<u8> {
	let mut bytes = vec![pallet, call];
	args.encode_to(&mut bytes);
	bytes
}

/// The previous runtime's calls, SCALE-encoded.
pub mod calls {
	use super::*;

	/// `sudo.sudo(call)`.
	pub fn sudo(inner: &[u8]) -> Vec<u8> {
		[&[index::SUDO, 0][..], inner].concat()
	}

	/// `streams.add_category(category, name)` (root only).
	pub fn add_category(category: u32, name: &str) -> Vec<u8> {
		call(index::STREAMS, 9, (category, name.as_bytes()))
	}

	/// `streams.create_stream(title, metadata: "", category, tags: [], price, endpoint: None)`:
	/// no relayer yet.
	pub fn create_stream(title: &str, category: u32, price_per_second: Balance) -> Vec<u8> {
		let tags: Vec<Vec<u8>> = Vec::new();
		let endpoint: Option<Vec<u8>> = None;
		call(
			index::STREAMS,
			0,
			(title.as_bytes(), b"".as_slice(), category, tags, price_per_second, endpoint),
		)
	}

	/// `streams.go_live(stream_id)`.
	pub fn go_live(stream_id: u64) -> Vec<u8> {
		call(index::STREAMS, 2, stream_id)
	}

	/// `ticks.open_session(stream_id, max_seconds)`: no price cap, no voucher key yet.
	pub fn open_session(stream_id: u64, max_seconds: u64) -> Vec<u8> {
		call(index::TICKS, 0, (stream_id, max_seconds))
	}

	/// `ticks.tick(session_id, cumulative_seconds)`: the viewer settles its own seconds.
	pub fn tick(session_id: u64, cumulative_seconds: u64) -> Vec<u8> {
		call(index::TICKS, 2, (session_id, cumulative_seconds))
	}
}

/// What a signature commits to besides the call and the extensions' explicit data.
#[derive(Clone, Copy, Debug)]
pub struct SigningContext {
	/// The runtime's `spec_version`.
	pub spec_version: u32,
	/// The runtime's `transaction_version`.
	pub transaction_version: u32,
	/// The genesis hash (also the era's block: the transaction is immortal).
	pub genesis: H256,
}

/// A signed (v4) extrinsic of raw `call` bytes from `signer` with `nonce`, immortal and without
/// tip, encoded as the pool takes it.
pub fn signed_extrinsic(
	call: &[u8],
	signer: &sr25519::Pair,
	nonce: Nonce,
	context: SigningContext,
) -> Vec<u8> {
	let extension = vilokanam_runtime::tx_extension(nonce);
	let SigningContext { spec_version, transaction_version, genesis } = context;
	let implicit = (
		(),
		(),
		spec_version,
		transaction_version,
		genesis,
		genesis,
		(),
		(),
		(),
		None::<[u8; 32]>,
		(),
	);
	let mut payload = call.to_vec();
	extension.encode_to(&mut payload);
	implicit.encode_to(&mut payload);
	// Payloads above 256 bytes are signed by their hash (as `SignedPayload` does).
	let signature = if payload.len() > 256 {
		signer.sign(BlakeTwo256::hash(&payload).as_bytes())
	} else {
		signer.sign(&payload)
	};
	let who = AccountId32::from(signer.public());
	let mut body = vec![0x84]; // signed, extrinsic format 4
	MultiAddress::<AccountId32, ()>::Id(who).encode_to(&mut body);
	MultiSignature::Sr25519(signature).encode_to(&mut body);
	extension.encode_to(&mut body);
	body.extend_from_slice(call);
	let mut xt = Compact(body.len() as u32).encode();
	xt.extend(body);
	xt
}

/// What [`populate_previous_chain`] left on a chain running the previous runtime.
#[derive(Clone, Copy, Debug)]
pub struct PreviousChain {
	/// Bob's live stream, priced [`PRICE`] a second.
	pub bob_stream: u64,
	/// Ferdie's live stream, priced twice that.
	pub ferdie_stream: u64,
	/// The open sessions of Charlie and Dave (on Bob's stream) and Eve (on Ferdie's), each
	/// escrowing [`MAX_SECONDS`].
	pub sessions: [(Sr25519Keyring, u64); 3],
	/// The seconds Charlie settled with `tick` before the upgrade.
	pub charlie_settled: u64,
}

impl PreviousChain {
	/// The session `who` opened.
	pub fn session_of(&self, who: Sr25519Keyring) -> u64 {
		self.sessions.iter().find(|(v, _)| *v == who).map(|(_, id)| *id).expect("a viewer")
	}
}

/// The per-second price of Bob's stream.
pub const PRICE: Balance = vilokanam_runtime::MILLI_VLK;
/// The seconds every session escrows.
pub const MAX_SECONDS: u64 = 600;

/// On a dev chain running the previous runtime, through its own calls: a category, two live
/// streams, three open sessions, and 5 s that Charlie settles with the old `tick`.
pub async fn populate_previous_chain(rpc: &Rpc) -> PreviousChain {
	use Sr25519Keyring::{Alice, Bob, Charlie, Dave, Eve, Ferdie};
	rpc.execute_raw(&calls::sudo(&calls::add_category(1, "Music")), &Alice.pair()).await;
	// One at a time, so that ids follow the order (today's `vilokanam_*` cannot read the
	// previous runtime's views).
	let first_stream = rpc.storage_u64("Streams", "NextStreamId").await;
	let (bob_stream, ferdie_stream) = (first_stream, first_stream + 1);
	rpc.execute_raw(&calls::create_stream("Before the upgrade", 1, PRICE), &Bob.pair()).await;
	rpc.execute_raw(&calls::create_stream("Also before", 1, 2 * PRICE), &Ferdie.pair()).await;
	assert_eq!(rpc.storage_u64("Streams", "NextStreamId").await, first_stream + 2);
	let (bob, ferdie) = (Bob.pair(), Ferdie.pair());
	let go_live = [calls::go_live(bob_stream), calls::go_live(ferdie_stream)];
	futures::join!(rpc.execute_raw(&go_live[0], &bob), rpc.execute_raw(&go_live[1], &ferdie));

	let first_session = rpc.storage_u64("Ticks", "NextSessionId").await;
	let viewers = [(Charlie, bob_stream), (Dave, bob_stream), (Eve, ferdie_stream)];
	for (who, stream) in viewers {
		rpc.execute_raw(&calls::open_session(stream, MAX_SECONDS), &who.pair()).await;
	}
	assert_eq!(rpc.storage_u64("Ticks", "NextSessionId").await, first_session + 3);
	let chain = PreviousChain {
		bob_stream,
		ferdie_stream,
		sessions: [(Charlie, first_session), (Dave, first_session + 1), (Eve, first_session + 2)],
		charlie_settled: 5,
	};

	// `tick` refuses seconds that have not elapsed since the session opened.
	let opened = rpc.best_number().await;
	rpc.wait_best(opened + 2, std::time::Duration::from_secs(60)).await;
	let tick = calls::tick(chain.session_of(Charlie), chain.charlie_settled);
	rpc.execute_raw(&tick, &Charlie.pair()).await;
	chain
}
