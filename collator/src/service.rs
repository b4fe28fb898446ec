//! The collator's service: the parachain client and import queue, an in-process relay chain node,
//! networking, the transaction pool, off-chain workers, RPC, the relay chain tasks (following
//! the relay chain's finality, recovering blocks withheld by their authors) and, on a collator,
//! Aura block authoring with asynchronous backing.
//!
//! The authoring is cumulus's lookahead collator, omni-node 0.24's default for Aura runtimes:
//! at each relay chain block it builds on the best parachain block the unincluded segment
//! allows (up to 3 ahead of the last included one, the runtime's `FixedVelocityConsensusHook`),
//! so blocks are built while earlier ones wait for backing. The slot-based collator exists for
//! elastic scaling (several cores, several blocks per relay slot); with one core and 6 s blocks
//! (velocity 1) it adds a block import wrapper and a second task for nothing.

use std::{sync::Arc, time::Duration};

use cumulus_client_bootnodes::{start_bootnode_tasks, StartBootnodeTasksParams};
use cumulus_client_cli::CollatorOptions;
use cumulus_client_collator::service::CollatorService;
use cumulus_client_consensus_aura::collators::lookahead;
use cumulus_client_service::{
	build_network, build_relay_chain_interface, prepare_node_config, start_relay_chain_tasks,
	BuildNetworkParams, DARecoveryProfile, ParachainHostFunctions, ParachainTracingExecuteBlock,
	StartRelayChainTasksParams,
};
use cumulus_primitives_core::{relay_chain::ValidationCode, GetParachainInfo, ParaId};
use cumulus_relay_chain_interface::RelayChainInterface;
use futures::FutureExt;
use sc_client_api::Backend;
use sc_network::{NetworkBackend, NetworkBlock, NetworkStateInfo};
use sc_service::{Configuration, ImportQueue, PartialComponents, TaskManager};
use sc_telemetry::{Telemetry, TelemetryHandle, TelemetryWorker, TelemetryWorkerHandle};
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use sp_api::ProvideRuntimeApi;
use sp_consensus_aura::sr25519::AuthorityPair as AuraPair;
use sp_runtime::traits::Block as BlockT;
use vilokanam_parachain_runtime::{apis::RuntimeApi, opaque::Block, AccountId, Balance, Nonce};

use crate::chain_spec::Extensions;

type Hash = <Block as BlockT>::Hash;

/// The client, executing the runtime's Wasm with the parachain host functions (the storage
/// proof size one included, which `StorageWeightReclaim` calls).
pub(crate) type ParachainClient =
	sc_service::TFullClient<Block, RuntimeApi, sc_executor::WasmExecutor<ParachainHostFunctions>>;
type ParachainBackend = sc_service::TFullBackend<Block>;
/// The client's block import, behind cumulus's, which keeps the number of leaves per height
/// bounded (collators may build competing blocks at the same height).
type ParachainBlockImport = cumulus_client_consensus_common::ParachainBlockImport<
	Block,
	Arc<ParachainClient>,
	ParachainBackend,
>;
type TransactionPool = sc_transaction_pool::TransactionPoolHandle<Block, ParachainClient>;

/// The relay chain's slot: 6 s on Rococo, and what the runtime's consensus hook assumes.
const RELAY_CHAIN_SLOT_DURATION: Duration = Duration::from_secs(6);

/// How long the collator may spend building a block: a third of the 6 s slot, which leaves the
/// rest for import, proof and submission to the relay chain.
const AUTHORING_DURATION: Duration = Duration::from_millis(2000);

/// The parts of the node that subcommands (import, export, revert, genesis head) need too.
pub type Service = PartialComponents<
	ParachainClient,
	ParachainBackend,
	(),
	sc_consensus::DefaultImportQueue<Block>,
	TransactionPool,
	(ParachainBlockImport, Option<Telemetry>, Option<TelemetryWorkerHandle>),
>;

/// Builds the client, backend, import queue and transaction pool.
pub fn new_partial(config: &Configuration) -> Result<Service, sc_service::Error> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|x| !x.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = sc_service::new_wasm_executor::<ParachainHostFunctions>(&config.executor);
	// Import records storage proofs: a block's proof size is what the runtime's weight reclaim
	// measured when it was built, and must measure again when it is imported.
	let (client, backend, keystore_container, task_manager) =
		sc_service::new_full_parts_record_import::<Block, RuntimeApi, _>(
			config,
			telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
			executor,
			true,
			Vec::new(),
		)?;
	let client = Arc::new(client);

	// The in-process relay chain node reports to the same telemetry.
	let telemetry_worker_handle = telemetry.as_ref().map(|(worker, _)| worker.handle());
	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let transaction_pool = Arc::from(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	let block_import = ParachainBlockImport::new(client.clone(), backend.clone());

	let import_queue = build_import_queue(
		client.clone(),
		block_import.clone(),
		config,
		telemetry.as_ref().map(|telemetry| telemetry.handle()),
		&task_manager,
	);

	Ok(PartialComponents {
		client,
		backend,
		task_manager,
		import_queue,
		keystore_container,
		select_chain: (),
		transaction_pool,
		other: (block_import, telemetry, telemetry_worker_handle),
	})
}

/// The import queue: checks each block's Aura seal against the authorities at its parent, limits
/// equivocations per slot, and checks its inherents (the timestamp against this node's clock).
fn build_import_queue(
	client: Arc<ParachainClient>,
	block_import: ParachainBlockImport,
	config: &Configuration,
	telemetry: Option<TelemetryHandle>,
	task_manager: &TaskManager,
) -> sc_consensus::DefaultImportQueue<Block> {
	cumulus_client_consensus_aura::equivocation_import_queue::fully_verifying_import_queue::<
		AuraPair,
		_,
		_,
		_,
		_,
	>(
		client,
		block_import,
		move |_, _| async move {
			let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
			Ok(timestamp)
		},
		&task_manager.spawn_essential_handle(),
		config.prometheus_registry(),
		telemetry,
	)
}

/// The para id: the runtime's (`parachainInfo`), which the chain spec's `para_id` should
/// repeat.
fn parachain_id(
	client: &ParachainClient,
	config: &Configuration,
) -> Result<ParaId, sc_service::Error> {
	let best_hash = client.chain_info().best_hash;
	let para_id = client
		.runtime_api()
		.parachain_id(best_hash)
		.map_err(|e| format!("reading the para id from the runtime: {e}"))?;
	if let Some(extensions) = Extensions::try_get(&*config.chain_spec) {
		if extensions.para_id != u32::from(para_id) {
			log::warn!(
				"The chain spec says para id {} but the runtime {}: using the runtime's.",
				extensions.para_id,
				u32::from(para_id)
			);
		}
	}
	log::info!("Parachain id: {}", u32::from(para_id));
	Ok(para_id)
}

/// What [`start_node`] needs from the command line.
pub struct NodeParams {
	/// The parachain node's configuration.
	pub parachain_config: Configuration,
	/// The in-process relay chain node's configuration (from the arguments after `--`).
	pub relay_chain_config: Configuration,
	/// How the relay chain is followed (in-process or over RPC) and the DHT bootnode options.
	pub collator_options: CollatorOptions,
	/// `--experimental-max-pov-percentage`.
	pub max_pov_percentage: Option<u32>,
}

/// Builds and starts the parachain node, and the relay chain node inside it.
#[sc_tracing::logging::prefix_logs_with("Parachain")]
pub async fn start_node<N: NetworkBackend<Block, Hash>>(
	params: NodeParams,
) -> Result<TaskManager, sc_service::Error> {
	let NodeParams { parachain_config, relay_chain_config, collator_options, max_pov_percentage } =
		params;
	// Cumulus announces blocks itself, once they are backed (`announce_block` below).
	let parachain_config = prepare_node_config(parachain_config);

	let PartialComponents {
		client,
		backend,
		mut task_manager,
		import_queue,
		keystore_container,
		select_chain: (),
		transaction_pool,
		other: (block_import, mut telemetry, telemetry_worker_handle),
	} = new_partial(&parachain_config)?;

	let para_id = parachain_id(&client, &parachain_config)?;

	let relay_chain_fork_id = relay_chain_config.chain_spec.fork_id().map(ToString::to_string);
	let parachain_fork_id = parachain_config.chain_spec.fork_id().map(ToString::to_string);
	let advertise_non_global_ips = parachain_config.network.allow_non_globals_in_dht;
	let parachain_public_addresses = parachain_config.network.public_addresses.clone();

	let (relay_chain_interface, collator_key, relay_chain_network, paranode_rx) =
		build_relay_chain_interface(
			relay_chain_config,
			&parachain_config,
			telemetry_worker_handle,
			&mut task_manager,
			collator_options.clone(),
			None,
		)
		.await
		.map_err(|e| sc_service::Error::Application(Box::new(e)))?;

	let is_collator = parachain_config.role.is_authority();
	let prometheus_registry = parachain_config.prometheus_registry().cloned();
	let import_queue_service = import_queue.service();
	let net_config = sc_network::config::FullNetworkConfiguration::<Block, Hash, N>::new(
		&parachain_config.network,
		prometheus_registry.clone(),
	);
	let metrics = N::register_notification_metrics(prometheus_registry.as_ref());

	let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
		build_network(BuildNetworkParams {
			parachain_config: &parachain_config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			para_id,
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			relay_chain_interface: relay_chain_interface.clone(),
			import_queue,
			metrics,
			gap_sync_body_policy: None,
		})
		.await?;

	if parachain_config.offchain_worker.enabled {
		// Off-chain workers get the keystore and the pool: they submit the authorized
		// transactions that close abandoned viewer sessions.
		let offchain_workers =
			sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
				runtime_api_provider: client.clone(),
				is_validator: parachain_config.role.is_authority(),
				keystore: Some(keystore_container.keystore()),
				offchain_db: backend.offchain_storage(),
				transaction_pool: Some(OffchainTransactionPoolFactory::new(
					transaction_pool.clone(),
				)),
				network_provider: Arc::new(network.clone()),
				enable_http_requests: false,
				custom_extensions: |_| vec![],
			})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	let rpc_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();

		Box::new(move |_| {
			let deps = vilokanam_rpc::FullDeps { client: client.clone(), pool: pool.clone() };
			vilokanam_rpc::create_full::<Block, AccountId, Balance, Nonce, _, _>(deps)
				.map_err(Into::into)
		})
	};

	sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		rpc_builder,
		client: client.clone(),
		transaction_pool: transaction_pool.clone(),
		task_manager: &mut task_manager,
		config: parachain_config,
		keystore: keystore_container.keystore(),
		backend: backend.clone(),
		network: network.clone(),
		sync_service: sync_service.clone(),
		system_rpc_tx,
		tx_handler_controller,
		telemetry: telemetry.as_mut(),
		// `trace_block` re-executes blocks with the proof size extension they were built with.
		tracing_execute_block: Some(Arc::new(ParachainTracingExecuteBlock::new(client.clone()))),
	})?;

	let announce_block: Arc<dyn Fn(Hash, Option<Vec<u8>>) + Send + Sync> = {
		let sync_service = sync_service.clone();
		Arc::new(move |hash, data| sync_service.announce_block(hash, data))
	};

	let overseer_handle = relay_chain_interface
		.overseer_handle()
		.map_err(|e| sc_service::Error::Application(Box::new(e)))?;

	start_relay_chain_tasks(StartRelayChainTasksParams {
		client: client.clone(),
		announce_block: announce_block.clone(),
		para_id,
		relay_chain_interface: relay_chain_interface.clone(),
		task_manager: &mut task_manager,
		da_recovery_profile: if is_collator {
			DARecoveryProfile::Collator
		} else {
			DARecoveryProfile::FullNode
		},
		import_queue: import_queue_service,
		relay_chain_slot_duration: RELAY_CHAIN_SLOT_DURATION,
		recovery_handle: Box::new(overseer_handle.clone()),
		sync_service: sync_service.clone(),
		prometheus_registry: prometheus_registry.as_ref(),
	})?;

	let collator_peer_id = relay_chain_network.local_peer_id();

	// Advertise this node as a parachain bootnode on the relay chain's DHT, and find others there
	// (`--no-dht-bootnode`, `--no-dht-bootnode-discovery` turn these off).
	start_bootnode_tasks(StartBootnodeTasksParams {
		embedded_dht_bootnode: collator_options.embedded_dht_bootnode,
		dht_bootnode_discovery: collator_options.dht_bootnode_discovery,
		para_id,
		task_manager: &mut task_manager,
		relay_chain_interface: relay_chain_interface.clone(),
		relay_chain_fork_id,
		relay_chain_network,
		request_receiver: paranode_rx,
		parachain_network: network,
		advertise_non_global_ips,
		parachain_genesis_hash: client.chain_info().genesis_hash.as_bytes().to_vec(),
		parachain_fork_id,
		parachain_public_addresses,
	});

	if is_collator {
		let collator_key =
			collator_key.ok_or("the relay chain interface gave no collator key to a collator")?;

		let proposer = sc_basic_authorship::ProposerFactory::new(
			task_manager.spawn_handle(),
			client.clone(),
			transaction_pool,
			prometheus_registry.as_ref(),
			telemetry.as_ref().map(|x| x.handle()),
		);
		let collator_service = CollatorService::new(client.clone(), announce_block, client.clone());

		let code_client = client.clone();
		let params = lookahead::Params {
			// The collator provides the timestamp, slot and parachain inherents itself.
			create_inherent_data_providers: move |_, ()| async move { Ok(()) },
			block_import,
			para_client: client,
			para_backend: backend,
			relay_client: relay_chain_interface,
			code_hash_provider: move |block_hash| {
				code_client.code_at(block_hash).ok().map(|code| ValidationCode::from(code).hash())
			},
			keystore: keystore_container.keystore(),
			collator_key,
			collator_peer_id,
			para_id,
			overseer_handle,
			relay_chain_slot_duration: RELAY_CHAIN_SLOT_DURATION,
			proposer,
			collator_service,
			authoring_duration: AUTHORING_DURATION,
			reinitialize: false,
			max_pov_percentage,
		};
		let aura = lookahead::run::<Block, AuraPair, _, _, _, _, _, _, _, _>(params);
		// Authoring is essential: if it fails, the service goes down with it.
		task_manager.spawn_essential_handle().spawn("aura", None, aura);
	}

	Ok(task_manager)
}
