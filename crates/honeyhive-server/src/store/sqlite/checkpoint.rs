//! WAL checkpoints off the writer thread.
//!
//! A checkpoint copies the WAL's pages into the database file and syncs both
//! files. SQLite's autocheckpoint runs it inside the commit that crossed the
//! threshold, on the writer thread, so every request queued behind that commit
//! waited for it: in the experiment bench, each 10 000-page checkpoint spent
//! 170–230 ms in `fsync` while nothing could commit, several times a run.
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

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::{StoreResult, WriterCounters, backend};

/// When checkpoints run; [`CheckpointPolicy::default`] is the store's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckpointPolicy {
    /// WAL pages added since the last request after which the checkpointer copies.
    ///
    /// 10 000 pages (~80 MB at 8 KiB): smaller steps copy a hot index page again
    /// for every step; with SQLite's 1000 that copying was 16 % of the server's
    /// CPU in a busy ingest.
    pub(crate) every_pages: u32,
    /// WAL pages past which the writer copies each step itself.
    pub(crate) wal_limit_pages: u32,
    /// A writer idle this long hands the rest of the WAL to the checkpointer.
    pub(crate) idle_after: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every_pages: 10_000,
            // 512 MiB at 8 KiB. A 10 000-datapoint experiment writes about 40 000
            // pages without a pause; at a 40 000 limit the writer still ran one
            // checkpoint in each such run. The file shrinks back to
            // `WAL_KEEP_BYTES` once the WAL starts over.
            wal_limit_pages: 64_000,
            idle_after: Duration::from_secs(1),
        }
    }
}

/// Size the WAL file is cut back to when it starts over (`journal_size_limit`),
/// so a burst's WAL does not keep its disk space.
pub(super) const WAL_KEEP_BYTES: u64 = 64 * 1024 * 1024;

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
}

/// The writer's side: decides after each commit, hands the copying over.
pub(super) struct Checkpoints {
    policy: CheckpointPolicy,
    requests: Option<crossbeam_channel::Sender<()>>,
    busy: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<WriterCounters>,
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
        counters: Arc<WriterCounters>,
    ) -> StoreResult<Checkpoints> {
        let checkpoint_conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(backend)?;
        checkpoint_conn
            .execute_batch("PRAGMA busy_timeout=5000;")
            .map_err(backend)?;
        let (requests, received) = crossbeam_channel::bounded::<()>(1);
        let busy = Arc::new(AtomicBool::new(false));
        let thread_busy = busy.clone();
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("hh-sqlite-ckpt".into())
            .spawn(move || {
                for () in received {
                    let started = Instant::now();
                    if let Err(e) = checkpoint_conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
                    {
                        tracing::warn!(error = %e, "background WAL checkpoint failed");
                    }
                    let counters = &thread_counters.checkpoints;
                    counters.background.fetch_add(1, Ordering::Relaxed);
                    counters
                        .micros
                        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
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
    /// due; `None` when the checkpointer has been asked for every page already.
    pub(super) fn idle_timeout(&self) -> Option<Duration> {
        (WAL_PAGES.get() > self.requested_at).then_some(self.policy.idle_after)
    }

    /// After a commit on the writer's connection `conn`.
    pub(super) fn after_commit(&mut self, conn: &Connection) {
        let pages = WAL_PAGES.get();
        self.counters
            .checkpoints
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
        self.request(WAL_PAGES.get());
    }

    /// Asks the checkpointer to copy the WAL's `pages`, unless it is still copying
    /// (then a later commit or idle moment asks again).
    fn request(&mut self, pages: u32) {
        if self.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        self.requested_at = pages;
        if let Some(requests) = &self.requests
            && requests.try_send(()).is_err()
        {
            self.busy.store(false, Ordering::Release);
        }
    }

    /// A passive checkpoint on the writer's own connection.
    fn checkpoint_here(&self, conn: &Connection) {
        let started = Instant::now();
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(error = %e, "WAL checkpoint on the writer failed");
        }
        let counters = &self.counters.checkpoints;
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
        let after: Vec<u64> = (0..80)
            .map(|_| write_page(&store, &runtime).wal_pages)
            .collect();
        let restarts = after.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(restarts >= 2, "{after:?}");
        assert_eq!(rows(&store), 200);
    }
}
