//! Event reads and deletes: `GET /events` queries, exports, charts, and the
//! parts of events datapoints are made from.

use async_trait::async_trait;
use honeyhive_model::Event;
use honeyhive_model::filter::{FieldPath, JsonRoot};
use serde_json::{Map, Value};

use super::{
    ChangesPage, ChangesQuery, DEFAULT_MAX_READ_BYTES, Page, ReadResult, SortOrder, StoreResult,
    Tenant,
};

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

    /// The highest commit sequence number of the project's events (0 when none).
    async fn last_seq(&self, tenant: &Tenant) -> StoreResult<u64>;

    /// The events whose last change is numbered in `(query.after,
    /// query.up_to]` and that match `query.filters`, in sequence order, each
    /// as it stands now (see [`ChangesQuery`]).
    async fn changes_after(&self, tenant: &Tenant, query: &ChangesQuery)
    -> ReadResult<ChangesPage>;

    /// How many events [`EventStore::changes_after`] would read without its
    /// `limit` and `max_bytes`.
    async fn count_changes(&self, tenant: &Tenant, query: &ChangesQuery) -> StoreResult<u64>;
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
    /// Count every match for [`Page::total`] (the default). Without it,
    /// `total` counts only as far as one row past this page (`offset` + the
    /// page + 1 when there is more), which is enough for "older →" and costs
    /// nothing when millions match.
    pub exact_total: bool,
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
            exact_total: true,
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
