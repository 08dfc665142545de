//! The write side: write batches (events, session sightings, enrichments),
//! what a committed one did, and the writer's counters.

use async_trait::async_trait;
use honeyhive_model::{Event, EventUpdate};
use serde_json::{Map, Value};

use super::{StoreResult, Tenant};

/// The write side: atomic, durable writes, the upkeep of parked enrichments,
/// and the writer's health.
#[async_trait]
pub trait IngestStore: Send + Sync {
    /// Applies `batch` atomically for `tenant`; returns once it is durable.
    async fn write(&self, tenant: &Tenant, batch: WriteBatch) -> StoreResult<WriteSummary>;

    /// Drops enrichments parked for events that have not arrived since before
    /// `created_before` (ms since the epoch); returns how many went.
    async fn expire_pending_enrichments(&self, created_before: f64) -> StoreResult<u64>;

    /// `Ok` when a write would succeed now (readiness probe).
    async fn check_writable(&self) -> StoreResult<()>;

    /// Live counters for `/metrics`.
    fn stats(&self) -> StoreStats {
        StoreStats::default()
    }
}

/// A session seen on the wire (by a span naming it, or by `/session/start`
/// implicitly): created if unknown, its time window widened if known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSighting {
    /// The session id (also the session event's id).
    pub session_id: String,
    /// Name for a newly created session (`session_name` attribute or the project name).
    pub session_name: Option<String>,
    /// Source (`dev`, `evaluation`, ...) for a newly created session.
    pub source: Option<String>,
    /// End-user properties to record on a newly created session.
    pub user_properties: Map<String, Value>,
    /// Earliest start time seen for this session in the batch (ms since epoch).
    pub start_time: Option<f64>,
    /// Latest end time seen for this session in the batch (ms since epoch).
    pub end_time: Option<f64>,
}

/// One atomic, durable write: everything in it commits together or not at all.
///
/// Events are inserted if absent (a retried export does not duplicate and does
/// not undo enrichments); a session event (`event_type == session`) instead
/// merges into an existing session, so `/session/start` after a span created
/// the session still records its name and inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    /// Events to insert (idempotent by `event_id`).
    pub events: Vec<Event>,
    /// Sessions to create on first sight.
    pub sessions: Vec<SessionSighting>,
    /// Enrichments to merge (or defer until their event arrives).
    pub enrichments: Vec<EventUpdate>,
}

impl WriteBatch {
    /// Rough size in bytes, used for the in-flight budget and metrics.
    pub fn approx_len(&self) -> usize {
        self.events.len() * 512 + self.sessions.len() * 128 + self.enrichments.len() * 256
    }

    /// Rows this batch writes: what a commit's share of the writer is measured in.
    pub fn weight(&self) -> usize {
        (self.events.len() + self.sessions.len() + self.enrichments.len()).max(1)
    }

    /// Splits the batch into batches of at most `max_events` events (and
    /// enrichments) that, written in order, do what the whole batch does: the
    /// sessions first, the events in their order, the enrichments last.
    ///
    /// ```
    /// use honeyhive_model::{Event, EventUpdate};
    /// use honeyhive_server::store::{SessionSighting, WriteBatch};
    /// let batch = WriteBatch {
    ///     events: (0..5).map(|i| Event { event_id: i.to_string(), ..Event::default() }).collect(),
    ///     sessions: vec![SessionSighting::default()],
    ///     enrichments: vec![EventUpdate::default()],
    /// };
    /// let parts = batch.into_parts(2);
    /// assert_eq!(parts.iter().map(|p| p.events.len()).collect::<Vec<_>>(), [2, 2, 1, 0]);
    /// assert_eq!(parts[0].sessions.len(), 1);
    /// assert_eq!(parts[3].enrichments.len(), 1);
    /// ```
    pub fn into_parts(self, max_events: usize) -> Vec<WriteBatch> {
        let max_events = max_events.max(1);
        if self.events.len() + self.enrichments.len() <= max_events {
            return vec![self];
        }
        let WriteBatch {
            events,
            mut sessions,
            enrichments,
        } = self;
        let mut parts = Vec::with_capacity((events.len() + enrichments.len()) / max_events + 1);
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            parts.push(WriteBatch {
                events: events.by_ref().take(max_events).collect(),
                sessions: std::mem::take(&mut sessions),
                enrichments: Vec::new(),
            });
        }
        let mut enrichments = enrichments.into_iter().peekable();
        while enrichments.peek().is_some() {
            parts.push(WriteBatch {
                events: Vec::new(),
                sessions: std::mem::take(&mut sessions),
                enrichments: enrichments.by_ref().take(max_events).collect(),
            });
        }
        parts
    }
}

/// What a committed [`WriteBatch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Events newly stored.
    pub inserted: u64,
    /// Events already stored under the same id (retries), left unchanged.
    pub duplicates: u64,
    /// Sessions created by this batch.
    pub sessions_created: u64,
    /// Enrichments applied to an existing event.
    pub enriched: u64,
    /// Enrichments kept for an event that has not arrived yet.
    pub deferred: u64,
}

/// Live counters a backend exposes for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StoreStats {
    /// Write jobs waiting for the writer.
    pub queue_depth: u64,
    /// Commits done since start.
    pub commits: u64,
    /// Sum of commit latencies in seconds.
    pub commit_seconds_sum: f64,
    /// Write jobs committed since start.
    pub jobs_committed: u64,
    /// Pages in the write-ahead log after the last commit (SQLite).
    pub wal_pages: u64,
    /// WAL checkpoints run beside the writer (SQLite).
    pub checkpoints_background: u64,
    /// WAL checkpoints the writer ran itself, the WAL being past its limit (SQLite).
    pub checkpoints_on_writer: u64,
    /// Sum of checkpoint durations in seconds, both kinds.
    pub checkpoint_seconds_sum: f64,
    /// Times an idle store cut its grown WAL file back (SQLite).
    pub wal_shrinks: u64,
    /// Commits whose metric buckets of a project could not be written (the
    /// events were stored; the charts miss them).
    pub metric_bucket_failures: u64,
}
