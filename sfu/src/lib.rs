//! Vilokanam's Selective Forwarding Unit, on str0m. It knows nothing of the chain: rights reach
//! it as a [`Gate`] per peer, metrics go to a registry it is given, streams are plain integers.
//!
//! A creator publishes once (a browser over the sidecar's WebSocket signaling, or OBS over
//! WHIP); the SFU forwards the RTP packets to every viewer whose gate is open. It runs on one
//! UDP port with ICE-lite (the answer carries that one host candidate, clients need not
//! trickle), in RTP mode: packets are forwarded as received (payloads shared, not copied), with
//! per-viewer SSRC, sequence numbers and timestamps ([`forward`]).
//!
//! | module | job |
//! |---|---|
//! | [`core`] | the SFU as a sans-IO state machine: `handle(now, input, output) → next deadline` |
//! | `core::keyframes`, [`core::layers`], `core::publisher`, `core::viewer`, `core::stats` | its parts: keyframe coalescing, simulcast layer choice, incoming and outgoing RTP, the snapshot and metrics |
//! | [`offer`] | an SDP offer → a new peer's `Rtc` and the answer |
//! | [`output`] | what the core puts out ([`Output`]), and a queue of it for tests |
//! | `driver` | the thread: the UDP socket, `poll(2)`, the clock, batched sends (`outbox`) |
//! | [`MediaServer`] (`server`) | the handle the async world holds: offers, closes, snapshots |
//! | `direct`, `srtp` | the direct send path: our RTP writer and SRTP, keys bound to each peer's DTLS session |
//! | [`codec`], [`recorder`], [`gate`], [`metrics`] | keyframe detection, recording to disk, rights, Prometheus |
//!
//! All peers live on ONE thread, the driver's, which owns the socket and the core: no
//! per-packet lock is shared across cores. The async world talks to it through a command
//! channel ([`MediaServer`]) and learns of its state from [`MediaEvent`]s and a once-per-second
//! [`MediaSnapshot`].
//!
//! Bandwidth estimation (TWCC, with str0m's pacer) runs for viewers of a room whose publisher
//! offered simulcast, or that has no publisher yet: it is what picks their layer. A viewer of a
//! single-layer room has no layer to pick, and pacing costs a wake-up per packet, so its
//! packets go out as they come (a frame's packets in one GSO message, see `outbox`), written
//! and encrypted by the core's direct sender (`direct`, `srtp`) rather than queued in its
//! `Rtc`.
//!
//! Rights are checked by a [`Gate`] per peer, polled by the core every [`GATE_PERIOD`]: a
//! viewer's gate closes when its session closes, it is banned or the stream ends, and pauses
//! while its vouchers are late.

pub mod codec;
pub mod core;
mod direct;
mod driver;
pub mod forward;
pub mod gate;
pub mod metrics;
pub mod offer;
mod outbox;
pub mod output;
pub mod recorder;
mod server;
mod srtp;

use serde::Serialize;
use std::{
	collections::{BTreeMap, HashMap},
	sync::{Arc, Mutex},
	time::Duration,
};
use tokio::sync::mpsc as tokio_mpsc;

pub use crate::core::{Input, NewPeer, Sfu};
pub use gate::{Gate, GateState, OpenGate};
pub use metrics::SfuMetrics;
pub use output::{Collected, Output};
pub use server::{MediaConfig, MediaServer, DEFAULT_KEYFRAME_CACHE, SOCKET_BUFFER_BYTES};

/// How often the core re-checks every peer's [`Gate`].
pub const GATE_PERIOD: Duration = Duration::from_millis(100);
/// A peer that has not connected (ICE + DTLS) this long after its offer is dropped.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// At most one keyframe request per publisher layer per this period, however many viewers ask.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_secs(1);

/// A stream, as the chain numbers it.
pub type StreamId = u64;

/// A media peer's identifier, unique for the life of the process.
pub type MediaPeerId = u64;

/// What a media peer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaRole {
	/// Sends media for its stream.
	Publisher,
	/// Receives its stream's media.
	Viewer,
}

/// Why a media peer was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
	/// The client (or its signaling connection) ended it.
	Closed,
	/// The viewer's session was closed on chain.
	SessionClosed,
	/// The creator banned the viewer.
	Banned,
	/// The stream ended on chain.
	StreamEnded,
	/// A newer publisher (or a newer offer on the same connection) took over.
	Replaced,
	/// The member was removed from its room (the `revoked` message says why).
	Revoked,
	/// ICE or DTLS failed, or the peer went silent.
	Disconnected,
	/// The server is shutting down.
	Shutdown,
}

impl CloseReason {
	/// As written on the wire.
	pub fn as_str(self) -> &'static str {
		match self {
			Self::Closed => "closed",
			Self::SessionClosed => "session_closed",
			Self::Banned => "banned",
			Self::StreamEnded => "stream_ended",
			Self::Replaced => "replaced",
			Self::Revoked => "revoked",
			Self::Disconnected => "disconnected",
			Self::Shutdown => "shutdown",
		}
	}
}

/// What the engine tells the owner of a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaEvent {
	/// ICE and DTLS are up.
	Connected,
	/// Forwarding to this viewer is suspended: its vouchers are late.
	Paused,
	/// Forwarding resumed (from the next keyframe).
	Resumed,
	/// The peer is gone.
	Closed(CloseReason),
}

/// Why an offer was refused.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
	/// The SDP does not parse, or str0m refuses it.
	#[error("bad SDP offer: {0}")]
	BadSdp(String),
	/// The offer sends or receives the wrong way for the role, or has nothing usable.
	#[error("{0}")]
	BadOffer(&'static str),
	/// Too many media peers.
	#[error("the media server is full")]
	Full,
	/// The engine is not running.
	#[error("the media server is not running")]
	Stopped,
	/// No DTLS certificate could be made for the peer.
	#[error("cannot generate a DTLS certificate")]
	NoCertificate,
	/// A publisher is connected to the stream and the offer may not take over from it
	/// ([`PeerSetup::take_over`]).
	#[error("a publisher is connected to this stream")]
	Occupied,
}

impl MediaRole {
	/// As written in metrics' labels.
	pub fn as_str(self) -> &'static str {
		match self {
			Self::Publisher => "publisher",
			Self::Viewer => "viewer",
		}
	}
}

/// What a media peer is for; given with its offer.
pub struct PeerSetup {
	/// The stream.
	pub stream_id: StreamId,
	/// Publisher or viewer.
	pub role: MediaRole,
	/// Its right to media, polled every [`GATE_PERIOD`].
	pub gate: Arc<dyn Gate>,
	/// Where to report [`MediaEvent`]s (best effort: a full queue loses them).
	pub events: Option<tokio_mpsc::Sender<(MediaPeerId, MediaEvent)>>,
	/// Who it is, for stats (an SS58 account).
	pub label: String,
	/// Its seat, if it holds one: a new peer taking the same seat in the same stream replaces
	/// this one ([`CloseReason::Replaced`]). The sidecar seats a viewer by its session, so
	/// that one paid session feeds one media peer.
	pub seat: Option<u64>,
	/// For a publisher: whether it replaces a connected publisher of the stream
	/// ([`CloseReason::Replaced`]) rather than being refused ([`MediaError::Occupied`]). The
	/// sidecar lets only a creator signed in with a fresh signature take over, never a
	/// bearer token that may have leaked.
	pub take_over: bool,
}

/// Each room's current publisher and whether it offered simulcast: set at the publisher's
/// offer, removed by the core when that publisher closes. Read at a viewer's offer to decide
/// whether it needs bandwidth estimation (never on the packet path).
pub type Publishers = Arc<Mutex<HashMap<StreamId, (MediaPeerId, bool)>>>;

/// A peer's numbers, as of the last snapshot.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerStats {
	/// The peer.
	pub id: MediaPeerId,
	/// Its role.
	pub role: Option<MediaRole>,
	/// Who it is (an SS58 account, when known).
	pub label: String,
	/// Connected (ICE + DTLS).
	pub connected: bool,
	/// Forwarding suspended (viewers whose vouchers are late).
	pub paused: bool,
	/// Media bitrate over the last second (received for a publisher, sent for a viewer).
	pub bitrate_bps: u64,
	/// RTP packets (received, or sent) in total.
	pub packets: u64,
	/// Bytes of RTP payload in total.
	pub bytes: u64,
	/// Fraction of packets lost, as last reported by RTCP (0–1).
	pub loss: f32,
	/// Keyframe requests: received from this viewer, or sent to this publisher.
	pub keyframe_requests: u64,
	/// NACKs (received from this viewer, or sent to this publisher).
	pub nacks: u64,
	/// The simulcast layer sent to this viewer (its rid), if any.
	pub layer: Option<String>,
	/// The viewer's estimated bandwidth (bit/s), when estimated.
	pub estimate_bps: Option<u64>,
	/// The viewer's media is sent by the engine's direct sender (no bandwidth estimation),
	/// not through str0m's send queue.
	pub direct: bool,
	/// Packets sent again on this viewer's NACKs (direct sender only; str0m keeps its own).
	pub retransmitted: u64,
}

/// A stream's media, as of the last snapshot.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RoomStats {
	/// The stream.
	pub stream_id: StreamId,
	/// Its publisher.
	pub publisher: Option<PeerStats>,
	/// Incoming layers: rid ("" when not simulcast) → bitrate.
	pub layers: BTreeMap<String, u64>,
	/// Its viewers.
	pub viewers: Vec<PeerStats>,
	/// Packets forwarded to viewers in total.
	pub forwarded_packets: u64,
	/// Keyframe requests from viewers not passed on to the publisher (coalesced).
	pub keyframe_requests_coalesced: u64,
}

/// The whole media server, once per second.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MediaSnapshot {
	/// Rooms by stream.
	pub rooms: Vec<RoomStats>,
	/// Media peers.
	pub peers: usize,
	/// Packets forwarded in total.
	pub forwarded_packets: u64,
	/// UDP datagrams that no peer accepted.
	pub unrouted_datagrams: u64,
	/// Datagrams the kernel refused to send (a full send buffer, an unreachable client).
	pub send_dropped: u64,
	/// `sendmmsg(2)` calls, against `forwarded_packets`: how well sends are batched.
	pub send_calls: u64,
	/// Messages in those calls: fewer than datagrams where UDP GSO joined a viewer's run.
	pub send_messages: u64,
}
