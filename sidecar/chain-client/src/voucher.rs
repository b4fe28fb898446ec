//! Voucher and close-intent payloads and native verification, identical to the pallet's: these
//! functions call [`pallet_ticks::Pallet::voucher_payload`],
//! [`pallet_ticks::Pallet::close_payload`] and [`pallet_ticks::Pallet::verify_payload`]
//! themselves, so what the sidecar accepts is exactly what the chain will accept.

use crate::{AccountId, PayloadKind, Runtime, SessionId, Signature, VoucherEncoding, H256};
use pallet_ticks::{WRAP_PREFIX, WRAP_SUFFIX};
use sp_core::Pair;

type Ticks = pallet_ticks::Pallet<Runtime>;

/// The voucher payload:
/// `(b"vilokanam/tick/v1", genesis, session_id, cumulative_seconds).encode()`.
pub fn payload(genesis: &H256, session_id: SessionId, cumulative_seconds: u64) -> Vec<u8> {
	Ticks::voucher_payload(genesis, session_id, cumulative_seconds)
}

/// The close-intent payload:
/// `(b"vilokanam/close/v1", genesis, session_id, cumulative_seconds).encode()`.
pub fn close_payload(genesis: &H256, session_id: SessionId, cumulative_seconds: u64) -> Vec<u8> {
	Ticks::close_payload(genesis, session_id, cumulative_seconds)
}

/// The bytes actually signed for a voucher in `encoding`: the payload itself, or
/// `<Bytes>` ++ payload ++ `</Bytes>` (what browser wallets' `signRaw` signs).
pub fn signed_bytes(
	genesis: &H256,
	session_id: SessionId,
	cumulative_seconds: u64,
	encoding: VoucherEncoding,
) -> Vec<u8> {
	signed_bytes_of(PayloadKind::Voucher, genesis, session_id, cumulative_seconds, encoding)
}

/// The bytes actually signed for a payload of `kind` in `encoding`.
pub fn signed_bytes_of(
	kind: PayloadKind,
	genesis: &H256,
	session_id: SessionId,
	cumulative_seconds: u64,
	encoding: VoucherEncoding,
) -> Vec<u8> {
	let payload = match kind {
		PayloadKind::Voucher => payload(genesis, session_id, cumulative_seconds),
		PayloadKind::CloseIntent => close_payload(genesis, session_id, cumulative_seconds),
	};
	match encoding {
		VoucherEncoding::Raw => payload,
		VoucherEncoding::Wrapped => [WRAP_PREFIX, &payload[..], WRAP_SUFFIX].concat(),
	}
}

/// Whether `signature` signs the voucher `(session_id, cumulative_seconds)` of the chain with
/// `genesis` in `encoding`, by `who`. One signature verification.
pub fn verify(
	signature: &Signature,
	encoding: VoucherEncoding,
	genesis: &H256,
	session_id: SessionId,
	cumulative_seconds: u64,
	who: &AccountId,
) -> bool {
	Ticks::verify_payload(
		PayloadKind::Voucher,
		signature,
		encoding,
		genesis,
		session_id,
		cumulative_seconds,
		who,
	)
}

/// Whether `signature` signs the close intent `(session_id, cumulative_seconds)` in `encoding`
/// by `who`. One signature verification.
pub fn verify_close(
	signature: &Signature,
	encoding: VoucherEncoding,
	genesis: &H256,
	session_id: SessionId,
	cumulative_seconds: u64,
	who: &AccountId,
) -> bool {
	Ticks::verify_payload(
		PayloadKind::CloseIntent,
		signature,
		encoding,
		genesis,
		session_id,
		cumulative_seconds,
		who,
	)
}

/// Signs a voucher with an sr25519 pair (for tests, bots and benchmarks).
pub fn sign(
	pair: &sp_core::sr25519::Pair,
	genesis: &H256,
	session_id: SessionId,
	cumulative_seconds: u64,
	encoding: VoucherEncoding,
) -> Signature {
	let bytes = signed_bytes(genesis, session_id, cumulative_seconds, encoding);
	Signature::Sr25519(pair.sign(&bytes))
}

#[cfg(test)]
mod tests {
	use super::*;
	use codec::Encode;
	use sp_core::{ed25519, sr25519};
	use sp_runtime::{traits::IdentifyAccount, MultiSigner};

	fn sr(uri: &str) -> sr25519::Pair {
		sr25519::Pair::from_string(uri, None).expect("a valid dev URI")
	}

	fn account_of(pair: &sr25519::Pair) -> AccountId {
		MultiSigner::from(pair.public()).into_account()
	}

	fn genesis() -> H256 {
		H256::repeat_byte(0x42)
	}

	#[test]
	fn payload_is_tag_genesis_session_cumulative() {
		let p = payload(&genesis(), 7, 300);
		assert_eq!(p.len(), 17 + 32 + 8 + 8);
		assert_eq!(&p[..17], b"vilokanam/tick/v1");
		assert_eq!(&p[17..49], genesis().as_bytes());
		assert_eq!(&p[49..57], &7u64.to_le_bytes());
		assert_eq!(&p[57..], &300u64.to_le_bytes());
		assert_eq!(p, (pallet_ticks::VOUCHER_TAG, genesis(), 7u64, 300u64).encode());
	}

	#[test]
	fn signed_bytes_wrap_only_when_wrapped() {
		let p = payload(&genesis(), 1, 2);
		assert_eq!(signed_bytes(&genesis(), 1, 2, VoucherEncoding::Raw), p);
		let w = signed_bytes(&genesis(), 1, 2, VoucherEncoding::Wrapped);
		assert_eq!(w, [&b"<Bytes>"[..], &p, b"</Bytes>"].concat());
	}

	#[test]
	fn raw_and_wrapped_signatures_verify() {
		let alice = sr("//Alice");
		let who = account_of(&alice);
		for encoding in [VoucherEncoding::Raw, VoucherEncoding::Wrapped] {
			let sig = sign(&alice, &genesis(), 3, 10, encoding);
			assert!(verify(&sig, encoding, &genesis(), 3, 10, &who), "{encoding:?}");
		}
	}

	#[test]
	fn wrong_encoding_fails() {
		let alice = sr("//Alice");
		let who = account_of(&alice);
		let raw = sign(&alice, &genesis(), 3, 10, VoucherEncoding::Raw);
		assert!(!verify(&raw, VoucherEncoding::Wrapped, &genesis(), 3, 10, &who));
		let wrapped = sign(&alice, &genesis(), 3, 10, VoucherEncoding::Wrapped);
		assert!(!verify(&wrapped, VoucherEncoding::Raw, &genesis(), 3, 10, &who));
	}

	#[test]
	fn wrong_signer_fails() {
		let alice = sr("//Alice");
		let bob = account_of(&sr("//Bob"));
		for encoding in [VoucherEncoding::Raw, VoucherEncoding::Wrapped] {
			let sig = sign(&alice, &genesis(), 3, 10, encoding);
			assert!(!verify(&sig, encoding, &genesis(), 3, 10, &bob));
		}
	}

	#[test]
	fn other_voucher_fields_fail() {
		let alice = sr("//Alice");
		let who = account_of(&alice);
		let sig = sign(&alice, &genesis(), 3, 10, VoucherEncoding::Raw);
		assert!(!verify(&sig, VoucherEncoding::Raw, &genesis(), 4, 10, &who));
		assert!(!verify(&sig, VoucherEncoding::Raw, &genesis(), 3, 11, &who));
		assert!(!verify(&sig, VoucherEncoding::Raw, &H256::zero(), 3, 10, &who));
	}

	#[test]
	fn a_close_intent_is_not_a_voucher() {
		let alice = sr("//Alice");
		let who = account_of(&alice);
		let c = close_payload(&genesis(), 3, 10);
		assert_eq!(c.len(), 18 + 32 + 8 + 8);
		assert_eq!(&c[..18], b"vilokanam/close/v1");
		let close = Signature::Sr25519(alice.sign(&c));
		assert!(verify_close(&close, VoucherEncoding::Raw, &genesis(), 3, 10, &who));
		assert!(!verify(&close, VoucherEncoding::Raw, &genesis(), 3, 10, &who));
		let voucher = sign(&alice, &genesis(), 3, 10, VoucherEncoding::Raw);
		assert!(!verify_close(&voucher, VoucherEncoding::Raw, &genesis(), 3, 10, &who));
	}

	#[test]
	fn ed25519_vouchers_verify() {
		let pair = ed25519::Pair::from_string("//Alice", None).expect("a valid dev URI");
		let who: AccountId = MultiSigner::from(pair.public()).into_account();
		let bytes = signed_bytes(&genesis(), 9, 1, VoucherEncoding::Wrapped);
		let sig = Signature::Ed25519(pair.sign(&bytes));
		assert!(verify(&sig, VoucherEncoding::Wrapped, &genesis(), 9, 1, &who));
		assert!(!verify(&sig, VoucherEncoding::Raw, &genesis(), 9, 1, &who));
	}
}
