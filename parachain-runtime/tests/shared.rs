//! What the parachain runtime must share with the solochain runtime, so that one client (the
//! sidecar's relayer, the SDK, the pages, a wallet) serves both: our pallets' calls encode the
//! same, the transaction extensions encode the same, and the presets build a chain that can
//! start (a collator, its session key, a para id).

use codec::Encode;
use pallet_streams::StreamId;
use sp_keyring::Sr25519Keyring;
use sp_runtime::{traits::TransactionExtension, BuildStorage};
use vilokanam_parachain_runtime as para;
use vilokanam_runtime as solo;

mod common;
use common::genesis_of;

#[test]
fn transaction_extensions_encode_as_on_the_solochain() {
	for nonce in [0, 1, 7, u32::MAX] {
		assert_eq!(para::tx_extension(nonce).encode(), solo::tx_extension(nonce).encode());
	}
	// The same extensions in the same order; only the last differs by name (cumulus' storage
	// weight reclaim instead of FRAME's), and both carry no data.
	let identifiers = |m: Vec<sp_runtime::traits::TransactionExtensionMetadata>| {
		m.into_iter().map(|e| e.identifier).collect::<Vec<_>>()
	};
	let mut solo_ids =
		identifiers(<solo::TxExtension as TransactionExtension<solo::RuntimeCall>>::metadata());
	let mut para_ids =
		identifiers(<para::TxExtension as TransactionExtension<para::RuntimeCall>>::metadata());
	assert_eq!(solo_ids.pop(), Some("WeightReclaim"));
	assert_eq!(para_ids.pop(), Some("StorageWeightReclaim"));
	assert_eq!(para_ids, solo_ids);
}

#[test]
fn our_pallets_calls_encode_as_on_the_solochain() {
	let stream: StreamId = 3;
	assert_eq!(
		para::RuntimeCall::Streams(pallet_streams::Call::go_live { stream_id: stream }).encode(),
		solo::RuntimeCall::Streams(pallet_streams::Call::go_live { stream_id: stream }).encode(),
	);
	assert_eq!(
		para::RuntimeCall::Ticks(pallet_ticks::Call::top_up { session_id: 9, extra_seconds: 60 })
			.encode(),
		solo::RuntimeCall::Ticks(pallet_ticks::Call::top_up { session_id: 9, extra_seconds: 60 })
			.encode(),
	);
	assert_eq!(
		para::RuntimeCall::Payouts(pallet_payouts::Call::tip {
			stream_id: stream,
			amount: para::VLK,
			message: None
		})
		.encode(),
		solo::RuntimeCall::Payouts(pallet_payouts::Call::tip {
			stream_id: stream,
			amount: solo::VLK,
			message: None
		})
		.encode(),
	);
}

#[test]
fn presets_start_a_parachain_with_its_collators() {
	for (preset, collators) in [
		("development", vec![Sr25519Keyring::Alice]),
		("local_testnet", vec![Sr25519Keyring::Alice, Sr25519Keyring::Bob]),
	] {
		// Collator-selection keeps its invulnerables sorted; Aura's order follows the session's.
		let sorted = |mut v: Vec<para::AccountId>| {
			v.sort();
			v
		};
		let accounts = sorted(collators.iter().map(|k| k.to_account_id()).collect());
		let storage = genesis_of(preset).build_storage().expect("the preset builds");
		sp_io::TestExternalities::new(storage).execute_with(|| {
			assert_eq!(
				u32::from(staging_parachain_info::Pallet::<para::Runtime>::parachain_id()),
				para::PARACHAIN_ID
			);
			assert_eq!(
				pallet_collator_selection::Invulnerables::<para::Runtime>::get().into_inner(),
				accounts,
				"{preset}"
			);
			let validators = pallet_session::Validators::<para::Runtime>::get();
			assert_eq!(sorted(validators.clone()), accounts, "{preset}");
			let aura: Vec<_> = pallet_aura::Authorities::<para::Runtime>::get().into_inner();
			let expected: Vec<sp_consensus_aura::sr25519::AuthorityId> = validators
				.iter()
				.map(|v| {
					sp_consensus_aura::sr25519::AuthorityId::from(
						sp_core::sr25519::Public::from_raw(*v.as_ref()),
					)
				})
				.collect();
			assert_eq!(aura, expected, "{preset}");
			assert_eq!(
				pallet_sudo::Key::<para::Runtime>::get(),
				Some(Sr25519Keyring::Alice.to_account_id())
			);
			assert_eq!(
				pallet_balances::Pallet::<para::Runtime>::free_balance(
					Sr25519Keyring::Ferdie.to_account_id()
				),
				1_000_000 * para::VLK
			);
		});
	}
}

#[test]
fn unknown_presets_are_refused() {
	assert!(para::genesis_config_presets::get_preset(&"staging".into()).is_none());
	assert_eq!(para::genesis_config_presets::preset_names().len(), 2);
}
