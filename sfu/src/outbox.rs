//! Batched sends. A fan-out turns one publisher packet into a datagram per viewer; they leave
//! in `sendmmsg(2)` calls rather than a `sendto(2)` each, which saves the system call's fixed
//! cost (entry, descriptor lookup, socket lock) on all but one of them.
//!
//! Consecutive datagrams to one destination (the packets of a frame, forwarded to a viewer in
//! one batch) of one size, bar a shorter last one, go as one UDP GSO message (`UDP_SEGMENT`,
//! Linux 4.18+): the kernel routes and builds one buffer for the run and cuts it into the same
//! datagrams on the wire. Where the kernel or the device refuses GSO, it is turned off for good
//! and every datagram goes alone.
//!
//! The engine queues every datagram here and flushes at the end of each turn, before it
//! waits: a datagram waits at most one turn, and behind at most [`BATCH`] others.

use std::{
	io,
	net::{SocketAddr, UdpSocket},
	os::fd::AsRawFd,
};

/// Datagrams queued before a flush. Large enough to amortise the call; small enough that the
/// first viewers of a big fan-out are not held back for long.
pub(crate) const BATCH: usize = 64;
/// At most this many datagrams in one GSO message (the kernel's limit is 64 or more).
const MAX_SEGMENTS: usize = 32;
/// At most this many bytes in one GSO message (under the 64 KiB an IP packet may carry).
const MAX_GSO_BYTES: usize = 60_000;

/// Sent datagrams' buffers kept for reuse: about two batches' worth.
const SPARE_BUFFERS: usize = 2 * BATCH;

/// A control message buffer holding one `UDP_SEGMENT` (a `u16`), aligned as `cmsghdr` wants.
type Control = [u64; 4];

/// Datagrams waiting to be sent, and the scratch space for sending them.
pub(crate) struct Outbox {
	queue: Vec<(SocketAddr, Vec<u8>)>,
	/// Buffers of sent datagrams, for [`Outbox::buffer`].
	spare: Vec<Vec<u8>>,
	addrs: Vec<(libc::sockaddr_storage, libc::socklen_t)>,
	iovecs: Vec<libc::iovec>,
	controls: Vec<Control>,
	headers: Vec<libc::mmsghdr>,
	/// For each header, its first datagram in `queue` and how many it carries.
	spans: Vec<(usize, usize)>,
	gso: bool,
	/// Datagrams the kernel refused (full send buffer, unreachable destination).
	pub(crate) dropped: u64,
	/// `sendmmsg` calls made.
	pub(crate) calls: u64,
	/// Messages handed to the kernel (a GSO message carries several datagrams).
	pub(crate) messages: u64,
}

impl Outbox {
	pub(crate) fn new() -> Self {
		Self {
			queue: Vec::with_capacity(BATCH),
			spare: Vec::with_capacity(SPARE_BUFFERS),
			addrs: Vec::with_capacity(BATCH),
			iovecs: Vec::with_capacity(BATCH),
			controls: Vec::with_capacity(BATCH),
			headers: Vec::with_capacity(BATCH),
			spans: Vec::with_capacity(BATCH),
			gso: true,
			dropped: 0,
			calls: 0,
			messages: 0,
		}
	}

	/// An outbox that never uses GSO (for tests of the plain path).
	#[cfg(test)]
	fn without_gso() -> Self {
		Self { gso: false, ..Self::new() }
	}

	/// An empty buffer for a datagram: a sent one's, so that a steady flow allocates nothing.
	pub(crate) fn buffer(&mut self) -> Vec<u8> {
		self.spare.pop().unwrap_or_else(|| Vec::with_capacity(1500))
	}

	/// Queue a datagram; sends the batch once it is full.
	pub(crate) fn push(&mut self, socket: &UdpSocket, destination: SocketAddr, data: Vec<u8>) {
		self.queue.push((destination, data));
		if self.queue.len() >= BATCH {
			self.flush(socket);
		}
	}

	/// Send everything queued. A datagram the kernel refuses is dropped, as a failed
	/// `sendto` would drop it: media is loss-tolerant and NACK/RTX repairs what matters.
	pub(crate) fn flush(&mut self, socket: &UdpSocket) {
		let mut from = 0;
		while from < self.queue.len() {
			from = self.send_from(socket, from);
		}
		// No pointer outlives the call (see the `Send` impl).
		self.headers.clear();
		self.iovecs.clear();
		let room = SPARE_BUFFERS.saturating_sub(self.spare.len());
		self.spare.extend(
			self.queue
				.drain(..)
				.map(|(_, mut d)| {
					d.clear();
					d
				})
				.take(room),
		);
		// `drain` emptied the queue, the datagrams past `room` with it.
	}

	/// Send `queue[from..]`; returns where to go on from: the end, or past a failure.
	fn send_from(&mut self, socket: &UdpSocket, from: usize) -> usize {
		self.build(from);
		let mut next = 0;
		while next < self.headers.len() {
			let rest = &mut self.headers[next..];
			self.calls += 1;
			// SAFETY: `rest` points at initialised headers whose name, iovec and control
			// pointers refer to `self.addrs`, `self.iovecs`, `self.controls` and the queued
			// buffers, none of which is touched until the call returns; the kernel writes
			// only each header's `msg_len`.
			let sent = unsafe {
				libc::sendmmsg(socket.as_raw_fd(), rest.as_mut_ptr(), rest.len() as u32, 0)
			};
			if sent > 0 {
				self.messages += sent as u64;
				next += sent as usize;
				continue;
			}
			let e = io::Error::last_os_error();
			if e.kind() == io::ErrorKind::Interrupted {
				continue;
			}
			let (first, count) = self.spans[next];
			if count > 1 && e.kind() != io::ErrorKind::WouldBlock {
				// Refused as a GSO message (EIO: no checksum offload; EINVAL: an old kernel):
				// send this and all that follow one by one from now on.
				tracing::info!(
					"UDP GSO unavailable on the media socket ({e}): sending datagrams one by one"
				);
				self.gso = false;
				return first;
			}
			// The message failed: drop its datagrams and go on with the next.
			tracing::trace!("media send to {}: {e}", self.queue[first].0);
			self.dropped += count as u64;
			next += 1;
		}
		self.queue.len()
	}

	/// Headers for `queue[from..]`, one per run of datagrams that can share a GSO message.
	fn build(&mut self, from: usize) {
		self.addrs.clear();
		self.iovecs.clear();
		self.controls.clear();
		self.headers.clear();
		self.spans.clear();
		let mut i = from;
		while i < self.queue.len() {
			let (to, first) = (&self.queue[i].0, &self.queue[i].1);
			let size = first.len();
			let mut count = 1;
			let mut bytes = size;
			if self.gso {
				// Same destination, same size; a shorter datagram may end the run.
				while let Some((t, d)) = self.queue.get(i + count) {
					if t != to
						|| d.len() > size || count == MAX_SEGMENTS
						|| bytes + d.len() > MAX_GSO_BYTES
					{
						break;
					}
					count += 1;
					bytes += d.len();
					if d.len() < size {
						break;
					}
				}
			}
			self.addrs.push(sockaddr(to));
			self.iovecs.extend(
				self.queue[i..i + count]
					.iter()
					.map(|(_, d)| libc::iovec { iov_base: d.as_ptr() as *mut _, iov_len: d.len() }),
			);
			self.controls.push([0; 4]);
			self.spans.push((i, count));
			i += count;
		}
		// Pointers are taken once the vectors are complete: they no longer move.
		let mut iov = 0;
		for (k, &(_, count)) in self.spans.iter().enumerate() {
			// SAFETY: mmsghdr is plain old data; all-zero is a valid (empty) value.
			let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
			h.msg_hdr.msg_name = (&mut self.addrs[k].0 as *mut libc::sockaddr_storage).cast();
			h.msg_hdr.msg_namelen = self.addrs[k].1;
			h.msg_hdr.msg_iov = &mut self.iovecs[iov];
			h.msg_hdr.msg_iovlen = count;
			if count > 1 {
				let segment = self.iovecs[iov].iov_len as u16;
				let control = &mut self.controls[k];
				h.msg_hdr.msg_control = control.as_mut_ptr().cast();
				// SAFETY: CMSG_SPACE is a pure computation.
				h.msg_hdr.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as usize;
				// SAFETY: the control buffer is `Control`-sized (32 bytes, 8-aligned) and
				// `msg_controllen` (24) fits in it, so the first header and its 2 data bytes
				// are in bounds.
				unsafe {
					let cmsg = libc::CMSG_FIRSTHDR(&h.msg_hdr);
					(*cmsg).cmsg_level = libc::SOL_UDP;
					(*cmsg).cmsg_type = libc::UDP_SEGMENT;
					(*cmsg).cmsg_len = libc::CMSG_LEN(2) as usize;
					std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment);
				}
			}
			self.headers.push(h);
			iov += count;
		}
	}
}

// SAFETY: the raw pointers in `iovecs` and `headers` are written and read only inside
// `flush`, which clears both before it returns: between calls they hold nothing, so moving
// the outbox to another thread (the engine's, once, at start) moves no live pointer.
unsafe impl Send for Outbox {}

/// `addr` as the C socket address the kernel takes.
fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
	// SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
	let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
	let len = match addr {
		SocketAddr::V4(a) => {
			let sin = libc::sockaddr_in {
				sin_family: libc::AF_INET as libc::sa_family_t,
				sin_port: a.port().to_be(),
				sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
				sin_zero: [0; 8],
			};
			// SAFETY: sockaddr_storage is larger than and aligned for any sockaddr_*.
			unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
			std::mem::size_of::<libc::sockaddr_in>()
		},
		SocketAddr::V6(a) => {
			let sin6 = libc::sockaddr_in6 {
				sin6_family: libc::AF_INET6 as libc::sa_family_t,
				sin6_port: a.port().to_be(),
				sin6_flowinfo: a.flowinfo(),
				sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
				sin6_scope_id: a.scope_id(),
			};
			// SAFETY: as above.
			unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
			std::mem::size_of::<libc::sockaddr_in6>()
		},
	};
	(storage, len as libc::socklen_t)
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::time::Duration;

	fn receiver(addr: &str) -> UdpSocket {
		let s = UdpSocket::bind(addr).unwrap();
		s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
		s
	}

	fn expect(to: &UdpSocket, from: &UdpSocket, want: &[u8]) {
		let mut buf = [0u8; 2048];
		let (len, src) = to.recv_from(&mut buf).unwrap();
		assert_eq!(src, from.local_addr().unwrap());
		assert_eq!(&buf[..len], want);
	}

	/// More datagrams than one batch arrive whole and in order, with GSO and without.
	#[test]
	fn sends_batches_in_order() {
		for mut outbox in [Outbox::new(), Outbox::without_gso()] {
			let from = UdpSocket::bind("127.0.0.1:0").unwrap();
			let to = receiver("127.0.0.1:0");
			let n = BATCH * 2 + 5;
			// Sizes grow, so no two can share a GSO message.
			for i in 0..n {
				outbox.push(&from, to.local_addr().unwrap(), vec![i as u8; 100 + i]);
			}
			outbox.flush(&from);
			for i in 0..n {
				expect(&to, &from, &vec![i as u8; 100 + i]);
			}
			assert_eq!(outbox.dropped, 0);
			assert_eq!(outbox.calls, 3, "two full batches and the rest");
			assert_eq!(outbox.messages, n as u64);
		}
	}

	/// A viewer's run (equal sizes, a shorter last) interleaved with another viewer's: each
	/// datagram arrives as it was queued, whether the kernel joined the runs or not.
	#[test]
	fn sent_buffers_come_back_empty_and_spares_are_bounded() {
		let from = UdpSocket::bind("127.0.0.1:0").unwrap();
		let to = receiver("127.0.0.1:0");
		let mut outbox = Outbox::new();
		let mut data = outbox.buffer();
		data.extend_from_slice(&[7; 100]);
		let at = data.as_ptr();
		outbox.push(&from, to.local_addr().unwrap(), data);
		outbox.flush(&from);
		expect(&to, &from, &[7; 100]);
		let again = outbox.buffer();
		assert!(again.is_empty() && again.capacity() >= 100);
		assert_eq!(again.as_ptr(), at, "the sent datagram's buffer");
		for _ in 0..3 * SPARE_BUFFERS {
			outbox.queue.push((to.local_addr().unwrap(), vec![0; 10]));
		}
		outbox.flush(&from);
		assert_eq!(outbox.spare.len(), SPARE_BUFFERS);
	}

	#[test]
	fn runs_to_one_destination_arrive_as_datagrams() {
		let from = UdpSocket::bind("127.0.0.1:0").unwrap();
		let (a, b) = (receiver("127.0.0.1:0"), receiver("127.0.0.1:0"));
		let mut outbox = Outbox::new();
		let run = |tag: u8| -> Vec<Vec<u8>> {
			(0..6u8).map(|i| vec![tag + i; if i == 5 { 300 } else { 1100 }]).collect()
		};
		for d in run(10) {
			outbox.push(&from, a.local_addr().unwrap(), d);
		}
		for d in run(50) {
			outbox.push(&from, b.local_addr().unwrap(), d);
		}
		// A longer datagram after a run starts a new message.
		outbox.push(&from, b.local_addr().unwrap(), vec![99; 1200]);
		outbox.flush(&from);
		for d in run(10) {
			expect(&a, &from, &d);
		}
		for d in run(50) {
			expect(&b, &from, &d);
		}
		expect(&b, &from, &[99; 1200]);
		assert_eq!(outbox.dropped, 0);
		if outbox.gso {
			assert_eq!(outbox.messages, 3, "one message per run, and the longer one alone");
		} else {
			assert_eq!(outbox.messages, 13);
		}
	}

	/// IPv6 destinations work (where the machine has IPv6).
	#[test]
	fn sends_to_ipv6() {
		let (Ok(from), Ok(to)) = (UdpSocket::bind("[::1]:0"), UdpSocket::bind("[::1]:0")) else {
			return;
		};
		to.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
		let mut outbox = Outbox::new();
		for _ in 0..3 {
			outbox.push(&from, to.local_addr().unwrap(), vec![6; 1000]);
		}
		outbox.flush(&from);
		for _ in 0..3 {
			expect(&to, &from, &[6; 1000]);
		}
	}

	/// A datagram the kernel refuses (a v6 destination from a v4 socket) is dropped alone:
	/// the ones around it still go.
	#[test]
	fn a_refused_datagram_does_not_stop_the_batch() {
		let from = UdpSocket::bind("127.0.0.1:0").unwrap();
		let to = receiver("127.0.0.1:0");
		let mut outbox = Outbox::new();
		outbox.push(&from, to.local_addr().unwrap(), b"one".to_vec());
		outbox.push(&from, "[::1]:9".parse().unwrap(), b"refused".to_vec());
		outbox.push(&from, to.local_addr().unwrap(), b"two".to_vec());
		outbox.flush(&from);
		expect(&to, &from, b"one");
		expect(&to, &from, b"two");
		assert_eq!(outbox.dropped, 1);
	}
}
