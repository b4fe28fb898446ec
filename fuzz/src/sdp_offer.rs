//! SDP offers, as WHIP and WHEP bodies and `media_offer` messages carry them, into
//! `Offers::accept` (str0m's SDP parser, then our checks of what the offer sends and
//! receives).
//!
//! Input: a first byte (bit 0: a viewer's offer, else a publisher's; bit 1: take over), then
//! the SDP (lossy UTF-8). An accepted offer's answer must parse as SDP.

use std::{
	sync::{Arc, OnceLock},
	time::Instant,
};
use str0m::{
	change::SdpAnswer,
	media::{Direction, MediaKind},
	Candidate, Rtc,
};
use vilokanam_sfu::{
	offer::{self, Offers},
	MediaRole, Publishers,
};

fn crypto() -> Arc<str0m::crypto::CryptoProvider> {
	static CRYPTO: OnceLock<Arc<str0m::crypto::CryptoProvider>> = OnceLock::new();
	CRYPTO.get_or_init(offer::crypto).clone()
}

/// One offer: see the module documentation.
pub fn run(data: &[u8]) {
	let Some((&flags, sdp)) = data.split_first() else { return };
	let sdp = String::from_utf8_lossy(sdp);
	let offers = Offers {
		crypto: crypto(),
		candidate: "10.0.0.1:4000".parse().expect("an address"),
		full_ice: false,
		publishers: Publishers::default(),
	};
	let role = if flags & 1 == 0 { MediaRole::Publisher } else { MediaRole::Viewer };
	let setup = crate::open_setup(role, Some(1), flags & 2 != 0);
	if let Ok((_, answer)) = offers.accept(1, &sdp, &setup, Instant::now()) {
		assert!(SdpAnswer::from_sdp_string(&answer).is_ok(), "our answer parses: {answer}");
	}
}

/// Offers of str0m clients: a publisher sending video (and audio), a viewer receiving.
pub fn seeds() -> Vec<Vec<u8>> {
	let offer = |dir: Direction, audio: bool| {
		let mut rtc = Rtc::builder().set_rtp_mode(true).build(Instant::now());
		rtc.add_local_candidate(
			Candidate::host("10.0.0.2:5000".parse().expect("an address"), "udp")
				.expect("a candidate"),
		);
		let mut api = rtc.sdp_api();
		if audio {
			api.add_media(MediaKind::Audio, dir, None, None, None);
		}
		api.add_media(MediaKind::Video, dir, None, None, None);
		let (offer, _) = api.apply().expect("an offer");
		offer.to_sdp_string().into_bytes()
	};
	let with = |flags: u8, sdp: Vec<u8>| [vec![flags], sdp].concat();
	vec![
		with(0, offer(Direction::SendOnly, true)),
		with(0, offer(Direction::SendOnly, false)),
		with(1, offer(Direction::RecvOnly, true)),
		with(1, offer(Direction::RecvOnly, false)),
	]
}

#[cfg(test)]
mod tests {
	use super::*;

	/// The seeds are offers we accept, so mutants start from the paths past the parser.
	#[test]
	fn the_seeds_are_accepted() {
		for seed in seeds() {
			let (flags, sdp) = seed.split_first().expect("a flag byte");
			let role = if flags & 1 == 0 { MediaRole::Publisher } else { MediaRole::Viewer };
			let setup = crate::open_setup(role, None, false);
			let offers = Offers {
				crypto: crypto(),
				candidate: "10.0.0.1:4000".parse().expect("an address"),
				full_ice: false,
				publishers: Publishers::default(),
			};
			let sdp = std::str::from_utf8(sdp).expect("UTF-8");
			assert!(offers.accept(1, sdp, &setup, Instant::now()).is_ok());
		}
	}
}
