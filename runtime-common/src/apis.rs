//! The runtime APIs both runtimes serve alike, for
//! [`impl_vilokanam_runtime_apis!`](crate::impl_vilokanam_runtime_apis).

/// Implements, in one `sp_api::impl_runtime_apis!` (it must see all of a runtime's APIs at
/// once), the runtime APIs both runtimes serve alike — `Core`, `Metadata`,
/// `RuntimeViewFunction`, `BlockBuilder`, `TaggedTransactionQueue`, `OffchainWorkerApi`,
/// `AuraApi`, `SessionKeys`, `AccountNonceApi`, the two transaction-payment APIs,
/// `VilokanamApi` and `GenesisBuilder` — with the chain's own `impl … for Runtime` blocks:
/// `consensus` (GRANDPA for the solochain, cumulus' for the parachain) after `SessionKeys`, and
/// `extra` (benchmarks, try-runtime) before `GenesisBuilder`. The order is the one the runtimes
/// had before they shared this, so their metadata (`chain-specs/metadata.scale`) is unchanged.
///
/// The invoking module must have in scope `Runtime`, `Block`, `Executive`, `RuntimeCall`,
/// `RuntimeGenesisConfig`, `SessionKeys`, `VERSION`, `AccountId`, `Balance` and `Nonce`; the
/// crate must have `alloc`, `InherentDataExt` at its root (`construct_runtime` puts it there)
/// and `genesis_config_presets::{get_preset, preset_names}`.
// `crate::…` is meant to name the invoking runtime's items, not ours.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! impl_vilokanam_runtime_apis {
	(
		consensus: { $($consensus:tt)* }
		extra: { $($extra:tt)* }
	) => {
		/// The views behind `VilokanamApi`.
		mod vilokanam_views {
			use super::Runtime;
			$crate::impl_vilokanam_views!(Runtime);
		}

		sp_api::impl_runtime_apis! {
			impl sp_api::Core<Block> for Runtime {
				fn version() -> sp_version::RuntimeVersion {
					VERSION
				}

				fn execute_block(block: <Block as sp_runtime::traits::Block>::LazyBlock) {
					Executive::execute_block(block);
				}

				fn initialize_block(
					header: &<Block as sp_runtime::traits::Block>::Header,
				) -> sp_runtime::ExtrinsicInclusionMode {
					Executive::initialize_block(header)
				}
			}

			impl sp_api::Metadata<Block> for Runtime {
				fn metadata() -> sp_core::OpaqueMetadata {
					sp_core::OpaqueMetadata::new(Runtime::metadata().into())
				}

				fn metadata_at_version(version: u32) -> Option<sp_core::OpaqueMetadata> {
					Runtime::metadata_at_version(version)
				}

				fn metadata_versions() -> alloc::vec::Vec<u32> {
					Runtime::metadata_versions()
				}
			}

			impl frame_support::view_functions::runtime_api::RuntimeViewFunction<Block> for Runtime {
				fn execute_view_function(
					id: frame_support::view_functions::ViewFunctionId,
					input: alloc::vec::Vec<u8>,
				) -> Result<alloc::vec::Vec<u8>, frame_support::view_functions::ViewFunctionDispatchError> {
					Runtime::execute_view_function(id, input)
				}
			}

			impl sp_block_builder::BlockBuilder<Block> for Runtime {
				fn apply_extrinsic(
					extrinsic: <Block as sp_runtime::traits::Block>::Extrinsic,
				) -> sp_runtime::ApplyExtrinsicResult {
					Executive::apply_extrinsic(extrinsic)
				}

				fn finalize_block() -> <Block as sp_runtime::traits::Block>::Header {
					Executive::finalize_block()
				}

				fn inherent_extrinsics(
					data: sp_inherents::InherentData,
				) -> alloc::vec::Vec<<Block as sp_runtime::traits::Block>::Extrinsic> {
					<sp_inherents::InherentData as crate::InherentDataExt>::create_extrinsics(&data)
				}

				fn check_inherents(
					block: <Block as sp_runtime::traits::Block>::LazyBlock,
					data: sp_inherents::InherentData,
				) -> sp_inherents::CheckInherentsResult {
					<sp_inherents::InherentData as crate::InherentDataExt>::check_extrinsics(&data, &block)
				}
			}

			impl sp_transaction_pool::runtime_api::TaggedTransactionQueue<Block> for Runtime {
				fn validate_transaction(
					source: sp_runtime::transaction_validity::TransactionSource,
					tx: <Block as sp_runtime::traits::Block>::Extrinsic,
					block_hash: <Block as sp_runtime::traits::Block>::Hash,
				) -> sp_runtime::transaction_validity::TransactionValidity {
					Executive::validate_transaction(source, tx, block_hash)
				}
			}

			impl sp_offchain::OffchainWorkerApi<Block> for Runtime {
				fn offchain_worker(header: &<Block as sp_runtime::traits::Block>::Header) {
					Executive::offchain_worker(header)
				}
			}

			impl sp_consensus_aura::AuraApi<Block, sp_consensus_aura::sr25519::AuthorityId> for Runtime {
				fn slot_duration() -> sp_consensus_aura::SlotDuration {
					sp_consensus_aura::SlotDuration::from_millis(
						pallet_aura::Pallet::<Runtime>::slot_duration(),
					)
				}

				fn authorities() -> alloc::vec::Vec<sp_consensus_aura::sr25519::AuthorityId> {
					pallet_aura::Authorities::<Runtime>::get().into_inner()
				}
			}

			impl sp_session::SessionKeys<Block> for Runtime {
				fn generate_session_keys(
					owner: alloc::vec::Vec<u8>,
					seed: Option<alloc::vec::Vec<u8>>,
				) -> sp_session::OpaqueGeneratedSessionKeys {
					SessionKeys::generate(&owner, seed).into()
				}

				fn decode_session_keys(
					encoded: alloc::vec::Vec<u8>,
				) -> Option<alloc::vec::Vec<(alloc::vec::Vec<u8>, sp_core::crypto::KeyTypeId)>> {
					SessionKeys::decode_into_raw_public_keys(&encoded)
				}
			}

			$($consensus)*

			impl frame_system_rpc_runtime_api::AccountNonceApi<Block, AccountId, Nonce> for Runtime {
				fn account_nonce(account: AccountId) -> Nonce {
					frame_system::Pallet::<Runtime>::account_nonce(account)
				}
			}

			impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentApi<Block, Balance> for Runtime {
				fn query_info(
					uxt: <Block as sp_runtime::traits::Block>::Extrinsic,
					len: u32,
				) -> pallet_transaction_payment_rpc_runtime_api::RuntimeDispatchInfo<Balance> {
					pallet_transaction_payment::Pallet::<Runtime>::query_info(uxt, len)
				}
				fn query_fee_details(
					uxt: <Block as sp_runtime::traits::Block>::Extrinsic,
					len: u32,
				) -> pallet_transaction_payment::FeeDetails<Balance> {
					pallet_transaction_payment::Pallet::<Runtime>::query_fee_details(uxt, len)
				}
				fn query_weight_to_fee(weight: frame_support::weights::Weight) -> Balance {
					pallet_transaction_payment::Pallet::<Runtime>::weight_to_fee(weight)
				}
				fn query_length_to_fee(length: u32) -> Balance {
					pallet_transaction_payment::Pallet::<Runtime>::length_to_fee(length)
				}
			}

			impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentCallApi<Block, Balance, RuntimeCall>
				for Runtime
			{
				fn query_call_info(
					call: RuntimeCall,
					len: u32,
				) -> pallet_transaction_payment::RuntimeDispatchInfo<Balance> {
					pallet_transaction_payment::Pallet::<Runtime>::query_call_info(call, len)
				}
				fn query_call_fee_details(
					call: RuntimeCall,
					len: u32,
				) -> pallet_transaction_payment::FeeDetails<Balance> {
					pallet_transaction_payment::Pallet::<Runtime>::query_call_fee_details(call, len)
				}
				fn query_weight_to_fee(weight: frame_support::weights::Weight) -> Balance {
					pallet_transaction_payment::Pallet::<Runtime>::weight_to_fee(weight)
				}
				fn query_length_to_fee(length: u32) -> Balance {
					pallet_transaction_payment::Pallet::<Runtime>::length_to_fee(length)
				}
			}

			impl vilokanam_runtime_api::VilokanamApi<Block, AccountId, Balance> for Runtime {
				fn live_streams(
					category: Option<u32>,
					offset: u32,
					limit: u32,
				) -> alloc::vec::Vec<vilokanam_runtime_api::StreamView<AccountId, Balance>> {
					vilokanam_views::live_streams(category, offset, limit)
				}
				fn stream(id: u64) -> Option<vilokanam_runtime_api::StreamView<AccountId, Balance>> {
					vilokanam_views::stream(id)
				}
				fn search_streams(
					query: alloc::vec::Vec<u8>,
					offset: u32,
					limit: u32,
				) -> alloc::vec::Vec<vilokanam_runtime_api::StreamView<AccountId, Balance>> {
					vilokanam_views::search_streams(query, offset, limit)
				}
				fn streams_by_creator(
					creator: AccountId,
					offset: u32,
					limit: u32,
				) -> alloc::vec::Vec<vilokanam_runtime_api::StreamView<AccountId, Balance>> {
					vilokanam_views::streams_by_creator(creator, offset, limit)
				}
				fn session(id: u64) -> Option<vilokanam_runtime_api::SessionView<AccountId, Balance>> {
					vilokanam_views::session(id)
				}
				fn allowance(
					who: AccountId,
				) -> Option<vilokanam_runtime_api::AllowanceView<AccountId, Balance>> {
					vilokanam_views::allowance(who)
				}
				fn voucher_cost(id: u64, cumulative_seconds: u64) -> Option<Balance> {
					vilokanam_views::voucher_cost(id, cumulative_seconds)
				}
				fn quote(id: u64, seconds: u64) -> Option<Balance> {
					vilokanam_views::quote(id, seconds)
				}
				fn earnings(who: AccountId) -> Balance {
					vilokanam_views::earnings(who)
				}
				fn following(who: AccountId) -> alloc::vec::Vec<AccountId> {
					vilokanam_views::following(who)
				}
				fn replay_prices(ids: alloc::vec::Vec<u64>) -> alloc::vec::Vec<Option<Balance>> {
					vilokanam_views::replay_prices(ids)
				}
			}

			$($extra)*

			impl sp_genesis_builder::GenesisBuilder<Block> for Runtime {
				fn build_state(config: alloc::vec::Vec<u8>) -> sp_genesis_builder::Result {
					frame_support::genesis_builder_helper::build_state::<RuntimeGenesisConfig>(config)
				}

				fn get_preset(
					id: &Option<sp_genesis_builder::PresetId>,
				) -> Option<alloc::vec::Vec<u8>> {
					frame_support::genesis_builder_helper::get_preset::<RuntimeGenesisConfig>(
						id,
						crate::genesis_config_presets::get_preset,
					)
				}

				fn preset_names() -> alloc::vec::Vec<sp_genesis_builder::PresetId> {
					crate::genesis_config_presets::preset_names()
				}
			}

		}
	};
}
