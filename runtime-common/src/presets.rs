//! The genesis presets both runtimes offer: `development` and `local_testnet`, by the names
//! `sp_genesis_builder` gives them, so `--chain dev` and `--chain local` mean the same on both.

use alloc::{vec, vec::Vec};
use serde_json::Value;
use sp_genesis_builder::{PresetId, DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET};

/// The JSON patch of the preset named `id`, built by `development` or `local_testnet`; `None`
/// for any other name.
pub fn patch(
	id: &PresetId,
	development: fn() -> Value,
	local_testnet: fn() -> Value,
) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		DEV_RUNTIME_PRESET => development(),
		LOCAL_TESTNET_RUNTIME_PRESET => local_testnet(),
		_ => return None,
	};
	Some(
		serde_json::to_string(&patch)
			.expect("a serde_json::Value always serializes to a string; qed")
			.into_bytes(),
	)
}

/// The names of the presets.
pub fn preset_names() -> Vec<PresetId> {
	vec![PresetId::from(DEV_RUNTIME_PRESET), PresetId::from(LOCAL_TESTNET_RUNTIME_PRESET)]
}
