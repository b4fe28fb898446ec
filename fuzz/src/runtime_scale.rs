//! SCALE bytes into the runtime's decoders, as the transaction pool and the relay meet them:
//! whole extrinsics, calls (with the depth limit the runtime uses), vouchers and close intents.
//! Whatever decodes must encode to something that decodes to the same value.

use codec::{Decode, DecodeLimit, Encode};
use pallet_ticks::{BatchWitness, CloseIntent, Voucher, VoucherEncoding, VoucherSigner};
use sp_core::{sr25519, Pair};
use vilokanam_runtime::{RuntimeCall, Signature, UncheckedExtrinsic};

/// How deep calls may nest, as `sp_runtime::generic::UncheckedExtrinsic` decodes them.
const MAX_CALL_DEPTH: u32 = 256;

fn round_trips<T: Decode + Encode + PartialEq + std::fmt::Debug>(value: &T) {
	let again = T::decode(&mut &value.encode()[..]).expect("an encoding decodes");
	assert_eq!(&again, value, "decode(encode(x)) == x");
}

/// The first byte picks the decoder; the rest is decoded.
pub fn run(data: &[u8]) {
	let Some((&which, mut bytes)) = data.split_first() else { return };
	match which % 4 {
		0 => {
			if let Ok(xt) = UncheckedExtrinsic::decode(&mut bytes) {
				round_trips(&xt);
			}
		},
		1 => {
			if let Ok(call) = RuntimeCall::decode_with_depth_limit(MAX_CALL_DEPTH, &mut bytes) {
				round_trips(&call);
			}
		},
		2 => {
			if let Ok(v) = Voucher::<Signature>::decode(&mut bytes) {
				round_trips(&v);
			}
		},
		_ => {
			if let Ok(i) = CloseIntent::<Signature>::decode(&mut bytes) {
				round_trips(&i);
			}
		},
	}
}

/// A signed extrinsic, a `settle_batch` of two vouchers, a `close_expired`, a voucher and a
/// close intent.
pub fn seeds() -> Vec<Vec<u8>> {
	let key = sr25519::Pair::from_seed(&[7; 32]);
	let signature = Signature::Sr25519(key.sign(b"fuzz"));
	let voucher = |session_id| Voucher {
		session_id,
		cumulative_seconds: 42,
		signer: VoucherSigner::VoucherKey,
		encoding: VoucherEncoding::Raw,
		signature: signature.clone(),
	};
	let settle = RuntimeCall::Ticks(pallet_ticks::Call::settle_batch {
		vouchers: vec![voucher(1), voucher(2)].try_into().expect("two fit"),
		witness: BatchWitness { streams: 1, pages: 1 },
	});
	let close = RuntimeCall::Ticks(pallet_ticks::Call::close_expired {
		session_ids: vec![1, 2, 3].try_into().expect("three fit"),
	});
	let intent = CloseIntent {
		cumulative_seconds: 42,
		signer: VoucherSigner::VoucherKey,
		encoding: VoucherEncoding::Wrapped,
		signature: signature.clone(),
	};
	let xt = UncheckedExtrinsic::new_bare(close.clone());
	let with = |which: u8, bytes: Vec<u8>| [vec![which], bytes].concat();
	vec![
		with(0, xt.encode()),
		with(1, settle.encode()),
		with(1, close.encode()),
		with(2, voucher(9).encode()),
		with(3, intent.encode()),
	]
}
