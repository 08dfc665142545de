//! Tests of the checkpoint policy, on a store and on a writer beside a
//! checkpointer held as long as a test likes.

use std::sync::atomic::AtomicBool;

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

fn db_file_len(dir: &TempDir) -> u64 {
    std::fs::metadata(dir.path().join(super::super::DB_FILE_NAME))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Polls `done` every 20 ms for up to 10 s.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    (0..500).any(|_| {
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
    let (dir, store, runtime) = open(CheckpointPolicy {
        every_pages: 20,
        wal_limit_pages: u32::MAX,
        idle_after: NEVER,
        keep_pages: u32::MAX,
        shrink_after: NEVER,
    });
    let db_before = db_file_len(&dir);
    // Each round adds about 30 WAL pages, so a commit in it asks for a copy
    // unless the checkpointer is still on the last one; either way a copy
    // finishes after the round began.
    for round in 1..=3 {
        let before = store.writer_stats().checkpoints_background;
        for _ in 0..10 {
            assert_eq!(write_page(&store, &runtime).checkpoints_on_writer, 0);
        }
        assert!(
            eventually(|| store.writer_stats().checkpoints_background > before),
            "round {round}: {:?}",
            store.writer_stats()
        );
    }
    // The copies reached the database file; the writer never made one.
    assert!(db_file_len(&dir) > db_before, "{db_before} bytes before");
    let stats = store.writer_stats();
    assert_eq!(stats.checkpoints_on_writer, 0);
    assert!(stats.checkpoint_seconds_sum > 0.0, "{stats:?}");
    assert_eq!(rows(&store), 30);
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

    // Released: the next step copies everything and the WAL starts over;
    // from then on it never passes the limit by more than one commit.
    let after: Vec<u64> = (0..200)
        .map(|_| write_page(&store, &runtime).wal_pages)
        .collect();
    let restarts: Vec<usize> = (1..after.len())
        .filter(|&i| after[i] < after[i - 1])
        .collect();
    let commit_pages = after.windows(2).map(|w| w[1].saturating_sub(w[0])).max();
    let first = restarts.first().copied().unwrap_or(after.len());
    assert!(first <= 20, "{after:?}");
    assert!(
        after[first..]
            .iter()
            .all(|&pages| pages < 60 + commit_pages.unwrap_or(0)),
        "{after:?}"
    );
    assert!(restarts.len() >= 5, "{after:?}");
    assert_eq!(rows(&store), 120 + after.len() as i64);
}

/// One commit of a [`HeldWriter`]: the WAL's pages after it, and whether the
/// checkpointer was still held then.
#[derive(Debug, Clone, Copy)]
struct Commit {
    pages: u32,
    held: bool,
}

/// A writer committing rows of about a page on a thread of its own, as the
/// store's writer does (`after_commit` after each), beside a checkpointer
/// that holds every request it gets until [`HeldWriter::release`]: a disk
/// that takes its time.
struct HeldWriter {
    commits: Arc<Mutex<Vec<Commit>>>,
    held: Arc<AtomicBool>,
    release: Option<crossbeam_channel::Sender<()>>,
    counters: Arc<CheckpointCounters>,
    writer: JoinHandle<()>,
}

impl HeldWriter {
    fn spawn(dir: &TempDir, policy: CheckpointPolicy, rows: usize) -> HeldWriter {
        let path = dir.path().join("held.db");
        let (release, gate) = crossbeam_channel::bounded::<()>(0);
        let commits = Arc::new(Mutex::new(Vec::new()));
        let held = Arc::new(AtomicBool::new(true));
        let counters = Arc::new(CheckpointCounters::default());
        let (thread_commits, thread_held, thread_counters) =
            (commits.clone(), held.clone(), counters.clone());
        let writer = std::thread::spawn(move || {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(
                "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                 CREATE TABLE pages (v BLOB)",
            )
            .expect("schema");
            let held_serve = move |conn: &Connection, request, counters: &CheckpointCounters| {
                // Returns once released (the sender dropped).
                let _ = gate.recv();
                serve(conn, request, counters);
            };
            let mut checkpoints =
                Checkpoints::start_serving(&conn, &path, policy, thread_counters, held_serve)
                    .expect("checkpointer");
            for _ in 0..rows {
                conn.execute("INSERT INTO pages (v) VALUES (zeroblob(7000))", [])
                    .expect("insert");
                thread_commits.lock().push(Commit {
                    pages: WAL_PAGES.get(),
                    held: thread_held.load(Ordering::SeqCst),
                });
                checkpoints.after_commit(&conn);
            }
            checkpoints.stop();
        });
        HeldWriter {
            commits,
            held,
            release: Some(release),
            counters,
            writer,
        }
    }

    fn commits(&self) -> Vec<Commit> {
        self.commits.lock().clone()
    }

    /// Lets the checkpointer serve this and every later request.
    fn release(&mut self) {
        self.held.store(false, Ordering::SeqCst);
        drop(self.release.take());
    }

    /// Waits for the writer to finish its rows; its commits.
    fn join(self) -> Vec<Commit> {
        self.writer.join().expect("writer");
        self.commits.lock().clone()
    }
}

#[test]
fn past_the_limit_the_writer_waits_for_a_busy_checkpointer_and_the_wal_starts_over() {
    let dir = TempDir::new();
    let limit = 60;
    let mut writer = HeldWriter::spawn(
        &dir,
        CheckpointPolicy {
            every_pages: 20,
            wal_limit_pages: limit,
            idle_after: NEVER,
            keep_pages: u32::MAX,
            shrink_after: NEVER,
        },
        150,
    );
    // The checkpointer holds the copy asked for at 20 pages; the writer goes
    // on committing up to the limit.
    assert!(
        eventually(|| writer.commits().iter().any(|c| c.pages >= limit)),
        "{:?}",
        writer.commits()
    );
    writer.release();
    let counters = writer.counters.clone();
    let commits = writer.join();
    let first_past = commits
        .iter()
        .position(|c| c.pages >= limit)
        .expect("a commit past the limit");
    let asked_at = commits
        .iter()
        .position(|c| c.pages >= 20)
        .expect("a commit past the first step");
    assert!(first_past - asked_at >= 5, "{commits:?}");
    // No commit after the one that passed the limit landed until the
    // checkpointer was let go, and the very next one started the WAL over.
    assert!(!commits[first_past + 1].held, "{commits:?}");
    assert!(
        commits[first_past + 1].pages < commits[first_past].pages,
        "{commits:?}"
    );
    // So the WAL never passed the limit by a whole commit, held or not.
    let commit_pages = commits
        .windows(2)
        .map(|w| w[1].pages.saturating_sub(w[0].pages))
        .max()
        .unwrap_or(0);
    assert!(
        commits.iter().all(|c| c.pages < limit + commit_pages),
        "{commits:?}"
    );
    let restarts = commits.windows(2).filter(|w| w[1].pages < w[0].pages);
    assert!(restarts.count() >= 5, "{commits:?}");
    assert!(counters.on_writer.load(Ordering::Relaxed) >= 5);
    assert!(counters.background.load(Ordering::Relaxed) >= 1);
}

#[test]
fn a_wal_that_starts_over_keeps_its_file_and_an_idle_store_cuts_it_back() {
    let (dir, store, runtime) = open(CheckpointPolicy {
        every_pages: u32::MAX,
        wal_limit_pages: u32::MAX,
        idle_after: Duration::from_millis(50),
        keep_pages: 10,
        shrink_after: Duration::from_secs(2),
    });
    let mut peak = 0;
    for _ in 0..40 {
        peak = peak.max(write_page(&store, &runtime).wal_pages);
    }
    let grown = wal_file_len(&dir);
    assert!(grown >= peak * 8192, "{grown} bytes for {peak} pages");
    // The idle hand-over copies everything; the next commit starts the WAL
    // over without truncating the file on the writer. (On a loaded machine
    // the pause may come before the checkpointer got to it: then again.)
    let restarted = (1..=40).find_map(|attempt| {
        std::thread::sleep(Duration::from_millis(250));
        let before = wal_file_len(&dir);
        let stats = write_page(&store, &runtime);
        (stats.wal_pages <= 3).then(|| (attempt, stats, before, wal_file_len(&dir)))
    });
    let (attempts, restarted, len_before, len_after) = restarted.expect("the WAL started over");
    assert_eq!(restarted.wal_shrinks, 0, "{restarted:?}");
    assert!(len_before >= grown);
    assert_eq!(len_after, len_before);
    // Left idle, the checkpointer cuts the file back (and counts it after).
    assert!(
        eventually(|| store.writer_stats().wal_shrinks == 1),
        "{:?}",
        store.writer_stats()
    );
    assert_eq!(wal_file_len(&dir), 0);
    // Once cut back, an idle store leaves the file alone.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(store.writer_stats().wal_shrinks, 1);
    write_page(&store, &runtime);
    assert_eq!(rows(&store), 41 + attempts);
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
