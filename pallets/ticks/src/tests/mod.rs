//! Unit tests of the ticks pallet, one file per feature, on the shared helpers below. Every
//! test built with [`ExtBuilder::build_and_execute`] ends by checking the pallet's invariants.

use crate::{mock::*, *};
use frame_support::{
	assert_ok,
	pallet_prelude::{TransactionSource, TransactionValidityError, ValidTransaction},
	traits::{fungible::Inspect, Authorize},
	weights::Weight,
	BoundedVec,
};
use pallet_streams::{SplitOf, StreamId};
use sp_core::{sr25519, Pair};
use sp_runtime::{MultiSignature, Permill};

mod allowance;
mod closing;
mod history;
// With runtime-benchmarks the mock gives pallet-migrations its benchmark migrations instead.
#[cfg(not(feature = "runtime-benchmarks"))]
mod migrations;
mod offchain;
mod pages;
mod replay;
mod sessions;
mod settlement;

type AccountId = mock::AccountId;

pub(crate) fn free(who: &AccountId) -> Balance {
	Balances::balance(who)
}

/// A live stream of alice's with `split`, relayed by [`relayer`].
pub(crate) fn live_stream(price: Balance, split: Vec<(AccountId, Permill)>) -> StreamId {
	let id = pallet_streams::NextStreamId::<Test>::get();
	assert_ok!(Streams::create_stream(
		RuntimeOrigin::signed(alice()),
		b"Live".to_vec().try_into().unwrap(),
		Default::default(),
		MUSIC,
		Default::default(),
		price,
		None,
		Some(relayer()),
	));
	let split: SplitOf<Test> = split.try_into().unwrap();
	assert_ok!(Streams::set_split(RuntimeOrigin::signed(alice()), id, split));
	assert_ok!(Streams::go_live(RuntimeOrigin::signed(alice()), id));
	id
}

/// The voucher key a viewer's page would generate (distinct from the viewer's account key).
pub(crate) fn voucher_key_of(viewer: &AccountId) -> sr25519::Pair {
	sr25519::Pair::from_seed(&sp_io::hashing::blake2_256(viewer.as_ref()))
}

/// Open a session of `viewer` with its [`voucher_key_of`], accepting any price.
pub(crate) fn open(viewer: &AccountId, stream: StreamId, max_seconds: u64) -> SessionId {
	let id = NextSessionId::<Test>::get();
	assert_ok!(Ticks::open_session(
		RuntimeOrigin::signed(viewer.clone()),
		stream,
		max_seconds,
		Balance::MAX,
		account_of(&voucher_key_of(viewer)),
	));
	id
}

pub(crate) fn sign_kind(
	p: &sr25519::Pair,
	kind: PayloadKind,
	session_id: SessionId,
	cumulative: u64,
) -> MultiSignature {
	let genesis = Ticks::genesis_hash();
	let payload = match kind {
		PayloadKind::Voucher => Ticks::voucher_payload(&genesis, session_id, cumulative),
		PayloadKind::CloseIntent => Ticks::close_payload(&genesis, session_id, cumulative),
	};
	MultiSignature::from(p.sign(&payload))
}

pub(crate) fn sign(p: &sr25519::Pair, session_id: SessionId, cumulative: u64) -> MultiSignature {
	sign_kind(p, PayloadKind::Voucher, session_id, cumulative)
}

pub(crate) fn sign_wrapped(
	p: &sr25519::Pair,
	session_id: SessionId,
	cumulative: u64,
) -> MultiSignature {
	let payload = Ticks::voucher_payload(&Ticks::genesis_hash(), session_id, cumulative);
	let wrapped = [WRAP_PREFIX, &payload[..], WRAP_SUFFIX].concat();
	MultiSignature::from(p.sign(&wrapped))
}

/// A voucher signed by the viewer's account key `p`.
pub(crate) fn voucher(
	p: &sr25519::Pair,
	session_id: SessionId,
	cumulative: u64,
) -> Voucher<MultiSignature> {
	Voucher {
		session_id,
		cumulative_seconds: cumulative,
		signer: VoucherSigner::Viewer,
		encoding: VoucherEncoding::Raw,
		signature: sign(p, session_id, cumulative),
	}
}

/// A voucher signed by the session's voucher key `k`.
pub(crate) fn key_voucher(
	k: &sr25519::Pair,
	session_id: SessionId,
	cumulative: u64,
) -> Voucher<MultiSignature> {
	Voucher { signer: VoucherSigner::VoucherKey, ..voucher(k, session_id, cumulative) }
}

/// A `<Bytes>`-wrapped voucher signed by the viewer's account key `p` (a browser wallet).
pub(crate) fn wrapped_voucher(
	p: &sr25519::Pair,
	session_id: SessionId,
	cumulative: u64,
) -> Voucher<MultiSignature> {
	Voucher {
		session_id,
		cumulative_seconds: cumulative,
		signer: VoucherSigner::Viewer,
		encoding: VoucherEncoding::Wrapped,
		signature: sign_wrapped(p, session_id, cumulative),
	}
}

/// A close intent signed by the session's voucher key `k`.
pub(crate) fn intent(
	k: &sr25519::Pair,
	session_id: SessionId,
	cumulative: u64,
) -> CloseIntent<MultiSignature> {
	CloseIntent {
		cumulative_seconds: cumulative,
		signer: VoucherSigner::VoucherKey,
		encoding: VoucherEncoding::Raw,
		signature: sign_kind(k, PayloadKind::CloseIntent, session_id, cumulative),
	}
}

pub(crate) type MaxBatch = <Test as Config>::MaxVouchersPerBatch;

pub(crate) fn batch(
	v: Vec<Voucher<MultiSignature>>,
) -> BoundedVec<Voucher<MultiSignature>, MaxBatch> {
	v.try_into().unwrap()
}

/// `settle_batch` by the relayer, with the exact `pages` witness and the distinct streams of
/// the vouchers' stored sessions.
pub(crate) fn settle(
	v: BoundedVec<Voucher<MultiSignature>, MaxBatch>,
) -> frame_support::dispatch::DispatchResultWithPostInfo {
	Ticks::settle_batch(RuntimeOrigin::signed(relayer()), v.clone(), witness(&v))
}

pub(crate) fn witness(v: &[Voucher<MultiSignature>]) -> BatchWitness {
	let streams: std::collections::BTreeSet<_> =
		v.iter().filter_map(|v| Ticks::session(v.session_id)).map(|s| s.stream_id).collect();
	BatchWitness { streams: streams.len() as u32, pages: pages_of(v.iter().map(|v| v.session_id)) }
}

pub(crate) fn pages_only(pages: u32) -> BatchWitness {
	BatchWitness { streams: 1, pages }
}

pub(crate) fn advance_secs(secs: u64) {
	Timestamp::set_timestamp(pallet_timestamp::Now::<Test>::get() + secs * 1_000);
}

pub(crate) fn rejected_events() -> Vec<(SessionId, RejectReason)> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Ticks(Event::VoucherRejected { session_id, reason }) => {
				Some((session_id, reason))
			},
			_ => None,
		})
		.collect()
}

pub(crate) fn escrow() -> AccountId {
	Ticks::escrow_account()
}

pub(crate) fn authorized() -> RuntimeOrigin {
	frame_system::RawOrigin::Authorized.into()
}

/// What a call's `#[pallet::authorize]` function says.
pub(crate) fn authorize(
	call: crate::Call<Test>,
) -> Result<(ValidTransaction, Weight), TransactionValidityError> {
	call.authorize(TransactionSource::External).expect("the call has an authorization")
}

pub(crate) fn invalid(
	i: frame_support::pallet_prelude::InvalidTransaction,
) -> Result<(ValidTransaction, Weight), TransactionValidityError> {
	Err(TransactionValidityError::Invalid(i))
}
