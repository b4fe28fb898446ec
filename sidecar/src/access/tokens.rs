//! Bearer tokens for WHIP (publish) and WHEP (watch).
//!
//! A token is a MAC, under a secret kept beside the database, of what it grants: "publish to
//! stream S as account A", or "watch as the viewer of session N". Nothing is stored per token:
//! the same request always yields the same token (an OBS profile keeps working across
//! restarts), and checking one means recomputing it for the account the chain says holds the
//! right *now* — a token for a stream that changed hands or a session that closed is worthless.
//!
//! Format: publish tokens are 64 hex digits; watch tokens are `<session id>.<64 hex digits>`
//! so that the session is known before the MAC is checked.

use sp_runtime::traits::{BlakeTwo256, Hash};
use std::path::Path;
use vilokanam_chain_client::{AccountId, SessionId, StreamId};

const PUBLISH_DOMAIN: &[u8] = b"vilokanam/whip/v1";
const WATCH_DOMAIN: &[u8] = b"vilokanam/whep/v1";

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

	fn mac(&self, domain: &[u8], id: u64, account: &AccountId) -> [u8; 32] {
		let mut data = Vec::with_capacity(32 + domain.len() + 8 + 32);
		data.extend_from_slice(&self.secret);
		data.extend_from_slice(domain);
		data.extend_from_slice(&id.to_le_bytes());
		data.extend_from_slice(account.as_ref());
		// BLAKE2 is not open to length extension, so secret ‖ message is a sound MAC.
		BlakeTwo256::hash(&data).0
	}

	/// The token that lets `creator` publish to `stream_id` over WHIP.
	pub fn publish(&self, stream_id: StreamId, creator: &AccountId) -> String {
		hex::encode(self.mac(PUBLISH_DOMAIN, stream_id, creator))
	}

	/// Whether `token` lets `creator` publish to `stream_id`.
	pub fn check_publish(&self, token: &str, stream_id: StreamId, creator: &AccountId) -> bool {
		let mut mac = [0u8; 32];
		hex::decode_to_slice(token, &mut mac).is_ok()
			&& constant_time_eq(&mac, &self.mac(PUBLISH_DOMAIN, stream_id, creator))
	}

	/// The token that lets `viewer` watch with `session_id` over WHEP.
	pub fn watch(&self, session_id: SessionId, viewer: &AccountId) -> String {
		format!("{session_id}.{}", hex::encode(self.mac(WATCH_DOMAIN, session_id, viewer)))
	}

	/// The session a watch token names (not yet checked).
	pub fn watch_session(token: &str) -> Option<SessionId> {
		token.split_once('.')?.0.parse().ok()
	}

	/// Whether `token` lets `viewer` watch with `session_id`.
	pub fn check_watch(&self, token: &str, session_id: SessionId, viewer: &AccountId) -> bool {
		let Some((id, mac_hex)) = token.split_once('.') else { return false };
		let mut mac = [0u8; 32];
		id.parse() == Ok(session_id)
			&& hex::decode_to_slice(mac_hex, &mut mac).is_ok()
			&& constant_time_eq(&mac, &self.mac(WATCH_DOMAIN, session_id, viewer))
	}
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

	#[test]
	fn tokens_bind_what_they_grant() {
		let t = Tokens::ephemeral();
		let (alice, bob) = (AccountId::new([1; 32]), AccountId::new([2; 32]));
		let p = t.publish(7, &alice);
		assert!(t.check_publish(&p, 7, &alice));
		assert!(!t.check_publish(&p, 8, &alice));
		assert!(!t.check_publish(&p, 7, &bob));
		assert!(!t.check_publish("nonsense", 7, &alice));
		assert!(!Tokens::ephemeral().check_publish(&p, 7, &alice), "another secret");
		let w = t.watch(42, &bob);
		assert_eq!(Tokens::watch_session(&w), Some(42));
		assert!(t.check_watch(&w, 42, &bob));
		assert!(!t.check_watch(&w, 43, &bob));
		assert!(!t.check_watch(&w, 42, &alice));
		assert!(!t.check_watch(&p, 42, &bob), "a publish token is not a watch token");
		assert_eq!(Tokens::watch_session("x.y"), None);
	}

	#[test]
	fn the_secret_persists() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("secret");
		let a = Tokens::load_or_create(&path).unwrap();
		let b = Tokens::load_or_create(&path).unwrap();
		let alice = AccountId::new([1; 32]);
		assert_eq!(a.publish(1, &alice), b.publish(1, &alice));
		std::fs::write(&path, b"short").unwrap();
		assert!(Tokens::load_or_create(&path).is_err());
	}
}
