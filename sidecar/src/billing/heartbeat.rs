//! The voucher path: check a heartbeat, verify its signature, store it, then acknowledge.
//!
//! [`Heartbeats::submit`] runs the cheap checks inline on the connection's task, against the
//! session entry the connection already holds (atomics, no lock): the session is open, the
//! cumulative is strictly above the last acknowledged one, at most `max_seconds`, and at most
//! the seconds elapsed since the opening plus the grace. The signature check (the expensive
//! part: ≈ 40 µs for sr25519) is then queued to verifier threads that take whatever has queued
//! up and verify it as one schnorrkel batch (≈ 20-25 µs per signature), falling back to one by
//! one only when a batch fails. A verified voucher goes straight from the verifier thread to
//! the store's group commit; the connection is woken once, with the final [`Verdict`], after the
//! commit.
//!
//! Exactly one verification runs per voucher: the client states which key signed (`signer`:
//! the session's voucher key or the viewer's account), which bytes (`encoding`) and with which
//! scheme (`crypto`).

use crate::{
	chain::view::{ChainView, SessionEntry},
	protocol::{Crypto, Encoding, ErrorCode, Signer},
	store::{Store, StoredVoucher},
};
use sp_core::{ed25519, sr25519, Pair};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;
use vilokanam_chain_client::{voucher, Signature, H256};

/// The signing context of Substrate's sr25519 signatures.
const SR25519_CONTEXT: &[u8] = b"substrate";
/// The most signatures verified as one batch.
const MAX_BATCH: usize = 256;
/// How long a verifier waits for more signatures after the first of a batch: batches of a few
/// dozen cost ≈ 25 µs per signature instead of ≈ 40 µs one by one, for under a millisecond of
/// latency.
const BATCH_LINGER: std::time::Duration = std::time::Duration::from_micros(1_000);

/// Why a heartbeat was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeartbeatError {
	/// The session was closed on chain.
	#[error("the session is closed")]
	SessionClosed,
	/// Not above the last acknowledged cumulative.
	#[error("not above the last acknowledged cumulative seconds")]
	Stale,
	/// Above the seconds paid into escrow.
	#[error("above the session's paid seconds")]
	AboveMax,
	/// More seconds than elapsed since the opening, plus grace.
	#[error("more seconds than elapsed since the session opened")]
	AheadOfTime,
	/// The signature does not verify against the key the heartbeat names.
	#[error("the signature does not verify against the key it names")]
	BadSignature,
	/// Storing failed, or the server is shutting down.
	#[error("the voucher could not be stored")]
	Internal,
	/// No new block for longer than the sidecar acknowledges without settling: what it
	/// acknowledges now might not be settled before the chain refunds the session.
	#[error("the sidecar has not reached the chain for too long to acknowledge more")]
	ChainSilent,
}

impl HeartbeatError {
	/// The protocol error code.
	pub fn code(self) -> ErrorCode {
		match self {
			Self::SessionClosed => ErrorCode::NotFound,
			Self::Stale => ErrorCode::Stale,
			Self::AboveMax => ErrorCode::AboveMax,
			Self::AheadOfTime => ErrorCode::AheadOfTime,
			Self::BadSignature => ErrorCode::BadSignature,
			Self::Internal => ErrorCode::Internal,
			Self::ChainSilent => ErrorCode::ChainUnavailable,
		}
	}
}

/// A heartbeat as received.
#[derive(Clone, Copy, Debug)]
pub struct Heartbeat {
	/// The session.
	pub session_id: u64,
	/// Total seconds watched.
	pub cumulative_seconds: u64,
	/// Which bytes were signed.
	pub encoding: Encoding,
	/// The signing key's scheme.
	pub crypto: Crypto,
	/// The signature.
	pub signature: [u8; 64],
	/// Which key signed.
	pub signer: Signer,
}

/// The outcome of a submitted heartbeat.
pub type Verdict = Result<(), HeartbeatError>;

/// The checks that need no signature verification. `now_ms` is the wall clock (Unix ms).
pub fn check(
	session: &SessionEntry,
	cumulative_seconds: u64,
	now_ms: u64,
	grace_secs: u64,
) -> Result<(), HeartbeatError> {
	if session.is_closed() {
		return Err(HeartbeatError::SessionClosed);
	}
	if cumulative_seconds <= session.last_acked() {
		return Err(HeartbeatError::Stale);
	}
	if cumulative_seconds > session.max_seconds() {
		return Err(HeartbeatError::AboveMax);
	}
	let elapsed = now_ms.saturating_sub(session.opened_at_ms) / 1_000;
	if cumulative_seconds > elapsed.saturating_add(grace_secs) {
		return Err(HeartbeatError::AheadOfTime);
	}
	Ok(())
}

/// A signature to verify, parsed.
enum Check {
	Sr25519 { key: schnorrkel::PublicKey, signature: schnorrkel::Signature },
	Ed25519 { key: ed25519::Public, signature: ed25519::Signature },
}

/// A heartbeat for the verifier threads.
struct VerifyJob {
	check: Check,
	message: Vec<u8>,
	voucher: StoredVoucher,
	done: oneshot::Sender<Verdict>,
}

/// The heartbeat pipeline: checks, batch verification threads, storage. Cheap to clone; the
/// verifier threads stop when the last clone is dropped.
#[derive(Clone)]
pub struct Heartbeats {
	jobs: mpsc::Sender<VerifyJob>,
	grace_secs: u64,
	/// The chain, and how long without a new block acknowledging goes on.
	silence: Option<(ChainView, u64)>,
}

impl Heartbeats {
	/// Start `threads` verifier threads (at least one) feeding `store`. Heartbeats may claim
	/// up to `grace_secs` more than the time elapsed since their session opened.
	pub fn new(store: Store, grace_secs: u64, threads: usize) -> Self {
		let (jobs, rx) = mpsc::channel::<VerifyJob>();
		let rx = Arc::new(Mutex::new(rx));
		for i in 0..threads.max(1) {
			let rx = rx.clone();
			let store = store.clone();
			let spawned = std::thread::Builder::new()
				.name(format!("sidecar-verify-{i}"))
				.spawn(move || verifier_loop(&rx, &store));
			if let Err(e) = spawned {
				tracing::error!("cannot start a verifier thread: {e}");
			}
		}
		Self { jobs, grace_secs, silence: None }
	}

	/// Refuse heartbeats ([`HeartbeatError::ChainSilent`]) once `chain` has seen no new block
	/// for `max_silence`. An acknowledged second must be settled within the runtime's idle
	/// timeout (twelve minutes) of the session's last settlement, or the chain refunds it:
	/// acknowledging only in the first minutes of an outage leaves the rest of that time to
	/// settle once the link is back, and viewers' media pauses instead of running unpaid.
	pub fn watching(mut self, chain: ChainView, max_silence: std::time::Duration) -> Self {
		let ms = u64::try_from(max_silence.as_millis()).unwrap_or(u64::MAX);
		self.silence = Some((chain, ms));
		self
	}

	/// Check `hb` against `session` (held by the connection watching it) and queue it for
	/// verification and storage. Returns a receiver of the verdict, which is `Ok` only once the
	/// voucher is durably stored; the caller then acknowledges it and calls
	/// [`SessionEntry::note_acked`].
	pub fn submit(
		&self,
		genesis: &H256,
		session: &SessionEntry,
		hb: &Heartbeat,
		now_ms: u64,
	) -> Result<oneshot::Receiver<Verdict>, HeartbeatError> {
		if self.silence.as_ref().is_some_and(|(chain, max)| chain.silent_ms(now_ms) > *max) {
			return Err(HeartbeatError::ChainSilent);
		}
		check(session, hb.cumulative_seconds, now_ms, self.grace_secs)?;
		let signer = hb.signer.into();
		let (check, signature) = match hb.crypto {
			Crypto::Sr25519 => {
				let key = *session.sr25519_key(signer).ok_or(HeartbeatError::BadSignature)?;
				let signature = schnorrkel::Signature::from_bytes(&hb.signature)
					.map_err(|_| HeartbeatError::BadSignature)?;
				(
					Check::Sr25519 { key, signature },
					Signature::Sr25519(sr25519::Signature::from_raw(hb.signature)),
				)
			},
			Crypto::Ed25519 => {
				let raw: &[u8; 32] = session.signer_account(signer).as_ref();
				let key = ed25519::Public::from_raw(*raw);
				let signature = ed25519::Signature::from_raw(hb.signature);
				(Check::Ed25519 { key, signature }, Signature::Ed25519(signature))
			},
		};
		let encoding = hb.encoding.into();
		let message = voucher::signed_bytes(genesis, session.id, hb.cumulative_seconds, encoding);
		let (done, verdict) = oneshot::channel();
		let job = VerifyJob {
			check,
			message,
			voucher: StoredVoucher {
				session_id: session.id,
				stream_id: session.stream_id,
				viewer: session.viewer.clone(),
				cumulative_seconds: hb.cumulative_seconds,
				signer,
				encoding,
				signature,
				settled_seconds: session.settled_seconds(),
			},
			done,
		};
		self.jobs.send(job).map_err(|_| HeartbeatError::Internal)?;
		Ok(verdict)
	}
}

fn verify_one(job: &VerifyJob) -> bool {
	match &job.check {
		Check::Sr25519 { key, signature } => {
			key.verify_simple(SR25519_CONTEXT, &job.message, signature).is_ok()
		},
		Check::Ed25519 { key, signature } => ed25519::Pair::verify(signature, &job.message, key),
	}
}

/// Verify the sr25519 jobs of `batch` (given by index) together; `valid[i]` gets each outcome.
fn verify_sr25519_batch(batch: &[VerifyJob], indices: &[usize], valid: &mut [bool]) {
	if indices.len() == 1 {
		valid[indices[0]] = verify_one(&batch[indices[0]]);
		return;
	}
	let mut keys = Vec::with_capacity(indices.len());
	let mut signatures = Vec::with_capacity(indices.len());
	let mut transcripts = Vec::with_capacity(indices.len());
	let context = schnorrkel::signing_context(SR25519_CONTEXT);
	for &i in indices {
		if let Check::Sr25519 { key, signature } = &batch[i].check {
			keys.push(*key);
			signatures.push(*signature);
			transcripts.push(context.bytes(&batch[i].message));
		}
	}
	let all_valid =
		schnorrkel::verify_batch_rng(transcripts, &signatures, &keys, false, rand::thread_rng())
			.is_ok();
	for &i in indices {
		// A failed batch says only that one is bad: find which, one by one.
		valid[i] = all_valid || verify_one(&batch[i]);
	}
}

fn verifier_loop(rx: &Mutex<mpsc::Receiver<VerifyJob>>, store: &Store) {
	let mut batch: Vec<VerifyJob> = Vec::with_capacity(MAX_BATCH);
	let mut sr_indices: Vec<usize> = Vec::with_capacity(MAX_BATCH);
	let mut valid: Vec<bool> = Vec::with_capacity(MAX_BATCH);
	loop {
		{
			// Whoever holds the receiver waits for work; the other threads wait for the lock.
			let Ok(rx) = rx.lock() else { return };
			let Ok(first) = rx.recv() else { return };
			batch.push(first);
			let deadline = std::time::Instant::now() + BATCH_LINGER;
			while batch.len() < MAX_BATCH {
				match rx.try_recv() {
					Ok(job) => {
						batch.push(job);
						continue;
					},
					Err(mpsc::TryRecvError::Disconnected) => break,
					Err(mpsc::TryRecvError::Empty) => {},
				}
				let now = std::time::Instant::now();
				if now >= deadline {
					break;
				}
				match rx.recv_timeout(deadline - now) {
					Ok(job) => batch.push(job),
					Err(_) => break,
				}
			}
		}
		valid.clear();
		valid.resize(batch.len(), false);
		sr_indices.clear();
		for (i, job) in batch.iter().enumerate() {
			match job.check {
				Check::Sr25519 { .. } => sr_indices.push(i),
				Check::Ed25519 { .. } => valid[i] = verify_one(job),
			}
		}
		if !sr_indices.is_empty() {
			verify_sr25519_batch(&batch, &sr_indices, &mut valid);
		}
		for (job, ok) in batch.drain(..).zip(valid.iter()) {
			if *ok {
				let done = job.done;
				store.put_voucher_then(job.voucher, move |r| {
					let _ = done.send(r.map_err(|e| {
						tracing::error!("cannot store a voucher: {e}");
						HeartbeatError::Internal
					}));
				});
			} else {
				let _ = job.done.send(Err(HeartbeatError::BadSignature));
			}
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::chain::view::account_of;
	use vilokanam_chain_client::{VoucherEncoding, VoucherSigner};

	const GRACE: u64 = 6;

	fn genesis() -> H256 {
		H256::repeat_byte(7)
	}

	fn session(viewer: &sr25519::Pair, opened_at_ms: u64, max: u64) -> SessionEntry {
		SessionEntry::new(9, account_of(viewer), 3, 1_000, opened_at_ms, max, 0)
	}

	fn heartbeat(pair: &sr25519::Pair, cumulative: u64, encoding: Encoding) -> Heartbeat {
		let sig = voucher::sign(pair, &genesis(), 9, cumulative, encoding.into());
		let Signature::Sr25519(sig) = sig else { unreachable!() };
		Heartbeat {
			session_id: 9,
			cumulative_seconds: cumulative,
			encoding,
			crypto: Crypto::Sr25519,
			signature: sig.0,
			signer: Signer::Viewer,
		}
	}

	#[test]
	fn checks_without_signature() {
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		// Opened at t = 100 s, 60 seconds paid.
		let s = session(&alice, 100_000, 60);
		let now = 150_000; // 50 s elapsed
		assert_eq!(check(&s, 0, now, GRACE), Err(HeartbeatError::Stale));
		assert_eq!(check(&s, 1, now, GRACE), Ok(()));
		assert_eq!(check(&s, 56, now, GRACE), Ok(()));
		assert_eq!(check(&s, 57, now, GRACE), Err(HeartbeatError::AheadOfTime));
		assert_eq!(check(&s, 61, 1_000_000, GRACE), Err(HeartbeatError::AboveMax));
		assert_eq!(check(&s, 60, 1_000_000, GRACE), Ok(()));
		// A clock before the opening: only the grace is allowed.
		assert_eq!(check(&s, 6, 0, GRACE), Ok(()));
		assert_eq!(check(&s, 7, 0, GRACE), Err(HeartbeatError::AheadOfTime));
		s.note_acked(10);
		assert_eq!(check(&s, 10, now, GRACE), Err(HeartbeatError::Stale));
		assert_eq!(check(&s, 11, now, GRACE), Ok(()));
	}

	async fn pipeline() -> (tempfile::TempDir, Store, Heartbeats) {
		let dir = tempfile::tempdir().unwrap();
		let store = Store::open(dir.path().join("db.sqlite")).unwrap();
		let hb = Heartbeats::new(store.clone(), GRACE, 2);
		(dir, store, hb)
	}

	#[tokio::test]
	async fn accepted_heartbeat_is_stored() {
		let (_dir, store, hbs) = pipeline().await;
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let s = session(&alice, 0, 1_000);
		for (cumulative, enc) in [(5, Encoding::Raw), (6, Encoding::Wrapped)] {
			let hb = heartbeat(&alice, cumulative, enc);
			let verdict = hbs.submit(&genesis(), &s, &hb, 100_000).unwrap().await.unwrap();
			assert_eq!(verdict, Ok(()));
			s.note_acked(cumulative);
		}
		let stored = store.latest_voucher(9).await.unwrap().unwrap();
		assert_eq!(stored.cumulative_seconds, 6);
		assert_eq!(stored.encoding, VoucherEncoding::Wrapped);
		assert_eq!(stored.viewer, account_of(&alice));
		// What is stored is what the chain accepts.
		assert!(voucher::verify(
			&stored.signature,
			stored.encoding,
			&genesis(),
			9,
			6,
			&account_of(&alice)
		));
		// A replay of the acknowledged one is stale.
		let hb = heartbeat(&alice, 6, Encoding::Wrapped);
		assert_eq!(hbs.submit(&genesis(), &s, &hb, 100_000).err(), Some(HeartbeatError::Stale));
	}

	#[tokio::test]
	async fn nothing_is_acknowledged_once_the_chain_is_silent_too_long() {
		let dir = tempfile::tempdir().unwrap();
		let store = Store::open(dir.path().join("db.sqlite")).unwrap();
		// A view that reads from a node it never reaches: no block since it was made.
		let chain = ChainView::new();
		let hbs = Heartbeats::new(store.clone(), GRACE, 1)
			.watching(chain, std::time::Duration::from_secs(300));
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let s = session(&alice, 0, 1_000);
		let now = crate::clock::unix_ms();
		let hb = heartbeat(&alice, 5, Encoding::Raw);
		assert_eq!(hbs.submit(&genesis(), &s, &hb, now).unwrap().await.unwrap(), Ok(()));
		s.note_acked(5);
		let hb = heartbeat(&alice, 6, Encoding::Raw);
		let late = now + 301_000;
		assert_eq!(hbs.submit(&genesis(), &s, &hb, late).err(), Some(HeartbeatError::ChainSilent));
		assert_eq!(HeartbeatError::ChainSilent.code(), ErrorCode::ChainUnavailable);
		assert_eq!(store.latest_voucher(9).await.unwrap().unwrap().cumulative_seconds, 5);
	}

	#[tokio::test]
	async fn wrong_signer_encoding_or_crypto_is_rejected() {
		let (_dir, store, hbs) = pipeline().await;
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let bob = sr25519::Pair::from_string("//Bob", None).unwrap();
		let s = session(&alice, 0, 1_000);
		// Signed by Bob for Alice's session.
		let hb = heartbeat(&bob, 5, Encoding::Raw);
		let v = hbs.submit(&genesis(), &s, &hb, 100_000).unwrap().await.unwrap();
		assert_eq!(v, Err(HeartbeatError::BadSignature));
		// Signed raw, claimed wrapped.
		let mut hb = heartbeat(&alice, 5, Encoding::Raw);
		hb.encoding = Encoding::Wrapped;
		let v = hbs.submit(&genesis(), &s, &hb, 100_000).unwrap().await.unwrap();
		assert_eq!(v, Err(HeartbeatError::BadSignature));
		// Claimed ed25519.
		let mut hb = heartbeat(&alice, 5, Encoding::Raw);
		hb.crypto = Crypto::Ed25519;
		let v = hbs.submit(&genesis(), &s, &hb, 100_000).unwrap().await.unwrap();
		assert_eq!(v, Err(HeartbeatError::BadSignature));
		// Another chain's voucher.
		let sig = voucher::sign(&alice, &H256::zero(), 9, 5, VoucherEncoding::Raw);
		let Signature::Sr25519(sig) = sig else { unreachable!() };
		let mut hb = heartbeat(&alice, 5, Encoding::Raw);
		hb.signature = sig.0;
		let v = hbs.submit(&genesis(), &s, &hb, 100_000).unwrap().await.unwrap();
		assert_eq!(v, Err(HeartbeatError::BadSignature));
		// Garbage that is not even a schnorrkel signature is refused before queueing.
		let mut hb = heartbeat(&alice, 5, Encoding::Raw);
		hb.signature = [0; 64];
		assert_eq!(
			hbs.submit(&genesis(), &s, &hb, 100_000).err(),
			Some(HeartbeatError::BadSignature)
		);
		assert_eq!(store.latest_voucher(9).await.unwrap(), None);
	}

	#[tokio::test]
	async fn ed25519_viewer() {
		let (_dir, _store, hbs) = pipeline().await;
		let pair = ed25519::Pair::from_string("//Charlie", None).unwrap();
		let viewer = vilokanam_chain_client::AccountId::from(pair.public().0);
		let s = SessionEntry::new(9, viewer, 3, 1, 0, 1_000, 0);
		let bytes = voucher::signed_bytes(&genesis(), 9, 4, VoucherEncoding::Wrapped);
		let hb = Heartbeat {
			session_id: 9,
			cumulative_seconds: 4,
			encoding: Encoding::Wrapped,
			crypto: Crypto::Ed25519,
			signature: pair.sign(&bytes).0,
			signer: Signer::Viewer,
		};
		assert_eq!(hbs.submit(&genesis(), &s, &hb, 100_000).unwrap().await.unwrap(), Ok(()));
	}

	/// A session's voucher key signs its vouchers without the viewer's wallet; each key is
	/// accepted only under its own name, and what is stored names the signer the chain checks.
	#[tokio::test]
	async fn voucher_key_heartbeats_verify_against_the_voucher_key() {
		let (_dir, store, hbs) = pipeline().await;
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let page = sr25519::Pair::from_string("//page-key", None).unwrap();
		let s = session(&alice, 0, 1_000).with_voucher_key(account_of(&page));
		let mut hb = heartbeat(&page, 5, Encoding::Raw);
		// Claimed as the viewer's: refused.
		let v = hbs.submit(&genesis(), &s, &hb, 100_000).unwrap().await.unwrap();
		assert_eq!(v, Err(HeartbeatError::BadSignature));
		hb.signer = Signer::VoucherKey;
		assert_eq!(hbs.submit(&genesis(), &s, &hb, 100_000).unwrap().await.unwrap(), Ok(()));
		s.note_acked(5);
		// The viewer's own key still works, under its own name.
		let own = heartbeat(&alice, 6, Encoding::Wrapped);
		assert_eq!(hbs.submit(&genesis(), &s, &own, 100_000).unwrap().await.unwrap(), Ok(()));
		s.note_acked(6);
		let mut forged = heartbeat(&alice, 7, Encoding::Raw);
		forged.signer = Signer::VoucherKey;
		let v = hbs.submit(&genesis(), &s, &forged, 100_000).unwrap().await.unwrap();
		assert_eq!(v, Err(HeartbeatError::BadSignature));
		let stored = store.latest_voucher(9).await.unwrap().unwrap();
		assert_eq!((stored.cumulative_seconds, stored.signer), (6, VoucherSigner::Viewer));
		s.note_acked(6);
		let next = Heartbeat { signer: Signer::VoucherKey, ..heartbeat(&page, 8, Encoding::Raw) };
		assert_eq!(hbs.submit(&genesis(), &s, &next, 100_000).unwrap().await.unwrap(), Ok(()));
		let stored = store.latest_voucher(9).await.unwrap().unwrap();
		assert_eq!((stored.cumulative_seconds, stored.signer), (8, VoucherSigner::VoucherKey));
		// What is stored is what the chain accepts.
		assert!(voucher::verify(
			&stored.signature,
			stored.encoding,
			&genesis(),
			9,
			8,
			&account_of(&page)
		));
	}

	#[tokio::test]
	async fn batches_with_a_bad_signature_reject_only_it() {
		let (_dir, store, hbs) = pipeline().await;
		let pairs: Vec<_> = (0..64u8).map(|i| sr25519::Pair::from_seed(&[i; 32])).collect();
		let sessions: Vec<_> = pairs
			.iter()
			.enumerate()
			.map(|(i, p)| SessionEntry::new(i as u64, account_of(p), 1, 1, 0, 1_000, 0))
			.collect();
		let mut pending = Vec::new();
		for (i, (p, s)) in pairs.iter().zip(&sessions).enumerate() {
			// Every 10th is signed by the wrong key.
			let signer = if i % 10 == 3 { &pairs[(i + 1) % 64] } else { p };
			let sig = voucher::sign(signer, &genesis(), s.id, 7, VoucherEncoding::Raw);
			let Signature::Sr25519(sig) = sig else { unreachable!() };
			let hb = Heartbeat {
				session_id: s.id,
				cumulative_seconds: 7,
				encoding: Encoding::Raw,
				crypto: Crypto::Sr25519,
				signature: sig.0,
				signer: Signer::Viewer,
			};
			pending.push((i, hbs.submit(&genesis(), s, &hb, 100_000).unwrap()));
		}
		for (i, rx) in pending {
			let expected = if i % 10 == 3 { Err(HeartbeatError::BadSignature) } else { Ok(()) };
			assert_eq!(rx.await.unwrap(), expected, "heartbeat {i}");
		}
		assert_eq!(store.unsettled_vouchers(100).await.unwrap().len(), 64 - 7);
	}

	/// A session whose viewer asked to close takes no more heartbeats.
	#[test]
	fn closing_session_is_refused() {
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let v = crate::chain::view::ChainView::offline(genesis());
		let s = v.insert_session(session(&alice, 0, 100));
		v.apply_events([vilokanam_chain_client::RuntimeEvent::Ticks(pallet_ticks::Event::<
			vilokanam_chain_client::Runtime,
		>::SessionClosing {
			session_id: 9,
			settled_seconds: 0,
			refund_at: 0,
		})]);
		assert_eq!(check(&s, 1, 100_000, GRACE), Err(HeartbeatError::SessionClosed));
	}
}
