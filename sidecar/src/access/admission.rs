//! Admission at the door: how many connections the HTTP server holds (in all and per client
//! address), how fast one address may open new ones, and how fast it may make requests that
//! cost work (WHIP/WHEP offers, posted vouchers and close intents).
//!
//! Sans-IO: [`Admission`] takes the time as an argument; the server holds it behind a mutex
//! and keeps a [`Permit`] per open connection, which gives its slot back when dropped. An
//! IPv6 client is counted by its /64, the block one subscriber usually holds, so that walking
//! through one's own addresses does not multiply the limits. Behind a reverse proxy every
//! connection comes from the proxy: raise the per-address limits there (0 turns one off).

use super::rate::TokenBucket;
use std::{
	collections::HashMap,
	net::IpAddr,
	sync::{Arc, Mutex},
	time::Instant,
};

/// The limits; 0 turns a limit off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
	/// Open connections in all.
	pub max_connections: usize,
	/// Open connections per client address.
	pub max_per_ip: usize,
	/// New connections one address may open at once...
	pub connect_burst: f64,
	/// ...and per second after that.
	pub connect_per_sec: f64,
	/// Costly requests one address may make at once...
	pub request_burst: f64,
	/// ...and per second after that.
	pub request_per_sec: f64,
}

impl Default for Limits {
	fn default() -> Self {
		// A NAT of a few hundred viewers, each page a WebSocket and a WHEP player posting a
		// voucher a second, fits; one machine's flood does not.
		Self::new(50_000, 256, 16.0, 32.0)
	}
}

impl Limits {
	/// The limits as configured: rates per second, with a burst of four seconds' worth (at
	/// least one).
	pub fn new(
		max_connections: usize,
		max_per_ip: usize,
		connect_per_sec: f64,
		request_per_sec: f64,
	) -> Self {
		let burst = |rate: f64| if rate > 0.0 { (4.0 * rate).max(1.0) } else { 0.0 };
		Self {
			max_connections,
			max_per_ip,
			connect_burst: burst(connect_per_sec),
			connect_per_sec,
			request_burst: burst(request_per_sec),
			request_per_sec,
		}
	}

	/// No limit at all (benchmarks that open tens of thousands of connections from a few
	/// loopback addresses).
	pub fn off() -> Self {
		Self {
			max_connections: 0,
			max_per_ip: 0,
			connect_burst: 0.0,
			connect_per_sec: 0.0,
			request_burst: 0.0,
			request_per_sec: 0.0,
		}
	}
}

/// Why a connection or request is turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Turned {
	/// The server holds as many connections as it may.
	#[error("the server is full")]
	Full,
	/// This address holds as many connections as it may.
	#[error("too many connections from this address")]
	TooManyFromIp,
	/// This address opens connections too fast.
	#[error("connecting too fast")]
	ConnectingTooFast,
	/// This address makes costly requests too fast.
	#[error("too many requests from this address")]
	TooManyRequests,
}

impl Turned {
	/// As written in metrics' labels.
	pub fn as_str(self) -> &'static str {
		match self {
			Self::Full => "full",
			Self::TooManyFromIp => "too_many_from_ip",
			Self::ConnectingTooFast => "connecting_too_fast",
			Self::TooManyRequests => "too_many_requests",
		}
	}
}

#[derive(Debug)]
struct Client {
	open: usize,
	connects: TokenBucket,
	requests: TokenBucket,
}

/// The state of the door.
#[derive(Debug)]
pub struct Admission {
	limits: Limits,
	open: usize,
	clients: HashMap<IpAddr, Client>,
	/// Admissions since the last sweep of idle clients.
	since_sweep: usize,
}

/// How many admissions between sweeps of the clients that hold nothing.
const SWEEP_EVERY: usize = 4096;

/// The key an address is counted under: itself for IPv4, its /64 for IPv6.
pub fn client_key(ip: IpAddr) -> IpAddr {
	match ip {
		IpAddr::V4(_) => ip,
		IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
			Some(v4) => IpAddr::V4(v4),
			None => {
				let mut o = v6.octets();
				o[8..].fill(0);
				IpAddr::from(o)
			},
		},
	}
}

impl Admission {
	/// An empty door with `limits`.
	pub fn new(limits: Limits) -> Self {
		Self { limits, open: 0, clients: HashMap::new(), since_sweep: 0 }
	}

	/// The limits.
	pub fn limits(&self) -> Limits {
		self.limits
	}

	/// Connections held.
	pub fn open(&self) -> usize {
		self.open
	}

	/// Addresses tracked (holding connections, or with buckets not yet full again).
	pub fn tracked(&self) -> usize {
		self.clients.len()
	}

	fn client(&mut self, key: IpAddr, now: Instant) -> &mut Client {
		let (connect, request) = (self.limits.connect_burst, self.limits.request_burst);
		self.clients.entry(key).or_insert_with(|| Client {
			open: 0,
			connects: TokenBucket::full(connect, now),
			requests: TokenBucket::full(request, now),
		})
	}

	/// Admit a new connection from `ip`; [`Admission::release`] it when it closes.
	pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<(), Turned> {
		let l = self.limits;
		if l.max_connections > 0 && self.open >= l.max_connections {
			return Err(Turned::Full);
		}
		self.since_sweep += 1;
		if self.since_sweep >= SWEEP_EVERY {
			self.sweep(now);
		}
		let client = self.client(client_key(ip), now);
		if l.max_per_ip > 0 && client.open >= l.max_per_ip {
			return Err(Turned::TooManyFromIp);
		}
		if l.connect_burst > 0.0
			&& !client.connects.try_take(now, l.connect_burst, l.connect_per_sec)
		{
			return Err(Turned::ConnectingTooFast);
		}
		client.open += 1;
		self.open += 1;
		Ok(())
	}

	/// A connection from `ip` closed.
	pub fn release(&mut self, ip: IpAddr) {
		self.open = self.open.saturating_sub(1);
		if let Some(c) = self.clients.get_mut(&client_key(ip)) {
			c.open = c.open.saturating_sub(1);
		}
	}

	/// Whether `ip` may make one more costly request now.
	pub fn request(&mut self, ip: IpAddr, now: Instant) -> Result<(), Turned> {
		let l = self.limits;
		if l.request_burst <= 0.0 {
			return Ok(());
		}
		let client = self.client(client_key(ip), now);
		if client.requests.try_take(now, l.request_burst, l.request_per_sec) {
			Ok(())
		} else {
			Err(Turned::TooManyRequests)
		}
	}

	/// Forget the addresses that hold no connection and whose buckets are full again: they
	/// would be created afresh, identical.
	fn sweep(&mut self, now: Instant) {
		let l = self.limits;
		self.clients.retain(|_, c| {
			c.open > 0
				|| !c.connects.is_full(now, l.connect_burst, l.connect_per_sec)
				|| !c.requests.is_full(now, l.request_burst, l.request_per_sec)
		});
		self.since_sweep = 0;
	}
}

/// The door, shared by the accept loop and the connections.
#[derive(Clone, Debug)]
pub struct Door(Arc<Mutex<Admission>>);

/// A connection's slot; given back when dropped.
#[derive(Debug)]
pub struct Permit {
	door: Door,
	ip: IpAddr,
}

impl Door {
	/// A door with `limits`.
	pub fn new(limits: Limits) -> Self {
		Self(Arc::new(Mutex::new(Admission::new(limits))))
	}

	fn lock(&self) -> std::sync::MutexGuard<'_, Admission> {
		self.0.lock().unwrap_or_else(|p| p.into_inner())
	}

	/// Admit a connection from `ip` now.
	pub fn admit(&self, ip: IpAddr) -> Result<Permit, Turned> {
		self.lock().admit(ip, Instant::now())?;
		Ok(Permit { door: self.clone(), ip })
	}

	/// Whether `ip` may make a costly request now.
	pub fn request(&self, ip: IpAddr) -> Result<(), Turned> {
		self.lock().request(ip, Instant::now())
	}

	/// Connections held.
	pub fn open(&self) -> usize {
		self.lock().open()
	}
}

impl Permit {
	/// The client address it was given to.
	pub fn ip(&self) -> IpAddr {
		self.ip
	}
}

impl Drop for Permit {
	fn drop(&mut self) {
		self.door.lock().release(self.ip);
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::time::Duration;

	fn ip(s: &str) -> IpAddr {
		s.parse().unwrap()
	}

	fn limits() -> Limits {
		Limits {
			max_connections: 5,
			max_per_ip: 2,
			connect_burst: 3.0,
			connect_per_sec: 1.0,
			request_burst: 2.0,
			request_per_sec: 1.0,
		}
	}

	#[test]
	fn per_address_and_total_caps() {
		let t = Instant::now();
		let mut a = Admission::new(limits());
		let one = ip("10.0.0.1");
		assert_eq!(a.admit(one, t), Ok(()));
		assert_eq!(a.admit(one, t), Ok(()));
		assert_eq!(a.admit(one, t), Err(Turned::TooManyFromIp));
		a.release(one);
		assert_eq!(a.admit(one, t), Ok(()), "a slot given back is free again");
		// The fourth connection attempt in the burst: too fast, though a slot is free.
		a.release(one);
		assert_eq!(a.admit(one, t), Err(Turned::ConnectingTooFast));
		assert_eq!(a.admit(one, t + Duration::from_secs(1)), Ok(()));
		// Others fill the server up to its total.
		for i in 2..=4 {
			assert_eq!(a.admit(ip(&format!("10.0.0.{i}")), t), Ok(()));
		}
		assert_eq!(a.open(), 5);
		assert_eq!(a.admit(ip("10.0.0.9"), t), Err(Turned::Full));
		// A refused attempt holds nothing.
		a.release(ip("10.0.0.2"));
		assert_eq!(a.admit(ip("10.0.0.9"), t), Ok(()));
	}

	#[test]
	fn an_ipv6_block_counts_as_one_client() {
		let t = Instant::now();
		let mut a = Admission::new(limits());
		assert_eq!(a.admit(ip("2001:db8:1:2::1"), t), Ok(()));
		assert_eq!(a.admit(ip("2001:db8:1:2:ffff::9"), t), Ok(()));
		assert_eq!(a.admit(ip("2001:db8:1:2:abcd::1"), t), Err(Turned::TooManyFromIp));
		assert_eq!(a.admit(ip("2001:db8:1:3::1"), t), Ok(()), "another /64");
		// An IPv4-mapped address is its IPv4 address.
		assert_eq!(client_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
	}

	#[test]
	fn costly_requests_are_rate_limited_per_address() {
		let t = Instant::now();
		let mut a = Admission::new(limits());
		let one = ip("10.0.0.1");
		assert_eq!(a.request(one, t), Ok(()));
		assert_eq!(a.request(one, t), Ok(()));
		assert_eq!(a.request(one, t), Err(Turned::TooManyRequests));
		assert_eq!(a.request(ip("10.0.0.2"), t), Ok(()), "another address");
		assert_eq!(a.request(one, t + Duration::from_secs(1)), Ok(()));
	}

	#[test]
	fn idle_clients_are_forgotten_and_off_means_off() {
		let t = Instant::now();
		let mut a = Admission::new(Limits { max_connections: 0, ..limits() });
		for i in 0..SWEEP_EVERY as u32 - 1 {
			let addr = IpAddr::from(i.to_be_bytes());
			assert_eq!(a.admit(addr, t), Ok(()));
			a.release(addr);
		}
		assert_eq!(a.tracked(), SWEEP_EVERY - 1, "their buckets are not full yet");
		// The next admission, once those buckets are full again, forgets them.
		let later = t + Duration::from_secs(60);
		assert_eq!(a.admit(ip("10.9.9.9"), later), Ok(()));
		assert_eq!(a.tracked(), 1);
		let mut off = Admission::new(Limits::off());
		for _ in 0..10_000 {
			assert_eq!(off.admit(ip("10.0.0.1"), later), Ok(()));
			assert_eq!(off.request(ip("10.0.0.1"), later), Ok(()));
		}
	}
}
