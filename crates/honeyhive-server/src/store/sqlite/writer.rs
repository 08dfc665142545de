//! The writer thread: group commit of queued write jobs.
//!
//! See the module doc of [`super`] for how groups commit and fail.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rusqlite::Connection;

use super::backend;
use super::buckets::BucketDeltas;
use super::checkpoint::{CheckpointCounters, Checkpoints};
use crate::store::{CommitFeed, Committed, StoreError, StoreResult, Tenant};

/// Where the writer sends what it committed: set once, when the server
/// attaches its live feed; until then commits are fed nowhere.
pub(super) type FeedSlot = std::sync::OnceLock<Arc<dyn CommitFeed>>;

/// Most jobs grouped into one commit, so one slow group cannot grow without bound.
const MAX_JOBS_PER_COMMIT: usize = 256;

/// Most rows (events, sessions, enrichments) grouped into one commit: a group
/// stops growing past it, so a write queued behind it waits for a bounded
/// commit. One job heavier than this still commits alone.
const MAX_WEIGHT_PER_COMMIT: usize = 4000;

/// Write jobs that may wait for the writer; past it writes fail as busy.
pub(super) const WRITE_QUEUE_CAPACITY: usize = 4096;

/// One write of a group: run inside the group transaction (possibly twice, see
/// the module doc), then answered with the commit's outcome.
pub(super) trait Job: Send {
    /// Runs the write; false when it failed (its changes are then the caller's
    /// to roll back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the group's commit finished.
    fn reply(self: Box<Self>, commit: Result<(), StoreError>);
    /// Rows the job writes, roughly (see `MAX_WEIGHT_PER_COMMIT`).
    fn weight(&self) -> usize;
    /// What the job changed, for the commit feed; asked once its group
    /// committed and only while someone listens, before `reply`.
    fn take_committed(&mut self) -> Option<Committed> {
        None
    }
    /// What the job adds to the metric buckets, asked once its group ran
    /// (and before it commits) when it succeeded.
    fn take_buckets(&mut self) -> Option<(&Tenant, BucketDeltas)> {
        None
    }
}

/// A [`Job`] from a closure and the channel its caller waits on.
pub(super) struct ClosureJob<T, F> {
    pub(super) write: F,
    pub(super) weight: usize,
    pub(super) outcome: Option<StoreResult<T>>,
    pub(super) answer: tokio::sync::oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for ClosureJob<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| (self.write)(conn))) {
            Ok(outcome) => outcome,
            Err(_) => Err(backend("write job panicked")),
        };
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn reply(self: Box<Self>, commit: Result<(), StoreError>) {
        let outcome = self
            .outcome
            .unwrap_or_else(|| Err(backend("write job did not run")));
        let _ = self.answer.send(commit.and(outcome));
    }

    fn weight(&self) -> usize {
        self.weight
    }
}

pub(super) enum WriterMessage {
    Job(Box<dyn Job>),
    Stop,
}

/// Counters shared between the writer thread and `/metrics`.
#[derive(Default)]
pub(super) struct WriterCounters {
    pub(super) queue_depth: AtomicU64,
    pub(super) commits: AtomicU64,
    pub(super) commit_micros: AtomicU64,
    pub(super) jobs_committed: AtomicU64,
    /// Project bucket writes rolled back (the events still committed).
    pub(super) bucket_failures: AtomicU64,
    pub(super) checkpoints: Arc<CheckpointCounters>,
}

/// Runs one cached statement that returns no rows.
///
/// The savepoint statements run twice per job: cached, they are parsed once,
/// not at every run (`execute_batch` parses its SQL each time).
fn run_cached(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(|_| ())
        .map_err(backend)
}

/// Runs `job` inside a savepoint of its own; a failure rolls back only its changes.
fn run_in_savepoint(conn: &Connection, job: &mut dyn Job) -> StoreResult<()> {
    run_cached(conn, "SAVEPOINT job")?;
    if job.run(conn) {
        run_cached(conn, "RELEASE job")
    } else {
        run_cached(conn, "ROLLBACK TO job")?;
        run_cached(conn, "RELEASE job")
    }
}

/// Runs a group's jobs in the open transaction: all at once, and if one fails,
/// again from a clean transaction with a savepoint each.
fn run_group(conn: &Connection, jobs: &mut [Box<dyn Job>]) -> StoreResult<()> {
    if jobs.iter_mut().all(|job| job.run(conn)) {
        return Ok(());
    }
    // Some errors end the transaction themselves; then there is nothing to undo.
    let _ = conn.execute_batch("ROLLBACK");
    conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    for job in jobs.iter_mut() {
        run_in_savepoint(conn, job.as_mut())?;
    }
    Ok(())
}

/// The jobs of one commit, and what taking them off the queue found.
struct Group {
    jobs: Vec<Box<dyn Job>>,
    /// A job that would have passed the group's weight: the next group's first.
    carried: Option<Box<dyn Job>>,
    /// Whether the queue asked the writer to stop.
    stop: bool,
}

/// `first` and the jobs queued behind it, until the group holds
/// [`MAX_JOBS_PER_COMMIT`] jobs or [`MAX_WEIGHT_PER_COMMIT`] rows.
fn fill_group(first: Box<dyn Job>, rx: &crossbeam_channel::Receiver<WriterMessage>) -> Group {
    let mut weight = first.weight();
    let mut group = Group {
        jobs: vec![first],
        carried: None,
        stop: false,
    };
    while group.jobs.len() < MAX_JOBS_PER_COMMIT && weight < MAX_WEIGHT_PER_COMMIT {
        match rx.try_recv() {
            Ok(WriterMessage::Job(job)) => {
                if weight + job.weight() > MAX_WEIGHT_PER_COMMIT {
                    group.carried = Some(job);
                    break;
                }
                weight += job.weight();
                group.jobs.push(job);
            }
            Ok(WriterMessage::Stop) => {
                group.stop = true;
                break;
            }
            Err(_) => break,
        }
    }
    group
}

/// Writes what the group's jobs add to the metric buckets, summed per
/// project first: one row write per bucket per commit, not per job. The
/// buckets are derived from the events: a project whose bucket write fails
/// is rolled back to before it, counted and logged, and the group's events
/// still commit.
fn write_buckets(
    conn: &Connection,
    jobs: &mut [Box<dyn Job>],
    counters: &WriterCounters,
) -> StoreResult<()> {
    let mut projects: Vec<(Tenant, BucketDeltas)> = Vec::new();
    for job in jobs.iter_mut() {
        let Some((tenant, deltas)) = job.take_buckets() else {
            continue;
        };
        match projects.iter_mut().find(|(t, _)| t == tenant) {
            Some((_, into)) => into.absorb(deltas),
            None => projects.push((tenant.clone(), deltas)),
        }
    }
    for (tenant, deltas) in projects {
        run_cached(conn, "SAVEPOINT buckets")?;
        if let Err(e) = deltas.write(conn, &tenant) {
            run_cached(conn, "ROLLBACK TO buckets")?;
            counters.bucket_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(project = %tenant.project_id, error = %e,
                "metric buckets not updated for this commit; its events are stored");
        }
        run_cached(conn, "RELEASE buckets")?;
    }
    Ok(())
}

/// Hands a committed group's changes to the feed, if anyone listens: one
/// call per commit, in commit order, before any of its writers is answered.
fn feed_commit(feed: &FeedSlot, jobs: &mut [Box<dyn Job>]) {
    let Some(feed) = feed.get().filter(|feed| feed.is_listening()) else {
        return;
    };
    let committed: Vec<Committed> = jobs.iter_mut().filter_map(|j| j.take_committed()).collect();
    if !committed.is_empty() {
        feed.committed(committed);
    }
}

pub(super) fn writer_loop(
    conn: Connection,
    rx: crossbeam_channel::Receiver<WriterMessage>,
    counters: Arc<WriterCounters>,
    mut checkpoints: Checkpoints,
    feed: Arc<FeedSlot>,
) {
    let mut stopping = false;
    // A job taken off the queue that would have made the last group too heavy.
    let mut carried: Option<Box<dyn Job>> = None;
    while !stopping {
        let first = match carried.take() {
            Some(job) => job,
            None => {
                let received = match checkpoints.idle_timeout() {
                    Some(timeout) => match rx.recv_timeout(timeout) {
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                            checkpoints.idle();
                            continue;
                        }
                        received => received.ok(),
                    },
                    None => rx.recv().ok(),
                };
                match received {
                    Some(WriterMessage::Job(job)) => job,
                    Some(WriterMessage::Stop) | None => break,
                }
            }
        };
        let group = fill_group(first, &rx);
        let mut jobs = group.jobs;
        carried = group.carried;
        stopping = group.stop;
        counters
            .queue_depth
            .fetch_sub(jobs.len() as u64, Ordering::Relaxed);
        let started = Instant::now();
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let message = format!("begin transaction: {e}");
            for job in jobs {
                job.reply(Err(backend(message.clone())));
            }
            continue;
        }
        let count = jobs.len() as u64;
        // Shared by every job's answer, each keeping it as its source.
        let commit = run_group(&conn, &mut jobs)
            .and_then(|()| write_buckets(&conn, &mut jobs, &counters))
            .and_then(|()| conn.execute_batch("COMMIT").map_err(backend))
            .map_err(Arc::new);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        counters.commits.fetch_add(1, Ordering::Relaxed);
        counters
            .commit_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        if commit.is_ok() {
            counters.jobs_committed.fetch_add(count, Ordering::Relaxed);
            feed_commit(&feed, &mut jobs);
        }
        checkpoints.after_commit(&conn);
        for job in jobs {
            let outcome = match &commit {
                Ok(()) => Ok(()),
                Err(e) => Err(backend(Arc::clone(e))),
            };
            job.reply(outcome);
        }
    }
    if let Some(job) = carried {
        job.reply(Err(backend("store is closed")));
    }
    checkpoints.stop();
    // Fold the WAL back into the main file so a restart opens quickly.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::oneshot::Receiver;

    use super::*;

    type Answer = Receiver<StoreResult<usize>>;

    fn job<F>(write: F) -> (Box<dyn Job>, Answer)
    where
        F: FnMut(&Connection) -> StoreResult<usize> + Send + 'static,
    {
        weighted(1, write)
    }

    fn weighted<F>(weight: usize, write: F) -> (Box<dyn Job>, Answer)
    where
        F: FnMut(&Connection) -> StoreResult<usize> + Send + 'static,
    {
        let (answer, rx) = tokio::sync::oneshot::channel();
        let job = ClosureJob {
            write,
            weight,
            outcome: None,
            answer,
        };
        (Box::new(job), rx)
    }

    #[test]
    fn a_group_stops_before_a_job_that_would_make_it_too_heavy() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let heavy = MAX_WEIGHT_PER_COMMIT - 500;
        for weight in [heavy, heavy, 10] {
            let _ = tx.send(WriterMessage::Job(weighted(weight, |_| Ok(0)).0));
        }
        let _ = tx.send(WriterMessage::Stop);
        let first = fill_group(weighted(10, |_| Ok(0)).0, &rx);
        assert_eq!(
            first.jobs.iter().map(|j| j.weight()).collect::<Vec<_>>(),
            [10, heavy]
        );
        assert!(!first.stop);
        let carried = first.carried.expect("the second heavy job waits");
        let second = fill_group(carried, &rx);
        assert_eq!(
            second.jobs.iter().map(|j| j.weight()).collect::<Vec<_>>(),
            [heavy, 10]
        );
        assert!(second.stop && second.carried.is_none());
        let alone = fill_group(weighted(MAX_WEIGHT_PER_COMMIT * 3, |_| Ok(0)).0, &rx);
        assert_eq!(
            alone.jobs.len(),
            1,
            "a job heavier than the cap still commits"
        );
    }

    /// A job inserting `value`, counting its runs.
    fn insert(value: i64, runs: &Arc<AtomicUsize>) -> (Box<dyn Job>, Answer) {
        let runs = runs.clone();
        job(move |conn| {
            runs.fetch_add(1, Ordering::SeqCst);
            conn.execute("INSERT INTO t (v) VALUES (?1)", [value])
                .map_err(backend)
        })
    }

    /// Runs `jobs` as the writer does and returns the table's values.
    fn commit_group(conn: &Connection, mut jobs: Vec<Box<dyn Job>>) -> Vec<i64> {
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        run_group(conn, &mut jobs).expect("group");
        conn.execute_batch("COMMIT").expect("commit");
        for job in jobs {
            job.reply(Ok(()));
        }
        conn.prepare("SELECT v FROM t ORDER BY v")
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
            .expect("values")
    }

    fn table() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (v INTEGER)")
            .expect("table");
        conn
    }

    #[test]
    fn a_group_without_failures_runs_each_job_once() {
        let conn = table();
        let runs = Arc::new(AtomicUsize::new(0));
        let (a, mut answer_a) = insert(1, &runs);
        let (b, mut answer_b) = insert(2, &runs);
        assert_eq!(commit_group(&conn, vec![a, b]), [1, 2]);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(answer_a.try_recv().expect("answered").expect("ok"), 1);
        assert_eq!(answer_b.try_recv().expect("answered").expect("ok"), 1);
    }

    #[test]
    fn a_failing_or_panicking_job_undoes_only_its_own_writes() {
        let conn = table();
        let runs = Arc::new(AtomicUsize::new(0));
        let (before, mut answer_before) = insert(1, &runs);
        let (failing, mut answer_failing) = job(|conn| {
            conn.execute("INSERT INTO t (v) VALUES (2)", [])
                .map_err(backend)?;
            Err(StoreError::Invalid("refused".into()))
        });
        let (after, mut answer_after) = insert(3, &runs);
        let (panicking, mut answer_panicking) = job(|conn| {
            conn.execute("INSERT INTO t (v) VALUES (4)", [])
                .map_err(backend)?;
            panic!("a write job that panics")
        });
        let values = commit_group(&conn, vec![before, failing, after, panicking]);
        assert_eq!(values, [1, 3]);
        // `before` ran in the first pass and again after the rollback; `after`
        // only in the second (the first stopped at the failure).
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(answer_before.try_recv().expect("answered").expect("ok"), 1);
        assert_eq!(answer_after.try_recv().expect("answered").expect("ok"), 1);
        assert!(matches!(
            answer_failing.try_recv().expect("answered"),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            answer_panicking.try_recv().expect("answered"),
            Err(StoreError::Backend(m)) if m.to_string().contains("panicked")
        ));
    }
}
