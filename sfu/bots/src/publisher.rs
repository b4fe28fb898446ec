//! The publisher bot: sends synthetic Opus audio and VP8/H264 video, optionally as three
//! simulcast layers, and answers PLI/FIR with a keyframe.

use std::{
	sync::{
		atomic::{AtomicBool, AtomicU64, Ordering},
		Arc, Mutex,
	},
	time::Duration,
};

use anyhow::{ensure, Context};
use bytes::Bytes;
use tokio::{
	sync::watch,
	task::JoinHandle,
	time::{interval, MissedTickBehavior},
};
use webrtc::{
	peer_connection::peer_connection_state::RTCPeerConnectionState,
	rtcp::payload_feedbacks::{
		full_intra_request::FullIntraRequest, picture_loss_indication::PictureLossIndication,
	},
	rtp::{
		codecs::{h264::H264Payloader, opus::OpusPayloader, vp8::Vp8Payloader},
		packetizer::{new_packetizer, Packetizer, Payloader},
		sequence::new_random_sequencer,
	},
	rtp_transceiver::{
		rtp_sender::RTCRtpSender, rtp_transceiver_direction::RTCRtpTransceiverDirection,
		RTCRtpTransceiverInit,
	},
	track::track_local::{
		track_local_static_rtp::TrackLocalStaticRTP, TrackLocal, TrackLocalWriter,
	},
};

use crate::{
	frame::{build_audio_packet, build_video_frame, Trailer, VideoCodec},
	peer::{build_api, opus_capability, video_capability, Peer},
};

/// The simulcast layers, lowest first: rid, width, height, bitrate divisor (of
/// [`PublisherOptions::video_bitrate_bps`]).
pub const SIMULCAST_LAYERS: [(&str, u16, u16, u32); 3] =
	[("q", 160, 120, 16), ("h", 320, 240, 4), ("f", 640, 480, 1)];
/// Size of a synthetic Opus packet: 160 bytes every 20 ms is 64 kbps.
pub const AUDIO_PACKET_LEN: usize = 160;
/// Audio packet interval.
pub const AUDIO_PTIME: Duration = Duration::from_millis(20);
/// The RTP packet size limit, as webrtc-rs uses for its own sample tracks.
const RTP_MTU: usize = 1200;
/// Keyframes are this many times the size of an inter frame, as in real encoders.
const KEYFRAME_SIZE_FACTOR: usize = 3;
/// Smallest frame, so even a tiny bitrate yields a parseable frame.
const MIN_FRAME_LEN: usize = 64;
/// The msid stream id of the publisher's tracks.
const STREAM_ID: &str = "vilokanam-bot";

/// What a [`PublisherBot`] sends.
#[derive(Clone, Debug)]
pub struct PublisherOptions {
	/// The video codec. Default VP8.
	pub video: VideoCodec,
	/// Send three simulcast layers with rids "q", "h", "f" (see [`SIMULCAST_LAYERS`]) instead of
	/// one stream. Default off.
	pub simulcast: bool,
	/// Frames per second (per layer). Default 30.
	pub fps: u32,
	/// Video bitrate of the (full) layer. Default 1 400 000, which with the 64 kbps audio makes
	/// about 1.5 Mbps.
	pub video_bitrate_bps: u32,
	/// Frames from one keyframe to the next; 0 sends keyframes only on request (and first).
	/// Default 60. A PLI or FIR also makes the next frame (of that layer) a keyframe.
	pub keyframe_interval: u32,
	/// Send Opus audio (20 ms packets). Default on.
	pub audio: bool,
}

impl Default for PublisherOptions {
	fn default() -> Self {
		Self {
			video: VideoCodec::Vp8,
			simulcast: false,
			fps: 30,
			video_bitrate_bps: 1_400_000,
			keyframe_interval: 60,
			audio: true,
		}
	}
}

/// Counters of one video layer (the only one without simulcast).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayerStats {
	/// The layer's rid; `None` without simulcast.
	pub rid: Option<String>,
	/// The layer's SSRC, once negotiated (0 before).
	pub ssrc: u32,
	/// Frames handed to the transport (frames produced before SRTP was up are not counted).
	pub frames_sent: u64,
	/// Of those, keyframes.
	pub keyframes_sent: u64,
	/// RTP packets sent (NACK retransmissions by webrtc-rs's responder not included).
	pub packets_sent: u64,
	/// RTP bytes sent, headers included, before SRTP.
	pub bytes_sent: u64,
	/// Keyframe requests received for this layer: PLI plus FIR.
	pub plis_received: u64,
	/// Of those, FIRs.
	pub firs_received: u64,
	/// The number of the last frame sent.
	pub last_frame_number: Option<u32>,
}

/// A snapshot of a publisher's counters. The totals sum the layers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublisherStats {
	/// Video frames sent, all layers.
	pub frames_sent: u64,
	/// Keyframes sent, all layers.
	pub keyframes_sent: u64,
	/// Video RTP packets sent, all layers.
	pub packets_sent: u64,
	/// Video RTP bytes sent, all layers.
	pub bytes_sent: u64,
	/// Keyframe requests (PLI + FIR) received, all layers.
	pub plis_received: u64,
	/// FIRs received, all layers.
	pub firs_received: u64,
	/// Audio RTP packets sent.
	pub audio_packets_sent: u64,
	/// Per layer, lowest first.
	pub layers: Vec<LayerStats>,
}

#[derive(Default)]
struct Counters {
	frames_sent: AtomicU64,
	keyframes_sent: AtomicU64,
	packets_sent: AtomicU64,
	bytes_sent: AtomicU64,
	plis_received: AtomicU64,
	firs_received: AtomicU64,
	/// Frame number + 1 of the last frame sent; 0 for none.
	last_frame: AtomicU64,
	/// Set by the RTCP reader on PLI/FIR, taken by the video loop.
	force_keyframe: AtomicBool,
	ssrc: AtomicU64,
}

struct Layer {
	rid: Option<&'static str>,
	index: u8,
	width: u16,
	height: u16,
	bitrate_bps: u32,
	track: Arc<TrackLocalStaticRTP>,
	counters: Counters,
}

/// A WebRTC publisher built on webrtc-rs: the offerer of a send-only audio (Opus) and video
/// (VP8 or H264, optionally simulcast) session. See the crate docs for the media it sends.
pub struct PublisherBot {
	peer: Peer,
	opts: PublisherOptions,
	layers: Vec<Arc<Layer>>,
	video_sender: Arc<RTCRtpSender>,
	audio_track: Option<Arc<TrackLocalStaticRTP>>,
	audio_packets_sent: Arc<AtomicU64>,
	started: AtomicBool,
	tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl PublisherBot {
	/// Creates the peer connection with send-only audio (Opus, if enabled) and video
	/// transceivers, gathers ICE fully (no trickle: the SFU is ICE-lite and its answer carries
	/// its candidate) and returns the bot and its offer SDP.
	pub async fn new(opts: PublisherOptions) -> anyhow::Result<(Self, String)> {
		ensure!(opts.fps > 0, "fps must be positive");
		let api = build_api(&[opts.video], opts.audio, true)?;
		let peer = Peer::new(&api).await?;
		let sendonly = || {
			Some(RTCRtpTransceiverInit {
				direction: RTCRtpTransceiverDirection::Sendonly,
				send_encodings: vec![],
			})
		};

		let mut tasks = Vec::new();
		// Audio first, so the m-lines are audio then video, as browsers order them.
		let audio_track = if opts.audio {
			let track = Arc::new(TrackLocalStaticRTP::new(
				opus_capability(),
				"audio".to_owned(),
				STREAM_ID.to_owned(),
			));
			let t = peer
				.pc
				.add_transceiver_from_track(
					Arc::clone(&track) as Arc<dyn TrackLocal + Send + Sync>,
					sendonly(),
				)
				.await
				.context("adding the audio transceiver")?;
			// Interceptors (reports, NACK) only run while someone reads the sender's RTCP.
			tasks.push(tokio::spawn(read_rtcp(t.sender().await, None, None)));
			Some(track)
		} else {
			None
		};

		let layer_specs: Vec<(Option<&'static str>, u16, u16, u32)> = if opts.simulcast {
			SIMULCAST_LAYERS
				.iter()
				.map(|&(rid, w, h, div)| (Some(rid), w, h, opts.video_bitrate_bps / div))
				.collect()
		} else {
			vec![(None, 640, 480, opts.video_bitrate_bps)]
		};
		let layers: Vec<Arc<Layer>> = layer_specs
			.into_iter()
			.enumerate()
			.map(|(i, (rid, width, height, bitrate_bps))| {
				let cap = video_capability(opts.video);
				let track = Arc::new(match rid {
					Some(rid) => TrackLocalStaticRTP::new_with_rid(
						cap,
						"video".to_owned(),
						rid.to_owned(),
						STREAM_ID.to_owned(),
					),
					None => TrackLocalStaticRTP::new(cap, "video".to_owned(), STREAM_ID.to_owned()),
				});
				Arc::new(Layer {
					rid,
					index: i as u8,
					width,
					height,
					bitrate_bps,
					track,
					counters: Counters::default(),
				})
			})
			.collect();
		let first = layers.first().context("no video layer")?;
		let t = peer
			.pc
			.add_transceiver_from_track(
				Arc::clone(&first.track) as Arc<dyn TrackLocal + Send + Sync>,
				sendonly(),
			)
			.await
			.context("adding the video transceiver")?;
		let video_sender = t.sender().await;
		// Simulcast: the other layers become further encodings of the same sender; webrtc-rs
		// then offers a=rid:<rid> send and a=simulcast:send q;h;f and tags packets with the rid
		// header extension.
		for layer in &layers[1..] {
			video_sender
				.add_encoding(Arc::clone(&layer.track) as Arc<dyn TrackLocal + Send + Sync>)
				.await
				.with_context(|| format!("adding simulcast layer {:?}", layer.rid))?;
		}
		for layer in &layers {
			tasks.push(tokio::spawn(read_rtcp(
				Arc::clone(&video_sender),
				layer.rid.filter(|_| opts.simulcast),
				Some(Arc::clone(layer)),
			)));
		}

		let offer = peer.offer().await?;
		let bot = Self {
			peer,
			opts,
			layers,
			video_sender,
			audio_track,
			audio_packets_sent: Arc::new(AtomicU64::new(0)),
			started: AtomicBool::new(false),
			tasks: Mutex::new(tasks),
		};
		Ok((bot, offer))
	}

	/// Sets the SFU's answer. The SSRCs of the layers are known from then on.
	pub async fn accept_answer(&self, sdp: &str) -> anyhow::Result<()> {
		self.peer.accept_answer(sdp).await?;
		let params = self.video_sender.get_parameters().await;
		for (layer, enc) in self.layers.iter().zip(params.encodings.iter()) {
			layer.counters.ssrc.store(u64::from(enc.ssrc), Ordering::Relaxed);
		}
		Ok(())
	}

	/// Waits until ICE and DTLS are connected.
	pub async fn wait_connected(&self, timeout: Duration) -> anyhow::Result<()> {
		self.peer.wait_connected(timeout).await
	}

	/// The peer connection state, for diagnostics.
	pub fn connection_state(&self) -> RTCPeerConnectionState {
		self.peer.state()
	}

	/// Starts sending synthetic media (spawned tasks) until [`PublisherBot::close`]. The tasks
	/// wait for the connection first, so the first frame (a keyframe) is not lost. Calling it
	/// again does nothing. Must be called within a tokio runtime.
	pub fn start(&self) {
		if self.started.swap(true, Ordering::SeqCst) {
			return;
		}
		let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
		tasks.push(tokio::spawn(video_loop(
			self.layers.clone(),
			self.opts.clone(),
			self.peer.state_watch(),
		)));
		if let Some(track) = &self.audio_track {
			tasks.push(tokio::spawn(audio_loop(
				Arc::clone(track),
				Arc::clone(&self.audio_packets_sent),
				self.peer.state_watch(),
			)));
		}
	}

	/// The video SSRC of each layer (rid, SSRC), lowest layer first; SSRC 0 before the answer.
	pub fn video_ssrcs(&self) -> Vec<(Option<String>, u32)> {
		self.layers
			.iter()
			.map(|l| (l.rid.map(str::to_owned), l.counters.ssrc.load(Ordering::Relaxed) as u32))
			.collect()
	}

	/// A snapshot of the counters.
	pub fn stats(&self) -> PublisherStats {
		let layers: Vec<LayerStats> = self
			.layers
			.iter()
			.map(|l| {
				let c = &l.counters;
				let last = c.last_frame.load(Ordering::Relaxed);
				LayerStats {
					rid: l.rid.map(str::to_owned),
					ssrc: c.ssrc.load(Ordering::Relaxed) as u32,
					frames_sent: c.frames_sent.load(Ordering::Relaxed),
					keyframes_sent: c.keyframes_sent.load(Ordering::Relaxed),
					packets_sent: c.packets_sent.load(Ordering::Relaxed),
					bytes_sent: c.bytes_sent.load(Ordering::Relaxed),
					plis_received: c.plis_received.load(Ordering::Relaxed),
					firs_received: c.firs_received.load(Ordering::Relaxed),
					last_frame_number: last.checked_sub(1).map(|n| n as u32),
				}
			})
			.collect();
		PublisherStats {
			frames_sent: layers.iter().map(|l| l.frames_sent).sum(),
			keyframes_sent: layers.iter().map(|l| l.keyframes_sent).sum(),
			packets_sent: layers.iter().map(|l| l.packets_sent).sum(),
			bytes_sent: layers.iter().map(|l| l.bytes_sent).sum(),
			plis_received: layers.iter().map(|l| l.plis_received).sum(),
			firs_received: layers.iter().map(|l| l.firs_received).sum(),
			audio_packets_sent: self.audio_packets_sent.load(Ordering::Relaxed),
			layers,
		}
	}

	/// Stops sending and closes the peer connection.
	pub async fn close(&self) -> anyhow::Result<()> {
		abort_all(&self.tasks);
		self.peer.close().await
	}
}

impl Drop for PublisherBot {
	fn drop(&mut self) {
		abort_all(&self.tasks);
	}
}

pub(crate) fn abort_all(tasks: &Mutex<Vec<JoinHandle<()>>>) {
	for t in tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
		t.abort();
	}
}

/// Waits until the peer connection is connected; false if it failed or closed first.
pub(crate) async fn connected(mut state: watch::Receiver<RTCPeerConnectionState>) -> bool {
	matches!(
		state
			.wait_for(|s| {
				matches!(
					s,
					RTCPeerConnectionState::Connected
						| RTCPeerConnectionState::Failed
						| RTCPeerConnectionState::Closed
				)
			})
			.await
			.map(|s| *s),
		Ok(RTCPeerConnectionState::Connected)
	)
}

/// Reads a sender's RTCP (which also drives webrtc-rs's interceptors) and turns PLI/FIR into a
/// keyframe request for `layer`. `rid` selects the simulcast encoding to read.
async fn read_rtcp(
	sender: Arc<RTCRtpSender>,
	rid: Option<&'static str>,
	layer: Option<Arc<Layer>>,
) {
	let mut errors = 0;
	loop {
		let res = match rid {
			Some(rid) => sender.read_rtcp_simulcast(rid).await,
			None => sender.read_rtcp().await,
		};
		let packets = match res {
			Ok((packets, _)) => packets,
			Err(webrtc::Error::ErrClosedPipe) => break,
			Err(e) => {
				// Sporadic errors (a malformed packet) are survivable; a dead stream is not.
				errors += 1;
				tracing::debug!(error = %e, ?rid, "publisher RTCP read");
				if errors > 50 {
					break;
				}
				continue;
			},
		};
		errors = 0;
		let Some(layer) = &layer else { continue };
		for p in packets {
			let any = p.as_any();
			let (pli, fir) = (
				any.downcast_ref::<PictureLossIndication>().is_some(),
				any.downcast_ref::<FullIntraRequest>().is_some(),
			);
			if pli || fir {
				tracing::debug!(rid = ?layer.rid, pli, fir, "keyframe requested");
				let c = &layer.counters;
				c.plis_received.fetch_add(1, Ordering::Relaxed);
				if fir {
					c.firs_received.fetch_add(1, Ordering::Relaxed);
				}
				c.force_keyframe.store(true, Ordering::Release);
			}
		}
	}
}

fn video_payloader(codec: VideoCodec) -> Box<dyn Payloader + Send + Sync> {
	match codec {
		// PictureID on, as webrtc-rs's own VP8 sample track does and browsers expect.
		VideoCodec::Vp8 => {
			let mut p = Vp8Payloader::default();
			p.enable_picture_id = true;
			Box::new(p)
		},
		VideoCodec::H264 => Box::<H264Payloader>::default(),
	}
}

/// Writes RTP packets to a track; returns (packets, bytes) actually sent.
async fn write_packets(
	track: &TrackLocalStaticRTP,
	packets: &[webrtc::rtp::packet::Packet],
) -> (u64, u64) {
	let (mut n, mut bytes) = (0, 0);
	for p in packets {
		match track.write_rtp(p).await {
			// 0: not bound or SRTP not up yet; the packet went nowhere.
			Ok(0) => {},
			Ok(len) => {
				n += 1;
				bytes += len as u64;
			},
			Err(e) => tracing::debug!(error = %e, "RTP write"),
		}
	}
	(n, bytes)
}

/// Sends one frame per layer per tick; all layers share the frame number, so a viewer that is
/// switched between layers still sees increasing numbers.
async fn video_loop(
	layers: Vec<Arc<Layer>>,
	opts: PublisherOptions,
	state: watch::Receiver<RTCPeerConnectionState>,
) {
	if !connected(state).await {
		return;
	}
	let samples_per_frame = 90_000 / opts.fps;
	let mut packetizers: Vec<Box<dyn Packetizer + Send + Sync>> = layers
		.iter()
		.map(|_| {
			Box::new(new_packetizer(
				RTP_MTU,
				0, // payload type and SSRC are set by the track binding
				0,
				video_payloader(opts.video),
				Box::new(new_random_sequencer()),
				90_000,
			)) as Box<dyn Packetizer + Send + Sync>
		})
		.collect();
	// Frames since the last keyframe, per layer; starting at the interval forces a first keyframe.
	let mut since_key: Vec<u32> = vec![u32::MAX; layers.len()];
	let mut ticker = interval(Duration::from_secs(1) / opts.fps);
	ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
	let mut number: u32 = 0;
	loop {
		ticker.tick().await;
		for ((layer, packetizer), since) in
			layers.iter().zip(packetizers.iter_mut()).zip(since_key.iter_mut())
		{
			let c = &layer.counters;
			let requested = c.force_keyframe.swap(false, Ordering::Acquire);
			let periodic = opts.keyframe_interval > 0 && *since >= opts.keyframe_interval;
			let keyframe = *since == u32::MAX || requested || periodic;
			let base = (layer.bitrate_bps / opts.fps / 8) as usize;
			let size = if keyframe { base * KEYFRAME_SIZE_FACTOR } else { base }.max(MIN_FRAME_LEN);
			let t = Trailer { number, keyframe, layer: layer.index };
			let frame = build_video_frame(opts.video, t, size, layer.width, layer.height);
			let packets = match packetizer.packetize(&Bytes::from(frame), samples_per_frame) {
				Ok(p) => p,
				Err(e) => {
					tracing::warn!(error = %e, "packetizing a frame");
					continue;
				},
			};
			let (n, bytes) = write_packets(&layer.track, &packets).await;
			if n == 0 {
				// Nothing went out (not connected yet, or closing): keep a pending keyframe.
				if keyframe {
					c.force_keyframe.store(true, Ordering::Release);
				}
				continue;
			}
			*since = if keyframe { 1 } else { since.saturating_add(1) };
			c.frames_sent.fetch_add(1, Ordering::Relaxed);
			if keyframe {
				c.keyframes_sent.fetch_add(1, Ordering::Relaxed);
			}
			c.packets_sent.fetch_add(n, Ordering::Relaxed);
			c.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
			c.last_frame.store(u64::from(number) + 1, Ordering::Relaxed);
		}
		number = number.wrapping_add(1);
	}
}

/// Sends one synthetic Opus packet every 20 ms.
async fn audio_loop(
	track: Arc<TrackLocalStaticRTP>,
	sent: Arc<AtomicU64>,
	state: watch::Receiver<RTCPeerConnectionState>,
) {
	if !connected(state).await {
		return;
	}
	let mut packetizer = new_packetizer(
		RTP_MTU,
		0,
		0,
		Box::new(OpusPayloader),
		Box::new(new_random_sequencer()),
		48_000,
	);
	let samples = 48_000 * AUDIO_PTIME.as_millis() as u32 / 1000;
	let mut ticker = interval(AUDIO_PTIME);
	ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
	let mut number: u32 = 0;
	loop {
		ticker.tick().await;
		let payload = Bytes::from(build_audio_packet(number, AUDIO_PACKET_LEN));
		match packetizer.packetize(&payload, samples) {
			Ok(packets) => {
				let (n, _) = write_packets(&track, &packets).await;
				sent.fetch_add(n, Ordering::Relaxed);
			},
			Err(e) => tracing::warn!(error = %e, "packetizing audio"),
		}
		number = number.wrapping_add(1);
	}
}
