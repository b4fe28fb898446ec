//! Genesis presets: `development` (Alice collates alone) and `local_testnet` (Alice and Bob).
//! Both are para id [`PARACHAIN_ID`], endow the well-known development accounts and make Alice
//! sudo. The collator's `--chain dev` / `--chain local` specs are built from these, and
//! zombienet-sdk patches them (para id, collators' session keys, invulnerables) for a network.

use crate::{
	AccountId, BalancesConfig, CollatorSelectionConfig, ParachainInfoConfig, PolkadotXcmConfig,
	RuntimeGenesisConfig, SessionConfig, SessionKeys, SudoConfig, PARACHAIN_ID, VLK,
};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::Sr25519Keyring;

/// Each endowed development account starts with a million VLK.
const ENDOWMENT: crate::Balance = 1_000_000 * VLK;

/// Collator candidates bond this much; invulnerables bond nothing.
const CANDIDACY_BOND: crate::Balance = 1_000 * VLK;

/// The XCM version spoken before a counterpart's version is known.
const SAFE_XCM_VERSION: u32 = staging_xcm::prelude::XCM_VERSION;

fn parachain_genesis(
	invulnerables: Vec<(AccountId, AuraId)>,
	endowed_accounts: Vec<AccountId>,
	root: AccountId,
	id: u32,
) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed_accounts.iter().cloned().map(|k| (k, ENDOWMENT)).collect::<Vec<_>>(),
		},
		parachain_info: ParachainInfoConfig { parachain_id: id.into() },
		collator_selection: CollatorSelectionConfig {
			invulnerables: invulnerables.iter().cloned().map(|(acc, _)| acc).collect::<Vec<_>>(),
			candidacy_bond: CANDIDACY_BOND,
		},
		session: SessionConfig {
			keys: invulnerables
				.into_iter()
				.map(|(account, aura)| (account.clone(), account, SessionKeys { aura }))
				.collect::<Vec<_>>(),
		},
		polkadot_xcm: PolkadotXcmConfig { safe_xcm_version: Some(SAFE_XCM_VERSION) },
		sudo: SudoConfig { key: Some(root) },
	})
}

/// A development collator: its account and Aura key are `key`'s.
fn collator(key: Sr25519Keyring) -> (AccountId, AuraId) {
	(key.to_account_id(), key.public().into())
}

fn endowed() -> Vec<AccountId> {
	Sr25519Keyring::iter()
		.filter(|v| v != &Sr25519Keyring::One && v != &Sr25519Keyring::Two)
		.map(|v| v.to_account_id())
		.collect()
}

/// The development preset: Alice collates alone; Alice is sudo.
pub fn development_config_genesis() -> Value {
	parachain_genesis(
		vec![collator(Sr25519Keyring::Alice)],
		endowed(),
		Sr25519Keyring::Alice.to_account_id(),
		PARACHAIN_ID,
	)
}

/// The local testnet preset: Alice and Bob collate; Alice is sudo.
pub fn local_config_genesis() -> Value {
	parachain_genesis(
		vec![collator(Sr25519Keyring::Alice), collator(Sr25519Keyring::Bob)],
		endowed(),
		Sr25519Keyring::Alice.to_account_id(),
		PARACHAIN_ID,
	)
}

/// The JSON patch of the preset named `id`, if there is one.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	vilokanam_runtime_common::presets::patch(id, development_config_genesis, local_config_genesis)
}

pub use vilokanam_runtime_common::presets::preset_names;
