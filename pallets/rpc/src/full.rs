//! The RPC extensions of a full node, shared by the solochain node (`vilokanam-node`) and the
//! parachain collator (`vilokanam-collator`): both serve the same methods over the same runtime
//! APIs, so the list is kept in one place. Beyond the standard `system_*`, `chain_*`, `state_*`
//! and `author_*` methods that `sc-service` provides, they are account nonces
//! (`system_accountNextIndex`), fee queries (`payment_*`) and Vilokanam's own `vilokanam_*`.
//!
//! Generic over the block and the runtime's account, balance and nonce types, which the caller
//! names (`create_full::<Block, AccountId, Balance, Nonce, _, _>`): they appear only in the
//! runtime API bounds, from which Rust does not infer them.

use std::{fmt::Display, sync::Arc};

use codec::Codec;
use jsonrpsee::RpcModule;
use sc_client_api::BlockchainEvents;
use sc_transaction_pool_api::TransactionPool;
use serde::{de::DeserializeOwned, Serialize};
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};
use sp_rpc::number::NumberOrHex;
use sp_runtime::traits::{AtLeast32Bit, Block as BlockT};

use crate::{RuntimeApi, Vilokanam, VilokanamApiServer};

/// What the RPC extensions need from the node.
pub struct FullDeps<C, P> {
	/// The client.
	pub client: Arc<C>,
	/// The transaction pool.
	pub pool: Arc<P>,
}

/// All RPC extensions of a full node: System (nonces), TransactionPayment (fees) and Vilokanam.
pub fn create_full<Block, AccountId, Balance, Nonce, C, P>(
	deps: FullDeps<C, P>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
	Block: BlockT,
	C: ProvideRuntimeApi<Block>,
	C: HeaderBackend<Block> + HeaderMetadata<Block, Error = BlockChainError> + 'static,
	C: BlockchainEvents<Block> + Send + Sync + 'static,
	C::Api: RuntimeApi<Block, AccountId, Balance>,
	C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>,
	C::Api: pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>,
	C::Api: BlockBuilder<Block>,
	P: TransactionPool + 'static,
	AccountId: Codec + Clone + Display + Serialize + DeserializeOwned + Send + Sync + 'static,
	Balance: Codec + Copy + Display + TryInto<NumberOrHex> + Send + Sync + 'static,
	Nonce: Codec + Clone + Display + Serialize + AtLeast32Bit + Send + Sync + 'static,
{
	use pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer};
	use substrate_frame_rpc_system::{System, SystemApiServer};

	let mut module = RpcModule::new(());
	let FullDeps { client, pool } = deps;

	module.merge(System::<P, C, Block>::new(client.clone(), pool).into_rpc())?;
	module.merge(TransactionPayment::<C, Block>::new(client.clone()).into_rpc())?;
	module.merge(Vilokanam::<C, Block, Balance>::new(client).into_rpc())?;

	Ok(module)
}
