//! Benchmarks of the ticks pallet (benchmarks v2).
//!
//! Vouchers are signed with sr25519 keys generated in the benchmark keystore, in the
//! `<Bytes>`-wrapped encoding (the longer message, so the worst case). Rejected vouchers carry
//! a bad signature: they pass every cheap check and fail the one verification, the most
//! expensive way to be rejected. Sessions are opened through an allowance where that makes a
//! call costlier (its refund is then credited back to the allowance).

use super::*;
use crate::Pallet as Ticks;
use alloc::{format, vec, vec::Vec};
use frame_benchmarking::v2::*;
use frame_support::{
	migrations::SteppedMigration,
	pallet_prelude::TransactionSource,
	traits::{
		fungible::{Inspect, Mutate},
		Authorize, Get, GetStorageVersion, StorageVersion,
	},
	weights::WeightMeter,
	BoundedVec,
};
use frame_system::RawOrigin;
use pallet_streams::{Categories, CategoryId, StreamId};
use sp_core::{crypto::KeyTypeId, sr25519};
use sp_runtime::{
	traits::{IdentifyAccount, SaturatedConversion, Saturating, Verify},
	Permill,
};

const KEY: KeyTypeId = KeyTypeId(*b"vtck");
const CATEGORY: CategoryId = 7_777;
const MAX_SECONDS: u64 = 1_000;
const WATCHED: u64 = 100;

type SignerOf<T> = <<T as Config>::VoucherSignature as Verify>::Signer;

fn price<T: Config>() -> BalanceOf<T> {
	<T as pallet_payouts::Config>::Currency::minimum_balance().max(1u32.into())
}

fn fund<T: Config>(who: &T::AccountId) {
	let amount = price::<T>().saturating_mul(1_000_000u32.into()).saturating_add(
		<T as pallet_streams::Config>::StreamDeposit::get().saturating_mul(10u32.into()),
	);
	<T as pallet_payouts::Config>::Currency::set_balance(who, amount);
}

/// A live stream of a fresh creator with `collaborators` (funded) collaborators.
fn live_stream<T: Config>(index: u32, collaborators: u32) -> Result<StreamId, BenchmarkError> {
	Ticks::<T>::endow_escrow();
	Categories::<T>::insert(CATEGORY, BoundedVec::truncate_from(vec![b'c']));
	let creator: T::AccountId = account("creator", index, 0);
	fund::<T>(&creator);
	let id = pallet_streams::NextStreamId::<T>::get();
	pallet_streams::Pallet::<T>::create_stream(
		RawOrigin::Signed(creator.clone()).into(),
		BoundedVec::truncate_from(vec![b't']),
		Default::default(),
		CATEGORY,
		Default::default(),
		price::<T>(),
		None,
		Some(relayer::<T>()),
	)?;
	let split = (0..collaborators)
		.map(|i| {
			let who: T::AccountId =
				account("collab", index.saturating_mul(1_000).saturating_add(i), 0);
			fund::<T>(&who);
			(who, Permill::from_rational(1u32, collaborators.saturating_add(1)))
		})
		.collect::<Vec<_>>();
	pallet_streams::Pallet::<T>::set_split(
		RawOrigin::Signed(creator.clone()).into(),
		id,
		BoundedVec::truncate_from(split),
	)?;
	pallet_streams::Pallet::<T>::go_live(RawOrigin::Signed(creator).into(), id)?;
	Ok(id)
}

/// A stream that ended with its replay offered at [`price`]: opening a session on it reads
/// the offer as well, the costlier way in.
fn replay_stream<T: Config>(index: u32) -> Result<StreamId, BenchmarkError> {
	let id = live_stream::<T>(index, 0)?;
	let creator: T::AccountId = account("creator", index, 0);
	pallet_streams::Pallet::<T>::end_stream(RawOrigin::Signed(creator.clone()).into(), id)?;
	pallet_streams::Pallet::<T>::set_replay_offer(
		RawOrigin::Signed(creator).into(),
		id,
		Some(price::<T>()),
	)?;
	Ok(id)
}

/// The relayer every benchmark stream names.
fn relayer<T: Config>() -> T::AccountId {
	account("relayer", 0, 0)
}

fn viewer_key<T: Config>(index: u32) -> (sr25519::Public, T::AccountId)
where
	SignerOf<T>: From<sr25519::Public>,
{
	let public =
		sp_io::crypto::sr25519_generate(KEY, Some(format!("//viewer{index}").into_bytes()));
	let account = SignerOf::<T>::from(public).into_account();
	fund::<T>(&account);
	(public, account)
}

/// Open a session of `viewer` whose voucher key is the viewer's own account.
fn open<T: Config>(viewer: &T::AccountId, stream: StreamId) -> Result<SessionId, BenchmarkError> {
	let id = NextSessionId::<T>::get();
	Ticks::<T>::open_session(
		RawOrigin::Signed(viewer.clone()).into(),
		stream,
		MAX_SECONDS,
		price::<T>(),
		viewer.clone(),
	)?;
	Ok(id)
}

/// Grant `viewer` an allowance of ample budget for `delegate`; returns its id.
fn grant<T: Config>(
	viewer: &T::AccountId,
	delegate: T::AccountId,
) -> Result<AllowanceId, BenchmarkError> {
	let id = NextAllowanceId::<T>::get();
	Ticks::<T>::grant_allowance(
		RawOrigin::Signed(viewer.clone()).into(),
		delegate,
		price::<T>().saturating_mul(1_000_000u32.into()),
		86_400_000,
		Ticks::<T>::now_ms().saturating_add(86_400_000 * 30),
	)?;
	Ok(id)
}

/// Open a session of `viewer` as its allowance's delegate would (the costlier close: the
/// refund is credited back to the allowance).
fn open_by_allowance<T: Config>(
	viewer: &T::AccountId,
	stream: StreamId,
) -> Result<SessionId, BenchmarkError> {
	let allowance = grant::<T>(viewer, viewer.clone())?;
	let (id, _) = Ticks::<T>::do_open(
		viewer.clone(),
		stream,
		MAX_SECONDS,
		price::<T>(),
		viewer.clone(),
		Some(allowance),
	)
	.map_err(|_| BenchmarkError::Stop("open by allowance"))?;
	Ok(id)
}

/// The delegate call `op` of `viewer`'s allowance, signed by `delegate`.
fn delegate_call<T: Config>(
	viewer: &T::AccountId,
	delegate: &sr25519::Public,
	op: DelegateOp<T>,
) -> Result<Call<T>, BenchmarkError>
where
	T::VoucherSignature: From<sr25519::Signature>,
{
	let allowance = Allowances::<T>::get(viewer).ok_or(BenchmarkError::Stop("no allowance"))?;
	let payload = Ticks::<T>::delegate_payload(
		&Ticks::<T>::genesis_hash(),
		viewer,
		allowance.id,
		allowance.nonce,
		&op,
	);
	let signature = sp_io::crypto::sr25519_sign(KEY, delegate, &payload)
		.ok_or(BenchmarkError::Stop("sr25519 signing failed"))?;
	Ok(Call::<T>::delegate {
		viewer: viewer.clone(),
		allowance_id: allowance.id,
		nonce: allowance.nonce,
		op,
		encoding: VoucherEncoding::Raw,
		signature: signature.into(),
	})
}

/// A close intent for `cumulative` seconds, signed by `public` (the voucher key), wrapped.
fn close_intent<T: Config>(
	public: &sr25519::Public,
	session_id: SessionId,
	cumulative: u64,
) -> Result<CloseIntent<T::VoucherSignature>, BenchmarkError>
where
	T::VoucherSignature: From<sr25519::Signature>,
{
	let payload = Ticks::<T>::close_payload(&Ticks::<T>::genesis_hash(), session_id, cumulative);
	let wrapped = [WRAP_PREFIX, &payload[..], WRAP_SUFFIX].concat();
	let signature = sp_io::crypto::sr25519_sign(KEY, public, &wrapped)
		.ok_or(BenchmarkError::Stop("sr25519 signing failed"))?;
	Ok(CloseIntent {
		cumulative_seconds: cumulative,
		signer: VoucherSigner::VoucherKey,
		encoding: VoucherEncoding::Wrapped,
		signature: signature.into(),
	})
}

/// One accepted voucher for [`WATCHED`] seconds per `(key, session)`.
fn watched_vouchers<T: Config>(
	keys: &[(sr25519::Public, SessionId)],
) -> Result<Vec<Voucher<T::VoucherSignature>>, BenchmarkError>
where
	T::VoucherSignature: From<sr25519::Signature>,
{
	keys.iter()
		.map(|(public, sid)| {
			Ok(Voucher {
				session_id: *sid,
				cumulative_seconds: WATCHED,
				signer: VoucherSigner::VoucherKey,
				encoding: VoucherEncoding::Wrapped,
				signature: sign::<T>(public, *sid, WATCHED)?,
			})
		})
		.collect()
}

/// Sign `cumulative` for `session_id`, `<Bytes>`-wrapped.
fn sign<T: Config>(
	public: &sr25519::Public,
	session_id: SessionId,
	cumulative: u64,
) -> Result<T::VoucherSignature, BenchmarkError>
where
	T::VoucherSignature: From<sr25519::Signature>,
{
	let payload = Ticks::<T>::voucher_payload(&Ticks::<T>::genesis_hash(), session_id, cumulative);
	let wrapped = [WRAP_PREFIX, &payload[..], WRAP_SUFFIX].concat();
	let signature = sp_io::crypto::sr25519_sign(KEY, public, &wrapped)
		.ok_or(BenchmarkError::Stop("sr25519 signing failed"))?;
	Ok(signature.into())
}

/// Let time pass so that `WATCHED` seconds are not ahead of time (and any settlement window
/// has passed). Writes the clock directly: `set_timestamp` would run the runtime's
/// `OnTimestampSet` hooks, and Aura's rejects a timestamp that is not in the current slot.
fn advance_time<T: Config>() {
	let now = pallet_timestamp::Pallet::<T>::get();
	let by = T::SettleWindow::get().saturating_add(10_000_000).saturated_into::<u32>();
	pallet_timestamp::Now::<T>::put(now.saturating_add(by.into()));
}

/// `n` sessions opened by allowances, on a stream that ended longer ago than the settlement
/// window: all may be refunded.
fn close_ids<T: Config>(n: u32) -> Result<BoundedVec<SessionId, T::MaxCloseBatch>, BenchmarkError> {
	let stream = live_stream::<T>(0, 0)?;
	let mut ids = Vec::new();
	for i in 0..n {
		let viewer: T::AccountId = account("viewer", i, 0);
		fund::<T>(&viewer);
		ids.push(open_by_allowance::<T>(&viewer, stream)?);
	}
	let creator: T::AccountId = account("creator", 0, 0);
	pallet_streams::Pallet::<T>::end_stream(RawOrigin::Signed(creator).into(), stream)?;
	advance_time::<T>();
	Ok(BoundedVec::truncate_from(ids))
}

#[benchmarks(
	where
		T::VoucherSignature: From<sr25519::Signature>,
		SignerOf<T>: From<sr25519::Public>,
)]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn open_session() -> Result<(), BenchmarkError> {
		let stream = replay_stream::<T>(0)?;
		let viewer: T::AccountId = whitelisted_caller();
		fund::<T>(&viewer);
		let key: T::AccountId = account("key", 0, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(viewer), stream, MAX_SECONDS, price::<T>(), key);
		assert_eq!(OpenSessionCount::<T>::get(), 1);
		Ok(())
	}

	#[benchmark]
	fn top_up() -> Result<(), BenchmarkError> {
		let stream = live_stream::<T>(0, 0)?;
		let viewer: T::AccountId = whitelisted_caller();
		fund::<T>(&viewer);
		let sid = open::<T>(&viewer, stream)?;
		#[extrinsic_call]
		_(RawOrigin::Signed(viewer), sid, MAX_SECONDS);
		assert_eq!(Ticks::<T>::session(sid).map(|s| s.max_seconds), Some(2 * MAX_SECONDS));
		Ok(())
	}

	#[benchmark]
	fn tick() -> Result<(), BenchmarkError> {
		let stream = live_stream::<T>(0, <T as pallet_streams::Config>::MaxCollaborators::get())?;
		let viewer: T::AccountId = whitelisted_caller();
		fund::<T>(&viewer);
		let sid = open::<T>(&viewer, stream)?;
		advance_time::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(viewer), sid, WATCHED);
		assert_eq!(Ticks::<T>::session(sid).map(|s| s.settled_seconds), Some(WATCHED));
		Ok(())
	}

	/// `a` accepted and `r` rejected vouchers, each on its own session, all on one stream with
	/// the maximum number of collaborators. The sessions are consecutive, so they share pages:
	/// about `(a + r) / SESSIONS_PER_PAGE` of them.
	#[benchmark]
	fn settle_batch(
		a: Linear<0, { T::MaxVouchersPerBatch::get() / 2 }>,
		r: Linear<0, { T::MaxVouchersPerBatch::get() / 2 }>,
	) -> Result<(), BenchmarkError> {
		let stream = live_stream::<T>(0, <T as pallet_streams::Config>::MaxCollaborators::get())?;
		let mut keys = Vec::new();
		for i in 0..a.saturating_add(r) {
			let (public, viewer) = viewer_key::<T>(i);
			keys.push((public, open::<T>(&viewer, stream)?));
		}
		advance_time::<T>();
		let mut vouchers = Vec::new();
		for (i, (public, sid)) in keys.iter().enumerate() {
			let accepted = (i as u32) < a;
			// A rejected voucher claims one second more than it signs.
			let signed = if accepted { WATCHED } else { WATCHED.saturating_add(1) };
			vouchers.push(Voucher {
				session_id: *sid,
				cumulative_seconds: WATCHED,
				signer: VoucherSigner::VoucherKey,
				encoding: VoucherEncoding::Wrapped,
				signature: sign::<T>(public, *sid, signed)?,
			});
		}
		let pages = pages_of(keys.iter().map(|(_, sid)| *sid));
		let caller: T::AccountId = whitelisted_caller();
		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller),
			BoundedVec::truncate_from(vouchers),
			BatchWitness { streams: 1, pages },
		);
		for (i, (_, sid)) in keys.iter().enumerate() {
			let expected = if (i as u32) < a { WATCHED } else { 0 };
			assert_eq!(Ticks::<T>::session(*sid).map(|s| s.settled_seconds), Some(expected));
		}
		Ok(())
	}

	/// `s` accepted vouchers on `s` distinct streams (distinct creators and collaborators): the
	/// per-stream cost on top of `settle_batch`.
	#[benchmark]
	fn settle_batch_streams(
		s: Linear<1, { T::MaxVouchersPerBatch::get() }>,
	) -> Result<(), BenchmarkError> {
		let collaborators = <T as pallet_streams::Config>::MaxCollaborators::get();
		let mut keys = Vec::new();
		for i in 0..s {
			let stream = live_stream::<T>(i, collaborators)?;
			let (public, viewer) = viewer_key::<T>(i);
			keys.push((public, open::<T>(&viewer, stream)?));
		}
		advance_time::<T>();
		let vouchers = watched_vouchers::<T>(&keys)?;
		let pages = pages_of(keys.iter().map(|(_, sid)| *sid));
		let caller: T::AccountId = whitelisted_caller();
		let vouchers = BoundedVec::truncate_from(vouchers);
		#[block]
		{
			Ticks::<T>::settle_batch(
				RawOrigin::Signed(caller).into(),
				vouchers,
				BatchWitness { streams: s, pages },
			)
			.map_err(|e| e.error)?;
		}
		for (_, sid) in keys.iter() {
			assert_eq!(Ticks::<T>::session(*sid).map(|s| s.settled_seconds), Some(WATCHED));
		}
		Ok(())
	}

	/// `p` accepted vouchers on `p` distinct pages (one session opened per page, skipping the
	/// rest of each page's ids), all on one stream with the maximum number of collaborators:
	/// the per-page cost on top of `settle_batch`.
	#[benchmark]
	fn settle_batch_pages(
		p: Linear<1, { T::MaxVouchersPerBatch::get() }>,
	) -> Result<(), BenchmarkError> {
		let stream = live_stream::<T>(0, <T as pallet_streams::Config>::MaxCollaborators::get())?;
		let mut keys = Vec::new();
		for i in 0..p {
			// Skip to the first id of the next page.
			let next = NextSessionId::<T>::get();
			let (page, slot) = page_of(next);
			if slot != 0 {
				NextSessionId::<T>::put(page.saturating_add(1).saturating_mul(SESSIONS_PER_PAGE));
			}
			let (public, viewer) = viewer_key::<T>(i);
			keys.push((public, open::<T>(&viewer, stream)?));
		}
		advance_time::<T>();
		let vouchers = watched_vouchers::<T>(&keys)?;
		let pages = pages_of(keys.iter().map(|(_, sid)| *sid));
		assert_eq!(pages, p);
		let caller: T::AccountId = whitelisted_caller();
		#[extrinsic_call]
		settle_batch(
			RawOrigin::Signed(caller),
			BoundedVec::truncate_from(vouchers),
			BatchWitness { streams: 1, pages },
		);
		for (_, sid) in keys.iter() {
			assert_eq!(Ticks::<T>::session(*sid).map(|s| s.settled_seconds), Some(WATCHED));
		}
		Ok(())
	}

	/// The stream's relayer closes at once with the viewer's close intent (settled, then
	/// refunded, the refund credited to the allowance that opened the session): costlier than
	/// the viewer's own request, which only starts the window.
	#[benchmark]
	fn close_session() -> Result<(), BenchmarkError> {
		let stream = live_stream::<T>(0, <T as pallet_streams::Config>::MaxCollaborators::get())?;
		let (public, viewer) = viewer_key::<T>(0);
		let sid = open_by_allowance::<T>(&viewer, stream)?;
		advance_time::<T>();
		let intent = close_intent::<T>(&public, sid, WATCHED)?;
		#[extrinsic_call]
		_(RawOrigin::Signed(relayer::<T>()), sid, Some(intent));
		assert!(Ticks::<T>::session(sid).is_none());
		assert!(SessionPages::<T>::get(page_of(sid).0).is_none());
		Ok(())
	}

	/// A close intent that settles its seconds and starts the window.
	#[benchmark]
	fn submit_close_intent() -> Result<(), BenchmarkError> {
		let stream = live_stream::<T>(0, <T as pallet_streams::Config>::MaxCollaborators::get())?;
		let (public, viewer) = viewer_key::<T>(0);
		let sid = open::<T>(&viewer, stream)?;
		advance_time::<T>();
		let intent = close_intent::<T>(&public, sid, WATCHED)?;
		#[extrinsic_call]
		_(RawOrigin::Authorized, sid, intent);
		let session = Ticks::<T>::session(sid).ok_or(BenchmarkError::Stop("closed"))?;
		assert_eq!(session.settled_seconds, WATCHED);
		assert!(session.closing_since.is_some());
		Ok(())
	}

	#[benchmark]
	fn authorize_close_intent() -> Result<(), BenchmarkError> {
		let stream = live_stream::<T>(0, 0)?;
		let (public, viewer) = viewer_key::<T>(0);
		let sid = open::<T>(&viewer, stream)?;
		advance_time::<T>();
		let call = Call::<T>::submit_close_intent {
			session_id: sid,
			intent: close_intent::<T>(&public, sid, WATCHED)?,
		};
		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or(BenchmarkError::Stop("submit_close_intent must be authorizable"))?
				.map_err(|_| BenchmarkError::Stop("the close intent must be authorized"))?;
		}
		Ok(())
	}

	/// Granting over an existing allowance (which it replaces).
	#[benchmark]
	fn grant_allowance() -> Result<(), BenchmarkError> {
		let viewer: T::AccountId = whitelisted_caller();
		fund::<T>(&viewer);
		grant::<T>(&viewer, account("old-delegate", 0, 0))?;
		let delegate: T::AccountId = account("delegate", 0, 0);
		let expires = Ticks::<T>::now_ms().saturating_add(86_400_000);
		#[extrinsic_call]
		_(RawOrigin::Signed(viewer.clone()), delegate.clone(), price::<T>(), 3_600_000, expires);
		assert_eq!(Allowances::<T>::get(&viewer).map(|a| a.delegate), Some(delegate));
		Ok(())
	}

	#[benchmark]
	fn revoke_allowance() -> Result<(), BenchmarkError> {
		let viewer: T::AccountId = whitelisted_caller();
		fund::<T>(&viewer);
		grant::<T>(&viewer, account("delegate", 0, 0))?;
		#[extrinsic_call]
		_(RawOrigin::Signed(viewer.clone()));
		assert!(Allowances::<T>::get(&viewer).is_none());
		Ok(())
	}

	/// A delegate opens a session: fee, open, allowance.
	#[benchmark]
	fn delegate_open_session() -> Result<(), BenchmarkError> {
		let stream = replay_stream::<T>(0)?;
		let viewer: T::AccountId = whitelisted_caller();
		fund::<T>(&viewer);
		let (delegate, delegate_account) = viewer_key::<T>(1);
		grant::<T>(&viewer, delegate_account)?;
		let op = DelegateOp::OpenSession {
			stream_id: stream,
			max_seconds: MAX_SECONDS,
			max_price_per_second: price::<T>(),
			voucher_key: account("key", 0, 0),
		};
		let Call::<T>::delegate { viewer, allowance_id, nonce, op, encoding, signature } =
			delegate_call::<T>(&viewer, &delegate, op)?
		else {
			return Err(BenchmarkError::Stop("not a delegate call"));
		};
		#[extrinsic_call]
		delegate(RawOrigin::Authorized, viewer, allowance_id, nonce, op, encoding, signature);
		assert_eq!(OpenSessionCount::<T>::get(), 1);
		Ok(())
	}

	/// A delegate tops up a session.
	#[benchmark]
	fn delegate_top_up() -> Result<(), BenchmarkError> {
		let stream = live_stream::<T>(0, 0)?;
		let viewer: T::AccountId = whitelisted_caller();
		fund::<T>(&viewer);
		let sid = open::<T>(&viewer, stream)?;
		let (delegate, delegate_account) = viewer_key::<T>(1);
		grant::<T>(&viewer, delegate_account)?;
		let op = DelegateOp::TopUp { session_id: sid, extra_seconds: MAX_SECONDS };
		let Call::<T>::delegate { viewer, allowance_id, nonce, op, encoding, signature } =
			delegate_call::<T>(&viewer, &delegate, op)?
		else {
			return Err(BenchmarkError::Stop("not a delegate call"));
		};
		#[extrinsic_call]
		delegate(RawOrigin::Authorized, viewer, allowance_id, nonce, op, encoding, signature);
		assert_eq!(Ticks::<T>::session(sid).map(|s| s.max_seconds), Some(2 * MAX_SECONDS));
		Ok(())
	}

	/// The authorization of a delegate's open (its costliest operation to check).
	#[benchmark]
	fn authorize_delegate() -> Result<(), BenchmarkError> {
		let stream = live_stream::<T>(0, 0)?;
		let viewer: T::AccountId = whitelisted_caller();
		fund::<T>(&viewer);
		let (delegate, delegate_account) = viewer_key::<T>(1);
		grant::<T>(&viewer, delegate_account)?;
		let op = DelegateOp::OpenSession {
			stream_id: stream,
			max_seconds: MAX_SECONDS,
			max_price_per_second: price::<T>(),
			voucher_key: account("key", 0, 0),
		};
		let call = delegate_call::<T>(&viewer, &delegate, op)?;
		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or(BenchmarkError::Stop("delegate must be authorizable"))?
				.map_err(|_| BenchmarkError::Stop("the delegate call must be authorized"))?;
		}
		Ok(())
	}

	#[benchmark]
	fn close_expired(n: Linear<1, { T::MaxCloseBatch::get() }>) -> Result<(), BenchmarkError> {
		let ids = close_ids::<T>(n)?;
		#[extrinsic_call]
		_(RawOrigin::Authorized, ids);
		assert_eq!(OpenSessionCount::<T>::get(), 0);
		Ok(())
	}

	#[benchmark]
	fn authorize_close_expired(
		n: Linear<1, { T::MaxCloseBatch::get() }>,
	) -> Result<(), BenchmarkError> {
		let session_ids = close_ids::<T>(n)?;
		let call = Call::<T>::close_expired { session_ids };
		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or(BenchmarkError::Stop("close_expired must be authorizable"))?
				.map_err(|_| BenchmarkError::Stop("close_expired must be authorized"))?;
		}
		Ok(())
	}

	/// One step of the v0 → v1 migration over one session whose page already holds every other
	/// slot (the largest page to read and write): what each session costs the migration.
	#[benchmark]
	fn migration_v0_v1_step() -> Result<(), BenchmarkError> {
		use crate::migrations::v1::{v0, MigrateV0ToV1, SessionsV1};
		let old = v0::OldSession::<T> {
			viewer: account("viewer", 0, 0),
			stream_id: 0,
			price_per_second: price::<T>(),
			max_seconds: MAX_SECONDS,
			settled_seconds: WATCHED,
			escrow_remaining: price::<T>().saturating_mul((MAX_SECONDS - WATCHED).saturated_into()),
			opened_at: 1,
			last_activity: 1u32.into(),
		};
		let (_, state) = old.clone().split();
		let id: SessionId = SESSIONS_PER_PAGE - 1;
		let mut page = SessionPage::<T>::default();
		for other in 0..id {
			if let Some(slot) = page.slot_mut(other) {
				*slot = Some(state.clone());
			}
		}
		SessionPages::<T>::insert(page_of(id).0, page);
		v0::Sessions::<T>::insert(id, old.clone());
		StorageVersion::new(0).put::<Ticks<T>>();
		let mut meter = WeightMeter::new();
		let result;
		#[block]
		{
			result = MigrateV0ToV1::<T, ()>::step(None, &mut meter);
		}
		assert_eq!(result, Ok(None));
		assert!(SessionsV1::<T>::get(id) == Some(old.split().0));
		assert_eq!(Ticks::<T>::on_chain_storage_version(), 1);
		Ok(())
	}

	/// `on_idle` removing `n` expired closed-session records, then reading the next one, which
	/// is still kept (where a real run stops when it has more room than expired records).
	#[benchmark]
	fn prune_closed(n: Linear<0, MAX_PRUNED_PER_BLOCK>) -> Result<(), BenchmarkError> {
		let record = |closed_in: BlockNumberFor<T>| ClosedSession::<T> {
			info: SessionInfo {
				viewer: account("viewer", 0, 0),
				stream_id: 0,
				price_per_second: price::<T>(),
				max_seconds: MAX_SECONDS,
				opened_at: 1,
				voucher_key: account("key", 0, 0),
				closing_since: Some(2),
				allowance: Some(0),
			},
			settled_seconds: WATCHED,
			refunded: price::<T>(),
			closed_at: 3,
			closed_in,
			reason: CloseReason::WindowElapsed,
		};
		let retention = T::ClosedRetention::get();
		let now = retention.saturating_add(2u32.into());
		for id in 0..u64::from(n) {
			Ticks::<T>::record_closed(id, record(1u32.into()));
		}
		Ticks::<T>::record_closed(u64::from(n), record(now));
		let pruned;
		#[block]
		{
			pruned = Ticks::<T>::prune_closed(now, MAX_PRUNED_PER_BLOCK);
		}
		assert_eq!(pruned, n);
		assert_eq!(ClosedQueueBounds::<T>::get(), (u64::from(n), u64::from(n) + 1));
		assert!(ClosedSessions::<T>::contains_key(u64::from(n)));
		Ok(())
	}

	/// One step of the v1 → v2 migration over one session: what each session costs it.
	#[benchmark]
	fn migration_v1_v2_step() -> Result<(), BenchmarkError> {
		use crate::migrations::{
			v1::{SessionInfoV1, SessionsV1},
			v2::MigrateV1ToV2,
		};
		let old = SessionInfoV1::<T> {
			viewer: account("viewer", 0, 0),
			stream_id: 0,
			price_per_second: price::<T>(),
			max_seconds: MAX_SECONDS,
			opened_at: 1,
		};
		SessionsV1::<T>::insert(0, old.clone());
		StorageVersion::new(1).put::<Ticks<T>>();
		let mut meter = WeightMeter::new();
		let result;
		#[block]
		{
			result = MigrateV1ToV2::<T, ()>::step(None, &mut meter);
		}
		assert_eq!(result, Ok(None));
		assert!(Sessions::<T>::get(0) == Some(SessionInfo::from(old)));
		assert_eq!(Ticks::<T>::on_chain_storage_version(), 2);
		Ok(())
	}

	impl_benchmark_test_suite!(Ticks, crate::mock::new_bench_ext(), crate::mock::Test);
}
