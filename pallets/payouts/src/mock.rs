//! A mock runtime for the payouts pallet's tests and benchmarks.

use crate as pallet_payouts;
use frame_support::{assert_ok, derive_impl, parameter_types, traits::ConstU32, PalletId};
use frame_system::EnsureRoot;
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

/// Account id in the mock.
pub type AccountId = u64;
/// Balance in the mock.
pub type Balance = u64;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Timestamp: pallet_timestamp,
		Streams: pallet_streams,
		Payouts: pallet_payouts,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

parameter_types! {
	pub const ExistentialDeposit: Balance = 10;
	pub const StreamDeposit: Balance = 100;
	pub const PayoutsPalletId: PalletId = PalletId(*b"vk/payut");
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
	type MaxCollaborators = ConstU32<4>;
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

/// A creator.
pub const ALICE: AccountId = 1;
/// A collaborator.
pub const BOB: AccountId = 2;
/// A viewer / tipper.
pub const CHARLIE: AccountId = 3;
/// A collaborator account that does not exist (no balance).
pub const DAVE: AccountId = 4;
/// The category created at genesis.
pub const MUSIC: u32 = 1;
/// The initial fee: 2.5 %.
pub const FEE_BPS: u16 = 250;

/// Builds test externalities.
pub struct ExtBuilder;

impl ExtBuilder {
	/// Funded accounts, a category, fee [`FEE_BPS`]; block 1, timestamp 1_000.
	pub fn build() -> sp_io::TestExternalities {
		let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		pallet_balances::GenesisConfig::<Test> {
			balances: vec![(ALICE, 10_000), (BOB, 10_000), (CHARLIE, 1_000_000)],
			..Default::default()
		}
		.assimilate_storage(&mut t)
		.unwrap();
		pallet_payouts::GenesisConfig::<Test> { platform_fee_bps: FEE_BPS, ..Default::default() }
			.assimilate_storage(&mut t)
			.unwrap();
		let mut ext = sp_io::TestExternalities::new(t);
		ext.execute_with(|| {
			System::set_block_number(1);
			Timestamp::set_timestamp(1_000);
			assert_ok!(Streams::add_category(
				RuntimeOrigin::root(),
				MUSIC,
				b"music".to_vec().try_into().unwrap()
			));
		});
		ext
	}

	/// Run `test`, then check the pallet's invariants.
	pub fn build_and_execute(test: impl FnOnce()) {
		Self::build().execute_with(|| {
			test();
			assert_ok!(Payouts::do_try_state());
		});
	}
}

/// Externalities for the benchmark test suite.
#[cfg(feature = "runtime-benchmarks")]
pub fn new_bench_ext() -> sp_io::TestExternalities {
	ExtBuilder::build()
}
