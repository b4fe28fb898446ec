//! The `vilokanam-sidecar` binary: configuration, logging, the store, the chain connection
//! (kept alive with backoff), the chain follower, the relay and the HTTP server, with a
//! graceful shutdown on SIGINT/SIGTERM.

use std::{process::ExitCode, time::Duration};
use tokio::{net::TcpListener, sync::watch};
use tracing_subscriber::EnvFilter;
use vilokanam_sfu::{recorder::OnRecorded, MediaConfig, MediaServer};
use vilokanam_sidecar::{
	billing::relay::{self, Relay, SettlePolicy},
	chain::link::NodeLink,
	config::Config,
	rooms::upstream::Upstream,
	transport::http,
	ChainView, Metrics, Settings, Sidecar, Store, Tokens, WebSettings,
};

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
	for warning in config.relayer_key_warnings() {
		tracing::warn!("{warning}");
	}
	if config.audiences_guessed {
		tracing::warn!(
			"listening on {} without --public-url: logins are bound to {:?}, so browsers that \
			 reach this sidecar under another name refuse to sign in",
			config.listen,
			config.audiences
		);
	}
	let relayer = config.relayer_pair().map_err(|e| e.to_string())?;
	if relayer.is_none() {
		tracing::warn!(
			"no relayer key (--relayer-seed or --relayer-key-file): vouchers are stored but not \
			 settled, and every stream is served, whoever its creator named as relayer"
		);
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
			audiences: config.audiences.clone().into(),
			publish_token_ttl: Duration::from_secs(config.publish_token_ttl_secs),
			limits: config.limits,
			ack_without_chain: Duration::from_secs(config.ack_without_chain_secs),
			min_price_per_second: config.min_price_per_second.into(),
			min_relayer_share: sp_runtime::Permill::from_parts(config.min_relayer_share_ppm),
			min_settle_seconds: config.min_settle_seconds,
			..Settings::default()
		},
	);
	let media = MediaServer::start(
		MediaConfig {
			listen: config.media_listen,
			public_ip: config.media_public_ip,
			record_dir: config.record_dir.clone(),
			// On the recorder's thread, which waits: a finished recording is kept for replays
			// before the next one (and before shutdown completes).
			on_recorded: Some({
				let (handle, store) = (tokio::runtime::Handle::current(), store.clone());
				OnRecorded(std::sync::Arc::new(move |r| {
					handle.block_on(vilokanam_sidecar::transport::replay::keep(&store, r))
				}))
			}),
			record_max_bytes: config.record_max_bytes,
			full_ice: config.media_full_ice,
			cpu: config.media_cpu,
			keyframe_cache: config.keyframe_cache,
			..MediaConfig::default()
		},
		metrics.media.clone(),
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
		edge_urls: config.edge_urls.clone(),
	});
	if let Some(turn) = &config.turn {
		let issuer = turn.issuer().map_err(|e| e.to_string())?;
		tracing::info!(urls = ?issuer.urls(), ttl_secs = turn.ttl_secs, "TURN credentials for members");
		sidecar = sidecar.with_turn(issuer);
	}
	if let Some(pair) = &relayer {
		use sp_runtime::traits::IdentifyAccount;
		sidecar = sidecar.with_relayer(
			sp_runtime::MultiSigner::from(sp_core::Pair::public(pair)).into_account(),
		);
		if let Some(origin) = &config.origin_url {
			let upstream = Upstream::new(origin, pair.clone()).map_err(|e| e.to_string())?;
			tracing::info!(%origin, serve_for = ?config.serve_for, "an edge of its origin");
			sidecar = sidecar.with_origin(upstream, config.serve_for.clone());
		}
	}
	sidecar = sidecar.with_edges(config.edge_accounts.clone());
	// Viewers who left and streams that ended: sessions for the relay to release (recorded
	// even without a relayer key, for a relay started later on this database).
	let releases =
		tokio::spawn(relay::follow_revocations(store.clone(), sidecar.chain.subscribe()));
	let background = sidecar.spawn_background();
	// The recordings of streams the chain removes go with them.
	let removals =
		tokio::spawn(vilokanam_sidecar::transport::replay::forget_removed(sidecar.clone()));
	let listener = TcpListener::bind(config.listen)
		.await
		.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
	tracing::info!("listening on http://{}", config.listen);

	let (shutdown_tx, shutdown_rx) = watch::channel(false);
	let server = tokio::spawn(http::serve(listener, sidecar.clone(), shutdown_rx));
	let (link, connector) = NodeLink::new(config.node_url.clone());
	let mut chain_tasks =
		vec![tokio::spawn(connector.run()), tokio::spawn(follow_chain(link.clone(), chain))];
	if let Some(pair) = relayer {
		let policy = SettlePolicy {
			min_seconds: config.min_settle_seconds,
			tail_blocks: config.settle_tail_blocks,
		};
		let relay =
			Relay::new(link, store, pair, config.settle_every_blocks, policy, metrics.clone());
		chain_tasks.push(tokio::spawn(relay.run()));
	}

	let reloads = tokio::spawn(reload_on_hangup(sidecar.clone()));
	wait_for_signal().await;
	reloads.abort();
	tracing::info!("shutting down");
	let _ = shutdown_tx.send(true);
	for task in chain_tasks {
		task.abort();
	}
	let _ = server.await;
	let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
	while metrics.connections.get() > 0 && tokio::time::Instant::now() < deadline {
		tokio::time::sleep(Duration::from_millis(50)).await;
	}
	for task in background {
		task.abort();
	}
	releases.abort();
	removals.abort();
	media.shutdown();
	// Every acknowledged heartbeat is already committed; nothing else needs flushing.
	tracing::info!("stopped");
	Ok(())
}

/// Keep the chain view following the node's best heads, on whichever connection the link has.
async fn follow_chain(link: NodeLink, chain: ChainView) {
	loop {
		let client = link.connected().await;
		match chain.attach(client.clone()) {
			Ok(()) => {
				if let Err(e) = chain.follow(&client).await {
					tracing::warn!("following the chain failed: {e}");
				}
				chain.detach();
			},
			Err(e) => {
				tracing::error!("{e}");
				client.disconnected().await;
			},
		}
		if client.is_connected() {
			// The subscription ended on a live connection: again, but not in a tight loop.
			tokio::time::sleep(Duration::from_secs(1)).await;
		}
	}
}

/// On SIGHUP, read the configuration again (flags, environment, file) and apply what can
/// change while running: the edges allowed to pull (`--edge-account`). A configuration that
/// does not load changes nothing.
async fn reload_on_hangup(sidecar: Sidecar) {
	#[cfg(unix)]
	{
		use tokio::signal::unix::{signal, SignalKind};
		let Ok(mut hangups) = signal(SignalKind::hangup()) else {
			tracing::warn!("cannot listen for SIGHUP: the edge list is fixed");
			return;
		};
		while hangups.recv().await.is_some() {
			match Config::load() {
				Ok(config) => {
					sidecar.edges.replace(config.edge_accounts);
					tracing::info!(edges = sidecar.edges.len(), "SIGHUP: edge accounts re-read");
				},
				Err(e) => tracing::error!("SIGHUP: the configuration does not load, kept: {e}"),
			}
		}
	}
	#[cfg(not(unix))]
	let _ = sidecar;
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
