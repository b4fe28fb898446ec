//! The media engine on its own, against webrtc-rs bots over real UDP on loopback: forwarding,
//! keyframe starts, gates, keyframe-request coalescing, NACKs and simulcast layers. Rights from the
//! chain are covered by `media_e2e.rs`; here gates are set by the test.

mod common;

use common::Switch;
use std::{sync::Arc, time::Duration};
use vilokanam_media_bots::{PublisherBot, PublisherOptions, VideoCodec, ViewerBot, ViewerOptions};
use vilokanam_sfu::{
	recorder::{ebml, OnRecorded, Recorded},
	CloseReason, Gate, MediaConfig, MediaEvent, MediaPeerId, MediaRole, MediaServer, OpenGate,
	PeerSetup, SfuMetrics,
};

const T: Duration = Duration::from_secs(20);

fn server() -> MediaServer {
	server_with(MediaConfig::default())
}

fn server_with(config: MediaConfig) -> MediaServer {
	let _ = tracing_subscriber::fmt()
		.with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
		.with_test_writer()
		.try_init();
	MediaServer::start(config, SfuMetrics::unregistered()).unwrap()
}

type Events = tokio::sync::mpsc::Receiver<(MediaPeerId, MediaEvent)>;

fn setup(role: MediaRole, gate: Arc<dyn Gate>) -> (PeerSetup, Events) {
	let (tx, rx) = tokio::sync::mpsc::channel(32);
	(
		PeerSetup {
			stream_id: 1,
			role,
			gate,
			events: Some(tx),
			label: "test".into(),
			seat: None,
			take_over: true,
		},
		rx,
	)
}

async fn publisher(media: &MediaServer, opts: PublisherOptions) -> PublisherBot {
	let (bot, offer) = PublisherBot::new(opts).await.unwrap();
	let (s, _events) = setup(MediaRole::Publisher, Arc::new(OpenGate));
	let (_, answer) = media.offer(&offer, s).unwrap();
	bot.accept_answer(&answer).await.unwrap();
	bot.wait_connected(T).await.unwrap();
	bot.start();
	bot
}

async fn viewer(media: &MediaServer, gate: Arc<dyn Gate>) -> (ViewerBot, MediaPeerId, Events) {
	viewer_with(media, gate, ViewerOptions::default()).await
}

async fn viewer_with(
	media: &MediaServer,
	gate: Arc<dyn Gate>,
	opts: ViewerOptions,
) -> (ViewerBot, MediaPeerId, Events) {
	let (bot, offer) = ViewerBot::with_options(opts).await.unwrap();
	let (s, events) = setup(MediaRole::Viewer, gate);
	let (id, answer) = media.offer(&offer, s).unwrap();
	bot.accept_answer(&answer).await.unwrap();
	bot.wait_connected(T).await.unwrap();
	(bot, id, events)
}

async fn next_event(events: &mut Events, want: MediaEvent) {
	let got = tokio::time::timeout(T, async {
		loop {
			match events.recv().await {
				Some((_, e)) if e == want => return,
				Some(_) => continue,
				None => panic!("events closed before {want:?}"),
			}
		}
	})
	.await;
	assert!(got.is_ok(), "no {want:?} within {T:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_viewers_receive_in_order_from_a_keyframe_and_a_gated_one_receives_nothing() {
	let recordings = tempfile::tempdir().unwrap();
	let recorded = Arc::new(std::sync::Mutex::new(Vec::new()));
	let report = recorded.clone();
	let media = server_with(MediaConfig {
		record_dir: Some(recordings.path().to_path_buf()),
		on_recorded: Some(OnRecorded(Arc::new(move |r| report.lock().unwrap().push(r)))),
		..MediaConfig::default()
	});
	let publisher = publisher(&media, PublisherOptions::default()).await;
	let mut viewers = Vec::new();
	for _ in 0..3 {
		viewers.push(viewer(&media, Arc::new(OpenGate)).await);
	}
	let gate = Arc::new(Switch::default());
	gate.set(1);
	let (gated, gated_id, mut gated_events) = viewer(&media, gate.clone()).await;

	for (bot, _, _) in &viewers {
		let s = bot.wait_for_frames(90, T).await.unwrap();
		assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
		assert_eq!(s.frames_out_of_order, 0, "{s:?}");
		assert_eq!(s.frames_corrupt, 0, "{s:?}");
		assert!(s.audio_packets > 50 && s.audio_corrupt == 0, "{s:?}");
	}
	// Paused from the start: nothing at all, not even audio.
	let s = gated.stats();
	assert_eq!((s.video_packets, s.audio_packets), (0, 0), "{s:?}");

	// Opened: media starts on a keyframe; paused again: it stops within the gate period.
	gate.set(0);
	next_event(&mut gated_events, MediaEvent::Resumed).await;
	let s = gated.wait_for_frames(30, T).await.unwrap();
	assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
	gate.set(1);
	next_event(&mut gated_events, MediaEvent::Paused).await;
	tokio::time::sleep(Duration::from_millis(300)).await;
	let before = gated.stats();
	tokio::time::sleep(Duration::from_secs(1)).await;
	let after = gated.stats();
	assert_eq!(before.video_packets, after.video_packets, "media kept flowing while paused");
	assert_eq!(before.audio_packets, after.audio_packets);
	// Resumed again: the stream goes on without a frame out of order.
	gate.set(0);
	let s = gated
		.wait_until("more frames after resuming", T, |s| {
			s.frames_complete > after.frames_complete + 30
		})
		.await
		.unwrap();
	assert_eq!(s.frames_out_of_order, 0, "{s:?}");
	// Closed: the peer is gone.
	gate.set(2);
	next_event(&mut gated_events, MediaEvent::Closed(CloseReason::SessionClosed)).await;
	let _ = gated_id;

	// Each viewer has its own outgoing SSRC.
	let mut ssrcs: Vec<_> = viewers.iter().map(|v| v.0.stats().video_ssrc.unwrap()).collect();
	ssrcs.sort();
	ssrcs.dedup();
	assert_eq!(ssrcs.len(), 3);

	// The snapshot is refreshed every second.
	tokio::time::sleep(Duration::from_millis(1_200)).await;
	let snap = media.snapshot();
	let room = snap.rooms.iter().find(|r| r.stream_id == 1).unwrap();
	assert_eq!(room.viewers.len(), 3, "{room:?}");
	// A single-layer room: its viewers' media goes through the direct sender.
	assert!(room.viewers.iter().all(|v| v.direct && v.connected), "{room:?}");
	assert!(room.publisher.as_ref().unwrap().bitrate_bps > 500_000, "{room:?}");
	assert!(room.forwarded_packets > 0);
	let sent = publisher.stats().frames_sent;
	publisher.close().await.unwrap();
	media.shutdown();

	// The publisher was recorded, reported once finished: a WebM of its video from the first
	// keyframe and its audio, a cluster at each keyframe, with Cues.
	let recorded = recorded.lock().unwrap().clone();
	assert_eq!(recorded.len(), 1, "{recorded:?}");
	let Recorded { stream_id, path, index } = &recorded[0];
	assert_eq!(*stream_id, 1);
	assert!(path.to_string_lossy().ends_with(".webm"), "{path:?}");
	let kinds: Vec<u64> = index.tracks.iter().map(|t| t.kind).collect();
	assert_eq!(kinds, vec![1, 2], "video and audio: {index:?}");
	assert_eq!(index.tracks[0].pixels, Some((640, 480)));
	assert!(index.cues && !index.clusters.is_empty(), "{index:?}");
	let mut video_blocks = 0u64;
	for cluster in &index.clusters {
		let blocks = ebml::blocks(&mut std::fs::File::open(path).unwrap(), cluster.offset).unwrap();
		let mut video = blocks.iter().filter(|b| b.track == index.tracks[0].number).peekable();
		assert!(video.peek().is_none_or(|b| b.key), "a cluster starts on a keyframe");
		video_blocks += video.count() as u64;
	}
	assert!(video_blocks > 90 && video_blocks <= sent, "{video_blocks} frames of {sent} sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyframe_requests_are_coalesced_to_one_per_second() {
	let media = server();
	let publisher =
		publisher(&media, PublisherOptions { keyframe_interval: 0, ..PublisherOptions::default() })
			.await;
	let mut viewers = Vec::new();
	for _ in 0..3 {
		viewers.push(viewer(&media, Arc::new(OpenGate)).await);
	}
	for (bot, _, _) in &viewers {
		if let Err(e) = bot.wait_for_frames(10, T).await {
			panic!("{e}\npublisher: {:?}\nmedia: {:?}", publisher.stats(), media.snapshot());
		}
	}
	let before = publisher.stats().plis_received;
	// 3 viewers × 10 requests over ~2 s: at most one request per second reaches the publisher.
	let started = std::time::Instant::now();
	for _ in 0..10 {
		for (bot, _, _) in &viewers {
			bot.request_keyframe().await.unwrap();
		}
		tokio::time::sleep(Duration::from_millis(200)).await;
	}
	tokio::time::sleep(Duration::from_millis(300)).await;
	let elapsed = started.elapsed().as_secs_f64();
	let forwarded = publisher.stats().plis_received - before;
	assert!(forwarded >= 1, "no request reached the publisher");
	assert!(
		(forwarded as f64) <= elapsed.ceil() + 1.0,
		"{forwarded} keyframe requests in {elapsed:.1} s reached the publisher"
	);
	let snap = media.snapshot();
	assert!(snap.rooms[0].keyframe_requests_coalesced >= 20, "{:?}", snap.rooms[0]);
	media.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulcast_viewers_get_one_layer_and_bad_offers_are_refused() {
	let media = server();
	let publisher =
		publisher(&media, PublisherOptions { simulcast: true, ..PublisherOptions::default() })
			.await;
	let (bot, _, _) = viewer(&media, Arc::new(OpenGate)).await;
	let s = bot.wait_for_frames(60, T).await.unwrap();
	assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
	// With the default estimate, the full layer fits: after the first second's measurement
	// the viewer is moved to it (layer 2 = "f") on its next keyframe.
	let s = bot.wait_until("the full layer", T, |s| s.last_layer == Some(2)).await.unwrap();
	// A switch starts at the new layer's keyframe, which may carry the same capture instant
	// as the last frame or two of the old layer (its packets finish later): the decoder
	// restarts there, so only those can look out of order.
	assert!(s.frames_out_of_order <= 2, "{s:?}");
	assert_eq!(s.frames_corrupt, 0, "{s:?}");
	assert_eq!(s.tracks, 2, "one audio and one video stream whatever the layer: {s:?}");
	let snap = media.snapshot();
	assert_eq!(snap.rooms[0].layers.len(), 3, "{:?}", snap.rooms[0]);
	// Its layer follows the bandwidth estimate, which needs str0m's send path.
	assert!(snap.rooms[0].viewers.iter().all(|v| !v.direct), "{:?}", snap.rooms[0]);

	// A viewer offer used as a publisher's (and nonsense) is refused with a reason.
	let (_, viewer_offer) = ViewerBot::new().await.unwrap();
	let (s, _) = setup(MediaRole::Publisher, Arc::new(OpenGate));
	let err = media.offer(&viewer_offer, s).unwrap_err();
	assert!(err.to_string().contains("must send"), "{err}");
	let (s, _) = setup(MediaRole::Viewer, Arc::new(OpenGate));
	assert!(media.offer("v=0\r\nnonsense", s).is_err());
	publisher.close().await.unwrap();
	media.shutdown();
}

/// A viewer that keeps receiving well past str0m's 15 s ICE-lite consent window: with full ICE
/// the server checks the pair itself, so clients that send no consent checks of their own
/// while media flows (webrtc-rs, pion) stay connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_ice_keeps_clients_without_consent_checks() {
	let media = server_with(MediaConfig { full_ice: true, ..MediaConfig::default() });
	let publisher = publisher(&media, PublisherOptions::default()).await;
	let (bot, _, mut events) = viewer(&media, Arc::new(OpenGate)).await;
	bot.wait_for_frames(30, T).await.unwrap();
	tokio::time::sleep(Duration::from_secs(20)).await;
	let before = bot.stats().frames_complete;
	let s =
		bot.wait_until("frames 20 s later", T, |s| s.frames_complete > before + 30).await.unwrap();
	assert_eq!((s.frames_out_of_order, s.frames_corrupt), (0, 0), "{s:?}");
	assert!(events
		.try_recv()
		.map(|(_, e)| e != MediaEvent::Closed(CloseReason::Disconnected))
		.unwrap_or(true));
	publisher.close().await.unwrap();
	media.shutdown();
}

/// OBS publishes H.264: its keyframes (SPS/PPS in a STAP-A, the IDR as FU-A) start viewers too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_is_forwarded_from_a_keyframe() {
	let media = server();
	let opts = PublisherOptions { video: VideoCodec::H264, ..PublisherOptions::default() };
	let publisher = publisher(&media, opts).await;
	let (bot, _, _) = viewer(&media, Arc::new(OpenGate)).await;
	let s = bot.wait_for_frames(60, T).await.unwrap();
	assert_eq!(s.video_codec.as_deref(), Some("video/H264"), "{s:?}");
	assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
	assert_eq!((s.frames_out_of_order, s.frames_corrupt), (0, 0), "{s:?}");
	publisher.close().await.unwrap();
	media.shutdown();
}

/// `cpu` pins the engine thread; a CPU the process cannot run on is refused at start.
#[test]
fn the_engine_runs_on_the_cpu_it_is_given() {
	let err = MediaServer::start(
		MediaConfig { cpu: Some(1 << 20), ..MediaConfig::default() },
		SfuMetrics::unregistered(),
	)
	.err()
	.expect("a CPU beyond any set is refused");
	assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

	let last = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) - 1;
	let media = server_with(MediaConfig { cpu: Some(last), ..MediaConfig::default() });
	// Other tests' engines (same name, same process) run unpinned; ours pins itself as it
	// starts. On a one-CPU machine every thread's list is "0" and this proves nothing more.
	let pinned = (0..200).any(|_| {
		let found = std::fs::read_dir("/proc/self/task").unwrap().flatten().any(|t| {
			let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap_or_default();
			read("comm").trim() == "media-engine"
				&& read("status").lines().any(|l| {
					l.strip_prefix("Cpus_allowed_list:")
						.is_some_and(|v| v.trim() == last.to_string())
				})
		});
		if !found {
			std::thread::sleep(Duration::from_millis(10));
		}
		found
	});
	assert!(pinned, "no media-engine thread runs on CPU {last} alone");
	media.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nacked_video_is_sent_again_and_an_unknown_packet_is_not() {
	let media = server();
	let publisher = publisher(&media, PublisherOptions::default()).await;
	// Repeats delivered: the packets NACKed here did arrive, and are seen arriving again.
	let opts = ViewerOptions { accept_repeats: true, ..ViewerOptions::default() };
	let (bot, _, _) = viewer_with(&media, Arc::new(OpenGate), opts).await;
	let s = bot.wait_for_frames(30, T).await.unwrap();
	let last = s.last_video_seq.unwrap();
	let before = s.repeated_video_packets;
	// Three recent packets, and one far older than anything kept.
	let wanted = [last.wrapping_sub(3), last.wrapping_sub(2), last.wrapping_sub(1)];
	let mut nack = wanted.to_vec();
	nack.push(last.wrapping_sub(30_000));
	bot.nack(&nack).await.unwrap();
	let s = bot
		.wait_until("the NACKed packets again", T, |s| s.repeated_video_packets >= before + 3)
		.await
		.unwrap();
	// The snapshot (refreshed every second) counts what was sent again: the three, not the
	// one it no longer had.
	tokio::time::sleep(Duration::from_millis(1_200)).await;
	let snap = media.snapshot();
	let v = &snap.rooms[0].viewers[0];
	assert!(v.direct, "{v:?}");
	assert_eq!(v.retransmitted, 3, "{v:?}; viewer: {s:?}");
	// The stream goes on.
	bot.wait_until("more frames", T, |x| x.frames_complete > s.frames_complete + 30).await.unwrap();
	publisher.close().await.unwrap();
	media.shutdown();
}

/// A cascade of one hop: an edge server pulls the stream from the origin as one viewer there
/// (its own offer: full ICE, controlling, the origin's address learnt from where it checks)
/// and feeds its own viewers from it as from a publisher. They start on a keyframe and get
/// every frame in order, audio too; the origin serves the edge one viewer's worth however many
/// watch at the edge; a keyframe asked for at the edge reaches the publisher at the origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_pulls_a_stream_from_its_origin_and_feeds_its_viewers() {
	let origin = server();
	let edge = server();
	let publisher = publisher(&origin, PublisherOptions::default()).await;
	let (pull_setup, mut pull_events) = setup(MediaRole::Publisher, Arc::new(OpenGate));
	let (pull, offer) = edge.pull(pull_setup).unwrap();
	assert!(offer.contains("a=recvonly") && !offer.contains("a=ice-lite"), "{offer}");
	let (leg_setup, mut leg_events) = setup(MediaRole::Viewer, Arc::new(OpenGate));
	let (_, answer) = origin.offer(&offer, leg_setup).unwrap();
	edge.pulled(pull, &answer).unwrap();
	next_event(&mut pull_events, MediaEvent::Connected).await;
	next_event(&mut leg_events, MediaEvent::Connected).await;

	let mut viewers = Vec::new();
	for _ in 0..3 {
		viewers.push(viewer(&edge, Arc::new(OpenGate)).await);
	}
	for (bot, _, _) in &viewers {
		let s = bot.wait_for_frames(60, T).await.unwrap();
		assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
		assert_eq!((s.frames_out_of_order, s.frames_corrupt), (0, 0), "{s:?}");
		assert!(s.audio_packets > 30 && s.audio_corrupt == 0, "{s:?}");
	}
	tokio::time::sleep(Duration::from_millis(1_200)).await;
	let at_origin = origin.snapshot();
	let room = at_origin.rooms.iter().find(|r| r.stream_id == 1).unwrap();
	assert_eq!(room.viewers.len(), 1, "the edge is one viewer at the origin: {room:?}");
	let at_edge = edge.snapshot();
	let room = at_edge.rooms.iter().find(|r| r.stream_id == 1).unwrap();
	assert_eq!(room.viewers.len(), 3, "{room:?}");
	assert!(room.publisher.as_ref().is_some_and(|p| p.bitrate_bps > 500_000), "{room:?}");

	// Past the coalescing interval, a PLI from an edge viewer goes up to the publisher.
	tokio::time::sleep(Duration::from_millis(1_100)).await;
	let before = publisher.stats().plis_received;
	viewers[0].0.request_keyframe().await.unwrap();
	let deadline = std::time::Instant::now() + Duration::from_secs(5);
	while publisher.stats().plis_received == before {
		assert!(std::time::Instant::now() < deadline, "the request did not reach the publisher");
		tokio::time::sleep(Duration::from_millis(50)).await;
	}
	publisher.close().await.unwrap();
	edge.shutdown();
	origin.shutdown();
}
