//! The bots against each other through a test-only webrtc-rs *answering* relay (both bots are
//! offerers): the relay answers the publisher's offer and a viewer's offer and forwards the
//! publisher's RTP to the viewer through `TrackLocalStaticRTP`s. No SFU involved.

use std::{
	collections::HashMap,
	sync::{Arc, Mutex},
	time::Duration,
};

use anyhow::Context;
use vilokanam_media_bots::{
	webrtc::{
		self,
		api::{
			interceptor_registry::register_default_interceptors,
			media_engine::{MediaEngine, MIME_TYPE_OPUS},
			setting_engine::SettingEngine,
			APIBuilder, API,
		},
		ice::{mdns::MulticastDnsMode, network_type::NetworkType},
		interceptor::registry::Registry,
		peer_connection::{
			configuration::RTCConfiguration, sdp::session_description::RTCSessionDescription,
			RTCPeerConnection,
		},
		rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication,
		rtp_transceiver::rtp_codec::{
			RTCRtpCodecCapability, RTCRtpHeaderExtensionCapability, RTPCodecType,
		},
		sdp::extmap::{SDES_MID_URI, SDES_RTP_STREAM_ID_URI},
		track::{
			track_local::{
				track_local_static_rtp::TrackLocalStaticRTP, TrackLocal, TrackLocalWriter,
			},
			track_remote::TrackRemote,
		},
	},
	PublisherBot, PublisherOptions, VideoCodec, ViewerBot,
};

const CONNECT: Duration = Duration::from_secs(10);
/// See `connect`.
const VIEWER_SETTLE: Duration = Duration::from_millis(200);

fn init_tracing() {
	let _ = tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
		)
		.with_test_writer()
		.try_init();
}

/// `lite`: answer as an ICE-lite agent with a single host candidate on 127.0.0.1, as the str0m
/// SFU does.
fn relay_api(lite: bool) -> anyhow::Result<API> {
	let mut m = MediaEngine::default();
	m.register_default_codecs()?;
	for (uri, kind) in [
		(SDES_MID_URI, RTPCodecType::Video),
		(SDES_MID_URI, RTPCodecType::Audio),
		(SDES_RTP_STREAM_ID_URI, RTPCodecType::Video),
	] {
		m.register_header_extension(
			RTCRtpHeaderExtensionCapability { uri: uri.to_owned() },
			kind,
			None,
		)?;
	}
	let registry = register_default_interceptors(Registry::new(), &mut m)?;
	let mut s = SettingEngine::default();
	s.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
	s.set_network_types(vec![NetworkType::Udp4]);
	s.set_include_loopback_candidate(true);
	if lite {
		s.set_lite(true);
		s.set_ip_filter(Box::new(|ip| ip.is_loopback()));
	}
	Ok(APIBuilder::new()
		.with_media_engine(m)
		.with_interceptor_registry(registry)
		.with_setting_engine(s)
		.build())
}

/// A minimal answering SFU stand-in built on webrtc-rs.
struct Relay {
	api: API,
	publisher: Arc<RTCPeerConnection>,
	/// The publisher's incoming tracks, by rid ("" without simulcast) and kind.
	tracks: Arc<Mutex<Vec<Arc<TrackRemote>>>>,
	/// Video packets received from the publisher, per rid.
	packets_by_rid: Arc<Mutex<HashMap<String, u64>>>,
	video_out: Arc<TrackLocalStaticRTP>,
	audio_out: Arc<TrackLocalStaticRTP>,
	viewers: Mutex<Vec<Arc<RTCPeerConnection>>>,
}

impl Relay {
	/// `forward_rid`: which simulcast layer goes to viewers (`None`: the only one).
	async fn new(
		video: VideoCodec,
		forward_rid: Option<&'static str>,
		lite: bool,
	) -> anyhow::Result<Self> {
		let api = relay_api(lite)?;
		let publisher = Arc::new(api.new_peer_connection(RTCConfiguration::default()).await?);
		let video_out = Arc::new(TrackLocalStaticRTP::new(
			RTCRtpCodecCapability {
				mime_type: video.mime_type().to_owned(),
				clock_rate: 90_000,
				sdp_fmtp_line: match video {
					VideoCodec::Vp8 => String::new(),
					VideoCodec::H264 => {
						"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
							.to_owned()
					},
				},
				..Default::default()
			},
			"video".to_owned(),
			"relay".to_owned(),
		));
		let audio_out = Arc::new(TrackLocalStaticRTP::new(
			RTCRtpCodecCapability {
				mime_type: MIME_TYPE_OPUS.to_owned(),
				clock_rate: 48_000,
				channels: 2,
				..Default::default()
			},
			"audio".to_owned(),
			"relay".to_owned(),
		));
		let tracks = Arc::new(Mutex::new(Vec::new()));
		let packets_by_rid = Arc::new(Mutex::new(HashMap::new()));
		{
			let (tracks, packets_by_rid) = (Arc::clone(&tracks), Arc::clone(&packets_by_rid));
			let (video_out, audio_out) = (Arc::clone(&video_out), Arc::clone(&audio_out));
			publisher.on_track(Box::new(move |track, _, _| {
				tracks.lock().unwrap().push(Arc::clone(&track));
				let out = match track.kind() {
					RTPCodecType::Audio => Some(Arc::clone(&audio_out)),
					_ if forward_rid.is_none_or(|r| r == track.rid()) => {
						Some(Arc::clone(&video_out))
					},
					_ => None,
				};
				let packets_by_rid = Arc::clone(&packets_by_rid);
				tokio::spawn(async move {
					let video = track.kind() == RTPCodecType::Video;
					let rid = track.rid().to_owned();
					while let Ok((mut pkt, _)) = track.read_rtp().await {
						if video {
							*packets_by_rid.lock().unwrap().entry(rid.clone()).or_default() += 1;
						}
						if let Some(out) = &out {
							// The publisher's extension ids mean nothing on the viewer's leg.
							pkt.header.extension = false;
							pkt.header.extensions.clear();
							let _ = out.write_rtp(&pkt).await;
						}
					}
				});
				Box::pin(async {})
			}));
		}
		Ok(Self {
			api,
			publisher,
			tracks,
			packets_by_rid,
			video_out,
			audio_out,
			viewers: Mutex::new(Vec::new()),
		})
	}

	async fn answer(pc: &RTCPeerConnection, offer: String) -> anyhow::Result<String> {
		pc.set_remote_description(RTCSessionDescription::offer(offer)?).await?;
		let answer = pc.create_answer(None).await?;
		let mut gathered = pc.gathering_complete_promise().await;
		pc.set_local_description(answer).await?;
		let _ = gathered.recv().await;
		let sdp = pc.local_description().await.context("no local description")?.sdp;
		tracing::debug!(%sdp, "relay answer");
		Ok(sdp)
	}

	async fn answer_publisher(&self, offer: String) -> anyhow::Result<String> {
		Self::answer(&self.publisher, offer).await
	}

	async fn answer_viewer(&self, offer: String) -> anyhow::Result<String> {
		let pc = Arc::new(self.api.new_peer_connection(RTCConfiguration::default()).await?);
		for track in [&self.audio_out, &self.video_out] {
			let sender =
				pc.add_track(Arc::clone(track) as Arc<dyn TrackLocal + Send + Sync>).await?;
			tokio::spawn(async move { while sender.read_rtcp().await.is_ok() {} });
		}
		let answer = Self::answer(&pc, offer).await?;
		self.viewers.lock().unwrap().push(pc);
		Ok(answer)
	}

	/// A viewer leg the relay offers (as Janus does to subscribers): the offer, and the leg to
	/// set the viewer's answer on.
	async fn offer_viewer(&self) -> anyhow::Result<(Arc<RTCPeerConnection>, String)> {
		let pc = Arc::new(self.api.new_peer_connection(RTCConfiguration::default()).await?);
		for track in [&self.audio_out, &self.video_out] {
			let sender =
				pc.add_track(Arc::clone(track) as Arc<dyn TrackLocal + Send + Sync>).await?;
			tokio::spawn(async move { while sender.read_rtcp().await.is_ok() {} });
		}
		let offer = pc.create_offer(None).await?;
		let mut gathered = pc.gathering_complete_promise().await;
		pc.set_local_description(offer).await?;
		let _ = gathered.recv().await;
		let sdp = pc.local_description().await.context("no local description")?.sdp;
		self.viewers.lock().unwrap().push(Arc::clone(&pc));
		Ok((pc, sdp))
	}

	/// The publisher's incoming video track with this rid ("" without simulcast).
	async fn video_track(&self, rid: &str) -> anyhow::Result<Arc<TrackRemote>> {
		for _ in 0..100 {
			let found = self
				.tracks
				.lock()
				.unwrap()
				.iter()
				.find(|t| t.kind() == RTPCodecType::Video && t.rid() == rid)
				.cloned();
			if let Some(t) = found {
				return Ok(t);
			}
			tokio::time::sleep(Duration::from_millis(50)).await;
		}
		anyhow::bail!("no video track with rid {rid:?}")
	}

	async fn send_pli(&self, rid: &str) -> anyhow::Result<()> {
		let media_ssrc = self.video_track(rid).await?.ssrc();
		self.publisher
			.write_rtcp(&[Box::new(PictureLossIndication { sender_ssrc: 0, media_ssrc })])
			.await?;
		Ok(())
	}

	async fn close(&self) {
		let _ = self.publisher.close().await;
		let viewers: Vec<_> = self.viewers.lock().unwrap().drain(..).collect();
		for pc in viewers {
			let _ = pc.close().await;
		}
	}
}

/// Connects a publisher and a viewer through a relay; nothing is sent until `start`.
async fn connect(
	opts: PublisherOptions,
	forward_rid: Option<&'static str>,
	lite: bool,
) -> anyhow::Result<(Relay, PublisherBot, ViewerBot)> {
	let relay = Relay::new(opts.video, forward_rid, lite).await?;
	let (publisher, offer) = PublisherBot::new(opts).await?;
	tracing::debug!(%offer, "publisher offer");
	let answer = relay.answer_publisher(offer).await?;
	if lite {
		// What an ICE-lite SFU answers with: a=ice-lite and one loopback host candidate.
		assert!(answer.contains("a=ice-lite"), "{answer}");
		let candidates: Vec<&str> =
			answer.lines().filter(|l| l.starts_with("a=candidate:")).collect();
		assert!(
			!candidates.is_empty() && candidates.iter().all(|c| c.contains(" 127.0.0.1 ")),
			"{candidates:?}"
		);
	}
	publisher.accept_answer(&answer).await?;
	let (viewer, offer) = ViewerBot::new().await?;
	let answer = relay.answer_viewer(offer).await?;
	viewer.accept_answer(&answer).await?;
	publisher.wait_connected(CONNECT).await?;
	viewer.wait_connected(CONNECT).await?;
	// A webrtc-rs viewer reports "connected" before its receivers are started and drops what
	// comes before ("incoming SSRC failed Simulcast probing"): give it the same settling time
	// the SFU gives every viewer (its START_DELAY), or the first keyframe can be lost.
	tokio::time::sleep(VIEWER_SETTLE).await;
	Ok((relay, publisher, viewer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp8_frames_audio_and_pli() -> anyhow::Result<()> {
	init_tracing();
	// Keyframes only on request, so the PLI's keyframe is unambiguous.
	let opts = PublisherOptions { keyframe_interval: 0, ..Default::default() };
	let (relay, publisher, viewer) = connect(opts, None, true).await?;
	publisher.start();

	let s = viewer.wait_for_frames(60, Duration::from_secs(6)).await?;
	assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
	assert_eq!(s.frames_out_of_order, 0, "{s:?}");
	assert_eq!(s.frames_corrupt, 0, "{s:?}");
	assert_eq!(s.frames_incomplete, 0, "{s:?}");
	assert_eq!(s.keyframes_received, 1, "{s:?}");
	assert_eq!(s.video_codec.as_deref(), Some("video/VP8"));
	// 1.4 Mbps at 30 fps: ~5.8 kB inter frames, several packets each.
	assert!(s.video_packets >= 4 * s.frames_complete, "{s:?}");
	let s = viewer.wait_until("audio", Duration::from_secs(2), |s| s.audio_packets >= 50).await?;
	assert_eq!(s.audio_codec.as_deref(), Some("audio/opus"));
	assert_eq!(s.audio_corrupt, 0, "{s:?}");

	// A PLI from the answerer: the publisher counts it and sends a keyframe promptly.
	relay.send_pli("").await?;
	let t0 = std::time::Instant::now();
	let s = viewer.wait_for_keyframes(2, Duration::from_millis(500)).await?;
	tracing::info!(elapsed = ?t0.elapsed(), "keyframe after PLI");
	let p = publisher.stats();
	assert_eq!(p.plis_received, 1, "{p:?}");
	assert_eq!(p.keyframes_sent, 2, "{p:?}");
	assert_eq!(s.frames_out_of_order, 0, "{s:?}");
	assert_eq!(s.frames_corrupt, 0, "{s:?}");
	assert!(p.frames_sent >= s.frames_complete && p.packets_sent > 0, "{p:?}");
	assert!(p.audio_packets_sent > 0, "{p:?}");

	publisher.close().await?;
	viewer.close().await?;
	relay.close().await;
	Ok(())
}

/// `ViewerBot::answer`: a viewer of a server that offers (Janus' subscribers, in the
/// side-by-side benchmark) receives and checks the stream as an offering viewer does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_answers_a_server_that_offers() -> anyhow::Result<()> {
	init_tracing();
	let opts = PublisherOptions { keyframe_interval: 30, ..Default::default() };
	let relay = Relay::new(opts.video, None, false).await?;
	let (publisher, offer) = PublisherBot::new(opts).await?;
	publisher.accept_answer(&relay.answer_publisher(offer).await?).await?;
	let (leg, offer) = relay.offer_viewer().await?;
	let (viewer, answer) = ViewerBot::answer(&offer).await?;
	assert!(answer.contains("a=recvonly"), "{answer}");
	leg.set_remote_description(RTCSessionDescription::answer(answer)?).await?;
	publisher.wait_connected(CONNECT).await?;
	viewer.wait_connected(CONNECT).await?;
	tokio::time::sleep(VIEWER_SETTLE).await;
	publisher.start();
	let s = viewer.wait_for_frames(60, Duration::from_secs(6)).await?;
	assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
	assert_eq!((s.frames_out_of_order, s.frames_corrupt), (0, 0), "{s:?}");
	let s = viewer.wait_until("audio", Duration::from_secs(2), |s| s.audio_packets >= 50).await?;
	assert_eq!(s.audio_corrupt, 0, "{s:?}");
	publisher.close().await?;
	viewer.close().await?;
	relay.close().await;
	Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_periodic_keyframes() -> anyhow::Result<()> {
	init_tracing();
	let opts = PublisherOptions {
		video: VideoCodec::H264,
		keyframe_interval: 15,
		audio: false,
		..Default::default()
	};
	let (relay, publisher, viewer) = connect(opts, None, false).await?;
	publisher.start();
	let s = viewer.wait_for_frames(60, Duration::from_secs(6)).await?;
	assert_eq!(s.video_codec.as_deref(), Some("video/H264"));
	assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
	assert_eq!(s.frames_out_of_order, 0, "{s:?}");
	assert_eq!(s.frames_corrupt, 0, "{s:?}");
	assert_eq!(s.frames_incomplete, 0, "{s:?}");
	// Frames 0, 15, 30, 45 at least.
	assert!(s.keyframes_received >= 4, "{s:?}");
	assert_eq!(s.audio_packets, 0);

	relay.send_pli("").await?;
	let before = s.keyframes_received;
	tokio::time::sleep(Duration::from_millis(300)).await;
	assert_eq!(publisher.stats().plis_received, 1);
	assert!(viewer.stats().keyframes_received > before);

	publisher.close().await?;
	viewer.close().await?;
	relay.close().await;
	Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp8_simulcast() -> anyhow::Result<()> {
	init_tracing();
	let opts = PublisherOptions { simulcast: true, keyframe_interval: 0, ..Default::default() };
	let (relay, publisher, viewer) = connect(opts, Some("h"), true).await?;
	publisher.start();

	let s = viewer.wait_for_frames(60, Duration::from_secs(6)).await?;
	assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
	assert_eq!(s.last_layer, Some(1), "the relay forwards layer h");
	assert_eq!(s.frames_out_of_order, 0, "{s:?}");
	assert_eq!(s.frames_corrupt, 0, "{s:?}");

	// All three layers reach the answerer, each as its own rid-tagged track.
	let by_rid = relay.packets_by_rid.lock().unwrap().clone();
	for rid in ["q", "h", "f"] {
		assert!(by_rid.get(rid).copied().unwrap_or(0) >= 60, "layer {rid}: {by_rid:?}");
	}
	// Bigger layers need more packets.
	assert!(by_rid["f"] > by_rid["h"] && by_rid["h"] >= by_rid["q"], "{by_rid:?}");
	let ssrcs = publisher.video_ssrcs();
	assert_eq!(ssrcs.len(), 3);
	for (rid, ssrc) in &ssrcs {
		let track = relay.video_track(rid.as_deref().unwrap_or_default()).await?;
		assert_eq!(track.ssrc(), *ssrc, "{rid:?}");
	}

	// A PLI for layer h only: that layer (and no other) sends a keyframe.
	relay.send_pli("h").await?;
	viewer.wait_for_keyframes(2, Duration::from_millis(500)).await?;
	let p = publisher.stats();
	let plis: Vec<u64> = p.layers.iter().map(|l| l.plis_received).collect();
	let keys: Vec<u64> = p.layers.iter().map(|l| l.keyframes_sent).collect();
	assert_eq!(plis, vec![0, 1, 0], "{p:?}");
	assert_eq!(keys, vec![1, 2, 1], "{p:?}");
	assert_eq!(p.layers[0].rid.as_deref(), Some("q"));

	publisher.close().await?;
	viewer.close().await?;
	relay.close().await;
	Ok(())
}

#[tokio::test]
async fn bots_fail_cleanly_on_a_bad_answer() -> anyhow::Result<()> {
	let (publisher, offer) = PublisherBot::new(PublisherOptions::default()).await?;
	assert!(offer.contains("a=sendonly"), "{offer}");
	assert!(!offer.contains(".local"), "no mDNS candidates: {offer}");
	assert!(offer.contains("a=candidate:"), "{offer}");
	assert!(publisher.accept_answer("v=0 garbage").await.is_err());
	publisher.close().await?;
	let _ = webrtc::Error::ErrClosedPipe; // the re-export is usable
	Ok(())
}
