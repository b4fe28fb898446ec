//! Accepting an SDP offer: the `Rtc` of a new peer, configured for its role, with the
//! answer. Run by the caller of [`crate::MediaServer::offer`], off the engine's thread (SDP
//! parsing and a key generation per peer never hold up forwarding), and by tests of the core.

use crate::{
	core::{NewPeer, Sfu},
	srtp, MediaError, MediaPeerId, MediaRole, PeerSetup, Publishers, SfuMetrics,
};
use std::{
	net::SocketAddr,
	sync::Arc,
	time::{Duration, Instant},
};
use str0m::{
	bwe::Bitrate,
	change::{SdpAnswer, SdpOffer, SdpPendingOffer},
	config::CryptoProvider,
	media::{Direction, MediaKind, Mid},
	rtp::{Extension, ExtensionMap},
	Candidate, Rtc,
};

/// str0m's sender-report interval for viewers on the direct send path: never, in practice
/// (a year; the direct sender reports instead).
const NO_REPORTS: Duration = Duration::from_secs(365 * 24 * 3600);

/// The crypto provider every peer's `Rtc` is built with: str0m's, its DTLS tapped for the
/// SRTP keys of the direct send path (see `srtp`).
pub fn crypto() -> Arc<CryptoProvider> {
	Arc::new(srtp::tapping(str0m::crypto::from_feature_flags()))
}

/// What every offer is answered with.
#[derive(Clone)]
pub struct Offers {
	/// See [`crypto`].
	pub crypto: Arc<CryptoProvider>,
	/// The host candidate announced.
	pub candidate: SocketAddr,
	/// Answer as a full ICE agent rather than ICE-lite.
	pub full_ice: bool,
	/// Each room's publisher and whether it offered simulcast (read here, kept by the core).
	pub publishers: Publishers,
}

impl Offers {
	/// The core that runs the peers these offers make (same candidate, crypto provider and
	/// publisher registry).
	pub fn sfu(&self, now: Instant, metrics: SfuMetrics, recording: bool) -> Sfu {
		Sfu::new(
			now,
			self.candidate,
			self.crypto.clone(),
			self.publishers.clone(),
			metrics,
			recording,
		)
	}

	/// Accept `sdp` for `setup` as peer `id`: the peer for the core, and the SDP answer.
	pub fn accept(
		&self,
		id: MediaPeerId,
		sdp: &str,
		setup: &PeerSetup,
		now: Instant,
	) -> Result<(NewPeer, String), MediaError> {
		let offer =
			SdpOffer::from_sdp_string(sdp).map_err(|e| MediaError::BadSdp(e.to_string()))?;
		let simulcast = sdp.lines().any(|l| l.trim_start().starts_with("a=simulcast:"));
		let estimate = match setup.role {
			MediaRole::Publisher => false,
			MediaRole::Viewer => self
				.publishers
				.lock()
				.unwrap_or_else(|p| p.into_inner())
				.get(&setup.stream_id)
				.is_none_or(|(_, simulcast)| *simulcast),
		};
		// A certificate per peer: its DTLS session's SRTP export is filed under it (`srtp`),
		// so each peer's keys can only be taken by that peer.
		let cert =
			self.crypto.dtls_provider.generate_certificate().ok_or(MediaError::NoCertificate)?;
		let cert_der = cert.certificate.clone();
		let mut config = Rtc::builder()
			.set_ice_lite(!self.full_ice)
			.set_rtp_mode(true)
			.set_crypto_provider(self.crypto.clone())
			.set_dtls_cert(cert)
			.set_stats_interval(Some(Duration::from_secs(1)))
			// Bandwidth estimation (TWCC) picks a viewer's simulcast layer.
			.enable_bwe(estimate.then(|| Bitrate::bps(2_500_000)));
		// A viewer without estimation is sent to by the core's direct sender.
		let direct = setup.role == MediaRole::Viewer && !estimate;
		if direct {
			// Without estimation, transport-wide sequence numbers would only make the client
			// send feedback nobody reads (an RTCP packet every tens of milliseconds per viewer,
			// each one decrypted and parsed here).
			config = config
				.set_extension_map(extensions_without_twcc())
				// Its media goes through the direct sender, which sends the sender reports;
				// str0m's would carry none of its packets.
				.set_rtcp_report_interval_audio(NO_REPORTS)
				.set_rtcp_report_interval_video(NO_REPORTS);
		}
		let mut rtc = config.build(now);
		let candidate = Candidate::host(self.candidate, "udp")
			.map_err(|e| MediaError::BadSdp(e.to_string()))?;
		rtc.add_local_candidate(candidate);
		// str0m asserts on some offers it should refuse (a payload type claimed twice, found by
		// fuzzing: `sfu/tests/data/offer-pt-claimed-twice.sdp`). The `Rtc` is this offer's
		// alone and dropped on failure, so a panic there refuses the offer and nothing else.
		let negotiated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
			rtc.sdp_api().accept_offer(offer)
		}));
		let answer = match negotiated {
			Ok(answer) => answer.map_err(|e| MediaError::BadSdp(e.to_string()))?,
			Err(_) => return Err(MediaError::BadSdp("the offer cannot be negotiated".into())),
		};
		let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
		// The negotiated media, by the offer's mids (str0m reports `MediaAdded` only once
		// connected, too late to refuse an offer).
		let media: Vec<(Mid, MediaKind, Direction)> = sdp
			.lines()
			.filter_map(|l| l.trim().strip_prefix("a=mid:"))
			.filter_map(|mid| {
				let mid = Mid::from(mid.trim());
				rtc.media(mid).map(|m| (mid, m.kind(), m.direction()))
			})
			.collect();
		let wanted = match setup.role {
			MediaRole::Publisher => Direction::RecvOnly,
			MediaRole::Viewer => Direction::SendOnly,
		};
		let usable = |kind| media.iter().find(|(_, k, d)| *k == kind && *d == wanted).map(|m| m.0);
		let (audio, video) = (usable(MediaKind::Audio), usable(MediaKind::Video));
		if audio.is_none() && video.is_none() {
			return Err(MediaError::BadOffer(match setup.role {
				MediaRole::Publisher => "a publisher's offer must send audio or video (sendonly)",
				MediaRole::Viewer => "a viewer's offer must receive audio or video (recvonly)",
			}));
		}
		if setup.role == MediaRole::Publisher {
			// Checked and taken under one lock, so two offers cannot both find the room free.
			let mut publishers = self.publishers.lock().unwrap_or_else(|p| p.into_inner());
			if !setup.take_over && publishers.contains_key(&setup.stream_id) {
				return Err(MediaError::Occupied);
			}
			publishers.insert(setup.stream_id, (id, simulcast));
		}
		let peer = NewPeer {
			id,
			rtc,
			stream_id: setup.stream_id,
			role: setup.role,
			gate: setup.gate.clone(),
			label: setup.label.clone(),
			audio,
			video,
			created: now,
			direct,
			cert: cert_der,
			ufrag,
			seat: setup.seat,
			upstream: false,
		};
		Ok((peer, answer.to_sdp_string()))
	}
}

/// A pull from an origin server waiting for its answer: our offer's `Rtc` (full ICE,
/// controlling, receive-only audio and video) and what is needed to run it once answered. See
/// [`crate::MediaServer::pull`].
pub struct PendingPull {
	id: MediaPeerId,
	rtc: Rtc,
	pending: SdpPendingOffer,
	pub(crate) setup: PeerSetup,
	audio: Mid,
	video: Mid,
	cert: Vec<u8>,
	ufrag: String,
	created: Instant,
}

impl PendingPull {
	/// The peer id it will run as.
	pub fn id(&self) -> MediaPeerId {
		self.id
	}
}

impl Offers {
	/// Offer to pull `setup.stream_id` from another server (an origin): this server then runs
	/// the pull as the room's publisher. `setup.role` is ignored (a pull publishes here).
	pub fn pull(
		&self,
		id: MediaPeerId,
		setup: PeerSetup,
		now: Instant,
	) -> Result<(PendingPull, String), MediaError> {
		let cert =
			self.crypto.dtls_provider.generate_certificate().ok_or(MediaError::NoCertificate)?;
		let cert_der = cert.certificate.clone();
		let mut rtc = Rtc::builder()
			// The origin answers as ICE-lite (or full): we check the pair, as the controlling
			// agent an offerer is.
			.set_ice_lite(false)
			.set_rtp_mode(true)
			.set_crypto_provider(self.crypto.clone())
			.set_dtls_cert(cert)
			.set_stats_interval(Some(Duration::from_secs(1)))
			.build(now);
		let candidate = Candidate::host(self.candidate, "udp")
			.map_err(|e| MediaError::BadSdp(e.to_string()))?;
		rtc.add_local_candidate(candidate);
		let mut api = rtc.sdp_api();
		let audio = api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
		let video = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
		let (offer, pending) =
			api.apply().ok_or(MediaError::BadOffer("nothing to offer for the pull"))?;
		let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
		let setup = PeerSetup { role: MediaRole::Publisher, ..setup };
		let pull = PendingPull {
			id,
			rtc,
			pending,
			setup,
			audio,
			video,
			cert: cert_der,
			ufrag,
			created: now,
		};
		Ok((pull, offer.to_sdp_string()))
	}

	/// The origin answered `pull`: the peer for the core, the room's publisher from now on
	/// (it takes over from one there).
	pub fn pulled(&self, pull: PendingPull, answer: &str) -> Result<NewPeer, MediaError> {
		let PendingPull { id, mut rtc, pending, setup, audio, video, cert, ufrag, created } = pull;
		let answer =
			SdpAnswer::from_sdp_string(answer).map_err(|e| MediaError::BadSdp(e.to_string()))?;
		// As for offers: an answer str0m would assert on refuses the pull, nothing else.
		let accepted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
			rtc.sdp_api().accept_answer(pending, answer)
		}));
		match accepted {
			Ok(r) => r.map_err(|e| MediaError::BadSdp(e.to_string()))?,
			Err(_) => return Err(MediaError::BadSdp("the answer cannot be negotiated".into())),
		}
		let received = |mid| rtc.media(mid).is_some_and(|m| m.direction() == Direction::RecvOnly);
		let (audio, video) =
			(Some(audio).filter(|m| received(*m)), Some(video).filter(|m| received(*m)));
		if audio.is_none() && video.is_none() {
			return Err(MediaError::BadOffer("the origin's answer sends neither audio nor video"));
		}
		self.publishers
			.lock()
			.unwrap_or_else(|p| p.into_inner())
			.insert(setup.stream_id, (id, false));
		Ok(NewPeer {
			id,
			rtc,
			stream_id: setup.stream_id,
			role: MediaRole::Publisher,
			gate: setup.gate,
			label: setup.label,
			audio,
			video,
			created,
			direct: false,
			cert,
			ufrag,
			seat: None,
			upstream: true,
		})
	}
}

/// str0m's standard header extensions (Chrome's ids) without the transport-wide sequence
/// number and the send time, which only bandwidth estimation uses.
fn extensions_without_twcc() -> ExtensionMap {
	let mut exts = ExtensionMap::empty();
	for (id, ext) in ExtensionMap::standard().iter() {
		if !matches!(ext, Extension::TransportSequenceNumber | Extension::AbsoluteSendTime) {
			exts.set(id, ext.clone());
		}
	}
	exts
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::OpenGate;

	/// An offer that made str0m panic (found by `fuzz/`'s `sdp_offer` target, as a viewer's)
	/// is refused with an error, as a publisher's and as a viewer's.
	#[test]
	fn an_offer_that_panics_str0m_is_refused() {
		let sdp =
			String::from_utf8_lossy(include_bytes!("../tests/data/offer-pt-claimed-twice.sdp"));
		let offers = Offers {
			crypto: crypto(),
			candidate: "10.0.0.1:4000".parse().unwrap(),
			full_ice: false,
			publishers: Publishers::default(),
		};
		for role in [MediaRole::Publisher, MediaRole::Viewer] {
			let setup = PeerSetup {
				stream_id: 7,
				role,
				gate: Arc::new(OpenGate),
				events: None,
				label: String::new(),
				seat: None,
				take_over: false,
			};
			let refused = offers.accept(1, &sdp, &setup, Instant::now());
			assert!(
				matches!(refused, Err(MediaError::BadSdp(_) | MediaError::BadOffer(_))),
				"{role:?}"
			);
		}
	}
}
