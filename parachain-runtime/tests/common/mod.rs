//! What the runtime's integration tests share.

use vilokanam_parachain_runtime as para;

/// The genesis of `preset` as a node builds it: the runtime's default config with the preset's
/// JSON patch merged in.
pub fn genesis_of(preset: &str) -> para::RuntimeGenesisConfig {
	fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
		match (base, patch) {
			(serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
				for (key, value) in patch {
					merge(base.entry(key).or_insert(serde_json::Value::Null), value);
				}
			},
			(base, patch) => *base = patch,
		}
	}
	let patch = para::genesis_config_presets::get_preset(&preset.into())
		.unwrap_or_else(|| panic!("no preset {preset}"));
	let mut config = serde_json::to_value(para::RuntimeGenesisConfig::default())
		.expect("the default genesis config serializes");
	merge(&mut config, serde_json::from_slice(&patch).expect("a preset is JSON"));
	serde_json::from_value(config).expect("a preset patches only known fields")
}
