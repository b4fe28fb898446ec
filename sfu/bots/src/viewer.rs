//! The viewer bot: receives audio and video, reassembles and checks the synthetic frames.

use std::{
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};

use anyhow::Context;
use tokio::{sync::watch, task::JoinHandle};
use webrtc::{
	peer_connection::peer_connection_state::RTCPeerConnectionState,
	rtcp::{
		payload_feedbacks::picture_loss_indication::PictureLossIndication,
		transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack},
	},
	rtp_transceiver::{
		rtp_codec::RTPCodecType, rtp_transceiver_direction::RTCRtpTransceiverDirection,
		RTCRtpTransceiverInit,
	},
	track::track_remote::TrackRemote,
};

use crate::{
	depacketize::{AssemblyEvent, FrameAssembler},
	frame::{parse_audio_packet, VideoCodec},
	peer::{build_api, Peer},
	publisher::abort_all,
};

/// What a [`ViewerBot`] asks to receive.
#[derive(Clone, Debug)]
pub struct ViewerOptions {
	/// Offer a receive-only audio (Opus) m-line. Default on.
	pub audio: bool,
	/// Offer a receive-only video (VP8 and H264) m-line. Default on.
	pub video: bool,
	/// Deliver a video packet that arrives again rather than drop it as an SRTP replay, so
	/// that a test can see the SFU answer a NACK for a packet that was not lost. Default off.
	pub accept_repeats: bool,
}

impl Default for ViewerOptions {
	fn default() -> Self {
		Self { audio: true, video: true, accept_repeats: false }
	}
}

/// A snapshot of what a viewer received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewerStats {
	/// Video RTP packets received (padding-only packets included).
	pub video_packets: u64,
	/// Video RTP payload bytes received.
	pub video_bytes: u64,
	/// Video packets with no payload (padding only).
	pub padding_packets: u64,
	/// Audio RTP packets received.
	pub audio_packets: u64,
	/// Audio RTP payload bytes received.
	pub audio_bytes: u64,
	/// Audio packets whose payload was not a bot trailer.
	pub audio_corrupt: u64,
	/// The key flag of the first complete video frame.
	pub first_video_frame_is_keyframe: Option<bool>,
	/// Complete, valid video frames (reassembled up to the marker bit).
	pub frames_complete: u64,
	/// Of those, keyframes.
	pub keyframes_received: u64,
	/// Frames abandoned because a packet was missing or reordered, or joined mid-frame.
	pub frames_incomplete: u64,
	/// Frames that reassembled but failed the format check (bad magic, key flag, filler).
	pub frames_corrupt: u64,
	/// Complete frames whose number was not greater than the previous one's.
	pub frames_out_of_order: u64,
	/// Frame numbers skipped between consecutive complete frames (frames lost or dropped).
	pub frames_skipped: u64,
	/// Video RTP sequence-number discontinuities on arrival (webrtc-rs does not reorder; after
	/// NACK repair a retransmission shows as two discontinuities).
	pub sequence_gaps: u64,
	/// Audio RTP sequence-number discontinuities on arrival.
	pub audio_sequence_gaps: u64,
	/// The number of the last complete video frame.
	pub last_frame_number: Option<u32>,
	/// The simulcast layer of the last complete video frame (0 = q, 1 = h, 2 = f).
	pub last_layer: Option<u8>,
	/// The number of the last valid audio packet.
	pub last_audio_number: Option<u32>,
	/// When the first RTP packet (audio or video) arrived.
	pub first_packet_at: Option<Instant>,
	/// When the last RTP packet (audio or video) arrived.
	pub last_packet_at: Option<Instant>,
	/// When the last complete video frame arrived.
	pub last_frame_at: Option<Instant>,
	/// The sequence number of the last video packet.
	pub last_video_seq: Option<u16>,
	/// Video packets whose sequence number was not after the highest one's so far (repeats,
	/// such as answers to NACKs for packets that had arrived, and late packets).
	pub repeated_video_packets: u64,
	/// The SSRC of the (latest) video track.
	pub video_ssrc: Option<u32>,
	/// The SSRC of the (latest) audio track.
	pub audio_ssrc: Option<u32>,
	/// The negotiated video MIME type, e.g. "video/VP8".
	pub video_codec: Option<String>,
	/// The negotiated audio MIME type.
	pub audio_codec: Option<String>,
	/// Remote tracks seen (webrtc-rs fires one per SSRC).
	pub tracks: u32,
}

/// A WebRTC viewer built on webrtc-rs: the offerer of a receive-only audio and video session
/// that checks the bot media it receives.
pub struct ViewerBot {
	peer: Peer,
	stats: Arc<watch::Sender<ViewerStats>>,
	tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl ViewerBot {
	/// Receive-only audio and video transceivers (VP8, H264 and Opus offered), full ICE
	/// gathering; returns the bot and its offer SDP.
	pub async fn new() -> anyhow::Result<(Self, String)> {
		Self::with_options(ViewerOptions::default()).await
	}

	/// As [`ViewerBot::new`], choosing the m-lines.
	pub async fn with_options(opts: ViewerOptions) -> anyhow::Result<(Self, String)> {
		anyhow::ensure!(opts.audio || opts.video, "a viewer needs audio or video");
		let video: &[VideoCodec] =
			if opts.video { &[VideoCodec::Vp8, VideoCodec::H264] } else { &[] };
		let api = build_api(video, opts.audio, !opts.accept_repeats)?;
		let peer = Peer::new(&api).await?;
		let recvonly = || {
			Some(RTCRtpTransceiverInit {
				direction: RTCRtpTransceiverDirection::Recvonly,
				send_encodings: vec![],
			})
		};
		if opts.audio {
			peer.pc
				.add_transceiver_from_kind(RTPCodecType::Audio, recvonly())
				.await
				.context("adding the audio transceiver")?;
		}
		if opts.video {
			peer.pc
				.add_transceiver_from_kind(RTPCodecType::Video, recvonly())
				.await
				.context("adding the video transceiver")?;
		}

		let bot = Self::reading(peer);
		let offer = bot.peer.offer().await?;
		Ok((bot, offer))
	}

	/// A viewer that answers a server's offer (Janus offers to its subscribers) rather than
	/// offering: VP8, H264 and Opus accepted, full ICE gathering; returns the bot and its
	/// answer SDP.
	pub async fn answer(offer: &str) -> anyhow::Result<(Self, String)> {
		let api = build_api(&[VideoCodec::Vp8, VideoCodec::H264], true, true)?;
		let bot = Self::reading(Peer::new(&api).await?);
		let answer = bot.peer.answer(offer).await?;
		Ok((bot, answer))
	}

	/// The bot around `peer`, reading and checking every track it will receive.
	fn reading(peer: Peer) -> Self {
		let stats = Arc::new(watch::Sender::new(ViewerStats::default()));
		let tasks = Arc::new(Mutex::new(Vec::new()));
		{
			let (stats, tasks) = (Arc::clone(&stats), Arc::clone(&tasks));
			peer.pc.on_track(Box::new(move |track, _, _| {
				let task = tokio::spawn(read_track(track, Arc::clone(&stats)));
				tasks.lock().unwrap_or_else(|e| e.into_inner()).push(task);
				Box::pin(async {})
			}));
		}
		Self { peer, stats, tasks }
	}

	/// Sets the SFU's answer.
	pub async fn accept_answer(&self, sdp: &str) -> anyhow::Result<()> {
		self.peer.accept_answer(sdp).await
	}

	/// Waits until ICE and DTLS are connected.
	pub async fn wait_connected(&self, timeout: Duration) -> anyhow::Result<()> {
		self.peer.wait_connected(timeout).await
	}

	/// The peer connection state, for diagnostics.
	pub fn connection_state(&self) -> RTCPeerConnectionState {
		self.peer.state()
	}

	/// A snapshot of the counters.
	pub fn stats(&self) -> ViewerStats {
		self.stats.borrow().clone()
	}

	/// Waits until `done` holds for the stats and returns them; on timeout the error shows the
	/// stats and `what` was awaited.
	pub async fn wait_until(
		&self,
		what: &str,
		timeout: Duration,
		done: impl FnMut(&ViewerStats) -> bool,
	) -> anyhow::Result<ViewerStats> {
		let mut rx = self.stats.subscribe();
		let res = match tokio::time::timeout(timeout, rx.wait_for(done)).await {
			Ok(Ok(s)) => Ok(s.clone()),
			Ok(Err(_)) => Err(anyhow::anyhow!("viewer stats closed while waiting for {what}")),
			Err(_) => Err(anyhow::anyhow!(
				"timed out after {timeout:?} waiting for {what}: {:?}",
				self.stats()
			)),
		};
		res
	}

	/// Waits until at least `n` complete frames have arrived.
	pub async fn wait_for_frames(&self, n: u64, timeout: Duration) -> anyhow::Result<ViewerStats> {
		self.wait_until(&format!("{n} frames"), timeout, |s| s.frames_complete >= n).await
	}

	/// Waits until at least `n` keyframes have arrived.
	pub async fn wait_for_keyframes(
		&self,
		n: u64,
		timeout: Duration,
	) -> anyhow::Result<ViewerStats> {
		self.wait_until(&format!("{n} keyframes"), timeout, |s| s.keyframes_received >= n).await
	}

	/// Sends a PLI for the current video track, as a browser does after loss.
	pub async fn request_keyframe(&self) -> anyhow::Result<()> {
		let media_ssrc = self.stats().video_ssrc.context("no video track yet")?;
		self.peer
			.pc
			.write_rtcp(&[Box::new(PictureLossIndication { sender_ssrc: 0, media_ssrc })])
			.await
			.context("sending PLI")?;
		Ok(())
	}

	/// Sends a generic NACK (RFC 4585) for these video sequence numbers, as a receiver does
	/// for packets it missed.
	pub async fn nack(&self, seqs: &[u16]) -> anyhow::Result<()> {
		let media_ssrc = self.stats().video_ssrc.context("no video track yet")?;
		let nacks = seqs.iter().map(|&packet_id| NackPair { packet_id, lost_packets: 0 }).collect();
		self.peer
			.pc
			.write_rtcp(&[Box::new(TransportLayerNack { sender_ssrc: 0, media_ssrc, nacks })])
			.await
			.context("sending NACK")?;
		Ok(())
	}

	/// Stops reading and closes the peer connection.
	pub async fn close(&self) -> anyhow::Result<()> {
		abort_all(&self.tasks);
		self.peer.close().await
	}
}

impl Drop for ViewerBot {
	fn drop(&mut self) {
		abort_all(&self.tasks);
	}
}

/// Reads one remote track until it ends, updating the stats per packet.
async fn read_track(track: Arc<TrackRemote>, stats: Arc<watch::Sender<ViewerStats>>) {
	let kind = track.kind();
	let ssrc = track.ssrc();
	let mime = track.codec().capability.mime_type;
	tracing::debug!(?kind, ssrc, %mime, rid = track.rid(), "viewer track");
	stats.send_modify(|s| {
		s.tracks += 1;
		match kind {
			RTPCodecType::Video => {
				s.video_ssrc = Some(ssrc);
				s.video_codec = Some(mime.clone());
			},
			_ => {
				s.audio_ssrc = Some(ssrc);
				s.audio_codec = Some(mime.clone());
			},
		}
	});
	let mut assembler = VideoCodec::from_mime_type(&mime).map(FrameAssembler::new);
	let mut last_seq: Option<u16> = None;
	let mut highest_seq: Option<u16> = None;
	let mut errors = 0;
	loop {
		let pkt = match track.read_rtp().await {
			Ok((pkt, _)) => pkt,
			Err(webrtc::Error::ErrClosedPipe) => break,
			Err(e) => {
				errors += 1;
				tracing::debug!(error = %e, ssrc, "viewer RTP read");
				if errors > 50 {
					break;
				}
				continue;
			},
		};
		errors = 0;
		let now = Instant::now();
		let seq = pkt.header.sequence_number;
		let gap = last_seq.is_some_and(|l| l.wrapping_add(1) != seq);
		let repeat = highest_seq.is_some_and(|h| seq.wrapping_sub(h) as i16 <= 0);
		last_seq = Some(seq);
		if !repeat {
			highest_seq = Some(seq);
		}
		let payload = &pkt.payload;
		match kind {
			RTPCodecType::Video => {
				let events = match assembler.as_mut() {
					Some(a) => a.push(seq, pkt.header.timestamp, pkt.header.marker, payload),
					None => Vec::new(),
				};
				stats.send_modify(|s| {
					touch(s, now);
					s.video_packets += 1;
					s.video_bytes += payload.len() as u64;
					s.padding_packets += u64::from(payload.is_empty());
					s.sequence_gaps += u64::from(gap);
					s.repeated_video_packets += u64::from(repeat);
					if !repeat {
						s.last_video_seq = Some(seq);
					}
					for e in &events {
						video_event(s, *e, now);
					}
				});
			},
			_ => {
				let parsed = parse_audio_packet(payload);
				stats.send_modify(|s| {
					touch(s, now);
					s.audio_packets += 1;
					s.audio_bytes += payload.len() as u64;
					s.audio_sequence_gaps += u64::from(gap);
					match parsed {
						Ok(t) => s.last_audio_number = Some(t.number),
						Err(_) => s.audio_corrupt += 1,
					}
				});
			},
		}
	}
	tracing::debug!(ssrc, "viewer track ended");
}

fn touch(s: &mut ViewerStats, now: Instant) {
	s.first_packet_at.get_or_insert(now);
	s.last_packet_at = Some(now);
}

fn video_event(s: &mut ViewerStats, e: AssemblyEvent, now: Instant) {
	match e {
		AssemblyEvent::Incomplete => s.frames_incomplete += 1,
		AssemblyEvent::Corrupt(err) => {
			tracing::debug!(?err, "corrupt frame");
			s.frames_corrupt += 1;
		},
		AssemblyEvent::Complete(t) => {
			s.frames_complete += 1;
			s.keyframes_received += u64::from(t.keyframe);
			s.first_video_frame_is_keyframe.get_or_insert(t.keyframe);
			if let Some(last) = s.last_frame_number {
				if t.number <= last {
					s.frames_out_of_order += 1;
				} else {
					s.frames_skipped += u64::from(t.number - last - 1);
				}
			}
			s.last_frame_number = Some(t.number);
			s.last_layer = Some(t.layer);
			s.last_frame_at = Some(now);
		},
	}
}
