//! Forged ICE connectivity checks: well-formed STUN binding requests (RFC 8489) naming a
//! username no peer has, with a PRIORITY, a made-up MESSAGE-INTEGRITY and a correct FINGERPRINT, so that a
//! receiver parses them as STUN and has to look them up. What a stranger who knows the media
//! port but no peer's credentials can send, as fast as it likes.

/// A binding request for `username` (`"theirs:ours"`) with transaction id `txid`.
pub fn binding_request(username: &str, txid: [u8; 12]) -> Vec<u8> {
	let attr = |m: &mut Vec<u8>, kind: u16, value: &[u8]| {
		m.extend_from_slice(&kind.to_be_bytes());
		m.extend_from_slice(&(value.len() as u16).to_be_bytes());
		m.extend_from_slice(value);
		m.resize(m.len().next_multiple_of(4), 0);
	};
	// Binding request, length set below, the magic cookie.
	let mut m = vec![0x00, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42];
	m.extend_from_slice(&txid);
	attr(&mut m, 0x0006, username.as_bytes());
	// PRIORITY (RFC 8445 §7.1.1): ICE agents refuse a check without one.
	attr(&mut m, 0x0024, &0x6E7F_1EFFu32.to_be_bytes());
	attr(&mut m, 0x0008, &[0xAB; 20]);
	// The fingerprint covers the message with its length already counting the fingerprint.
	let len = (m.len() - 20 + 8) as u16;
	m[2..4].copy_from_slice(&len.to_be_bytes());
	let crc = crc32(&m) ^ 0x5354_554E;
	attr(&mut m, 0x8028, &crc.to_be_bytes());
	m
}

/// CRC-32 (ISO-HDLC), as the STUN fingerprint uses.
fn crc32(data: &[u8]) -> u32 {
	let mut crc = !0u32;
	for b in data {
		crc ^= u32::from(*b);
		for _ in 0..8 {
			crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
		}
	}
	!crc
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn crc32_matches_the_standard_check_value() {
		assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
	}

	#[test]
	fn the_request_is_padded_and_its_length_counts_every_attribute() {
		let m = binding_request("abc:de", [1; 12]);
		assert_eq!(m.len() % 4, 0);
		assert_eq!(usize::from(u16::from_be_bytes([m[2], m[3]])), m.len() - 20);
	}
}
