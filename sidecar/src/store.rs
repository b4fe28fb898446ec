//! Durable state: the latest voucher of each session, the sessions to release (close at once
//! as the stream's relayer, once settled), the chat, and the recordings replays are served
//! from, in an embedded SQLite database (WAL,
//! `synchronous=FULL`).
//!
//! All access goes through ONE writer thread that owns the connection and group-commits: it
//! takes the first request, collects whatever else arrives within [`StoreConfig::group_window`]
//! of that request's arrival (or up to [`StoreConfig::max_batch`] requests), runs them all in
//! one transaction, commits (one fsync) and only then completes each request. WAL checkpoints
//! run on a second thread and connection, so the writer never stalls on copying pages back
//! into the database file. A heartbeat is therefore acknowledged only
//! once it is on disk, while tens of thousands per second share a few hundred fsyncs. Reads go
//! through the same thread, so they see every write acknowledged before them.
//!
//! [`Store`] is a cheap-clone async handle; the thread stops when the last handle is dropped.

use codec::{Decode, Encode};
use rusqlite::{params, Connection, OptionalExtension};
use std::{
	path::Path,
	sync::{mpsc, Arc, Mutex},
	thread::JoinHandle,
	time::{Duration, Instant},
};
use tokio::sync::oneshot;
use vilokanam_chain_client::{AccountId, CloseIntent, Signature, VoucherEncoding, VoucherSigner};

/// A commit slower than this is logged (the disk is struggling: acks are delayed).
const SLOW_COMMIT: Duration = Duration::from_millis(250);

/// How many recent chat messages [`Store::chat_history`] returns.
pub const CHAT_HISTORY: usize = 50;

/// A store failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
	/// SQLite failed (I/O, corruption, full disk, ...).
	#[error("database error: {0}")]
	Database(String),
	/// The writer thread is gone (the store was shut down or it could not start).
	#[error("the store is closed")]
	Closed,
	/// A number does not fit SQLite's signed 64-bit integers.
	#[error("value out of range: {0}")]
	OutOfRange(&'static str),
	/// A row does not decode (written by something else).
	#[error("corrupt row: {0}")]
	Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
	fn from(e: rusqlite::Error) -> Self {
		Self::Database(e.to_string())
	}
}

/// The latest voucher of a session, with its settlement state.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StoredVoucher {
	/// The session.
	pub session_id: u64,
	/// The session's stream.
	pub stream_id: u64,
	/// The session's viewer.
	pub viewer: AccountId,
	/// Total seconds watched, as signed.
	pub cumulative_seconds: u64,
	/// Which key signed: the session's voucher key or the viewer's account.
	pub signer: VoucherSigner,
	/// Which bytes the signature covers.
	pub encoding: VoucherEncoding,
	/// The signature.
	pub signature: Signature,
	/// Seconds known to be settled on chain (final).
	pub settled_seconds: u64,
}

/// A finished recording of a stream, as its replay is served.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StoredReplay {
	/// The stream.
	pub stream_id: u64,
	/// The WebM file.
	pub path: String,
	/// Its size.
	pub bytes: u64,
	/// Its duration.
	pub duration_ms: u64,
	/// Each cluster's (time in ms, byte offset), in file order.
	pub clusters: Vec<(u64, u64)>,
	/// Where the last cluster ends (the Cues follow).
	pub media_end: u64,
}

/// A session to release: once everything this sidecar acknowledged for it is settled, the
/// stream's relayer closes it at once (or, if this sidecar is not the relayer, its close intent
/// is relayed and the chain's settlement window runs its course).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Release {
	/// The session.
	pub session_id: u64,
	/// Its stream.
	pub stream_id: u64,
	/// The viewer's close intent, if the viewer sent one.
	pub intent: Option<CloseIntent>,
	/// Whether the intent was submitted to the chain already.
	pub intent_submitted: bool,
	/// Whether a voucher of the session is stored and not yet settled (nor rejected).
	pub unsettled: bool,
	/// Whether the relay ends the session itself: its last seconds were too few to be worth a
	/// batch for too long ([`Store::request_tail_release`]).
	pub tail: bool,
}

/// A stored chat message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChatMessage {
	/// Its identifier (increasing).
	pub id: u64,
	/// The stream it was posted to.
	pub stream_id: u64,
	/// The author (SS58).
	pub author: String,
	/// The text.
	pub text: String,
	/// When it was received (Unix milliseconds).
	pub at_ms: u64,
}

/// Tuning of the writer thread.
#[derive(Clone, Copy, Debug)]
pub struct StoreConfig {
	/// How long the writer collects requests after the first one before committing.
	pub group_window: Duration,
	/// The most requests in one transaction.
	pub max_batch: usize,
}

impl Default for StoreConfig {
	fn default() -> Self {
		Self { group_window: Duration::from_millis(2), max_batch: 8192 }
	}
}

/// What runs after the commit: completes a request with the commit's outcome.
type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// A queued request.
trait Request: Send {
	/// Run inside the batch's transaction; returns how to complete the request.
	fn run(self: Box<Self>, conn: &Connection) -> Finish;
	/// Complete the request with `e` without running it.
	fn fail(self: Box<Self>, e: &StoreError);
}

/// A request made of an operation and its completion.
struct Op<T, F, D> {
	op: F,
	done: D,
	_result: std::marker::PhantomData<fn() -> T>,
}

impl<T, F, D> Request for Op<T, F, D>
where
	T: Send + 'static,
	F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
	D: FnOnce(Result<T, StoreError>) + Send + 'static,
{
	fn run(self: Box<Self>, conn: &Connection) -> Finish {
		let Op { op, done, .. } = *self;
		let result = op(conn);
		Box::new(move |commit_error: Option<&StoreError>| match commit_error {
			Some(e) => done(Err(e.clone())),
			None => done(result),
		})
	}

	fn fail(self: Box<Self>, e: &StoreError) {
		(self.done)(Err(e.clone()))
	}
}

type Job = Box<dyn Request>;

struct Inner {
	tx: Option<mpsc::Sender<(Instant, Job)>>,
	/// Dropped to stop the checkpointer.
	stop_checkpoints: Option<mpsc::Sender<()>>,
	threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
	fn drop(&mut self) {
		// Closing the channels lets the threads finish what they have and exit; waiting for
		// them means a reopened store sees everything.
		self.tx.take();
		self.stop_checkpoints.take();
		let threads = self.threads.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default();
		for handle in threads {
			// Never join from the thread itself (a request that held the last handle).
			if handle.thread().id() != std::thread::current().id() {
				let _ = handle.join();
			}
		}
	}
}

/// A cheap-clone handle to the database and its writer thread.
#[derive(Clone)]
pub struct Store {
	inner: Arc<Inner>,
}

fn to_i64(v: u64, what: &'static str) -> Result<i64, StoreError> {
	i64::try_from(v).map_err(|_| StoreError::OutOfRange(what))
}

fn to_u64(v: i64, what: &'static str) -> Result<u64, StoreError> {
	u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}

/// The clock as SQLite stores it.
fn now_ms() -> i64 {
	i64::try_from(crate::clock::unix_ms()).unwrap_or(i64::MAX)
}

const SCHEMA: &str = "
	CREATE TABLE IF NOT EXISTS vouchers (
		session_id INTEGER PRIMARY KEY,
		stream_id INTEGER NOT NULL,
		viewer BLOB NOT NULL,
		cumulative_seconds INTEGER NOT NULL,
		encoding INTEGER NOT NULL,
		signature BLOB NOT NULL,
		settled_seconds INTEGER NOT NULL DEFAULT 0,
		rejected_reason TEXT,
		updated_at INTEGER NOT NULL,
		signer INTEGER NOT NULL DEFAULT 1
	);
	CREATE TABLE IF NOT EXISTS releases (
		session_id INTEGER PRIMARY KEY,
		stream_id INTEGER NOT NULL,
		intent BLOB,
		intent_seconds INTEGER,
		intent_submitted INTEGER NOT NULL DEFAULT 0,
		done INTEGER NOT NULL DEFAULT 0,
		updated_at INTEGER NOT NULL,
		tail INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX IF NOT EXISTS releases_pending ON releases (done, session_id);
	CREATE TABLE IF NOT EXISTS chat (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		stream_id INTEGER NOT NULL,
		author TEXT NOT NULL,
		text TEXT NOT NULL,
		at_ms INTEGER NOT NULL,
		deleted INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX IF NOT EXISTS chat_by_stream ON chat (stream_id, id);
	CREATE TABLE IF NOT EXISTS publish_tokens (
		stream_id INTEGER PRIMARY KEY,
		generation INTEGER NOT NULL
	);
	CREATE TABLE IF NOT EXISTS replays (
		path TEXT PRIMARY KEY,
		stream_id INTEGER NOT NULL,
		bytes INTEGER NOT NULL,
		duration_ms INTEGER NOT NULL,
		clusters BLOB NOT NULL,
		media_end INTEGER NOT NULL,
		created_at INTEGER NOT NULL
	);
	CREATE INDEX IF NOT EXISTS replays_by_stream ON replays (stream_id, duration_ms);
";

const VOUCHER_COLUMNS: &str = "session_id, stream_id, viewer, cumulative_seconds, encoding, \
	signature, settled_seconds, signer";

/// Whether a release request's intent replaces the stored one: there was none, or it was lower.
/// (A macro, to be spliced into SQL literals with `concat!`.)
macro_rules! newer_intent {
	() => {
		"(excluded.intent IS NOT NULL AND (releases.intent_seconds IS NULL \
			OR excluded.intent_seconds > releases.intent_seconds))"
	};
}

/// Databases written before vouchers named their signer lack the column; their vouchers were
/// all signed by the viewer (1).
fn upgrade_schema(conn: &Connection) -> Result<(), StoreError> {
	let has_signer = conn
		.prepare("SELECT 1 FROM pragma_table_info('vouchers') WHERE name = 'signer'")?
		.exists([])?;
	if !has_signer {
		conn.execute_batch("ALTER TABLE vouchers ADD COLUMN signer INTEGER NOT NULL DEFAULT 1")?;
	}
	let has_batched_at = conn
		.prepare("SELECT 1 FROM pragma_table_info('vouchers') WHERE name = 'batched_at'")?
		.exists([])?;
	if !has_batched_at {
		conn.execute_batch(
			"ALTER TABLE vouchers ADD COLUMN batched_at INTEGER NOT NULL DEFAULT 0; \
			 CREATE INDEX IF NOT EXISTS vouchers_queue ON vouchers (batched_at, session_id);",
		)?;
	}
	let has_tail = conn
		.prepare("SELECT 1 FROM pragma_table_info('releases') WHERE name = 'tail'")?
		.exists([])?;
	if !has_tail {
		conn.execute_batch("ALTER TABLE releases ADD COLUMN tail INTEGER NOT NULL DEFAULT 0")?;
	}
	Ok(())
}

fn signer_to_sql(s: VoucherSigner) -> i64 {
	match s {
		VoucherSigner::VoucherKey => 0,
		VoucherSigner::Viewer => 1,
	}
}

fn encoding_to_sql(e: VoucherEncoding) -> i64 {
	match e {
		VoucherEncoding::Raw => 0,
		VoucherEncoding::Wrapped => 1,
	}
}

fn voucher_from_row(row: &rusqlite::Row) -> rusqlite::Result<Result<StoredVoucher, StoreError>> {
	let session_id: i64 = row.get(0)?;
	let stream_id: i64 = row.get(1)?;
	let viewer: Vec<u8> = row.get(2)?;
	let cumulative: i64 = row.get(3)?;
	let encoding: i64 = row.get(4)?;
	let signature: Vec<u8> = row.get(5)?;
	let settled: i64 = row.get(6)?;
	let signer: i64 = row.get(7)?;
	Ok((|| {
		let viewer = <[u8; 32]>::try_from(viewer.as_slice())
			.map_err(|_| StoreError::Corrupt("viewer is not 32 bytes".into()))?;
		Ok(StoredVoucher {
			session_id: to_u64(session_id, "session_id")?,
			stream_id: to_u64(stream_id, "stream_id")?,
			viewer: AccountId::new(viewer),
			cumulative_seconds: to_u64(cumulative, "cumulative_seconds")?,
			signer: match signer {
				0 => VoucherSigner::VoucherKey,
				1 => VoucherSigner::Viewer,
				_ => return Err(StoreError::Corrupt("unknown signer".into())),
			},
			encoding: match encoding {
				0 => VoucherEncoding::Raw,
				1 => VoucherEncoding::Wrapped,
				_ => return Err(StoreError::Corrupt("unknown encoding".into())),
			},
			signature: Signature::decode(&mut &signature[..])
				.map_err(|e| StoreError::Corrupt(format!("signature: {e}")))?,
			settled_seconds: to_u64(settled, "settled_seconds")?,
		})
	})())
}

fn chat_from_row(row: &rusqlite::Row) -> rusqlite::Result<Result<ChatMessage, StoreError>> {
	let id: i64 = row.get(0)?;
	let stream_id: i64 = row.get(1)?;
	let author: String = row.get(2)?;
	let text: String = row.get(3)?;
	let at_ms: i64 = row.get(4)?;
	Ok((|| {
		Ok(ChatMessage {
			id: to_u64(id, "id")?,
			stream_id: to_u64(stream_id, "stream_id")?,
			author,
			text,
			at_ms: to_u64(at_ms, "at_ms")?,
		})
	})())
}

fn put_voucher_sql(conn: &Connection, v: &StoredVoucher) -> Result<(), StoreError> {
	let mut stmt = conn.prepare_cached(
		"INSERT INTO vouchers (session_id, stream_id, viewer, cumulative_seconds, encoding, \
			signature, settled_seconds, rejected_reason, updated_at, signer) \
		 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9) \
		 ON CONFLICT (session_id) DO UPDATE SET \
			cumulative_seconds = excluded.cumulative_seconds, \
			signer = excluded.signer, \
			encoding = excluded.encoding, \
			signature = excluded.signature, \
			rejected_reason = NULL, \
			updated_at = excluded.updated_at \
		 WHERE excluded.cumulative_seconds > vouchers.cumulative_seconds",
	)?;
	let viewer: &[u8] = v.viewer.as_ref();
	stmt.execute(params![
		to_i64(v.session_id, "session_id")?,
		to_i64(v.stream_id, "stream_id")?,
		viewer,
		to_i64(v.cumulative_seconds, "cumulative_seconds")?,
		encoding_to_sql(v.encoding),
		v.signature.encode(),
		to_i64(v.settled_seconds, "settled_seconds")?,
		now_ms(),
		signer_to_sql(v.signer),
	])?;
	Ok(())
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<(Instant, Job)>, config: StoreConfig) {
	let mut batch: Vec<Job> = Vec::with_capacity(256);
	let mut finishers: Vec<Finish> = Vec::with_capacity(256);
	loop {
		let Ok((arrived, first)) = rx.recv() else { break };
		batch.push(first);
		// The window counts from the first request's arrival: after a slow commit, what queued
		// meanwhile is committed at once.
		let deadline = arrived + config.group_window;
		while batch.len() < config.max_batch {
			match rx.try_recv() {
				Ok((_, job)) => {
					batch.push(job);
					continue;
				},
				Err(mpsc::TryRecvError::Disconnected) => break,
				Err(mpsc::TryRecvError::Empty) => {},
			}
			let now = Instant::now();
			if now >= deadline {
				break;
			}
			match rx.recv_timeout(deadline - now) {
				Ok((_, job)) => batch.push(job),
				Err(_) => break,
			}
		}
		let outcome = match conn.execute_batch("BEGIN") {
			Ok(()) => {
				let n = batch.len();
				let started = Instant::now();
				for job in batch.drain(..) {
					finishers.push(job.run(&conn));
				}
				let committed = conn.execute_batch("COMMIT").map_err(StoreError::from);
				let total = started.elapsed();
				if total > SLOW_COMMIT {
					tracing::warn!(requests = n, "slow store commit: {total:?}");
				}
				committed
			},
			Err(e) => {
				// Run nothing: every request of the batch fails with the same error.
				let e = StoreError::from(e);
				tracing::error!("store cannot begin a transaction: {e}");
				for job in batch.drain(..) {
					job.fail(&e);
				}
				continue;
			},
		};
		if let Err(e) = &outcome {
			tracing::error!("store commit failed: {e}");
			let _ = conn.execute_batch("ROLLBACK");
		}
		for finish in finishers.drain(..) {
			finish(outcome.as_ref().err());
		}
	}
	// Leave a small database file behind.
	if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
		tracing::warn!("final checkpoint failed: {e}");
	}
	tracing::debug!("store writer stopped");
}

/// How often the checkpointer copies committed WAL frames back into the database file.
const CHECKPOINT_PERIOD: Duration = Duration::from_millis(500);

/// Checkpoint the WAL (PASSIVE: never blocks the writer) until `stop` is dropped.
fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>) {
	loop {
		match stop.recv_timeout(CHECKPOINT_PERIOD) {
			Err(mpsc::RecvTimeoutError::Timeout) => {},
			_ => return,
		}
		if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
			tracing::warn!("WAL checkpoint failed: {e}");
		}
	}
}

impl Store {
	/// Open (or create) the database at `path` and start the writer thread.
	pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
		Self::open_with(path, StoreConfig::default())
	}

	/// [`Store::open`] with explicit tuning.
	pub fn open_with(path: impl AsRef<Path>, config: StoreConfig) -> Result<Self, StoreError> {
		let conn = Connection::open(path.as_ref())?;
		conn.busy_timeout(Duration::from_secs(5))?;
		// WAL: one sequential append (and fsync) per commit; FULL: that fsync happens, so an
		// acknowledged heartbeat survives a power loss.
		conn.pragma_update(None, "journal_mode", "WAL")?;
		conn.pragma_update(None, "synchronous", "FULL")?;
		// Checkpoints are the checkpointer's job; the WAL file is cut back after them.
		conn.pragma_update(None, "wal_autocheckpoint", 0)?;
		conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
		conn.execute_batch(SCHEMA)?;
		upgrade_schema(&conn)?;
		conn.set_prepared_statement_cache_capacity(32);
		let checkpointer = Connection::open(path.as_ref())?;
		checkpointer.busy_timeout(Duration::from_secs(5))?;
		checkpointer.pragma_update(None, "synchronous", "FULL")?;

		let spawn_error =
			|e: std::io::Error| StoreError::Database(format!("cannot start a store thread: {e}"));
		let (tx, rx) = mpsc::channel::<(Instant, Job)>();
		let writer = std::thread::Builder::new()
			.name("sidecar-store".into())
			.spawn(move || writer_loop(conn, rx, config))
			.map_err(spawn_error)?;
		let (stop_tx, stop_rx) = mpsc::channel::<()>();
		let mut threads = vec![writer];
		match std::thread::Builder::new()
			.name("sidecar-checkpt".into())
			.spawn(move || checkpoint_loop(checkpointer, stop_rx))
		{
			Ok(t) => threads.push(t),
			Err(e) => {
				// Stop the writer again before failing.
				drop(tx);
				for t in threads {
					let _ = t.join();
				}
				return Err(spawn_error(e));
			},
		}
		Ok(Self {
			inner: Arc::new(Inner {
				tx: Some(tx),
				stop_checkpoints: Some(stop_tx),
				threads: Mutex::new(threads),
			}),
		})
	}

	/// Queue `op` in the writer; `done` gets its result once the transaction is committed (or
	/// the commit's error).
	fn submit<T, F, D>(&self, op: F, done: D)
	where
		T: Send + 'static,
		F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
		D: FnOnce(Result<T, StoreError>) + Send + 'static,
	{
		let job: Job = Box::new(Op { op, done, _result: std::marker::PhantomData });
		let job = match &self.inner.tx {
			Some(tx) => match tx.send((Instant::now(), job)) {
				Ok(()) => return,
				Err(mpsc::SendError((_, job))) => job,
			},
			None => job,
		};
		// The writer is gone.
		job.fail(&StoreError::Closed);
	}

	/// Run `op` in the writer and wait for the commit.
	async fn call<T, F>(&self, op: F) -> Result<T, StoreError>
	where
		T: Send + 'static,
		F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
	{
		let (tx, rx) = oneshot::channel();
		self.submit(op, move |r| {
			let _ = tx.send(r);
		});
		// A dropped sender means the writer died with the request.
		rx.await.unwrap_or(Err(StoreError::Closed))
	}

	/// Store `v` as its session's latest voucher unless a higher cumulative is stored already
	/// (then nothing changes). A new voucher clears an earlier rejection. Completes after the
	/// commit.
	pub async fn put_voucher(&self, v: StoredVoucher) -> Result<(), StoreError> {
		self.call(move |conn| put_voucher_sql(conn, &v)).await
	}

	/// [`Store::put_voucher`] with a callback instead of a future, run on the writer thread
	/// after the commit (the heartbeat path: no task wakeup in between).
	pub fn put_voucher_then(
		&self,
		v: StoredVoucher,
		done: impl FnOnce(Result<(), StoreError>) + Send + 'static,
	) {
		self.submit(move |conn| put_voucher_sql(conn, &v), done)
	}

	/// Up to `limit` vouchers with `cumulative_seconds > settled_seconds` that were not
	/// rejected, those least recently put in a batch first ([`Store::mark_batched`]): with `n`
	/// sessions to settle, none waits more than `n / limit` rounds, whatever their stream or
	/// session ids (many sessions on a low stream id cannot starve the rest).
	pub async fn unsettled_vouchers(&self, limit: usize) -> Result<Vec<StoredVoucher>, StoreError> {
		let limit = i64::try_from(limit).unwrap_or(i64::MAX);
		self.call(move |conn| {
			let mut stmt = conn.prepare_cached(&format!(
				"SELECT {VOUCHER_COLUMNS} FROM vouchers \
				 WHERE cumulative_seconds > settled_seconds AND rejected_reason IS NULL \
				 ORDER BY batched_at, session_id LIMIT ?1"
			))?;
			let rows = stmt.query_map(params![limit], voucher_from_row)?;
			let mut out = Vec::new();
			for row in rows {
				out.push(row??);
			}
			Ok(out)
		})
		.await
	}

	/// Record that these sessions' vouchers were just put in a batch: they go to the back of
	/// [`Store::unsettled_vouchers`]'s queue.
	pub async fn mark_batched(&self, session_ids: Vec<u64>) -> Result<(), StoreError> {
		self.call(move |conn| {
			// Strictly increasing, so that a later batch of the same millisecond comes after.
			let at: i64 = conn.query_row(
				"SELECT max(?1, coalesce(max(batched_at), 0) + 1) FROM vouchers",
				params![now_ms()],
				|r| r.get(0),
			)?;
			let mut stmt =
				conn.prepare_cached("UPDATE vouchers SET batched_at = ?2 WHERE session_id = ?1")?;
			for id in session_ids {
				stmt.execute(params![to_i64(id, "session_id")?, at])?;
			}
			Ok(())
		})
		.await
	}

	/// Record that `settled_seconds` of the session are settled on chain (kept if higher).
	pub async fn mark_settled(
		&self,
		session_id: u64,
		settled_seconds: u64,
	) -> Result<(), StoreError> {
		self.call(move |conn| {
			conn.prepare_cached(
				"UPDATE vouchers SET settled_seconds = max(settled_seconds, ?2), updated_at = ?3 \
				 WHERE session_id = ?1",
			)?
			.execute(params![
				to_i64(session_id, "session_id")?,
				to_i64(settled_seconds, "settled_seconds")?,
				now_ms()
			])?;
			Ok(())
		})
		.await
	}

	/// Record that the chain rejected the session's voucher of `cumulative_seconds`, if that is
	/// still the stored one (a newer voucher may settle).
	pub async fn mark_rejected(
		&self,
		session_id: u64,
		cumulative_seconds: u64,
		reason: &str,
	) -> Result<(), StoreError> {
		let reason = reason.to_owned();
		self.call(move |conn| {
			conn.prepare_cached(
				"UPDATE vouchers SET rejected_reason = ?3, updated_at = ?4 \
				 WHERE session_id = ?1 AND cumulative_seconds = ?2",
			)?
			.execute(params![
				to_i64(session_id, "session_id")?,
				to_i64(cumulative_seconds, "cumulative_seconds")?,
				reason,
				now_ms()
			])?;
			Ok(())
		})
		.await
	}

	/// The session's stored voucher, if any.
	pub async fn latest_voucher(
		&self,
		session_id: u64,
	) -> Result<Option<StoredVoucher>, StoreError> {
		self.call(move |conn| {
			let mut stmt = conn.prepare_cached(&format!(
				"SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE session_id = ?1"
			))?;
			stmt.query_row(params![to_i64(session_id, "session_id")?], voucher_from_row)
				.optional()?
				.transpose()
		})
		.await
	}

	/// The rejection reason recorded for the session's stored voucher, if any.
	pub async fn rejected_reason(&self, session_id: u64) -> Result<Option<String>, StoreError> {
		self.call(move |conn| {
			let reason: Option<Option<String>> = conn
				.prepare_cached("SELECT rejected_reason FROM vouchers WHERE session_id = ?1")?
				.query_row(params![to_i64(session_id, "session_id")?], |r| r.get(0))
				.optional()?;
			Ok(reason.flatten())
		})
		.await
	}

	/// Ask for session `session_id` (of `stream_id`) to be released, with the viewer's close
	/// `intent` if it sent one (a higher intent replaces a lower one). A release that was done
	/// is armed again: the relay finds out from the chain whether anything is left to do.
	pub async fn request_release(
		&self,
		session_id: u64,
		stream_id: u64,
		intent: Option<CloseIntent>,
	) -> Result<(), StoreError> {
		self.call(move |conn| {
			let seconds = intent.as_ref().map(|i| i.cumulative_seconds);
			conn.prepare_cached(concat!(
				"INSERT INTO releases (session_id, stream_id, intent, intent_seconds, \
					 updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
					 ON CONFLICT (session_id) DO UPDATE SET done = 0, \
					 updated_at = excluded.updated_at, intent_submitted = CASE WHEN ",
				newer_intent!(),
				" THEN 0 ELSE releases.intent_submitted END, intent = CASE WHEN ",
				newer_intent!(),
				" THEN excluded.intent ELSE releases.intent END, intent_seconds = CASE WHEN ",
				newer_intent!(),
				" THEN excluded.intent_seconds ELSE releases.intent_seconds END"
			))?
			.execute(params![
				to_i64(session_id, "session_id")?,
				to_i64(stream_id, "stream_id")?,
				intent.as_ref().map(Encode::encode),
				seconds.map(|s| to_i64(s, "cumulative_seconds")).transpose()?,
				now_ms(),
			])?;
			Ok(())
		})
		.await
	}

	/// Ask for session `session_id` (of `stream_id`) to be released because the relay ends it:
	/// its last seconds settle although they are fewer than a batch is worth, and it closes
	/// (one such voucher per session, not one per round).
	pub async fn request_tail_release(
		&self,
		session_id: u64,
		stream_id: u64,
	) -> Result<(), StoreError> {
		self.call(move |conn| {
			conn.prepare_cached(
				"INSERT INTO releases (session_id, stream_id, updated_at, tail) \
				 VALUES (?1, ?2, ?3, 1) ON CONFLICT (session_id) DO UPDATE SET done = 0, \
				 tail = 1, updated_at = excluded.updated_at",
			)?
			.execute(params![
				to_i64(session_id, "session_id")?,
				to_i64(stream_id, "stream_id")?,
				now_ms()
			])?;
			Ok(())
		})
		.await
	}

	/// Ask for every session of `stream_id` with a stored voucher to be released (the stream
	/// ended).
	pub async fn request_stream_release(&self, stream_id: u64) -> Result<(), StoreError> {
		self.call(move |conn| {
			conn.prepare_cached(
				"INSERT INTO releases (session_id, stream_id, updated_at) \
				 SELECT session_id, stream_id, ?2 FROM vouchers WHERE stream_id = ?1 \
				 ON CONFLICT (session_id) DO UPDATE SET done = 0, updated_at = excluded.updated_at",
			)?
			.execute(params![to_i64(stream_id, "stream_id")?, now_ms()])?;
			Ok(())
		})
		.await
	}

	/// Up to `limit` sessions to release, with whether each still has an unsettled voucher.
	pub async fn pending_releases(&self, limit: usize) -> Result<Vec<Release>, StoreError> {
		let limit = i64::try_from(limit).unwrap_or(i64::MAX);
		self.call(move |conn| {
			let mut stmt = conn.prepare_cached(
				"SELECT r.session_id, r.stream_id, r.intent, r.intent_submitted, \
					EXISTS (SELECT 1 FROM vouchers v WHERE v.session_id = r.session_id \
						AND v.cumulative_seconds > v.settled_seconds \
						AND v.rejected_reason IS NULL), r.tail \
				 FROM releases r WHERE r.done = 0 ORDER BY r.session_id LIMIT ?1",
			)?;
			let rows = stmt.query_map(params![limit], |row| {
				let session_id: i64 = row.get(0)?;
				let stream_id: i64 = row.get(1)?;
				let intent: Option<Vec<u8>> = row.get(2)?;
				let submitted: i64 = row.get(3)?;
				let unsettled: bool = row.get(4)?;
				let tail: bool = row.get(5)?;
				Ok((session_id, stream_id, intent, submitted, unsettled, tail))
			})?;
			let mut out = Vec::new();
			for row in rows {
				let (session_id, stream_id, intent, submitted, unsettled, tail) = row?;
				let intent = intent
					.map(|b| {
						CloseIntent::decode(&mut &b[..])
							.map_err(|e| StoreError::Corrupt(format!("close intent: {e}")))
					})
					.transpose()?;
				out.push(Release {
					session_id: to_u64(session_id, "session_id")?,
					stream_id: to_u64(stream_id, "stream_id")?,
					intent,
					intent_submitted: submitted != 0,
					unsettled,
					tail,
				});
			}
			Ok(out)
		})
		.await
	}

	/// The session's release is done (closed on chain, or nothing more to do here).
	pub async fn mark_released(&self, session_id: u64) -> Result<(), StoreError> {
		self.call(move |conn| {
			conn.prepare_cached(
				"UPDATE releases SET done = 1, updated_at = ?2 WHERE session_id = ?1",
			)?
			.execute(params![to_i64(session_id, "session_id")?, now_ms()])?;
			Ok(())
		})
		.await
	}

	/// The session's close intent was submitted to the chain.
	pub async fn mark_intent_submitted(&self, session_id: u64) -> Result<(), StoreError> {
		self.call(move |conn| {
			conn.prepare_cached(
				"UPDATE releases SET intent_submitted = 1, updated_at = ?2 WHERE session_id = ?1",
			)?
			.execute(params![to_i64(session_id, "session_id")?, now_ms()])?;
			Ok(())
		})
		.await
	}

	/// Append a chat message (received now) and return it with its id.
	pub async fn append_chat(
		&self,
		stream_id: u64,
		author: String,
		text: String,
	) -> Result<ChatMessage, StoreError> {
		self.call(move |conn| {
			let at_ms = now_ms();
			conn.prepare_cached(
				"INSERT INTO chat (stream_id, author, text, at_ms) VALUES (?1, ?2, ?3, ?4)",
			)?
			.execute(params![to_i64(stream_id, "stream_id")?, author, text, at_ms])?;
			Ok(ChatMessage {
				id: to_u64(conn.last_insert_rowid(), "id")?,
				stream_id,
				author,
				text,
				at_ms: to_u64(at_ms, "at_ms")?,
			})
		})
		.await
	}

	/// The last [`CHAT_HISTORY`] messages of the stream that were not deleted, oldest first.
	pub async fn chat_history(&self, stream_id: u64) -> Result<Vec<ChatMessage>, StoreError> {
		self.call(move |conn| {
			let mut stmt = conn.prepare_cached(
				"SELECT id, stream_id, author, text, at_ms FROM chat \
				 WHERE stream_id = ?1 AND deleted = 0 ORDER BY id DESC LIMIT ?2",
			)?;
			let rows = stmt.query_map(
				params![to_i64(stream_id, "stream_id")?, CHAT_HISTORY as i64],
				chat_from_row,
			)?;
			let mut out = Vec::new();
			for row in rows {
				out.push(row??);
			}
			out.reverse();
			Ok(out)
		})
		.await
	}

	/// Delete a chat message of the stream. Returns whether it existed there (and was not
	/// deleted already).
	pub async fn delete_chat(&self, stream_id: u64, id: u64) -> Result<bool, StoreError> {
		self.call(move |conn| {
			let changed = conn
				.prepare_cached(
					"UPDATE chat SET deleted = 1 WHERE id = ?1 AND stream_id = ?2 AND deleted = 0",
				)?
				.execute(params![to_i64(id, "id")?, to_i64(stream_id, "stream_id")?])?;
			Ok(changed > 0)
		})
		.await
	}

	/// The generation of a stream's publish tokens (0 until the first rotation): tokens of
	/// another are refused.
	pub async fn publish_generation(&self, stream_id: u64) -> Result<u32, StoreError> {
		self.call(move |conn| {
			let generation: Option<i64> = conn
				.prepare_cached("SELECT generation FROM publish_tokens WHERE stream_id = ?1")?
				.query_row(params![to_i64(stream_id, "stream_id")?], |r| r.get(0))
				.optional()?;
			u32::try_from(generation.unwrap_or(0))
				.map_err(|_| StoreError::Database("publish token generation out of range".into()))
		})
		.await
	}

	/// Rotate a stream's publish tokens: every one issued so far is refused from the commit
	/// on. Returns the new generation.
	pub async fn rotate_publish_tokens(&self, stream_id: u64) -> Result<u32, StoreError> {
		self.call(move |conn| {
			let generation: i64 = conn
				.prepare_cached(
					"INSERT INTO publish_tokens (stream_id, generation) VALUES (?1, 1) \
					 ON CONFLICT (stream_id) DO UPDATE SET generation = generation + 1 \
					 RETURNING generation",
				)?
				.query_row(params![to_i64(stream_id, "stream_id")?], |r| r.get(0))?;
			u32::try_from(generation)
				.map_err(|_| StoreError::Database("publish token generation out of range".into()))
		})
		.await
	}

	/// Keep a finished recording of a stream (a stream may have several: one per publisher
	/// connection).
	pub async fn put_replay(&self, r: StoredReplay) -> Result<(), StoreError> {
		self.call(move |conn| {
			conn.prepare_cached(
				"INSERT OR REPLACE INTO replays (path, stream_id, bytes, duration_ms, clusters, \
				 media_end, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			)?
			.execute(params![
				r.path,
				to_i64(r.stream_id, "stream_id")?,
				to_i64(r.bytes, "bytes")?,
				to_i64(r.duration_ms, "duration_ms")?,
				r.clusters.encode(),
				to_i64(r.media_end, "media_end")?,
				now_ms(),
			])?;
			Ok(())
		})
		.await
	}

	/// The recording a stream's replay is served from: its longest (a publisher that
	/// reconnected leaves one per connection).
	pub async fn replay(&self, stream_id: u64) -> Result<Option<StoredReplay>, StoreError> {
		self.call(move |conn| {
			let row = conn
				.prepare_cached(
					"SELECT path, bytes, duration_ms, clusters, media_end FROM replays \
					 WHERE stream_id = ?1 ORDER BY duration_ms DESC, path LIMIT 1",
				)?
				.query_row(params![to_i64(stream_id, "stream_id")?], |r| {
					Ok((
						r.get::<_, String>(0)?,
						r.get::<_, i64>(1)?,
						r.get::<_, i64>(2)?,
						r.get::<_, Vec<u8>>(3)?,
						r.get::<_, i64>(4)?,
					))
				})
				.optional()?;
			let Some((path, bytes, duration_ms, clusters, media_end)) = row else {
				return Ok(None);
			};
			let clusters = Vec::<(u64, u64)>::decode(&mut &clusters[..])
				.map_err(|e| StoreError::Corrupt(format!("replay clusters: {e}")))?;
			Ok(Some(StoredReplay {
				stream_id,
				path,
				bytes: to_u64(bytes, "bytes")?,
				duration_ms: to_u64(duration_ms, "duration_ms")?,
				clusters,
				media_end: to_u64(media_end, "media_end")?,
			}))
		})
		.await
	}

	/// Forget a stream's recordings; returns their files, for the caller to delete.
	pub async fn delete_replays(&self, stream_id: u64) -> Result<Vec<String>, StoreError> {
		self.call(move |conn| {
			let paths = conn
				.prepare_cached("DELETE FROM replays WHERE stream_id = ?1 RETURNING path")?
				.query_map(params![to_i64(stream_id, "stream_id")?], |r| r.get::<_, String>(0))?
				.collect::<Result<Vec<_>, _>>()?;
			Ok(paths)
		})
		.await
	}

	/// Whether the database answers (for `/health`).
	pub async fn ping(&self) -> Result<(), StoreError> {
		self.call(|conn| {
			conn.query_row("SELECT 1", [], |_| Ok(()))?;
			Ok(())
		})
		.await
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::{ed25519, Pair};

	fn voucher(session_id: u64, stream_id: u64, cumulative: u64) -> StoredVoucher {
		// ed25519 signatures are deterministic, so equal vouchers compare equal.
		let pair = ed25519::Pair::from_seed(&[session_id as u8; 32]);
		StoredVoucher {
			session_id,
			stream_id,
			viewer: AccountId::from(pair.public()),
			cumulative_seconds: cumulative,
			signer: if cumulative.is_multiple_of(3) {
				VoucherSigner::Viewer
			} else {
				VoucherSigner::VoucherKey
			},
			encoding: if cumulative.is_multiple_of(2) {
				VoucherEncoding::Raw
			} else {
				VoucherEncoding::Wrapped
			},
			signature: Signature::from(pair.sign(&cumulative.to_le_bytes())),
			settled_seconds: 0,
		}
	}

	fn open(dir: &tempfile::TempDir) -> Store {
		Store::open(dir.path().join("db.sqlite")).unwrap()
	}

	/// Issue 18, item 4: 20,000 sessions on stream 1 (sybils) and 100 on stream 9 (honest),
	/// rounds of 4,096: every session is taken within ceil(20,100 / 4,096) = 5 rounds, and the
	/// honest ones are not starved by the lower stream id (before, ordered by stream, they
	/// waited for every sybil to settle, which never happens while they keep heartbeating).
	#[tokio::test]
	async fn no_session_waits_more_than_its_share_of_rounds() {
		let dir = tempfile::tempdir().unwrap();
		let store = open(&dir);
		let puts = (0..20_000)
			.map(|session| voucher(session, 1, 5))
			.chain((100_000..100_100).map(|session| voucher(session, 9, 5)))
			.map(|v| store.put_voucher(v));
		for r in futures::future::join_all(puts).await {
			r.unwrap();
		}
		let mut waited: std::collections::HashMap<u64, u32> = Default::default();
		let mut round = 0;
		while waited.len() < 20_100 {
			round += 1;
			assert!(round <= 5, "a session waited more than 5 rounds");
			let batch = store.unsettled_vouchers(4_096).await.unwrap();
			let ids: Vec<u64> = batch.iter().map(|v| v.session_id).collect();
			for id in &ids {
				waited.entry(*id).or_insert(round);
			}
			// The sybils send a new voucher every round; nothing settles.
			store.mark_batched(ids).await.unwrap();
		}
		let honest = (100_000..100_100).map(|s| waited[&s]).max().unwrap();
		assert!(honest <= 5, "the honest sessions waited {honest} rounds");
		// A reopened store keeps the queue.
		drop(store);
		let store = open(&dir);
		let next = store.unsettled_vouchers(10).await.unwrap();
		assert!(next.iter().all(|v| waited[&v.session_id] == 1), "the longest waiting come first");
	}

	#[tokio::test]
	async fn a_streams_replay_is_its_longest_recording_until_deleted() {
		let dir = tempfile::tempdir().unwrap();
		let store = open(&dir);
		let replay = |path: &str, stream_id, duration_ms| StoredReplay {
			stream_id,
			path: path.into(),
			bytes: 1_000,
			duration_ms,
			clusters: vec![(0, 300), (2_000, 600)],
			media_end: 900,
		};
		assert_eq!(store.replay(7).await.unwrap(), None);
		store.put_replay(replay("/r/a.webm", 7, 5_000)).await.unwrap();
		store.put_replay(replay("/r/b.webm", 7, 60_000)).await.unwrap();
		store.put_replay(replay("/r/c.webm", 8, 90_000)).await.unwrap();
		assert_eq!(store.replay(7).await.unwrap(), Some(replay("/r/b.webm", 7, 60_000)));
		let mut gone = store.delete_replays(7).await.unwrap();
		gone.sort();
		assert_eq!(gone, vec!["/r/a.webm".to_string(), "/r/b.webm".to_string()]);
		assert_eq!(store.replay(7).await.unwrap(), None);
		assert!(store.replay(8).await.unwrap().is_some(), "other streams keep theirs");
	}

	#[tokio::test]
	async fn publish_token_rotations_persist() {
		let dir = tempfile::tempdir().unwrap();
		let store = open(&dir);
		assert_eq!(store.publish_generation(7).await.unwrap(), 0);
		assert_eq!(store.rotate_publish_tokens(7).await.unwrap(), 1);
		assert_eq!(store.rotate_publish_tokens(7).await.unwrap(), 2);
		assert_eq!(store.publish_generation(8).await.unwrap(), 0, "per stream");
		drop(store);
		// A restart does not bring a revoked token back.
		let store = open(&dir);
		assert_eq!(store.publish_generation(7).await.unwrap(), 2);
	}

	#[tokio::test]
	async fn keeps_the_max_cumulative() {
		let dir = tempfile::tempdir().unwrap();
		let store = open(&dir);
		store.put_voucher(voucher(1, 7, 10)).await.unwrap();
		store.put_voucher(voucher(1, 7, 5)).await.unwrap();
		assert_eq!(store.latest_voucher(1).await.unwrap(), Some(voucher(1, 7, 10)));
		store.put_voucher(voucher(1, 7, 11)).await.unwrap();
		assert_eq!(store.latest_voucher(1).await.unwrap(), Some(voucher(1, 7, 11)));
		assert_eq!(store.latest_voucher(2).await.unwrap(), None);
	}

	#[tokio::test]
	async fn group_commit_completes_every_request() {
		let dir = tempfile::tempdir().unwrap();
		let store = Store::open_with(
			dir.path().join("db.sqlite"),
			StoreConfig { group_window: Duration::from_millis(20), max_batch: 100 },
		)
		.unwrap();
		// 1,000 concurrent writes: they share a few transactions, and each completes.
		let mut tasks = Vec::new();
		for i in 0..1_000u64 {
			let store = store.clone();
			tasks.push(tokio::spawn(
				async move { store.put_voucher(voucher(i, i % 3, i + 1)).await },
			));
		}
		for t in tasks {
			t.await.unwrap().unwrap();
		}
		let all = store.unsettled_vouchers(10_000).await.unwrap();
		assert_eq!(all.len(), 1_000);
		// None was batched yet: in session order (the relay groups a batch by stream itself).
		let keys: Vec<_> = all.iter().map(|v| v.session_id).collect();
		assert_eq!(keys, (0..1_000).collect::<Vec<_>>());
		assert_eq!(store.unsettled_vouchers(10).await.unwrap().len(), 10);
	}

	#[tokio::test]
	async fn callbacks_complete_after_commit() {
		let dir = tempfile::tempdir().unwrap();
		let store = open(&dir);
		let (tx, rx) = oneshot::channel();
		store.put_voucher_then(voucher(3, 1, 9), move |r| {
			let _ = tx.send(r);
		});
		rx.await.unwrap().unwrap();
		assert_eq!(store.latest_voucher(3).await.unwrap().map(|v| v.cumulative_seconds), Some(9));
	}

	#[tokio::test]
	async fn settled_and_rejected() {
		let dir = tempfile::tempdir().unwrap();
		let store = open(&dir);
		store.put_voucher(voucher(1, 1, 10)).await.unwrap();
		store.put_voucher(voucher(2, 1, 20)).await.unwrap();
		// Settled keeps the max and removes fully settled sessions from the unsettled list.
		store.mark_settled(1, 10).await.unwrap();
		store.mark_settled(1, 4).await.unwrap();
		assert_eq!(store.latest_voucher(1).await.unwrap().unwrap().settled_seconds, 10);
		let unsettled: Vec<_> =
			store.unsettled_vouchers(100).await.unwrap().iter().map(|v| v.session_id).collect();
		assert_eq!(unsettled, vec![2]);
		// A rejection of an older cumulative than the stored one changes nothing.
		store.mark_rejected(2, 19, "AheadOfTime").await.unwrap();
		assert_eq!(store.unsettled_vouchers(100).await.unwrap().len(), 1);
		assert_eq!(store.rejected_reason(2).await.unwrap(), None);
		// A rejection of the stored one takes it out of the list...
		store.mark_rejected(2, 20, "AheadOfTime").await.unwrap();
		assert!(store.unsettled_vouchers(100).await.unwrap().is_empty());
		assert_eq!(store.rejected_reason(2).await.unwrap().as_deref(), Some("AheadOfTime"));
		// ...until a newer voucher replaces it.
		store.put_voucher(voucher(2, 1, 21)).await.unwrap();
		assert_eq!(store.unsettled_vouchers(100).await.unwrap().len(), 1);
		assert_eq!(store.rejected_reason(2).await.unwrap(), None);
		// More settled on chain than stored (another relayer): not unsettled either.
		store.mark_settled(2, 30).await.unwrap();
		assert!(store.unsettled_vouchers(100).await.unwrap().is_empty());
		// Unknown sessions: no-ops.
		store.mark_settled(99, 1).await.unwrap();
		store.mark_rejected(99, 1, "x").await.unwrap();
		assert_eq!(store.latest_voucher(99).await.unwrap(), None);
	}

	#[tokio::test]
	async fn reopen_keeps_data() {
		let dir = tempfile::tempdir().unwrap();
		{
			let store = open(&dir);
			store.put_voucher(voucher(5, 2, 42)).await.unwrap();
			store.append_chat(2, "alice".into(), "hi".into()).await.unwrap();
		}
		let store = open(&dir);
		assert_eq!(store.latest_voucher(5).await.unwrap(), Some(voucher(5, 2, 42)));
		assert_eq!(store.chat_history(2).await.unwrap().len(), 1);
		store.ping().await.unwrap();
	}

	#[tokio::test]
	async fn out_of_range_fails_only_that_request() {
		let dir = tempfile::tempdir().unwrap();
		let store = open(&dir);
		let mut v = voucher(1, 1, 1);
		v.cumulative_seconds = u64::MAX;
		let (a, b) = tokio::join!(store.put_voucher(v), store.put_voucher(voucher(2, 1, 3)));
		assert_eq!(a, Err(StoreError::OutOfRange("cumulative_seconds")));
		assert_eq!(b, Ok(()));
	}

	#[tokio::test]
	async fn chat_history_and_delete() {
		let dir = tempfile::tempdir().unwrap();
		let store = open(&dir);
		let mut ids = Vec::new();
		for i in 0..60 {
			let m = store.append_chat(1, "bob".into(), format!("m{i}")).await.unwrap();
			assert_eq!(m.text, format!("m{i}"));
			ids.push(m.id);
		}
		store.append_chat(2, "eve".into(), "elsewhere".into()).await.unwrap();
		let history = store.chat_history(1).await.unwrap();
		assert_eq!(history.len(), CHAT_HISTORY);
		assert_eq!(history.first().unwrap().text, "m10");
		assert_eq!(history.last().unwrap().text, "m59");
		// Deleting: only in its own stream, only once, and it leaves the history.
		assert!(!store.delete_chat(2, ids[59]).await.unwrap());
		assert!(store.delete_chat(1, ids[59]).await.unwrap());
		assert!(!store.delete_chat(1, ids[59]).await.unwrap());
		assert!(!store.delete_chat(1, 123_456).await.unwrap());
		let history = store.chat_history(1).await.unwrap();
		assert_eq!(history.len(), CHAT_HISTORY);
		assert_eq!(history.first().unwrap().text, "m9");
		assert_eq!(history.last().unwrap().text, "m58");
		assert_eq!(store.chat_history(3).await.unwrap(), vec![]);
	}

	fn intent(seconds: u64) -> CloseIntent {
		let pair = ed25519::Pair::from_seed(&[7; 32]);
		CloseIntent {
			cumulative_seconds: seconds,
			signer: VoucherSigner::VoucherKey,
			encoding: VoucherEncoding::Raw,
			signature: Signature::from(pair.sign(&seconds.to_le_bytes())),
		}
	}

	#[tokio::test]
	async fn releases_keep_the_highest_intent_and_know_what_is_unsettled() {
		let dir = tempfile::tempdir().unwrap();
		let store = open(&dir);
		store.put_voucher(voucher(1, 10, 20)).await.unwrap();
		store.put_voucher(voucher(2, 10, 30)).await.unwrap();
		store.put_voucher(voucher(3, 11, 30)).await.unwrap();
		store.request_release(1, 10, Some(intent(25))).await.unwrap();
		// A lower intent (a replayed beacon) does not replace it; a release without intent
		// keeps it.
		store.request_release(1, 10, Some(intent(22))).await.unwrap();
		store.request_release(1, 10, None).await.unwrap();
		// The stream ended: every session of it with a voucher is to be released.
		store.request_stream_release(10).await.unwrap();
		let pending = store.pending_releases(10).await.unwrap();
		assert_eq!(pending.iter().map(|r| r.session_id).collect::<Vec<_>>(), vec![1, 2]);
		assert_eq!(pending[0].intent, Some(intent(25)));
		assert_eq!(pending[1].intent, None);
		assert!(pending.iter().all(|r| r.unsettled && !r.intent_submitted));
		store.mark_settled(1, 20).await.unwrap();
		store.mark_intent_submitted(1).await.unwrap();
		let pending = store.pending_releases(10).await.unwrap();
		assert!(!pending[0].unsettled && pending[0].intent_submitted);
		assert!(pending[1].unsettled);
		// A higher intent comes: it is to be submitted again.
		store.request_release(1, 10, Some(intent(26))).await.unwrap();
		assert!(!store.pending_releases(10).await.unwrap()[0].intent_submitted);
		store.mark_released(1).await.unwrap();
		let pending = store.pending_releases(10).await.unwrap();
		assert_eq!(pending.iter().map(|r| r.session_id).collect::<Vec<_>>(), vec![2]);
		// A later request arms it again (the relay then reads the chain), with its intent.
		store.request_release(1, 10, Some(intent(40))).await.unwrap();
		let pending = store.pending_releases(10).await.unwrap();
		assert_eq!(pending.iter().map(|r| r.session_id).collect::<Vec<_>>(), vec![1, 2]);
		assert_eq!(pending[0].intent, Some(intent(40)));
		store.mark_released(1).await.unwrap();
		// Durable across a restart.
		drop(store);
		let store = open(&dir);
		assert_eq!(store.pending_releases(10).await.unwrap().len(), 1);
	}

	#[tokio::test]
	async fn a_tail_release_is_marked_and_keeps_the_intent() {
		let dir = tempfile::tempdir().unwrap();
		let store = open(&dir);
		store.put_voucher(voucher(1, 10, 3)).await.unwrap();
		store.request_release(2, 10, Some(intent(5))).await.unwrap();
		store.request_tail_release(1, 10).await.unwrap();
		store.request_tail_release(2, 10).await.unwrap();
		let pending = store.pending_releases(10).await.unwrap();
		assert!(pending.iter().all(|r| r.tail), "{pending:?}");
		assert!(pending[0].unsettled && pending[0].intent.is_none());
		assert_eq!(pending[1].intent, Some(intent(5)), "the viewer's intent stays");
		// A stream's end or a viewer's intent does not make a release a tail.
		store.request_release(3, 10, None).await.unwrap();
		store.mark_released(1).await.unwrap();
		drop(store);
		let store = open(&dir);
		let pending = store.pending_releases(10).await.unwrap();
		let tails: Vec<_> = pending.iter().map(|r| (r.session_id, r.tail)).collect();
		assert_eq!(tails, [(2, true), (3, false)]);
	}

	/// A database from before vouchers named their signer opens, and its vouchers read as the
	/// viewer's (which they were).
	#[tokio::test]
	async fn an_older_database_gains_the_signer_column() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("db.sqlite");
		{
			let conn = Connection::open(&path).unwrap();
			conn.execute_batch(
				"CREATE TABLE vouchers (session_id INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL, \
				 viewer BLOB NOT NULL, cumulative_seconds INTEGER NOT NULL, encoding INTEGER NOT NULL, \
				 signature BLOB NOT NULL, settled_seconds INTEGER NOT NULL DEFAULT 0, \
				 rejected_reason TEXT, updated_at INTEGER NOT NULL)",
			)
			.unwrap();
			let v = voucher(4, 1, 8);
			let viewer: &[u8] = v.viewer.as_ref();
			conn.execute(
				"INSERT INTO vouchers VALUES (4, 1, ?1, 8, 0, ?2, 0, NULL, 0)",
				params![viewer, v.signature.encode()],
			)
			.unwrap();
		}
		let store = Store::open(&path).unwrap();
		let v = store.latest_voucher(4).await.unwrap().unwrap();
		assert_eq!((v.cumulative_seconds, v.signer), (8, VoucherSigner::Viewer));
	}
}
