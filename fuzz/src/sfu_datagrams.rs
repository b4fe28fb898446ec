//! Datagrams into the SFU's sans-IO core (`Sfu::handle`), with a publisher and a viewer
//! connected (str0m clients, ICE and DTLS done in simulated time): what anyone can send to the
//! media port, what a publisher's address can send, and RTP a publisher really sends (encrypted
//! by its client, so that it reaches our keyframe detection, layers and forwarding).
//!
//! Input: operations, each a kind byte then its fields:
//! - `0` port(2) len(1) bytes: a datagram from a stranger's address;
//! - `1` / `2` len(1) bytes: a datagram from the publisher's / the viewer's address (raw, as if
//!   from its socket);
//! - `3` pt(1) seq(2) ts(4) marker(1) len(1) bytes: RTP the publisher sends (pt: 0 is its
//!   VP8, 1 its H.264, then n + 2 its n-th negotiated payload type, the byte itself past them);
//! - `4` ticks(1): time passes, 4 ms per tick, both ways carried.
//!
//! The core and its clients persist between inputs (they are rebuilt when a peer closed), as a
//! long-running SFU does.

use std::{
	cell::RefCell,
	net::SocketAddr,
	time::{Duration, Instant},
};
use str0m::{
	change::SdpAnswer,
	format::Codec,
	media::{Direction, MediaKind, Mid},
	net::{Protocol, Receive},
	rtp::{RtpWrite, SeqNo},
	Candidate, Event, Input as RtcInput, Output as RtcOutput, Rtc,
};
use vilokanam_sfu::{
	offer::{self, Offers},
	Collected, Input, MediaEvent, MediaPeerId, MediaRole, Publishers, Sfu, SfuMetrics,
};

const CORE: &str = "10.0.0.1:4000";
const TICK: Duration = Duration::from_millis(4);

struct Client {
	rtc: Rtc,
	addr: SocketAddr,
	mid: Mid,
	id: MediaPeerId,
	connected: bool,
	/// RTP packets it received (the viewer's: what the core forwarded).
	received: usize,
}

struct Net {
	now: Instant,
	sfu: Sfu,
	out: Collected,
	clients: Vec<Client>,
	seq: u64,
}

impl Net {
	/// A core with a publisher (client 0) and a viewer (client 1), both connected.
	fn new() -> Self {
		let now = Instant::now();
		let offers = Offers {
			crypto: offer::crypto(),
			candidate: CORE.parse().expect("an address"),
			full_ice: false,
			publishers: Publishers::default(),
		};
		let sfu = offers.sfu(now, SfuMetrics::unregistered(), false);
		let mut net = Self { now, sfu, out: Collected::default(), clients: Vec::new(), seq: 1 };
		for (id, role, port) in [(1, MediaRole::Publisher, 5000), (2, MediaRole::Viewer, 5001)] {
			net.join(&offers, id, role, port);
		}
		for _ in 0..200 {
			if net.clients.iter().all(|c| c.connected) {
				break;
			}
			net.tick();
		}
		// As a viewer joining a room does: a moment for the core to start it.
		for _ in 0..50 {
			net.tick();
		}
		net
	}

	fn join(&mut self, offers: &Offers, id: MediaPeerId, role: MediaRole, port: u16) {
		let addr: SocketAddr = format!("10.0.0.2:{port}").parse().expect("an address");
		let mut rtc = Rtc::builder().set_rtp_mode(true).build(self.now);
		rtc.add_local_candidate(Candidate::host(addr, "udp").expect("a candidate"));
		let dir = match role {
			MediaRole::Publisher => Direction::SendOnly,
			MediaRole::Viewer => Direction::RecvOnly,
		};
		let mut api = rtc.sdp_api();
		let mid = api.add_media(MediaKind::Video, dir, None, None, None);
		let (offer, pending) = api.apply().expect("an offer");
		let setup = crate::open_setup(role, None, true);
		let (peer, answer) =
			offers.accept(id, &offer.to_sdp_string(), &setup, self.now).expect("accepted");
		let answer = SdpAnswer::from_sdp_string(&answer).expect("an answer");
		rtc.sdp_api().accept_answer(pending, answer).expect("answer accepted");
		self.sfu.handle(self.now, Input::Add(Box::new(peer)), &mut self.out);
		self.clients.push(Client { rtc, addr, mid, id, connected: false, received: 0 });
	}

	/// Whether both peers are still there.
	fn healthy(&self) -> bool {
		let closed = |id| {
			self.out.events.iter().any(|(p, e)| *p == id && matches!(e, MediaEvent::Closed(_)))
		};
		self.clients.iter().all(|c| c.connected && !closed(c.id))
	}

	fn datagram(&mut self, source: SocketAddr, data: &[u8]) {
		self.sfu.handle(self.now, Input::Datagram { source, data }, &mut self.out);
		self.carry();
	}

	/// Carry what is pending both ways, at the current instant.
	fn carry(&mut self) {
		for _ in 0..8 {
			let mut moved = false;
			for i in 0..self.clients.len() {
				moved |= self.drain(i);
			}
			self.sfu.handle(self.now, Input::Timeout, &mut self.out);
			while let Some((to, datagram)) = self.out.datagrams.pop_front() {
				moved = true;
				self.deliver(to, &datagram);
			}
			if !moved {
				break;
			}
		}
		// Events only matter for `healthy`: keep the last few.
		if self.out.events.len() > 64 {
			self.out.events.drain(..self.out.events.len() - 64);
		}
	}

	fn tick(&mut self) {
		self.carry();
		self.now += TICK;
		for i in 0..self.clients.len() {
			let _ = self.clients[i].rtc.handle_input(RtcInput::Timeout(self.now));
			self.drain(i);
		}
		self.sfu.handle(self.now, Input::Timeout, &mut self.out);
		self.carry();
	}

	/// Poll client `i` until it waits; its datagrams go to the core.
	fn drain(&mut self, i: usize) -> bool {
		let mut moved = false;
		loop {
			let c = &mut self.clients[i];
			let Ok(output) = c.rtc.poll_output() else { return moved };
			match output {
				RtcOutput::Timeout(_) => return moved,
				RtcOutput::Transmit(t) => {
					moved = true;
					let input = Input::Datagram { source: c.addr, data: &t.contents };
					self.sfu.handle(self.now, input, &mut self.out);
				},
				RtcOutput::Event(Event::Connected) => c.connected = true,
				RtcOutput::Event(Event::RtpPacket(_)) => c.received += 1,
				RtcOutput::Event(_) => {},
			}
		}
	}

	fn deliver(&mut self, to: SocketAddr, datagram: &[u8]) {
		let Some(i) = self.clients.iter().position(|c| c.addr == to) else { return };
		let Ok(contents) = datagram.try_into() else { return };
		let c = &mut self.clients[i];
		let receive = Receive {
			proto: Protocol::Udp,
			source: CORE.parse().expect("an address"),
			destination: c.addr,
			contents,
		};
		// A client may refuse what the core sends: that is the client's business, not a bug of
		// ours (the core's output is checked by the core tests).
		let _ = c.rtc.handle_input(RtcInput::Receive(self.now, receive));
		self.drain(i);
	}

	/// The publisher sends one RTP packet through its client.
	fn publish(&mut self, pt_index: u8, seq_step: u16, ts: u32, marker: bool, payload: &[u8]) {
		self.seq += u64::from(seq_step.max(1));
		let c = &mut self.clients[0];
		// VP8's and H.264's first, then every negotiated one.
		let params = c.rtc.codec_config().params();
		let first = |codec| params.iter().find(|p| p.spec().codec == codec).map(|p| p.pt());
		let pts: Vec<_> = [first(Codec::Vp8), first(Codec::H264)]
			.into_iter()
			.flatten()
			.chain(params.iter().map(|p| p.pt()))
			.collect();
		let pt = pts.get(usize::from(pt_index)).copied().unwrap_or_else(|| pt_index.into());
		let (now, mid, seq) = (self.now, c.mid, self.seq);
		let mut api = c.rtc.direct_api();
		let Some(tx) = api.stream_tx_by_mid(mid, None) else { return };
		tx.write_rtp(
			RtpWrite::new(pt, SeqNo::from(seq), ts, now, payload.to_vec())
				.marker(marker)
				.nackable(true),
		);
		self.carry();
	}
}

thread_local! {
	static NET: RefCell<Option<Net>> = const { RefCell::new(None) };
}

/// Reads `n` bytes off the front of `data`.
fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
	if data.len() < n {
		return None;
	}
	let (head, rest) = data.split_at(n);
	*data = rest;
	Some(head)
}

/// The operations of one input: see the module documentation.
pub fn run(mut data: &[u8]) {
	NET.with(|cell| {
		let mut cell = cell.borrow_mut();
		if !cell.as_ref().is_some_and(Net::healthy) {
			*cell = Some(Net::new());
		}
		let Some(net) = cell.as_mut() else { return };
		while let Some(&[kind]) = take(&mut data, 1) {
			match kind % 5 {
				0 => {
					let Some(port) = take(&mut data, 2) else { return };
					let Some(&[len]) = take(&mut data, 1) else { return };
					let Some(bytes) = take(&mut data, usize::from(len)) else { return };
					let port = u16::from_be_bytes([port[0], port[1]]);
					let source = SocketAddr::from(([10, 9, port as u8, 1], port));
					net.datagram(source, bytes);
				},
				k @ (1 | 2) => {
					let Some(&[len]) = take(&mut data, 1) else { return };
					let Some(bytes) = take(&mut data, usize::from(len)) else { return };
					let source = net.clients[usize::from(k - 1)].addr;
					net.datagram(source, bytes);
				},
				3 => {
					let Some(h) = take(&mut data, 9) else { return };
					let Some(bytes) = take(&mut data, usize::from(h[8])) else { return };
					let seq_step = u16::from_be_bytes([h[1], h[2]]);
					let ts = u32::from_be_bytes([h[3], h[4], h[5], h[6]]);
					net.publish(h[0], seq_step, ts, h[7] & 1 == 1, bytes);
				},
				_ => {
					let Some(&[ticks]) = take(&mut data, 1) else { return };
					for _ in 0..ticks {
						net.tick();
					}
				},
			}
		}
	});
}

/// A VP8 keyframe then a delta frame from the publisher, time passing, STUN-like junk from a
/// stranger, an RTCP-like datagram from the publisher's address.
pub fn seeds() -> Vec<Vec<u8>> {
	let rtp = |marker: u8, payload: &[u8]| {
		let mut op = vec![3, 0, 0, 1, 0, 0, 0x0b, 0xb8, marker, payload.len() as u8];
		op.extend_from_slice(payload);
		op
	};
	let keyframe = [0x10, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
	let delta = [0x10, 0x01, 0x00, 0x00];
	let mut stun = vec![0, 0x30, 0x39, 28, 0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
	stun.extend_from_slice(&[7; 12]);
	stun.extend_from_slice(&[0x00, 0x06, 0x00, 0x04]);
	stun.extend_from_slice(b"ab:c");
	vec![
		[rtp(1, &keyframe), vec![4, 10], rtp(1, &delta), vec![4, 30]].concat(),
		[stun.clone(), vec![4, 5]].concat(),
		[vec![1, 8, 0x81, 0xc9, 0, 1, 0, 0, 0, 1], vec![4, 3]].concat(),
		[vec![2, 4, 0x80, 0x60, 0, 1], rtp(0, &[0xff; 40])].concat(),
	]
}

#[cfg(test)]
mod tests {
	use super::*;

	/// The harness reaches what it is for: both peers connect, and the publisher's RTP is
	/// forwarded to the viewer through the core.
	#[test]
	fn the_publisher_reaches_the_viewer_through_the_core() {
		let net = Net::new();
		assert!(net.healthy(), "ICE and DTLS complete");
		drop(net);
		for seed in seeds() {
			run(&seed);
		}
		NET.with(|cell| {
			let cell = cell.borrow();
			let net = cell.as_ref().expect("the net");
			assert!(net.healthy());
			assert!(net.clients[1].received > 0, "the viewer got the publisher's packets");
		});
	}
}
