//! Media helpers of the end-to-end tests: signaling a bot's offer over the WebSocket, and a
//! viewer that watches and pays every second.

use super::Peer;
use sp_core::sr25519;
use std::time::{Duration, Instant};
use tokio::{sync::watch, task::JoinHandle};
use vilokanam_chain_client::{SessionId, StreamId};
use vilokanam_media_bots::{PublisherBot, PublisherOptions, ViewerBot};
use vilokanam_sidecar::protocol::{ClientMessage, MediaState, Role, ServerMessage};

/// How long ICE and DTLS may take.
const CONNECT: Duration = Duration::from_secs(30);

/// Sends `sdp` as a `media_offer` and returns the `media_answer`.
pub async fn media_offer(peer: &mut Peer, sdp: String) -> String {
	peer.send(ClientMessage::MediaOffer { sdp }).await;
	peer.expect("media_answer", |m| match m {
		ServerMessage::MediaAnswer { sdp } => Some(sdp.clone()),
		_ => None,
	})
	.await
}

/// Waits for `media_state` `want`; returns its reason.
pub async fn media_state(peer: &mut Peer, want: MediaState) -> Option<String> {
	peer.expect(&format!("media_state {want:?}"), |m| match m {
		ServerMessage::MediaState { state, reason } if *state == want => Some(reason.clone()),
		_ => None,
	})
	.await
}

/// A viewer that watches and pays every second until told to stop; returns its connection,
/// the last acknowledged cumulative and when it was acknowledged.
pub struct Paying {
	stop: watch::Sender<bool>,
	task: JoinHandle<(Peer, u64, Instant)>,
}

impl Paying {
	/// Pay from `after + 1` seconds on.
	pub fn start(mut peer: Peer, session: SessionId, after: u64) -> Self {
		let (stop, mut stopped) = watch::channel(false);
		let task = tokio::spawn(async move {
			let mut c = after;
			loop {
				c += 1;
				peer.heartbeat(session, c, false).await;
				let at = Instant::now();
				tokio::select! {
					_ = tokio::time::sleep(Duration::from_secs(1)) => {},
					_ = stopped.changed() => return (peer, c, at),
				}
			}
		});
		Self { stop, task }
	}

	pub async fn stop(self) -> (Peer, u64, Instant) {
		let _ = self.stop.send(true);
		self.task.await.expect("the heartbeat task ends")
	}
}

/// `who` watches `stream_id` with `session` through a viewer bot and pays every second.
pub async fn viewer(
	name: &'static str,
	url: &str,
	who: sr25519::Pair,
	stream_id: StreamId,
	session: SessionId,
) -> (ViewerBot, Paying) {
	let mut peer = Peer::connect(name, url, who).await;
	peer.watch(stream_id, session).await;
	let (bot, offer) = ViewerBot::new().await.expect("a viewer bot");
	let answer = media_offer(&mut peer, offer).await;
	bot.accept_answer(&answer).await.expect("the bot takes the answer");
	bot.wait_connected(CONNECT).await.expect("ICE + DTLS with the SFU");
	(bot, Paying::start(peer, session, 0))
}

/// Audio and video packets `bot` received.
pub async fn packets(bot: &ViewerBot) -> u64 {
	let s = bot.stats();
	s.video_packets + s.audio_packets
}

/// `who` (the stream's creator) publishes `stream_id` at the sidecar `url` through a publisher
/// bot sending synthetic audio and video: its connection and the bot.
pub async fn publish(url: &str, who: sr25519::Pair, stream_id: StreamId) -> (Peer, PublisherBot) {
	let mut creator = Peer::connect("creator", url, who).await;
	creator.send(ClientMessage::Publish { stream_id }).await;
	creator
		.expect("joined", |m| {
			matches!(m, ServerMessage::Joined { role: Role::Publisher, .. }).then_some(())
		})
		.await;
	let (publisher, offer) =
		PublisherBot::new(PublisherOptions::default()).await.expect("a publisher bot");
	let answer = media_offer(&mut creator, offer).await;
	publisher.accept_answer(&answer).await.expect("the bot takes the answer");
	publisher.wait_connected(CONNECT).await.expect("ICE + DTLS with the SFU");
	publisher.start();
	media_state(&mut creator, MediaState::Connected).await;
	(creator, publisher)
}
