//! End-to-end media: the real dev node, the real `vilokanam-sidecar` binary and WebRTC bots of
//! another implementation (webrtc-rs), over real WebSocket, HTTP and UDP.
//!
//! Alice publishes synthetic audio + video over the WebSocket signaling. Charlie, Dave and Eve
//! open sessions, watch, send a voucher every second and receive the stream — in order, each
//! from a keyframe. Bob, without a session, gets nothing: not the room, not the media, not
//! WHEP. Charlie stops sending vouchers: his media stops within a second of the missed voucher.
//! Dave closes his session on chain: his media is closed. Then OBS's path: Alice fetches her
//! WHIP token; while she publishes from the studio, a WHIP offer cannot take over (409); once
//! she stops, a publisher bot POSTs its offer to `/whip/{stream}` (201, `Location`); Eve
//! fetches a WHEP token and a second viewer bot watches over `/whep/{stream}`: one session
//! feeds one media peer, so a flood of WHEP offers on her token leaves one peer, the last, and
//! her WebSocket viewer is replaced. A leaked WHIP token cannot replace the live OBS publisher
//! (409); an expired one is refused; Alice rotates the token, which disconnects OBS and makes
//! every earlier token worthless; a new one publishes again and ends with `DELETE`.
//!
//! Needs the node binary: `cargo build --release -p vilokanam-node`.

mod common;

use common::{media::*, *};
use sp_core::Pair;
use std::time::{Duration, Instant};
use vilokanam_chain_client::{
	voucher, Client, RuntimeCall, StreamId, VoucherEncoding, VoucherSigner,
};
use vilokanam_media_bots::{PublisherBot, PublisherOptions, ViewerBot};
use vilokanam_sidecar::protocol::{ClientMessage, ErrorCode, MediaState, ServerMessage};
use vilokanam_test_utils::Node;

const T: Duration = Duration::from_secs(30);
/// Publish tokens' lifetime in this test: short, to see one expire.
const PUBLISH_TTL: Duration = Duration::from_secs(8);

/// The content type of offers.
const SDP: &str = "application/sdp";

/// `POST` of `offer` as `content_type` to `url` with `token` as the bearer.
async fn offer_with(
	port: u16,
	url: &str,
	content_type: &str,
	token: &str,
	offer: &str,
) -> HttpResponse {
	let bearer = format!("Bearer {token}");
	http(port, "POST", url, &[("content-type", content_type), ("authorization", &bearer)], offer)
		.await
}

/// A WHIP token for `stream_id` from the creator's connection (rotating first with `rotate`).
async fn publish_token(alice: &mut Peer, stream_id: StreamId, rotate: bool) -> (String, String) {
	alice.send(ClientMessage::PublishToken { stream_id, rotate }).await;
	alice
		.expect("publish_token", |m| match m {
			ServerMessage::PublishToken { token, whip_url, .. } => {
				Some((token.clone(), whip_url.clone()))
			},
			_ => None,
		})
		.await
}

#[tokio::test(flavor = "multi_thread")]
async fn media_flows_only_to_paying_viewers_over_websocket_whip_and_whep() {
	let dir = tempfile::tempdir().expect("temp dir");
	let node = Node::start(&dir.path().join("node")).await;
	let client = Client::connect(&node.ws_url()).await.expect("the node answers");
	let stream_id = live_stream(&client, "Media e2e").await;
	let (charlie, dave, eve) = (pair("//Charlie"), pair("//Dave"), pair("//Eve"));
	let charlie_session = open_session(&client, &charlie, stream_id).await;
	let dave_session = open_session(&client, &dave, stream_id).await;
	let eve_session = open_session(&client, &eve, stream_id).await;
	let sidecar = Sidecar::start_with(
		&node,
		&dir.path().join("sidecar.sqlite"),
		&dir.path().join("sidecar.log"),
		&[
			"--media-listen".into(),
			"127.0.0.1:0".into(),
			"--publish-token-ttl-secs".into(),
			PUBLISH_TTL.as_secs().to_string(),
		],
	)
	.await;
	let url = sidecar.ws_url();

	// Alice publishes over the WebSocket.
	let (mut alice, publisher) = publish(&url, pair("//Alice"), stream_id).await;

	// Bob has no session: no room, no media, no WHEP.
	let mut bob = Peer::connect("bob", &url, pair("//Bob")).await;
	bob.send(ClientMessage::Watch { stream_id, session_id: charlie_session }).await;
	assert_eq!(bob.expect_error("watch refused").await, ErrorCode::Forbidden);
	let (bob_bot, bob_offer) = ViewerBot::new().await.expect("a viewer bot");
	bob.send(ClientMessage::MediaOffer { sdp: bob_offer.clone() }).await;
	assert_eq!(bob.expect_error("media refused").await, ErrorCode::NotInRoom);
	let sdp = [("content-type", "application/sdp")];
	let r = http(sidecar.port, "POST", &format!("/whep/{stream_id}"), &sdp, &bob_offer).await;
	assert_eq!(r.status, 401, "no token: {}", r.body);
	let forged = format!("{charlie_session}.{}", "00".repeat(32));
	let auth = format!("Bearer {forged}");
	let r = http(
		sidecar.port,
		"POST",
		&format!("/whep/{stream_id}"),
		&[("content-type", "application/sdp"), ("authorization", &auth)],
		&bob_offer,
	)
	.await;
	assert_eq!(r.status, 401, "a forged token: {}", r.body);

	// Three paying viewers receive the stream in order, each from a keyframe.
	let (charlie_bot, charlie_pay) =
		viewer("charlie", &url, charlie.clone(), stream_id, charlie_session).await;
	let (dave_bot, dave_pay) = viewer("dave", &url, dave.clone(), stream_id, dave_session).await;
	let (eve_bot, eve_pay) = viewer("eve", &url, eve.clone(), stream_id, eve_session).await;
	for bot in [&charlie_bot, &dave_bot, &eve_bot] {
		let s = bot.wait_for_frames(60, T).await.expect("frames");
		assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
		assert_eq!((s.frames_out_of_order, s.frames_corrupt), (0, 0), "{s:?}");
		assert!(s.audio_packets > 0 && s.audio_corrupt == 0, "{s:?}");
	}
	assert_eq!(bob_bot.stats().video_packets, 0);

	// Charlie's vouchers stop: his media stops within a second of the voucher he missed.
	let (mut charlie_peer, charlie_paid, last_ack) = charlie_pay.stop().await;
	media_state(&mut charlie_peer, MediaState::Paused).await;
	let paused_seen = Instant::now();
	tokio::time::sleep(Duration::from_millis(500)).await;
	let stopped = packets(&charlie_bot).await;
	tokio::time::sleep(Duration::from_secs(1)).await;
	assert_eq!(packets(&charlie_bot).await, stopped, "media kept flowing without vouchers");
	let last_packet = charlie_bot.stats().last_packet_at.expect("packets arrived before");
	let missed = last_ack + Duration::from_secs(1);
	assert!(
		last_packet.saturating_duration_since(missed) <= Duration::from_secs(1),
		"media went on {:?} after the missed voucher (paused seen after {:?})",
		last_packet.saturating_duration_since(missed),
		paused_seen.saturating_duration_since(missed),
	);
	// Paying again resumes it, from a keyframe.
	let before = charlie_bot.stats().frames_complete;
	let charlie_pay = Paying::start(charlie_peer, charlie_session, charlie_paid);
	charlie_bot
		.wait_until("frames after resuming", T, |s| s.frames_complete >= before + 30)
		.await
		.expect("media resumes with the vouchers");
	let (_, _, _) = charlie_pay.stop().await;

	// Dave asks to close his session on chain: his media is closed.
	let (mut dave_peer, last, _) = dave_pay.stop().await;
	let genesis = client.genesis_hash();
	let final_intent =
		pallet_ticks::CloseIntent {
			cumulative_seconds: last,
			signer: VoucherSigner::Viewer,
			encoding: VoucherEncoding::Raw,
			signature: vilokanam_chain_client::Signature::Sr25519(
				dave.sign(&voucher::close_payload(&genesis, dave_session, last)),
			),
		};
	execute(
		&client,
		RuntimeCall::Ticks(pallet_ticks::Call::close_session {
			session_id: dave_session,
			final_intent: Some(final_intent),
		}),
		&dave,
	)
	.await;
	let reason = media_state(&mut dave_peer, MediaState::Closed).await;
	assert_eq!(reason.as_deref(), Some("revoked"), "the room revocation closes it at once");
	let stopped = packets(&dave_bot).await;
	tokio::time::sleep(Duration::from_secs(1)).await;
	assert_eq!(packets(&dave_bot).await, stopped);

	// OBS's path: WHIP with the token the sidecar issues to the creator.
	let token_issued = Instant::now();
	let (token, whip_url) = publish_token(&mut alice, stream_id, false).await;
	assert_eq!(whip_url, format!("/whip/{stream_id}"));
	let (obs, obs_offer) =
		PublisherBot::new(PublisherOptions::default()).await.expect("a publisher bot");
	let bearer = format!("Bearer {token}");
	let r =
		http(sidecar.port, "POST", &whip_url, &[("content-type", "application/sdp")], &obs_offer)
			.await;
	assert_eq!(r.status, 401, "{}", r.body);
	let r = offer_with(sidecar.port, &whip_url, "text/plain", &token, &obs_offer).await;
	assert_eq!(r.status, 415, "{}", r.body);
	// Forged: the claims in the clear changed (another stream, another expiry), or made up.
	let later = {
		let mut parts: Vec<&str> = token.split('.').collect();
		let far = (u64::MAX / 2).to_string();
		parts[3] = &far;
		parts.join(".")
	};
	for forged in [format!("p1.{}", "ab".repeat(32)), later] {
		let r = offer_with(sidecar.port, &whip_url, SDP, &forged, &obs_offer).await;
		assert_eq!(r.status, 401, "{forged}: {}", r.body);
	}
	// While Alice publishes from the studio, a bearer token cannot take over.
	let r = offer_with(sidecar.port, &whip_url, SDP, &token, &obs_offer).await;
	assert_eq!(r.status, 409, "{}", r.body);
	alice.send(ClientMessage::MediaClose {}).await;
	assert_eq!(media_state(&mut alice, MediaState::Closed).await.as_deref(), Some("closed"));
	let r = offer_with(sidecar.port, &whip_url, SDP, &token, &obs_offer).await;
	assert_eq!(r.status, 201, "{}", r.body);
	assert_eq!(r.header("content-type"), Some("application/sdp"));
	let location = r.header("location").expect("a Location").to_owned();
	assert!(location.starts_with(&format!("/whip/{stream_id}/")), "{location}");
	obs.accept_answer(&r.body).await.expect("the bot takes the answer");
	obs.wait_connected(T).await.expect("ICE + DTLS with the SFU");
	obs.start();

	// A standard player's path: WHEP with Eve's watch token (her vouchers keep coming).
	let (mut eve_peer, eve_paid, _) = eve_pay.stop().await;
	eve_peer.send(ClientMessage::WatchToken {}).await;
	let (watch_token, whep_url) = eve_peer
		.expect("watch_token", |m| match m {
			ServerMessage::WatchToken { token, whep_url, .. } => {
				Some((token.clone(), whep_url.clone()))
			},
			_ => None,
		})
		.await;
	let eve_pay = Paying::start(eve_peer, eve_session, eve_paid);
	// Eve's WebSocket viewer followed the new publisher, restarting on its keyframe.
	let before = eve_bot.stats().keyframes_received;
	eve_bot
		.wait_until("a keyframe of the new publisher", T, |s| s.keyframes_received > before)
		.await
		.expect("the WebSocket viewer follows the new publisher");
	let bearer_w = format!("Bearer {watch_token}");
	// A WHEP flood from the one token: each offer is answered, each replaces the last.
	let mut flooders = Vec::new();
	for _ in 0..4 {
		let (bot, offer) = ViewerBot::new().await.expect("a viewer bot");
		let headers = [("content-type", "application/sdp"), ("authorization", bearer_w.as_str())];
		let r = http(sidecar.port, "POST", &whep_url, &headers, &offer).await;
		assert_eq!(r.status, 201, "{}", r.body);
		flooders.push(bot);
	}
	let (player, player_offer) = ViewerBot::new().await.expect("a viewer bot");
	let r = http(
		sidecar.port,
		"POST",
		&whep_url,
		&[("content-type", "application/sdp"), ("authorization", &bearer_w)],
		&player_offer,
	)
	.await;
	assert_eq!(r.status, 201, "{}", r.body);
	let whep_location = r.header("location").expect("a Location").to_owned();
	player.accept_answer(&r.body).await.expect("the bot takes the answer");
	let s = player.wait_for_frames(60, T).await.expect("frames over WHEP from the WHIP publisher");
	assert_eq!(s.first_video_frame_is_keyframe, Some(true), "{s:?}");
	assert_eq!((s.frames_out_of_order, s.frames_corrupt), (0, 0), "{s:?}");
	// One paid session feeds one media peer: the WHEP player took Eve's seat from her
	// WebSocket viewer, and the four flooders before it had it only in turn. Of the room's
	// viewers, only that one is served (Charlie's, if ICE-lite has not dropped it yet, is
	// paused: he pays no more); no viewer's account is shown.
	let stats = http(sidecar.port, "GET", "/media/stats", &[], "").await;
	let stats: serde_json::Value = serde_json::from_str(&stats.body).expect("stats JSON");
	let viewers = stats["rooms"][0]["viewers"].as_array().cloned().unwrap_or_default();
	let served = viewers.iter().filter(|v| v["paused"] == false).count();
	assert_eq!(served, 1, "one media peer for Eve's session: {stats}");
	assert!(viewers.iter().all(|v| v["label"] == ""), "viewers' accounts are not public");
	let eve_stopped = eve_bot.stats().video_packets;
	tokio::time::sleep(Duration::from_secs(1)).await;
	assert_eq!(eve_bot.stats().video_packets, eve_stopped, "the replaced viewer gets nothing");

	// A leaked WHIP token (valid, fresh) cannot replace the live OBS publisher.
	let (leaked, _) = publish_token(&mut alice, stream_id, false).await;
	let (thief, thief_offer) =
		PublisherBot::new(PublisherOptions::default()).await.expect("a publisher bot");
	let r = offer_with(sidecar.port, &whip_url, SDP, &leaked, &thief_offer).await;
	assert_eq!(r.status, 409, "{}", r.body);
	let before = player.stats().video_packets;
	tokio::time::sleep(Duration::from_secs(1)).await;
	assert!(player.stats().video_packets > before, "OBS keeps publishing");
	// Only the token's owner may end a session.
	let r = http(sidecar.port, "DELETE", &whep_location, &[("authorization", &bearer)], "").await;
	assert_eq!(r.status, 401, "another token: {}", r.body);
	// An expired token is refused.
	tokio::time::sleep_until((token_issued + PUBLISH_TTL + Duration::from_secs(1)).into()).await;
	let r = offer_with(sidecar.port, &whip_url, SDP, &token, &thief_offer).await;
	assert_eq!(r.status, 401, "{}", r.body);
	assert!(r.body.contains("expired"), "{}", r.body);
	// Alice rotates: OBS is disconnected and every earlier token is worthless, however fresh.
	let (unexpired, _) = publish_token(&mut alice, stream_id, false).await;
	let (fresh, _) = publish_token(&mut alice, stream_id, true).await;
	let r = http(sidecar.port, "DELETE", &location, &[("authorization", &bearer)], "").await;
	assert_eq!(r.status, 404, "the rotation ended OBS's session: {}", r.body);
	tokio::time::sleep(Duration::from_millis(500)).await;
	let stopped = player.stats().video_packets;
	tokio::time::sleep(Duration::from_secs(1)).await;
	assert_eq!(player.stats().video_packets, stopped, "video after the rotation");
	let r = offer_with(sidecar.port, &whip_url, SDP, &unexpired, &thief_offer).await;
	assert_eq!(r.status, 401, "{}", r.body);
	assert!(r.body.contains("rotated"), "{}", r.body);
	// The rotated token publishes; its owner's DELETE ends the session.
	let fresh_bearer = format!("Bearer {fresh}");
	let (obs2, obs2_offer) =
		PublisherBot::new(PublisherOptions::default()).await.expect("a publisher bot");
	let r = offer_with(sidecar.port, &whip_url, SDP, &fresh, &obs2_offer).await;
	assert_eq!(r.status, 201, "{}", r.body);
	let location = r.header("location").expect("a Location").to_owned();
	let r = http(sidecar.port, "DELETE", &location, &[("authorization", &bearer)], "").await;
	assert_eq!(r.status, 401, "the old token does not own it: {}", r.body);
	let r = http(sidecar.port, "DELETE", &location, &[("authorization", &fresh_bearer)], "").await;
	assert_eq!(r.status, 200, "{}", r.body);
	let r = http(sidecar.port, "DELETE", &location, &[("authorization", &fresh_bearer)], "").await;
	assert_eq!(r.status, 404, "{}", r.body);
	let _ = thief.close().await;
	let _ = obs2.close().await;
	let _ = eve_pay.stop().await;
	for bot in [&charlie_bot, &dave_bot, &eve_bot, &player, &bob_bot].into_iter().chain(&flooders) {
		let _ = bot.close().await;
	}
	let _ = publisher.close().await;
	let _ = obs.close().await;
}
