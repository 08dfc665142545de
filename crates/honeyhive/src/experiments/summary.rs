//! What an experiment returns, and run comparisons.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Error;

/// How the server folds per-datapoint metric values into one aggregate
/// (`?aggregate_function=`).
///
/// ```
/// use honeyhive::experiments::Aggregate;
/// assert_eq!(Aggregate::default().as_str(), "average");
/// assert_eq!("p90".parse::<Aggregate>(), Ok(Aggregate::P90));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// Arithmetic mean (booleans count as 1/0).
    #[default]
    Average,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// 50th percentile.
    Median,
    /// 90th percentile.
    P90,
    /// Sum.
    Sum,
}

impl Aggregate {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregate::Average => "average",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Median => "median",
            Aggregate::P90 => "p90",
            Aggregate::Sum => "sum",
        }
    }
}

impl std::str::FromStr for Aggregate {
    type Err = String;

    fn from_str(s: &str) -> Result<Aggregate, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "average" | "avg" | "mean" => Aggregate::Average,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "median" | "p50" => Aggregate::Median,
            "p90" => Aggregate::P90,
            "sum" => Aggregate::Sum,
            other => {
                return Err(format!(
                    "unknown aggregate function {other:?}; use average, min, max, median, p90 or sum"
                ));
            }
        })
    }
}

/// One datapoint's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatapointResult {
    /// Datapoint id (`EXT-...` for datasets not stored on the server).
    pub datapoint_id: String,
    /// The session recorded for it.
    pub session_id: String,
    /// The function's inputs.
    pub inputs: Value,
    /// The ground truth, if any.
    pub ground_truth: Option<Value>,
    /// What the function returned (`None` when it failed).
    pub outputs: Option<Value>,
    /// Why the function failed (its error, or `panic: <message>`).
    pub error: Option<String>,
    /// Evaluator metrics as sent (`name`, `name_explanation`, `name_<extra>`).
    pub metrics: Map<String, Value>,
    /// Evaluators that failed on this datapoint, by name, with their error.
    pub evaluator_errors: BTreeMap<String, String>,
    /// Whether the server counts the datapoint as passed (all metrics within their
    /// passing ranges and no error).
    pub passed: bool,
    /// Wall time of the function and evaluators.
    pub duration: Duration,
}

/// One metric over the whole run, as the server aggregated it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricAggregate {
    /// Metric name.
    pub name: String,
    /// The server's metric type (`CLIENT_SIDE` for evaluator scores).
    pub metric_type: Option<String>,
    /// The aggregate (`None` when no datapoint has a numeric value).
    pub aggregate: Option<f64>,
    /// Per-datapoint values (booleans as 1/0), in run order.
    pub values: Vec<f64>,
    /// Datapoints whose value passed.
    pub passed: Vec<String>,
    /// Datapoints whose value failed.
    pub failed: Vec<String>,
}

/// The outcome of [`super::EvaluateBuilder::run`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationSummary {
    /// The run id.
    pub run_id: String,
    /// The run name.
    pub run_name: String,
    /// The dataset id (`EXT-...` for inline and file datasets).
    pub dataset_id: String,
    /// The run status after completion (normally `completed`).
    pub status: String,
    /// Whether every datapoint passed.
    pub success: bool,
    /// Passed datapoint ids.
    pub passed: Vec<String>,
    /// Failed datapoint ids.
    pub failed: Vec<String>,
    /// Per-datapoint results, in dataset order.
    pub datapoints: Vec<DatapointResult>,
    /// Per-metric aggregates.
    pub metrics: Vec<MetricAggregate>,
    /// The aggregation used.
    pub aggregate_function: Aggregate,
    /// Problems that did not stop the run (failed session starts or updates, spans
    /// the tracer could not export).
    pub warnings: Vec<String>,
    /// The server's `/result` body as received.
    pub raw_result: Value,
}

impl EvaluationSummary {
    /// The aggregate of one metric.
    pub fn metric(&self, name: &str) -> Option<&MetricAggregate> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The result of one datapoint.
    pub fn datapoint(&self, datapoint_id: &str) -> Option<&DatapointResult> {
        self.datapoints
            .iter()
            .find(|d| d.datapoint_id == datapoint_id)
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn numbers(v: Option<&Value>) -> Vec<f64> {
    v.and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// Reads the metric details of a `/result` body.
pub(crate) fn parse_metric_details(result: &Value) -> Vec<MetricAggregate> {
    let details = result
        .get("metrics")
        .and_then(|m| m.get("details"))
        .and_then(Value::as_array);
    details
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some(MetricAggregate {
                name: d.get("metric_name")?.as_str()?.to_string(),
                metric_type: d
                    .get("metric_type")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                aggregate: d.get("aggregate").and_then(|a| match a {
                    Value::Bool(b) => Some(f64::from(u8::from(*b))),
                    other => other.as_f64(),
                }),
                values: numbers(d.get("values")),
                passed: strings(d.get("datapoints").and_then(|x| x.get("passed"))),
                failed: strings(d.get("datapoints").and_then(|x| x.get("failed"))),
            })
        })
        .collect()
}

pub(crate) fn passed_failed(result: &Value) -> (Vec<String>, Vec<String>) {
    (strings(result.get("passed")), strings(result.get("failed")))
}

/// One metric of a [`RunComparison`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    /// Metric name.
    pub name: String,
    /// Aggregate of the old run.
    pub old_aggregate: Option<f64>,
    /// Aggregate of the new run.
    pub new_aggregate: Option<f64>,
    /// `new - old`.
    pub difference: Option<f64>,
    /// `(new - old) / |old| × 100` (`None` when old is 0 or missing).
    pub percentage_change: Option<f64>,
    /// Common datapoints whose value went up.
    pub improved: Vec<String>,
    /// Common datapoints whose value went down.
    pub degraded: Vec<String>,
    /// Common datapoints whose value stayed the same.
    pub same: Vec<String>,
}

/// `GET /v1/runs/{new}/compare-with/{old}`, read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunComparison {
    /// The new run.
    pub new_run_id: String,
    /// The old run.
    pub old_run_id: String,
    /// Datapoint ids present in both runs.
    pub common_datapoints: Vec<String>,
    /// Per-metric comparison.
    pub metrics: Vec<MetricComparison>,
    /// The server's body as received.
    pub raw: Value,
}

impl RunComparison {
    /// The comparison of one metric.
    pub fn metric(&self, name: &str) -> Option<&MetricComparison> {
        self.metrics.iter().find(|m| m.name == name)
    }

    pub(crate) fn parse(new: &str, old: &str, raw: Value) -> crate::Result<RunComparison> {
        let metrics = raw
            .get("metrics")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::BadResponse {
                path: format!("/v1/runs/{new}/compare-with/{old}"),
                reason: "no metrics array".into(),
            })?
            .iter()
            .filter_map(|m| {
                Some(MetricComparison {
                    name: m.get("metric_name")?.as_str()?.to_string(),
                    old_aggregate: m.get("old_aggregate").and_then(Value::as_f64),
                    new_aggregate: m.get("new_aggregate").and_then(Value::as_f64),
                    difference: m.get("difference").and_then(Value::as_f64),
                    percentage_change: m.get("percentage_change").and_then(Value::as_f64),
                    improved: strings(m.get("improved")),
                    degraded: strings(m.get("degraded")),
                    same: strings(m.get("same")),
                })
            })
            .collect();
        Ok(RunComparison {
            new_run_id: new.to_string(),
            old_run_id: old.to_string(),
            common_datapoints: strings(raw.get("commonDatapoints")),
            metrics,
            raw,
        })
    }
}
