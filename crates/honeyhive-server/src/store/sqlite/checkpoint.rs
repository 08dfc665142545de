//! WAL checkpoints off the writer thread.
//!
//! A checkpoint copies the WAL's pages into the database file and syncs both
//! files. SQLite's autocheckpoint runs it inside the commit that crossed the
//! threshold, on the writer thread, so every request queued behind that commit
//! would wait for its `fsync`, and nothing could commit meanwhile.
//!
//! Here the writer only learns how many pages the WAL holds after each commit
//! (a WAL hook, which also switches autocheckpoint off) and asks a
//! checkpointer thread, with a connection of its own, to run a `PASSIVE`
//! checkpoint. That copies alongside commits and never blocks one.
//!
//! A passive checkpoint cannot finish while commits keep landing, and SQLite
//! starts the WAL over only once every page in it has been copied. So:
//! - when the writer has been idle for [`CheckpointPolicy::idle_after`], it
//!   asks for one more checkpoint, which then copies everything, and the next
//!   commit starts the WAL over;
//! - under unbroken load the WAL is bounded: the first commit past
//!   [`CheckpointPolicy::wal_limit_pages`] copies the rest on the writer, as
//!   SQLite's autocheckpoint did, so the next commit starts the WAL over and
//!   commits slow down to the pace the disk takes them. SQLite runs one
//!   checkpoint at a time, so if the checkpointer is still copying, the writer
//!   first waits for it: skipping instead would let the WAL grow for as long
//!   as that copy and its `fsync` take, which the load on the disk decides.
//!   Only a read still using an older snapshot keeps the WAL past the limit
//!   (no checkpoint copies over pages it may read); the writer then copies
//!   again at each further step until the WAL starts over.
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

use parking_lot::{Condvar, Mutex};
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
    /// WAL pages past which the writer copies the rest itself (after the
    /// checkpointer, if it is copying), and again at each step while a reader
    /// keeps the WAL from starting over.
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
            // 500 MiB at 8 KiB: well above the 40 000 or so pages a 10 000-datapoint
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

/// Whether the checkpointer is serving a request; the writer can wait for it.
#[derive(Default)]
struct Serving {
    busy: Mutex<bool>,
    finished: Condvar,
}

impl Serving {
    /// Runs `hand_over` unless a request is still being served; true (and busy
    /// from then on) when it handed one over.
    fn hand_over(&self, hand_over: impl FnOnce() -> bool) -> bool {
        let mut busy = self.busy.lock();
        if *busy {
            return false;
        }
        *busy = hand_over();
        *busy
    }

    /// Blocks until no request is being served.
    fn wait(&self) {
        let mut busy = self.busy.lock();
        while *busy {
            self.finished.wait(&mut busy);
        }
    }

    fn finish(&self) {
        *self.busy.lock() = false;
        self.finished.notify_all();
    }
}

/// Finishes the request being served when dropped, also when serving it
/// panicked: a writer waiting for it must not wait forever.
struct Served<'a>(&'a Serving);

impl Drop for Served<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// The writer's side: decides after each commit, hands the copying over.
pub(super) struct Checkpoints {
    policy: CheckpointPolicy,
    requests: Option<crossbeam_channel::Sender<Request>>,
    serving: Arc<Serving>,
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
        Checkpoints::start_serving(conn, path, policy, counters, serve)
    }

    /// [`Checkpoints::start`] with the checkpointer running each request
    /// through `serve_one` (tests hold it there to play a slow disk).
    fn start_serving(
        conn: &Connection,
        path: &Path,
        policy: CheckpointPolicy,
        counters: Arc<CheckpointCounters>,
        serve_one: impl Fn(&Connection, Request, &CheckpointCounters) + Send + 'static,
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
        let serving = Arc::new(Serving::default());
        let thread_serving = serving.clone();
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("hh-sqlite-ckpt".into())
            .spawn(move || {
                for request in received {
                    let started = Instant::now();
                    let served = Served(&thread_serving);
                    serve_one(&checkpoint_conn, request, &thread_counters);
                    drop(served);
                    // Counted once the checkpointer takes requests again, so
                    // whoever sees the count can have the next one served.
                    thread_counters.background.fetch_add(1, Ordering::Relaxed);
                    thread_counters
                        .micros
                        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                }
            })
            .map_err(backend)?;
        conn.wal_hook(Some(record_wal_pages));
        Ok(Checkpoints {
            policy,
            requests: Some(requests),
            serving,
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
        let step_due = pages - self.requested_at >= self.policy.every_pages;
        if pages < self.policy.wal_limit_pages {
            if step_due {
                self.request(pages);
            }
        } else if step_due || self.requested_at < self.policy.wal_limit_pages {
            // The first commit past the limit, or a step on while a reader
            // holds the WAL: copy the rest here, after whatever the
            // checkpointer still copies (a second checkpoint would find SQLite's
            // checkpoint lock taken and copy nothing).
            self.serving.wait();
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
        self.serving.hand_over(|| {
            self.requests
                .as_ref()
                .is_some_and(|requests| requests.try_send(request).is_ok())
        })
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
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
