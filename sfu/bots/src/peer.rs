//! The webrtc-rs plumbing both bots share: API construction, offer with full ICE gathering,
//! answer, connection state.

use std::{sync::Arc, time::Duration};

use anyhow::{bail, Context};
use tokio::sync::watch;
use webrtc::{
	api::{
		interceptor_registry::register_default_interceptors,
		media_engine::{MediaEngine, MIME_TYPE_OPUS},
		setting_engine::SettingEngine,
		APIBuilder, API,
	},
	ice::{mdns::MulticastDnsMode, network_type::NetworkType},
	interceptor::registry::Registry,
	peer_connection::{
		configuration::RTCConfiguration, peer_connection_state::RTCPeerConnectionState,
		sdp::session_description::RTCSessionDescription, RTCPeerConnection,
	},
	rtp_transceiver::{
		rtp_codec::{
			RTCRtpCodecCapability, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability,
			RTPCodecType,
		},
		RTCPFeedback,
	},
	sdp::extmap::{SDES_MID_URI, SDES_RTP_STREAM_ID_URI},
};

use crate::frame::VideoCodec;

/// How long full ICE gathering may take. Host candidates only, so it is quick; the bound only
/// protects against a stuck gatherer.
const GATHER_TIMEOUT: Duration = Duration::from_secs(10);

/// Payload types the bots offer. The answerer picks; these only need to be distinct.
pub(crate) const PT_OPUS: u8 = 111;
pub(crate) const PT_VP8: u8 = 96;
pub(crate) const PT_H264: u8 = 102;
pub(crate) const PT_H264_BASELINE: u8 = 108;

/// The fmtp of the H264 the publisher sends: Constrained Baseline 3.1, the profile every browser
/// and str0m accept.
pub(crate) const H264_FMTP: &str =
	"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
/// Plain Baseline, which some answerers prefer; only the viewer offers it.
const H264_BASELINE_FMTP: &str =
	"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f";

/// FIR on top of what the default interceptors register ("nack", "nack pli", "transport-cc"),
/// which they add to every registered video codec; listing those here too would duplicate them.
fn video_feedback() -> Vec<RTCPFeedback> {
	vec![RTCPFeedback { typ: "ccm".into(), parameter: "fir".into() }]
}

/// The Opus codec (48 kHz stereo, as SDP always writes it).
pub(crate) fn opus_capability() -> RTCRtpCodecCapability {
	RTCRtpCodecCapability {
		mime_type: MIME_TYPE_OPUS.to_owned(),
		clock_rate: 48_000,
		channels: 2,
		sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
		rtcp_feedback: vec![],
	}
}

/// The capability of a video codec as the publisher sends it.
pub(crate) fn video_capability(codec: VideoCodec) -> RTCRtpCodecCapability {
	RTCRtpCodecCapability {
		mime_type: codec.mime_type().to_owned(),
		clock_rate: 90_000,
		channels: 0,
		sdp_fmtp_line: match codec {
			VideoCodec::Vp8 => String::new(),
			VideoCodec::H264 => H264_FMTP.to_owned(),
		},
		rtcp_feedback: video_feedback(),
	}
}

/// Builds a webrtc-rs API offering exactly `video` (plus Opus when `audio`), with the default
/// interceptors (NACK generator and responder, sender and receiver reports, TWCC receiver).
///
/// `replay_protection` off delivers a packet that arrives again (a retransmission of one
/// already received) instead of dropping it as an SRTP replay.
pub(crate) fn build_api(
	video: &[VideoCodec],
	audio: bool,
	replay_protection: bool,
) -> anyhow::Result<API> {
	let mut m = MediaEngine::default();
	if audio {
		m.register_codec(
			RTCRtpCodecParameters {
				capability: opus_capability(),
				payload_type: PT_OPUS,
				..Default::default()
			},
			RTPCodecType::Audio,
		)
		.context("registering Opus")?;
	}
	for &codec in video {
		let pt = match codec {
			VideoCodec::Vp8 => PT_VP8,
			VideoCodec::H264 => PT_H264,
		};
		m.register_codec(
			RTCRtpCodecParameters {
				capability: video_capability(codec),
				payload_type: pt,
				..Default::default()
			},
			RTPCodecType::Video,
		)
		.with_context(|| format!("registering {codec:?}"))?;
		// The viewer also accepts plain Baseline, in case the answerer only matches that.
		if codec == VideoCodec::H264 && video.len() > 1 {
			let mut capability = video_capability(codec);
			capability.sdp_fmtp_line = H264_BASELINE_FMTP.to_owned();
			m.register_codec(
				RTCRtpCodecParameters {
					capability,
					payload_type: PT_H264_BASELINE,
					..Default::default()
				},
				RTPCodecType::Video,
			)
			.context("registering H264 Baseline")?;
		}
	}
	// mid on both kinds (SFUs route by it); rid on video, which simulcast needs.
	let mut exts =
		vec![(SDES_MID_URI, RTPCodecType::Video), (SDES_RTP_STREAM_ID_URI, RTPCodecType::Video)];
	if audio {
		exts.push((SDES_MID_URI, RTPCodecType::Audio));
	}
	for (uri, kind) in exts {
		m.register_header_extension(
			RTCRtpHeaderExtensionCapability { uri: uri.to_owned() },
			kind,
			None,
		)
		.with_context(|| format!("registering header extension {uri}"))?;
	}
	let registry = register_default_interceptors(Registry::new(), &mut m)
		.context("registering interceptors")?;

	let mut s = SettingEngine::default();
	// No mDNS: host candidates carry plain IPs, and nothing listens on or queries 224.0.0.251.
	s.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
	// IPv4 UDP only; the SFU's candidate is IPv4.
	s.set_network_types(vec![NetworkType::Udp4]);
	// Keep 127.0.0.1: tests run the SFU on loopback.
	s.set_include_loopback_candidate(true);
	s.disable_srtp_replay_protection(!replay_protection);

	Ok(APIBuilder::new()
		.with_media_engine(m)
		.with_interceptor_registry(registry)
		.with_setting_engine(s)
		.build())
}

/// A peer connection plus a watch of its state.
pub(crate) struct Peer {
	pub(crate) pc: Arc<RTCPeerConnection>,
	state: watch::Receiver<RTCPeerConnectionState>,
}

impl Peer {
	/// Creates the peer connection. No ICE servers: no STUN or TURN, host candidates only.
	pub(crate) async fn new(api: &API) -> anyhow::Result<Self> {
		let pc = Arc::new(
			api.new_peer_connection(RTCConfiguration::default())
				.await
				.context("creating the peer connection")?,
		);
		let (tx, state) = watch::channel(RTCPeerConnectionState::New);
		pc.on_peer_connection_state_change(Box::new(move |s| {
			tracing::debug!(state = %s, "peer connection state");
			tx.send_replace(s);
			Box::pin(async {})
		}));
		Ok(Self { pc, state })
	}

	/// Creates the offer, sets it, waits for ICE gathering to finish and returns the local SDP
	/// with all candidates in it.
	pub(crate) async fn offer(&self) -> anyhow::Result<String> {
		let offer = self.pc.create_offer(None).await.context("creating the offer")?;
		self.set_local_gathered(offer).await
	}

	/// Sets the remote offer, answers it, waits for ICE gathering to finish and returns the
	/// local answer with all candidates in it (for servers that offer, as Janus does to its
	/// subscribers).
	pub(crate) async fn answer(&self, offer: &str) -> anyhow::Result<String> {
		let offer = RTCSessionDescription::offer(offer.to_owned()).context("parsing the offer")?;
		self.pc.set_remote_description(offer).await.context("setting the remote offer")?;
		let answer = self.pc.create_answer(None).await.context("creating the answer")?;
		self.set_local_gathered(answer).await
	}

	/// Sets `local`, waits for ICE gathering to finish and returns the local SDP with all
	/// candidates in it.
	async fn set_local_gathered(&self, local: RTCSessionDescription) -> anyhow::Result<String> {
		let mut gathered = self.pc.gathering_complete_promise().await;
		self.pc.set_local_description(local).await.context("setting the local description")?;
		tokio::time::timeout(GATHER_TIMEOUT, gathered.recv())
			.await
			.context("ICE gathering did not complete")?;
		let local = self.pc.local_description().await.context("no local description")?;
		Ok(local.sdp)
	}

	/// Sets the remote answer.
	pub(crate) async fn accept_answer(&self, sdp: &str) -> anyhow::Result<()> {
		let answer = RTCSessionDescription::answer(sdp.to_owned()).context("parsing the answer")?;
		self.pc.set_remote_description(answer).await.context("setting the remote answer")
	}

	/// Waits for the connected state (ICE and DTLS done); fails early on failed or closed.
	pub(crate) async fn wait_connected(&self, timeout: Duration) -> anyhow::Result<()> {
		let mut rx = self.state.clone();
		let state = tokio::time::timeout(
			timeout,
			rx.wait_for(|s| {
				matches!(
					s,
					RTCPeerConnectionState::Connected
						| RTCPeerConnectionState::Failed
						| RTCPeerConnectionState::Closed
				)
			}),
		)
		.await
		.with_context(|| {
			format!("not connected after {timeout:?} (state {})", *self.state.borrow())
		})?
		.context("peer connection dropped")?;
		match *state {
			RTCPeerConnectionState::Connected => Ok(()),
			s => bail!("peer connection {s} before connecting"),
		}
	}

	/// The current connection state.
	pub(crate) fn state(&self) -> RTCPeerConnectionState {
		*self.state.borrow()
	}

	/// A watch of the connection state, for tasks that must wait for the connection.
	pub(crate) fn state_watch(&self) -> watch::Receiver<RTCPeerConnectionState> {
		self.state.clone()
	}

	/// Closes the peer connection.
	pub(crate) async fn close(&self) -> anyhow::Result<()> {
		self.pc.close().await.context("closing the peer connection")
	}
}

impl Drop for Peer {
	fn drop(&mut self) {
		// webrtc-rs does not close on drop: its sockets and tasks would outlive the bot.
		if let Ok(rt) = tokio::runtime::Handle::try_current() {
			let pc = Arc::clone(&self.pc);
			rt.spawn(async move {
				let _ = pc.close().await;
			});
		}
	}
}
