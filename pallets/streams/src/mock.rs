//! A mock runtime for the streams pallet's tests and benchmarks.

use crate as pallet_streams;
use frame_support::{assert_ok, derive_impl, parameter_types, traits::ConstU32};
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
}

#[derive_impl(pallet_timestamp::config_preludes::TestDefaultConfig)]
impl pallet_timestamp::Config for Test {}

parameter_types! {
	pub const StreamDeposit: Balance = 100;
}

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

/// Creator used by most tests.
pub const ALICE: AccountId = 1;
/// Another creator.
pub const BOB: AccountId = 2;
/// A viewer.
pub const CHARLIE: AccountId = 3;
/// An account without funds.
pub const POOR: AccountId = 99;
/// The category created at genesis.
pub const MUSIC: u32 = 1;

/// Builds test externalities.
pub struct ExtBuilder;

impl ExtBuilder {
	/// Storage with funded accounts; block 1, timestamp 1_000.
	pub fn build() -> sp_io::TestExternalities {
		let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		pallet_balances::GenesisConfig::<Test> {
			balances: vec![(ALICE, 10_000), (BOB, 10_000), (CHARLIE, 10_000)],
			..Default::default()
		}
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
			assert_ok!(Streams::do_try_state());
		});
	}
}

/// Externalities for the benchmark test suite.
#[cfg(feature = "runtime-benchmarks")]
pub fn new_bench_ext() -> sp_io::TestExternalities {
	ExtBuilder::build()
}
