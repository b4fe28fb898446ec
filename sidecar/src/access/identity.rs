//! Who is on the other end of a connection: a nonce challenge answered with an account
//! signature.
//!
//! On connect the server sends a fresh 32-byte `nonce`, the chain's `genesis` hash and its
//! `audience`: the sidecar's own public origin (`https://sidecar.example.com`, see
//! [`audience_of`]). The client signs the SCALE encoding of
//! `(*b"vilokanam/auth/v2", genesis, audience: Vec<u8>, nonce)` — a fixed 17-byte tag, a 32-byte
//! hash, the origin's ASCII bytes after their compact length, and the 32-byte nonce — either as
//! is ([`Encoding::Raw`]) or wrapped in `<Bytes>`…`</Bytes>` ([`Encoding::Wrapped`], what browser
//! wallets sign), with an sr25519 or ed25519 key whose public key is the account id.
//!
//! Binding the genesis hash keeps a signature for one chain's sidecar useless on another's; the
//! nonce makes every answer single-use; the audience keeps a sidecar from logging in elsewhere
//! with its visitors' signatures. A stream's creator chooses the sidecar its viewers connect
//! to, so a malicious one could pass an honest sidecar's nonce to a visiting page: the page
//! signs only a challenge naming the origin it connected to, and the honest sidecar checks the
//! signature against its own origin, so a relayed answer names the wrong one either way.

use crate::protocol::{Crypto, Encoding};
use codec::Encode;
use rand::RngCore;
use sp_core::{crypto::AccountId32, ed25519, sr25519, Pair, H256};

/// The domain tag of the authentication payload.
pub const AUTH_TAG: [u8; 17] = *b"vilokanam/auth/v2";

/// The prefix browser wallets put around the bytes they sign.
pub const WRAP_PREFIX: &[u8] = b"<Bytes>";
/// The suffix browser wallets put around the bytes they sign.
pub const WRAP_SUFFIX: &[u8] = b"</Bytes>";

/// A fresh random challenge nonce.
pub fn new_nonce() -> [u8; 32] {
	let mut nonce = [0u8; 32];
	rand::rngs::OsRng.fill_bytes(&mut nonce);
	nonce
}

/// The payload a client signs to authenticate: `(AUTH_TAG, genesis, audience, nonce).encode()`
/// with the audience as bytes (a compact length, then the ASCII).
pub fn auth_payload(genesis: &H256, audience: &str, nonce: &[u8; 32]) -> Vec<u8> {
	(AUTH_TAG, genesis, audience.as_bytes(), nonce).encode()
}

/// The audience a URL names: its origin in HTTP terms, `scheme://host[:port]` with `ws`/`wss`
/// read as `http`/`https`, the host in lower case and a default port left out: what a page
/// computes from the WebSocket URL it connects to (`sidecarHttpOrigin` in `@vilokanam/sdk`).
pub fn audience_of(url: &str) -> Result<String, String> {
	let mut parsed = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
	let scheme = match parsed.scheme() {
		"http" | "ws" => "http",
		"https" | "wss" => "https",
		other => return Err(format!("{url}: expected an http(s) or ws(s) URL, not {other}")),
	};
	// Between special schemes the change is always allowed; the port is kept when it is not
	// the new scheme's default (ws and http share 80, wss and https 443).
	parsed.set_scheme(scheme).map_err(|()| format!("{url}: cannot be read as an {scheme} URL"))?;
	match parsed.origin() {
		origin @ url::Origin::Tuple(..) => Ok(origin.ascii_serialization()),
		url::Origin::Opaque(_) => Err(format!("{url}: has no origin")),
	}
}

/// The bytes actually signed for `payload` in `encoding`.
pub fn signed_bytes(payload: &[u8], encoding: Encoding) -> Vec<u8> {
	match encoding {
		Encoding::Raw => payload.to_vec(),
		Encoding::Wrapped => {
			let mut out = Vec::with_capacity(WRAP_PREFIX.len() + payload.len() + WRAP_SUFFIX.len());
			out.extend_from_slice(WRAP_PREFIX);
			out.extend_from_slice(payload);
			out.extend_from_slice(WRAP_SUFFIX);
			out
		},
	}
}

/// Whether `signature` signs `message` (the exact signed bytes) by `account`'s key in `crypto`.
pub fn verify(crypto: Crypto, signature: &[u8; 64], message: &[u8], account: &AccountId32) -> bool {
	let public: &[u8; 32] = account.as_ref();
	match crypto {
		Crypto::Sr25519 => sr25519::Pair::verify(
			&sr25519::Signature::from_raw(*signature),
			message,
			&sr25519::Public::from_raw(*public),
		),
		Crypto::Ed25519 => ed25519::Pair::verify(
			&ed25519::Signature::from_raw(*signature),
			message,
			&ed25519::Public::from_raw(*public),
		),
	}
}

/// Whether an `auth` answer to the challenge (`genesis`, `audience`, `nonce`) is valid for
/// `account`.
pub fn verify_auth(
	genesis: &H256,
	audience: &str,
	nonce: &[u8; 32],
	account: &AccountId32,
	crypto: Crypto,
	encoding: Encoding,
	signature: &[u8; 64],
) -> bool {
	let message = signed_bytes(&auth_payload(genesis, audience, nonce), encoding);
	verify(crypto, signature, &message, account)
}

/// Answer a challenge with an sr25519 key (for clients, tests and the benchmark).
pub fn sign_auth_sr25519(
	pair: &sr25519::Pair,
	genesis: &H256,
	audience: &str,
	nonce: &[u8; 32],
	encoding: Encoding,
) -> [u8; 64] {
	pair.sign(&signed_bytes(&auth_payload(genesis, audience, nonce), encoding)).0
}

/// Answer a challenge with an ed25519 key (for clients and tests).
pub fn sign_auth_ed25519(
	pair: &ed25519::Pair,
	genesis: &H256,
	audience: &str,
	nonce: &[u8; 32],
	encoding: Encoding,
) -> [u8; 64] {
	pair.sign(&signed_bytes(&auth_payload(genesis, audience, nonce), encoding)).0
}

#[cfg(test)]
mod tests {
	use super::*;

	const AUD: &str = "https://sidecar.example";

	fn genesis() -> H256 {
		H256::repeat_byte(0x42)
	}

	#[test]
	fn payload_layout() {
		let nonce = [9u8; 32];
		let p = auth_payload(&genesis(), AUD, &nonce);
		assert_eq!(p.len(), 17 + 32 + 1 + AUD.len() + 32);
		assert_eq!(&p[..17], b"vilokanam/auth/v2");
		assert_eq!(&p[17..49], genesis().as_bytes());
		// SCALE compact length: len << 2 for lengths below 64.
		assert_eq!(p[49], (AUD.len() as u8) << 2);
		assert_eq!(&p[50..50 + AUD.len()], AUD.as_bytes());
		assert_eq!(&p[50 + AUD.len()..], &nonce);
		let w = signed_bytes(&p, Encoding::Wrapped);
		assert_eq!(&w[..7], b"<Bytes>");
		assert_eq!(&w[w.len() - 8..], b"</Bytes>");
		assert_eq!(&w[7..w.len() - 8], &p[..]);
	}

	#[test]
	fn sr25519_raw_and_wrapped() {
		let pair = sr25519::Pair::from_string("//Alice", None).unwrap();
		let account = AccountId32::from(pair.public());
		let nonce = new_nonce();
		for enc in [Encoding::Raw, Encoding::Wrapped] {
			let sig = sign_auth_sr25519(&pair, &genesis(), AUD, &nonce, enc);
			assert!(verify_auth(&genesis(), AUD, &nonce, &account, Crypto::Sr25519, enc, &sig));
			// The other encoding's bytes were not signed.
			let other = if enc == Encoding::Raw { Encoding::Wrapped } else { Encoding::Raw };
			assert!(!verify_auth(&genesis(), AUD, &nonce, &account, Crypto::Sr25519, other, &sig));
			// Nor is it valid for another nonce or chain, or as ed25519.
			assert!(!verify_auth(&genesis(), AUD, &[0; 32], &account, Crypto::Sr25519, enc, &sig));
			assert!(!verify_auth(&H256::zero(), AUD, &nonce, &account, Crypto::Sr25519, enc, &sig));
			assert!(!verify_auth(&genesis(), AUD, &nonce, &account, Crypto::Ed25519, enc, &sig));
			// A signature for another sidecar's challenge (a relayed nonce) is not ours.
			let elsewhere = "https://evil.example";
			let relayed = sign_auth_sr25519(&pair, &genesis(), elsewhere, &nonce, enc);
			assert!(!verify_auth(
				&genesis(),
				AUD,
				&nonce,
				&account,
				Crypto::Sr25519,
				enc,
				&relayed
			));
		}
	}

	#[test]
	fn audiences_are_origins() {
		for (url, audience) in [
			("ws://127.0.0.1:9955/ws", "http://127.0.0.1:9955"),
			("http://127.0.0.1:9955", "http://127.0.0.1:9955"),
			("wss://Sidecar.Example:443/ws?x=1", "https://sidecar.example"),
			("https://sidecar.example:8443/", "https://sidecar.example:8443"),
			("ws://localhost:80/ws", "http://localhost"),
			("ws://[::1]:9955/ws", "http://[::1]:9955"),
		] {
			assert_eq!(audience_of(url).as_deref(), Ok(audience), "{url}");
		}
		for bad in ["", "sidecar.example", "ftp://sidecar.example", "data:text/plain,x"] {
			assert!(audience_of(bad).is_err(), "{bad}");
		}
	}

	#[test]
	fn ed25519_raw_and_wrapped() {
		let pair = ed25519::Pair::from_string("//Bob", None).unwrap();
		let account = AccountId32::from(pair.public());
		let nonce = new_nonce();
		for enc in [Encoding::Raw, Encoding::Wrapped] {
			let sig = sign_auth_ed25519(&pair, &genesis(), AUD, &nonce, enc);
			assert!(verify_auth(&genesis(), AUD, &nonce, &account, Crypto::Ed25519, enc, &sig));
			assert!(!verify_auth(&genesis(), AUD, &nonce, &account, Crypto::Sr25519, enc, &sig));
		}
	}

	#[test]
	fn wrong_key_and_garbage_are_rejected() {
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let bob = AccountId32::from(sr25519::Pair::from_string("//Bob", None).unwrap().public());
		let nonce = new_nonce();
		let sig = sign_auth_sr25519(&alice, &genesis(), AUD, &nonce, Encoding::Raw);
		assert!(!verify_auth(&genesis(), AUD, &nonce, &bob, Crypto::Sr25519, Encoding::Raw, &sig));
		// Arbitrary bytes as signature or key: false, no panic.
		let junk = AccountId32::new([0xff; 32]);
		assert!(!verify_auth(
			&genesis(),
			AUD,
			&nonce,
			&junk,
			Crypto::Sr25519,
			Encoding::Raw,
			&[0xff; 64]
		));
		assert!(!verify_auth(
			&genesis(),
			AUD,
			&nonce,
			&junk,
			Crypto::Ed25519,
			Encoding::Raw,
			&[0xff; 64]
		));
		assert!(!verify_auth(
			&genesis(),
			AUD,
			&nonce,
			&bob,
			Crypto::Sr25519,
			Encoding::Raw,
			&[0; 64]
		));
	}

	#[test]
	fn nonces_are_fresh() {
		assert_ne!(new_nonce(), new_nonce());
	}
}
