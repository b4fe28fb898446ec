//! The pallets whose benchmarks `vilokanam-node benchmark pallet` runs.

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[frame_system_extensions, SystemExtensionsBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_sudo, Sudo]
	[pallet_streams, Streams]
	[pallet_payouts, Payouts]
	[pallet_ticks, Ticks]
	[pallet_validator_set, ValidatorSet]
);
