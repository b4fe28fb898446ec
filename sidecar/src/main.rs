//! The `vilokanam-sidecar` binary: configuration, logging, the store, the chain connection
//! (kept alive with backoff), the chain follower, the relay and the HTTP server, with a
//! graceful shutdown on SIGINT/SIGTERM.

use std::{process::ExitCode, time::Duration};
use tokio::{net::TcpListener, sync::watch};
use tracing_subscriber::EnvFilter;
use vilokanam_chain_client::Client;
use vilokanam_sidecar::{
	config::Config,
	http,
	media::{MediaConfig, MediaServer},
	relay::{self, Relay},
	ChainView, Metrics, Settings, Sidecar, Store, Tokens, WebSettings,
};

/// The longest wait between two connection attempts to the node.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long connections get to close at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
	let config = match Config::load() {
		Ok(c) => c,
		Err(e) => {
			eprintln!("vilokanam-sidecar: {e}");
			return ExitCode::from(2);
		},
	};
	let filter = match EnvFilter::try_new(&config.log) {
		Ok(f) => f,
		Err(e) => {
			eprintln!("vilokanam-sidecar: invalid --log filter {:?}: {e}", config.log);
			return ExitCode::from(2);
		},
	};
	tracing_subscriber::fmt().with_env_filter(filter).init();
	match run(config).await {
		Ok(()) => ExitCode::SUCCESS,
		Err(e) => {
			tracing::error!("{e}");
			ExitCode::FAILURE
		},
	}
}

async fn run(config: Config) -> Result<(), String> {
	tracing::info!(?config, "starting");
	let relayer = config.relayer_pair().map_err(|e| e.to_string())?;
	if relayer.is_none() {
		tracing::warn!("no relayer key (--relayer-seed or --relayer-key-file): vouchers are stored but not settled");
	}
	let store = Store::open(&config.db).map_err(|e| format!("cannot open {:?}: {e}", config.db))?;
	let metrics = Metrics::new().map_err(|e| format!("metrics: {e}"))?;
	let chain = ChainView::new();
	let sidecar = Sidecar::new(
		chain.clone(),
		store.clone(),
		metrics.clone(),
		Settings {
			max_message_bytes: config.max_message_bytes,
			chat_rate: config.chat_rate,
			elapsed_grace_secs: config.elapsed_grace_secs,
			verifier_threads: 0,
			voucher_grace: Duration::from_millis(config.voucher_grace_ms),
		},
	);
	let media = MediaServer::start(
		MediaConfig {
			listen: config.media_listen,
			public_ip: config.media_public_ip,
			record_dir: config.record_dir.clone(),
			full_ice: config.media_full_ice,
			cpu: config.media_cpu,
			..MediaConfig::default()
		},
		metrics.clone(),
	)
	.map_err(|e| format!("cannot start the media server on {}: {e}", config.media_listen))?;
	// The token secret lives beside the database, so WHIP tokens survive restarts.
	let mut secret_path = config.db.clone().into_os_string();
	secret_path.push(".token-secret");
	let tokens = Tokens::load_or_create(std::path::Path::new(&secret_path))
		.map_err(|e| format!("token secret {secret_path:?}: {e}"))?;
	if let Some(dir) = &config.web_dir {
		if !dir.join("index.html").is_file() {
			tracing::warn!(
				"--web-dir {} has no index.html (run scripts/setup.sh to build the pages)",
				dir.display()
			);
		}
	}
	let mut sidecar = sidecar.with_media(media.clone(), tokens).with_web(WebSettings {
		dir: config.web_dir.clone(),
		node_url: config.public_node_url.clone(),
		dev_accounts: config.dev_accounts,
	});
	if let Some(pair) = &relayer {
		use sp_runtime::traits::IdentifyAccount;
		sidecar = sidecar.with_relayer(
			sp_runtime::MultiSigner::from(sp_core::Pair::public(pair)).into_account(),
		);
	}
	// Viewers who left and streams that ended: sessions for the relay to release (recorded
	// even without a relayer key, for a relay started later on this database).
	let releases =
		tokio::spawn(relay::follow_revocations(store.clone(), sidecar.chain.subscribe()));
	let background = sidecar.spawn_background();
	let listener = TcpListener::bind(config.listen)
		.await
		.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
	tracing::info!("listening on http://{}", config.listen);

	let (shutdown_tx, shutdown_rx) = watch::channel(false);
	let server = tokio::spawn(http::serve(listener, sidecar.clone(), shutdown_rx));
	let chain_task = tokio::spawn(maintain_chain(
		config.node_url.clone(),
		chain,
		store,
		relayer,
		config.settle_every_blocks,
		metrics.clone(),
	));

	wait_for_signal().await;
	tracing::info!("shutting down");
	let _ = shutdown_tx.send(true);
	chain_task.abort();
	let _ = server.await;
	let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
	while metrics.connections.get() > 0 && tokio::time::Instant::now() < deadline {
		tokio::time::sleep(Duration::from_millis(50)).await;
	}
	for task in background {
		task.abort();
	}
	releases.abort();
	media.shutdown();
	// Every acknowledged heartbeat is already committed; nothing else needs flushing.
	tracing::info!("stopped");
	Ok(())
}

/// Keep a node connection: connect with backoff, attach it to the chain view and follow its
/// best heads until it drops, then start over. The relay is started with the first connection
/// and reconnects by itself.
async fn maintain_chain(
	url: String,
	chain: ChainView,
	store: Store,
	relayer: Option<sp_core::sr25519::Pair>,
	settle_every_blocks: u32,
	metrics: Metrics,
) {
	let mut backoff = Duration::from_secs(1);
	let mut relayer = relayer;
	loop {
		match Client::connect(&url).await {
			Ok(client) => match chain.attach(client.clone()) {
				Ok(()) => {
					backoff = Duration::from_secs(1);
					tracing::info!(%url, genesis = ?client.genesis_hash(), "connected to the node");
					if let Some(pair) = relayer.take() {
						let relay = Relay::new(
							client.clone(),
							store.clone(),
							pair,
							settle_every_blocks,
							metrics.clone(),
						);
						tokio::spawn(relay.run());
					}
					if let Err(e) = chain.follow(&client).await {
						tracing::warn!("following the chain failed: {e}");
					}
					chain.detach();
					tracing::warn!(%url, "lost the node connection");
				},
				Err(e) => tracing::error!("{e}"),
			},
			Err(e) => tracing::warn!(%url, "cannot connect to the node: {e}"),
		}
		tokio::time::sleep(backoff).await;
		backoff = (backoff * 2).min(MAX_BACKOFF);
	}
}

async fn wait_for_signal() {
	#[cfg(unix)]
	{
		use tokio::signal::unix::{signal, SignalKind};
		match signal(SignalKind::terminate()) {
			Ok(mut term) => {
				tokio::select! {
					_ = tokio::signal::ctrl_c() => {},
					_ = term.recv() => {},
				}
			},
			Err(e) => {
				tracing::warn!("cannot listen for SIGTERM: {e}");
				let _ = tokio::signal::ctrl_c().await;
			},
		}
	}
	#[cfg(not(unix))]
	{
		let _ = tokio::signal::ctrl_c().await;
	}
}
