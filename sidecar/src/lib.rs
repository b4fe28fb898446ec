//! # Vilokanam sidecar
//!
//! The control plane browsers and OBS talk to, and the bridge between live media and the chain.
//! It is kept in layers, each rule written once:
//!
//! | layer | modules | job |
//! |---|---|---|
//! | transport | [`transport`] | HTTP ([`transport::http`]): the WebSocket ([`transport::ws`], messages in [`protocol`]), WHIP/WHEP ([`transport::whip`]), `POST /vouchers` and `/close` ([`transport::vouchers`]), the pages ([`transport::web`]) |
//! | access | [`access`] | who is who ([`access::identity`], bearer [`access::tokens`]), who may publish and watch ([`access::rights`]), rate limits ([`access::rate`]) |
//! | rooms | [`rooms`] | one room per stream: signaling, chat, revocations, stats |
//! | billing | [`billing`] | heartbeat vouchers verified and stored ([`billing::heartbeat`]), close intents ([`billing::close_intent`]), settlement on chain ([`billing::relay`]) |
//! | media | crate `vilokanam-sfu` ([`MediaServer`]) | the SFU, sans-IO core and driver; rights reach it as gates ([`access::rights`]) |
//! | chain | [`chain`] | what the sidecar knows of chain state ([`chain::view`]) |
//!
//! Beside them: the durable [`store`] (SQLite), [`metrics`], [`config`] and the [`clock`].
//!
//! Data flow of a heartbeat: connection task → checks against the cached session (atomics) →
//! batch signature verification thread → store writer thread (group commit) → ack; the relay
//! then settles acknowledged vouchers in batches and, as a stream's relayer, closes the
//! sessions its viewers asked to close (their *releases*).

#![deny(missing_docs)]

pub mod access;
pub mod billing;
pub mod chain;
pub mod clock;
pub mod config;
pub mod metrics;
pub mod protocol;
pub mod rooms;
pub mod store;
pub mod transport;

use std::{path::PathBuf, sync::Arc, time::Duration};

pub use access::tokens::Tokens;
pub use billing::heartbeat::Heartbeats;
pub use chain::view::ChainView;
pub use metrics::Metrics;
pub use rooms::Rooms;
pub use store::Store;
pub use vilokanam_sfu::MediaServer;

/// How often rooms get `stats`.
pub const STATS_PERIOD: Duration = Duration::from_secs(1);

/// Limits and tuning that apply to every connection.
#[derive(Clone, Debug)]
pub struct Settings {
	/// Largest accepted WebSocket message, in bytes.
	pub max_message_bytes: usize,
	/// Chat messages per 10 seconds per account.
	pub chat_rate: u32,
	/// Seconds a heartbeat may run ahead of the time elapsed since its session opened.
	pub elapsed_grace_secs: u64,
	/// Signature verification threads (0: half the CPUs, at least one).
	pub verifier_threads: usize,
	/// A viewer's media pauses when its last acknowledged voucher is this old.
	pub voucher_grace: Duration,
	/// This sidecar's origins, the audiences its challenges name (see
	/// [`access::identity`]); the first is named when a client's `Host` matches none.
	pub audiences: Arc<[String]>,
	/// How long a publish (WHIP) token is valid once issued.
	pub publish_token_ttl: Duration,
	/// Connections and costly requests per client address.
	pub limits: access::admission::Limits,
	/// How long a client may take to send a request's headers, and then its body.
	pub http_timeout: Duration,
	/// How long without a new block heartbeats are still acknowledged.
	pub ack_without_chain: Duration,
	/// The lowest price per second of a stream this sidecar serves ([`access::terms`]).
	pub min_price_per_second: vilokanam_chain_client::Balance,
	/// The lowest share of a stream's revenue its split must give the relayer
	/// ([`access::terms`]).
	pub min_relayer_share: sp_runtime::Permill,
	/// The fewest new seconds a voucher must settle to be put in a batch ([`access::terms`]).
	pub min_settle_seconds: u64,
}

impl Settings {
	/// The audience a challenge names for a client that sent `host` (its `Host` header): the
	/// origin of that name when it is one of ours, else our main one. A client can only choose
	/// among our own names, so whatever it signs binds it to this sidecar.
	pub fn audience_for(&self, host: Option<&str>) -> &str {
		let main = self.audiences.first().map(String::as_str).unwrap_or_default();
		let Some(host) = host.map(str::trim) else { return main };
		self.audiences
			.iter()
			.find(|a| {
				a.split_once("://")
					.is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
			})
			.map_or(main, String::as_str)
	}
}

impl Default for Settings {
	fn default() -> Self {
		Self {
			max_message_bytes: config::DEFAULT_MAX_MESSAGE_BYTES,
			chat_rate: config::DEFAULT_CHAT_RATE,
			elapsed_grace_secs: config::DEFAULT_ELAPSED_GRACE_SECS,
			verifier_threads: 0,
			voucher_grace: Duration::from_millis(config::DEFAULT_VOUCHER_GRACE_MS),
			audiences: Arc::from(["http://127.0.0.1:7070".to_owned()]),
			publish_token_ttl: Duration::from_secs(config::DEFAULT_PUBLISH_TOKEN_TTL_SECS),
			limits: access::admission::Limits::default(),
			http_timeout: Duration::from_secs(10),
			ack_without_chain: Duration::from_secs(config::DEFAULT_ACK_WITHOUT_CHAIN_SECS),
			min_price_per_second: 0,
			min_relayer_share: sp_runtime::Permill::zero(),
			min_settle_seconds: 1,
		}
	}
}

/// What the web pages are told (`GET /config.json`) and where they are.
#[derive(Clone, Debug, Default)]
pub struct WebSettings {
	/// The built pages (`web/dist`); `None`: not served.
	pub dir: Option<PathBuf>,
	/// The node's WebSocket URL, as the browser should use it.
	pub node_url: String,
	/// Whether to offer the well-known development accounts.
	pub dev_accounts: bool,
	/// The edges' WebSocket URLs, for the creator page to register after this sidecar's own.
	pub edge_urls: Vec<String>,
}

/// Everything a connection needs. Cheap to clone.
#[derive(Clone)]
pub struct Sidecar {
	/// Chain state.
	pub chain: ChainView,
	/// The database.
	pub store: Store,
	/// The rooms.
	pub rooms: Rooms,
	/// The heartbeat pipeline.
	pub heartbeats: Heartbeats,
	/// Metrics.
	pub metrics: Metrics,
	/// Limits and tuning.
	pub settings: Settings,
	/// The SFU, when running.
	pub media: Option<MediaServer>,
	/// WHIP/WHEP bearer tokens.
	pub tokens: Tokens,
	/// The web pages.
	pub web: Arc<WebSettings>,
	/// Live WHIP/WHEP sessions.
	pub whip: Arc<transport::whip::Resources>,
	/// The relayer account this sidecar settles with, if it has one: creators name it as
	/// their streams' relayer (the pages read it from `/config.json`).
	pub relayer: Option<vilokanam_chain_client::AccountId>,
	/// Connections and costly requests admitted, per client address.
	pub door: access::admission::Door,
	/// The streams it serves: those naming [`Sidecar::relayer`], on the operator's terms.
	pub terms: access::terms::Terms,
	/// The TURN servers members get credentials for, if any.
	pub turn: Option<access::turn::TurnIssuer>,
	/// The edge sidecars that may pull streams from this one (`POST /edge/…`).
	pub edges: Arc<access::edge::EdgeAccounts>,
	/// At an edge: the origin it pulls its streams from.
	pub upstream: Option<Arc<rooms::upstream::Upstream>>,
	/// What each replay session has been sent.
	pub replays: Arc<billing::pacing::ReplayMeters>,
}

impl Sidecar {
	/// Assemble the services (starts the verifier threads).
	pub fn new(chain: ChainView, store: Store, metrics: Metrics, settings: Settings) -> Self {
		// Batch verification makes one thread enough for tens of thousands of heartbeats per
		// second; the rest of the cores serve the connections.
		let threads = match settings.verifier_threads {
			0 => std::thread::available_parallelism().map(|n| n.get() / 2).unwrap_or(1).max(1),
			n => n,
		};
		let heartbeats = Heartbeats::new(store.clone(), settings.elapsed_grace_secs, threads)
			.watching(chain.clone(), settings.ack_without_chain);
		let rooms = Rooms::new(store.clone(), chain.clone(), metrics.clone(), settings.chat_rate);
		let door = access::admission::Door::new(settings.limits);
		let settings_terms = (
			settings.min_price_per_second,
			settings.min_relayer_share,
			settings.min_settle_seconds,
		);
		Self {
			chain,
			store,
			rooms,
			heartbeats,
			metrics,
			settings,
			media: None,
			tokens: Tokens::ephemeral(),
			web: Arc::new(WebSettings::default()),
			whip: Arc::default(),
			turn: None,
			relayer: None,
			door,
			terms: access::terms::Terms {
				relayer: None,
				min_price_per_second: settings_terms.0,
				min_relayer_share: settings_terms.1,
				min_settle_seconds: settings_terms.2,
				serve_for: Vec::new(),
			},
			edges: Arc::default(),
			upstream: None,
			replays: Default::default(),
		}
	}

	/// With the edge sidecars (their relayer accounts) that may pull streams from this one.
	pub fn with_edges(mut self, edges: Vec<vilokanam_chain_client::AccountId>) -> Self {
		self.edges = Arc::new(access::edge::EdgeAccounts::new(edges));
		self
	}

	/// As an edge: serving the streams that name one of `serve_for` (origins' relayer
	/// accounts), pulled from `upstream`.
	pub fn with_origin(
		mut self,
		upstream: rooms::upstream::Upstream,
		serve_for: Vec<vilokanam_chain_client::AccountId>,
	) -> Self {
		self.upstream = Some(Arc::new(upstream));
		self.terms.serve_for = serve_for;
		self
	}

	/// A viewer offered media for `stream`: at an edge, make sure the stream is pulled from
	/// the origin (nothing to do for a stream published here).
	pub fn feed(&self, stream: &chain::view::StreamEntry) {
		let (Some(upstream), Some(media)) = (&self.upstream, &self.media) else { return };
		if let Ok(access::terms::Serving::Edge { .. }) = self.terms.serves(stream) {
			upstream.feed(stream.id, media.clone(), self.chain.clone(), self.metrics.clone());
		}
	}

	/// With the relayer account it settles with.
	pub fn with_relayer(mut self, relayer: vilokanam_chain_client::AccountId) -> Self {
		self.terms.relayer = Some(relayer.clone());
		self.relayer = Some(relayer);
		self
	}

	/// With the SFU and the token secret.
	pub fn with_media(mut self, media: MediaServer, tokens: Tokens) -> Self {
		self.media = Some(media);
		self.tokens = tokens;
		self
	}

	/// With TURN servers for members.
	pub fn with_turn(mut self, turn: access::turn::TurnIssuer) -> Self {
		self.turn = Some(turn);
		self
	}

	/// TURN credentials for `user` (none without TURN servers, or without a user).
	pub fn ice_grant(&self, user: Option<access::turn::TurnUser>) -> access::turn::IceGrant {
		match (&self.turn, user) {
			(Some(turn), Some(user)) => turn.issue(user, clock::unix_secs()),
			_ => access::turn::IceGrant::default(),
		}
	}

	/// With web pages.
	pub fn with_web(mut self, web: WebSettings) -> Self {
		self.web = Arc::new(web);
		self
	}

	/// Spawn the background tasks of the rooms: applying revocations and pushing stats.
	pub fn spawn_background(&self) -> Vec<tokio::task::JoinHandle<()>> {
		vec![
			tokio::spawn(self.rooms.clone().run_revocations(self.chain.subscribe())),
			tokio::spawn(self.rooms.clone().run_stats(STATS_PERIOD)),
		]
	}
}
