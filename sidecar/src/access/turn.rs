//! TURN credentials for members, in coturn's shared-secret scheme ("TURN REST API").
//!
//! The sidecar and the TURN server share a secret; nothing is stored per credential. A
//! credential is the pair
//! - username `<expires, unix seconds>:<user id>`,
//! - password `base64(HMAC-SHA1(secret, username))`,
//!
//! which coturn (`use-auth-secret`, `static-auth-secret`) recomputes and refuses once the
//! expiry has passed. The HMAC covers the whole username, so neither the expiry nor the user id
//! can be edited. The user id names what the credential was issued for (`p<stream>` for a
//! publisher, `s<session>` for a viewer's session), so coturn's `user-quota` caps the relays
//! one session can hold.
//!
//! Credentials go only to members: a connection that joined a room (`joined`, `ice_servers`),
//! the holder of a valid WHIP/WHEP bearer token. A relay only reaches the SFU's address
//! (coturn's `allowed-peer-ip`), whose gates keep refusing media to anyone who lost the right;
//! a credential outlives a ban or a closed session until it expires, which is why its lifetime
//! is bounded (`--turn-ttl-secs`).

use crate::protocol::IceServer;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use std::path::Path;

/// The default lifetime of a credential: six hours. A browser keeps the credentials its TURN
/// allocation was made with and refreshes the allocation with them every few minutes, so they
/// must outlast a viewing session (the pages ask for new ones before they re-offer).
pub const DEFAULT_TTL_SECS: u64 = 6 * 3600;

/// ICE servers with their expiry; none (the default) without TURN.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct IceGrant {
	/// The servers, each with a credential.
	pub servers: Vec<IceServer>,
	/// When the credentials stop working, unix seconds.
	pub expires_at: Option<u64>,
}

/// What a credential is for: the user id coturn counts allocations by.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TurnUser {
	/// The publisher of a stream (studio and WHIP alike).
	Publisher(u64),
	/// A viewer's session.
	Session(u64),
}

impl TurnUser {
	fn id(self) -> String {
		match self {
			Self::Publisher(stream) => format!("p{stream}"),
			Self::Session(session) => format!("s{session}"),
		}
	}
}

/// Why a TURN configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum TurnConfigError {
	/// The secret file cannot be read.
	#[error("cannot read the TURN secret {0}: {1}")]
	Read(std::path::PathBuf, std::io::Error),
	/// An empty secret, or one coturn would read differently.
	#[error("the TURN secret must be one line of printable ASCII, at least 16 characters")]
	BadSecret,
	/// A URL that is not a TURN URL.
	#[error("not a turn: URL: {0}")]
	BadUrl(String),
	/// A zero lifetime.
	#[error("turn-ttl-secs must be at least 1")]
	ZeroTtl,
}

/// Issues credentials; holds the shared secret.
#[derive(Clone)]
pub struct TurnIssuer {
	urls: Vec<String>,
	secret: Vec<u8>,
	ttl_secs: u64,
}

impl std::fmt::Debug for TurnIssuer {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		// Never log the secret.
		f.debug_struct("TurnIssuer")
			.field("urls", &self.urls)
			.field("ttl_secs", &self.ttl_secs)
			.finish_non_exhaustive()
	}
}

impl TurnIssuer {
	/// An issuer for `urls` with `secret`. coturn reads its `static-auth-secret` as a C string
	/// up to the line's end, so the secret is printable ASCII without spaces.
	pub fn new(urls: Vec<String>, secret: &str, ttl_secs: u64) -> Result<Self, TurnConfigError> {
		let secret = secret.trim();
		if secret.len() < 16 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
			return Err(TurnConfigError::BadSecret);
		}
		if ttl_secs == 0 {
			return Err(TurnConfigError::ZeroTtl);
		}
		for url in &urls {
			let scheme_ok = url.starts_with("turn:") || url.starts_with("turns:");
			// A URL with a quote or angle bracket would break out of a `Link` header value.
			let clean = !url.contains(['"', '<', '>', ',', ';', ' ']);
			if !scheme_ok || !clean || url.len() > 256 {
				return Err(TurnConfigError::BadUrl(url.clone()));
			}
		}
		Ok(Self { urls, secret: secret.as_bytes().to_vec(), ttl_secs })
	}

	/// As [`TurnIssuer::new`], with the secret read from `path` (the file coturn's
	/// `static-auth-secret` was written from).
	pub fn from_file(
		urls: Vec<String>,
		path: &Path,
		ttl_secs: u64,
	) -> Result<Self, TurnConfigError> {
		let secret =
			std::fs::read_to_string(path).map_err(|e| TurnConfigError::Read(path.to_owned(), e))?;
		Self::new(urls, &secret, ttl_secs)
	}

	/// The TURN URLs handed out.
	pub fn urls(&self) -> &[String] {
		&self.urls
	}

	/// Credentials for `user`, valid from `now_s` for the configured lifetime.
	pub fn issue(&self, user: TurnUser, now_s: u64) -> IceGrant {
		let expires_at = now_s.saturating_add(self.ttl_secs);
		let username = format!("{expires_at}:{}", user.id());
		let credential = self.password(&username);
		IceGrant {
			servers: vec![IceServer { urls: self.urls.clone(), username, credential }],
			expires_at: Some(expires_at),
		}
	}

	fn password(&self, username: &str) -> String {
		// HMAC accepts a key of any length: `new_from_slice` cannot fail for it.
		let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&self.secret)
			.unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
		mac.update(username.as_bytes());
		base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
	}
}

impl IceGrant {
	/// The servers as RFC 9725 `Link` header values, one per URL.
	pub fn link_headers(&self) -> Vec<String> {
		self.servers
			.iter()
			.flat_map(|s| {
				s.urls.iter().map(move |url| {
					format!(
						"<{url}>; rel=\"ice-server\"; username=\"{}\"; credential=\"{}\"; \
						 credential-type=\"password\"",
						s.username, s.credential
					)
				})
			})
			.collect()
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	const URLS: [&str; 2] =
		["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"];

	fn issuer(ttl: u64) -> TurnIssuer {
		TurnIssuer::new(URLS.map(String::from).to_vec(), "s3cret-s3cret-s3cret", ttl).unwrap()
	}

	#[test]
	fn the_password_is_coturns_hmac_of_the_username() {
		// printf '1700000000:s42' | openssl dgst -sha1 -hmac s3cret-s3cret-s3cret -binary | base64
		let grant = issuer(1_000).issue(TurnUser::Session(42), 1_699_999_000);
		assert_eq!(grant.expires_at, Some(1_700_000_000));
		let server = &grant.servers[0];
		assert_eq!(server.username, "1700000000:s42");
		assert_eq!(server.credential, "jLMYa3pRsjfcDfCnfuA7ccuvQ9k=");
		assert_eq!(server.urls, URLS);
		let publisher = issuer(1_000).issue(TurnUser::Publisher(7), 1_699_999_000);
		assert_eq!(publisher.servers[0].username, "1700000000:p7");
		assert_ne!(publisher.servers[0].credential, server.credential);
	}

	#[test]
	fn link_headers_follow_rfc_9725() {
		let grant = issuer(60).issue(TurnUser::Session(1), 100);
		let links = grant.link_headers();
		assert_eq!(links.len(), 2);
		assert_eq!(
			links[0],
			format!(
				"<{}>; rel=\"ice-server\"; username=\"160:s1\"; credential=\"{}\"; \
				 credential-type=\"password\"",
				URLS[0], grant.servers[0].credential
			)
		);
		assert!(links[1].starts_with(&format!("<{}>", URLS[1])));
	}

	#[test]
	fn bad_configurations_are_refused() {
		let urls = || URLS.map(String::from).to_vec();
		assert!(matches!(TurnIssuer::new(urls(), "short", 60), Err(TurnConfigError::BadSecret)));
		assert!(matches!(
			TurnIssuer::new(urls(), "has a space in it ....", 60),
			Err(TurnConfigError::BadSecret)
		));
		assert!(matches!(
			TurnIssuer::new(urls(), "0123456789abcdef", 0),
			Err(TurnConfigError::ZeroTtl)
		));
		for bad in ["stun:127.0.0.1", "http://x", "turn:a\"b", "turn:x>; rel=\"y\""] {
			assert!(
				matches!(
					TurnIssuer::new(vec![bad.into()], "0123456789abcdef", 60),
					Err(TurnConfigError::BadUrl(_))
				),
				"{bad}"
			);
		}
		// A trailing newline in the secret file is not part of the secret.
		let a = TurnIssuer::new(urls(), "0123456789abcdef\n", 60).unwrap();
		let b = TurnIssuer::new(urls(), "0123456789abcdef", 60).unwrap();
		assert_eq!(a.issue(TurnUser::Session(1), 0), b.issue(TurnUser::Session(1), 0));
		assert!(!format!("{a:?}").contains("0123456789abcdef"));
	}
}
