//! Streaming metrics: per-project time buckets kept as events commit, read by
//! the monitoring charts and `GET /v1/metrics/timeseries` without scanning events.
//!
//! A backend keeps, for every event it stores (sessions aside: their window
//! grows after they are stored, and their children are what they cost), one
//! bucket per [`BUCKET_WIDTHS_MS`] width, per event type and per
//! [`Dimension`] value, in the transaction that stores the event, so a restart
//! loses nothing. A bucket holds counts, errors, tokens, cost, evaluator score
//! sums and a mergeable latency sketch (DDSketch, 1 % relative accuracy).
//!
//! An enrichment that changes a stored event's error, tokens, cost or scores
//! moves the counters of its bucket by the difference; latency is the duration
//! the event was stored with. Deleting events leaves the buckets as they were:
//! they record what was ingested.

use std::collections::BTreeMap;

use async_trait::async_trait;
use honeyhive_model::EventType;

use super::{StoreResult, Tenant};

/// Bucket widths kept, finest first: a minute, a quarter hour (a day's chart
/// reads 96 of them, not 1 440 minutes) and an hour for long ranges.
pub const BUCKET_WIDTHS_MS: [i64; 3] = [60_000, 900_000, 3_600_000];

/// What a time series can be grouped by.
///
/// ```
/// use honeyhive_server::store::Dimension;
/// assert_eq!(Dimension::parse("event_name"), Some(Dimension::EventName));
/// assert_eq!(Dimension::Model.as_str(), "model");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// `config.model`.
    Model,
    /// The event's source.
    Source,
    /// The event's name.
    EventName,
}

impl Dimension {
    /// Every dimension, in the order the dashboard offers them.
    pub const ALL: [Dimension; 3] = [Dimension::Model, Dimension::Source, Dimension::EventName];

    /// Its name in URLs and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Model => "model",
            Dimension::Source => "source",
            Dimension::EventName => "event_name",
        }
    }

    /// The dimension named `name`.
    pub fn parse(name: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

/// What [`TimeseriesStore::timeseries`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeseriesQuery {
    /// First step's start, ms since the epoch (rounded down to a whole step).
    pub start_ms: i64,
    /// End of the range, ms (exclusive). Points are whole steps: the last
    /// one is the step that holds the end, whole.
    pub end_ms: i64,
    /// Width of one point: a whole number of minutes. It reads the widest
    /// buckets ([`BUCKET_WIDTHS_MS`]) that divide it.
    pub step_ms: i64,
    /// One series per value of this dimension; `None` for one series of everything.
    pub group_by: Option<Dimension>,
    /// Only events of this type; `None` for all (sessions are never counted).
    pub event_type: Option<EventType>,
    /// Most series: the groups with the most events, the rest summed into
    /// one series named [`OTHER_GROUP`].
    pub max_groups: usize,
}

/// The series holding the groups past [`TimeseriesQuery::max_groups`].
pub const OTHER_GROUP: &str = "(other)";

/// One series per group, each with a point for every step of the range.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeseries {
    /// The first point's start, ms.
    pub start_ms: i64,
    /// Width of each point, ms.
    pub step_ms: i64,
    /// The series, the group with the most events first; when not grouped,
    /// one series whose group is `""`. Empty when no event falls in the range.
    pub series: Vec<Series>,
}

/// The points of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The dimension's value (`""` for events without one).
    pub group: String,
    /// One per step, oldest first.
    pub points: Vec<Point>,
}

/// The figures of one step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Point {
    /// Events stored.
    pub events: u64,
    /// Of them, with an error.
    pub errors: u64,
    /// Sum of `metadata.prompt_tokens`.
    pub prompt_tokens: u64,
    /// Sum of `metadata.completion_tokens`.
    pub completion_tokens: u64,
    /// Sum of `metadata.total_tokens` (or prompt + completion).
    pub total_tokens: u64,
    /// Sum of `metadata.cost`, USD.
    pub cost: f64,
    /// Latency (duration, ms) at p50, p95, p99; `None` without a timed event.
    pub latency_ms: Option<[f64; 3]>,
    /// Per evaluator metric (`metrics.*`, booleans as 1/0): sum and count of its scores.
    pub scores: BTreeMap<String, ScoreSum>,
}

impl Point {
    /// Errors per event, 0 without events.
    ///
    /// ```
    /// let p = honeyhive_server::store::Point { events: 4, errors: 1, ..Default::default() };
    /// assert_eq!(p.error_rate(), 0.25);
    /// ```
    pub fn error_rate(&self) -> f64 {
        if self.events == 0 {
            0.0
        } else {
            self.errors as f64 / self.events as f64
        }
    }
}

/// The scores of one metric in one step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScoreSum {
    /// Sum of the scores.
    pub sum: f64,
    /// How many scores.
    pub count: u64,
}

impl ScoreSum {
    /// The mean score, `None` without scores.
    ///
    /// ```
    /// let s = honeyhive_server::store::ScoreSum { sum: 3.0, count: 4 };
    /// assert_eq!(s.mean(), Some(0.75));
    /// ```
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// Reads the streaming metric buckets.
#[async_trait]
pub trait TimeseriesStore: Send + Sync {
    /// The project's series over the query's range, from buckets only.
    async fn timeseries(&self, tenant: &Tenant, query: &TimeseriesQuery)
    -> StoreResult<Timeseries>;
}
