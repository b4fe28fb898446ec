//! WebRTC publisher and viewer test bots for the Vilokanam SFU, built on webrtc-rs (the `webrtc`
//! crate).
//!
//! The SFU is built on str0m; its integration tests and fan-out benchmark drive it with these
//! bots so that every media test crosses two independent WebRTC implementations. The bots are
//! signaling-agnostic: each is the *offerer*, produces an SDP offer string (ICE gathered fully,
//! no trickle) and accepts an SDP answer string; the tests carry the SDP over the sidecar's
//! WebSocket or WHIP/WHEP.
//!
//! - [`PublisherBot`] sends synthetic Opus audio and VP8 or H264 video, optionally as three
//!   simulcast layers (rids `q`, `h`, `f`), and sends a keyframe on the next frame tick after a
//!   PLI or FIR.
//! - [`ViewerBot`] receives, depacketizes and reassembles the video, checks every frame and
//!   counts what arrived ([`ViewerStats`]).
//! - [`stun::binding_request`] forges ICE connectivity checks, for floods.
//!
//! # Networking
//!
//! Host candidates only, IPv4 UDP, loopback included (the tests run the SFU on 127.0.0.1); no
//! STUN/TURN servers and mDNS disabled, so nothing leaves the machine. The bots accept an
//! ICE-lite answer carrying a single host candidate and then act as the controlling agent.
//!
//! # Synthetic media format
//!
//! The media is not decodable; it only has to look right to an SFU that inspects RTP payloads
//! for keyframes, and lets the viewer verify what it got. Every frame and audio packet carries a
//! 10-byte *trailer*, then filler:
//!
//! ```text
//! "VKBT" | frame number: u32 BE | flags: u8 (bit 0 = keyframe) | layer: u8 | filler...
//! ```
//!
//! The frame number starts at 0 and grows by one per frame tick. With simulcast all layers send
//! a frame on every tick with the same number (layer 0 = `q`, 1 = `h`, 2 = `f`; 0 without
//! simulcast), so a viewer switched between layers still sees increasing numbers. Filler byte
//! `j` (counting from the end of the trailer) is `(frame_number as u8 + j as u8) | 1`: never
//! zero, and checked by the viewer.
//!
//! Frame sizes: `video_bitrate_bps / fps / 8` bytes (at least 64; simulcast layers `h` and `q`
//! use 1/4 and 1/16 of the bitrate), keyframes 3× that, so a frame spans several RTP packets
//! (packets are at most 1200 bytes).
//!
//! **VP8** (payload descriptor per RFC 7741 with a 15-bit PictureID, S = 1 on the first packet
//! of a frame, marker bit on the last):
//!
//! ```text
//! keyframe: frame tag (3 bytes, P = 0, show_frame = 1) | 9d 01 2a | width u16 LE | height u16 LE | trailer | filler
//! inter:    frame tag (3 bytes, P = 1, show_frame = 1) | trailer | filler
//! ```
//!
//! The frame tag is the RFC 6386 one: bit 0 of the first byte is P (0 = keyframe), bit 4 is
//! show_frame, bits 5..23 the first partition size. Dimensions are 640×480 (simulcast: `q`
//! 160×120, `h` 320×240, `f` 640×480).
//!
//! **H264** (Constrained Baseline `42e01f`, packetization-mode 1; webrtc-rs packs SPS and PPS in
//! a STAP-A and fragments the slice as FU-A), as an Annex-B access unit:
//!
//! ```text
//! keyframe: SPS (NAL type 7) | PPS (type 8) | IDR slice (type 5, header 0x65): trailer | filler
//! inter:    non-IDR slice (type 1, header 0x41): trailer | filler
//! ```
//!
//! The trailer inside the slice NAL carries H264 emulation-prevention bytes (a 0x03 after two
//! zero bytes), so it never forms a start code; strip them before parsing.
//!
//! **Audio** (Opus, 48 kHz clock, one 160-byte packet every 20 ms, ≈ 64 kbps): the trailer with
//! the packet number and flags 0, then filler.
//!
//! [`frame`] builds and parses these; [`depacketize`] has the viewer's RTP depacketizers.

#![deny(missing_docs)]

pub mod depacketize;
pub mod frame;
mod peer;
mod publisher;
pub mod stun;
mod viewer;

pub use frame::{Trailer, VideoCodec};
pub use publisher::{
	LayerStats, PublisherBot, PublisherOptions, PublisherStats, AUDIO_PACKET_LEN, AUDIO_PTIME,
	SIMULCAST_LAYERS,
};
pub use viewer::{ViewerBot, ViewerOptions, ViewerStats};
/// The webrtc-rs crate the bots are built on, for tests that need a peer of their own.
pub use webrtc;

#[cfg(test)]
mod tests {
	use super::*;

	fn is_send<T: Send>(_: T) {}
	fn is_send_sync<T: Send + Sync>() {}

	/// The SFU's tests share bots across tasks and spawn their futures.
	#[test]
	fn bots_and_their_futures_are_send() {
		is_send_sync::<PublisherBot>();
		is_send_sync::<ViewerBot>();
		is_send(PublisherBot::new(PublisherOptions::default()));
		is_send(ViewerBot::new());
		let _check = |p: &PublisherBot, v: &ViewerBot| {
			is_send(p.accept_answer(""));
			is_send(p.wait_connected(std::time::Duration::ZERO));
			is_send(p.close());
			is_send(v.accept_answer(""));
			is_send(v.wait_for_frames(1, std::time::Duration::ZERO));
			is_send(v.request_keyframe());
			is_send(v.close());
		};
	}
}
