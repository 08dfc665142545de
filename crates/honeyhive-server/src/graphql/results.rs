//! The types of a run's result and of a comparison, read back from the
//! bodies `GET /v1/runs/{id}/result` and `/compare-with/` answer (the model's
//! `run_result::document`), so both APIs say the same; `document` returns the
//! REST body whole.

use honeyhive_model::run::Aggregation;
use serde::Deserialize;
use serde_json::Value;

use async_graphql::SimpleObject;

use super::types::EventKind;
use crate::api::{ApiError, WorkFailed};

/// A run's result (`GET /v1/runs/{id}/result`).
#[derive(SimpleObject)]
pub(super) struct RunResult {
    /// How each metric was folded.
    aggregation: String,
    /// Whether the run completed and every datapoint passed.
    success: bool,
    /// The datapoints (or sessions) that passed.
    passed: Vec<String>,
    /// Those that failed.
    failed: Vec<String>,
    /// Each metric over the run.
    metrics: Vec<MetricAggregate>,
    /// Each datapoint's outcome.
    datapoints: Vec<DatapointResult>,
    /// The whole REST answer.
    document: Value,
}

impl RunResult {
    /// The typed fields of a result `document`.
    pub(super) fn read(document: Value, aggregation: Aggregation) -> Result<RunResult, ApiError> {
        #[derive(Deserialize)]
        struct Wire {
            success: bool,
            passed: Vec<String>,
            failed: Vec<String>,
            metrics: MetricsWire,
            datapoints: Vec<DatapointResult>,
        }
        #[derive(Deserialize)]
        struct MetricsWire {
            details: Vec<MetricAggregate>,
        }
        let wire = Wire::deserialize(&document)
            .map_err(|e| WorkFailed::new("run result unreadable", e))?;
        Ok(RunResult {
            aggregation: aggregation.as_str().to_string(),
            success: wire.success,
            passed: wire.passed,
            failed: wire.failed,
            metrics: wire.metrics.details,
            datapoints: wire.datapoints,
            document,
        })
    }
}

/// One metric over a run.
#[derive(SimpleObject, Deserialize)]
pub(super) struct MetricAggregate {
    /// Its name (the key under an event's `metrics`).
    metric_name: String,
    /// Its type (from its definition; `CLIENT_SIDE` without one).
    metric_type: String,
    /// The event that carried it first.
    event_name: Option<String>,
    /// That event's type.
    event_type: Option<EventKind>,
    /// Its values folded.
    aggregate: Option<f64>,
    /// Its values, in datapoint order.
    values: Vec<f64>,
    /// Which datapoints passed it.
    datapoints: PassedFailed,
    /// The range a value passes in, if any.
    passing_range: Option<Value>,
}

/// Datapoints that passed and failed.
#[derive(SimpleObject, Deserialize)]
pub(super) struct PassedFailed {
    /// Those that passed.
    passed: Vec<String>,
    /// Those that failed.
    failed: Vec<String>,
}

/// One datapoint (one session) of a run.
#[derive(SimpleObject, Deserialize)]
pub(super) struct DatapointResult {
    /// The datapoint, when known.
    datapoint_id: Option<String>,
    /// Its session.
    session_id: String,
    /// Whether every metric passed and nothing failed.
    passed: bool,
    /// The first error its session recorded.
    error: Option<String>,
    /// Its metric values.
    metrics: Vec<DatapointMetric>,
}

/// One metric value of a datapoint.
#[derive(SimpleObject, Deserialize)]
pub(super) struct DatapointMetric {
    /// The metric.
    name: String,
    /// The event that carried it.
    event_name: String,
    /// That event's type.
    event_type: EventKind,
    /// The value (a number or a boolean).
    value: Value,
    /// Whether it passed.
    passed: bool,
}

/// How one metric moved between two runs; higher is better.
#[derive(SimpleObject, Deserialize)]
pub(super) struct MetricComparison {
    /// Its name.
    metric_name: String,
    /// Its type.
    metric_type: String,
    /// The event that carried it first.
    event_name: Option<String>,
    /// That event's type.
    event_type: Option<EventKind>,
    /// Folded over the old run.
    old_aggregate: Option<f64>,
    /// Folded over the new run.
    new_aggregate: Option<f64>,
    /// New minus old.
    difference: Option<f64>,
    /// The difference in percent of the old value.
    percentage_change: Option<f64>,
    /// Common datapoints that carry it in both runs.
    found_count: u64,
    /// How many of them improved.
    improved_count: u64,
    /// How many got worse.
    degraded_count: u64,
    /// How many stayed the same.
    same_count: u64,
    /// Those that improved.
    improved: Vec<String>,
    /// Those that got worse.
    degraded: Vec<String>,
    /// Those that stayed the same.
    same: Vec<String>,
}
