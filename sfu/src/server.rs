//! The handle to the SFU that the async world holds ([`MediaServer`]): it accepts offers on the
//! caller's thread ([`crate::offer`]), hands the new peers to the driver's thread, and reads the
//! snapshot the core puts out once per second.

use crate::{
	driver::{Command, Driver},
	offer::{self, Offers, PendingPull},
	recorder::Recorder,
	CloseReason, MediaError, MediaPeerId, MediaSnapshot, PeerSetup, Publishers, SfuMetrics,
};
use std::{
	net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket},
	path::PathBuf,
	sync::{
		atomic::{AtomicU64, Ordering},
		mpsc, Arc, Mutex, RwLock,
	},
	thread::JoinHandle,
	time::{Duration, Instant},
};

/// The media socket's receive and send buffers: bursts of keyframe packets fanned out to
/// hundreds of viewers overflow the default (~208 KiB) before the engine reads again. The
/// kernel caps it at `net.core.rmem_max` / `wmem_max`.
pub const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// The media server's settings.
#[derive(Clone, Debug)]
pub struct MediaConfig {
	/// The UDP address to bind.
	pub listen: SocketAddr,
	/// The address announced in answers (the host candidate); defaults to `listen`, with
	/// 127.0.0.1 for an unspecified IP.
	pub public_ip: Option<IpAddr>,
	/// Record every publisher here, if set: VP8 with its Opus audio as WebM, H.264 video as
	/// an Annex-B stream (a file per publisher connection; see [`crate::recorder`]).
	pub record_dir: Option<PathBuf>,
	/// Called with each finished WebM recording and its index (on the recorder's thread).
	pub on_recorded: Option<crate::recorder::OnRecorded>,
	/// The most bytes the recording directory may hold (what is there already counts).
	pub record_max_bytes: u64,
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
	/// Start a new viewer on the packets since its publisher's last keyframe while that
	/// keyframe is at most this old, rather than ask for a fresh one (zero: always ask). See
	/// [`crate::Sfu::with_keyframe_cache`]: a faster first frame for a delay of up to this.
	pub keyframe_cache: Duration,
}

/// See [`MediaConfig::keyframe_cache`].
pub const DEFAULT_KEYFRAME_CACHE: Duration = Duration::from_millis(1000);

impl Default for MediaConfig {
	fn default() -> Self {
		Self {
			listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
			public_ip: None,
			record_dir: None,
			on_recorded: None,
			record_max_bytes: 10 << 30,
			max_peers: 10_000,
			full_ice: false,
			cpu: None,
			keyframe_cache: DEFAULT_KEYFRAME_CACHE,
		}
	}
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

struct Inner {
	commands: Mutex<mpsc::Sender<Command>>,
	/// A socket to nudge the driver out of its wait when a command is queued.
	waker: UdpSocket,
	engine_addr: SocketAddr,
	offers: Offers,
	next_id: AtomicU64,
	peers: Arc<AtomicU64>,
	max_peers: usize,
	snapshot: Arc<RwLock<MediaSnapshot>>,
	thread: Mutex<Option<JoinHandle<()>>>,
}

/// The handle to the media engine. Cheap to clone.
#[derive(Clone)]
pub struct MediaServer {
	inner: Arc<Inner>,
}

impl MediaServer {
	/// Bind the UDP port and start the engine thread.
	pub fn start(config: MediaConfig, metrics: SfuMetrics) -> std::io::Result<Self> {
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
		let offers = Offers {
			crypto: offer::crypto(),
			candidate,
			full_ice: config.full_ice,
			publishers: Publishers::default(),
		};
		let (tx, rx) = mpsc::channel();
		let snapshot = Arc::new(RwLock::new(MediaSnapshot::default()));
		let peers = Arc::new(AtomicU64::new(0));
		let recorder = config
			.record_dir
			.clone()
			.map(|d| Recorder::new(d, config.record_max_bytes, config.on_recorded.clone()));
		let driver = Driver::new(
			socket,
			rx,
			waker.local_addr()?,
			&offers,
			metrics,
			config.keyframe_cache,
			recorder,
			snapshot.clone(),
			peers.clone(),
		)?;
		let cpu = config.cpu;
		let thread = std::thread::Builder::new().name("media-engine".into()).spawn(move || {
			if let Some(cpu) = cpu {
				match pin_current_thread(cpu) {
					Ok(()) => tracing::info!(cpu, "media engine pinned"),
					Err(e) => tracing::warn!(cpu, "media engine not pinned: {e}"),
				}
			}
			driver.run()
		})?;
		tracing::info!(%local, %candidate, "media engine listening (UDP, ICE-lite)");
		Ok(Self {
			inner: Arc::new(Inner {
				commands: Mutex::new(tx),
				waker,
				engine_addr,
				offers,
				next_id: AtomicU64::new(1),
				peers,
				max_peers: config.max_peers,
				snapshot,
				thread: Mutex::new(Some(thread)),
			}),
		})
	}

	/// The host candidate announced to clients.
	pub fn candidate(&self) -> SocketAddr {
		self.inner.offers.candidate
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
		let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
		let (peer, answer) = self.inner.offers.accept(id, sdp, &setup, Instant::now())?;
		self.send(Command::Add(Box::new(peer), setup.events))?;
		Ok((id, answer))
	}

	/// Offer to pull `setup.stream_id` from another server (an origin, which takes the offer
	/// as a viewer's): the pending pull and the SDP offer to send there. Hand the origin's
	/// answer to [`MediaServer::pulled`]; this server's viewers of the stream are then fed by
	/// the pull as by a publisher, their keyframe requests sent upstream.
	pub fn pull(&self, setup: PeerSetup) -> Result<(PendingPull, String), MediaError> {
		if self.peers() as usize >= self.inner.max_peers {
			return Err(MediaError::Full);
		}
		let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
		self.inner.offers.pull(id, setup, Instant::now())
	}

	/// The origin's answer to a [`MediaServer::pull`]: the pull runs, as the room's publisher.
	pub fn pulled(&self, pull: PendingPull, answer: &str) -> Result<MediaPeerId, MediaError> {
		let events = pull.setup.events.clone();
		let peer = self.inner.offers.pulled(pull, answer)?;
		let id = peer.id();
		self.send(Command::Add(Box::new(peer), events))?;
		Ok(id)
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
		// An empty datagram from the waker's address: the driver takes it as "commands
		// pending". Best effort: the driver also takes commands at every wake-up.
		let _ = self.inner.waker.send_to(&[], self.inner.engine_addr);
		Ok(())
	}
}
