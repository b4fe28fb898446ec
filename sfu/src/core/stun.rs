//! Just enough of STUN (RFC 8489) to route a binding request: the USERNAME attribute's first
//! part, which is the ufrag the receiving agent (we) gave in its answer (RFC 8445 §7.2.2).
//! Read from the raw datagram in one pass bounded by its length; nothing is verified here
//! (str0m checks the message's integrity for the one peer it names).

/// STUN's magic cookie (RFC 8489 §5).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
/// The USERNAME attribute's type.
const USERNAME: u16 = 0x0006;
const HEADER_LEN: usize = 20;

/// The local ufrag a binding request names (`USERNAME` is `local:remote`), if `data` is a
/// STUN message carrying one.
pub(crate) fn local_ufrag(data: &[u8]) -> Option<&str> {
	if data.len() < HEADER_LEN || data[4..8] != MAGIC_COOKIE {
		return None;
	}
	let body_len = usize::from(u16::from_be_bytes([data[2], data[3]]));
	let mut rest = data.get(HEADER_LEN..HEADER_LEN + body_len)?;
	while rest.len() >= 4 {
		let kind = u16::from_be_bytes([rest[0], rest[1]]);
		let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
		let value = rest.get(4..4 + len)?;
		if kind == USERNAME {
			let username = std::str::from_utf8(value).ok()?;
			return username.split_once(':').map(|(local, _)| local);
		}
		// Attributes are padded to four bytes.
		rest = rest.get(4 + len.next_multiple_of(4)..)?;
	}
	None
}

#[cfg(test)]
mod tests {
	use super::*;

	fn request(attrs: &[(u16, &[u8])]) -> Vec<u8> {
		let mut body = Vec::new();
		for (kind, value) in attrs {
			body.extend_from_slice(&kind.to_be_bytes());
			body.extend_from_slice(&(value.len() as u16).to_be_bytes());
			body.extend_from_slice(value);
			body.resize(body.len().next_multiple_of(4), 0);
		}
		let mut m = vec![0x00, 0x01];
		m.extend_from_slice(&(body.len() as u16).to_be_bytes());
		m.extend_from_slice(&MAGIC_COOKIE);
		m.extend_from_slice(&[7; 12]);
		m.extend_from_slice(&body);
		m
	}

	#[test]
	fn the_local_ufrag_is_read_behind_other_attributes() {
		let m = request(&[(0x0024, &[0, 0, 0, 1]), (USERNAME, b"srv1:cli22")]);
		assert_eq!(local_ufrag(&m), Some("srv1"));
		// Padding after an odd-length attribute.
		let m = request(&[(0x8022, b"abc"), (USERNAME, b"s:c")]);
		assert_eq!(local_ufrag(&m), Some("s"));
	}

	#[test]
	fn malformed_messages_name_no_one() {
		assert_eq!(local_ufrag(&[0; 8]), None, "short");
		let mut m = request(&[(USERNAME, b"srv:cli")]);
		m[4] = 0;
		assert_eq!(local_ufrag(&m), None, "no magic cookie");
		let m = request(&[(USERNAME, b"no-colon")]);
		assert_eq!(local_ufrag(&m), None);
		let mut m = request(&[(USERNAME, b"srv:cli")]);
		m[22..24].copy_from_slice(&500u16.to_be_bytes());
		assert_eq!(local_ufrag(&m), None, "an attribute longer than the message");
		let mut m = request(&[(USERNAME, b"srv:cli")]);
		m[2..4].copy_from_slice(&4000u16.to_be_bytes());
		assert_eq!(local_ufrag(&m), None, "a body longer than the datagram");
		assert_eq!(local_ufrag(&request(&[])), None, "no USERNAME");
	}
}
