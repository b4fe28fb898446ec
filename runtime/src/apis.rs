//! The runtime APIs: what the node (block production, import, the transaction pool, off-chain
//! workers) and dApps (metadata, nonces, fee estimates, genesis presets, `VilokanamApi`) ask the
//! runtime. Those the parachain serves alike come from `vilokanam_runtime_common`; the solochain
//! adds GRANDPA, benchmarks and try-runtime.

#[cfg(feature = "runtime-benchmarks")]
use alloc::vec::Vec;
#[cfg(feature = "try-runtime")]
use frame_support::weights::Weight;
use pallet_grandpa::AuthorityId as GrandpaId;
use sp_runtime::traits::{Block as BlockT, NumberFor};

use super::{
	AccountId, Balance, Block, Executive, Grandpa, Nonce, Runtime, RuntimeCall,
	RuntimeGenesisConfig, SessionKeys, VERSION,
};

vilokanam_runtime_common::impl_vilokanam_runtime_apis! {
	consensus: {
		impl sp_consensus_grandpa::GrandpaApi<Block> for Runtime {
			fn grandpa_authorities() -> sp_consensus_grandpa::AuthorityList {
				Grandpa::grandpa_authorities()
			}

			fn current_set_id() -> sp_consensus_grandpa::SetId {
				Grandpa::current_set_id()
			}

			fn submit_report_equivocation_unsigned_extrinsic(
				_equivocation_proof: sp_consensus_grandpa::EquivocationProof<
					<Block as BlockT>::Hash,
					NumberFor<Block>,
				>,
				_key_owner_proof: sp_consensus_grandpa::OpaqueKeyOwnershipProof,
			) -> Option<()> {
				None
			}

			fn generate_key_ownership_proof(
				_set_id: sp_consensus_grandpa::SetId,
				_authority_id: GrandpaId,
			) -> Option<sp_consensus_grandpa::OpaqueKeyOwnershipProof> {
				// `KeyOwnerProof` is `Void`: without a session pallet there is no ownership proof.
				None
			}
		}
	}
	extra: {
		#[cfg(feature = "runtime-benchmarks")]
		impl frame_benchmarking::Benchmark<Block> for Runtime {
			fn benchmark_metadata(extra: bool) -> (
				Vec<frame_benchmarking::BenchmarkList>,
				Vec<frame_support::traits::StorageInfo>,
			) {
				use frame_benchmarking::{baseline, BenchmarkList};
				use frame_support::traits::StorageInfoTrait;
				use frame_system_benchmarking::Pallet as SystemBench;
				use frame_system_benchmarking::extensions::Pallet as SystemExtensionsBench;
				use baseline::Pallet as BaselineBench;
				use super::*;

				let mut list = Vec::<BenchmarkList>::new();
				list_benchmarks!(list, extra);

				let storage_info = AllPalletsWithSystem::storage_info();

				(list, storage_info)
			}

			#[allow(non_local_definitions)]
			fn dispatch_benchmark(
				config: frame_benchmarking::BenchmarkConfig
			) -> Result<Vec<frame_benchmarking::BenchmarkBatch>, alloc::string::String> {
				use frame_benchmarking::{baseline, BenchmarkBatch};
				use sp_storage::TrackedStorageKey;
				use frame_system_benchmarking::Pallet as SystemBench;
				use frame_system_benchmarking::extensions::Pallet as SystemExtensionsBench;
				use baseline::Pallet as BaselineBench;
				use super::*;

				impl frame_system_benchmarking::Config for Runtime {}
				impl baseline::Config for Runtime {}

				use frame_support::traits::WhitelistedStorageKeys;
				let whitelist: Vec<TrackedStorageKey> = AllPalletsWithSystem::whitelisted_storage_keys();

				let mut batches = Vec::<BenchmarkBatch>::new();
				let params = (&config, &whitelist);
				add_benchmarks!(params, batches);

				Ok(batches)
			}
		}

		#[cfg(feature = "try-runtime")]
		impl frame_try_runtime::TryRuntime<Block> for Runtime {
			fn on_runtime_upgrade(checks: frame_try_runtime::UpgradeCheckSelect) -> (Weight, Weight) {
				// A failed pre/post-upgrade check must stop try-runtime right here, with a backtrace.
				let weight = Executive::try_runtime_upgrade(checks)
					.expect("try-runtime upgrade checks must pass");
				(weight, super::configs::RuntimeBlockWeights::get().max_block)
			}

			fn execute_block(
				block: <Block as BlockT>::LazyBlock,
				state_root_check: bool,
				signature_check: bool,
				select: frame_try_runtime::TryStateSelect,
			) -> Weight {
				Executive::try_execute_block(block, state_root_check, signature_check, select)
					.expect("try-runtime block execution must succeed")
			}
		}
	}
}
