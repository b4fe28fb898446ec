//! Bearer tokens for WHIP (publish) and WHEP (watch).
//!
//! A token is a MAC, under a secret kept beside the database, of what it grants and to whom:
//! "account A publishes to stream S until time T (generation G)", or "account A watches with
//! session N". The token carries those claims in the clear, so that a forged or mangled one is
//! refused by one hash, before the database or the chain is asked anything; only then is the
//! chain asked whether the named account holds the right *now* — a token for a stream that
//! changed hands or a session that closed is worthless.
//!
//! Publish tokens expire, and their creator can rotate them: every stream has a generation
//! (kept in the store, zero until the first rotation) and a token of an older one is refused.
//! Nothing else is stored per token: an OBS profile keeps working across restarts until the
//! token expires or is rotated.
//!
//! Format (dot-separated, lower-case hex):
//! - publish: `p1.<stream id>.<generation>.<expires, unix seconds>.<account, 64 hex>.<mac, 64 hex>`;
//! - watch: `w1.<session id>.<account, 64 hex>.<mac, 64 hex>`.

use sp_runtime::traits::{BlakeTwo256, Hash};
use std::path::Path;
use vilokanam_chain_client::{AccountId, SessionId, StreamId};

const PUBLISH_DOMAIN: &[u8] = b"vilokanam/whip/v2";
const WATCH_DOMAIN: &[u8] = b"vilokanam/whep/v2";

/// Why a token is refused before any chain lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
	/// Not a token of this kind at all.
	#[error("not a token of the expected kind")]
	Malformed,
	/// Well-formed, but not issued by this sidecar (or for another stream or session).
	#[error("the token was not issued by this sidecar for this stream or session")]
	Forged,
	/// Past its expiry.
	#[error("the token has expired: ask the studio for a new one")]
	Expired,
	/// Its stream's creator rotated the stream's tokens since it was issued.
	#[error("the token was rotated by the stream's creator: ask the studio for the new one")]
	Rotated,
}

/// What a publish token grants, once its MAC checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishClaims {
	/// The stream.
	pub stream_id: StreamId,
	/// The account it was issued to (still to be checked against the chain's creator).
	pub account: AccountId,
	/// The stream's token generation when it was issued.
	pub generation: u32,
	/// Unix seconds after which it is refused.
	pub expires_s: u64,
}

/// Issues and checks tokens.
#[derive(Clone)]
pub struct Tokens {
	secret: [u8; 32],
}

impl Tokens {
	/// Tokens under the secret in `path`, created (random, mode 0600) if missing.
	pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
		match std::fs::read(path) {
			Ok(bytes) if bytes.len() == 32 => {
				let mut secret = [0u8; 32];
				secret.copy_from_slice(&bytes);
				Ok(Self { secret })
			},
			Ok(_) => Err(std::io::Error::other(format!(
				"{} is not a 32-byte token secret",
				path.display()
			))),
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
				let secret: [u8; 32] = rand::random();
				write_private(path, &secret)?;
				Ok(Self { secret })
			},
			Err(e) => Err(e),
		}
	}

	/// Tokens valid for this process only.
	pub fn ephemeral() -> Self {
		Self { secret: rand::random() }
	}

	fn mac(&self, domain: &[u8], fields: &[&[u8]]) -> [u8; 32] {
		let mut data = Vec::with_capacity(32 + domain.len() + 64);
		data.extend_from_slice(&self.secret);
		data.extend_from_slice(domain);
		for f in fields {
			data.extend_from_slice(f);
		}
		// BLAKE2 is not open to length extension, so secret ‖ message is a sound MAC; every
		// field but the last has a fixed length, so no two claims give the same message.
		BlakeTwo256::hash(&data).0
	}

	fn publish_mac(&self, c: &PublishClaims) -> [u8; 32] {
		self.mac(
			PUBLISH_DOMAIN,
			&[
				&c.stream_id.to_le_bytes(),
				&c.generation.to_le_bytes(),
				&c.expires_s.to_le_bytes(),
				c.account.as_ref(),
			],
		)
	}

	/// The token that lets `claims.account` publish to `claims.stream_id` over WHIP.
	pub fn publish(&self, claims: &PublishClaims) -> String {
		format!(
			"p1.{}.{}.{}.{}.{}",
			claims.stream_id,
			claims.generation,
			claims.expires_s,
			hex::encode(claims.account.as_ref() as &[u8]),
			hex::encode(self.publish_mac(claims)),
		)
	}

	/// The claims of a publish token for `stream_id`, if this sidecar issued it and it has not
	/// expired at `now_s` (unix seconds). Its generation is still to be compared with the
	/// stream's ([`TokenError::Rotated`]), and its account with the chain's creator.
	pub fn check_publish(
		&self,
		token: &str,
		stream_id: StreamId,
		now_s: u64,
	) -> Result<PublishClaims, TokenError> {
		let mut parts = token.split('.');
		let (Some("p1"), Some(id), Some(generation), Some(expires), Some(account), Some(mac), None) = (
			parts.next(),
			parts.next(),
			parts.next(),
			parts.next(),
			parts.next(),
			parts.next(),
			parts.next(),
		) else {
			return Err(TokenError::Malformed);
		};
		let claims = PublishClaims {
			stream_id: number(id)?,
			generation: number(generation)?,
			expires_s: number(expires)?,
			account: AccountId::new(hex32(account)?),
		};
		if claims.stream_id != stream_id
			|| !constant_time_eq(&hex32(mac)?, &self.publish_mac(&claims))
		{
			return Err(TokenError::Forged);
		}
		if now_s >= claims.expires_s {
			return Err(TokenError::Expired);
		}
		Ok(claims)
	}

	fn watch_mac(&self, session_id: SessionId, viewer: &AccountId) -> [u8; 32] {
		self.mac(WATCH_DOMAIN, &[&session_id.to_le_bytes(), viewer.as_ref()])
	}

	/// The token that lets `viewer` watch with `session_id` over WHEP (and post its vouchers).
	pub fn watch(&self, session_id: SessionId, viewer: &AccountId) -> String {
		format!(
			"w1.{session_id}.{}.{}",
			hex::encode(viewer.as_ref() as &[u8]),
			hex::encode(self.watch_mac(session_id, viewer))
		)
	}

	/// The session and viewer a watch token names, if this sidecar issued it (whether that
	/// account still holds that session is the chain's to say).
	pub fn check_watch(&self, token: &str) -> Result<(SessionId, AccountId), TokenError> {
		let mut parts = token.split('.');
		let (Some("w1"), Some(id), Some(account), Some(mac), None) =
			(parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
		else {
			return Err(TokenError::Malformed);
		};
		let (session_id, viewer) = (number(id)?, AccountId::new(hex32(account)?));
		if !constant_time_eq(&hex32(mac)?, &self.watch_mac(session_id, &viewer)) {
			return Err(TokenError::Forged);
		}
		Ok((session_id, viewer))
	}
}

/// A decimal number as written by this module (digits only, no sign or leading `+`).
fn number<T: std::str::FromStr>(s: &str) -> Result<T, TokenError> {
	if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
		return Err(TokenError::Malformed);
	}
	s.parse().map_err(|_| TokenError::Malformed)
}

fn hex32(s: &str) -> Result<[u8; 32], TokenError> {
	let mut out = [0u8; 32];
	hex::decode_to_slice(s, &mut out).map_err(|_| TokenError::Malformed)?;
	Ok(out)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
	a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
	use std::io::Write;
	let mut options = std::fs::OpenOptions::new();
	options.write(true).create_new(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn claims(stream_id: StreamId, account: &AccountId) -> PublishClaims {
		PublishClaims { stream_id, account: account.clone(), generation: 3, expires_s: 1_000 }
	}

	#[test]
	fn publish_tokens_bind_what_they_grant() {
		let t = Tokens::ephemeral();
		let (alice, bob) = (AccountId::new([1; 32]), AccountId::new([2; 32]));
		let p = t.publish(&claims(7, &alice));
		assert_eq!(t.check_publish(&p, 7, 999), Ok(claims(7, &alice)));
		assert_eq!(t.check_publish(&p, 8, 999), Err(TokenError::Forged), "another stream");
		assert_eq!(t.check_publish(&p, 7, 1_000), Err(TokenError::Expired));
		assert_eq!(Tokens::ephemeral().check_publish(&p, 7, 0), Err(TokenError::Forged));
		// Changing any claim in the clear breaks the MAC: the account, the generation, the
		// expiry.
		let alice_hex = hex::encode([1u8; 32]);
		for forged in [
			p.replace(&alice_hex, &hex::encode([2u8; 32])),
			p.replacen(".3.", ".4.", 1),
			p.replacen(".1000.", ".9999.", 1),
		] {
			assert_ne!(forged, p);
			assert_eq!(t.check_publish(&forged, 7, 0), Err(TokenError::Forged), "{forged}");
		}
		assert_ne!(t.publish(&claims(7, &bob)), p);
		for junk in [
			"",
			"nonsense",
			"p1.7.3.1000",
			&format!("{p}.extra"),
			&p.replacen("p1.", "p2.", 1),
			&p.replacen(".7.", ".+7.", 1),
			&p.replacen(".7.", ".99999999999999999999999.", 1),
			&p[..p.len() - 2],
		] {
			assert_eq!(t.check_publish(junk, 7, 0), Err(TokenError::Malformed), "{junk}");
		}
	}

	#[test]
	fn watch_tokens_bind_what_they_grant() {
		let t = Tokens::ephemeral();
		let (alice, bob) = (AccountId::new([1; 32]), AccountId::new([2; 32]));
		let w = t.watch(42, &bob);
		assert_eq!(t.check_watch(&w), Ok((42, bob.clone())));
		let other_session = w.replacen("w1.42.", "w1.43.", 1);
		assert_eq!(t.check_watch(&other_session), Err(TokenError::Forged));
		let other_viewer = w.replace(&hex::encode([2u8; 32]), &hex::encode([1u8; 32]));
		assert_eq!(t.check_watch(&other_viewer), Err(TokenError::Forged));
		assert_eq!(Tokens::ephemeral().check_watch(&w), Err(TokenError::Forged));
		let p = t.publish(&claims(42, &alice));
		assert_eq!(t.check_watch(&p), Err(TokenError::Malformed), "a publish token");
		assert_eq!(t.check_publish(&w, 42, 0), Err(TokenError::Malformed), "a watch token");
		assert_eq!(t.check_watch("x.y"), Err(TokenError::Malformed));
	}

	#[test]
	fn the_secret_persists() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("secret");
		let a = Tokens::load_or_create(&path).unwrap();
		let b = Tokens::load_or_create(&path).unwrap();
		let alice = AccountId::new([1; 32]);
		assert_eq!(a.publish(&claims(1, &alice)), b.publish(&claims(1, &alice)));
		std::fs::write(&path, b"short").unwrap();
		assert!(Tokens::load_or_create(&path).is_err());
	}
}
