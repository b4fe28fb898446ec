//! The `Config` of every pallet in the runtime.

use frame_support::PalletId;
use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		IdentityFee, Weight,
	},
};
use frame_system::{
	limits::{BlockLength, BlockWeights},
	EnsureRoot,
};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{traits::One, Perbill};
use sp_version::RuntimeVersion;

use super::{
	AccountId, Aura, Balance, Balances, Block, BlockNumber, Hash, MultiBlockMigrations, Nonce,
	PalletInfo, Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason,
	RuntimeOrigin, RuntimeTask, SessionKeys, Signature, System, Timestamp, TxExtension,
	UncheckedExtrinsic, ValidatorSet, DAYS, EXISTENTIAL_DEPOSIT, HOURS, MILLI_SECS_PER_BLOCK,
	MINUTES, SLOT_DURATION, SS58_PREFIX, VERSION, VLK,
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

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ();
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	pub FeeMultiplier: Multiplier = Multiplier::one();
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = IdentityFee<Balance>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

// ---------------------------------------------------------------------------------------------
// Vilokanam's pallets.

parameter_types! {
	/// Held from a creator for each registered stream, released when it is removed.
	pub const StreamDeposit: Balance = VLK;
	/// The platform account (fees) is derived from this id.
	pub const PayoutsPalletId: PalletId = PalletId(*b"vlk/fees");
	/// The escrow account of open viewer sessions is derived from this id.
	pub const TicksPalletId: PalletId = PalletId(*b"vlk/escr");
}

impl pallet_streams::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Time = Timestamp;
	type StreamDeposit = StreamDeposit;
	type CategoryOrigin = EnsureRoot<AccountId>;
	type MaxTitleLen = ConstU32<128>;
	type MaxMetadataLen = ConstU32<256>;
	type MaxTagLen = ConstU32<32>;
	type MaxTags = ConstU32<8>;
	type MaxEndpointLen = ConstU32<256>;
	type MaxCategoryNameLen = ConstU32<64>;
	type MaxCollaborators = ConstU32<8>;
	type MaxFollows = ConstU32<1_000>;
	type WeightInfo = pallet_streams::weights::SubstrateWeight<Runtime>;
}

impl pallet_payouts::Config for Runtime {
	type Currency = Balances;
	type PalletId = PayoutsPalletId;
	type MaxTipMessageLen = ConstU32<256>;
	type FeeOrigin = EnsureRoot<AccountId>;
	type WeightInfo = pallet_payouts::weights::SubstrateWeight<Runtime>;
}

/// Delegate calls pay what a signed transaction of the same weight and length pays (base fee
/// included), through the transaction payment pallet's own fee formula.
pub struct DelegateFeeAsTransaction;
impl pallet_ticks::DelegateFee<Balance> for DelegateFeeAsTransaction {
	fn fee(weight: Weight, length: u32) -> Balance {
		let info = frame_support::dispatch::DispatchInfo {
			call_weight: weight,
			extension_weight: Weight::zero(),
			class: DispatchClass::Normal,
			pays_fee: frame_support::dispatch::Pays::Yes,
		};
		pallet_transaction_payment::Pallet::<Runtime>::compute_fee(length, &info, 0)
	}
}

impl pallet_ticks::Config for Runtime {
	type VoucherSignature = Signature;
	type PalletId = TicksPalletId;
	/// Bounded so that a full batch's worst-case weight fits a block's normal dispatch share.
	type MaxVouchersPerBatch = ConstU32<4_096>;
	type MaxCloseBatch = ConstU32<256>;
	/// A session with no settlement for twelve minutes on a live stream is abandoned: the
	/// off-chain worker closes it and refunds the viewer. The sidecar settles every few blocks;
	/// the margin is for an outage of the sidecar's link to the chain: up to ten minutes (as
	/// [`Self::SettleWindow`]) lose no acknowledged second, with two more to catch up.
	type IdleTimeout = ConstU32<{ 12 * MINUTES }>;
	/// One block of clock skew between a viewer's player and the chain's timestamp.
	type ElapsedGrace = ConstU64<{ MILLI_SECS_PER_BLOCK / 1_000 }>;
	/// A day of watching per session at most; `top_up` cannot go beyond it.
	type MaxSecondsPerSession = ConstU64<86_400>;
	/// Ten minutes for the relayer to settle what it acknowledged after a viewer asks to close
	/// or a stream ends: the outage the sidecar is built to survive. The creator's relayer
	/// usually closes at once, well before.
	type SettleWindow = ConstU64<{ 10 * 60 * 1_000 }>;
	type DelegateFee = DelegateFeeAsTransaction;
	/// A day: a viewer's page or wallet can show what a session settled and refunded the day
	/// it closed. Records cost no fee, so their number is bounded by the rate of closes.
	type ClosedRetention = ConstU32<DAYS>;
	type WeightInfo = pallet_ticks::weights::SubstrateWeight<Runtime>;
}

impl<C> frame_system::offchain::CreateTransactionBase<C> for Runtime
where
	RuntimeCall: From<C>,
{
	type Extrinsic = UncheckedExtrinsic;
	type RuntimeCall = RuntimeCall;
}

impl<C> frame_system::offchain::CreateTransaction<C> for Runtime
where
	RuntimeCall: From<C>,
{
	type Extension = TxExtension;

	fn create_transaction(call: RuntimeCall, extension: TxExtension) -> UncheckedExtrinsic {
		UncheckedExtrinsic::new_transaction(call, extension)
	}
}

/// Off-chain workers submit `#[pallet::authorize]`d calls (closing abandoned sessions) as
/// general transactions: `AuthorizeCall` validates them; nonce and fee checks do not apply to
/// the authorized origin.
impl<C> frame_system::offchain::CreateAuthorizedTransaction<C> for Runtime
where
	RuntimeCall: From<C>,
{
	fn create_extension() -> TxExtension {
		// Nonce and fee checks do not apply to the authorized origin.
		super::tx_extension(0)
	}
}
