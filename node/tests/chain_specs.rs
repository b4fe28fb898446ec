//! The checked-in chain specs must be what the runtime's presets produce today.
//!
//! The runtime code itself is left out of the comparison: the Wasm blob embeds the absolute
//! paths of the checkout it was built in, so it differs between clones of the same commit.
//! Everything else (name, id, properties, the genesis patch and every raw storage entry) must
//! match. Run `scripts/gen-chain-specs.sh` after changing the presets or the runtime.
//!
//! The same holds for `chain-specs/metadata.scale`, the runtime's metadata (v15) that clients
//! generate code from (PAPI descriptors in e2e/papi, subxt).

mod common;

use serde_json::Value;
use std::{path::Path, process::Command};

/// The storage key of the runtime code, `:code`, in raw specs.
const CODE_KEY: &str = "0x3a636f6465";

fn strip_code(mut spec: Value) -> Value {
	let genesis = &mut spec["genesis"];
	if let Some(top) = genesis.pointer_mut("/raw/top").and_then(Value::as_object_mut) {
		top.remove(CODE_KEY);
	}
	if let Some(runtime) = genesis.get_mut("runtimeGenesis").and_then(Value::as_object_mut) {
		runtime.remove("code");
	}
	spec
}

fn exported(chain: &str, raw: bool) -> Value {
	let mut cmd = Command::new(common::NODE_BIN);
	cmd.args(["export-chain-spec", "--chain", chain]);
	if raw {
		cmd.arg("--raw");
	}
	let out = cmd.output().expect("the node binary runs");
	assert!(
		out.status.success(),
		"export-chain-spec failed: {}",
		String::from_utf8_lossy(&out.stderr)
	);
	serde_json::from_slice(&out.stdout).expect("export-chain-spec prints JSON")
}

fn checked_in(file: &str) -> Value {
	let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../chain-specs").join(file);
	let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
		panic!("{} is missing ({e}): run scripts/gen-chain-specs.sh", path.display())
	});
	serde_json::from_str(&text).expect("checked-in chain specs are JSON")
}

#[test]
fn checked_in_chain_specs_match_the_runtime() {
	for chain in ["dev", "local"] {
		for (raw, file) in [(false, format!("{chain}.json")), (true, format!("{chain}-raw.json"))] {
			let want = strip_code(exported(chain, raw));
			let have = strip_code(checked_in(&file));
			assert!(
				want == have,
				"chain-specs/{file} drifted from the runtime: run scripts/gen-chain-specs.sh"
			);
		}
	}
}

#[test]
fn chain_specs_carry_token_properties() {
	let spec = checked_in("dev.json");
	assert_eq!(spec["properties"]["tokenSymbol"], "VLK");
	assert_eq!(spec["properties"]["tokenDecimals"], 12);
	assert!(spec["properties"]["ss58Format"].is_u64());
	let local = checked_in("local.json");
	let validators = local
		.pointer("/genesis/runtimeGenesis/patch/session/keys")
		.and_then(Value::as_array)
		.expect("the local testnet names its validators' session keys");
	assert_eq!(validators.len(), 3, "alice, bob and charlie validate the local testnet");
	for validator in validators {
		let keys = &validator[2];
		assert!(keys["aura"].is_string() && keys["grandpa"].is_string(), "keys: {keys}");
	}
	// The session pallet hands the validators to Aura and GRANDPA: their own lists stay empty.
	assert!(local.pointer("/genesis/runtimeGenesis/patch/aura").is_none());
	assert!(local.pointer("/genesis/runtimeGenesis/patch/grandpa").is_none());
}

/// The metadata clients generate their code from must be the runtime's: `metadata.scale` holds
/// `Runtime::metadata_at_version(15)` (the bytes `state_getMetadataAtVersion` would return).
#[test]
fn checked_in_metadata_matches_the_runtime() {
	let want: Vec<u8> =
		vilokanam_runtime::Runtime::metadata_at_version(15).expect("metadata v15").to_vec();
	let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../chain-specs/metadata.scale");
	vilokanam_test_utils::golden_file(
		&path,
		&want,
		"VILOKANAM_WRITE_METADATA",
		"it drifted from the runtime: run scripts/gen-chain-specs.sh",
	);
}
