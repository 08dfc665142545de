//! Storage behind one trait: the embedded SQLite backend now, ClickHouse next.
//!
//! Nothing here may assume SQLite: ids are strings, times are f64 ms since the
//! epoch, JSON documents are `serde_json` values, and every call names the
//! project it acts for (tenancy is in every signature).
//!
//! The write side has one entry point, [`IngestStore::write`], taking a
//! [`WriteBatch`] (events, session sightings, enrichments) that a backend
//! applies atomically and durably before returning: a caller that gets `Ok`
//! may acknowledge its client.

use async_trait::async_trait;
use honeyhive_model::filter::{FieldPath, FilterSet, JsonRoot};
use honeyhive_model::{Event, EventType};
use serde_json::{Map, Value};

pub mod sqlite;
#[doc(hidden)]
pub mod suite;
#[doc(hidden)]
pub mod suite_deep_json;
#[doc(hidden)]
pub mod suite_updates;
mod updates;

pub use updates::{DatapointPatch, DatasetPatch, ProjectPatch, ResourcePatch, RunPatch, dedup_ids};

/// Who a request acts for, resolved from its API key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant {
    /// The org (tenant) id.
    pub org_id: String,
    /// The project id (an API key maps to exactly one project).
    pub project_id: String,
    /// The project's name.
    pub project_name: String,
}

/// Errors a store can produce.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row with that id in this project.
    #[error("{0} not found")]
    NotFound(String),
    /// The input is invalid for the store (bad filter field, bad id).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The backend failed (I/O, corruption, connection).
    #[error("backend: {0}")]
    Backend(String),
    /// The backend's write queue is full; retry shortly.
    #[error("the store's write queue is full")]
    Busy,
    /// Stored JSON does not read back: a read error, never an empty value.
    #[error("stored {what} has an unreadable {field}: {reason}")]
    Corrupt {
        /// The row, e.g. `event <id>` or `run <id>`.
        what: String,
        /// The column or field, e.g. `metadata` or `doc`.
        field: &'static str,
        /// Why it does not read (the parser's message).
        reason: String,
    },
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Default for [`ReadLimits::max_bytes`]: 64 MiB of stored text per answer.
pub const DEFAULT_MAX_READ_BYTES: u64 = 64 * 1024 * 1024;
/// Default for [`ReadLimits::max_events`]: 20 000 events per session tree.
pub const DEFAULT_MAX_SESSION_EVENTS: u64 = 20_000;

/// Bounds on what one read may load, checked row by row while reading.
///
/// ```
/// use honeyhive_server::store::ReadLimits;
/// let limits = ReadLimits::default();
/// assert_eq!(limits.max_bytes, 64 * 1024 * 1024);
/// assert_eq!(limits.max_events, 20_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most bytes of stored text (ids, names, JSON documents) one answer loads.
    pub max_bytes: u64,
    /// Most events one answer holds.
    pub max_events: u64,
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits {
            max_bytes: DEFAULT_MAX_READ_BYTES,
            max_events: DEFAULT_MAX_SESSION_EVENTS,
        }
    }
}

/// The read limit an answer would have passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadLimit {
    /// [`ReadLimits::max_bytes`] (or a query's own byte bound).
    Bytes(u64),
    /// [`ReadLimits::max_events`].
    Events(u64),
}

impl std::fmt::Display for ReadLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadLimit::Bytes(n) => write!(f, "{n} bytes"),
            ReadLimit::Events(n) => write!(f, "{n} events"),
        }
    }
}

/// Errors of a bounded read: the store's, or the answer passing a limit.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The store failed or refused (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The answer would hold more than the limit; nothing was returned.
    #[error("the answer is larger than the read limit of {0}")]
    TooLarge(ReadLimit),
}

/// Result alias for bounded reads.
pub type ReadResult<T> = Result<T, ReadError>;

/// The full storage interface the server needs; one behaviour suite tests every backend.
pub trait Store:
    IngestStore + EventStore + SessionStore + RunStore + DatasetStore + CatalogStore + 'static
{
}
impl<T> Store for T where
    T: IngestStore + EventStore + SessionStore + RunStore + DatasetStore + CatalogStore + 'static
{
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

/// A partial update merged into an existing event (`PUT /events`).
///
/// Object fields are merged key by key (new keys win); scalar fields replace.
/// An enrichment for an event that does not exist yet is kept and applied when
/// the event arrives, so an enrichment racing its own spans is never lost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Enrichment {
    /// The event to enrich; a session id enriches the session event.
    pub event_id: String,
    /// Merged into `config`.
    pub config: Map<String, Value>,
    /// Merged into `inputs`.
    pub inputs: Map<String, Value>,
    /// Merged into `outputs`.
    pub outputs: Map<String, Value>,
    /// Merged into `metadata`.
    pub metadata: Map<String, Value>,
    /// Merged into `metrics`.
    pub metrics: Map<String, Value>,
    /// Merged into `feedback`.
    pub feedback: Map<String, Value>,
    /// Merged into `user_properties`.
    pub user_properties: Map<String, Value>,
    /// Replaces `error` when set.
    pub error: Option<String>,
    /// Replaces `duration` when set.
    pub duration: Option<f64>,
    /// Replaces `end_time` when set.
    pub end_time: Option<f64>,
}

impl Enrichment {
    /// Merges this enrichment into `event` (the one rule every backend applies).
    ///
    /// ```
    /// use honeyhive_model::Event;
    /// use honeyhive_server::store::Enrichment;
    /// let mut e = Event { event_id: "e".into(), ..Event::default() };
    /// e.metadata.insert("a".into(), 1.into());
    /// let mut en = Enrichment { event_id: "e".into(), ..Enrichment::default() };
    /// en.metadata.insert("b".into(), 2.into());
    /// en.apply_to(&mut e);
    /// assert_eq!(e.metadata.len(), 2);
    /// ```
    pub fn apply_to(&self, event: &mut Event) {
        fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
            for (k, v) in from {
                into.insert(k.clone(), v.clone());
            }
        }
        merge(&mut event.config, &self.config);
        merge(&mut event.inputs, &self.inputs);
        merge(&mut event.outputs, &self.outputs);
        merge(&mut event.metadata, &self.metadata);
        merge(&mut event.metrics, &self.metrics);
        merge(&mut event.feedback, &self.feedback);
        merge(&mut event.user_properties, &self.user_properties);
        if let Some(error) = &self.error {
            event.error = Some(error.clone());
        }
        if let Some(duration) = self.duration {
            event.duration = duration;
        }
        if let Some(end_time) = self.end_time {
            event.end_time = end_time;
        }
    }

    /// Keeps every JSON field within
    /// [`MAX_JSON_DEPTH`](honeyhive_model::limits::MAX_JSON_DEPTH), as the
    /// fields of an event are. Returns how many subtrees were flattened.
    pub fn bound_json_depth(&mut self) -> usize {
        use honeyhive_model::limits::{MAX_JSON_DEPTH, bound_object_depth};
        self.json_fields_mut()
            .into_iter()
            .map(|(_, map)| bound_object_depth(map, MAX_JSON_DEPTH))
            .sum()
    }

    /// The seven JSON documents the enrichment merges, by field name (as
    /// [`Event::json_fields`]).
    pub fn json_fields(&self) -> [(&'static str, &Map<String, Value>); 7] {
        [
            ("config", &self.config),
            ("inputs", &self.inputs),
            ("outputs", &self.outputs),
            ("metadata", &self.metadata),
            ("metrics", &self.metrics),
            ("feedback", &self.feedback),
            ("user_properties", &self.user_properties),
        ]
    }

    /// [`Enrichment::json_fields`], mutable.
    pub fn json_fields_mut(&mut self) -> [(&'static str, &mut Map<String, Value>); 7] {
        [
            ("config", &mut self.config),
            ("inputs", &mut self.inputs),
            ("outputs", &mut self.outputs),
            ("metadata", &mut self.metadata),
            ("metrics", &mut self.metrics),
            ("feedback", &mut self.feedback),
            ("user_properties", &mut self.user_properties),
        ]
    }

    /// Folds a later enrichment of the same event into this one.
    pub fn absorb(&mut self, later: Enrichment) {
        self.config.extend(later.config);
        self.inputs.extend(later.inputs);
        self.outputs.extend(later.outputs);
        self.metadata.extend(later.metadata);
        self.metrics.extend(later.metrics);
        self.feedback.extend(later.feedback);
        self.user_properties.extend(later.user_properties);
        if later.error.is_some() {
            self.error = later.error;
        }
        if later.duration.is_some() {
            self.duration = later.duration;
        }
        if later.end_time.is_some() {
            self.end_time = later.end_time;
        }
    }
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
    pub enrichments: Vec<Enrichment>,
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
    /// use honeyhive_model::Event;
    /// use honeyhive_server::store::{Enrichment, SessionSighting, WriteBatch};
    /// let batch = WriteBatch {
    ///     events: (0..5).map(|i| Event { event_id: i.to_string(), ..Event::default() }).collect(),
    ///     sessions: vec![SessionSighting::default()],
    ///     enrichments: vec![Enrichment::default()],
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

/// A session read back as a tree: the session event and every event in it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionTree {
    /// The session event (`event_type == session`), `children_ids` filled.
    pub session: Event,
    /// All other events of the session, by start time, `children_ids` filled.
    pub events: Vec<Event>,
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
}

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

/// Events read and deleted one by one or by query: `GET /events`, the export,
/// charts, and the parts of events datapoints are made from.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// One event by id, `children_ids` filled; `NotFound` if not in this project.
    async fn get_event(&self, tenant: &Tenant, event_id: &str) -> StoreResult<Event>;

    /// Events matching `query` (filters, time range, paging) plus the total
    /// match count; `TooLarge` if the page holds more than `query.max_bytes`.
    async fn query_events(&self, tenant: &Tenant, query: &EventQuery) -> ReadResult<Page<Event>>;

    /// A chart's inputs: the events `query.events` selects (the first
    /// `query.events.limit` by start time, then event id), each read as its
    /// start time, id, group and metric only, folded into buckets; `TooLarge` if
    /// those fields pass `query.events.max_bytes`.
    async fn chart(&self, tenant: &Tenant, query: &ChartQuery) -> ReadResult<Chart>;

    /// Whole events by id, ordered by start time then event id, `children_ids`
    /// left empty; ids not in this project, and repeats, are left out.
    /// `TooLarge` once the rows read hold more than `max_bytes` of stored text.
    async fn events_by_ids(
        &self,
        tenant: &Tenant,
        ids: Vec<String>,
        max_bytes: u64,
    ) -> ReadResult<Vec<Event>>;

    /// The parts of events a datapoint is made from, in the order of
    /// `event_ids` (repeats kept), in one read; `NotFound` naming the first id
    /// not in this project. Stops once the rows read hold more than `max_bytes`
    /// of JSON text, and then says so.
    async fn event_payloads(
        &self,
        tenant: &Tenant,
        event_ids: &[String],
        max_bytes: u64,
    ) -> StoreResult<EventPayloads>;

    /// Deletes one event; false if it was not in this project.
    async fn delete_event(&self, tenant: &Tenant, event_id: &str) -> StoreResult<bool>;
}

/// Sessions as trees, and their deletion.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The session tree; `NotFound` if the session is not in this project,
    /// `TooLarge` if it holds more than `limits` allow (nothing is returned).
    async fn session_tree(
        &self,
        tenant: &Tenant,
        session_id: &str,
        limits: ReadLimits,
    ) -> ReadResult<SessionTree>;

    /// Deletes a session and every event in it; returns how many events went.
    async fn delete_session(&self, tenant: &Tenant, session_id: &str) -> StoreResult<u64>;
}

/// Experiment runs, and the events of their sessions that run results read.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Creates or replaces a run (keyed by `run_id`).
    async fn put_run(&self, tenant: &Tenant, run: &Run) -> StoreResult<()>;

    /// Applies `patch` to a stored run in one transaction and returns the run
    /// as stored; `NotFound` if not in this project.
    async fn update_run(&self, tenant: &Tenant, run_id: &str, patch: &RunPatch)
    -> StoreResult<Run>;

    /// One run; `NotFound` if not in this project.
    async fn get_run(&self, tenant: &Tenant, run_id: &str) -> StoreResult<Run>;

    /// Runs matching `query`, newest first unless asked otherwise.
    async fn list_runs(&self, tenant: &Tenant, query: &RunQuery) -> StoreResult<Page<Run>>;

    /// Deletes a run; false if it was not in this project.
    async fn delete_run(&self, tenant: &Tenant, run_id: &str) -> StoreResult<bool>;

    /// The fields run results read ([`RunEvent`]) of the events of a run's
    /// sessions: the sessions `query` lists plus, when it names a run, every
    /// session with an event whose `metadata.run_id` is that run.
    ///
    /// Events come grouped by session (sessions in no particular order), each
    /// session's events by start time, then event id. No count and no paging: at
    /// most `query.limit` events.
    async fn run_events(
        &self,
        tenant: &Tenant,
        query: &RunEventsQuery,
    ) -> StoreResult<Vec<RunEvent>>;
}

/// Datasets, datapoints and the membership between them.
#[async_trait]
pub trait DatasetStore: Send + Sync {
    /// Creates or replaces a dataset with its ordered member list (duplicates
    /// dropped), and in the same transaction adds it to the `linked_datasets`
    /// of the stored datapoints that joined and removes it from those that
    /// left. Ids of datapoints that do not exist stay listed.
    async fn put_dataset(&self, tenant: &Tenant, dataset: &Dataset) -> StoreResult<()>;

    /// Applies `patch` to a stored dataset in one transaction, membership kept
    /// consistent as [`DatasetStore::put_dataset`] does; returns the dataset
    /// as stored, `NotFound` if not in this project.
    async fn update_dataset(
        &self,
        tenant: &Tenant,
        dataset_id: &str,
        patch: &DatasetPatch,
    ) -> StoreResult<Dataset>;

    /// A page of datasets, optionally narrowed to one id or one name, oldest first.
    async fn list_datasets(
        &self,
        tenant: &Tenant,
        query: &DatasetQuery,
    ) -> StoreResult<Page<Dataset>>;

    /// Deletes a dataset (its datapoints stay, unlinked from it); false if it
    /// was not in this project.
    async fn delete_dataset(&self, tenant: &Tenant, dataset_id: &str) -> StoreResult<bool>;

    /// Creates or replaces datapoints (keyed by `id`) in one transaction, and
    /// appends each to the datasets its `linked_datasets` names (leaving the
    /// ones a replaced datapoint no longer names). `NotFound`, and nothing
    /// stored, if a named dataset is not in this project.
    async fn put_datapoints(&self, tenant: &Tenant, datapoints: &[Datapoint]) -> StoreResult<()>;

    /// Applies `patch` to a stored datapoint in one transaction, membership kept
    /// consistent as [`DatasetStore::put_datapoints`] does; returns the
    /// datapoint as stored, `NotFound` if it or a dataset it joins is not in
    /// this project.
    async fn update_datapoint(
        &self,
        tenant: &Tenant,
        datapoint_id: &str,
        patch: &DatapointPatch,
    ) -> StoreResult<Datapoint>;

    /// Removes a datapoint from a dataset, on both sides, in one transaction;
    /// false if it was not a member, `NotFound` if the dataset is not in this project.
    async fn remove_from_dataset(
        &self,
        tenant: &Tenant,
        dataset_id: &str,
        datapoint_id: &str,
    ) -> StoreResult<bool>;

    /// A page of datapoints: by ids (in the given order), by dataset (in
    /// membership order) or all (oldest first).
    async fn list_datapoints(
        &self,
        tenant: &Tenant,
        query: &DatapointQuery,
    ) -> StoreResult<Page<Datapoint>>;

    /// Deletes a datapoint and its dataset memberships; false if it was not in this project.
    async fn delete_datapoint(&self, tenant: &Tenant, datapoint_id: &str) -> StoreResult<bool>;
}

/// API keys and the projects they name, and a project's named documents
/// (metric definitions, configurations).
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Maps an API key hash to `project_name`, creating the project if needed
    /// (idempotent: the same hash for the same project is a no-op).
    async fn put_api_key(&self, key_hash: &str, project_name: &str) -> StoreResult<Tenant>;

    /// The tenant an API key hash belongs to, if any.
    async fn tenant_for_key(&self, key_hash: &str) -> StoreResult<Option<Tenant>>;

    /// The key's own project. A key sees no other project.
    async fn get_project(&self, tenant: &Tenant) -> StoreResult<Project>;

    /// Applies `patch` to the key's own project in one transaction and returns it.
    async fn update_project(&self, tenant: &Tenant, patch: &ProjectPatch) -> StoreResult<Project>;

    /// Creates or replaces a named document (metric definition, configuration).
    async fn put_resource(&self, tenant: &Tenant, resource: &Resource) -> StoreResult<()>;

    /// Applies `patch` to a stored document in one transaction and returns it
    /// as stored; `NotFound` if not in this project.
    async fn update_resource(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
        patch: &ResourcePatch,
    ) -> StoreResult<Resource>;

    /// Every document of `kind` in the project, oldest first.
    async fn list_resources(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
    ) -> StoreResult<Vec<Resource>>;

    /// Deletes a document; false if it was not in this project.
    async fn delete_resource(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<bool>;
}

/// A page of rows and the count of all rows matching (ignoring paging).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// How many rows match in total.
    pub total: u64,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Oldest first.
    #[default]
    Ascending,
    /// Newest first.
    Descending,
}

/// What `GET /events`, the export and the charts select.
#[derive(Debug, Clone, PartialEq)]
pub struct EventQuery {
    /// Conjunction of HoneyHive filters.
    pub filters: honeyhive_model::filter::FilterSet,
    /// Only events starting at or after this time (ms since epoch).
    pub start_time_min: Option<f64>,
    /// Only events starting at or before this time (ms since epoch).
    pub start_time_max: Option<f64>,
    /// Only events of these sessions (empty: any session).
    pub session_ids: Vec<String>,
    /// Page size.
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
    /// Order by start time.
    pub order: SortOrder,
    /// Most bytes of stored text the page may load.
    pub max_bytes: u64,
    /// The JSON objects to read (`None`: all); the others come back empty.
    pub json_fields: Option<Vec<JsonRoot>>,
}

impl Default for EventQuery {
    fn default() -> EventQuery {
        EventQuery {
            filters: Default::default(),
            start_time_min: None,
            start_time_max: None,
            session_ids: Vec::new(),
            limit: 1000,
            offset: 0,
            order: SortOrder::Ascending,
            max_bytes: DEFAULT_MAX_READ_BYTES,
            json_fields: None,
        }
    }
}

/// What [`EventStore::chart`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartQuery {
    /// Which events (filters, time range), how many (`limit`, oldest first)
    /// and how many bytes of their fields (`max_bytes`); paging and
    /// `json_fields` are ignored.
    pub events: EventQuery,
    /// Bucket width in ms: an event falls in bucket `floor(start_time / width)`.
    pub bucket_ms: f64,
    /// Events are grouped by this field's value (as text) within a bucket.
    pub group_by: Option<FieldPath>,
    /// The field whose numeric values (booleans as 1/0) are collected; `None`
    /// collects a 1 per event.
    pub metric: Option<FieldPath>,
}

/// The values of one bucket and group of a chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChartBucket {
    /// The bucket index: its start is `bucket * bucket_ms`.
    pub bucket: i64,
    /// The group's value as text: a string as is, other values as JSON, an
    /// absent field as `""`; `""` when not grouping.
    pub group: String,
    /// The metric values of the bucket's events, in start-time order (an
    /// event without a numeric metric adds none).
    pub values: Vec<f64>,
}

/// A chart's buckets, ordered by bucket then group, and how many events matched.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// The buckets and groups that hold at least one event.
    pub buckets: Vec<ChartBucket>,
    /// Events matching the query's filters and time range (ignoring its limit).
    pub total: u64,
}

/// What [`RunStore::run_events`] selects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunEventsQuery {
    /// Sessions listed by the run (its `event_ids` and `session_ids`).
    pub session_ids: Vec<String>,
    /// Also the sessions whose events carry `metadata.run_id` = this run.
    pub tagged_run_id: Option<String>,
    /// Only events matching these filters.
    pub filters: FilterSet,
    /// Most events returned.
    pub limit: u64,
}

/// The part of an event that run results read: enough to group it into its
/// session, rank it, and take its datapoint id, error and metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunEvent {
    /// The event id.
    pub event_id: String,
    /// Its session.
    pub session_id: String,
    /// Its parent, if any.
    pub parent_id: Option<String>,
    /// Its type.
    pub event_type: EventType,
    /// Its name.
    pub event_name: String,
    /// Start time, ms since epoch.
    pub start_time: f64,
    /// The recorded error, if any.
    pub error: Option<String>,
    /// `metrics`, whole.
    pub metrics: Map<String, Value>,
    /// `metadata.datapoint_id` when it is a string.
    pub datapoint_id: Option<String>,
}

impl RunEvent {
    /// The run-result view of a whole event.
    ///
    /// ```
    /// use honeyhive_model::Event;
    /// use honeyhive_server::store::RunEvent;
    /// let mut e = Event { event_id: "e".into(), session_id: "s".into(), ..Event::default() };
    /// e.metadata.insert("datapoint_id".into(), "dp-1".into());
    /// assert_eq!(RunEvent::from_event(&e).datapoint_id.as_deref(), Some("dp-1"));
    /// ```
    pub fn from_event(event: &Event) -> RunEvent {
        RunEvent {
            event_id: event.event_id.clone(),
            session_id: event.session_id.clone(),
            parent_id: event.parent_id.clone(),
            event_type: event.event_type,
            event_name: event.event_name.clone(),
            start_time: event.start_time,
            error: event.error.clone(),
            metrics: event.metrics.clone(),
            datapoint_id: event
                .metadata
                .get("datapoint_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        }
    }
}

/// An experiment run (the spec's `ExperimentRunObject`, minus presentation fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Run {
    /// The run id (a UUID).
    pub run_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// The dataset the run evaluated, if it is a stored one.
    pub dataset_id: Option<String>,
    /// Session ids of the run (one per datapoint).
    pub event_ids: Vec<String>,
    /// Extra session ids (the spec's `session_ids`).
    pub session_ids: Vec<String>,
    /// Datapoint ids of the run.
    pub datapoint_ids: Vec<String>,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// Free-form results.
    pub results: Map<String, Value>,
    /// The run's configuration (function, evaluators, ...).
    pub configuration: Map<String, Value>,
    /// Evaluators the run declared.
    pub evaluators: Vec<Value>,
    /// Metric name → `{min, max}` passing range.
    pub passing_ranges: Map<String, Value>,
    /// Creation time, ms since epoch.
    pub created_at: f64,
    /// Last update time, ms since epoch.
    pub updated_at: f64,
}

/// What `GET /v1/runs` selects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunQuery {
    /// Only runs over this dataset.
    pub dataset_id: Option<String>,
    /// Only these runs (empty: any).
    pub run_ids: Vec<String>,
    /// Only runs whose name contains this.
    pub name: Option<String>,
    /// Only runs with this status.
    pub status: Option<String>,
    /// Only runs created at or after (ms).
    pub created_min: Option<f64>,
    /// Only runs created at or before (ms).
    pub created_max: Option<f64>,
    /// Page size (0: no limit).
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
    /// Order by creation time.
    pub order: SortOrder,
}

/// A dataset: a named, ordered list of datapoints.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Dataset {
    /// The dataset id.
    pub id: String,
    /// Display name (unique per project is not enforced).
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Member datapoint ids, in order.
    pub datapoint_ids: Vec<String>,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// Creation time, ms since epoch.
    pub created_at: f64,
    /// Last update time, ms since epoch.
    pub updated_at: f64,
}

/// What `GET /v1/datasets` selects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetQuery {
    /// Only this dataset.
    pub dataset_id: Option<String>,
    /// Only datasets with this exact name.
    pub name: Option<String>,
    /// Page size (0: no limit).
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
}

/// One datapoint: inputs, expected outputs and provenance.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Datapoint {
    /// The datapoint id.
    pub id: String,
    /// Inputs to the function under test.
    pub inputs: Map<String, Value>,
    /// Chat history.
    pub history: Vec<Value>,
    /// Expected outputs.
    pub ground_truth: Map<String, Value>,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// The event this datapoint was made from.
    pub linked_event: Option<String>,
    /// Datasets this datapoint belongs to.
    pub linked_datasets: Vec<String>,
    /// Creation time, ms since epoch.
    pub created_at: f64,
    /// Last update time, ms since epoch.
    pub updated_at: f64,
}

/// Which datapoints a listing selects.
#[derive(Debug, Clone, PartialEq)]
pub enum DatapointSelection {
    /// These ids, in this order (unknown ids are skipped).
    Ids(Vec<String>),
    /// The members of this dataset, in membership order.
    Dataset(String),
    /// Every datapoint of the project, oldest first.
    All,
}

/// What a datapoint listing selects, and which page of it.
///
/// ```
/// use honeyhive_server::store::{DatapointQuery, DatapointSelection};
/// let q = DatapointQuery::whole(DatapointSelection::Ids(vec!["d1".into()]));
/// assert_eq!((q.limit, q.offset), (0, 0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DatapointQuery {
    /// Which datapoints.
    pub selection: DatapointSelection,
    /// Page size (0: no limit).
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
}

impl DatapointQuery {
    /// Every datapoint `selection` names, unpaged.
    pub fn whole(selection: DatapointSelection) -> DatapointQuery {
        DatapointQuery {
            selection,
            limit: 0,
            offset: 0,
        }
    }
}

/// What `POST /v1/datapoints/batch` reads of an event: the parts a datapoint is made from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventPayload {
    /// The event id.
    pub event_id: String,
    /// `inputs`, whole.
    pub inputs: Map<String, Value>,
    /// `outputs`, whole.
    pub outputs: Map<String, Value>,
    /// `feedback`, whole.
    pub feedback: Map<String, Value>,
}

/// The answer of [`EventStore::event_payloads`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventPayloads {
    /// The payloads read, in the order asked for.
    pub items: Vec<EventPayload>,
    /// True when the read stopped at its byte limit before the last id.
    pub over_limit: bool,
}

/// The kinds of named JSON documents the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// Metric (evaluator) definitions.
    Metric,
    /// Prompt / model configurations.
    Configuration,
}

impl ResourceKind {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Metric => "metric",
            ResourceKind::Configuration => "configuration",
        }
    }
}

/// A named JSON document (metric definition, configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Which kind of document.
    pub kind: ResourceKind,
    /// The document id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The document body (every field the API accepted).
    pub body: Map<String, Value>,
    /// Creation time, ms since epoch.
    pub created_at: f64,
    /// Last update time, ms since epoch.
    pub updated_at: f64,
}

/// A project of an org.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Project {
    /// The project id.
    pub id: String,
    /// Its unique (per org) name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// `evaluation` or `completion`.
    pub project_type: Option<String>,
    /// Creation time, ms since epoch.
    pub created_at: f64,
}

/// Writes the session roll-ups (`num_events`, `num_model_events`,
/// `has_feedback`, `cost`, `total_tokens`, `prompt_tokens`,
/// `completion_tokens`) into the session event's `metadata`.
pub fn apply_rollup(session: &mut Event, events: &[Event]) {
    let rollup = honeyhive_model::rollup::rollup(std::iter::once(&*session).chain(events));
    let metadata = &mut session.metadata;
    metadata.insert("num_events".into(), rollup.num_events.into());
    metadata.insert("num_model_events".into(), rollup.num_model_events.into());
    metadata.insert("has_feedback".into(), rollup.has_feedback.into());
    metadata.insert("cost".into(), rollup.cost.into());
    metadata.insert("total_tokens".into(), rollup.total_tokens.into());
    metadata.insert("prompt_tokens".into(), rollup.prompt_tokens.into());
    metadata.insert("completion_tokens".into(), rollup.completion_tokens.into());
}
