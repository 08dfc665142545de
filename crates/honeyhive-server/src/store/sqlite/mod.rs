//! The embedded SQLite backend: one file in the data directory, WAL mode.
//!
//! Writes go through one writer thread that does group commit: it takes every
//! job queued while the previous commit was running, runs them all in one
//! `BEGIN IMMEDIATE` transaction, commits once, and only then answers each job.
//! A failing job does not affect the others: when one fails, the group is
//! rolled back and run again with a savepoint per job, and the failing job
//! rolls back only its own. (Jobs are re-runnable for this: a savepoint per
//! job in every group would cost the writer a copy of each page a job first
//! touches.)
//! Reads use a small pool of connections on the blocking thread pool; WAL lets
//! them run alongside the writer.
//!
//! Checkpoints run on a thread of their own (`checkpoint.rs`), so a commit
//! never waits behind one.
//!
//! Durability: `synchronous=FULL` by default, so a committed transaction has
//! been fsynced before any request is acknowledged (survives power loss).
//! [`SyncMode::Normal`] is offered for benchmarks: in WAL mode it still
//! survives a process kill (the commit reached the OS) but not power loss.

mod buckets;
mod catalog;
mod changes;
mod checkpoint;
mod datasets;
mod documents;
mod events;
mod filter;
mod ingest;
mod keys;
mod limits;
pub(crate) mod migrations;
mod params;
mod parked;
mod rows;
mod runs;
mod sessions;
mod timeseries;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

use super::{StoreError, StoreResult, StoreStats};
use changes::{Sequence, highest_seq};
use checkpoint::{CheckpointPolicy, Checkpoints};
use writer::{
    ClosureJob, FeedSlot, Job, WRITE_QUEUE_CAPACITY, WriterCounters, WriterMessage, writer_loop,
};

pub(crate) use rows::{EVENT_COLUMNS, event_from_row};

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync on every WAL commit: survives process kill and power loss.
    #[default]
    Full,
    /// No fsync on commit: survives a process kill (WAL), not power loss.
    Normal,
}

/// The file name of the database inside the data directory.
pub const DB_FILE_NAME: &str = "honeyhive.db";

/// Page size of a new database (an existing one keeps its own: changing it
/// would need a VACUUM, and both sizes work).
///
/// Ingest dirties index leaves at random (event and session ids are random),
/// so each commit writes, syncs and later checkpoints roughly one page per
/// trace and index. With 8 KiB pages the b-trees are a level shallower and a
/// commit handles fewer, fuller pages (`BENCHMARKS.md` compares the sizes).
const PAGE_SIZE: u32 = 8192;

/// The writer connection's page cache, in KiB (SQLite's negative `cache_size`).
///
/// Ids from most clients are random (the Python SDK's UUIDv4; this SDK's are
/// time-first), so a write lands on a random leaf of the primary key and of
/// each index. Once those b-trees outgrow the cache, a write first reads its
/// page back from the WAL or the database file (a `pread` each), on the one
/// writer thread every commit waits for. The cache fills only as the
/// database grows, so a small store never holds 64 MiB.
const WRITER_CACHE_KIB: u32 = 64 * 1024;

/// Prepared statements the writer connection keeps.
const WRITER_STATEMENT_CACHE: usize = 64;

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// Reads running at once; more wait their turn (without holding a thread).
/// Bounds the read connections' file descriptors and the memory reads hold:
/// each read is bounded by the read limits, and at most this many run.
const MAX_CONCURRENT_READS: usize = 8;

/// The embedded SQLite store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use honeyhive_server::store::{IngestStore, sqlite::{SqliteStore, SyncMode}};
/// let dir = std::env::temp_dir().join(format!("hh-doc-{}", std::process::id()));
/// let store = SqliteStore::open(&dir, SyncMode::Normal).unwrap();
/// store.check_writable().await.unwrap();
/// store.close();
/// # let _ = std::fs::remove_dir_all(&dir);
/// # }
/// ```
pub struct SqliteStore {
    path: PathBuf,
    writer: crossbeam_channel::Sender<WriterMessage>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<ReaderPool>,
    counters: Arc<WriterCounters>,
    sequence: Arc<Sequence>,
    feed: Arc<FeedSlot>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

/// A backend failure, keeping its cause: a SQLite error, or what went wrong
/// in words.
pub(crate) fn backend(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::Backend(e.into())
}

/// A row read's error: the [`StoreError`] a row decoder raised (a corrupt
/// stored document, carried through rusqlite as a conversion failure), else a
/// backend failure.
pub(crate) fn read_error(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(_, _, source) if source.is::<StoreError>() => {
            match source.downcast::<StoreError>() {
                Ok(store_error) => *store_error,
                Err(other) => backend(other),
            }
        }
        other => backend(other),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir` and runs pending migrations.
    pub fn open(data_dir: &Path, sync: SyncMode) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(data_dir, sync, CheckpointPolicy::default())
    }

    /// [`SqliteStore::open`] with its own checkpoint thresholds.
    fn open_with(
        data_dir: &Path,
        sync: SyncMode,
        checkpoint_policy: CheckpointPolicy,
    ) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| backend(format!("create data dir {}: {e}", data_dir.display())))?;
        let path = data_dir.join(DB_FILE_NAME);
        let mut conn = Connection::open(&path).map_err(backend)?;
        // The writer runs the write statements of every resource; rusqlite's
        // default cache of 16 would evict and re-parse some of them.
        conn.set_prepared_statement_cache_capacity(WRITER_STATEMENT_CACHE);
        let synchronous = match sync {
            SyncMode::Full => "FULL",
            SyncMode::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA page_size={PAGE_SIZE}; PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; \
             PRAGMA busy_timeout=5000; PRAGMA cache_size=-{WRITER_CACHE_KIB}; PRAGMA temp_store=MEMORY; \
             PRAGMA journal_size_limit=-1;"
        ))
        .map_err(backend)?;
        migrations::run(&mut conn)?;
        let sequence = Arc::new(Sequence::after(highest_seq(&conn)?));
        let feed = Arc::new(FeedSlot::new());

        let counters = Arc::new(WriterCounters::default());
        let checkpoints = Checkpoints::start(
            &conn,
            &path,
            checkpoint_policy,
            counters.checkpoints.clone(),
        )?;
        let (tx, rx) = crossbeam_channel::bounded(WRITE_QUEUE_CAPACITY);
        let (thread_counters, thread_feed) = (counters.clone(), feed.clone());
        let handle = std::thread::Builder::new()
            .name("hh-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, thread_counters, checkpoints, thread_feed))
            .map_err(backend)?;
        Ok(SqliteStore {
            path: path.clone(),
            writer: tx,
            writer_thread: Mutex::new(Some(handle)),
            readers: Arc::new(ReaderPool {
                path: path.clone(),
                idle: Mutex::new(Vec::new()),
                slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_READS)),
            }),
            counters,
            sequence,
            feed,
        })
    }

    /// Sends every commit from now on to `feed` (once it listens), in commit
    /// order, after it is durable and before its writers are answered. A
    /// store has one feed: false, and `feed` unused, if one is attached.
    pub fn attach_feed(&self, feed: Arc<dyn crate::store::CommitFeed>) -> bool {
        self.feed.set(feed).is_ok()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the writer after the jobs already queued, and waits for it.
    /// Later writes fail with a backend error. Idempotent.
    pub fn close(&self) {
        let _ = self.writer.send(WriterMessage::Stop);
        if let Some(handle) = self.writer_thread.lock().take() {
            let _ = handle.join();
        }
        self.readers.idle.lock().clear();
    }

    /// Runs `f` on a pooled read-only connection on the blocking thread pool.
    ///
    /// Reads see every committed write (WAL snapshot at statement start).
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.spawn_read(f).await
    }

    /// [`SqliteStore::read`], started at once rather than when first awaited:
    /// reads spawned together run side by side on connections of their own.
    pub(crate) fn spawn_read<T, F>(
        &self,
        f: F,
    ) -> impl Future<Output = StoreResult<T>> + Send + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        let task = tokio::spawn(async move {
            let _slot = pool
                .slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| backend("store is closed"))?;
            tokio::task::spawn_blocking(move || pool.with(f))
                .await
                .map_err(|e| backend(format!("read task failed: {e}")))?
        });
        async move {
            task.await
                .map_err(|e| backend(format!("read task failed: {e}")))?
        }
    }

    /// Runs `f` on a pooled read-only connection on the current thread
    /// (for callers already off the async runtime).
    #[cfg(test)]
    pub(crate) fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.readers.with(f)
    }

    /// Runs `f` on the writer thread inside the group-commit transaction and
    /// returns its result once the transaction is committed.
    ///
    /// If `f` returns `Err`, only its own changes are rolled back. `f` may run
    /// twice (see the module doc), each time against the same database state, so
    /// it must not consume what it writes. `f` must not `BEGIN`/`COMMIT` itself.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.write_weighted(1, f).await
    }

    /// [`SqliteStore::write`] for a job writing about `weight` rows, so the
    /// writer can keep its groups bounded.
    pub(crate) async fn write_weighted<T, F>(&self, weight: usize, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        self.submit(Box::new(ClosureJob {
            write: f,
            weight,
            outcome: None,
            answer: tx,
        }))?;
        rx.await
            .map_err(|_| backend("store writer stopped before committing"))?
    }

    /// Queues `job` for the writer; `Busy` when the queue is full.
    fn submit(&self, job: Box<dyn Job>) -> StoreResult<()> {
        self.counters.queue_depth.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.writer.try_send(WriterMessage::Job(job)) {
            self.counters.queue_depth.fetch_sub(1, Ordering::Relaxed);
            return Err(match e {
                crossbeam_channel::TrySendError::Full(_) => StoreError::Busy,
                crossbeam_channel::TrySendError::Disconnected(_) => backend("store is closed"),
            });
        }
        Ok(())
    }

    /// Live writer counters.
    pub fn writer_stats(&self) -> StoreStats {
        let c = &self.counters;
        StoreStats {
            queue_depth: c.queue_depth.load(Ordering::Relaxed),
            commits: c.commits.load(Ordering::Relaxed),
            commit_seconds_sum: c.commit_micros.load(Ordering::Relaxed) as f64 / 1e6,
            jobs_committed: c.jobs_committed.load(Ordering::Relaxed),
            wal_pages: c.checkpoints.wal_pages.load(Ordering::Relaxed),
            checkpoints_background: c.checkpoints.background.load(Ordering::Relaxed),
            checkpoints_on_writer: c.checkpoints.on_writer.load(Ordering::Relaxed),
            checkpoint_seconds_sum: c.checkpoints.micros.load(Ordering::Relaxed) as f64 / 1e6,
            wal_shrinks: c.checkpoints.shrinks.load(Ordering::Relaxed),
            metric_bucket_failures: c.bucket_failures.load(Ordering::Relaxed),
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// Idle read-only connections, reused across reads, and the slots that bound
/// how many reads run at once.
struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl ReaderPool {
    fn open(&self) -> StoreResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(backend)?;
        conn.execute_batch("PRAGMA busy_timeout=5000; PRAGMA cache_size=-8000;")
            .map_err(backend)?;
        Ok(conn)
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let pooled = self.idle.lock().pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.open()?,
        };
        let result = f(&conn);
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// Records an API key hash for `project_name` without a running store
/// (`hh keys create`): opens the database directly, migrates it, writes, closes.
pub(crate) fn put_api_key_offline(
    data_dir: &Path,
    key_hash: &str,
    project_name: &str,
) -> StoreResult<super::Tenant> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| backend(format!("create data dir {}: {e}", data_dir.display())))?;
    let mut conn = Connection::open(data_dir.join(DB_FILE_NAME)).map_err(backend)?;
    conn.execute_batch(&format!(
        "PRAGMA page_size={PAGE_SIZE}; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
             PRAGMA busy_timeout=5000;"
    ))
    .map_err(backend)?;
    migrations::run(&mut conn)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    let tenant = keys::put_api_key(&tx, key_hash, project_name)?;
    tx.commit().map_err(backend)?;
    Ok(tenant)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn no_more_reads_run_at_once_than_the_pool_has_slots() {
        let dir = crate::testing::TempDir::new();
        let store = Arc::new(SqliteStore::open(dir.path(), SyncMode::Normal).expect("open"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let done = runtime.block_on(async {
            let reads: Vec<_> = (0..3 * MAX_CONCURRENT_READS)
                .map(|_| {
                    let (running, most) = (running.clone(), most.clone());
                    store.spawn_read(move |_conn| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                })
                .collect();
            let mut done = 0;
            for read in reads {
                read.await.expect("read");
                done += 1;
            }
            done
        });
        assert_eq!(done, 3 * MAX_CONCURRENT_READS);
        let most = most.load(Ordering::SeqCst);
        assert!(most <= MAX_CONCURRENT_READS, "{most} reads ran at once");
        store.close();
    }
}
