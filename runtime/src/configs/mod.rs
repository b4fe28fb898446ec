//! The `Config` of every pallet in the runtime.

use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		Weight,
	},
};
use frame_system::{
	limits::{BlockLength, BlockWeights},
	EnsureRoot,
};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::Perbill;
use sp_version::RuntimeVersion;

use super::{
	AccountId, Aura, Balance, Balances, Block, BlockNumber, Hash, MultiBlockMigrations, Nonce,
	PalletInfo, Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason,
	RuntimeOrigin, RuntimeTask, SessionKeys, System, Timestamp, TxExtension, UncheckedExtrinsic,
	ValidatorSet, HOURS, MINUTES, SLOT_DURATION, SS58_PREFIX, VERSION, VLK,
};

/// Share of a block's weight and length available to ordinary transactions; the rest is kept
/// for operational ones (and inherents).
const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
	pub const BlockHashCount: BlockNumber = 2400;
	pub const Version: RuntimeVersion = VERSION;

	/// Two seconds of compute in a six-second block: the rest is for networking and import.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(2u64 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(5 * 1024 * 1024)
		.modify_max_length_for_class(DispatchClass::Normal, |max| *max = NORMAL_DISPATCH_RATIO * *max)
		.build();
	pub const SS58Prefix: u16 = SS58_PREFIX;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	/// The node stores state in ParityDB only, so its (cheaper) database weights apply.
	type DbWeight = ParityDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
	/// Runtime upgrades' storage migrations run over several blocks (see
	/// [`super::MultiBlockMigrationList`]); transactions wait until they are done.
	type MultiBlockMigrator = MultiBlockMigrations;
}

parameter_types! {
	/// Most of a block for migrations while one is under way: the block carries no
	/// transactions then, only inherents (and GRANDPA's and Aura's hooks).
	pub MigrationWeightPerBlock: Weight = Perbill::from_percent(80) * RuntimeBlockWeights::get().max_block;
}

impl pallet_migrations::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	#[cfg(not(feature = "runtime-benchmarks"))]
	type Migrations = super::MultiBlockMigrationList;
	// pallet-migrations' own benchmarks need migrations they control.
	#[cfg(feature = "runtime-benchmarks")]
	type Migrations = pallet_migrations::mock_helpers::MockedMigrations;
	/// Our cursors are a `u64` key; identifiers are `MigrationId`s of a pallet name.
	type CursorMaxLen = ConstU32<64>;
	type IdentifierMaxLen = ConstU32<64>;
	type MigrationStatusHandler = ();
	/// A failed migration stops the chain (no transactions, blocks of inherents only) rather
	/// than leave storage half in an old layout. Ours fail only if one entry outweighs a whole
	/// block's migration weight, which their benchmarks rule out; recovery would take a code
	/// substitute in the chain spec (docs/OPERATORS.md, "Runtime upgrades").
	type FailedMigrationHandler = frame_support::migrations::FreezeChainOnFailedMigration;
	type MaxServiceWeight = MigrationWeightPerBlock;
	type WeightInfo = pallet_migrations::weights::SubstrateWeight<Runtime>;
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<{ MAX_VALIDATORS }>;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<{ MAX_VALIDATORS }>;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<0>;
	// No historical sessions or staking: equivocations are not reported on chain (there is no
	// stake to slash; the manager removes a misbehaving validator).
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

/// The most validators: Aura's and GRANDPA's `MaxAuthorities` and the validator set's bound.
pub const MAX_VALIDATORS: u32 = 32;

/// Sessions rotate every `SessionPeriod` blocks, as the validator set pallet keeps it.
pub type Sessions = pallet_session::PeriodicSessions<
	pallet_validator_set::SessionPeriod<Runtime>,
	frame_support::traits::ConstU32<0>,
>;

impl pallet_session::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	/// Validators are accounts; their keys are registered with `session.set_keys`.
	type ValidatorId = AccountId;
	type ValidatorIdOf = sp_runtime::traits::ConvertInto;
	type ShouldEndSession = Sessions;
	type NextSessionRotation = Sessions;
	type SessionManager = ValidatorSet;
	/// Aura and GRANDPA, in the order of `SessionKeys`.
	type SessionHandler = <SessionKeys as sp_runtime::traits::OpaqueKeys>::KeyTypeIdProviders;
	type Keys = SessionKeys;
	/// No staking, so no disabling: the manager removes a validator instead.
	type DisablingStrategy = ();
	type WeightInfo = pallet_session::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	/// Held while an account has keys registered: registering is open to every account, and
	/// each registration is storage (`NextKeys`, `KeyOwner`) someone must pay for.
	type KeyDeposit = ConstU128<VLK>;
}

impl pallet_validator_set::Config for Runtime {
	/// Root (sudo) today; a governance origin (a council or referendum track) when there is one.
	type ManagerOrigin = EnsureRoot<AccountId>;
	type MinValidators = ConstU32<1>;
	type MaxValidators = ConstU32<{ MAX_VALIDATORS }>;
	/// An hour: a rotation block spends its whole weight (pallet-session), so sessions are long.
	type DefaultSessionLength = ConstU32<{ HOURS }>;
	/// A minute, for test networks that change validators quickly.
	type MinSessionLength = ConstU32<{ MINUTES }>;
	type WeightInfo = pallet_validator_set::weights::SubstrateWeight<Runtime>;
}

impl pallet_timestamp::Config for Runtime {
	/// Milliseconds since the Unix epoch.
	type Moment = u64;
	type OnTimestampSet = Aura;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = pallet_timestamp::weights::SubstrateWeight<Runtime>;
}

// Balances, fees, sudo and Vilokanam's pallets: configured alike on the parachain.
vilokanam_runtime_common::impl_vilokanam_configs!(Runtime);
