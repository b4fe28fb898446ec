//! Who is on the other end of a connection: a nonce challenge answered with an account
//! signature.
//!
//! On connect the server sends a fresh 32-byte `nonce` and the chain's `genesis` hash. The client
//! signs the SCALE encoding of `(*b"vilokanam/auth/v1", genesis, nonce)` — a fixed 17-byte tag,
//! a 32-byte hash and the 32-byte nonce, 81 bytes without length prefixes — either as is
//! ([`Encoding::Raw`]) or wrapped in `<Bytes>`…`</Bytes>` ([`Encoding::Wrapped`], what browser
//! wallets sign), with an sr25519 or ed25519 key whose public key is the account id. Binding
//! the genesis hash keeps a signature for one chain's sidecar useless on another's; the nonce
//! makes every answer single-use.

use crate::protocol::{Crypto, Encoding};
use codec::Encode;
use rand::RngCore;
use sp_core::{crypto::AccountId32, ed25519, sr25519, Pair, H256};

/// The domain tag of the authentication payload.
pub const AUTH_TAG: [u8; 17] = *b"vilokanam/auth/v1";

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

/// The payload a client signs to authenticate: `(AUTH_TAG, genesis, nonce).encode()`.
pub fn auth_payload(genesis: &H256, nonce: &[u8; 32]) -> Vec<u8> {
	(AUTH_TAG, genesis, nonce).encode()
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

/// Whether an `auth` answer to the challenge (`genesis`, `nonce`) is valid for `account`.
pub fn verify_auth(
	genesis: &H256,
	nonce: &[u8; 32],
	account: &AccountId32,
	crypto: Crypto,
	encoding: Encoding,
	signature: &[u8; 64],
) -> bool {
	let message = signed_bytes(&auth_payload(genesis, nonce), encoding);
	verify(crypto, signature, &message, account)
}

/// Answer a challenge with an sr25519 key (for clients, tests and the benchmark).
pub fn sign_auth_sr25519(
	pair: &sr25519::Pair,
	genesis: &H256,
	nonce: &[u8; 32],
	encoding: Encoding,
) -> [u8; 64] {
	pair.sign(&signed_bytes(&auth_payload(genesis, nonce), encoding)).0
}

/// Answer a challenge with an ed25519 key (for clients and tests).
pub fn sign_auth_ed25519(
	pair: &ed25519::Pair,
	genesis: &H256,
	nonce: &[u8; 32],
	encoding: Encoding,
) -> [u8; 64] {
	pair.sign(&signed_bytes(&auth_payload(genesis, nonce), encoding)).0
}

#[cfg(test)]
mod tests {
	use super::*;

	fn genesis() -> H256 {
		H256::repeat_byte(0x42)
	}

	#[test]
	fn payload_layout() {
		let nonce = [9u8; 32];
		let p = auth_payload(&genesis(), &nonce);
		assert_eq!(p.len(), 17 + 32 + 32);
		assert_eq!(&p[..17], b"vilokanam/auth/v1");
		assert_eq!(&p[17..49], genesis().as_bytes());
		assert_eq!(&p[49..], &nonce);
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
			let sig = sign_auth_sr25519(&pair, &genesis(), &nonce, enc);
			assert!(verify_auth(&genesis(), &nonce, &account, Crypto::Sr25519, enc, &sig));
			// The other encoding's bytes were not signed.
			let other = if enc == Encoding::Raw { Encoding::Wrapped } else { Encoding::Raw };
			assert!(!verify_auth(&genesis(), &nonce, &account, Crypto::Sr25519, other, &sig));
			// Nor is it valid for another nonce or chain, or as ed25519.
			assert!(!verify_auth(&genesis(), &[0; 32], &account, Crypto::Sr25519, enc, &sig));
			assert!(!verify_auth(&H256::zero(), &nonce, &account, Crypto::Sr25519, enc, &sig));
			assert!(!verify_auth(&genesis(), &nonce, &account, Crypto::Ed25519, enc, &sig));
		}
	}

	#[test]
	fn ed25519_raw_and_wrapped() {
		let pair = ed25519::Pair::from_string("//Bob", None).unwrap();
		let account = AccountId32::from(pair.public());
		let nonce = new_nonce();
		for enc in [Encoding::Raw, Encoding::Wrapped] {
			let sig = sign_auth_ed25519(&pair, &genesis(), &nonce, enc);
			assert!(verify_auth(&genesis(), &nonce, &account, Crypto::Ed25519, enc, &sig));
			assert!(!verify_auth(&genesis(), &nonce, &account, Crypto::Sr25519, enc, &sig));
		}
	}

	#[test]
	fn wrong_key_and_garbage_are_rejected() {
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let bob = AccountId32::from(sr25519::Pair::from_string("//Bob", None).unwrap().public());
		let nonce = new_nonce();
		let sig = sign_auth_sr25519(&alice, &genesis(), &nonce, Encoding::Raw);
		assert!(!verify_auth(&genesis(), &nonce, &bob, Crypto::Sr25519, Encoding::Raw, &sig));
		// Arbitrary bytes as signature or key: false, no panic.
		let junk = AccountId32::new([0xff; 32]);
		assert!(!verify_auth(
			&genesis(),
			&nonce,
			&junk,
			Crypto::Sr25519,
			Encoding::Raw,
			&[0xff; 64]
		));
		assert!(!verify_auth(
			&genesis(),
			&nonce,
			&junk,
			Crypto::Ed25519,
			Encoding::Raw,
			&[0xff; 64]
		));
		assert!(!verify_auth(&genesis(), &nonce, &bob, Crypto::Sr25519, Encoding::Raw, &[0; 64]));
	}

	#[test]
	fn nonces_are_fresh() {
		assert_ne!(new_nonce(), new_nonce());
	}
}
