//! A mock runtime for the ticks pallet's tests and benchmarks.
//!
//! Accounts are `AccountId32` and vouchers `MultiSignature`, as in the runtime.

use crate as pallet_ticks;
use frame_support::{
	assert_ok, derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
	PalletId,
};
use frame_system::EnsureRoot;
use sp_core::{sr25519, Pair};
use sp_keystore::{testing::MemoryKeystore, KeystoreExt};
use sp_runtime::{
	generic, traits::IdentifyAccount, traits::IdentityLookup, AccountId32, BuildStorage,
	MultiSignature, MultiSigner,
};

type Block = frame_system::mocking::MockBlock<Test>;

/// Account id in the mock.
pub type AccountId = AccountId32;
/// Balance in the mock.
pub type Balance = u64;
/// The extrinsic the off-chain worker creates.
pub type Extrinsic = generic::UncheckedExtrinsic<
	AccountId,
	RuntimeCall,
	MultiSignature,
	frame_system::AuthorizeCall<Test>,
>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Timestamp: pallet_timestamp,
		Streams: pallet_streams,
		Payouts: pallet_payouts,
		Ticks: pallet_ticks,
		MultiBlockMigrations: pallet_migrations,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type MultiBlockMigrator = MultiBlockMigrations;
	type AccountId = AccountId;
	type Lookup = IdentityLookup<AccountId>;
	type AccountData = pallet_balances::AccountData<Balance>;
}

parameter_types! {
	pub const ExistentialDeposit: Balance = 10;
	pub const StreamDeposit: Balance = 100;
	pub const PayoutsPalletId: PalletId = PalletId(*b"vk/payut");
	pub const TicksPalletId: PalletId = PalletId(*b"vk/escrw");
}

parameter_types! {
	/// The weight `pallet-migrations` may spend per block (set by the migration tests; a
	/// whole block by default).
	pub storage MigrationWeightPerBlock: frame_support::weights::Weight =
		<<Test as frame_system::Config>::BlockWeights as frame_support::traits::Get<
			frame_system::limits::BlockWeights,
		>>::get()
		.max_block;
}

/// The runtime's multi-block migrations of this pallet, in the runtime's order, with the
/// weights of `()` (what the tests size blocks by).
#[derive_impl(pallet_migrations::config_preludes::TestDefaultConfig)]
impl pallet_migrations::Config for Test {
	#[cfg(not(feature = "runtime-benchmarks"))]
	type Migrations = (
		crate::migrations::v1::MigrateV0ToV1<Test, ()>,
		crate::migrations::v2::MigrateV1ToV2<Test, ()>,
	);
	#[cfg(feature = "runtime-benchmarks")]
	type Migrations = pallet_migrations::mock_helpers::MockedMigrations;
	type MaxServiceWeight = MigrationWeightPerBlock;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type ExistentialDeposit = ExistentialDeposit;
}

#[derive_impl(pallet_timestamp::config_preludes::TestDefaultConfig)]
impl pallet_timestamp::Config for Test {}

impl pallet_streams::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Time = Timestamp;
	type StreamDeposit = StreamDeposit;
	type CategoryOrigin = EnsureRoot<AccountId>;
	type MaxTitleLen = ConstU32<64>;
	type MaxMetadataLen = ConstU32<128>;
	type MaxTagLen = ConstU32<16>;
	type MaxTags = ConstU32<4>;
	type MaxEndpointLen = ConstU32<128>;
	type MaxCategoryNameLen = ConstU32<32>;
	type MaxCollaborators = ConstU32<2>;
	type MaxFollows = ConstU32<3>;
	type WeightInfo = ();
}

impl pallet_payouts::Config for Test {
	type Currency = Balances;
	type PalletId = PayoutsPalletId;
	type MaxTipMessageLen = ConstU32<32>;
	type FeeOrigin = EnsureRoot<AccountId>;
	type WeightInfo = ();
}

/// The fee of every delegate call in the mock.
pub const DELEGATE_FEE: Balance = 7;
/// The settlement window in the mock: ten minutes.
pub const SETTLE_WINDOW_MS: u64 = 600_000;

/// A flat fee per delegate call, so tests can count it exactly.
pub struct FlatDelegateFee;
impl pallet_ticks::DelegateFee<Balance> for FlatDelegateFee {
	fn fee(_: frame_support::weights::Weight, _: u32) -> Balance {
		DELEGATE_FEE
	}
}

/// Blocks a closed session's record is kept in the mock.
pub const CLOSED_RETENTION: u64 = 20;

impl pallet_ticks::Config for Test {
	type VoucherSignature = MultiSignature;
	type PalletId = TicksPalletId;
	type MaxVouchersPerBatch = ConstU32<16>;
	type MaxCloseBatch = ConstU32<8>;
	type IdleTimeout = ConstU64<10>;
	type ElapsedGrace = ConstU64<5>;
	type MaxSecondsPerSession = ConstU64<86_400>;
	type SettleWindow = ConstU64<SETTLE_WINDOW_MS>;
	type DelegateFee = FlatDelegateFee;
	type ClosedRetention = ConstU64<CLOSED_RETENTION>;
	type WeightInfo = ();
}

impl<LocalCall> frame_system::offchain::CreateTransactionBase<LocalCall> for Test
where
	RuntimeCall: From<LocalCall>,
{
	type Extrinsic = Extrinsic;
	type RuntimeCall = RuntimeCall;
}

impl<LocalCall> frame_system::offchain::CreateTransaction<LocalCall> for Test
where
	RuntimeCall: From<LocalCall>,
{
	type Extension = frame_system::AuthorizeCall<Test>;

	fn create_transaction(call: RuntimeCall, extension: Self::Extension) -> Extrinsic {
		Extrinsic::new_transaction(call, extension)
	}
}

impl<LocalCall> frame_system::offchain::CreateAuthorizedTransaction<LocalCall> for Test
where
	RuntimeCall: From<LocalCall>,
{
	fn create_extension() -> Self::Extension {
		frame_system::AuthorizeCall::new()
	}
}

/// The platform fee in the mock: 2.5 %.
pub const FEE_BPS: u16 = 250;
/// The category created at genesis.
pub const MUSIC: u32 = 1;
/// Initial balance of every test account.
pub const INITIAL: Balance = 1_000_000;

/// A test key pair from a seed byte.
pub fn pair(seed: u8) -> sr25519::Pair {
	sr25519::Pair::from_seed(&[seed; 32])
}

/// The account of a test key pair.
pub fn account_of(p: &sr25519::Pair) -> AccountId {
	MultiSigner::from(p.public()).into_account()
}

/// Creator.
pub fn alice() -> AccountId {
	account_of(&pair(1))
}
/// Collaborator.
pub fn bob() -> AccountId {
	account_of(&pair(2))
}
/// Viewer.
pub fn charlie() -> AccountId {
	account_of(&pair(3))
}
/// Another viewer.
pub fn dave() -> AccountId {
	account_of(&pair(4))
}
/// The relayer the test streams name.
pub fn relayer() -> AccountId {
	account_of(&pair(5))
}
/// Somebody with no part in anything.
pub fn eve() -> AccountId {
	account_of(&pair(6))
}

/// Builds test externalities.
pub struct ExtBuilder;

impl ExtBuilder {
	/// Funded accounts, a category, fee [`FEE_BPS`]; block 1, timestamp 1_000_000 ms.
	pub fn build() -> sp_io::TestExternalities {
		let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		pallet_balances::GenesisConfig::<Test> {
			balances: (1..=6).map(|i| (account_of(&pair(i)), INITIAL)).collect(),
			..Default::default()
		}
		.assimilate_storage(&mut t)
		.unwrap();
		pallet_payouts::GenesisConfig::<Test> { platform_fee_bps: FEE_BPS, ..Default::default() }
			.assimilate_storage(&mut t)
			.unwrap();
		pallet_ticks::GenesisConfig::<Test>::default().assimilate_storage(&mut t).unwrap();
		let mut ext = sp_io::TestExternalities::new(t);
		ext.register_extension(KeystoreExt::new(MemoryKeystore::new()));
		ext.execute_with(|| {
			System::set_block_number(1);
			Timestamp::set_timestamp(1_000_000);
			assert_ok!(Streams::add_category(
				RuntimeOrigin::root(),
				MUSIC,
				b"music".to_vec().try_into().unwrap()
			));
		});
		ext
	}

	/// Run `test`, then check the pallet's invariants (which include the consistency of the
	/// streams' viewer counts with the open sessions).
	pub fn build_and_execute(test: impl FnOnce()) {
		Self::build().execute_with(|| {
			test();
			assert_ok!(Ticks::do_try_state());
		});
	}
}

/// Externalities for the benchmark test suite (with a keystore for sr25519 signing).
#[cfg(feature = "runtime-benchmarks")]
pub fn new_bench_ext() -> sp_io::TestExternalities {
	ExtBuilder::build()
}
