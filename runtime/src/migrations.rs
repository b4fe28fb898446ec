//! Single-block migrations of this runtime's upgrades.
//!
//! [`SessionFromConsensusAuthorities`] brings the session pallet into a chain that ran without
//! one (spec 107 and before): the validators become the session pallet's, so that the validator
//! set pallet can change them from then on.

use crate::{AccountId, Runtime, SessionKeys};
use alloc::vec::Vec;
use frame_support::{traits::OnRuntimeUpgrade, weights::Weight};
use sp_runtime::traits::OpaqueKeys;

/// Seeds `pallet-session` from the Aura and GRANDPA authorities a chain without sessions holds.
///
/// Our genesis presets (spec 107 and before) listed each validator's Aura and GRANDPA keys at
/// the same position of both pallets' authorities, and a validator's account is its Aura
/// (sr25519) key, so the pairs are rebuilt by position. The session pallet then holds exactly
/// the set consensus uses: its first rotation changes nothing, and the validator set pallet's
/// calls change it from there.
///
/// Runs only while the session pallet holds no validators: once on an old chain, never on a
/// chain whose genesis had sessions. If the two authority lists differ in length (a chain not
/// from our presets) it writes nothing and logs an error; the session pallet then rotates an
/// empty set, which changes nothing in consensus, and the operator seeds it by hand.
pub struct SessionFromConsensusAuthorities;

const LOG_TARGET: &str = "runtime::migrations";

/// A validator's account: its Aura (sr25519) key, as our presets made it.
fn account_of(aura: &sp_consensus_aura::sr25519::AuthorityId) -> AccountId {
	let mut raw = [0u8; 32];
	raw.copy_from_slice(aura.as_ref());
	AccountId::from(raw)
}

impl SessionFromConsensusAuthorities {
	/// The (account, keys) pairs to seed, or why there are none.
	fn validators() -> Result<Vec<(AccountId, SessionKeys)>, &'static str> {
		if !pallet_session::Validators::<Runtime>::get().is_empty()
			|| !pallet_session::QueuedKeys::<Runtime>::get().is_empty()
		{
			return Err("the session pallet holds validators already");
		}
		let aura = pallet_aura::Authorities::<Runtime>::get();
		let grandpa = pallet_grandpa::Pallet::<Runtime>::grandpa_authorities();
		if aura.is_empty() || aura.len() != grandpa.len() {
			return Err("Aura and GRANDPA authorities cannot be paired");
		}
		Ok(aura
			.into_iter()
			.zip(grandpa)
			.map(|(aura, (grandpa, _weight))| (account_of(&aura), SessionKeys { aura, grandpa }))
			.collect())
	}
}

impl OnRuntimeUpgrade for SessionFromConsensusAuthorities {
	fn on_runtime_upgrade() -> Weight {
		let db = <Runtime as frame_system::Config>::DbWeight::get();
		let validators = match Self::validators() {
			Ok(validators) => validators,
			Err(why) => {
				if why != "the session pallet holds validators already" {
					log::error!(target: LOG_TARGET, "session not seeded: {why}");
				}
				return db.reads(4);
			},
		};
		for (account, keys) in &validators {
			pallet_session::NextKeys::<Runtime>::insert(account, keys);
			for id in SessionKeys::key_ids() {
				pallet_session::KeyOwner::<Runtime>::insert(
					(*id, keys.get_raw(*id).to_vec()),
					account,
				);
			}
			// As the session pallet's genesis does: keys are a consumer of the account.
			if frame_system::Pallet::<Runtime>::inc_consumers_without_limit(account).is_err() {
				let _ = frame_system::Pallet::<Runtime>::inc_providers(account);
			}
		}
		let accounts: Vec<AccountId> = validators.iter().map(|(a, _)| a.clone()).collect();
		pallet_session::Validators::<Runtime>::put(&accounts);
		pallet_session::QueuedKeys::<Runtime>::put(&validators);
		log::info!(target: LOG_TARGET, "session seeded with {} validators", accounts.len());
		let n = validators.len() as u64;
		db.reads_writes(4 + n, 2 + n * (2 + SessionKeys::key_ids().len() as u64))
	}

	#[cfg(feature = "try-runtime")]
	fn pre_upgrade() -> Result<Vec<u8>, sp_runtime::TryRuntimeError> {
		use codec::Encode;
		Ok(Self::validators().ok().encode())
	}

	#[cfg(feature = "try-runtime")]
	fn post_upgrade(state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
		use codec::Decode;
		let planned = Option::<Vec<(AccountId, SessionKeys)>>::decode(&mut &state[..])
			.map_err(|_| "pre_upgrade state")?;
		if let Some(planned) = planned {
			let accounts: Vec<AccountId> = planned.iter().map(|(a, _)| a.clone()).collect();
			frame_support::ensure!(
				pallet_session::Validators::<Runtime>::get() == accounts,
				"session validators are not the consensus authorities"
			);
			frame_support::ensure!(
				pallet_session::QueuedKeys::<Runtime>::get() == planned,
				"queued keys are not the consensus keys"
			);
		}
		frame_support::ensure!(
			!pallet_session::Validators::<Runtime>::get().is_empty(),
			"the session pallet has no validators"
		);
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{Grandpa, RuntimeGenesisConfig, RuntimeOrigin, Session, ValidatorSet};
	use frame_support::assert_ok;
	use sp_keyring::{Ed25519Keyring, Sr25519Keyring};
	use sp_runtime::BuildStorage;

	const VALIDATORS: [(Sr25519Keyring, Ed25519Keyring); 3] = [
		(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
		(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
		(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
	];

	/// A chain as spec 107 built it: Aura and GRANDPA authorities in genesis, no session keys.
	fn chain_without_sessions() -> sp_io::TestExternalities {
		let mut genesis = RuntimeGenesisConfig::default();
		genesis.balances.balances =
			Sr25519Keyring::iter().map(|k| (k.to_account_id(), 1_000 * crate::VLK)).collect();
		genesis.aura.authorities = VALIDATORS.iter().map(|(sr, _)| sr.public().into()).collect();
		genesis.grandpa.authorities =
			VALIDATORS.iter().map(|(_, ed)| (ed.public().into(), 1)).collect();
		let storage = genesis.build_storage().expect("genesis builds");
		let mut ext = sp_io::TestExternalities::new(storage);
		ext.execute_with(|| frame_system::Pallet::<Runtime>::set_block_number(1));
		ext
	}

	fn aura_accounts() -> Vec<AccountId> {
		pallet_aura::Authorities::<Runtime>::get().iter().map(account_of).collect()
	}

	#[test]
	fn seeds_the_session_from_consensus_and_only_once() {
		chain_without_sessions().execute_with(|| {
			assert!(Session::validators().is_empty());
			SessionFromConsensusAuthorities::on_runtime_upgrade();
			let accounts: Vec<AccountId> =
				VALIDATORS.iter().map(|(sr, _)| sr.to_account_id()).collect();
			assert_eq!(Session::validators(), accounts);
			for (sr, ed) in VALIDATORS {
				let keys = SessionKeys { aura: sr.public().into(), grandpa: ed.public().into() };
				assert_eq!(
					pallet_session::NextKeys::<Runtime>::get(sr.to_account_id()),
					Some(keys)
				);
			}
			let seeded = pallet_session::QueuedKeys::<Runtime>::get();

			// A second run (a later upgrade keeping the migration) changes nothing.
			SessionFromConsensusAuthorities::on_runtime_upgrade();
			assert_eq!(pallet_session::QueuedKeys::<Runtime>::get(), seeded);

			// A rotation with nothing planned leaves consensus as it was.
			let grandpa_before = Grandpa::grandpa_authorities();
			pallet_session::Pallet::<Runtime>::rotate_session();
			assert_eq!(aura_accounts(), accounts);
			assert_eq!(Grandpa::grandpa_authorities(), grandpa_before);

			// And the manager changes the set from there: Charlie leaves two rotations later.
			assert_ok!(ValidatorSet::remove_validator(
				RuntimeOrigin::root(),
				Sr25519Keyring::Charlie.to_account_id()
			));
			pallet_session::Pallet::<Runtime>::rotate_session();
			assert_eq!(aura_accounts(), accounts);
			pallet_session::Pallet::<Runtime>::rotate_session();
			assert_eq!(aura_accounts(), accounts[..2].to_vec());
		});
	}

	#[test]
	fn does_nothing_on_a_chain_with_sessions() {
		let mut ext: sp_io::TestExternalities = sp_io::TestExternalities::new(
			RuntimeGenesisConfig {
				session: pallet_session::GenesisConfig {
					keys: vec![(
						Sr25519Keyring::Dave.to_account_id(),
						Sr25519Keyring::Dave.to_account_id(),
						SessionKeys {
							aura: Sr25519Keyring::Dave.public().into(),
							grandpa: Ed25519Keyring::Dave.public().into(),
						},
					)],
					..Default::default()
				},
				balances: pallet_balances::GenesisConfig {
					balances: vec![(Sr25519Keyring::Dave.to_account_id(), crate::VLK)],
					..Default::default()
				},
				..Default::default()
			}
			.build_storage()
			.expect("genesis builds"),
		);
		ext.execute_with(|| {
			let before = pallet_session::QueuedKeys::<Runtime>::get();
			SessionFromConsensusAuthorities::on_runtime_upgrade();
			assert_eq!(pallet_session::QueuedKeys::<Runtime>::get(), before);
			assert_eq!(Session::validators(), vec![Sr25519Keyring::Dave.to_account_id()]);
		});
	}
}
