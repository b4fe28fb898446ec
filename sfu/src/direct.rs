//! The direct send path: a viewer's forwarded packets written, protected and queued here
//! rather than through its `Rtc`.
//!
//! Through str0m each packet is queued in a send stream, released by the pacer and polled
//! out one at a time, a walk over ICE, DTLS, SCTP and the session per datagram: most of the
//! engine's own time per forwarded packet. A viewer without bandwidth estimation needs none of
//! that per packet: its `Rtc` stays for ICE, DTLS, keyframe requests and receiver reports,
//! and this sender does the rest of what str0m's send side did for it:
//!
//! - the RTP header (SSRC and payload type the viewer negotiated, the rewritten sequence
//!   number and timestamp, the mid and audio-level extensions) and its SRTP protection;
//! - a second of sent video, to answer the viewer's NACKs (RFC 4585) by RTX (RFC 4588) when
//!   negotiated, else by sending the packet again;
//! - a sender report per stream every second (RFC 3550 §6.4.1), which receivers need to
//!   synchronise audio and video. str0m's own are switched off for these viewers, so the
//!   SRTCP index is ours alone.

use crate::{output::Output, srtp::SrtpSession};
use std::{
	collections::VecDeque,
	net::SocketAddr,
	sync::Arc,
	time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// Sent video kept for retransmission: at most this old...
const HISTORY_AGE: Duration = Duration::from_secs(1);
/// ...and at most this many packets (a second of 10 Mbit/s video).
const HISTORY_LEN: usize = 1024;
/// A packet is sent again at most once in this long, however often it is asked for.
const RESEND_GAP: Duration = Duration::from_millis(100);
/// At most this many packets are sent again for one RTCP packet from the viewer.
const MAX_RESENDS: usize = 64;
/// How often each stream's sender report goes out.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// Seconds from the NTP era (1900) to the Unix epoch.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// RTCP packet types (RFC 3550, RFC 4585).
const RTCP_SR: u8 = 200;
const RTCP_RTPFB: u8 = 205;
/// Generic NACK's feedback message type (RFC 4585 §6.2.1).
const FMT_NACK: u8 = 1;

/// What the viewer negotiated for one of its streams, read from its `Rtc`.
#[derive(Debug, Clone)]
pub(crate) struct StreamInfo {
	/// The mid's bytes (str0m's `Mid` trims itself on every read).
	pub mid: Vec<u8>,
	pub ssrc: u32,
	pub clock_rate: u32,
	/// One-byte extension ids of the mid and the audio level, where negotiated.
	pub mid_ext: Option<u8>,
	pub level_ext: Option<u8>,
	/// The RTX stream's SSRC, and payload type → its RTX payload type.
	pub rtx: Option<(u32, Vec<(u8, u8)>)>,
	/// Keep sent packets for NACKs (video).
	pub nackable: bool,
}

struct Sent {
	seq: u64,
	ts: u32,
	pt: u8,
	marker: bool,
	payload: Arc<[u8]>,
	at: Instant,
	resent_at: Option<Instant>,
}

struct TxStream {
	info: StreamInfo,
	/// The RTX stream's next (extended) sequence number.
	rtx_seq: u64,
	packets: u32,
	octets: u32,
	/// The last packet's timestamp and when it was sent: the sender report's reference.
	last: Option<(u32, Instant)>,
	history: VecDeque<Sent>,
}

/// A packet to forward, as rewritten for this viewer.
pub(crate) struct Packet<'a> {
	pub video: bool,
	pub pt: u8,
	pub seq: u64,
	pub ts: u32,
	pub marker: bool,
	pub level: Option<(i8, bool)>,
	pub payload: &'a Arc<[u8]>,
}

/// One viewer's direct sender.
pub(crate) struct Direct {
	srtp: SrtpSession,
	/// The viewer's address: where str0m sent its DTLS, on the pair ICE nominated.
	dest: SocketAddr,
	audio: Option<TxStream>,
	video: Option<TxStream>,
	next_report: Instant,
	header: Vec<u8>,
	body: Vec<u8>,
	/// Packets sent again on the viewer's NACKs.
	pub(crate) resent: u64,
	/// Datagrams from the viewer that looked like RTCP but did not unprotect.
	pub(crate) rejected: u64,
}

impl Direct {
	pub(crate) fn new(
		srtp: SrtpSession,
		dest: SocketAddr,
		audio: Option<StreamInfo>,
		video: Option<StreamInfo>,
		now: Instant,
	) -> Self {
		let stream = |info: StreamInfo| TxStream {
			info,
			rtx_seq: u64::from(rand::random::<u16>() / 2 + 1),
			packets: 0,
			octets: 0,
			last: None,
			history: VecDeque::new(),
		};
		Self {
			srtp,
			dest,
			audio: audio.map(stream),
			video: video.map(stream),
			next_report: now + REPORT_INTERVAL,
			header: Vec::with_capacity(32),
			body: Vec::new(),
			resent: 0,
			rejected: 0,
		}
	}

	/// Protect `p` and queue it for the viewer. `false` if this viewer has no such stream.
	pub(crate) fn send(&mut self, p: &Packet, now: Instant, out: &mut dyn Output) -> bool {
		let Self { srtp, dest, audio, video, header, .. } = self;
		let Some(s) = (if p.video { video.as_mut() } else { audio.as_mut() }) else {
			return false;
		};
		write_header(header, &s.info, p.pt, p.seq as u16, p.ts, p.marker, p.level);
		let mut buf = out.buffer();
		if srtp.protect_rtp(header, p.payload, s.info.ssrc, p.seq, &mut buf).is_err() {
			return false;
		}
		out.transmit(*dest, buf);
		s.packets = s.packets.wrapping_add(1);
		s.octets = s.octets.wrapping_add(p.payload.len() as u32);
		s.last = Some((p.ts, now));
		if s.info.nackable {
			while s.history.front().is_some_and(|f| {
				s.history.len() >= HISTORY_LEN || now.saturating_duration_since(f.at) > HISTORY_AGE
			}) {
				s.history.pop_front();
			}
			s.history.push_back(Sent {
				seq: p.seq,
				ts: p.ts,
				pt: p.pt,
				marker: p.marker,
				payload: p.payload.clone(),
				at: now,
				resent_at: None,
			});
		}
		true
	}

	/// Send the sender reports if they are due.
	pub(crate) fn report(&mut self, now: Instant, out: &mut dyn Output) {
		if now < self.next_report {
			return;
		}
		self.next_report = now + REPORT_INTERVAL;
		let ntp = ntp_now();
		let Self { srtp, dest, audio, video, body, .. } = self;
		for s in [audio.as_ref(), video.as_ref()].into_iter().flatten() {
			let Some((ts, at)) = s.last else { continue };
			// The RTP time now, extrapolated from the last packet sent.
			let elapsed = now.saturating_duration_since(at).as_secs_f64();
			let rtp_now = ts.wrapping_add((elapsed * f64::from(s.info.clock_rate)) as u32);
			body.clear();
			body.extend_from_slice(&[0x80, RTCP_SR, 0, 6]);
			body.extend_from_slice(&s.info.ssrc.to_be_bytes());
			body.extend_from_slice(&ntp.to_be_bytes());
			body.extend_from_slice(&rtp_now.to_be_bytes());
			body.extend_from_slice(&s.packets.to_be_bytes());
			body.extend_from_slice(&s.octets.to_be_bytes());
			let mut buf = out.buffer();
			if srtp.protect_rtcp(body, &mut buf).is_ok() {
				out.transmit(*dest, buf);
			}
		}
	}

	/// Look at an SRTCP packet from the viewer (str0m gets it too, for its own uses) and
	/// answer its NACKs of our video.
	pub(crate) fn on_rtcp(&mut self, data: &[u8], now: Instant, out: &mut dyn Output) {
		let rtcp = match self.srtp.unprotect_rtcp(data) {
			Ok(rtcp) => rtcp,
			Err(e) => {
				tracing::trace!(len = data.len(), "viewer's SRTCP not taken: {e:?}");
				self.rejected += 1;
				return;
			},
		};
		let Some(ssrc) = self.video.as_ref().map(|v| v.info.ssrc) else { return };
		let mut wanted: Vec<u16> = Vec::new();
		for (fmt, pt, body) in rtcp_packets(&rtcp) {
			// Sender SSRC, media SSRC, then (PID, BLP) pairs.
			if pt != RTCP_RTPFB || fmt != FMT_NACK || body.len() < 8 {
				continue;
			}
			if u32::from_be_bytes([body[4], body[5], body[6], body[7]]) != ssrc {
				continue;
			}
			for fci in body[8..].chunks_exact(4) {
				let pid = u16::from_be_bytes([fci[0], fci[1]]);
				let blp = u16::from_be_bytes([fci[2], fci[3]]);
				wanted.push(pid);
				wanted.extend(
					(0..16).filter(|b| blp & (1 << b) != 0).map(|b| pid.wrapping_add(b + 1)),
				);
			}
		}
		if !wanted.is_empty() {
			tracing::trace!(?wanted, "viewer NACKs");
		}
		wanted.truncate(MAX_RESENDS);
		for seq in wanted {
			self.resend(seq, now, out);
		}
	}

	fn resend(&mut self, seq16: u16, now: Instant, out: &mut dyn Output) {
		let Self { srtp, dest, video, header, body, resent, .. } = self;
		let Some(s) = video.as_mut() else { return };
		let Some(p) = s.history.iter_mut().rev().find(|p| p.seq as u16 == seq16) else { return };
		if p.resent_at.is_some_and(|t| now.saturating_duration_since(t) < RESEND_GAP) {
			return;
		}
		p.resent_at = Some(now);
		let mut buf = out.buffer();
		let rtx = s.info.rtx.as_ref().and_then(|(ssrc, pts)| {
			pts.iter().find(|(main, _)| *main == p.pt).map(|(_, rtx_pt)| (*ssrc, *rtx_pt))
		});
		let sealed = match rtx {
			// RFC 4588 §4: the RTX stream's own sequence number; the original one leads
			// the payload.
			Some((rtx_ssrc, rtx_pt)) => {
				let rtx_seq = s.rtx_seq;
				s.rtx_seq += 1;
				let rtx_info = StreamInfo { ssrc: rtx_ssrc, ..s.info.clone() };
				write_header(header, &rtx_info, rtx_pt, rtx_seq as u16, p.ts, p.marker, None);
				body.clear();
				body.extend_from_slice(&(p.seq as u16).to_be_bytes());
				body.extend_from_slice(&p.payload);
				srtp.protect_rtp(header, body, rtx_ssrc, rtx_seq, &mut buf)
			},
			// The same packet again: the same index, so the same SRTP packet.
			None => {
				write_header(header, &s.info, p.pt, p.seq as u16, p.ts, p.marker, None);
				srtp.protect_rtp(header, &p.payload, s.info.ssrc, p.seq, &mut buf)
			},
		};
		if sealed.is_ok() {
			*resent += 1;
			out.transmit(*dest, buf);
		}
	}

	/// Follow the viewer to another address (ICE nominated another pair).
	pub(crate) fn set_destination(&mut self, dest: SocketAddr) {
		self.dest = dest;
	}
}

/// Write an RTP header (RFC 3550 §5.1) with one-byte header extensions (RFC 8285 §4.2).
fn write_header(
	out: &mut Vec<u8>,
	info: &StreamInfo,
	pt: u8,
	seq: u16,
	ts: u32,
	marker: bool,
	level: Option<(i8, bool)>,
) {
	out.clear();
	let mid = info.mid_ext.map(|id| (id, info.mid.as_slice()));
	let level = info.level_ext.zip(level);
	let extended = mid.is_some() || level.is_some();
	out.push(if extended { 0x90 } else { 0x80 });
	out.push(if marker { 0x80 } else { 0 } | (pt & 0x7f));
	out.extend_from_slice(&seq.to_be_bytes());
	out.extend_from_slice(&ts.to_be_bytes());
	out.extend_from_slice(&info.ssrc.to_be_bytes());
	if !extended {
		return;
	}
	let start = out.len();
	out.extend_from_slice(&[0xBE, 0xDE, 0, 0]);
	if let Some((id, mid)) = mid {
		// A mid is 1 to 16 bytes; the element's length field holds length − 1.
		let mid = &mid[..mid.len().clamp(1, 16)];
		out.push((id << 4) | (mid.len() as u8 - 1));
		out.extend_from_slice(mid);
	}
	if let Some((id, (dbov, voice))) = level {
		// RFC 6464: the voice-activity bit, then the level in −dBov.
		out.push(id << 4);
		out.push(if voice { 0x80 } else { 0 } | (dbov.unsigned_abs() & 0x7f));
	}
	while !(out.len() - start).is_multiple_of(4) {
		out.push(0);
	}
	let words = ((out.len() - start - 4) / 4) as u16;
	out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
}

/// The packets of a compound RTCP packet: (count or format, packet type, body after the
/// 4-byte header). Stops at the first malformed one.
fn rtcp_packets(mut buf: &[u8]) -> impl Iterator<Item = (u8, u8, &[u8])> {
	std::iter::from_fn(move || {
		if buf.len() < 4 || buf[0] >> 6 != 2 {
			return None;
		}
		let len = (usize::from(u16::from_be_bytes([buf[2], buf[3]])) + 1) * 4;
		if len > buf.len() {
			return None;
		}
		let (packet, rest) = buf.split_at(len);
		buf = rest;
		Some((packet[0] & 0x1f, packet[1], &packet[4..]))
	})
}

/// Whether a datagram is RTCP rather than RTP (RFC 5761 §4: payload types 64–95 are taken
/// by RTCP's packet types 192–223).
pub(crate) fn is_rtcp(data: &[u8]) -> bool {
	data.len() >= 8 && data[0] >> 6 == 2 && (192..=223).contains(&data[1])
}

/// The wall clock as a 64-bit NTP timestamp.
fn ntp_now() -> u64 {
	let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
	let secs = t.as_secs() + NTP_UNIX_OFFSET;
	let frac = (u64::from(t.subsec_nanos()) << 32) / 1_000_000_000;
	(secs << 32) | frac
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{output::Collected, srtp::TappedKeys};
	use str0m::crypto::dtls::SrtpProfile;
	use webrtc_srtp::{context::Context, protection_profile::ProtectionProfile};

	/// A direct sender to a viewer, and a webrtc-rs SRTP context to read what it sends.
	fn sender(rtx: bool) -> (Direct, Context, Context) {
		let material: Vec<u8> = (0..88u8).collect();
		let keys = TappedKeys::new(SrtpProfile::AEAD_AES_256_GCM, material.clone(), false);
		let srtp = SrtpSession::new(&str0m::crypto::from_feature_flags(), &keys).unwrap();
		// We are the DTLS server: ours are the export's second key and salt.
		let (key, salt) = (&material[32..64], &material[76..88]);
		let rx = Context::new(key, salt, ProtectionProfile::AeadAes256Gcm, None, None).unwrap();
		let tx = Context::new(
			&material[..32],
			&material[64..76],
			ProtectionProfile::AeadAes256Gcm,
			None,
			None,
		)
		.unwrap();
		let video =
			StreamInfo { rtx: rtx.then(|| (0x0BAD_CAFE, vec![(96, 97)])), ..info(Some(3), None) };
		let d = Direct::new(srtp, VIEWER.parse().unwrap(), None, Some(video), Instant::now());
		(d, rx, tx)
	}

	const VIEWER: &str = "192.0.2.7:5000";

	/// The next datagram sent, which must be to the viewer.
	fn recv(out: &mut Collected) -> Vec<u8> {
		let (to, datagram) = out.datagrams.pop_front().expect("a datagram");
		assert_eq!(to, VIEWER.parse().unwrap());
		datagram
	}

	fn send_three(d: &mut Direct, out: &mut Collected, now: Instant) {
		for seq in 100..103u64 {
			let payload: Arc<[u8]> = vec![seq as u8; 300].into();
			let p = Packet {
				video: true,
				pt: 96,
				seq,
				ts: 9_000,
				marker: seq == 102,
				level: None,
				payload: &payload,
			};
			assert!(d.send(&p, now, out));
		}
	}

	fn nack(tx: &mut Context, pid: u16, blp: u16) -> Vec<u8> {
		let mut rtcp = vec![0x81, RTCP_RTPFB, 0, 3, 0, 0, 0, 1];
		rtcp.extend_from_slice(&0x0102_0304u32.to_be_bytes());
		rtcp.extend_from_slice(&pid.to_be_bytes());
		rtcp.extend_from_slice(&blp.to_be_bytes());
		tx.encrypt_rtcp(&rtcp).unwrap().to_vec()
	}

	#[test]
	fn nacks_are_answered_by_rtx_once_per_gap_and_reports_count_what_was_sent() {
		let (mut d, mut rx, mut tx) = sender(true);
		let mut out = Collected::default();
		let t0 = Instant::now();
		send_three(&mut d, &mut out, t0);
		for seq in 100..103u16 {
			let plain = rx.decrypt_rtp(&recv(&mut out)).unwrap();
			assert_eq!(u16::from_be_bytes([plain[2], plain[3]]), seq);
			assert_eq!(&plain[8..12], &0x0102_0304u32.to_be_bytes());
		}
		// NACK of 100 and (bitmask) 102: both come back on the RTX stream, in its own
		// sequence, the original number leading the payload.
		d.on_rtcp(&nack(&mut tx, 100, 0b10), t0, &mut out);
		let mut rtx_seqs = Vec::new();
		for want in [100u16, 102] {
			let plain = rx.decrypt_rtp(&recv(&mut out)).unwrap();
			assert_eq!(plain[1] & 0x7f, 97, "the RTX payload type");
			assert_eq!(plain[1] & 0x80 != 0, want == 102, "the marker is kept");
			assert_eq!(&plain[8..12], &0x0BAD_CAFEu32.to_be_bytes(), "the RTX SSRC");
			rtx_seqs.push(u16::from_be_bytes([plain[2], plain[3]]));
			// Fixed header, then one word of extension header and one of the mid.
			let body = &plain[20..];
			assert_eq!(u16::from_be_bytes([body[0], body[1]]), want);
			assert_eq!(&body[2..], &[want as u8; 300][..]);
		}
		assert_eq!(rtx_seqs[1], rtx_seqs[0].wrapping_add(1));
		assert_eq!(d.resent, 2);
		// The same NACK again at once: not sent twice within the gap; later, it is.
		d.on_rtcp(&nack(&mut tx, 100, 0), t0 + Duration::from_millis(10), &mut out);
		assert_eq!(d.resent, 2);
		d.on_rtcp(&nack(&mut tx, 100, 0), t0 + RESEND_GAP * 2, &mut out);
		assert_eq!(d.resent, 3);
		let _ = recv(&mut out);
		// A forged NACK is not taken.
		let mut forged = nack(&mut tx, 101, 0);
		forged[12] ^= 1;
		d.on_rtcp(&forged, t0 + RESEND_GAP * 4, &mut out);
		assert_eq!((d.resent, d.rejected), (3, 1));

		// The sender report, a second on: three packets, 900 bytes, the RTP time moved on
		// by the second (90 kHz) from the last packet's.
		d.report(t0 + REPORT_INTERVAL, &mut out);
		let sr = rx.decrypt_rtcp(&recv(&mut out)).unwrap();
		assert_eq!((sr[1], &sr[4..8]), (RTCP_SR, &0x0102_0304u32.to_be_bytes()[..]));
		let word = |i: usize| u32::from_be_bytes([sr[i], sr[i + 1], sr[i + 2], sr[i + 3]]);
		assert_eq!((word(20), word(24)), (3, 900));
		assert_eq!(word(16), 9_000 + 90_000);
	}

	#[test]
	fn without_rtx_the_packet_itself_is_sent_again() {
		let (mut d, mut rx, mut tx) = sender(false);
		let mut out = Collected::default();
		let t0 = Instant::now();
		send_three(&mut d, &mut out, t0);
		let first = recv(&mut out);
		for _ in 0..2 {
			let _ = recv(&mut out);
		}
		let _ = rx.decrypt_rtp(&first).unwrap();
		d.on_rtcp(&nack(&mut tx, 100, 0), t0, &mut out);
		// The same index under the same key: the very same SRTP packet.
		assert_eq!(recv(&mut out), first);
	}

	fn info(mid_ext: Option<u8>, level_ext: Option<u8>) -> StreamInfo {
		StreamInfo {
			mid: b"1".to_vec(),
			ssrc: 0x0102_0304,
			clock_rate: 90_000,
			mid_ext,
			level_ext,
			rtx: None,
			nackable: true,
		}
	}

	#[test]
	fn headers_carry_the_negotiated_extensions_padded_to_words() {
		let mut h = Vec::new();
		write_header(&mut h, &info(None, None), 96, 7, 9, true, Some((-30, true)));
		assert_eq!(h, [0x80, 0x80 | 96, 0, 7, 0, 0, 0, 9, 1, 2, 3, 4]);
		write_header(&mut h, &info(Some(3), Some(1)), 111, 0x0102, 1, false, Some((-30, true)));
		assert_eq!(
			h,
			[
				0x90,
				111,
				1,
				2,
				0,
				0,
				0,
				1,
				1,
				2,
				3,
				4, // fixed header
				0xBE,
				0xDE,
				0,
				1, // one word of extensions
				0x30,
				b'1',
				0x10,
				0x80 | 30, // mid "1", audio level −30 dBov with voice
			]
		);
		// No level for this packet: the mid alone, padded.
		write_header(&mut h, &info(Some(3), Some(1)), 111, 1, 1, false, None);
		assert_eq!(&h[12..], &[0xBE, 0xDE, 0, 1, 0x30, b'1', 0, 0]);
	}

	#[test]
	fn compound_rtcp_is_split_and_a_bad_length_stops_it() {
		let sr = [0x80, 200, 0, 1, 9, 9, 9, 9];
		let nack = [0x81, 205, 0, 2, 0, 0, 0, 1, 1, 2, 3, 4];
		let mut both = sr.to_vec();
		both.extend_from_slice(&nack);
		let got: Vec<_> = rtcp_packets(&both).map(|(f, pt, b)| (f, pt, b.len())).collect();
		assert_eq!(got, [(0, 200, 4), (1, 205, 8)]);
		let mut cut = both.clone();
		cut.truncate(both.len() - 1);
		assert_eq!(rtcp_packets(&cut).count(), 1);
		assert!(is_rtcp(&both) && !is_rtcp(&[0x80, 96, 0, 1, 0, 0, 0, 0]));
	}
}
