//! The embedded SQLite backend: one file in the data directory, WAL mode.
//!
//! Writes go through one writer thread that does group commit: it takes every
//! job queued while the previous commit was running, runs each inside its own
//! savepoint of one `BEGIN IMMEDIATE` transaction, commits once, and only then
//! answers each job. A failing job rolls back its own savepoint and does not
//! affect the others. Reads use a small pool of connections on the blocking
//! thread pool; WAL lets them run alongside the writer.
//!
//! Durability: `synchronous=FULL` by default, so a committed transaction has
//! been fsynced before any request is acknowledged (survives power loss).
//! [`SyncMode::Normal`] is offered for benchmarks: in WAL mode it still
//! survives a process kill (the commit reached the OS) but not power loss.

mod events;
pub(crate) mod experiments;
mod keys;
pub(crate) mod migrations;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

use super::{StoreError, StoreResult, StoreStats};

pub(crate) use events::{EVENT_COLUMNS, event_from_row};

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

/// Most jobs grouped into one commit, so one slow group cannot grow without bound.
const MAX_JOBS_PER_COMMIT: usize = 256;
/// WAL pages after which a commit folds the WAL back into the database file.
///
/// SQLite's default (1000 pages, 4 MB) made nearly every group commit of a
/// busy ingest also run a checkpoint: 16% of the server's CPU in profiles,
/// copying pages that the next commit dirtied again. 10 000 pages (~40 MB of
/// WAL) lets a checkpoint copy a hot index page once for many commits.
/// Durability is unchanged: a commit is durable once its WAL frames are synced.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;
/// Page size of a new database (an existing one keeps its own: changing it
/// would need a VACUUM, and both sizes work).
///
/// Ingest dirties index leaves at random (event and session ids are random),
/// so each commit writes, syncs and later checkpoints roughly one page per
/// trace and index. With 8 KiB pages the b-trees are a level shallower and a
/// commit handles fewer, fuller pages: about 6 % less server CPU per span
/// than 4 KiB in `hh bench ingest` (2 KiB: 8 % more, 16 KiB and up: no gain).
const PAGE_SIZE: u32 = 8192;
/// The writer connection's page cache, in KiB (SQLite's negative `cache_size`).
///
/// Ids are random, so every write lands on a random leaf of the primary key and
/// of each index. Once those b-trees outgrow the cache, writes first read the
/// page back, from the WAL or the database file (a `pread` each): with 16 MiB
/// that was a sixth of the writer's CPU in a 23 000-datapoint experiment bench;
/// with 64 MiB the writer thread's CPU there fell from 5.3–6.1 s to 4.6–4.7 s
/// (3 alternated runs each; `BENCHMARKS.md`). The cache
/// fills only as the database grows, so a small store never holds 64 MiB.
const WRITER_CACHE_KIB: u32 = 64 * 1024;
/// Prepared statements the writer connection keeps.
const WRITER_STATEMENT_CACHE: usize = 64;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// Called once the group's commit finished, with the commit's outcome.
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// Runs on the writer thread inside the group transaction.
type Job = Box<dyn FnOnce(&Connection) -> Reply + Send>;

enum WriterMessage {
    Job(Job),
    Stop,
}

/// Counters shared between the writer thread and `/metrics`.
#[derive(Default)]
struct WriterCounters {
    queue_depth: AtomicU64,
    commits: AtomicU64,
    commit_micros: AtomicU64,
    jobs_committed: AtomicU64,
}

/// The embedded SQLite store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use honeyhive_server::store::{EventStore, sqlite::{SqliteStore, SyncMode}};
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
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir` and runs pending migrations.
    pub fn open(data_dir: &Path, sync: SyncMode) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| backend(format!("create data dir {}: {e}", data_dir.display())))?;
        let path = data_dir.join(DB_FILE_NAME);
        let mut conn = Connection::open(&path).map_err(backend)?;
        // The writer runs the ingest statements plus the experiments store's;
        // rusqlite's default cache of 16 would evict and re-parse some of them.
        conn.set_prepared_statement_cache_capacity(WRITER_STATEMENT_CACHE);
        let synchronous = match sync {
            SyncMode::Full => "FULL",
            SyncMode::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA page_size={PAGE_SIZE}; PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; \
             PRAGMA busy_timeout=5000; PRAGMA cache_size=-{WRITER_CACHE_KIB}; PRAGMA temp_store=MEMORY; \
             PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES};"
        ))
        .map_err(backend)?;
        migrations::run(&mut conn)?;

        let counters = Arc::new(WriterCounters::default());
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread_counters = counters.clone();
        let handle = std::thread::Builder::new()
            .name("hh-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, thread_counters))
            .map_err(backend)?;
        Ok(SqliteStore {
            path: path.clone(),
            writer: tx,
            writer_thread: Mutex::new(Some(handle)),
            readers: Arc::new(ReaderPool {
                path: path.clone(),
                idle: Mutex::new(Vec::new()),
            }),
            counters,
        })
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
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || pool.with(f))
            .await
            .map_err(|e| backend(format!("read task failed: {e}")))?
    }

    /// Runs `f` on a pooled read-only connection on the current thread
    /// (for callers already off the async runtime).
    #[allow(dead_code)] // offered to the experiments side
    pub(crate) fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.readers.with(f)
    }

    /// Runs `f` on the writer thread inside the group-commit transaction and
    /// returns its result once the transaction is committed.
    ///
    /// `f` runs inside its own savepoint: if it returns `Err`, only its own
    /// changes are rolled back. `f` must not `BEGIN`/`COMMIT` itself.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn: &Connection| -> Reply {
            let outcome = run_in_savepoint(conn, f);
            Box::new(move |commit: Result<(), StoreError>| {
                let _ = tx.send(commit.and(outcome));
            })
        });
        self.counters.queue_depth.fetch_add(1, Ordering::Relaxed);
        if self.writer.send(WriterMessage::Job(job)).is_err() {
            self.counters.queue_depth.fetch_sub(1, Ordering::Relaxed);
            return Err(backend("store is closed"));
        }
        rx.await
            .map_err(|_| backend("store writer stopped before committing"))?
    }

    /// Live writer counters.
    pub fn writer_stats(&self) -> StoreStats {
        let c = &self.counters;
        StoreStats {
            queue_depth: c.queue_depth.load(Ordering::Relaxed),
            commits: c.commits.load(Ordering::Relaxed),
            commit_seconds_sum: c.commit_micros.load(Ordering::Relaxed) as f64 / 1e6,
            jobs_committed: c.jobs_committed.load(Ordering::Relaxed),
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// Idle read-only connections, reused across reads.
struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
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

/// Runs one cached statement that returns no rows.
///
/// The savepoint statements run twice per job; `execute_batch` parsed them
/// anew each time, about 5 % of the server's CPU on small event requests.
fn run_cached(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(|_| ())
        .map_err(backend)
}

fn run_in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    run_cached(conn, "SAVEPOINT job")?;
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| f(conn))) {
        Ok(outcome) => outcome,
        Err(_) => Err(backend("write job panicked")),
    };
    match &outcome {
        Ok(_) => run_cached(conn, "RELEASE job")?,
        Err(_) => {
            // Undo this job only; the rest of the group still commits.
            run_cached(conn, "ROLLBACK TO job")?;
            run_cached(conn, "RELEASE job")?;
        }
    }
    outcome
}

fn writer_loop(
    conn: Connection,
    rx: crossbeam_channel::Receiver<WriterMessage>,
    counters: Arc<WriterCounters>,
) {
    let mut stopping = false;
    while !stopping {
        let first = match rx.recv() {
            Ok(WriterMessage::Job(job)) => job,
            Ok(WriterMessage::Stop) | Err(_) => break,
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS_PER_COMMIT {
            match rx.try_recv() {
                Ok(WriterMessage::Job(job)) => jobs.push(job),
                Ok(WriterMessage::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        counters
            .queue_depth
            .fetch_sub(jobs.len() as u64, Ordering::Relaxed);
        let started = Instant::now();
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let message = format!("begin transaction: {e}");
            for job in jobs {
                // The job never ran; answer it with the failure.
                let reply = job_reply_without_running(job);
                reply(Err(backend(&message)));
            }
            continue;
        }
        let count = jobs.len() as u64;
        let replies: Vec<Reply> = jobs.into_iter().map(|job| job(&conn)).collect();
        let commit = conn.execute_batch("COMMIT").map_err(backend);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        counters.commits.fetch_add(1, Ordering::Relaxed);
        counters
            .commit_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        if commit.is_ok() {
            counters.jobs_committed.fetch_add(count, Ordering::Relaxed);
        }
        for reply in replies {
            let outcome = match &commit {
                Ok(()) => Ok(()),
                Err(e) => Err(backend(e)),
            };
            reply(outcome);
        }
    }
    // Fold the WAL back into the main file so a restart opens quickly.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}

/// A job that could not run still owes its caller an answer; running it
/// against a closed transaction would be wrong, so it is dropped, which drops
/// its reply channel and the caller sees "writer stopped".
fn job_reply_without_running(job: Job) -> Reply {
    drop(job);
    Box::new(|_| {})
}

/// Milliseconds since the Unix epoch, as HoneyHive stores times.
pub(crate) fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
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
