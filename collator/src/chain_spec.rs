//! The built-in chain specifications, built from the parachain runtime's genesis presets, and the
//! two fields a parachain's spec carries beyond a solochain's.
//!
//! [`Extensions`] is written and read as `relay_chain` / `para_id`: zombienet-sdk looks for these
//! keys in the spec it generates with `export-chain-spec` (it adds them when missing and
//! rewrites them with the network's relay chain and para id), so a spec of ours never gets a
//! second, camelCase copy. The camelCase spellings are read too, as omni-node does, for specs
//! made by other tools.

use sc_chain_spec::ChainSpecExtension;
use sc_service::{ChainType, Properties};
use serde::{Deserialize, Serialize};
use vilokanam_parachain_runtime::{
	PARACHAIN_ID, SS58_PREFIX, TOKEN_DECIMALS, TOKEN_SYMBOL, WASM_BINARY,
};

/// The relay chain of the built-in specs: a local Rococo (`-- --chain rococo-local`, or the
/// JSON spec zombienet writes for it).
const RELAY_CHAIN: &str = "rococo-local";

/// What a parachain's chain spec says beyond a solochain's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ChainSpecExtension)]
pub struct Extensions {
	/// The relay chain's spec id: the in-process relay node loads this spec when no `--chain`
	/// follows `--`.
	#[serde(alias = "relayChain", alias = "RelayChain")]
	pub relay_chain: String,
	/// The para id. The runtime's (`parachainInfo`, through `GetParachainInfo`) is the one the
	/// collator uses; this copy is what tools read without running the runtime.
	#[serde(alias = "paraId", alias = "ParaId")]
	pub para_id: u32,
}

impl Extensions {
	/// The extensions of `chain_spec`, if it has ours.
	pub fn try_get(chain_spec: &dyn sc_service::ChainSpec) -> Option<&Self> {
		sc_chain_spec::get_extension(chain_spec.extensions())
	}
}

/// The chain specification type of this node.
pub type ChainSpec = sc_service::GenericChainSpec<Extensions>;

/// Token symbol, decimals and address format, so that wallets show balances correctly.
fn properties() -> Properties {
	let mut properties = Properties::new();
	properties.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
	properties.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
	properties.insert("ss58Format".into(), SS58_PREFIX.into());
	properties
}

fn wasm() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| "the Wasm runtime was not built (SKIP_WASM_BUILD set?)".to_string())
}

fn extensions() -> Extensions {
	Extensions { relay_chain: RELAY_CHAIN.into(), para_id: PARACHAIN_ID }
}

/// A development parachain (the runtime's `development` preset) on a local Rococo.
pub fn development_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, extensions())
		.with_name("Vilokanam Parachain Development")
		.with_id("vilokanam_parachain_dev")
		.with_protocol_id("vlk-para")
		.with_chain_type(ChainType::Development)
		.with_properties(properties())
		.with_genesis_config_preset_name(sp_genesis_builder::DEV_RUNTIME_PRESET)
		.build())
}

/// A local testnet parachain (the runtime's `local_testnet` preset) on a local Rococo.
pub fn local_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, extensions())
		.with_name("Vilokanam Parachain Local Testnet")
		.with_id("vilokanam_parachain_local")
		.with_protocol_id("vlk-para")
		.with_chain_type(ChainType::Local)
		.with_properties(properties())
		.with_genesis_config_preset_name(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
		.build())
}
