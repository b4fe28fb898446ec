//! The media path: a Selective Forwarding Unit on str0m.
//!
//! A creator publishes once (browser over the WebSocket signaling, or OBS over WHIP); the SFU
//! forwards the RTP packets to every viewer whose session is open and whose vouchers keep
//! coming. It runs on one UDP port with ICE-lite (the answer carries that one host candidate,
//! clients need not trickle), in RTP mode: packets are forwarded as received (payloads shared,
//! not copied), with per-viewer SSRC, sequence numbers and timestamps ([`forward`]).
//!
//! All peers live on ONE thread, the engine ([`engine`]), which owns the socket and every
//! `Rtc`: no per-packet lock is shared across cores. The async world talks to it through a
//! command channel ([`MediaServer`]) and learns of its state from [`MediaEvent`]s and a
//! once-per-second [`MediaSnapshot`].
//!
//! Bandwidth estimation (TWCC, with str0m's pacer) runs for viewers of a room whose publisher
//! offered simulcast, or that has no publisher yet: it is what picks their layer. A viewer of a
//! single-layer room has no layer to pick, and pacing costs a wake-up per packet, so its
//! packets go out as they come (a frame's packets in one GSO message, see `outbox`), written
//! and encrypted by the engine's direct sender (`direct`, `srtp`) rather than queued in its
//! `Rtc`.
//!
//! Rights are checked by a [`Gate`] per peer, polled by the engine every
//! [`GATE_PERIOD`]: a viewer's gate closes when its session closes, it is banned or the
//! stream ends, and pauses while its vouchers are late.

pub mod codec;
mod direct;
mod engine;
pub mod forward;
pub mod gate;
mod outbox;
pub mod recorder;
mod srtp;

use serde::Serialize;
use std::{
	collections::BTreeMap,
	collections::HashMap,
	net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket},
	path::PathBuf,
	sync::{
		atomic::{AtomicU64, Ordering},
		mpsc, Arc, Mutex, RwLock,
	},
	thread::JoinHandle,
	time::{Duration, Instant},
};
use str0m::{
	bwe::Bitrate,
	change::SdpOffer,
	config::{CryptoProvider, DtlsCert},
	media::{Direction, MediaKind, Mid},
	rtp::{Extension, ExtensionMap},
	Candidate, Rtc,
};
use vilokanam_chain_client::StreamId;

pub use engine::PeerSetup;
pub use gate::{Gate, GateState, OpenGate};

/// How often the engine re-checks every peer's [`Gate`].
pub const GATE_PERIOD: Duration = Duration::from_millis(100);
/// A peer that has not connected (ICE + DTLS) this long after its offer is dropped.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// At most one keyframe request per publisher layer per this period, however many viewers ask.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_secs(1);
/// str0m's sender-report interval for viewers on the direct send path: never, in practice
/// (a year; the engine's direct sender reports instead).
const NO_REPORTS: Duration = Duration::from_secs(365 * 24 * 3600);

/// The media socket's receive and send buffers: bursts of keyframe packets fanned out to
/// hundreds of viewers overflow the default (~208 KiB) before the engine reads again. The
/// kernel caps it at `net.core.rmem_max` / `wmem_max`.
pub const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

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
}

/// The media server's settings.
#[derive(Clone, Debug)]
pub struct MediaConfig {
	/// The UDP address to bind.
	pub listen: SocketAddr,
	/// The address announced in answers (the host candidate); defaults to `listen`, with
	/// 127.0.0.1 for an unspecified IP.
	pub public_ip: Option<IpAddr>,
	/// Record every publisher's video here (an IVF or Annex-B file per publisher), if set.
	pub record_dir: Option<PathBuf>,
	/// Most media peers at once.
	pub max_peers: usize,
	/// Answer as a full ICE agent instead of ICE-lite. ICE-lite (the default) relies on the
	/// client's RFC 7675 consent checks (browsers, libwebrtc, libdatachannel/OBS send one every
	/// ~5 s) and drops a pair that has had none for 15 s; clients that only check an idle pair
	/// (pion, webrtc-rs) need the server to check instead.
	pub full_ice: bool,
	/// Run the engine thread on this CPU only. A dedicated core keeps the engine's caches
	/// warm; unset, the scheduler moves it between cores.
	pub cpu: Option<usize>,
}

impl Default for MediaConfig {
	fn default() -> Self {
		Self {
			listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
			public_ip: None,
			record_dir: None,
			max_peers: 10_000,
			full_ice: false,
			cpu: None,
		}
	}
}

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

/// str0m's standard header extensions (Chrome's ids) without the transport-wide sequence
/// number and the send time, which only bandwidth estimation uses.
fn extensions_without_twcc() -> ExtensionMap {
	let mut exts = ExtensionMap::empty();
	for (id, ext) in ExtensionMap::standard().iter() {
		if !matches!(ext, Extension::TransportSequenceNumber | Extension::AbsoluteSendTime) {
			exts.set(id, ext.clone());
		}
	}
	exts
}

/// Whether `cpu` is one this process may run on.
fn check_cpu(cpu: usize) -> std::io::Result<()> {
	let refused = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
	if cpu >= libc::CPU_SETSIZE as usize {
		return Err(refused(format!("CPU {cpu} is beyond the largest CPU set")));
	}
	// SAFETY: a zeroed `cpu_set_t` is an empty set, which the call fills in.
	let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
	// SAFETY: `set` is a valid `cpu_set_t` of the size passed; 0 is the calling thread.
	if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0
	{
		return Err(std::io::Error::last_os_error());
	}
	// SAFETY: `cpu` is below `CPU_SETSIZE` (checked above).
	if !unsafe { libc::CPU_ISSET(cpu, &set) } {
		return Err(refused(format!("CPU {cpu} is not one this process may run on")));
	}
	Ok(())
}

/// Bind the calling thread to `cpu` (checked by [`check_cpu`]).
fn pin_current_thread(cpu: usize) -> std::io::Result<()> {
	// SAFETY: a zeroed `cpu_set_t` is an empty set.
	let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
	// SAFETY: `cpu` is below `CPU_SETSIZE` (checked by `check_cpu` at start).
	unsafe { libc::CPU_SET(cpu, &mut set) };
	// SAFETY: `set` is a valid `cpu_set_t` of the size passed; 0 is the calling thread.
	if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
		return Err(std::io::Error::last_os_error());
	}
	Ok(())
}

/// Ask for larger socket buffers; best effort (the kernel may grant less).
fn set_buffer_sizes(socket: &UdpSocket, bytes: usize) {
	use std::os::fd::AsRawFd;
	let value = bytes as libc::c_int;
	for option in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
		// SAFETY: a valid socket descriptor, and a pointer to a c_int with its exact length.
		let r = unsafe {
			libc::setsockopt(
				socket.as_raw_fd(),
				libc::SOL_SOCKET,
				option,
				(&value as *const libc::c_int).cast(),
				std::mem::size_of::<libc::c_int>() as libc::socklen_t,
			)
		};
		if r != 0 {
			tracing::warn!(
				"cannot size the media socket's buffers: {}",
				std::io::Error::last_os_error()
			);
		}
	}
}

pub(crate) enum Command {
	Add(Box<engine::NewPeer>),
	Close(MediaPeerId, CloseReason),
	Shutdown,
}

struct Inner {
	commands: Mutex<mpsc::Sender<Command>>,
	/// A socket to nudge the engine out of its wait when a command is queued.
	waker: UdpSocket,
	engine_addr: SocketAddr,
	candidate: SocketAddr,
	crypto: Arc<CryptoProvider>,
	cert: DtlsCert,
	next_id: AtomicU64,
	peers: Arc<AtomicU64>,
	max_peers: usize,
	full_ice: bool,
	publishers: Publishers,
	snapshot: Arc<RwLock<MediaSnapshot>>,
	thread: Mutex<Option<JoinHandle<()>>>,
}

/// Each room's current publisher and whether it offered simulcast: set at the publisher's
/// offer, removed by the engine when that publisher closes. Read at a viewer's offer to decide
/// whether it needs bandwidth estimation (never on the packet path).
pub(crate) type Publishers = Arc<Mutex<HashMap<StreamId, (MediaPeerId, bool)>>>;

/// The handle to the media engine. Cheap to clone.
#[derive(Clone)]
pub struct MediaServer {
	inner: Arc<Inner>,
}

impl MediaServer {
	/// Bind the UDP port and start the engine thread.
	pub fn start(config: MediaConfig, metrics: crate::Metrics) -> std::io::Result<Self> {
		if let Some(cpu) = config.cpu {
			check_cpu(cpu)?;
		}
		let socket = UdpSocket::bind(config.listen)?;
		set_buffer_sizes(&socket, SOCKET_BUFFER_BYTES);
		let local = socket.local_addr()?;
		let ip = match config.public_ip {
			Some(ip) => ip,
			None if local.ip().is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
			None => local.ip(),
		};
		let candidate = SocketAddr::new(ip, local.port());
		let engine_addr = if local.ip().is_unspecified() {
			SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
		} else {
			local
		};
		let waker = UdpSocket::bind(SocketAddr::new(engine_addr.ip(), 0))?;
		// Tapped: viewers' SRTP keys go to their direct senders (see `direct`).
		let crypto = Arc::new(srtp::tapping(str0m::crypto::from_feature_flags()));
		// One certificate for every peer: generating one per peer would cost a key generation
		// per join. Clients pin it per connection through the answer's fingerprint.
		let cert = crypto
			.dtls_provider
			.generate_certificate()
			.ok_or_else(|| std::io::Error::other("cannot generate a DTLS certificate"))?;
		let (tx, rx) = mpsc::channel();
		let snapshot = Arc::new(RwLock::new(MediaSnapshot::default()));
		let peers = Arc::new(AtomicU64::new(0));
		let recorder = config.record_dir.clone().map(recorder::Recorder::new);
		let publishers = Publishers::default();
		let engine = engine::Engine::new(
			socket,
			crypto.clone(),
			candidate,
			rx,
			waker.local_addr()?,
			snapshot.clone(),
			peers.clone(),
			publishers.clone(),
			metrics,
			recorder,
		)?;
		let cpu = config.cpu;
		let thread = std::thread::Builder::new().name("media-engine".into()).spawn(move || {
			if let Some(cpu) = cpu {
				match pin_current_thread(cpu) {
					Ok(()) => tracing::info!(cpu, "media engine pinned"),
					Err(e) => tracing::warn!(cpu, "media engine not pinned: {e}"),
				}
			}
			engine.run()
		})?;
		tracing::info!(%local, %candidate, "media engine listening (UDP, ICE-lite)");
		Ok(Self {
			inner: Arc::new(Inner {
				commands: Mutex::new(tx),
				waker,
				engine_addr,
				candidate,
				crypto,
				cert,
				next_id: AtomicU64::new(1),
				peers,
				max_peers: config.max_peers,
				full_ice: config.full_ice,
				publishers,
				snapshot,
				thread: Mutex::new(Some(thread)),
			}),
		})
	}

	/// The host candidate announced to clients.
	pub fn candidate(&self) -> SocketAddr {
		self.inner.candidate
	}

	/// Media peers currently in the engine.
	pub fn peers(&self) -> u64 {
		self.inner.peers.load(Ordering::Relaxed)
	}

	/// Accept an offer for `setup`: returns the new peer's id and the SDP answer. The peer is
	/// handed to the engine, which keeps it until it is closed, fails, or its gate closes.
	pub fn offer(&self, sdp: &str, setup: PeerSetup) -> Result<(MediaPeerId, String), MediaError> {
		if self.peers() as usize >= self.inner.max_peers {
			return Err(MediaError::Full);
		}
		let offer =
			SdpOffer::from_sdp_string(sdp).map_err(|e| MediaError::BadSdp(e.to_string()))?;
		let now = Instant::now();
		let simulcast = sdp.lines().any(|l| l.trim_start().starts_with("a=simulcast:"));
		let estimate = match setup.role {
			MediaRole::Publisher => false,
			MediaRole::Viewer => self
				.inner
				.publishers
				.lock()
				.unwrap_or_else(|p| p.into_inner())
				.get(&setup.stream_id)
				.is_none_or(|(_, simulcast)| *simulcast),
		};
		let mut config = Rtc::builder()
			.set_ice_lite(!self.inner.full_ice)
			.set_rtp_mode(true)
			.set_crypto_provider(self.inner.crypto.clone())
			.set_dtls_cert(self.inner.cert.clone())
			.set_stats_interval(Some(Duration::from_secs(1)))
			// Bandwidth estimation (TWCC) picks a viewer's simulcast layer (see the module doc).
			.enable_bwe(estimate.then(|| Bitrate::bps(2_500_000)));
		// A viewer without estimation is sent to by the engine's direct sender.
		let direct = setup.role == MediaRole::Viewer && !estimate;
		if direct {
			// Without estimation, transport-wide sequence numbers would only make the client
			// send feedback nobody reads (an RTCP packet every tens of milliseconds per viewer,
			// each one decrypted and parsed here).
			config = config
				.set_extension_map(extensions_without_twcc())
				// Its media goes through the engine's direct sender, which sends the sender
				// reports; str0m's would carry none of its packets.
				.set_rtcp_report_interval_audio(NO_REPORTS)
				.set_rtcp_report_interval_video(NO_REPORTS);
		}
		let mut rtc = config.build(now);
		let candidate = Candidate::host(self.inner.candidate, "udp")
			.map_err(|e| MediaError::BadSdp(e.to_string()))?;
		rtc.add_local_candidate(candidate);
		let answer =
			rtc.sdp_api().accept_offer(offer).map_err(|e| MediaError::BadSdp(e.to_string()))?;
		// The negotiated media, by the offer's mids (str0m reports `MediaAdded` only once
		// connected, too late to refuse an offer).
		let media: Vec<(Mid, MediaKind, Direction)> = sdp
			.lines()
			.filter_map(|l| l.trim().strip_prefix("a=mid:"))
			.filter_map(|mid| {
				let mid = Mid::from(mid.trim());
				rtc.media(mid).map(|m| (mid, m.kind(), m.direction()))
			})
			.collect();
		let wanted = match setup.role {
			MediaRole::Publisher => Direction::RecvOnly,
			MediaRole::Viewer => Direction::SendOnly,
		};
		let usable = |kind| media.iter().find(|(_, k, d)| *k == kind && *d == wanted).map(|m| m.0);
		let (audio, video) = (usable(MediaKind::Audio), usable(MediaKind::Video));
		if audio.is_none() && video.is_none() {
			return Err(MediaError::BadOffer(match setup.role {
				MediaRole::Publisher => "a publisher's offer must send audio or video (sendonly)",
				MediaRole::Viewer => "a viewer's offer must receive audio or video (recvonly)",
			}));
		}
		let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
		if setup.role == MediaRole::Publisher {
			self.inner
				.publishers
				.lock()
				.unwrap_or_else(|p| p.into_inner())
				.insert(setup.stream_id, (id, simulcast));
		}
		let new = engine::NewPeer { id, rtc, setup, audio, video, created: now, direct };
		self.send(Command::Add(Box::new(new)))?;
		Ok((id, answer.to_sdp_string()))
	}

	/// Close a peer (no-op if it is already gone).
	pub fn close(&self, id: MediaPeerId, reason: CloseReason) {
		let _ = self.send(Command::Close(id, reason));
	}

	/// The last once-per-second snapshot.
	pub fn snapshot(&self) -> MediaSnapshot {
		self.inner.snapshot.read().unwrap_or_else(|p| p.into_inner()).clone()
	}

	/// Stop the engine (closing every peer) and wait for its thread.
	pub fn shutdown(&self) {
		let _ = self.send(Command::Shutdown);
		let thread = self.inner.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
		if let Some(t) = thread {
			let _ = t.join();
		}
	}

	fn send(&self, cmd: Command) -> Result<(), MediaError> {
		self.inner
			.commands
			.lock()
			.unwrap_or_else(|p| p.into_inner())
			.send(cmd)
			.map_err(|_| MediaError::Stopped)?;
		// An empty datagram from the waker's address: the engine takes it as "commands
		// pending". Best effort: the engine also drains commands at every wake-up.
		let _ = self.inner.waker.send_to(&[], self.inner.engine_addr);
		Ok(())
	}
}
