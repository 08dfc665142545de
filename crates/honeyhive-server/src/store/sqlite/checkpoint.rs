//! WAL checkpoints off the writer thread.
//!
//! A checkpoint copies the WAL's pages into the database file and syncs both
//! files. SQLite's autocheckpoint runs it inside the commit that crossed the
//! threshold, on the writer thread, so every request queued behind that commit
//! would wait for its `fsync`, and nothing could commit meanwhile.
//!
//! Here the writer only learns how many pages the WAL holds after each commit
//! (a WAL hook, which also switches autocheckpoint off) and asks a
//! [`Checkpointer`] thread, with a connection of its own, to run a `PASSIVE`
//! checkpoint. That copies alongside commits and never blocks one.
//!
//! A passive checkpoint cannot finish while commits keep landing, and SQLite
//! starts the WAL over only once every page in it has been copied. So:
//! - when the writer has been idle for [`CheckpointPolicy::idle_after`], it
//!   asks for one more checkpoint, which then copies everything, and the next
//!   commit starts the WAL over;
//! - under unbroken load the WAL is bounded: past [`CheckpointPolicy::wal_limit_pages`]
//!   the writer copies each step itself again, as SQLite's autocheckpoint did,
//!   so commits slow down to the pace the disk takes them.
//!
//! Starting over does not shrink the WAL file (no `journal_size_limit`): the
//! next commits overwrite it in place. Truncating it on the writer thread
//! would hold the first commit after a burst, and every one queued behind it,
//! while the kernel drops a large file from its page cache and waits for its
//! writeback. A file grown past [`CheckpointPolicy::keep_pages`] is cut back
//! by the checkpointer instead,
//! once the writer has been idle for [`CheckpointPolicy::shrink_after`] more.
//! If anyone is reading or writing then, it gives up at once and tries again
//! after the next such pause; a commit that arrives while it truncates waits.

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::{StoreResult, backend};

/// When checkpoints run; [`CheckpointPolicy::default`] is the store's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckpointPolicy {
    /// WAL pages added since the last request after which the checkpointer copies.
    ///
    /// 10 000 pages (~80 MB at 8 KiB): a hot index page is copied again at
    /// every step, so smaller steps copy the same pages many more times.
    pub(crate) every_pages: u32,
    /// WAL pages past which the writer copies each step itself.
    pub(crate) wal_limit_pages: u32,
    /// A writer idle this long hands the rest of the WAL to the checkpointer.
    pub(crate) idle_after: Duration,
    /// WAL pages the file may keep while the store is idle.
    pub(crate) keep_pages: u32,
    /// After the idle hand-over, a writer idle this much longer has the
    /// checkpointer cut a WAL file past `keep_pages` back to nothing.
    pub(crate) shrink_after: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every_pages: 10_000,
            // 512 MiB at 8 KiB: well above the 40 000 or so pages a 10 000-datapoint
            // experiment writes without a pause, so such a run never waits for
            // a checkpoint on the writer. An idle store gives the space back
            // (`keep_pages`).
            wal_limit_pages: 64_000,
            idle_after: Duration::from_secs(1),
            // 64 MiB at 8 KiB.
            keep_pages: 8192,
            shrink_after: Duration::from_secs(10),
        }
    }
}

thread_local! {
    /// Pages in the WAL after the last commit on this thread's connection.
    static WAL_PAGES: Cell<u32> = const { Cell::new(0) };
}

/// The WAL hook: SQLite calls it after each commit with the WAL's page count.
/// Only a plain `fn` can be registered, hence the thread-local; each store's
/// writer connection lives on a thread of its own.
fn record_wal_pages(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.set(u32::try_from(pages).unwrap_or(0));
    Ok(())
}

/// Checkpoint counters for `/metrics`.
#[derive(Debug, Default)]
pub(super) struct CheckpointCounters {
    /// Pages in the WAL after the last commit.
    pub(super) wal_pages: AtomicU64,
    /// Checkpoints the checkpointer thread ran.
    pub(super) background: AtomicU64,
    /// Checkpoints the writer ran itself, past the WAL limit.
    pub(super) on_writer: AtomicU64,
    /// Time in checkpoints, both kinds.
    pub(super) micros: AtomicU64,
    /// Times an idle store cut its WAL file back.
    pub(super) shrinks: AtomicU64,
    /// The WAL file has grown past `keep_pages` and not been cut back since.
    oversized: AtomicBool,
}

/// What the writer asks of the checkpointer.
enum Request {
    /// Copy what the WAL holds (`PASSIVE`: never waits, never blocks a commit).
    Copy,
    /// Copy everything and truncate the WAL file, unless anyone is reading or
    /// writing (`TRUNCATE` without a busy handler).
    Shrink,
}

/// The writer's side: decides after each commit, hands the copying over.
pub(super) struct Checkpoints {
    policy: CheckpointPolicy,
    requests: Option<crossbeam_channel::Sender<Request>>,
    busy: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<CheckpointCounters>,
    /// WAL pages when the checkpointer was last asked to copy.
    requested_at: u32,
}

impl Checkpoints {
    /// Starts the checkpointer on its own connection to `path` and hooks the
    /// writer's `conn` (switching its autocheckpoint off).
    pub(super) fn start(
        conn: &Connection,
        path: &Path,
        policy: CheckpointPolicy,
        counters: Arc<CheckpointCounters>,
    ) -> StoreResult<Checkpoints> {
        let checkpoint_conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(backend)?;
        checkpoint_conn
            .busy_timeout(CHECKPOINTER_BUSY_TIMEOUT)
            .map_err(backend)?;
        let (requests, received) = crossbeam_channel::bounded::<Request>(1);
        let busy = Arc::new(AtomicBool::new(false));
        let thread_busy = busy.clone();
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("hh-sqlite-ckpt".into())
            .spawn(move || {
                for request in received {
                    serve(&checkpoint_conn, request, &thread_counters);
                    thread_busy.store(false, Ordering::Release);
                }
            })
            .map_err(backend)?;
        conn.wal_hook(Some(record_wal_pages));
        Ok(Checkpoints {
            policy,
            requests: Some(requests),
            busy,
            thread: Some(thread),
            counters,
            requested_at: 0,
        })
    }

    /// How long the writer may wait for a job before [`Checkpoints::idle`] is
    /// due; `None` when the checkpointer has been asked for every page already
    /// and the WAL file is small.
    pub(super) fn idle_timeout(&self) -> Option<Duration> {
        if WAL_PAGES.get() > self.requested_at {
            Some(self.policy.idle_after)
        } else if self.counters.oversized.load(Ordering::Acquire) {
            Some(self.policy.shrink_after)
        } else {
            None
        }
    }

    /// After a commit on the writer's connection `conn`.
    pub(super) fn after_commit(&mut self, conn: &Connection) {
        let pages = WAL_PAGES.get();
        if pages > self.policy.keep_pages {
            self.counters.oversized.store(true, Ordering::Release);
        }
        self.counters
            .wal_pages
            .store(u64::from(pages), Ordering::Relaxed);
        if pages < self.requested_at {
            // The WAL started over.
            self.requested_at = 0;
        }
        if pages - self.requested_at < self.policy.every_pages {
            return;
        }
        if pages < self.policy.wal_limit_pages {
            self.request(pages);
        } else if !self.busy.load(Ordering::Acquire) {
            self.checkpoint_here(conn);
            self.requested_at = pages;
        }
    }

    /// The writer found no work for [`Checkpoints::idle_timeout`].
    pub(super) fn idle(&mut self) {
        let pages = WAL_PAGES.get();
        if pages > self.requested_at {
            self.request(pages);
        } else if self.counters.oversized.load(Ordering::Acquire) {
            // Until it succeeds, the next idle moment asks again.
            self.send(Request::Shrink);
        }
    }

    /// Asks the checkpointer to copy the WAL's `pages`, unless it is still copying
    /// (then a later commit or idle moment asks again).
    fn request(&mut self, pages: u32) {
        if self.send(Request::Copy) {
            self.requested_at = pages;
        }
    }

    /// Hands `request` to the checkpointer; false when it is still busy.
    fn send(&self, request: Request) -> bool {
        if self.busy.swap(true, Ordering::AcqRel) {
            return false;
        }
        let sent = self
            .requests
            .as_ref()
            .is_some_and(|requests| requests.try_send(request).is_ok());
        if !sent {
            self.busy.store(false, Ordering::Release);
        }
        sent
    }

    /// A passive checkpoint on the writer's own connection.
    fn checkpoint_here(&self, conn: &Connection) {
        let started = Instant::now();
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(error = %e, "WAL checkpoint on the writer failed");
        }
        let counters = &self.counters;
        counters.on_writer.fetch_add(1, Ordering::Relaxed);
        counters
            .micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    }

    /// Waits for the checkpointer to finish and stops it.
    pub(super) fn stop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How long the checkpointer's connection waits on a lock, but for a shrink.
const CHECKPOINTER_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs one request on the checkpointer's connection.
fn serve(conn: &Connection, request: Request, counters: &CheckpointCounters) {
    let started = Instant::now();
    let mode = match request {
        Request::Copy => "PASSIVE",
        Request::Shrink => "TRUNCATE",
    };
    // A shrink waits for readers while holding the write lock: with a busy
    // handler it would hold commits back; without one it gives up at once.
    let shrinking = matches!(request, Request::Shrink);
    if shrinking {
        let _ = conn.busy_timeout(Duration::ZERO);
    }
    // One row: (busy, WAL pages, pages copied); busy = 1 when a shrink gave up.
    let outcome = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        row.get::<_, i64>(0)
    });
    if shrinking {
        let _ = conn.busy_timeout(CHECKPOINTER_BUSY_TIMEOUT);
    }
    match (outcome, request) {
        (Ok(0), Request::Shrink) => {
            counters.oversized.store(false, Ordering::Release);
            counters.shrinks.fetch_add(1, Ordering::Relaxed);
        }
        (Ok(_), _) => {}
        (Err(e), _) => tracing::warn!(error = %e, mode, "background WAL checkpoint failed"),
    }
    counters.background.fetch_add(1, Ordering::Relaxed);
    counters
        .micros
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreStats;
    use crate::store::sqlite::{SqliteStore, SyncMode};
    use crate::testing::TempDir;

    const NEVER: Duration = Duration::from_secs(3600);

    fn open(policy: CheckpointPolicy) -> (TempDir, SqliteStore, tokio::runtime::Runtime) {
        let dir = TempDir::new();
        let store = SqliteStore::open_with(dir.path(), SyncMode::Normal, policy).expect("open");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime
            .block_on(store.write(|conn| {
                conn.execute_batch("CREATE TABLE IF NOT EXISTS pages (v BLOB)")
                    .map_err(backend)
            }))
            .expect("table");
        (dir, store, runtime)
    }

    /// Commits one row of about a page; the stats after it.
    fn write_page(store: &SqliteStore, runtime: &tokio::runtime::Runtime) -> StoreStats {
        runtime
            .block_on(store.write(|conn| {
                conn.execute("INSERT INTO pages (v) VALUES (zeroblob(7000))", [])
                    .map_err(backend)
            }))
            .expect("write");
        store.writer_stats()
    }

    fn wal_file_len(dir: &TempDir) -> u64 {
        let name = format!("{}-wal", super::super::DB_FILE_NAME);
        std::fs::metadata(dir.path().join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Polls `done` every 20 ms for up to 5 s.
    fn eventually(mut done: impl FnMut() -> bool) -> bool {
        (0..250).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            done()
        })
    }

    fn rows(store: &SqliteStore) -> i64 {
        store
            .read_blocking(|conn| {
                conn.query_row("SELECT count(*) FROM pages", [], |row| row.get(0))
                    .map_err(backend)
            })
            .expect("count")
    }

    #[test]
    fn the_checkpointer_thread_copies_while_the_writer_commits() {
        let (_dir, store, runtime) = open(CheckpointPolicy {
            every_pages: 20,
            wal_limit_pages: u32::MAX,
            idle_after: NEVER,
            keep_pages: u32::MAX,
            shrink_after: NEVER,
        });
        for _ in 0..150 {
            let stats = write_page(&store, &runtime);
            assert_eq!(stats.checkpoints_on_writer, 0);
        }
        store.close();
        let stats = store.writer_stats();
        assert!(stats.checkpoints_background >= 2, "{stats:?}");
        assert!(stats.checkpoint_seconds_sum > 0.0, "{stats:?}");
        assert_eq!(rows(&store), 150);
    }

    #[test]
    fn an_idle_writer_hands_the_rest_over_and_the_wal_starts_over() {
        // No checkpoint by page count: only the idle one can empty the WAL.
        let (_dir, store, runtime) = open(CheckpointPolicy {
            every_pages: u32::MAX,
            wal_limit_pages: u32::MAX,
            idle_after: Duration::from_millis(50),
            keep_pages: u32::MAX,
            shrink_after: NEVER,
        });
        let mut peak = 0;
        for _ in 0..40 {
            peak = peak.max(write_page(&store, &runtime).wal_pages);
        }
        assert!(peak >= 20, "the WAL grew under writes: {peak} pages");
        // Each pause lets the idle checkpoint copy everything; the next commit
        // then writes from the WAL's start.
        let restarted = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(200));
            write_page(&store, &runtime).wal_pages <= 3
        });
        let stats = store.writer_stats();
        assert!(restarted, "the WAL never started over: {stats:?}");
        assert!(stats.checkpoints_background >= 1, "{stats:?}");
        assert_eq!(stats.checkpoints_on_writer, 0);
        assert!(rows(&store) >= 41);
    }

    #[test]
    fn past_the_limit_the_writer_checkpoints_itself_until_the_wal_starts_over() {
        let (dir, store, runtime) = open(CheckpointPolicy {
            every_pages: 20,
            wal_limit_pages: 60,
            idle_after: NEVER,
            keep_pages: u32::MAX,
            shrink_after: NEVER,
        });
        // A reader in the middle of a long query pins its snapshot: no checkpoint
        // can copy past it, so the WAL cannot start over while it reads.
        let reader = Connection::open(dir.path().join(super::super::DB_FILE_NAME)).expect("reader");
        reader.execute_batch("BEGIN").expect("begin read");
        let pinned: i64 = reader
            .query_row("SELECT count(*) FROM pages", [], |row| row.get(0))
            .expect("read");
        let mut peak = 0;
        for _ in 0..120 {
            peak = peak.max(write_page(&store, &runtime).wal_pages);
        }
        let pinned_stats = store.writer_stats();
        assert!(peak > 60, "{pinned_stats:?}");
        assert!(pinned_stats.checkpoints_on_writer >= 1, "{pinned_stats:?}");
        reader.execute_batch("COMMIT").expect("end read");
        assert_eq!(pinned, 0);

        // Released: the WAL starts over, again and again, instead of growing.
        // (The writer skips its own checkpoint while the checkpointer still
        // copies, whose fsync can outlast many commits on a loaded machine:
        // hence up to 2 000 writes rather than a fixed few.)
        let mut after: Vec<u64> = Vec::new();
        let mut restarts = 0;
        while restarts < 2 && after.len() < 2000 {
            after.push(write_page(&store, &runtime).wal_pages);
            restarts = after.windows(2).filter(|w| w[1] < w[0]).count();
        }
        assert!(restarts >= 2, "{after:?}");
        assert_eq!(rows(&store), 120 + after.len() as i64);
    }

    #[test]
    fn a_wal_that_starts_over_keeps_its_file_and_an_idle_store_cuts_it_back() {
        let (dir, store, runtime) = open(CheckpointPolicy {
            every_pages: u32::MAX,
            wal_limit_pages: u32::MAX,
            idle_after: Duration::from_millis(50),
            keep_pages: 10,
            shrink_after: Duration::from_millis(300),
        });
        let mut peak = 0;
        for _ in 0..40 {
            peak = peak.max(write_page(&store, &runtime).wal_pages);
        }
        let grown = wal_file_len(&dir);
        assert!(grown >= peak * 8192, "{grown} bytes for {peak} pages");
        // The idle hand-over copies everything; the next commit starts the WAL
        // over without truncating the file on the writer.
        std::thread::sleep(Duration::from_millis(150));
        let restarted = write_page(&store, &runtime);
        assert!(restarted.wal_pages <= 3, "{restarted:?}");
        assert_eq!(restarted.wal_shrinks, 0);
        assert_eq!(wal_file_len(&dir), grown);
        // Left idle, the checkpointer cuts the file back (and counts it after).
        assert!(
            eventually(|| store.writer_stats().wal_shrinks == 1),
            "{:?}",
            store.writer_stats()
        );
        assert_eq!(wal_file_len(&dir), 0);
        // Once cut back, an idle store leaves the file alone.
        std::thread::sleep(Duration::from_millis(1000));
        assert_eq!(store.writer_stats().wal_shrinks, 1);
        write_page(&store, &runtime);
        assert_eq!(rows(&store), 42);
    }

    #[test]
    fn a_shrink_gives_up_while_someone_reads_and_commits_go_on() {
        let (dir, store, runtime) = open(CheckpointPolicy {
            every_pages: u32::MAX,
            wal_limit_pages: u32::MAX,
            idle_after: Duration::from_millis(30),
            keep_pages: 10,
            shrink_after: Duration::from_millis(30),
        });
        for _ in 0..40 {
            write_page(&store, &runtime);
        }
        let reader = Connection::open(dir.path().join(super::super::DB_FILE_NAME)).expect("reader");
        reader.execute_batch("BEGIN").expect("begin read");
        let pinned: i64 = reader
            .query_row("SELECT count(*) FROM pages", [], |row| row.get(0))
            .expect("read");
        assert_eq!(pinned, 40);
        // Hand-over and shrinks come and go while the snapshot is held.
        assert!(eventually(
            || store.writer_stats().checkpoints_background >= 3
        ));
        assert_eq!(store.writer_stats().wal_shrinks, 0);
        assert!(wal_file_len(&dir) > 0);
        write_page(&store, &runtime);
        reader.execute_batch("COMMIT").expect("end read");
        // Released: a later idle moment tries again and succeeds.
        assert!(
            eventually(|| store.writer_stats().wal_shrinks == 1),
            "{:?}",
            store.writer_stats()
        );
        assert_eq!(wal_file_len(&dir), 0);
        assert_eq!(rows(&store), 41);
    }
}
