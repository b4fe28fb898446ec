//! The test vectors of `@vilokanam/sdk` (`sdk/test/vectors.json`), produced by the Rust encoders
//! the chain and the sidecar use: the pallet's voucher, close and delegate payloads, the
//! sidecar's login payload, `<Bytes>` wrapping, audiences and protocol messages. The SDK's tests
//! must reproduce every one byte for byte; this test fails when the file no longer matches
//! what the encoders produce. After changing an encoding on purpose, `scripts/gen-chain-specs.sh`
//! rewrites it (with `VILOKANAM_WRITE_VECTORS=1`).

use codec::Encode;
use serde_json::{json, Value};
use sp_core::H256;
use std::path::PathBuf;
use vilokanam_chain_client::{AccountId, Runtime};
use vilokanam_sidecar::{
	access::identity,
	protocol::{self, ClientMessage, Crypto, Encoding, HexBytes, Signer},
};

type Ticks = pallet_ticks::Pallet<Runtime>;

fn hex(bytes: &[u8]) -> String {
	format!("0x{}", hex::encode(bytes))
}

fn genesis() -> H256 {
	H256(std::array::from_fn(|i| i as u8 + 1))
}

/// Session and seconds pairs: ordinary, zero, and the largest `u64`s (strings in JSON: above
/// 2^53 a JavaScript number would lose them).
const SIGNED: [(u64, u64); 3] = [(0x0102_0304_0506_0708, 61), (0, 0), (u64::MAX, u64::MAX)];

fn signed_payloads(payload: impl Fn(&H256, u64, u64) -> Vec<u8>) -> Value {
	SIGNED
		.iter()
		.map(|&(session, seconds)| {
			let bytes = payload(&genesis(), session, seconds);
			json!({
				"session_id": session.to_string(),
				"cumulative_seconds": seconds.to_string(),
				"payload": hex(&bytes),
				"wrapped": hex(&identity::signed_bytes(&bytes, Encoding::Wrapped)),
			})
		})
		.collect()
}

fn delegate_vectors() -> Value {
	let viewer = AccountId::new([0xaa; 32]);
	let ops: [(Value, pallet_ticks::DelegateOp<Runtime>); 2] = [
		(
			json!({"openSession": {"streamId": "5", "maxSeconds": "120",
				"maxPricePerSecond": "340282366920938463463374607431768211455",
				"voucherKey": hex(&[0xbb; 32])}}),
			pallet_ticks::DelegateOp::OpenSession {
				stream_id: 5,
				max_seconds: 120,
				max_price_per_second: u128::MAX,
				voucher_key: AccountId::new([0xbb; 32]),
			},
		),
		(
			json!({"topUp": {"sessionId": "9", "extraSeconds": "60"}}),
			pallet_ticks::DelegateOp::TopUp { session_id: 9, extra_seconds: 60 },
		),
	];
	ops.into_iter()
		.map(|(js, op)| {
			let payload = Ticks::delegate_payload(&genesis(), &viewer, 7, 0x0102_0304, &op);
			json!({
				"viewer": hex(viewer.as_ref()),
				"allowance_id": "7",
				"nonce": "16909060",
				"op": js,
				"op_scale": hex(&op.encode()),
				"payload": hex(&payload),
			})
		})
		.collect()
}

fn auth_vectors() -> Value {
	let nonce = [0xcd; 32];
	["https://sidecar.example", "http://127.0.0.1:7070"]
		.iter()
		.map(|audience| {
			let payload = identity::auth_payload(&genesis(), audience, &nonce);
			json!({
				"audience": audience,
				"nonce": hex(&nonce),
				"payload": hex(&payload),
				"wrapped": hex(&identity::signed_bytes(&payload, Encoding::Wrapped)),
			})
		})
		.collect()
}

fn audience_vectors() -> Value {
	[
		"ws://127.0.0.1:7070/ws",
		"wss://Sidecar.Example/ws",
		"wss://sidecar.example:443/ws",
		"ws://sidecar.example:80/ws",
		"wss://sidecar.example:8443/ws?x=1",
	]
	.iter()
	.map(|url| json!({"url": url, "audience": identity::audience_of(url).expect("a URL")}))
	.collect()
}

/// The client messages as the sidecar's own serde types encode them (parsed back to JSON
/// values: the SDK builds objects, key order is not part of the protocol).
fn message_vectors() -> Value {
	let signature = HexBytes([0x11; 64]);
	let messages = [
		(
			json!({"heartbeat": {"sessionId": 42, "cumulativeSeconds": 61}}),
			ClientMessage::Heartbeat {
				session_id: 42,
				cumulative_seconds: 61,
				encoding: Encoding::Raw,
				crypto: Crypto::Sr25519,
				signature,
				signer: Signer::VoucherKey,
			},
		),
		(
			json!({"heartbeat": {"sessionId": 42, "cumulativeSeconds": 62, "signer": "viewer",
				"encoding": "wrapped", "crypto": "ed25519"}}),
			ClientMessage::Heartbeat {
				session_id: 42,
				cumulative_seconds: 62,
				encoding: Encoding::Wrapped,
				crypto: Crypto::Ed25519,
				signature,
				signer: Signer::Viewer,
			},
		),
		(
			json!({"close": {"sessionId": 42, "cumulativeSeconds": 75}}),
			ClientMessage::Close {
				session_id: 42,
				cumulative_seconds: 75,
				encoding: Encoding::Raw,
				crypto: Crypto::Sr25519,
				signature,
				signer: Signer::VoucherKey,
			},
		),
		(
			json!({"auth": {"account": "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
				"encoding": "wrapped"}}),
			ClientMessage::Auth {
				account: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty".into(),
				crypto: Crypto::Sr25519,
				signature,
				encoding: Encoding::Wrapped,
				session_id: None,
			},
		),
		(
			json!({"auth": {"account": hex(&[0xbb; 32]), "sessionId": 42}}),
			ClientMessage::Auth {
				account: hex(&[0xbb; 32]),
				crypto: Crypto::Sr25519,
				signature,
				encoding: Encoding::Raw,
				session_id: Some(42),
			},
		),
	];
	messages
		.into_iter()
		.map(|(build, msg)| {
			let wire: Value =
				serde_json::from_str(&protocol::encode_client(&msg)).expect("the sidecar's JSON");
			json!({"build": build, "signature": hex(&[0x11; 64]), "message": wire})
		})
		.collect()
}

fn vectors() -> Value {
	json!({
		"about": "Produced by sidecar/tests/sdk_vectors.rs from the chain's and the sidecar's \
			encoders; do not edit: scripts/gen-chain-specs.sh rewrites it",
		"genesis": hex(genesis().as_bytes()),
		"voucher": signed_payloads(Ticks::voucher_payload),
		"close": signed_payloads(Ticks::close_payload),
		"delegate": delegate_vectors(),
		"auth": auth_vectors(),
		"audience": audience_vectors(),
		"messages": message_vectors(),
	})
}

#[test]
fn sdk_vectors_are_what_the_encoders_produce() {
	let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sdk/test/vectors.json");
	let want = serde_json::to_string_pretty(&vectors()).expect("JSON") + "\n";
	vilokanam_test_utils::golden_file(
		&path,
		want.as_bytes(),
		"VILOKANAM_WRITE_VECTORS",
		"run scripts/gen-chain-specs.sh if the change is meant (the SDK's tests must then pass \
		 against the new vectors)",
	);
}
