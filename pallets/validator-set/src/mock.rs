//! A mock runtime for the validator set pallet's tests and benchmarks: balances, the session
//! pallet with this pallet as its manager, and a session handler that records the authorities
//! each session hands to consensus.

use crate as pallet_validator_set;
use codec::Encode;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
use frame_system::EnsureRoot;
use pallet_session::{PeriodicSessions, SessionHandler};
use sp_runtime::{
	impl_opaque_keys,
	testing::UintAuthorityId,
	traits::{ConvertInto, OpaqueKeys},
	BuildStorage, KeyTypeId, RuntimeAppPublic,
};

type Block = frame_system::mocking::MockBlock<Test>;

/// Account id in the mock.
pub type AccountId = u64;
/// Balance in the mock.
pub type Balance = u64;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Session: pallet_session,
		ValidatorSet: pallet_validator_set,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

impl_opaque_keys! {
	/// One test key per validator.
	pub struct MockSessionKeys {
		/// The test key.
		pub dummy: UintAuthorityId,
	}
}

parameter_types! {
	/// The authorities consensus was last told about (validator, key).
	pub static Authorities: Vec<(AccountId, u64)> = Vec::new();
}

/// Records what consensus (Aura, GRANDPA in the runtime) would be handed.
pub struct RecordingSessionHandler;
impl SessionHandler<AccountId> for RecordingSessionHandler {
	const KEY_TYPE_IDS: &'static [KeyTypeId] = &[UintAuthorityId::ID];

	fn on_genesis_session<K: OpaqueKeys>(validators: &[(AccountId, K)]) {
		Authorities::set(record(validators));
	}

	fn on_new_session<K: OpaqueKeys>(
		_changed: bool,
		validators: &[(AccountId, K)],
		_queued: &[(AccountId, K)],
	) {
		Authorities::set(record(validators));
	}

	fn on_disabled(_validator_index: u32) {}
}

fn record<K: OpaqueKeys>(validators: &[(AccountId, K)]) -> Vec<(AccountId, u64)> {
	validators
		.iter()
		.map(|(who, keys)| {
			(*who, keys.get::<UintAuthorityId>(UintAuthorityId::ID).map_or(0, |k| k.0))
		})
		.collect()
}

/// Blocks per session until the manager sets a length.
pub const DEFAULT_SESSION_LENGTH: u64 = 10;
/// The shortest session.
pub const MIN_SESSION_LENGTH: u64 = 5;
/// The fewest validators.
pub const MIN_VALIDATORS: u32 = 2;
/// The most validators.
pub const MAX_VALIDATORS: u32 = 5;
/// Held from an account that registers session keys.
pub const KEY_DEPOSIT: Balance = 5;

type Sessions = PeriodicSessions<pallet_validator_set::SessionPeriod<Test>, ConstU64<0>>;

impl pallet_session::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = AccountId;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = Sessions;
	type NextSessionRotation = Sessions;
	type SessionManager = ValidatorSet;
	type SessionHandler = RecordingSessionHandler;
	type Keys = MockSessionKeys;
	type DisablingStrategy = ();
	type WeightInfo = ();
	type Currency = Balances;
	type KeyDeposit = ConstU64<KEY_DEPOSIT>;
}

impl pallet_validator_set::Config for Test {
	type ManagerOrigin = EnsureRoot<AccountId>;
	type MinValidators = ConstU32<MIN_VALIDATORS>;
	type MaxValidators = ConstU32<MAX_VALIDATORS>;
	type DefaultSessionLength = ConstU64<DEFAULT_SESSION_LENGTH>;
	type MinSessionLength = ConstU64<MIN_SESSION_LENGTH>;
	type WeightInfo = ();
}

/// The session keys of `who` in the tests: its test key is its account number plus 100, so
/// that keys and accounts cannot be mixed up in an assertion.
pub fn keys_of(who: AccountId) -> MockSessionKeys {
	MockSessionKeys { dummy: UintAuthorityId(who + 100) }
}

/// The ownership proof `session.set_keys` checks: each key signs the owner's account.
pub fn proof_of(who: AccountId, keys: &MockSessionKeys) -> Vec<u8> {
	(keys.dummy.sign(&who.encode()).expect("test keys always sign"),).encode()
}

/// Accounts 1, 2 and 3 validate from genesis; 1 to 9 hold funds.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: (1..10).map(|who| (who, 1_000)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	pallet_session::GenesisConfig::<Test> {
		keys: (1..=3).map(|who| (who, who, keys_of(who))).collect(),
		non_authority_keys: Vec::new(),
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	pallet_validator_set::GenesisConfig::<Test>::default()
		.assimilate_storage(&mut storage)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
