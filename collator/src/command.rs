//! Parses the command line and runs the collator or the chosen subcommand.

use sc_cli::SubstrateCli;
use sc_service::PartialComponents;
use sp_runtime::traits::Block as BlockT;
use vilokanam_parachain_runtime::opaque::Block;

use crate::{
	chain_spec,
	cli::{Cli, RelayChainCli, Subcommand},
	service,
};

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"Vilokanam Collator".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		format!(
			"{}\n\nThe arguments before `--` are the parachain node's, those after it the relay \
			chain node's:\n\n{} [parachain-args] -- [relay-chain-args]",
			env!("CARGO_PKG_DESCRIPTION"),
			Self::executable_name()
		)
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		"https://example.invalid/vilokanam/issues".into()
	}

	fn copyright_start_year() -> i32 {
		2026
	}

	/// `dev`/`development` and `local`/`local_testnet` are the runtime's presets (`local` when no
	/// `--chain` is given: zombienet passes `--chain=` to mean the default); anything else is a
	/// JSON file.
	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		Ok(match id {
			"dev" | "development" => Box::new(chain_spec::development_chain_spec()?),
			"" | "local" | "local_testnet" => Box::new(chain_spec::local_chain_spec()?),
			path => {
				Box::new(chain_spec::ChainSpec::from_json_file(std::path::PathBuf::from(path))?)
			},
		})
	}
}

/// Parses the command line and runs what it asks for.
pub fn run() -> sc_cli::Result<()> {
	let cli = Cli::from_args();

	match &cli.subcommand {
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		Some(Subcommand::BuildSpec(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
		},
		Some(Subcommand::ExportChainSpec(cmd)) => {
			let spec = cli.load_spec(&cmd.chain)?;
			cmd.run(spec)
		},
		Some(Subcommand::CheckBlock(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::ExportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.database), task_manager))
			})
		},
		Some(Subcommand::ExportState(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.chain_spec), task_manager))
			})
		},
		Some(Subcommand::ImportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::Revert(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, backend, .. } =
					service::new_partial(&config)?;
				// No finality gadget keeps auxiliary data: the relay chain finalizes.
				Ok((cmd.run::<Block, _, _>(client, backend, None), task_manager))
			})
		},
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			let relay_cli = RelayChainCli::new(runner.config(), cli.relay_chain_args.iter());
			runner.sync_run(|config| {
				let relay_config = SubstrateCli::create_configuration(
					&relay_cli,
					&relay_cli,
					config.tokio_handle.clone(),
				)
				.map_err(|e| format!("relay chain arguments: {e}"))?;
				cmd.run(config, relay_config)
			})
		},
		Some(Subcommand::ExportGenesisHead(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| {
				let PartialComponents { client, .. } = service::new_partial(&config)?;
				cmd.run::<Block, _>(client)
			})
		},
		Some(Subcommand::ExportGenesisWasm(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(&*config.chain_spec))
		},
		None => {
			// `--collator` is `--validator` to the node framework: it makes the role Authority,
			// which also runs the off-chain workers (`--offchain-worker` defaults to
			// `when-authority`).
			let runner = cli.create_runner(&cli.run.normalize())?;
			let relay_cli = RelayChainCli::new(runner.config(), cli.relay_chain_args.iter());
			let collator_options = cli.run.collator_options();
			let max_pov_percentage = cli.run.experimental_max_pov_percentage;

			runner.run_node_until_exit(|config| async move {
				let mut relay_config = SubstrateCli::create_configuration(
					&relay_cli,
					&relay_cli,
					config.tokio_handle.clone(),
				)
				.map_err(|e| format!("relay chain arguments: {e}"))?;

				// The relay chain side of a collator serves no light clients: drop the WebRTC
				// listeners a full node gets by default, unless asked for (as omni-node does).
				let relay_network = &relay_cli.base.base.network_params;
				if config.role.is_authority()
					&& !relay_network.force_enable_webrtc
					&& relay_network.listen_addr.is_empty()
				{
					relay_config.network.remove_webrtc_addresses();
				}

				log::info!("Collating: {}", if config.role.is_authority() { "yes" } else { "no" });

				let params = service::NodeParams {
					parachain_config: config,
					relay_chain_config: relay_config,
					collator_options,
					max_pov_percentage,
				};
				match params.parachain_config.network.network_backend {
					sc_network::config::NetworkBackendType::Libp2p => {
						service::start_node::<
							sc_network::NetworkWorker<Block, <Block as BlockT>::Hash>,
						>(params)
						.await
					},
					sc_network::config::NetworkBackendType::Litep2p => {
						service::start_node::<sc_network::Litep2pNetworkBackend>(params).await
					},
				}
				.map_err(sc_cli::Error::Service)
			})
		},
	}
}
