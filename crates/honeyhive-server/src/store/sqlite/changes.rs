//! The commit sequence in SQLite: the numbers the writer hands out, what a
//! write batch changed, and the write job that feeds it to the live feed.
//!
//! Every stored event carries `seq`, the number of its last change, and
//! `created_seq`, the number it was stored with; `events_by_seq` (partial:
//! rows stored before the column existed have none) answers "what changed
//! after N" per project. Numbers are taken on the one writer thread in the
//! order jobs run, and groups commit in that order, so a later commit always
//! holds larger numbers. A job that is rolled back leaves its numbers unused.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use honeyhive_model::Event;
use rusqlite::Connection;

use super::backend;
use super::buckets::{BatchFigures, BucketDeltas};
use super::writer::Job;
use crate::store::{
    Change, ChangeKind, Committed, StoreError, StoreResult, Tenant, WriteBatch, WriteSummary,
};

/// The commit sequence's last number taken. Only the writer takes numbers.
#[derive(Debug, Default)]
pub(crate) struct Sequence(AtomicU64);

impl Sequence {
    /// A sequence whose next number is `last + 1`.
    pub(crate) fn after(last: u64) -> Sequence {
        Sequence(AtomicU64::new(last))
    }

    /// The next number.
    pub(crate) fn take(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The highest number any event holds: each project's highest, found with
/// one index seek per project (the projects themselves found by seeking the
/// primary key from one project id to the next, not by a scan).
pub(crate) fn highest_seq(conn: &Connection) -> StoreResult<u64> {
    let highest: i64 = conn
        .query_row(
            "WITH RECURSIVE p(id) AS ( \
                 SELECT min(project_id) FROM events \
                 UNION ALL \
                 SELECT (SELECT min(project_id) FROM events WHERE project_id > p.id) \
                 FROM p WHERE p.id IS NOT NULL) \
             SELECT coalesce(max((SELECT max(seq) FROM events \
                 WHERE project_id = p.id AND seq IS NOT NULL)), 0) \
             FROM p WHERE p.id IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .map_err(backend)?;
    Ok(u64::try_from(highest).unwrap_or(0))
}

/// What one write batch changed, in sequence order: events it stored (by
/// their place in the batch, so they are moved, not copied, to the feed) and
/// events it created or merged outside the batch's own list.
#[derive(Debug, Default)]
pub(crate) struct ChangeLog {
    entries: Vec<Logged>,
    /// What the changes add to the streaming metric buckets.
    pub(crate) buckets: BucketDeltas,
}

#[derive(Debug)]
enum Logged {
    /// `batch.events[index]` was stored as change `seq`.
    Stored { index: usize, seq: u64 },
    /// Any other change, with the event as it was written.
    Other(Change),
}

impl ChangeLog {
    /// `batch.events[index]` was stored as change `seq`.
    pub(crate) fn stored(&mut self, index: usize, seq: u64) {
        self.entries.push(Logged::Stored { index, seq });
    }

    /// Another change.
    pub(crate) fn changed(&mut self, change: Change) {
        self.entries.push(Logged::Other(change));
    }

    /// The changes, moving the stored events out of `events` (the batch's).
    pub(crate) fn into_changes(self, events: &mut [Event]) -> Vec<Change> {
        self.entries
            .into_iter()
            .filter_map(|entry| match entry {
                Logged::Stored { index, seq } => events.get_mut(index).map(|event| Change {
                    seq,
                    kind: ChangeKind::Created,
                    event: std::mem::take(event),
                }),
                Logged::Other(change) => Some(change),
            })
            .collect()
    }
}

/// Applies a write batch in the caller's transaction, numbering its changes.
pub(super) type ApplyBatch = fn(
    &Connection,
    &Tenant,
    (&WriteBatch, &BatchFigures),
    &Sequence,
) -> StoreResult<(WriteSummary, ChangeLog)>;

/// A write batch as a writer job: applied in the group transaction (by
/// `apply`, the ingest module's), its changes handed to the commit feed once
/// the group is durable.
pub(super) struct WriteJob {
    pub(super) tenant: Tenant,
    pub(super) batch: WriteBatch,
    /// What the batch's events add to the metric buckets, if stored.
    pub(super) figures: BatchFigures,
    pub(super) apply: ApplyBatch,
    pub(super) sequence: Arc<Sequence>,
    pub(super) outcome: Option<StoreResult<(WriteSummary, ChangeLog)>>,
    pub(super) answer: tokio::sync::oneshot::Sender<StoreResult<WriteSummary>>,
}

impl Job for WriteJob {
    fn run(&mut self, conn: &Connection) -> bool {
        let (tenant, sequence) = (&self.tenant, &self.sequence);
        let batch = (&self.batch, &self.figures);
        let apply = self.apply;
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| apply(conn, tenant, batch, sequence)))
                .unwrap_or_else(|_| Err(backend("write job panicked")));
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn reply(self: Box<Self>, commit: Result<(), StoreError>) {
        let outcome = match self.outcome {
            Some(outcome) => outcome.map(|(summary, _)| summary),
            None => Err(backend("write job did not run")),
        };
        let _ = self.answer.send(commit.and(outcome));
    }

    fn weight(&self) -> usize {
        self.batch.weight()
    }

    fn take_buckets(&mut self) -> Option<(&Tenant, BucketDeltas)> {
        let Some(Ok((_, log))) = self.outcome.as_mut() else {
            return None;
        };
        Some((&self.tenant, std::mem::take(&mut log.buckets)))
    }

    fn take_committed(&mut self) -> Option<Committed> {
        let Some(Ok((_, log))) = self.outcome.as_mut() else {
            return None;
        };
        let changes = std::mem::take(log).into_changes(&mut self.batch.events);
        (!changes.is_empty()).then(|| Committed {
            tenant: self.tenant.clone(),
            changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use honeyhive_model::EventUpdate;
    use parking_lot::Mutex;

    use super::*;
    use crate::store::sqlite::{SqliteStore, SyncMode};
    use crate::store::{CatalogStore, CommitFeed, EventStore, IngestStore};

    /// A feed that keeps what it is given, listening when told to.
    #[derive(Default)]
    struct Recorder {
        listening: AtomicBool,
        commits: Mutex<Vec<Vec<Committed>>>,
    }

    impl CommitFeed for Recorder {
        fn is_listening(&self) -> bool {
            self.listening.load(Ordering::SeqCst)
        }
        fn committed(&self, commit: Vec<Committed>) {
            self.commits.lock().push(commit);
        }
    }

    fn events(ids: &[&str]) -> WriteBatch {
        WriteBatch {
            events: ids
                .iter()
                .map(|id| Event {
                    event_id: (*id).into(),
                    session_id: "s".into(),
                    parent_id: Some("s".into()),
                    start_time: 1.0,
                    ..Event::default()
                })
                .collect(),
            ..WriteBatch::default()
        }
    }

    /// (event id, kind, seq) of everything fed so far, flattened.
    fn fed(feed: &Recorder) -> Vec<(String, ChangeKind, u64)> {
        feed.commits
            .lock()
            .iter()
            .flatten()
            .flat_map(|c| &c.changes)
            .map(|c| (c.event.event_id.clone(), c.kind, c.seq))
            .collect()
    }

    #[test]
    fn commits_are_fed_in_order_before_their_writers_hear_and_numbers_survive_a_restart() {
        let dir = crate::testing::TempDir::new();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let store = SqliteStore::open(dir.path(), SyncMode::Normal).expect("open");
        let feed = Arc::new(Recorder::default());
        assert!(store.attach_feed(feed.clone()));
        assert!(
            !store.attach_feed(Arc::new(Recorder::default())),
            "one feed"
        );
        let last = runtime.block_on(async {
            let t = store.put_api_key("h", "p").await.expect("key");
            IngestStore::write(&store, &t, events(&["a"]))
                .await
                .expect("write");
            assert!(fed(&feed).is_empty(), "nobody listened");
            let before = store.last_seq(&t).await.expect("last");
            feed.listening.store(true, Ordering::SeqCst);
            IngestStore::write(&store, &t, events(&["b", "c"]))
                .await
                .expect("write");
            let mut update = EventUpdate {
                event_id: "a".into(),
                ..EventUpdate::default()
            };
            update
                .metrics
                .insert("score".into(), serde_json::json!(0.5));
            let enrich = WriteBatch {
                enrichments: vec![update],
                ..WriteBatch::default()
            };
            IngestStore::write(&store, &t, enrich)
                .await
                .expect("enrich");
            // Each write was fed before it was answered.
            let got = fed(&feed);
            let kinds: Vec<(&str, ChangeKind)> =
                got.iter().map(|(id, k, _)| (id.as_str(), *k)).collect();
            assert_eq!(
                kinds,
                [
                    ("b", ChangeKind::Created),
                    ("c", ChangeKind::Created),
                    ("a", ChangeKind::Updated)
                ]
            );
            assert!(got[0].2 > before && got[0].2 < got[1].2 && got[1].2 < got[2].2);
            let commits = feed.commits.lock();
            assert_eq!(commits[0][0].tenant, t);
            let updated = &commits[1][0].changes[0].event;
            assert_eq!(updated.metrics["score"], 0.5, "the event as merged");
            assert_eq!(updated.start_time, 1.0, "the whole event, not the update");
            got[2].2
        });
        store.close();
        drop(store);

        let store = SqliteStore::open(dir.path(), SyncMode::Normal).expect("reopen");
        let feed = Arc::new(Recorder::default());
        feed.listening.store(true, Ordering::SeqCst);
        store.attach_feed(feed.clone());
        runtime.block_on(async {
            let t = store.put_api_key("h", "p").await.expect("key");
            IngestStore::write(&store, &t, events(&["d"]))
                .await
                .expect("write");
        });
        let got = fed(&feed);
        assert_eq!(got.len(), 1);
        assert!(got[0].2 > last, "numbers go on above those stored");
        store.close();
    }

    #[test]
    fn a_sequence_continues_after_its_last_number() {
        let sequence = Sequence::after(41);
        assert_eq!(sequence.take(), 42);
        assert_eq!(sequence.take(), 43);
    }

    #[test]
    fn a_log_moves_stored_events_out_in_its_order() {
        let mut events: Vec<Event> = ["a", "b", "c"]
            .map(|id| Event {
                event_id: id.into(),
                ..Event::default()
            })
            .into();
        let mut log = ChangeLog::default();
        log.stored(2, 5);
        log.changed(Change {
            seq: 6,
            kind: ChangeKind::Updated,
            event: Event {
                event_id: "s".into(),
                ..Event::default()
            },
        });
        log.stored(0, 7);
        let changes = log.into_changes(&mut events);
        let seen: Vec<(u64, ChangeKind, &str)> = changes
            .iter()
            .map(|c| (c.seq, c.kind, c.event.event_id.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (5, ChangeKind::Created, "c"),
                (6, ChangeKind::Updated, "s"),
                (7, ChangeKind::Created, "a")
            ]
        );
        assert!(events[0].event_id.is_empty() && events[1].event_id == "b");
    }
}
