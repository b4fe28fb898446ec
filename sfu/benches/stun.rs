//! What a flood of ICE binding requests with random usernames costs the SFU's core, against
//! the number of peers it runs: the core's CPU time (the thread's, from
//! `CLOCK_THREAD_CPUTIME_ID`) per request, each from a new source address.
//!
//! ```text
//! scripts/bench.sh stun   # 10 and 10,000 peers
//! scripts/bench.sh stun 10 1000 10000 --requests 200000
//! ```
//!
//! The requests are well-formed STUN (USERNAME, a made-up MESSAGE-INTEGRITY, a correct
//! FINGERPRINT), so that str0m parses them as STUN: what an attacker who knows the port but no
//! peer's credentials can send. Each should cost one parse and one failed lookup, whatever
//! the number of peers (routing by the username's ufrag, `core::stun`).

use std::{
	net::{Ipv4Addr, SocketAddr},
	sync::Arc,
	time::{Duration, Instant},
};
use str0m::{
	media::{Direction, MediaKind},
	Candidate, Rtc,
};
use vilokanam_media_bots::stun;
use vilokanam_sfu::{
	offer::{self, Offers},
	Input, MediaEvent, MediaPeerId, MediaRole, OpenGate, Output, PeerSetup, Publishers, SfuMetrics,
};

/// Drops everything (the core answers nothing to these requests anyway).
struct Discard(u64);

impl Output for Discard {
	fn transmit(&mut self, _: SocketAddr, _: Vec<u8>) {
		self.0 += 1;
	}

	fn event(&mut self, _: MediaPeerId, _: MediaEvent) {}
}

fn thread_cpu() -> Duration {
	let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
	// SAFETY: a valid timespec for the call to fill.
	unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
	Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A browser-like viewer's offer (str0m's), answered once per peer.
fn client_offer() -> String {
	let mut rtc = Rtc::builder().set_rtp_mode(true).build(Instant::now());
	rtc.add_local_candidate(Candidate::host("10.0.0.2:5000".parse().unwrap(), "udp").unwrap());
	let mut api = rtc.sdp_api();
	api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
	let (offer, _) = api.apply().unwrap();
	offer.to_sdp_string()
}

fn measure(peers: usize, requests: usize, sdp: &str) {
	let now = Instant::now();
	let candidate = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 4000));
	let offers = Offers {
		crypto: offer::crypto(),
		candidate,
		full_ice: false,
		publishers: Publishers::default(),
	};
	let mut sfu = offers.sfu(now, SfuMetrics::unregistered(), false);
	let mut out = Discard(0);
	let started = Instant::now();
	for id in 1..=peers as MediaPeerId {
		let setup = PeerSetup {
			stream_id: id % 100,
			role: MediaRole::Viewer,
			gate: Arc::new(OpenGate),
			events: None,
			label: String::new(),
			seat: None,
			take_over: false,
		};
		let (peer, _) = offers.accept(id, sdp, &setup, now).expect("an answer");
		sfu.handle(now, Input::Add(Box::new(peer)), &mut out);
	}
	let setup_time = started.elapsed();
	let sample = stun::binding_request("a:b", [0; 12]);
	let parsed: Result<str0m::net::DatagramRecv, _> = sample.as_slice().try_into();
	assert!(parsed.is_ok(), "the forged requests parse as STUN");
	let flood: Vec<(SocketAddr, Vec<u8>)> = (0..requests)
		.map(|i| {
			let ip = Ipv4Addr::from(0x0B00_0000 + i as u32);
			let user = format!("{:08x}:{:08x}", rand::random::<u32>(), rand::random::<u32>());
			(SocketAddr::from((ip, 40_000)), stun::binding_request(&user, rand::random()))
		})
		.collect();
	let cpu = thread_cpu();
	let wall = Instant::now();
	for (source, data) in &flood {
		sfu.handle(now, Input::Datagram { source: *source, data }, &mut out);
	}
	let cpu = thread_cpu() - cpu;
	let wall = wall.elapsed();
	assert_eq!(out.0, 0, "nothing answers a request naming no peer");
	let scan = old_routing(peers, &flood[..flood.len().min(2_000)], now);
	println!(
		"{peers:>6} peers: {:.3} µs core CPU per request ({requests} requests, {:.2} s CPU, {:.2} s \
		 wall; {:.1} s to set the peers up)",
		cpu.as_secs_f64() * 1e6 / requests as f64,
		cpu.as_secs_f64(),
		wall.as_secs_f64(),
		setup_time.as_secs_f64(),
	);
	println!(
		"{peers:>6} peers: {:.3} µs per request the old way (every peer's ICE agent asked in turn, \
		 as the routing before `core::stun` did for a new address)",
		scan.as_secs_f64() * 1e6
	);
}

/// What routing a request from a new address cost before: `accepts` asked of each peer's
/// `Rtc` until one took it (none does here). Measured on `peers` ICE-lite `Rtc`s of our own
/// (sharing one certificate: only their ICE agents matter), per request.
fn old_routing(peers: usize, requests: &[(SocketAddr, Vec<u8>)], now: Instant) -> Duration {
	let crypto = offer::crypto();
	let cert = crypto.dtls_provider.generate_certificate().expect("a certificate");
	let rtcs: Vec<Rtc> = (0..peers)
		.map(|_| {
			Rtc::builder()
				.set_ice_lite(true)
				.set_rtp_mode(true)
				.set_dtls_cert(cert.clone())
				.build(now)
		})
		.collect();
	let destination = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 4000));
	let cpu = thread_cpu();
	let mut taken = 0;
	for (source, data) in requests {
		let Ok(contents) = data.as_slice().try_into() else { continue };
		let input = str0m::Input::Receive(
			now,
			str0m::net::Receive {
				proto: str0m::net::Protocol::Udp,
				source: *source,
				destination,
				contents,
			},
		);
		taken += rtcs.iter().filter(|r| r.accepts(&input)).count();
	}
	assert_eq!(taken, 0);
	(thread_cpu() - cpu) / requests.len() as u32
}

fn main() {
	let mut counts = Vec::new();
	let mut requests = 200_000;
	let mut args = std::env::args().skip(1);
	while let Some(a) = args.next() {
		match a.as_str() {
			"--requests" => requests = args.next().and_then(|n| n.parse().ok()).unwrap_or(requests),
			// cargo bench passes `--bench`.
			"--bench" => {},
			n => counts.extend(n.parse::<usize>().ok()),
		}
	}
	if counts.is_empty() {
		counts = vec![10, 10_000];
	}
	let sdp = client_offer();
	for peers in counts {
		measure(peers, requests, &sdp);
	}
}
