//! The sidecar's one connection to its node, which every part gets its client from.
//!
//! [`Connector::run`] connects with backoff, publishes each connected [`Client`], waits for it
//! to drop and connects again. The parts that need the node (the chain view's follower, the
//! relay) ask their [`NodeLink`] for [`NodeLink::connected`] rather than reconnecting on their
//! own. A node that serves another chain than the first one it connected to (another genesis)
//! is refused: stored vouchers are bound to that genesis.

use std::time::Duration;
use tokio::sync::watch;
use vilokanam_chain_client::{Client, H256};

/// The longest wait between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The first wait after a failure.
const MIN_BACKOFF: Duration = Duration::from_secs(1);

/// A handle on the node connection. Cheap to clone.
#[derive(Clone)]
pub struct NodeLink {
	current: watch::Receiver<Option<Client>>,
}

/// What keeps the connection alive; see [`NodeLink::new`].
pub struct Connector {
	url: String,
	current: watch::Sender<Option<Client>>,
}

impl NodeLink {
	/// A link to the node at `url`, and the connector that must run for it to connect.
	pub fn new(url: impl Into<String>) -> (NodeLink, Connector) {
		let (tx, rx) = watch::channel(None);
		(NodeLink { current: rx }, Connector { url: url.into(), current: tx })
	}

	/// The current client, if connected.
	pub fn client(&self) -> Option<Client> {
		self.current.borrow().clone().filter(Client::is_connected)
	}

	/// A connected client: the current one, or else the next one to connect.
	pub async fn connected(&self) -> Client {
		let mut current = self.current.clone();
		loop {
			if let Some(client) = current.borrow_and_update().clone().filter(Client::is_connected) {
				return client;
			}
			if current.changed().await.is_err() {
				// The connector is gone (shutdown): there will be no client.
				std::future::pending::<()>().await;
			}
		}
	}
}

impl Connector {
	/// Keep a connection until the task is dropped.
	pub async fn run(self) {
		let mut backoff = MIN_BACKOFF;
		let mut genesis: Option<H256> = None;
		loop {
			match Client::connect(&self.url).await {
				Ok(client) if genesis.is_some_and(|g| g != client.genesis_hash()) => {
					tracing::error!(
						url = %self.url,
						"the node now serves genesis {:?}, but this sidecar works for {:?}",
						client.genesis_hash(),
						genesis,
					);
				},
				Ok(client) => {
					backoff = MIN_BACKOFF;
					genesis = Some(client.genesis_hash());
					tracing::info!(url = %self.url, genesis = ?client.genesis_hash(), "connected to the node");
					self.current.send_replace(Some(client.clone()));
					client.disconnected().await;
					self.current.send_replace(None);
					tracing::warn!(url = %self.url, "lost the node connection");
				},
				Err(e) => tracing::warn!(url = %self.url, "cannot connect to the node: {e}"),
			}
			tokio::time::sleep(backoff).await;
			backoff = (backoff * 2).min(MAX_BACKOFF);
		}
	}
}
