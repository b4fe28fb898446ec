//! Fuzz targets for what strangers can send us. Each module is one target with a `run(&[u8])`
//! that never panics on any input (a panic is the bug a fuzzer reports) and a `seeds()` of
//! well-formed inputs to start from.
//!
//! | target | what it feeds | into |
//! |---|---|---|
//! | [`ws_session`] | WebSocket frames, after an optional login and watch | the sidecar's real connection handler (`transport::ws::run`) over an in-memory stream |
//! | [`sdp_offer`] | an SDP offer, as a publisher or a viewer | `Offers::accept`, what WHIP, WHEP and `media_offer` call |
//! | [`sfu_datagrams`] | datagrams from strangers and from a connected publisher's address, RTP the publisher sends, time | the SFU's sans-IO core with a publisher and a viewer connected |
//! | [`runtime_scale`] | SCALE bytes | the runtime's extrinsic, call and voucher decoders |
//!
//! `scripts/fuzz.sh` runs them under libFuzzer (cargo-fuzz, coverage-guided); `tests/smoke.rs`
//! gives each a short randomized run ([`mutate`]) in the workspace's tests.

pub mod mutate;
pub mod runtime_scale;
pub mod sdp_offer;
pub mod sfu_datagrams;
pub mod ws_session;

/// For the targets' libFuzzer `init`: a panic the code under test catches on purpose (as
/// `Offers::accept` does around str0m) is not a finding. libFuzzer's hook aborts on every
/// panic, caught or not; this puts the default (printing) hook back, and a panic that escapes
/// the target is still caught by libfuzzer-sys and aborts.
pub fn keep_caught_panics() {
	drop(std::panic::take_hook());
}

/// A peer of stream 7 with an always-open gate, as the media targets make them.
pub(crate) fn open_setup(
	role: vilokanam_sfu::MediaRole,
	seat: Option<u64>,
	take_over: bool,
) -> vilokanam_sfu::PeerSetup {
	vilokanam_sfu::PeerSetup {
		stream_id: 7,
		role,
		gate: std::sync::Arc::new(vilokanam_sfu::OpenGate),
		events: None,
		label: String::new(),
		seat,
		take_over,
	}
}

/// Splits `data` into parts at `sep`, at most `max` of them (the rest is dropped).
pub(crate) fn parts(data: &[u8], sep: u8, max: usize) -> impl Iterator<Item = &[u8]> {
	data.split(move |b| *b == sep).take(max)
}
