//! Configuration: command-line flags, `VILOKANAM_SIDECAR_*` environment variables and an
//! optional TOML file (`--config`). Precedence: file < environment < flags < nothing given
//! (then the defaults below apply).
//!
//! The TOML file uses the flags' names as keys, e.g.
//!
//! ```toml
//! listen = "0.0.0.0:7070"
//! node-url = "ws://127.0.0.1:9944"
//! relayer-key-file = "/etc/vilokanam/relayer.key"
//! settle-every-blocks = 2
//! ```

use clap::Parser;
use serde::Deserialize;
use sp_core::{sr25519, Get, Pair};
use std::{
	net::{IpAddr, SocketAddr},
	path::PathBuf,
	time::Duration,
};

/// Default `--listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";
/// Default `--node-url`.
pub const DEFAULT_NODE_URL: &str = "ws://127.0.0.1:9944";
/// Default `--db`.
pub const DEFAULT_DB: &str = "vilokanam-sidecar.sqlite";
/// Default `--settle-every-blocks`.
pub const DEFAULT_SETTLE_EVERY_BLOCKS: u32 = 2;
/// Six minutes of 6 s blocks: half the runtime's idle timeout, so that a session's last
/// seconds settle (and it closes) well before the off-chain worker would refund them.
pub const DEFAULT_SETTLE_TAIL_BLOCKS: u32 = 60;
/// Default `--max-message-bytes` (16 KiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024;
/// Default `--chat-rate` (messages per 10 s per account).
pub const DEFAULT_CHAT_RATE: u32 = 10;
/// Default `--elapsed-grace-secs` (the runtime's `ElapsedGrace`).
pub const DEFAULT_ELAPSED_GRACE_SECS: u64 = 6;
/// Default `--log`.
pub const DEFAULT_LOG: &str = "info";
/// Default `--media-listen`: the SFU's one UDP port.
pub const DEFAULT_MEDIA_LISTEN: &str = "127.0.0.1:7071";
/// Default `--voucher-grace-ms`: vouchers come every second, so a viewer whose next voucher is
/// this late stops receiving media (within half a second of the missed one).
pub const DEFAULT_VOUCHER_GRACE_MS: u64 = 1_500;
/// Default time heartbeats are still acknowledged without a new block: five minutes, so that
/// with the runtime's twelve-minute idle timeout an outage of up to ten loses nothing
/// acknowledged (see `Heartbeats::watching`).
pub const DEFAULT_ACK_WITHOUT_CHAIN_SECS: u64 = 300;
/// Default quota of the recording directory: 10 GiB.
pub const DEFAULT_RECORD_MAX_BYTES: u64 = 10 << 30;
/// Default lifetime of a publish token: a week, long enough for an OBS profile, short enough
/// that a token leaked and forgotten stops working by itself.
pub const DEFAULT_PUBLISH_TOKEN_TTL_SECS: u64 = 7 * 24 * 3600;

/// The command line (each flag also from its `VILOKANAM_SIDECAR_*` variable).
#[derive(Parser, Debug, Default)]
#[command(
	name = "vilokanam-sidecar",
	version,
	about = "Vilokanam's control plane: signaling, chat and pay-per-second heartbeats"
)]
pub struct Cli {
	/// A TOML file with defaults for the options below (keys are the flag names).
	#[arg(long, env = "VILOKANAM_SIDECAR_CONFIG")]
	pub config: Option<PathBuf>,
	/// Address of the HTTP/WebSocket server [default: 127.0.0.1:7070].
	#[arg(long, env = "VILOKANAM_SIDECAR_LISTEN")]
	pub listen: Option<SocketAddr>,
	/// WebSocket URL of the Vilokanam node [default: ws://127.0.0.1:9944].
	#[arg(long, env = "VILOKANAM_SIDECAR_NODE_URL")]
	pub node_url: Option<String>,
	/// SQLite database path [default: vilokanam-sidecar.sqlite].
	#[arg(long, env = "VILOKANAM_SIDECAR_DB")]
	pub db: Option<PathBuf>,
	/// The relayer's secret URI (e.g. //Ferdie or a mnemonic) that pays for settle_batch.
	#[arg(long, env = "VILOKANAM_SIDECAR_RELAYER_SEED", conflicts_with = "relayer_key_file")]
	pub relayer_seed: Option<String>,
	/// A file containing the relayer's secret URI or seed.
	#[arg(long, env = "VILOKANAM_SIDECAR_RELAYER_KEY_FILE")]
	pub relayer_key_file: Option<PathBuf>,
	/// Submit settle_batch every N best blocks [default: 2].
	#[arg(long, env = "VILOKANAM_SIDECAR_SETTLE_EVERY_BLOCKS")]
	pub settle_every_blocks: Option<u32>,
	/// Largest accepted WebSocket message in bytes [default: 16384].
	#[arg(long, env = "VILOKANAM_SIDECAR_MAX_MESSAGE_BYTES")]
	pub max_message_bytes: Option<usize>,
	/// Chat messages per 10 seconds per account [default: 10].
	#[arg(long, env = "VILOKANAM_SIDECAR_CHAT_RATE")]
	pub chat_rate: Option<u32>,
	/// Seconds a heartbeat may run ahead of the time elapsed since its session opened
	/// [default: 6, as the runtime].
	#[arg(long, env = "VILOKANAM_SIDECAR_ELAPSED_GRACE_SECS")]
	pub elapsed_grace_secs: Option<u64>,
	/// Tracing filter, e.g. `info` or `vilokanam_sidecar=debug` [default: info].
	#[arg(long, env = "VILOKANAM_SIDECAR_LOG")]
	pub log: Option<String>,
	/// UDP address of the media server (WebRTC, ICE-lite) [default: 127.0.0.1:7071].
	#[arg(long, env = "VILOKANAM_SIDECAR_MEDIA_LISTEN")]
	pub media_listen: Option<SocketAddr>,
	/// The IP announced to WebRTC clients, when it differs from --media-listen's (e.g. a
	/// public address in front of 0.0.0.0).
	#[arg(long, env = "VILOKANAM_SIDECAR_MEDIA_PUBLIC_IP")]
	pub media_public_ip: Option<IpAddr>,
	/// A viewer stops receiving media when its last voucher is this old [default: 1500].
	#[arg(long, env = "VILOKANAM_SIDECAR_VOUCHER_GRACE_MS")]
	pub voucher_grace_ms: Option<u64>,
	/// Record publishers' video into this directory (off when unset).
	#[arg(long, env = "VILOKANAM_SIDECAR_RECORD_DIR")]
	pub record_dir: Option<PathBuf>,
	/// The most bytes --record-dir may hold; recording stops there [default: 10 GiB].
	#[arg(long, env = "VILOKANAM_SIDECAR_RECORD_MAX_BYTES")]
	pub record_max_bytes: Option<u64>,
	/// Serve the web pages (the built `web/dist`) from this directory (off when unset).
	#[arg(long, env = "VILOKANAM_SIDECAR_WEB_DIR")]
	pub web_dir: Option<PathBuf>,
	/// The node URL the web pages use [default: --node-url].
	#[arg(long, env = "VILOKANAM_SIDECAR_PUBLIC_NODE_URL")]
	pub public_node_url: Option<String>,
	/// A URL clients reach this sidecar at (e.g. https://sidecar.example.com), as many times
	/// as it has names; logins are bound to it, and pages that connected elsewhere refuse to
	/// sign [default: http://<--listen>, and http://localhost:<port> on a loopback address].
	#[arg(long = "public-url", env = "VILOKANAM_SIDECAR_PUBLIC_URL", value_delimiter = ',')]
	pub public_urls: Vec<String>,
	/// Seconds a publish (WHIP/OBS) token stays valid once issued [default: 604800, a week].
	#[arg(long, env = "VILOKANAM_SIDECAR_PUBLISH_TOKEN_TTL_SECS")]
	pub publish_token_ttl_secs: Option<u64>,
	/// Seconds without a new block after which heartbeats are refused (chain_unavailable)
	/// instead of acknowledged [default: 300].
	#[arg(long, env = "VILOKANAM_SIDECAR_ACK_WITHOUT_CHAIN_SECS")]
	pub ack_without_chain_secs: Option<u64>,
	/// Serve only streams costing at least this many plancks per second: relaying is paid by
	/// a share of what viewers pay (docs/OPERATORS.md) [default: 0].
	#[arg(long, env = "VILOKANAM_SIDECAR_MIN_PRICE_PER_SECOND")]
	pub min_price_per_second: Option<u64>,
	/// Serve only streams whose split gives the relayer account at least this share of the
	/// creator's part, in parts per million [default: 0].
	#[arg(long, env = "VILOKANAM_SIDECAR_MIN_RELAYER_SHARE_PPM")]
	pub min_relayer_share_ppm: Option<u32>,
	/// Put a session's voucher in a batch only when it settles at least this many new seconds
	/// (the relay's terms: a voucher must pay for its part of the fee) [default: 1].
	#[arg(long, env = "VILOKANAM_SIDECAR_MIN_SETTLE_SECONDS")]
	pub min_settle_seconds: Option<u64>,
	/// Blocks without a settlement after which a session's last seconds below
	/// --min-settle-seconds are settled anyway and the session is closed, before the chain's
	/// idle timeout would refund them unsettled [default: 60].
	#[arg(long, env = "VILOKANAM_SIDECAR_SETTLE_TAIL_BLOCKS")]
	pub settle_tail_blocks: Option<u32>,
	/// Open HTTP/WebSocket connections in all, 0 for no limit [default: 50000].
	#[arg(long, env = "VILOKANAM_SIDECAR_MAX_CONNECTIONS")]
	pub max_connections: Option<usize>,
	/// Open connections per client address (an IPv6 /64), 0 for no limit; raise it behind a
	/// reverse proxy [default: 256].
	#[arg(long, env = "VILOKANAM_SIDECAR_MAX_CONNECTIONS_PER_IP")]
	pub max_connections_per_ip: Option<usize>,
	/// New connections per second per client address (bursts of four seconds' worth), 0 for
	/// no limit [default: 16].
	#[arg(long, env = "VILOKANAM_SIDECAR_CONNECT_RATE_PER_IP")]
	pub connect_rate_per_ip: Option<f64>,
	/// WHIP/WHEP offers, posted vouchers and close intents per second per client address
	/// (bursts of four seconds' worth), 0 for no limit [default: 32].
	#[arg(long, env = "VILOKANAM_SIDECAR_REQUEST_RATE_PER_IP")]
	pub request_rate_per_ip: Option<f64>,
	/// Offer the well-known development accounts in the web pages (dev chains only).
	#[arg(long, env = "VILOKANAM_SIDECAR_DEV_ACCOUNTS")]
	pub dev_accounts: bool,
	/// Answer WebRTC offers as a full ICE agent rather than ICE-lite, for clients that send no
	/// RFC 7675 consent checks while media flows (pion, webrtc-rs).
	#[arg(long, env = "VILOKANAM_SIDECAR_MEDIA_FULL_ICE")]
	pub media_full_ice: bool,
	/// Run the media engine's thread on this CPU only (e.g. a core kept free of other work)
	/// [default: wherever the scheduler puts it].
	#[arg(long, env = "VILOKANAM_SIDECAR_MEDIA_CPU")]
	pub media_cpu: Option<usize>,
	/// Start a new viewer on the packets since the publisher's last keyframe while it is at
	/// most this many milliseconds old, rather than ask for a fresh keyframe: a faster first
	/// frame, played up to this much behind; 0 always asks [default: 1000].
	#[arg(long, env = "VILOKANAM_SIDECAR_KEYFRAME_CACHE_MS")]
	pub keyframe_cache_ms: Option<u64>,
	/// A TURN server's URL handed to members with a credential, as many times as it has
	/// (e.g. `turn:turn.example.com:3478?transport=udp,turn:turn.example.com:3478?transport=tcp`);
	/// needs --turn-secret-file [default: no TURN].
	#[arg(long = "turn-url", env = "VILOKANAM_SIDECAR_TURN_URL", value_delimiter = ',')]
	pub turn_urls: Vec<String>,
	/// A file holding the secret shared with the TURN server (coturn's `static-auth-secret`).
	#[arg(long, env = "VILOKANAM_SIDECAR_TURN_SECRET_FILE")]
	pub turn_secret_file: Option<PathBuf>,
	/// Seconds a TURN credential stays valid once issued [default: 21600, six hours].
	#[arg(long, env = "VILOKANAM_SIDECAR_TURN_TTL_SECS")]
	pub turn_ttl_secs: Option<u64>,
	/// Run as an edge of this origin sidecar (`http://host[:port]`, as the origin's
	/// --public-url names it): the streams of --serve-for are pulled from there, once per
	/// stream, and served here; needs --serve-for and a relayer key [default: not an edge].
	#[arg(long, env = "VILOKANAM_SIDECAR_ORIGIN_URL")]
	pub origin_url: Option<String>,
	/// The origin's relayer account (SS58), as many times as there are origins: streams that
	/// name it as relayer are served here as an edge (their viewers' vouchers settled by this
	/// sidecar's own key) [default: none].
	#[arg(long = "serve-for", env = "VILOKANAM_SIDECAR_SERVE_FOR", value_delimiter = ',')]
	pub serve_for: Vec<String>,
	/// An edge sidecar's relayer account (SS58) that may pull streams from this one
	/// (`POST /edge/{stream}`), as many times as there are edges [default: none].
	#[arg(long = "edge-account", env = "VILOKANAM_SIDECAR_EDGE_ACCOUNT", value_delimiter = ',')]
	pub edge_accounts: Vec<String>,
	/// An edge's WebSocket URL (`wss://edge.example.com/ws`), as many times as there are
	/// edges: the creator page registers them after this sidecar's own in a stream's
	/// endpoint, and viewers' pages spread over them [default: none].
	#[arg(long = "edge-url", env = "VILOKANAM_SIDECAR_EDGE_URL", value_delimiter = ',')]
	pub edge_urls: Vec<String>,
}

/// The TOML file: the same options, all optional.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
	/// See [`Cli::listen`].
	pub listen: Option<SocketAddr>,
	/// See [`Cli::node_url`].
	pub node_url: Option<String>,
	/// See [`Cli::db`].
	pub db: Option<PathBuf>,
	/// See [`Cli::relayer_seed`].
	pub relayer_seed: Option<String>,
	/// See [`Cli::relayer_key_file`].
	pub relayer_key_file: Option<PathBuf>,
	/// See [`Cli::settle_every_blocks`].
	pub settle_every_blocks: Option<u32>,
	/// See [`Cli::max_message_bytes`].
	pub max_message_bytes: Option<usize>,
	/// See [`Cli::chat_rate`].
	pub chat_rate: Option<u32>,
	/// See [`Cli::elapsed_grace_secs`].
	pub elapsed_grace_secs: Option<u64>,
	/// See [`Cli::log`].
	pub log: Option<String>,
	/// See [`Cli::media_listen`].
	pub media_listen: Option<SocketAddr>,
	/// See [`Cli::media_public_ip`].
	pub media_public_ip: Option<IpAddr>,
	/// See [`Cli::voucher_grace_ms`].
	pub voucher_grace_ms: Option<u64>,
	/// See [`Cli::record_dir`].
	pub record_dir: Option<PathBuf>,
	/// See [`Cli::record_max_bytes`].
	pub record_max_bytes: Option<u64>,
	/// See [`Cli::web_dir`].
	pub web_dir: Option<PathBuf>,
	/// See [`Cli::public_node_url`].
	pub public_node_url: Option<String>,
	/// See [`Cli::public_urls`].
	pub public_url: Option<Vec<String>>,
	/// See [`Cli::publish_token_ttl_secs`].
	pub publish_token_ttl_secs: Option<u64>,
	/// See [`Cli::ack_without_chain_secs`].
	pub ack_without_chain_secs: Option<u64>,
	/// See [`Cli::min_price_per_second`].
	pub min_price_per_second: Option<u64>,
	/// See [`Cli::min_relayer_share_ppm`].
	pub min_relayer_share_ppm: Option<u32>,
	/// See [`Cli::min_settle_seconds`].
	pub min_settle_seconds: Option<u64>,
	/// See [`Cli::settle_tail_blocks`].
	pub settle_tail_blocks: Option<u32>,
	/// See [`Cli::max_connections`].
	pub max_connections: Option<usize>,
	/// See [`Cli::max_connections_per_ip`].
	pub max_connections_per_ip: Option<usize>,
	/// See [`Cli::connect_rate_per_ip`].
	pub connect_rate_per_ip: Option<f64>,
	/// See [`Cli::request_rate_per_ip`].
	pub request_rate_per_ip: Option<f64>,
	/// See [`Cli::dev_accounts`].
	pub dev_accounts: Option<bool>,
	/// See [`Cli::media_full_ice`].
	pub media_full_ice: Option<bool>,
	/// See [`Cli::media_cpu`].
	pub media_cpu: Option<usize>,
	/// See [`Cli::keyframe_cache_ms`].
	pub keyframe_cache_ms: Option<u64>,
	/// See [`Cli::turn_urls`].
	pub turn_url: Option<Vec<String>>,
	/// See [`Cli::turn_secret_file`].
	pub turn_secret_file: Option<PathBuf>,
	/// See [`Cli::turn_ttl_secs`].
	pub turn_ttl_secs: Option<u64>,
	/// See [`Cli::origin_url`].
	pub origin_url: Option<String>,
	/// See [`Cli::serve_for`].
	pub serve_for: Option<Vec<String>>,
	/// See [`Cli::edge_accounts`].
	pub edge_account: Option<Vec<String>>,
	/// See [`Cli::edge_urls`].
	pub edge_url: Option<Vec<String>>,
}

/// Where the relayer key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum RelayerKey {
	/// A secret URI.
	Seed(String),
	/// A file containing one.
	File(PathBuf),
}

impl std::fmt::Debug for RelayerKey {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			// Never log secrets.
			Self::Seed(_) => f.write_str("Seed(<redacted>)"),
			Self::File(p) => f.debug_tuple("File").field(p).finish(),
		}
	}
}

/// The effective configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
	/// HTTP/WebSocket listen address.
	pub listen: SocketAddr,
	/// Node WebSocket URL.
	pub node_url: String,
	/// SQLite path.
	pub db: PathBuf,
	/// The relayer key; without one, vouchers are stored but not settled.
	pub relayer: Option<RelayerKey>,
	/// Settle every N best blocks (at least 1).
	pub settle_every_blocks: u32,
	/// Largest accepted WebSocket message in bytes.
	pub max_message_bytes: usize,
	/// Chat messages per 10 s per account.
	pub chat_rate: u32,
	/// Heartbeat clock grace, seconds.
	pub elapsed_grace_secs: u64,
	/// Tracing filter.
	pub log: String,
	/// The SFU's UDP address.
	pub media_listen: SocketAddr,
	/// The IP announced to WebRTC clients.
	pub media_public_ip: Option<IpAddr>,
	/// How old a viewer's last voucher may be for its media to flow, milliseconds.
	pub voucher_grace_ms: u64,
	/// Where publishers' video is recorded, if anywhere.
	pub record_dir: Option<PathBuf>,
	/// The most bytes that directory may hold.
	pub record_max_bytes: u64,
	/// Where the web pages are, if served.
	pub web_dir: Option<PathBuf>,
	/// The node URL the web pages use.
	pub public_node_url: String,
	/// This sidecar's origins (login audiences), the first one its main name.
	pub audiences: Vec<String>,
	/// How long a publish token is valid, seconds.
	pub publish_token_ttl_secs: u64,
	/// Connections and costly requests per client address.
	pub limits: crate::access::admission::Limits,
	/// Seconds without a new block after which heartbeats are refused.
	pub ack_without_chain_secs: u64,
	/// See [`Cli::min_price_per_second`].
	pub min_price_per_second: u64,
	/// See [`Cli::min_relayer_share_ppm`].
	pub min_relayer_share_ppm: u32,
	/// See [`Cli::min_settle_seconds`].
	pub min_settle_seconds: u64,
	/// See [`Cli::settle_tail_blocks`].
	pub settle_tail_blocks: u32,
	/// Whether the audiences were derived from an unspecified listen address (then browsers
	/// elsewhere cannot log in: `--public-url` is needed).
	pub audiences_guessed: bool,
	/// Whether the web pages offer the development accounts.
	pub dev_accounts: bool,
	/// Full ICE instead of ICE-lite for media.
	pub media_full_ice: bool,
	/// The CPU the media engine runs on, if pinned.
	pub media_cpu: Option<usize>,
	/// See [`vilokanam_sfu::MediaConfig::keyframe_cache`].
	pub keyframe_cache: Duration,
	/// TURN servers handed to members, if any.
	pub turn: Option<TurnConfig>,
	/// See [`Cli::origin_url`].
	pub origin_url: Option<String>,
	/// See [`Cli::serve_for`].
	pub serve_for: Vec<vilokanam_chain_client::AccountId>,
	/// See [`Cli::edge_accounts`].
	pub edge_accounts: Vec<vilokanam_chain_client::AccountId>,
	/// See [`Cli::edge_urls`].
	pub edge_urls: Vec<String>,
}

/// The TURN servers handed to members, and the secret their credentials are derived from.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnConfig {
	/// The servers' `turn:` URLs.
	pub urls: Vec<String>,
	/// The file holding the shared secret.
	pub secret_file: PathBuf,
	/// A credential's lifetime, seconds.
	pub ttl_secs: u64,
}

impl TurnConfig {
	/// The issuer (reads the secret).
	pub fn issuer(&self) -> Result<crate::access::turn::TurnIssuer, ConfigError> {
		crate::access::turn::TurnIssuer::from_file(
			self.urls.clone(),
			&self.secret_file,
			self.ttl_secs,
		)
		.map_err(ConfigError::Turn)
	}
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
	/// The file cannot be read.
	#[error("cannot read {0}: {1}")]
	Read(PathBuf, std::io::Error),
	/// The file is not valid TOML of the expected shape.
	#[error("invalid config file {0}: {1}")]
	Toml(PathBuf, toml::de::Error),
	/// Both a relayer seed and a key file were given.
	#[error("give either relayer-seed or relayer-key-file, not both")]
	TwoRelayerKeys,
	/// An out-of-range value.
	#[error("{0}")]
	Invalid(&'static str),
	/// The relayer key does not parse.
	#[error("invalid relayer key: {0}")]
	Key(String),
	/// A public URL is not an http(s) or ws(s) URL.
	#[error("invalid public-url {0}")]
	PublicUrl(String),
	/// An account (serve-for, edge-account) is neither SS58 nor `0x` hex.
	#[error("invalid account {0}: expected SS58 or 0x and 64 hex digits")]
	Account(String),
	/// The TURN settings are unusable.
	#[error("{0}")]
	Turn(crate::access::turn::TurnConfigError),
}

/// The accounts given on the command line, or else in the file (SS58 or `0x` hex).
fn accounts(
	cli: Vec<String>,
	file: Option<Vec<String>>,
) -> Result<Vec<vilokanam_chain_client::AccountId>, ConfigError> {
	let given = if cli.is_empty() { file.unwrap_or_default() } else { cli };
	given
		.iter()
		.map(|a| {
			crate::protocol::parse_account(a.trim()).ok_or_else(|| ConfigError::Account(a.clone()))
		})
		.collect()
}

/// Where clients reach a sidecar that was not told (`--public-url`): its listen address (the
/// loopback one for an unspecified address), and `localhost` beside a loopback one.
fn default_public_urls(listen: SocketAddr) -> Vec<String> {
	let port = listen.port();
	let ip = match listen.ip() {
		ip if ip.is_unspecified() && ip.is_ipv4() => IpAddr::from([127, 0, 0, 1]),
		ip if ip.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
		ip => ip,
	};
	let mut urls = vec![format!("http://{}", SocketAddr::new(ip, port))];
	if ip.is_loopback() {
		urls.push(format!("http://localhost:{port}"));
	}
	urls
}

impl Config {
	/// Parse the command line and environment, then merge the file they name.
	pub fn load() -> Result<Self, ConfigError> {
		let cli = Cli::parse();
		let file = match &cli.config {
			Some(path) => {
				let text = std::fs::read_to_string(path)
					.map_err(|e| ConfigError::Read(path.clone(), e))?;
				toml::from_str(&text).map_err(|e| ConfigError::Toml(path.clone(), e))?
			},
			None => FileConfig::default(),
		};
		Self::merge(cli, file)
	}

	/// Merge flags and environment (`cli`) over the file over the defaults.
	pub fn merge(cli: Cli, file: FileConfig) -> Result<Self, ConfigError> {
		let relayer = match (cli.relayer_seed, cli.relayer_key_file) {
			(Some(_), Some(_)) => return Err(ConfigError::TwoRelayerKeys),
			(Some(s), None) => Some(RelayerKey::Seed(s)),
			(None, Some(p)) => Some(RelayerKey::File(p)),
			(None, None) => match (file.relayer_seed, file.relayer_key_file) {
				(Some(_), Some(_)) => return Err(ConfigError::TwoRelayerKeys),
				(Some(s), None) => Some(RelayerKey::Seed(s)),
				(None, Some(p)) => Some(RelayerKey::File(p)),
				(None, None) => None,
			},
		};
		let default_listen = SocketAddr::from(([127, 0, 0, 1], 7070));
		let config = Config {
			listen: cli.listen.or(file.listen).unwrap_or(default_listen),
			node_url: cli.node_url.or(file.node_url).unwrap_or_else(|| DEFAULT_NODE_URL.into()),
			db: cli.db.or(file.db).unwrap_or_else(|| DEFAULT_DB.into()),
			relayer,
			settle_every_blocks: cli
				.settle_every_blocks
				.or(file.settle_every_blocks)
				.unwrap_or(DEFAULT_SETTLE_EVERY_BLOCKS),
			max_message_bytes: cli
				.max_message_bytes
				.or(file.max_message_bytes)
				.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES),
			chat_rate: cli.chat_rate.or(file.chat_rate).unwrap_or(DEFAULT_CHAT_RATE),
			elapsed_grace_secs: cli
				.elapsed_grace_secs
				.or(file.elapsed_grace_secs)
				.unwrap_or(DEFAULT_ELAPSED_GRACE_SECS),
			log: cli.log.or(file.log).unwrap_or_else(|| DEFAULT_LOG.into()),
			media_listen: cli
				.media_listen
				.or(file.media_listen)
				.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7071))),
			media_public_ip: cli.media_public_ip.or(file.media_public_ip),
			voucher_grace_ms: cli
				.voucher_grace_ms
				.or(file.voucher_grace_ms)
				.unwrap_or(DEFAULT_VOUCHER_GRACE_MS),
			record_dir: cli.record_dir.or(file.record_dir),
			record_max_bytes: cli
				.record_max_bytes
				.or(file.record_max_bytes)
				.unwrap_or(DEFAULT_RECORD_MAX_BYTES),
			web_dir: cli.web_dir.or(file.web_dir),
			public_node_url: String::new(),
			audiences: Vec::new(),
			audiences_guessed: false,
			publish_token_ttl_secs: cli
				.publish_token_ttl_secs
				.or(file.publish_token_ttl_secs)
				.unwrap_or(DEFAULT_PUBLISH_TOKEN_TTL_SECS),
			ack_without_chain_secs: cli
				.ack_without_chain_secs
				.or(file.ack_without_chain_secs)
				.unwrap_or(DEFAULT_ACK_WITHOUT_CHAIN_SECS),
			min_price_per_second: cli
				.min_price_per_second
				.or(file.min_price_per_second)
				.unwrap_or(0),
			min_relayer_share_ppm: cli
				.min_relayer_share_ppm
				.or(file.min_relayer_share_ppm)
				.unwrap_or(0),
			min_settle_seconds: cli.min_settle_seconds.or(file.min_settle_seconds).unwrap_or(1),
			settle_tail_blocks: cli
				.settle_tail_blocks
				.or(file.settle_tail_blocks)
				.unwrap_or(DEFAULT_SETTLE_TAIL_BLOCKS),
			limits: {
				let d = crate::access::admission::Limits::default();
				crate::access::admission::Limits::new(
					cli.max_connections.or(file.max_connections).unwrap_or(d.max_connections),
					cli.max_connections_per_ip
						.or(file.max_connections_per_ip)
						.unwrap_or(d.max_per_ip),
					cli.connect_rate_per_ip
						.or(file.connect_rate_per_ip)
						.unwrap_or(d.connect_per_sec),
					cli.request_rate_per_ip
						.or(file.request_rate_per_ip)
						.unwrap_or(d.request_per_sec),
				)
			},
			dev_accounts: cli.dev_accounts || file.dev_accounts.unwrap_or(false),
			media_full_ice: cli.media_full_ice || file.media_full_ice.unwrap_or(false),
			media_cpu: cli.media_cpu.or(file.media_cpu),
			keyframe_cache: cli
				.keyframe_cache_ms
				.or(file.keyframe_cache_ms)
				.map_or(vilokanam_sfu::DEFAULT_KEYFRAME_CACHE, Duration::from_millis),
			turn: None,
			origin_url: cli.origin_url.or(file.origin_url),
			serve_for: accounts(cli.serve_for, file.serve_for)?,
			edge_accounts: accounts(cli.edge_accounts, file.edge_account)?,
			edge_urls: if cli.edge_urls.is_empty() {
				file.edge_url.unwrap_or_default()
			} else {
				cli.edge_urls
			},
		};
		let mut config = config;
		config.public_node_url =
			cli.public_node_url.or(file.public_node_url).unwrap_or_else(|| config.node_url.clone());
		let urls = match (cli.public_urls, file.public_url) {
			(cli, _) if !cli.is_empty() => cli,
			(_, Some(file)) if !file.is_empty() => file,
			_ => {
				config.audiences_guessed = config.listen.ip().is_unspecified();
				default_public_urls(config.listen)
			},
		};
		for url in urls {
			let audience =
				crate::access::identity::audience_of(&url).map_err(ConfigError::PublicUrl)?;
			if !config.audiences.contains(&audience) {
				config.audiences.push(audience);
			}
		}
		let turn_urls = match (cli.turn_urls, file.turn_url) {
			(cli, _) if !cli.is_empty() => cli,
			(_, Some(file)) => file,
			_ => Vec::new(),
		};
		let turn_secret_file = cli.turn_secret_file.or(file.turn_secret_file);
		let turn_ttl_secs = cli
			.turn_ttl_secs
			.or(file.turn_ttl_secs)
			.unwrap_or(crate::access::turn::DEFAULT_TTL_SECS);
		config.turn = match (turn_urls.is_empty(), turn_secret_file) {
			(true, None) => None,
			(false, Some(secret_file)) => {
				let turn = TurnConfig { urls: turn_urls, secret_file, ttl_secs: turn_ttl_secs };
				// Checked now, so that a bad URL, secret or lifetime stops the start.
				turn.issuer()?;
				Some(turn)
			},
			(true, Some(_)) => {
				return Err(ConfigError::Invalid("turn-secret-file needs at least one turn-url"))
			},
			(false, None) => return Err(ConfigError::Invalid("turn-url needs turn-secret-file")),
		};
		match (&config.origin_url, config.serve_for.is_empty(), &config.relayer) {
			(None, true, _) => {},
			(Some(url), false, Some(_)) => {
				crate::rooms::upstream::Upstream::check_url(url)
					.map_err(|_| ConfigError::Invalid("origin-url must be http://host[:port]"))?;
			},
			(Some(_), false, None) => {
				return Err(ConfigError::Invalid(
					"an edge (origin-url) needs a relayer key: it settles its viewers' vouchers",
				))
			},
			_ => return Err(ConfigError::Invalid("origin-url and serve-for go together")),
		}
		let is_ws = |u: &String| {
			url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "ws" | "wss") && u.has_host())
		};
		if !config.edge_urls.iter().all(is_ws) {
			return Err(ConfigError::Invalid("edge-url must be ws:// or wss:// URLs"));
		}
		if config.settle_every_blocks == 0 {
			return Err(ConfigError::Invalid("settle-every-blocks must be at least 1"));
		}
		let rate_ok = |r: f64| r.is_finite() && r >= 0.0;
		if !rate_ok(config.limits.connect_per_sec) || !rate_ok(config.limits.request_per_sec) {
			return Err(ConfigError::Invalid("per-ip rates must be finite and not negative"));
		}
		if config.publish_token_ttl_secs == 0 {
			return Err(ConfigError::Invalid("publish-token-ttl-secs must be at least 1"));
		}
		if config.max_message_bytes < 1024 {
			return Err(ConfigError::Invalid("max-message-bytes must be at least 1024"));
		}
		if config.min_relayer_share_ppm > 1_000_000 {
			return Err(ConfigError::Invalid("min-relayer-share-ppm is at most 1000000"));
		}
		if config.min_settle_seconds == 0 {
			return Err(ConfigError::Invalid("min-settle-seconds must be at least 1"));
		}
		// A tail settled after the chain's idle timeout is lost: the off-chain worker refunds
		// the session first.
		let idle_timeout: u32 =
			<vilokanam_chain_client::Runtime as pallet_ticks::Config>::IdleTimeout::get();
		if config.settle_tail_blocks == 0 || config.settle_tail_blocks > idle_timeout / 2 {
			return Err(ConfigError::Invalid(
				"settle-tail-blocks must be at least 1 and at most half the chain's idle timeout",
			));
		}
		Ok(config)
	}

	/// What is unsafe in how the relayer's secret is given: a seed (a flag shows in the
	/// process list, the environment is inherited by children, a config file is often
	/// shared), or a key file that others than its owner may read.
	pub fn relayer_key_warnings(&self) -> Vec<String> {
		match &self.relayer {
			Some(RelayerKey::Seed(_)) => vec![
				"the relayer's secret is given as relayer-seed (flag, environment or config file): \
				 prefer relayer-key-file, a file only the sidecar's user may read"
					.into(),
			],
			Some(RelayerKey::File(p)) => {
				use std::os::unix::fs::PermissionsExt;
				match std::fs::metadata(p) {
					Ok(m) if m.permissions().mode() & 0o077 != 0 => vec![format!(
						"the relayer key file {} may be read by others than its owner \
						 (mode {:o}): chmod 600 it",
						p.display(),
						m.permissions().mode() & 0o777
					)],
					_ => Vec::new(),
				}
			},
			None => Vec::new(),
		}
	}

	/// The relayer key pair, if configured.
	pub fn relayer_pair(&self) -> Result<Option<sr25519::Pair>, ConfigError> {
		let uri = match &self.relayer {
			None => return Ok(None),
			Some(RelayerKey::Seed(s)) => s.clone(),
			Some(RelayerKey::File(p)) => std::fs::read_to_string(p)
				.map_err(|e| ConfigError::Read(p.clone(), e))?
				.trim()
				.to_owned(),
		};
		sr25519::Pair::from_string(&uri, None)
			.map(Some)
			.map_err(|e| ConfigError::Key(format!("{e:?}")))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn parse(args: &[&str]) -> Cli {
		Cli::try_parse_from(std::iter::once("vilokanam-sidecar").chain(args.iter().copied()))
			.unwrap()
	}

	#[test]
	fn defaults() {
		let c = Config::merge(parse(&[]), FileConfig::default()).unwrap();
		assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
		assert_eq!(c.node_url, DEFAULT_NODE_URL);
		assert_eq!(c.db, PathBuf::from(DEFAULT_DB));
		assert_eq!(c.relayer, None);
		assert_eq!(c.settle_every_blocks, 2);
		assert_eq!((c.min_settle_seconds, c.settle_tail_blocks), (1, 60));
		assert_eq!(c.max_message_bytes, 16 * 1024);
		assert_eq!(c.chat_rate, 10);
		assert_eq!(c.elapsed_grace_secs, 6);
		assert_eq!(c.log, "info");
		assert_eq!(c.media_listen.to_string(), DEFAULT_MEDIA_LISTEN);
		assert_eq!(c.voucher_grace_ms, DEFAULT_VOUCHER_GRACE_MS);
		assert_eq!(c.public_node_url, DEFAULT_NODE_URL);
		assert!(!c.dev_accounts && c.web_dir.is_none() && c.record_dir.is_none());
		assert_eq!(c.media_cpu, None);
		assert_eq!(c.keyframe_cache, vilokanam_sfu::DEFAULT_KEYFRAME_CACHE);
		assert_eq!(c.turn, None);
		assert_eq!(c.audiences, ["http://127.0.0.1:7070", "http://localhost:7070"]);
		assert!(!c.audiences_guessed);
	}

	#[test]
	fn public_urls_are_audiences() {
		let file: FileConfig = toml::from_str(
			r#"
			listen = "0.0.0.0:8000"
			public-url = ["wss://Sidecar.Example/ws"]
			"#,
		)
		.unwrap();
		let c = Config::merge(parse(&[]), file).unwrap();
		assert_eq!(c.audiences, ["https://sidecar.example"]);
		// Flags win; a comma-separated environment value or repeated flags give several.
		let c = Config::merge(
			parse(&[
				"--public-url",
				"https://a.example:8443,http://b.example",
				"--public-url",
				"ws://b.example:80",
			]),
			FileConfig::default(),
		)
		.unwrap();
		assert_eq!(c.audiences, ["https://a.example:8443", "http://b.example"]);
		// Without one, an unspecified listen address gives loopback names and a warning flag.
		let c = Config::merge(parse(&["--listen", "0.0.0.0:9000"]), FileConfig::default()).unwrap();
		assert_eq!(c.audiences, ["http://127.0.0.1:9000", "http://localhost:9000"]);
		assert!(c.audiences_guessed);
		let c =
			Config::merge(parse(&["--listen", "10.0.0.5:9000"]), FileConfig::default()).unwrap();
		assert_eq!(c.audiences, ["http://10.0.0.5:9000"]);
		for bad in ["sidecar.example", "ftp://sidecar.example"] {
			let e = Config::merge(parse(&["--public-url", bad]), FileConfig::default());
			assert!(matches!(e, Err(ConfigError::PublicUrl(_))), "{bad}");
		}
	}

	#[test]
	fn door_limits() {
		let c = Config::merge(parse(&[]), FileConfig::default()).unwrap();
		assert_eq!(c.limits, crate::access::admission::Limits::default());
		let c = Config::merge(
			parse(&["--max-connections-per-ip", "0", "--request-rate-per-ip", "2"]),
			FileConfig::default(),
		)
		.unwrap();
		assert_eq!(
			(c.limits.max_per_ip, c.limits.request_per_sec, c.limits.request_burst),
			(0, 2.0, 8.0)
		);
		for bad in ["-1", "NaN", "inf"] {
			let flag = format!("--connect-rate-per-ip={bad}");
			let e = Config::merge(parse(&[flag.as_str()]), FileConfig::default());
			assert!(matches!(e, Err(ConfigError::Invalid(_))), "{bad}");
		}
		let e =
			Config::merge(parse(&["--min-relayer-share-ppm", "1000001"]), FileConfig::default());
		assert!(matches!(e, Err(ConfigError::Invalid(_))));
	}

	#[test]
	fn flags_override_file() {
		let file: FileConfig = toml::from_str(
			r#"
			listen = "0.0.0.0:8000"
			node-url = "ws://node:9944"
			chat-rate = 3
			relayer-seed = "//Ferdie"
			media-cpu = 1
			keyframe-cache-ms = 250
			"#,
		)
		.unwrap();
		let c = Config::merge(parse(&["--chat-rate", "5", "--db", "/tmp/x.sqlite"]), file).unwrap();
		assert_eq!(c.media_cpu, Some(1));
		assert_eq!(c.keyframe_cache, Duration::from_millis(250));
		assert_eq!(c.listen.to_string(), "0.0.0.0:8000");
		assert_eq!(c.node_url, "ws://node:9944");
		assert_eq!(c.chat_rate, 5);
		assert_eq!(c.db, PathBuf::from("/tmp/x.sqlite"));
		assert_eq!(c.relayer, Some(RelayerKey::Seed("//Ferdie".into())));
		assert!(c.relayer_pair().unwrap().is_some());
		assert!(!format!("{c:?}").contains("Ferdie"));
	}

	#[test]
	fn relayer_from_key_file() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("key");
		std::fs::write(&path, "//Ferdie\n").unwrap();
		let c = Config::merge(
			parse(&["--relayer-key-file", path.to_str().unwrap()]),
			FileConfig::default(),
		)
		.unwrap();
		let ferdie = sr25519::Pair::from_string("//Ferdie", None).unwrap();
		assert_eq!(c.relayer_pair().unwrap().unwrap().public(), ferdie.public());
	}

	#[test]
	fn a_seed_and_a_readable_key_file_are_warned_of() {
		use std::os::unix::fs::PermissionsExt;
		let mut c =
			Config::merge(parse(&["--relayer-seed", "//Ferdie"]), FileConfig::default()).unwrap();
		assert_eq!(c.relayer_key_warnings().len(), 1, "a seed");
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("relayer.key");
		std::fs::write(&path, "//Ferdie").unwrap();
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
		c.relayer = Some(RelayerKey::File(path.clone()));
		assert_eq!(c.relayer_key_warnings().len(), 1, "readable by others");
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
		assert!(c.relayer_key_warnings().is_empty(), "the owner's alone");
	}

	#[test]
	fn turn_servers() {
		let dir = tempfile::tempdir().unwrap();
		let secret = dir.path().join("turn-secret");
		std::fs::write(&secret, "00112233445566778899aabbccddeeff\n").unwrap();
		let secret_arg = secret.to_str().unwrap();
		let urls = "turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp";
		let c = Config::merge(
			parse(&["--turn-url", urls, "--turn-secret-file", secret_arg]),
			FileConfig::default(),
		)
		.unwrap();
		let turn = c.turn.clone().unwrap();
		assert_eq!(turn.urls.len(), 2);
		assert_eq!(turn.ttl_secs, crate::access::turn::DEFAULT_TTL_SECS);
		let grant = turn.issuer().unwrap().issue(crate::access::turn::TurnUser::Session(3), 10);
		assert_eq!(grant.expires_at, Some(10 + 6 * 3600));
		// From the file, with a lifetime.
		let file: FileConfig = toml::from_str(&format!(
			"turn-url = [\"turns:turn.example:443?transport=tcp\"]\nturn-secret-file = \
			 \"{secret_arg}\"\nturn-ttl-secs = 60"
		))
		.unwrap();
		let c = Config::merge(parse(&[]), file).unwrap();
		assert_eq!(c.turn.unwrap().ttl_secs, 60);
		// Half a configuration, a bad URL, a bad secret, a zero lifetime: refused at start.
		std::fs::write(dir.path().join("short"), "abc").unwrap();
		let short = dir.path().join("short");
		for args in [
			vec!["--turn-url", urls],
			vec!["--turn-secret-file", secret_arg],
			vec!["--turn-url", "stun:127.0.0.1:3478", "--turn-secret-file", secret_arg],
			vec!["--turn-url", urls, "--turn-secret-file", short.to_str().unwrap()],
			vec!["--turn-url", urls, "--turn-secret-file", "/nonexistent/secret"],
			vec!["--turn-url", urls, "--turn-secret-file", secret_arg, "--turn-ttl-secs", "0"],
		] {
			assert!(Config::merge(parse(&args), FileConfig::default()).is_err(), "{args:?}");
		}
	}

	#[test]
	fn origins_and_edges() {
		let ferdie = "5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL";
		let charlie = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";
		// An origin lists its edges' accounts and URLs.
		let c = Config::merge(
			parse(&["--edge-account", charlie, "--edge-url", "wss://edge.example/ws"]),
			FileConfig::default(),
		)
		.unwrap();
		assert_eq!(c.edge_accounts.len(), 1);
		assert_eq!(c.edge_urls, ["wss://edge.example/ws"]);
		// An edge names its origin and whose streams it serves, and has a key to settle with.
		let edge = ["--relayer-seed", "//Charlie", "--origin-url", "http://10.0.0.1:7070"];
		let c = Config::merge(
			parse(&[&edge[..], &["--serve-for", ferdie]].concat()),
			FileConfig::default(),
		)
		.unwrap();
		assert_eq!(c.origin_url.as_deref(), Some("http://10.0.0.1:7070"));
		assert_eq!(c.serve_for.len(), 1);
		let file: FileConfig = toml::from_str(&format!(
			"origin-url = \"http://origin:7070\"\nserve-for = [\"{ferdie}\"]\nrelayer-seed = \"//C\""
		))
		.unwrap();
		assert_eq!(Config::merge(parse(&[]), file).unwrap().serve_for.len(), 1);
		for args in [
			// Half an edge, an edge that cannot settle, an origin over https, bad accounts.
			vec!["--relayer-seed", "//Charlie", "--origin-url", "http://10.0.0.1:7070"],
			vec!["--relayer-seed", "//Charlie", "--serve-for", ferdie],
			vec!["--origin-url", "http://10.0.0.1:7070", "--serve-for", ferdie],
			vec![
				"--relayer-seed",
				"//C",
				"--origin-url",
				"https://o.example",
				"--serve-for",
				ferdie,
			],
			vec!["--edge-account", "not-an-account"],
			vec!["--relayer-seed", "//C", "--origin-url", "http://o", "--serve-for", "5Fake"],
			vec!["--edge-url", "https://edge.example/ws"],
		] {
			assert!(Config::merge(parse(&args), FileConfig::default()).is_err(), "{args:?}");
		}
	}

	#[test]
	fn invalid_configurations() {
		assert!(
			Cli::try_parse_from(["x", "--relayer-seed", "//A", "--relayer-key-file", "k"]).is_err()
		);
		assert!(Cli::try_parse_from(["x", "--listen", "nonsense"]).is_err());
		assert!(Cli::try_parse_from(["x", "--media-cpu", "-1"]).is_err());
		assert!(toml::from_str::<FileConfig>("unknown-key = 1").is_err());
		let file: FileConfig =
			toml::from_str("relayer-seed = \"//A\"\nrelayer-key-file = \"k\"").unwrap();
		assert!(matches!(Config::merge(parse(&[]), file), Err(ConfigError::TwoRelayerKeys)));
		assert!(
			Config::merge(parse(&["--settle-every-blocks", "0"]), FileConfig::default()).is_err()
		);
		for args in [
			["--min-settle-seconds", "0"],
			["--settle-tail-blocks", "0"],
			// Past half the runtime's idle timeout (120 blocks) a tail may be refunded unsettled.
			["--settle-tail-blocks", "61"],
		] {
			assert!(Config::merge(parse(&args), FileConfig::default()).is_err(), "{args:?}");
		}
		let c = parse(&["--min-settle-seconds", "10", "--settle-tail-blocks", "60"]);
		let c = Config::merge(c, FileConfig::default()).unwrap();
		assert_eq!((c.min_settle_seconds, c.settle_tail_blocks), (10, 60));
		let c =
			Config::merge(parse(&["--relayer-seed", "not a valid uri ///"]), FileConfig::default())
				.unwrap();
		assert!(c.relayer_pair().is_err());
	}
}
