//! The node's JSON-RPC extensions beyond the standard `system_*`, `chain_*`, `state_*` and
//! `author_*` methods that `sc-service` provides: account nonces, fee queries and Vilokanam's
//! own `vilokanam_*` methods.
//!
//! The list lives in `vilokanam_rpc::create_full`, shared with the parachain collator; this
//! module names the solochain runtime's types for it.

use jsonrpsee::RpcModule;
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};
use vilokanam_runtime::{opaque::Block, AccountId, Balance, Nonce};

pub use vilokanam_rpc::FullDeps;

/// All RPC extensions of a full node.
pub fn create_full<C, P>(
	deps: FullDeps<C, P>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
	C: ProvideRuntimeApi<Block>,
	C: HeaderBackend<Block> + HeaderMetadata<Block, Error = BlockChainError> + 'static,
	C: sc_client_api::BlockchainEvents<Block> + Send + Sync + 'static,
	C::Api: vilokanam_rpc::RuntimeApi<Block, AccountId, Balance>,
	C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>,
	C::Api: pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>,
	C::Api: BlockBuilder<Block>,
	P: TransactionPool + 'static,
{
	vilokanam_rpc::create_full::<Block, AccountId, Balance, Nonce, C, P>(deps)
}
