//! The runtime APIs: what the collator (block production, import, collation, the transaction
//! pool, off-chain workers) and dApps (metadata, nonces, fee estimates, genesis presets,
//! `VilokanamApi`) ask the runtime. Those the solochain serves alike come from
//! `vilokanam_runtime_common`; the parachain adds cumulus' (no GRANDPA: the relay chain
//! finalizes).

use frame_support::traits::Get;
use sp_runtime::traits::Block as BlockT;

use super::{
	configs::ConsensusHook, AccountId, Balance, Block, Executive, Nonce, ParachainInfo,
	ParachainSystem, Runtime, RuntimeCall, RuntimeGenesisConfig, SessionKeys,
	BLOCK_PROCESSING_VELOCITY, VERSION,
};

vilokanam_runtime_common::impl_vilokanam_runtime_apis! {
	consensus: {
		impl cumulus_primitives_aura::AuraUnincludedSegmentApi<Block> for Runtime {
			fn can_build_upon(
				included_hash: <Block as BlockT>::Hash,
				slot: cumulus_primitives_aura::Slot,
			) -> bool {
				ConsensusHook::can_build_upon(included_hash, slot)
			}
		}

		impl cumulus_primitives_core::CollectCollationInfo<Block> for Runtime {
			fn collect_collation_info(header: &<Block as BlockT>::Header) -> cumulus_primitives_core::CollationInfo {
				ParachainSystem::collect_collation_info(header)
			}
		}

		impl cumulus_primitives_core::GetParachainInfo<Block> for Runtime {
			fn parachain_id() -> cumulus_primitives_core::ParaId {
				ParachainInfo::parachain_id()
			}
		}

		impl cumulus_primitives_core::RelayParentOffsetApi<Block> for Runtime {
			fn relay_parent_offset() -> u32 {
				<Runtime as cumulus_pallet_parachain_system::Config>::RelayParentOffset::get()
			}

			fn max_claim_queue_offset() -> u8 {
				ParachainSystem::max_claim_queue_offset()
			}
		}

		impl cumulus_primitives_core::SchedulingV3EnabledApi<Block> for Runtime {
			fn scheduling_v3_enabled() -> bool {
				false
			}
		}

		impl cumulus_primitives_core::TargetBlockRate<Block> for Runtime {
			fn target_block_rate() -> u32 {
				BLOCK_PROCESSING_VELOCITY
			}
		}

		impl cumulus_primitives_core::KeyToIncludeInRelayProof<Block> for Runtime {
			fn keys_to_prove() -> cumulus_primitives_core::RelayProofRequest {
				// Nothing beyond what parachain-system always proves.
				Default::default()
			}
		}
	}
	extra: {}
}
