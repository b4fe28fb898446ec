//! # Relay: settling stored vouchers on chain
//!
//! Every `every_blocks` new best heads, if no submitted batch is still waiting for inclusion,
//! the relay runs a *round*:
//!
//! 1. It takes the unsettled vouchers from the [`Store`] (the latest voucher of each session),
//!    leaving out the sessions of batches still in flight.
//! 2. It reconciles them with chain state at the **finalized** head ([`reconcile`]): a session
//!    that was closed gets its voucher marked rejected (`session_closed`: the chain's settled
//!    count of a closed session is gone), a session already settled up to the voucher is marked
//!    settled. The finalized head, not the best one, because what is marked settled is never
//!    submitted again: a retracted block must not lose a second.
//! 3. It keeps only the vouchers worth a fee ([`worth`], the operator's [`SettlePolicy`]): a
//!    voucher that settles fewer than `min_seconds` new seconds waits for a later round, at the
//!    back of the queue, unless its session is being released; one whose session had no
//!    settlement for `tail_blocks` is the session's *tail*: it settles, and the session is
//!    released (closed) with it, so that a viewer who adds a second now and then costs the
//!    relayer one unpaid voucher per session instead of one per round, and no acknowledged
//!    second waits past the chain's idle timeout.
//! 4. It groups the rest by stream, then by consecutive session ids, into `settle_batch`
//!    extrinsics of at most `MaxVouchersPerBatch` vouchers ([`plan_batches`]), each with the
//!    exact `pages` witness ([`settle_call`]), signs them with consecutive nonces from
//!    `system_accountNextIndex` and submits and watches each.
//!
//! Each batch is watched by its own task:
//! - **In block**: the extrinsic's events say which vouchers were rejected
//!   ([`voucher_outcomes`]). Permanent rejections (bad signature, unknown or closed session,
//!   above the escrow) are recorded in the store at once; `AheadOfTime` is transient (the
//!   voucher is submitted again in a later round); `NotIncreasing` waits for finality.
//! - **Finalized**: the outcome is read again *from the finalized block* (which may differ from
//!   the first block after a reorg). Accepted vouchers are marked settled with their cumulative
//!   seconds; a `NotIncreasing` voucher (settled by someone else, or by an earlier submission
//!   the relay lost track of) is marked settled with the session's `settled_seconds` in that
//!   block.
//! - **Dropped, invalid, timed out, failed as a whole (`ExtrinsicFailed`), connection lost**:
//!   logged and counted (`relay_errors_total{kind}`); the sessions are released and their
//!   vouchers go into a later round with a fresh nonce.
//!
//! While a batch is in flight (submitted and not final) its sessions are not submitted again.
//! Vouchers are cumulative, so a duplicate submission can never charge twice: at worst the chain
//! rejects it as `NotIncreasing`.
//!
//! ## Releases
//!
//! After the vouchers, a round *releases* sessions ([`Store::pending_releases`]): those whose
//! viewer left (a close intent from the page, or `SessionClosing` on chain), whose stream
//! ended ([`follow_revocations`] records them), or whose tail the relay settled. The chain keeps such a session settleable for a
//! settlement window before anyone may refund it, so that no acknowledged second is lost; this
//! sidecar, when it is the stream's relayer (the creator named its relayer account on the
//! stream), ends the window early: once every voucher it acknowledged for the session is
//! settled in a finalized block, it submits `close_session` as the relayer, and the viewer gets
//! the rest of its escrow back within a few blocks. A sidecar that is not the stream's relayer
//! submits the viewer's close intent (`submit_close_intent`, free) and leaves the refund to the
//! window's end; so does the relayer for a free session (price 0), which earns it nothing to
//! pay a fee with.
//!
//! The relay never panics and survives node disconnects: when the connection drops it waits for
//! the next one from the sidecar's node link ([`crate::chain::link`]) and goes on.

use crate::{
	chain::{
		link::{NodeLink, MAX_BACKOFF},
		view::Revocation,
	},
	metrics::Metrics,
	store::{Release, StoreError, StoredVoucher},
	Store,
};
use futures::StreamExt;
use pallet_ticks::BatchWitness;
use sp_core::{Get, Pair};
use sp_runtime::{traits::IdentifyAccount, MultiSigner};
use std::{
	collections::{HashMap, HashSet},
	time::Duration,
};
use tokio::{sync::mpsc, task::JoinSet, time::Instant};
use vilokanam_chain_client::{
	AccountId, BlockNumber, Client, Error as ClientError, Head, Included, Nonce, RejectReason,
	Runtime, RuntimeCall, RuntimeEvent, Session, SessionId, Stream, StreamId, StreamStatus,
	TxStatus, UncheckedExtrinsic, Voucher, H256,
};

/// The log target of the relay.
const LOG_TARGET: &str = "relay";
/// The most `settle_batch` extrinsics one round submits (about what fits in a block).
pub const MAX_BATCHES_PER_ROUND: usize = 4;
/// The most sessions one round looks at for release.
pub const MAX_RELEASES_PER_ROUND: usize = 256;
/// How long a submitted batch may wait for inclusion before the relay gives up on it.
const INCLUSION_TIMEOUT: Duration = Duration::from_secs(90);
/// How long an included batch may wait for finality before the relay gives up on it.
const FINALITY_TIMEOUT: Duration = Duration::from_secs(300);

/// The most vouchers one `settle_batch` takes: the runtime's `MaxVouchersPerBatch`.
pub fn max_vouchers_per_batch() -> usize {
	<<Runtime as pallet_ticks::Config>::MaxVouchersPerBatch as Get<u32>>::get() as usize
}

/// The label of a rejection reason in the store and in metrics.
pub fn reason_label(reason: RejectReason) -> &'static str {
	match reason {
		RejectReason::BadSignature => "bad_signature",
		RejectReason::UnknownSession => "unknown_session",
		RejectReason::SessionClosed => "session_closed",
		RejectReason::NotIncreasing => "not_increasing",
		RejectReason::AboveMaxSeconds => "above_max_seconds",
		RejectReason::AheadOfTime => "ahead_of_time",
		RejectReason::AfterClose => "after_close",
	}
}

/// Whether a voucher rejected for `reason` can never settle (as opposed to: later, or already).
pub fn is_permanent(reason: RejectReason) -> bool {
	match reason {
		RejectReason::BadSignature
		| RejectReason::UnknownSession
		| RejectReason::SessionClosed
		| RejectReason::AboveMaxSeconds
		| RejectReason::AfterClose => true,
		RejectReason::NotIncreasing | RejectReason::AheadOfTime => false,
	}
}

/// What chain state says about a stored voucher before it is submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconciled {
	/// Submit it. `settled` is the chain's settled seconds if they are above the store's.
	Submit {
		/// Seconds settled on chain that the store does not know yet.
		settled: Option<u64>,
	},
	/// The chain already settled at least the voucher's seconds (this many).
	Settled(u64),
	/// The session was closed: the voucher can never settle.
	Closed,
	/// The session pays nothing (price 0): there is nothing to settle, and a `settle_batch`
	/// would only spend the relayer's fees. Counted as settled here.
	Free,
}

/// Reconciles `voucher` with its session as stored on chain (`None`: not stored) and the
/// chain's `NextSessionId`.
pub fn reconcile(
	voucher: &StoredVoucher,
	session: Option<&Session>,
	next_session_id: SessionId,
) -> Reconciled {
	match session {
		Some(s) if s.settled_seconds >= voucher.cumulative_seconds => {
			Reconciled::Settled(s.settled_seconds)
		},
		Some(s) if s.price_per_second == 0 => Reconciled::Free,
		Some(s) => Reconciled::Submit {
			settled: (s.settled_seconds > voucher.settled_seconds).then_some(s.settled_seconds),
		},
		// Ids below `NextSessionId` were opened; not stored any more means closed.
		None if voucher.session_id < next_session_id => Reconciled::Closed,
		// Opened in a block that is not final yet: the best chain may have it.
		None => Reconciled::Submit { settled: None },
	}
}

/// When a voucher is worth its part of a `settle_batch` fee (see the module documentation and
/// [`crate::access::terms`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettlePolicy {
	/// The fewest new seconds a voucher must settle to go into a batch (1: every voucher).
	pub min_seconds: u64,
	/// Blocks without a settlement (or since the opening) after which a session's voucher
	/// below `min_seconds` settles anyway, as the session's last: the session is then closed.
	pub tail_blocks: u32,
}

impl Default for SettlePolicy {
	fn default() -> Self {
		Self { min_seconds: 1, tail_blocks: crate::config::DEFAULT_SETTLE_TAIL_BLOCKS }
	}
}

/// What a round does with a voucher the chain would accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worth {
	/// Put it in a batch.
	Batch,
	/// Too few new seconds yet: leave it for a later round.
	Wait,
	/// Too few new seconds for too long: settle it as the session's last, and close the session.
	Tail,
}

/// Whether `voucher` is worth a batch under `policy`, for its `session` as stored at the
/// finalized block `finalized` (`None`: opened in a block not final yet). `releasing`: the
/// session is being released (its viewer left or its stream ended), so its last seconds
/// settle whatever they are worth.
pub fn worth(
	voucher: &StoredVoucher,
	session: Option<&Session>,
	finalized: BlockNumber,
	releasing: bool,
	policy: SettlePolicy,
) -> Worth {
	let settled = session.map_or(0, |s| s.settled_seconds);
	let closing = session.is_some_and(|s| s.closing_since.is_some());
	let new_seconds = voucher.cumulative_seconds.saturating_sub(settled);
	if new_seconds >= policy.min_seconds || releasing || closing {
		return Worth::Batch;
	}
	match session {
		Some(s) if finalized.saturating_sub(s.last_activity) >= policy.tail_blocks => Worth::Tail,
		_ => Worth::Wait,
	}
}

/// Splits `vouchers` into `settle_batch`es of at most `max` vouchers, grouped by stream: sorted
/// by stream then session id and cut in order, so that each batch touches as few distinct
/// streams as possible (the pallet reads and writes each distinct stream once per batch, its
/// most expensive per-item cost) with the fewest batches, and, within a stream, consecutive
/// session ids share a batch: the pallet reads and writes each distinct page of
/// `SESSIONS_PER_PAGE` consecutive sessions once per batch.
///
/// A batch is also cut before its declared weight (what the chain charges before dispatch,
/// from the batch's witness) would pass [`batch_weight_budget`]: a batch of thousands of
/// vouchers on hundreds of streams is priced above what one block can take, and the pool
/// would refuse it.
pub fn plan_batches(mut vouchers: Vec<StoredVoucher>, max: usize) -> Vec<Vec<StoredVoucher>> {
	vouchers.sort_by_key(|v| (v.stream_id, v.session_id));
	let max = max.max(1);
	let budget = batch_weight_budget();
	let mut batches = Vec::new();
	let mut current: Vec<StoredVoucher> = Vec::new();
	let (mut streams, mut pages) = (HashSet::new(), HashSet::new());
	for voucher in vouchers {
		let new_stream = !streams.contains(&voucher.stream_id);
		let new_page = !pages.contains(&pallet_ticks::page_of(voucher.session_id).0);
		let witness = BatchWitness {
			streams: (streams.len() + usize::from(new_stream)) as u32,
			pages: (pages.len() + usize::from(new_page)) as u32,
		};
		let declared = pallet_ticks::Pallet::<Runtime>::settle_batch_declared_weight(
			(current.len() + 1) as u32,
			witness,
		);
		if !current.is_empty() && (current.len() >= max || !declared.all_lte(budget)) {
			batches.push(std::mem::take(&mut current));
			streams.clear();
			pages.clear();
		}
		streams.insert(voucher.stream_id);
		pages.insert(pallet_ticks::page_of(voucher.session_id).0);
		current.push(voucher);
	}
	if !current.is_empty() {
		batches.push(current);
	}
	batches
}

/// The most a `settle_batch` may declare: half the weight a normal extrinsic may have, so two
/// fit a block before their refunds.
pub fn batch_weight_budget() -> sp_runtime::Weight {
	let weights = <Runtime as frame_system::Config>::BlockWeights::get();
	let max = weights
		.get(frame_support::dispatch::DispatchClass::Normal)
		.max_extrinsic
		.unwrap_or(weights.max_block);
	max / 2
}

/// The outcome of one voucher of an included batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoucherOutcome {
	/// No `VoucherRejected`: the voucher settled.
	Accepted,
	/// The chain rejected it.
	Rejected(RejectReason),
}

/// The outcome of each voucher `(session_id, cumulative_seconds)` of a batch, given the
/// batch extrinsic's events. `settle_batch` reports only rejections; a batch holds at most one
/// voucher per session.
pub fn voucher_outcomes(
	vouchers: &[(SessionId, u64)],
	events: &[RuntimeEvent],
) -> Vec<VoucherOutcome> {
	let rejected: HashMap<SessionId, RejectReason> = events
		.iter()
		.filter_map(|e| match e {
			RuntimeEvent::Ticks(pallet_ticks::Event::VoucherRejected { session_id, reason }) => {
				Some((*session_id, *reason))
			},
			_ => None,
		})
		.collect();
	vouchers
		.iter()
		.map(|(id, _)| {
			rejected.get(id).map_or(VoucherOutcome::Accepted, |r| VoucherOutcome::Rejected(*r))
		})
		.collect()
}

/// The `settle_batch` call of `vouchers` (`None` if there are more than the runtime takes),
/// with its witness: the distinct streams and session pages the vouchers touch (the call is
/// priced by them and fails if they are too low).
pub fn settle_call(vouchers: &[StoredVoucher]) -> Option<RuntimeCall> {
	let pages = pallet_ticks::pages_of(vouchers.iter().map(|v| v.session_id));
	let streams = vouchers.iter().map(|v| v.stream_id).collect::<HashSet<_>>().len();
	let witness = BatchWitness { streams: u32::try_from(streams).ok()?, pages };
	let vouchers: Vec<Voucher> = vouchers
		.iter()
		.map(|v| Voucher {
			session_id: v.session_id,
			cumulative_seconds: v.cumulative_seconds,
			signer: v.signer,
			encoding: v.encoding,
			signature: v.signature.clone(),
		})
		.collect();
	let vouchers = vouchers.try_into().ok()?;
	Some(RuntimeCall::Ticks(pallet_ticks::Call::settle_batch { vouchers, witness }))
}

/// The extrinsics in flight (submitted, not final: batches and releases) and their sessions.
#[derive(Default)]
struct InFlightExtrinsics {
	next_id: u64,
	/// Extrinsic id → its sessions, whether it is in a block yet, and whether they are
	/// vouchers (a batch) rather than a release.
	batches: HashMap<u64, (Vec<SessionId>, bool, bool)>,
	sessions: HashSet<SessionId>,
}

impl InFlightExtrinsics {
	/// Records a submitted batch; returns its id.
	fn add(&mut self, sessions: Vec<SessionId>) -> u64 {
		self.add_extrinsic(sessions, true)
	}

	/// Records a submitted release of `session`; returns its id.
	fn add_release(&mut self, session: SessionId) -> u64 {
		self.add_extrinsic(vec![session], false)
	}

	fn add_extrinsic(&mut self, sessions: Vec<SessionId>, vouchers: bool) -> u64 {
		let id = self.next_id;
		self.next_id = self.next_id.wrapping_add(1);
		self.sessions.extend(sessions.iter().copied());
		self.batches.insert(id, (sessions, false, vouchers));
		id
	}

	/// The extrinsic is in a block (maybe not final).
	fn included(&mut self, id: u64) {
		if let Some((_, included, _)) = self.batches.get_mut(&id) {
			*included = true;
		}
	}

	/// The extrinsic is done (final, or given up on): its sessions may be submitted again.
	/// Returns how many vouchers it had.
	fn release(&mut self, id: u64) -> usize {
		let Some((sessions, _, vouchers)) = self.batches.remove(&id) else { return 0 };
		for s in &sessions {
			self.sessions.remove(s);
		}
		if vouchers {
			sessions.len()
		} else {
			0
		}
	}

	/// Extrinsics submitted and not in a block yet.
	fn awaiting_inclusion(&self) -> usize {
		self.batches.values().filter(|(_, included, _)| !included).count()
	}

	fn contains(&self, session: SessionId) -> bool {
		self.sessions.contains(&session)
	}
}

/// What a batch's watcher task reports to the relay loop.
enum Report {
	/// The batch is in a block.
	Included(u64),
	/// The batch is done (sent on drop, so also if the task is aborted).
	Done(u64),
}

/// Sends [`Report::Done`] when the watcher task ends, however it ends.
struct DoneGuard {
	id: u64,
	reports: mpsc::UnboundedSender<Report>,
}

impl Drop for DoneGuard {
	fn drop(&mut self) {
		let _ = self.reports.send(Report::Done(self.id));
	}
}

/// Why a round stopped early.
#[derive(Debug, thiserror::Error)]
enum RoundError {
	#[error("store: {0}")]
	Store(#[from] StoreError),
	#[error("chain: {0}")]
	Chain(#[from] ClientError),
}

impl RoundError {
	fn kind(&self) -> &'static str {
		match self {
			RoundError::Store(_) => "store",
			RoundError::Chain(ClientError::Rejected(_)) => "rejected",
			RoundError::Chain(ClientError::Dropped(_)) => "dropped",
			RoundError::Chain(_) => "rpc",
		}
	}
}

/// Submits the latest unsettled voucher of each session in `settle_batch` extrinsics and tracks
/// them to finality (see the [module documentation](self)).
pub struct Relay {
	link: NodeLink,
	store: Store,
	relayer: sp_core::sr25519::Pair,
	relayer_account: AccountId,
	every_blocks: u32,
	policy: SettlePolicy,
	metrics: Metrics,
}

impl Relay {
	/// A relay submitting with `relayer` (who pays the fees) every `every_blocks` best blocks
	/// (at least 1) the vouchers worth it by `policy`.
	pub fn new(
		link: NodeLink,
		store: Store,
		relayer: sp_core::sr25519::Pair,
		every_blocks: u32,
		policy: SettlePolicy,
		metrics: Metrics,
	) -> Self {
		let relayer_account = MultiSigner::from(relayer.public()).into_account();
		let every_blocks = every_blocks.max(1);
		Self { link, store, relayer, relayer_account, every_blocks, policy, metrics }
	}

	/// Runs until the task is dropped (which also stops the batch watchers).
	pub async fn run(self) {
		tracing::info!(
			target: LOG_TARGET,
			relayer = %self.relayer_account,
			every_blocks = self.every_blocks,
			max_batch = max_vouchers_per_batch(),
			"relay started"
		);
		let (reports_tx, mut reports) = mpsc::unbounded_channel();
		let mut watchers = JoinSet::new();
		let mut in_flight = InFlightExtrinsics::default();
		let mut client = self.link.connected().await;
		let mut backoff = Duration::from_secs(1);
		loop {
			let mut heads = match client.subscribe_heads(false).await {
				Ok(heads) => heads,
				Err(e) => {
					tracing::warn!(target: LOG_TARGET, "cannot follow best heads: {e}");
					self.count_error("rpc");
					tokio::time::sleep(backoff).await;
					backoff = (backoff * 2).min(MAX_BACKOFF);
					client = self.link.connected().await;
					continue;
				},
			};
			backoff = Duration::from_secs(1);
			let mut since_round = 0u32;
			loop {
				tokio::select! {
					head = heads.next() => match head {
						Some(Ok(head)) => {
							since_round = since_round.saturating_add(1);
							let due = since_round >= self.every_blocks;
							if due && in_flight.awaiting_inclusion() == 0 {
								since_round = 0;
								let round = self.round(
									&client,
									head,
									&mut in_flight,
									&mut watchers,
									&reports_tx,
								);
								if let Err(e) = round.await {
									tracing::warn!(
										target: LOG_TARGET,
										"settlement round at #{} stopped: {e}",
										head.number
									);
									self.count_error(e.kind());
								}
							}
						},
						Some(Err(e)) => tracing::warn!(target: LOG_TARGET, "undecodable head: {e}"),
						None => break,
					},
					Some(report) = reports.recv() => match report {
						Report::Included(id) => in_flight.included(id),
						Report::Done(id) => {
							let n = in_flight.release(id);
							self.metrics.relay_in_flight.sub(n as i64);
						},
					},
				}
				// Reap finished watcher tasks (their reports arrive through the channel).
				while watchers.try_join_next().is_some() {}
			}
			tracing::warn!(target: LOG_TARGET, "lost the best-head subscription");
			if client.is_connected() {
				// Subscribe again, but not in a tight loop should it keep ending at once.
				tokio::time::sleep(Duration::from_secs(1)).await;
			}
			client = self.link.connected().await;
		}
	}

	fn count_error(&self, kind: &str) {
		self.metrics.relay_errors.with_label_values(&[kind]).inc();
	}

	/// One round at best head `best` (see the module documentation): vouchers, then releases.
	async fn round(
		&self,
		client: &Client,
		best: Head,
		in_flight: &mut InFlightExtrinsics,
		watchers: &mut JoinSet<()>,
		reports: &mpsc::UnboundedSender<Report>,
	) -> Result<(), RoundError> {
		let finalized = client.finalized_head().await?;
		let mut nonce = None;
		self.settle_round(client, best, finalized, &mut nonce, in_flight, watchers, reports)
			.await?;
		self.release_round(client, finalized, &mut nonce, in_flight, watchers, reports).await
	}

	/// The relayer's next nonce: read once per round, then counted up.
	async fn take_nonce(
		&self,
		client: &Client,
		nonce: &mut Option<Nonce>,
	) -> Result<Nonce, RoundError> {
		let next = match *nonce {
			Some(n) => n,
			None => client.next_nonce(&self.relayer_account).await?,
		};
		*nonce = Some(next.wrapping_add(1));
		Ok(next)
	}

	/// Submit the latest unsettled voucher of each session in `settle_batch` extrinsics.
	#[allow(clippy::too_many_arguments)]
	async fn settle_round(
		&self,
		client: &Client,
		best: Head,
		finalized: Head,
		nonce: &mut Option<Nonce>,
		in_flight: &mut InFlightExtrinsics,
		watchers: &mut JoinSet<()>,
		reports: &mpsc::UnboundedSender<Report>,
	) -> Result<(), RoundError> {
		let max_batch = max_vouchers_per_batch();
		let limit = max_batch
			.saturating_mul(MAX_BATCHES_PER_ROUND)
			.saturating_add(in_flight.sessions.len());
		let candidates: Vec<StoredVoucher> = self
			.store
			.unsettled_vouchers(limit)
			.await?
			.into_iter()
			.filter(|v| !in_flight.contains(v.session_id))
			.collect();
		if candidates.is_empty() {
			return Ok(());
		}

		let next_session_id = client.next_session_id(Some(finalized.hash)).await?;
		let ids: Vec<SessionId> = candidates.iter().map(|v| v.session_id).collect();
		let sessions = client.sessions(&ids, Some(finalized.hash)).await?;
		// The sessions the release round works on: their last seconds settle now.
		let releasing: HashSet<SessionId> = if self.policy.min_seconds > 1 {
			let releases = self.store.pending_releases(MAX_RELEASES_PER_ROUND).await?;
			releases.into_iter().map(|r| r.session_id).collect()
		} else {
			HashSet::new()
		};
		let mut to_submit = Vec::with_capacity(candidates.len());
		let mut deferred = Vec::new();
		for (voucher, session) in candidates.into_iter().zip(sessions) {
			match reconcile(&voucher, session.as_ref(), next_session_id) {
				Reconciled::Submit { settled } => {
					if let Some(settled) = settled {
						self.store.mark_settled(voucher.session_id, settled).await?;
					}
					let releasing = releasing.contains(&voucher.session_id);
					match worth(
						&voucher,
						session.as_ref(),
						finalized.number,
						releasing,
						self.policy,
					) {
						Worth::Batch => to_submit.push(voucher),
						Worth::Wait => deferred.push(voucher.session_id),
						Worth::Tail => {
							tracing::info!(
								target: LOG_TARGET,
								session = voucher.session_id,
								cumulative = voucher.cumulative_seconds,
								"settling the session's last seconds and closing it"
							);
							self.store
								.request_tail_release(voucher.session_id, voucher.stream_id)
								.await?;
							self.metrics.relay_tails.inc();
							to_submit.push(voucher);
						},
					}
				},
				Reconciled::Settled(settled) => {
					self.store.mark_settled(voucher.session_id, settled).await?;
				},
				Reconciled::Free => {
					self.store.mark_settled(voucher.session_id, voucher.cumulative_seconds).await?;
				},
				Reconciled::Closed => {
					tracing::info!(
						target: LOG_TARGET,
						session = voucher.session_id,
						cumulative = voucher.cumulative_seconds,
						"session closed before its voucher settled"
					);
					let label = reason_label(RejectReason::SessionClosed);
					self.store
						.mark_rejected(voucher.session_id, voucher.cumulative_seconds, label)
						.await?;
					self.metrics.relay_vouchers_rejected.with_label_values(&[label]).inc();
				},
			}
		}
		if !deferred.is_empty() {
			// To the back of the queue as well, or they would fill every round's window.
			self.metrics.relay_vouchers_deferred.inc_by(deferred.len() as u64);
			self.store.mark_batched(deferred).await?;
		}
		if to_submit.is_empty() {
			return Ok(());
		}

		for batch in plan_batches(to_submit, max_batch).into_iter().take(MAX_BATCHES_PER_ROUND) {
			let Some(call) = settle_call(&batch) else {
				tracing::error!(
					target: LOG_TARGET,
					n = batch.len(),
					"a batch exceeds MaxVouchersPerBatch"
				);
				break;
			};
			let nonce = self.take_nonce(client, nonce).await?;
			let xt = client.sign(call, &self.relayer, nonce).await?;
			// A failed submission ends the round: later nonces would wait on the gap.
			let statuses = client.submit_and_watch(&xt).await?;
			let vouchers: Vec<(SessionId, u64)> =
				batch.iter().map(|v| (v.session_id, v.cumulative_seconds)).collect();
			// To the back of the queue: the next rounds take those that waited longest.
			self.store.mark_batched(vouchers.iter().map(|(s, _)| *s).collect()).await?;
			let id = in_flight.add(vouchers.iter().map(|(s, _)| *s).collect());
			tracing::info!(
				target: LOG_TARGET,
				batch = id,
				nonce,
				vouchers = vouchers.len(),
				best = best.number,
				"settle_batch submitted"
			);
			self.metrics.relay_batches_submitted.inc();
			self.metrics.relay_in_flight.add(vouchers.len() as i64);
			let watch = Watch {
				id,
				client: client.clone(),
				store: self.store.clone(),
				metrics: self.metrics.clone(),
				xt,
				vouchers,
				handled: HashSet::new(),
				reports: reports.clone(),
			};
			watchers.spawn(watch.run(statuses));
		}
		Ok(())
	}

	/// Release the sessions waiting for it (see the module documentation).
	async fn release_round(
		&self,
		client: &Client,
		finalized: Head,
		nonce: &mut Option<Nonce>,
		in_flight: &mut InFlightExtrinsics,
		watchers: &mut JoinSet<()>,
		reports: &mpsc::UnboundedSender<Report>,
	) -> Result<(), RoundError> {
		let pending: Vec<Release> = self
			.store
			.pending_releases(MAX_RELEASES_PER_ROUND)
			.await?
			.into_iter()
			.filter(|r| !in_flight.contains(r.session_id))
			.collect();
		if pending.is_empty() {
			return Ok(());
		}
		let ids: Vec<SessionId> = pending.iter().map(|r| r.session_id).collect();
		let sessions = client.sessions(&ids, Some(finalized.hash)).await?;
		let mut streams: HashMap<StreamId, Option<Stream>> = HashMap::new();
		for (release, session) in pending.into_iter().zip(sessions) {
			let Some(session) = session else {
				// Closed in a finalized block: nothing left to do.
				self.store.mark_released(release.session_id).await?;
				continue;
			};
			let stream = match streams.get(&session.stream_id) {
				Some(s) => s.clone(),
				None => {
					let s = client.stream(session.stream_id, Some(finalized.hash)).await?;
					streams.insert(session.stream_id, s.clone());
					s
				},
			};
			let live = stream.as_ref().is_some_and(|s| s.status == StreamStatus::Live);
			let asked = release.intent.is_some() || release.tail || !session.is_open() || !live;
			match plan_release(&release, &session, stream.as_ref(), &self.relayer_account, asked) {
				ReleaseStep::Wait => {},
				ReleaseStep::Done => self.store.mark_released(release.session_id).await?,
				ReleaseStep::SubmitIntent(intent) => {
					let call = RuntimeCall::Ticks(pallet_ticks::Call::submit_close_intent {
						session_id: release.session_id,
						intent,
					});
					match client.submit(&Client::authorized(call)).await {
						Ok(_) => self.store.mark_intent_submitted(release.session_id).await?,
						Err(e) => {
							tracing::info!(
								target: LOG_TARGET,
								session = release.session_id,
								"close intent not accepted: {e}"
							);
							self.count_error("close_intent");
						},
					}
				},
				ReleaseStep::Close(intent) => {
					let call = RuntimeCall::Ticks(pallet_ticks::Call::close_session {
						session_id: release.session_id,
						final_intent: intent,
					});
					let nonce = self.take_nonce(client, nonce).await?;
					let xt = client.sign(call, &self.relayer, nonce).await?;
					let statuses = client.submit_and_watch(&xt).await?;
					let id = in_flight.add_release(release.session_id);
					tracing::info!(
						target: LOG_TARGET,
						session = release.session_id,
						nonce,
						"close_session submitted as the stream's relayer"
					);
					self.metrics.relay_releases_submitted.inc();
					watchers.spawn(watch_release(
						id,
						release.session_id,
						statuses,
						reports.clone(),
					));
				},
			}
		}
		Ok(())
	}
}

/// What a round does about a session to release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseStep {
	/// Nothing yet (vouchers still to settle, or a relayed intent not yet on chain).
	Wait,
	/// Close it at once as the stream's relayer, with the viewer's intent if any.
	Close(Option<vilokanam_chain_client::CloseIntent>),
	/// Relay the viewer's close intent (not the stream's relayer).
	SubmitIntent(vilokanam_chain_client::CloseIntent),
	/// Nothing more to do here (the settlement window ends it, or nothing asked the session
	/// to close).
	Done,
}

/// The step for `release` of stored `session` (read at the finalized head) on `stream`, for a
/// relay signing as `relayer`. `asked`: the viewer sent a close intent, the session is closing,
/// or the stream is not live.
pub fn plan_release(
	release: &Release,
	session: &Session,
	stream: Option<&Stream>,
	relayer: &AccountId,
	asked: bool,
) -> ReleaseStep {
	if !asked {
		// Nothing asked this open session of a live stream to close (a close seen on a block
		// that was then retracted): nothing to do unless asked again.
		return ReleaseStep::Done;
	}
	// A free session earns the relayer nothing, so it pays no fee to close one early: its
	// viewer's intent is relayed (free), and the window's end refunds it (`close_expired`,
	// free as well).
	let paid = session.price_per_second > 0;
	let ours = paid && stream.is_some_and(|s| s.relayer.as_ref() == Some(relayer));
	if ours {
		// Settle every acknowledged second first: closing refunds the rest.
		if release.unsettled {
			return ReleaseStep::Wait;
		}
		return ReleaseStep::Close(release.intent.clone());
	}
	match &release.intent {
		Some(intent) if session.is_open() && !release.intent_submitted => {
			ReleaseStep::SubmitIntent(intent.clone())
		},
		Some(_) if session.is_open() => ReleaseStep::Wait,
		_ => ReleaseStep::Done,
	}
}

/// Watches a relayer's `close_session` until it is final (or given up on); the next round
/// reads the outcome from the chain.
async fn watch_release(
	id: u64,
	session: SessionId,
	mut statuses: futures::stream::BoxStream<'static, TxStatus>,
	reports: mpsc::UnboundedSender<Report>,
) {
	let _done = DoneGuard { id, reports: reports.clone() };
	let mut deadline = Instant::now() + INCLUSION_TIMEOUT;
	loop {
		match tokio::time::timeout_at(deadline, statuses.next()).await {
			Ok(Some(TxStatus::InBlock(_))) => {
				let _ = reports.send(Report::Included(id));
				deadline = Instant::now() + FINALITY_TIMEOUT;
			},
			Ok(Some(TxStatus::Finalized(block))) => {
				tracing::info!(target: LOG_TARGET, session, ?block, "release finalized");
				return;
			},
			Ok(Some(TxStatus::Dropped(why) | TxStatus::Invalid(why))) => {
				tracing::warn!(target: LOG_TARGET, session, "release not included: {why}");
				return;
			},
			Ok(Some(_)) => {},
			Ok(None) | Err(_) => return,
		}
	}
}

/// Record a release for every session a revocation says its viewer left (`SessionClosing` or
/// a close on chain) and for every session of a stream that ended; runs until `revocations`
/// closes. A lagging receiver loses nothing that matters: the chain's settlement window still
/// refunds, only later.
pub async fn follow_revocations(
	store: Store,
	mut revocations: tokio::sync::broadcast::Receiver<Revocation>,
) {
	use tokio::sync::broadcast::error::RecvError;
	loop {
		let result = match revocations.recv().await {
			Ok(Revocation::SessionClosed { session_id, stream_id, expired: false }) => {
				store.request_release(session_id, stream_id, None).await
			},
			Ok(Revocation::StreamEnded { stream_id }) => {
				store.request_stream_release(stream_id).await
			},
			Ok(_) => Ok(()),
			Err(RecvError::Lagged(n)) => {
				tracing::warn!(target: LOG_TARGET, "missed {n} revocations; their sessions refund when the window ends");
				Ok(())
			},
			Err(RecvError::Closed) => return,
		};
		if let Err(e) = result {
			tracing::warn!(target: LOG_TARGET, "cannot record a release: {e}");
		}
	}
}

/// The watcher of one submitted batch.
struct Watch {
	id: u64,
	client: Client,
	store: Store,
	metrics: Metrics,
	xt: UncheckedExtrinsic,
	/// `(session_id, cumulative_seconds)` of each voucher, in batch order.
	vouchers: Vec<(SessionId, u64)>,
	/// Sessions whose permanent rejection was recorded already.
	handled: HashSet<SessionId>,
	reports: mpsc::UnboundedSender<Report>,
}

impl Watch {
	async fn run(mut self, mut statuses: futures::stream::BoxStream<'static, TxStatus>) {
		let _done = DoneGuard { id: self.id, reports: self.reports.clone() };
		let mut deadline = Instant::now() + INCLUSION_TIMEOUT;
		let mut in_block: Option<H256> = None;
		loop {
			let status = match tokio::time::timeout_at(deadline, statuses.next()).await {
				Ok(Some(status)) => status,
				Ok(None) => {
					tracing::warn!(
						target: LOG_TARGET,
						batch = self.id,
						"lost track of the batch (connection lost?); retrying later"
					);
					self.count_error("lost");
					return;
				},
				Err(_) => {
					let stage = if in_block.is_some() { "finality" } else { "inclusion" };
					tracing::warn!(
						target: LOG_TARGET,
						batch = self.id,
						"timed out waiting for {stage}; retrying later"
					);
					self.count_error("timeout");
					return;
				},
			};
			match status {
				TxStatus::Pool => {},
				TxStatus::InBlock(block) => {
					if in_block.is_none() {
						let _ = self.reports.send(Report::Included(self.id));
						deadline = Instant::now() + FINALITY_TIMEOUT;
					}
					if in_block != Some(block) {
						in_block = Some(block);
						self.on_in_block(block).await;
					}
				},
				TxStatus::Retracted(block) => {
					tracing::debug!(target: LOG_TARGET, batch = self.id, ?block, "block retracted");
				},
				TxStatus::Finalized(block) => {
					self.on_finalized(block, in_block != Some(block)).await;
					return;
				},
				TxStatus::Dropped(why) => {
					tracing::warn!(
						target: LOG_TARGET,
						batch = self.id,
						"dropped: {why}; retrying later"
					);
					self.count_error("dropped");
					return;
				},
				TxStatus::Invalid(why) => {
					tracing::warn!(
						target: LOG_TARGET,
						batch = self.id,
						"invalid: {why}; retrying later"
					);
					self.count_error("invalid");
					return;
				},
			}
		}
	}

	fn count_error(&self, kind: &str) {
		self.metrics.relay_errors.with_label_values(&[kind]).inc();
	}

	/// The batch's outcome in `block`, logging what prevents reading it.
	async fn outcome(&self, block: H256) -> Option<Included> {
		match self.client.included(block, &self.xt).await {
			Ok(Some(included)) => Some(included),
			Ok(None) => {
				tracing::warn!(
					target: LOG_TARGET,
					batch = self.id,
					?block,
					"the batch is not in the block it was reported in"
				);
				None
			},
			Err(e) => {
				tracing::warn!(
					target: LOG_TARGET,
					batch = self.id,
					?block,
					"cannot read the batch's outcome: {e}"
				);
				self.count_error("rpc");
				None
			},
		}
	}

	/// A failed extrinsic is logged with its dispatch error; nothing of it settled.
	fn note_failed(&self, included: &Included) {
		tracing::warn!(
			target: LOG_TARGET,
			batch = self.id,
			block = ?included.block,
			dispatch_error = ?included.dispatch_error(),
			"settle_batch failed as a whole; retrying later"
		);
		self.count_error("extrinsic_failed");
	}

	async fn on_in_block(&mut self, block: H256) {
		let Some(included) = self.outcome(block).await else { return };
		if !included.success {
			self.note_failed(&included);
			return;
		}
		tracing::debug!(target: LOG_TARGET, batch = self.id, ?block, "in block");
		self.record_rejections(&included).await;
	}

	/// Records the permanent rejections not recorded yet and counts every new rejection
	/// except `NotIncreasing` (which [`Watch::on_finalized`] resolves).
	async fn record_rejections(&mut self, included: &Included) {
		let outcomes = voucher_outcomes(&self.vouchers, &included.events);
		for (&(session, cumulative), outcome) in self.vouchers.iter().zip(outcomes) {
			let VoucherOutcome::Rejected(reason) = outcome else { continue };
			let label = reason_label(reason);
			if reason == RejectReason::AheadOfTime {
				tracing::debug!(
					target: LOG_TARGET,
					session,
					cumulative,
					"voucher ahead of chain time; retrying later"
				);
				self.metrics.relay_vouchers_rejected.with_label_values(&[label]).inc();
				continue;
			}
			if !is_permanent(reason) || !self.handled.insert(session) {
				continue;
			}
			tracing::info!(
				target: LOG_TARGET,
				session,
				cumulative,
				reason = label,
				"voucher rejected"
			);
			self.metrics.relay_vouchers_rejected.with_label_values(&[label]).inc();
			if let Err(e) = self.store.mark_rejected(session, cumulative, label).await {
				tracing::warn!(target: LOG_TARGET, session, "cannot record the rejection: {e}");
				self.count_error("store");
			}
		}
	}

	/// Marks the vouchers settled in finalized `block`. `new_block`: the batch's outcome in this
	/// block was not read yet (first report, or a reorg moved it).
	async fn on_finalized(&mut self, block: H256, new_block: bool) {
		let Some(included) = self.outcome(block).await else { return };
		if !included.success {
			if new_block {
				self.note_failed(&included);
			}
			return;
		}
		if new_block {
			self.record_rejections(&included).await;
		}
		let outcomes = voucher_outcomes(&self.vouchers, &included.events);
		let mut settled = 0u64;
		let mut not_increasing = Vec::new();
		for (&(session, cumulative), outcome) in self.vouchers.iter().zip(outcomes) {
			match outcome {
				VoucherOutcome::Accepted => {
					match self.store.mark_settled(session, cumulative).await {
						Ok(()) => settled += 1,
						Err(e) => {
							tracing::warn!(
								target: LOG_TARGET,
								session,
								"cannot record the settlement: {e}"
							);
							self.count_error("store");
						},
					}
				},
				VoucherOutcome::Rejected(RejectReason::NotIncreasing) => {
					not_increasing.push(session)
				},
				VoucherOutcome::Rejected(_) => {},
			}
		}
		if !not_increasing.is_empty() {
			let label = reason_label(RejectReason::NotIncreasing);
			self.metrics
				.relay_vouchers_rejected
				.with_label_values(&[label])
				.inc_by(not_increasing.len() as u64);
			match self.client.sessions(&not_increasing, Some(block)).await {
				Ok(sessions) => {
					for (session, state) in not_increasing.iter().zip(sessions) {
						// A session closed later in the same block is left to the next round.
						let Some(state) = state else { continue };
						if let Err(e) =
							self.store.mark_settled(*session, state.settled_seconds).await
						{
							tracing::warn!(
								target: LOG_TARGET,
								session,
								"cannot record the settlement: {e}"
							);
							self.count_error("store");
						}
					}
				},
				Err(e) => {
					tracing::warn!(
						target: LOG_TARGET,
						batch = self.id,
						"cannot read the sessions: {e}"
					);
					self.count_error("rpc");
				},
			}
		}
		self.metrics.relay_vouchers_settled.inc_by(settled);
		tracing::info!(
			target: LOG_TARGET,
			batch = self.id,
			?block,
			settled,
			not_increasing = not_increasing.len(),
			vouchers = self.vouchers.len(),
			"settle_batch finalized"
		);
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use vilokanam_chain_client::{Signature, VoucherEncoding};

	fn stored(session_id: u64, stream_id: u64, cumulative: u64, settled: u64) -> StoredVoucher {
		StoredVoucher {
			session_id,
			stream_id,
			viewer: AccountId::new([session_id as u8; 32]),
			cumulative_seconds: cumulative,
			signer: vilokanam_chain_client::VoucherSigner::VoucherKey,
			encoding: VoucherEncoding::Raw,
			signature: Signature::Sr25519(sp_core::sr25519::Signature::from_raw([0; 64])),
			settled_seconds: settled,
		}
	}

	fn session(closing: bool) -> Session {
		Session {
			viewer: AccountId::new([1; 32]),
			stream_id: 7,
			price_per_second: 1,
			max_seconds: 100,
			settled_seconds: 10,
			escrow_remaining: 90,
			opened_at: 0,
			last_activity: 1,
			voucher_key: AccountId::new([2; 32]),
			closing_since: closing.then_some(5_000),
			allowance: None,
		}
	}

	fn stream(relayer: Option<AccountId>) -> Stream {
		Stream {
			id: 7,
			creator: AccountId::new([3; 32]),
			title: Default::default(),
			metadata: Default::default(),
			category: 1,
			tags: Default::default(),
			price_per_second: 1,
			status: StreamStatus::Live,
			created_at: 0,
			started_at: None,
			ended_at: None,
			endpoint: None,
			relayer,
			collaborators: Default::default(),
			total_viewer_seconds: 0,
			total_earned: 0,
			current_viewers: 1,
			peak_viewers: 1,
			deposit: 0,
		}
	}

	fn intent() -> vilokanam_chain_client::CloseIntent {
		vilokanam_chain_client::CloseIntent {
			cumulative_seconds: 12,
			signer: vilokanam_chain_client::VoucherSigner::VoucherKey,
			encoding: VoucherEncoding::Raw,
			signature: Signature::Sr25519(sp_core::sr25519::Signature::from_raw([0; 64])),
		}
	}

	fn release(intent_: bool, unsettled: bool, submitted: bool) -> Release {
		Release {
			session_id: 4,
			stream_id: 7,
			intent: intent_.then(intent),
			intent_submitted: submitted,
			unsettled,
			tail: false,
		}
	}

	/// Issue 18, item 4: a voucher adding fewer seconds than pay for its fee waits; a session
	/// that trickles seconds is settled once, as its tail, and closed; a session being released
	/// settles whatever it has.
	#[test]
	fn only_vouchers_worth_their_fee_are_batched() {
		let policy = SettlePolicy { min_seconds: 10, tail_blocks: 60 };
		// The session settled 10 seconds, last at block 1.
		let open = session(false);
		let at = |cumulative, finalized, releasing, session: Option<&Session>| {
			worth(&stored(4, 7, cumulative, 10), session, finalized, releasing, policy)
		};
		assert_eq!(at(20, 2, false, Some(&open)), Worth::Batch, "ten new seconds");
		assert_eq!(at(19, 2, false, Some(&open)), Worth::Wait, "nine");
		assert_eq!(at(11, 60, false, Some(&open)), Worth::Wait, "59 blocks since the last");
		assert_eq!(at(11, 61, false, Some(&open)), Worth::Tail, "60 blocks: the tail");
		assert_eq!(at(11, 2, true, Some(&open)), Worth::Batch, "being released");
		assert_eq!(at(11, 2, false, Some(&session(true))), Worth::Batch, "closing on chain");
		// Not final yet: the new seconds count from zero, and there is no tail yet.
		assert_eq!(at(10, 1_000, false, None), Worth::Batch);
		assert_eq!(at(9, 1_000, false, None), Worth::Wait);
		// The default settles every voucher, as before terms existed.
		let any = SettlePolicy::default();
		assert_eq!(worth(&stored(4, 7, 11, 10), Some(&open), 2, false, any), Worth::Batch);
	}

	/// The stream's relayer closes at once only once everything it acknowledged is settled;
	/// another sidecar relays the viewer's intent and leaves the rest to the chain's window.
	#[test]
	fn releases_settle_first_and_only_the_streams_relayer_closes() {
		let me = AccountId::new([9; 32]);
		let ours = stream(Some(me.clone()));
		let theirs = stream(Some(AccountId::new([8; 32])));
		let plan = |r: &Release, s: &Session, st: &Stream, asked: bool| {
			plan_release(r, s, Some(st), &me, asked)
		};
		// Ours: wait while a voucher is unsettled, then close with the viewer's intent.
		assert_eq!(
			plan(&release(true, true, false), &session(false), &ours, true),
			ReleaseStep::Wait
		);
		assert_eq!(
			plan(&release(true, false, false), &session(false), &ours, true),
			ReleaseStep::Close(Some(intent()))
		);
		// Closing on chain (or the stream ended), no intent here: close all the same.
		assert_eq!(
			plan(&release(false, false, false), &session(true), &ours, true),
			ReleaseStep::Close(None)
		);
		// Nothing asked this open session on a live stream to close: never close it.
		assert_eq!(
			plan(&release(false, false, false), &session(false), &ours, false),
			ReleaseStep::Done
		);
		// Not ours: relay the intent once, then let the window run.
		assert_eq!(
			plan(&release(true, true, false), &session(false), &theirs, true),
			ReleaseStep::SubmitIntent(intent())
		);
		assert_eq!(
			plan(&release(true, true, true), &session(false), &theirs, true),
			ReleaseStep::Wait
		);
		assert_eq!(
			plan(&release(true, true, true), &session(true), &theirs, true),
			ReleaseStep::Done
		);
		assert_eq!(
			plan(&release(false, false, false), &session(true), &theirs, true),
			ReleaseStep::Done
		);
		// A stream without a relayer is nobody's to close at once.
		assert_eq!(
			plan_release(
				&release(false, false, false),
				&session(true),
				Some(&stream(None)),
				&me,
				true
			),
			ReleaseStep::Done
		);
		// A free session earns the relayer nothing: no paid close, even of its own stream;
		// the viewer's intent is relayed for free and the window refunds the rest.
		let free = Session { price_per_second: 0, ..session(false) };
		assert_eq!(
			plan(&release(true, false, false), &free, &ours, true),
			ReleaseStep::SubmitIntent(intent())
		);
		let free_closing = Session { price_per_second: 0, ..session(true) };
		assert_eq!(
			plan(&release(false, false, false), &free_closing, &ours, true),
			ReleaseStep::Done
		);
	}

	#[test]
	fn batches_stay_within_the_weight_budget() {
		// 4,096 vouchers, each on its own stream: priced far above a block as one batch.
		let vouchers: Vec<_> = (0..4_096u64).map(|id| stored(id, id, 10, 0)).collect();
		let batches = plan_batches(vouchers, max_vouchers_per_batch());
		assert!(batches.len() > 1, "the stream cost splits the batch");
		assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 4_096);
		for batch in &batches {
			let Some(RuntimeCall::Ticks(pallet_ticks::Call::settle_batch { witness, .. })) =
				settle_call(batch)
			else {
				panic!("a settle_batch call")
			};
			let declared = pallet_ticks::Pallet::<Runtime>::settle_batch_declared_weight(
				batch.len() as u32,
				witness,
			);
			assert!(declared.all_lte(batch_weight_budget()));
		}
		// The same number on one stream and consecutive sessions fits one batch.
		let one_stream: Vec<_> = (0..4_096u64).map(|id| stored(id, 1, 10, 0)).collect();
		assert_eq!(plan_batches(one_stream, max_vouchers_per_batch()).len(), 1);
	}

	fn settled_session(settled_seconds: u64) -> Session {
		Session {
			viewer: AccountId::new([0; 32]),
			stream_id: 0,
			price_per_second: 1,
			max_seconds: 600,
			settled_seconds,
			escrow_remaining: 600 - u128::from(settled_seconds),
			opened_at: 0,
			last_activity: 0,
			voucher_key: AccountId::new([0; 32]),
			closing_since: None,
			allowance: None,
		}
	}

	#[test]
	fn batches_are_grouped_by_stream_and_bounded() {
		let vouchers = vec![
			stored(5, 2, 10, 0),
			stored(1, 1, 10, 0),
			stored(9, 1, 10, 0),
			stored(3, 2, 10, 0),
			stored(4, 3, 10, 0),
		];
		let batches = plan_batches(vouchers.clone(), 2);
		let ids: Vec<Vec<(u64, u64)>> = batches
			.iter()
			.map(|b| b.iter().map(|v| (v.stream_id, v.session_id)).collect())
			.collect();
		assert_eq!(ids, vec![vec![(1, 1), (1, 9)], vec![(2, 3), (2, 5)], vec![(3, 4)]]);
		let one = plan_batches(vouchers.clone(), 4096);
		assert_eq!(one.len(), 1);
		assert_eq!(one[0].len(), 5);
		assert!(plan_batches(Vec::new(), 4).is_empty());
		// A zero bound cannot loop forever.
		assert_eq!(plan_batches(vouchers, 0).len(), 5);
	}

	#[test]
	fn the_pages_witness_counts_distinct_pages() {
		// Sessions 1, 63 (page 0), 64, 100 (page 1) and 200 (page 3).
		let vouchers: Vec<_> = [1, 63, 64, 100, 200].map(|id| stored(id, 1, 10, 0)).to_vec();
		let Some(RuntimeCall::Ticks(pallet_ticks::Call::settle_batch { witness, .. })) =
			settle_call(&vouchers)
		else {
			panic!("a settle_batch call")
		};
		assert_eq!(witness, BatchWitness { streams: 1, pages: 3 });
		// Consecutive sessions of a stream are kept together when batches are cut.
		let many: Vec<_> = (0..130).rev().map(|id| stored(id, 1, 10, 0)).collect();
		let batches = plan_batches(many, 64);
		let pages: Vec<u32> = batches
			.iter()
			.map(|b| pallet_ticks::pages_of(b.iter().map(|v| v.session_id)))
			.collect();
		assert_eq!(pages, vec![1, 1, 1]);
	}

	#[test]
	fn the_runtime_bound_is_used() {
		assert_eq!(max_vouchers_per_batch(), 4096);
		let too_many: Vec<_> = (0..4097).map(|i| stored(i, 0, 1, 0)).collect();
		assert!(settle_call(&too_many).is_none());
		assert!(settle_call(&too_many[..4096]).is_some());
	}

	#[test]
	fn the_call_carries_the_stored_vouchers() {
		let v = stored(7, 1, 30, 10);
		let Some(RuntimeCall::Ticks(pallet_ticks::Call::settle_batch { vouchers, witness })) =
			settle_call(std::slice::from_ref(&v))
		else {
			panic!("a settle_batch call")
		};
		assert_eq!(witness, BatchWitness { streams: 1, pages: 1 });
		assert_eq!(vouchers.len(), 1);
		assert_eq!(vouchers[0].session_id, 7);
		assert_eq!(vouchers[0].cumulative_seconds, 30);
		assert_eq!(vouchers[0].signature, v.signature);
	}

	#[test]
	fn reconciliation_follows_chain_state() {
		let v = stored(4, 1, 20, 5);
		assert_eq!(reconcile(&v, Some(&settled_session(20)), 10), Reconciled::Settled(20));
		assert_eq!(reconcile(&v, Some(&settled_session(25)), 10), Reconciled::Settled(25));
		assert_eq!(
			reconcile(&v, Some(&settled_session(12)), 10),
			Reconciled::Submit { settled: Some(12) }
		);
		assert_eq!(
			reconcile(&v, Some(&settled_session(5)), 10),
			Reconciled::Submit { settled: None }
		);
		assert_eq!(
			reconcile(&v, Some(&settled_session(0)), 10),
			Reconciled::Submit { settled: None }
		);
		assert_eq!(reconcile(&v, None, 10), Reconciled::Closed);
		// Not final yet: the session may exist in the best chain.
		assert_eq!(reconcile(&v, None, 4), Reconciled::Submit { settled: None });
		// A free session's vouchers are never worth a batch (sybils cost the relayer no fee).
		let free = Session { price_per_second: 0, ..settled_session(5) };
		assert_eq!(reconcile(&v, Some(&free), 10), Reconciled::Free);
		let free_settled = Session { price_per_second: 0, ..settled_session(20) };
		assert_eq!(reconcile(&v, Some(&free_settled), 10), Reconciled::Settled(20));
	}

	#[test]
	fn outcomes_come_from_rejection_events() {
		let rejected = |session_id, reason| {
			RuntimeEvent::Ticks(pallet_ticks::Event::VoucherRejected { session_id, reason })
		};
		let events = vec![
			rejected(2, RejectReason::NotIncreasing),
			RuntimeEvent::Ticks(pallet_ticks::Event::BatchSettled {
				accepted: 2,
				rejected: 2,
				total_paid: 5,
			}),
			rejected(4, RejectReason::BadSignature),
		];
		let outcomes = voucher_outcomes(&[(1, 10), (2, 10), (3, 10), (4, 10)], &events);
		assert_eq!(
			outcomes,
			vec![
				VoucherOutcome::Accepted,
				VoucherOutcome::Rejected(RejectReason::NotIncreasing),
				VoucherOutcome::Accepted,
				VoucherOutcome::Rejected(RejectReason::BadSignature),
			]
		);
		assert_eq!(voucher_outcomes(&[(1, 1)], &[]), vec![VoucherOutcome::Accepted]);
	}

	#[test]
	fn reasons_are_classified() {
		use RejectReason::*;
		for r in [BadSignature, UnknownSession, SessionClosed, AboveMaxSeconds] {
			assert!(is_permanent(r), "{r:?}");
		}
		for r in [NotIncreasing, AheadOfTime] {
			assert!(!is_permanent(r), "{r:?}");
		}
		assert_eq!(reason_label(SessionClosed), "session_closed");
		assert_eq!(reason_label(AheadOfTime), "ahead_of_time");
	}

	#[test]
	fn in_flight_sessions_are_tracked_until_released() {
		let mut f = InFlightExtrinsics::default();
		let a = f.add(vec![1, 2]);
		let b = f.add(vec![3]);
		assert_ne!(a, b);
		assert_eq!(f.awaiting_inclusion(), 2);
		assert!(f.contains(1) && f.contains(3) && !f.contains(4));
		f.included(a);
		assert_eq!(f.awaiting_inclusion(), 1);
		assert!(f.contains(2), "included but not final: still in flight");
		assert_eq!(f.release(a), 2);
		assert!(!f.contains(1) && !f.contains(2) && f.contains(3));
		assert_eq!(f.release(a), 0, "releasing twice is harmless");
		assert_eq!(f.release(b), 1);
		assert_eq!(f.awaiting_inclusion(), 0);
	}
}
