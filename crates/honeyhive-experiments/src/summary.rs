//! What an experiment returns, and run comparisons.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use honeyhive_model::run::{Aggregation, RunStatus};

use crate::error::RequestError;

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
    /// The run status the result reports (normally `completed`; `None` when it
    /// names none or one this version does not know).
    pub status: Option<RunStatus>,
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
    pub aggregate_function: Aggregation,
    /// Problems that did not stop the run (failed session starts or updates, spans
    /// the tracer could not export).
    pub warnings: Vec<String>,
    /// The server's `/result` body as received, unparsed: the fields above are
    /// all most callers read, and the body of a large run is costly to parse
    /// whole. [`EvaluationSummary::raw_result_json`] parses it. Serialised as
    /// the JSON it holds.
    #[serde(serialize_with = "embedded_json")]
    pub raw_result: String,
}

fn embedded_json<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serde_json::from_str::<Value>(text)
        .unwrap_or(Value::Null)
        .serialize(serializer)
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

    /// [`EvaluationSummary::raw_result`] parsed (`null` when it is not JSON).
    pub fn raw_result_json(&self) -> Value {
        serde_json::from_str(&self.raw_result).unwrap_or(Value::Null)
    }
}

/// What a summary takes from a `/result` body.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ResultReading {
    pub(crate) status: Option<RunStatus>,
    pub(crate) success: Option<bool>,
    pub(crate) passed: Vec<String>,
    pub(crate) failed: Vec<String>,
    /// `(session_id, passed)` of each datapoint entry that has both.
    pub(crate) verdicts: Vec<(String, bool)>,
    pub(crate) metrics: Vec<MetricAggregate>,
}

/// Reads a `/result` body: straight into the fields a summary keeps when it
/// has the usual shape, else leniently through a parsed `Value` (entries of
/// an unexpected type are then skipped one by one). `Err` when it is not JSON.
pub(crate) fn read_result(text: &str) -> Result<ResultReading, serde_json::Error> {
    if text.trim().is_empty() {
        return Ok(ResultReading::default());
    }
    if let Ok(parts) = serde_json::from_str::<wire::ResultParts>(text) {
        return Ok(parts.into_reading());
    }
    Ok(read_value(&serde_json::from_str(text)?))
}

/// [`read_result`] of any parsed body, skipping what has an unexpected type.
fn read_value(value: &Value) -> ResultReading {
    let (passed, failed) = passed_failed(value);
    ResultReading {
        status: value
            .get("status")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        success: value.get("success").and_then(Value::as_bool),
        passed,
        failed,
        verdicts: value
            .get("datapoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| {
                Some((
                    d.get("session_id")?.as_str()?.to_string(),
                    d.get("passed")?.as_bool()?,
                ))
            })
            .collect(),
        metrics: parse_metric_details(value),
    }
}

/// The usual shape of a `/result` body, as far as a summary reads it.
mod wire {
    use serde::Deserialize;

    use super::{MetricAggregate, ResultReading};

    #[derive(Deserialize)]
    pub(super) struct ResultParts {
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        success: Option<bool>,
        #[serde(default)]
        passed: Option<Vec<String>>,
        #[serde(default)]
        failed: Option<Vec<String>>,
        #[serde(default)]
        datapoints: Option<Vec<Verdict>>,
        #[serde(default)]
        metrics: Option<Metrics>,
    }

    #[derive(Deserialize)]
    struct Verdict {
        #[serde(default)]
        session_id: Option<String>,
        #[serde(default)]
        passed: Option<bool>,
    }

    #[derive(Deserialize)]
    struct Metrics {
        #[serde(default)]
        details: Option<Vec<Detail>>,
    }

    #[derive(Deserialize)]
    struct Detail {
        #[serde(default)]
        metric_name: Option<String>,
        #[serde(default)]
        metric_type: Option<String>,
        #[serde(default)]
        aggregate: Option<Aggregate>,
        #[serde(default)]
        values: Option<Vec<f64>>,
        #[serde(default)]
        datapoints: Option<PassedFailed>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aggregate {
        Number(f64),
        Flag(bool),
    }

    #[derive(Deserialize)]
    struct PassedFailed {
        #[serde(default)]
        passed: Option<Vec<String>>,
        #[serde(default)]
        failed: Option<Vec<String>>,
    }

    impl ResultParts {
        pub(super) fn into_reading(self) -> ResultReading {
            ResultReading {
                status: self.status.and_then(|s| s.parse().ok()),
                success: self.success,
                passed: self.passed.unwrap_or_default(),
                failed: self.failed.unwrap_or_default(),
                verdicts: self
                    .datapoints
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|d| Some((d.session_id?, d.passed?)))
                    .collect(),
                metrics: self
                    .metrics
                    .and_then(|m| m.details)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|d| {
                        let (passed, failed) = d
                            .datapoints
                            .map(|p| (p.passed.unwrap_or_default(), p.failed.unwrap_or_default()))
                            .unwrap_or_default();
                        Some(MetricAggregate {
                            name: d.metric_name?,
                            metric_type: d.metric_type,
                            aggregate: d.aggregate.map(|a| match a {
                                Aggregate::Number(n) => n,
                                Aggregate::Flag(b) => f64::from(u8::from(b)),
                            }),
                            values: d.values.unwrap_or_default(),
                            passed,
                            failed,
                        })
                    })
                    .collect(),
            }
        }
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
fn parse_metric_details(result: &Value) -> Vec<MetricAggregate> {
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

fn passed_failed(result: &Value) -> (Vec<String>, Vec<String>) {
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

    pub(crate) fn parse(new: &str, old: &str, raw: Value) -> Result<RunComparison, RequestError> {
        let metrics = raw
            .get("metrics")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                RequestError::bad_response(
                    &format!("/v1/runs/{new}/compare-with/{old}"),
                    "no metrics array",
                )
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({
            "status": "completed",
            "success": false,
            "passed": ["EXT-a"],
            "failed": ["EXT-b"],
            "datapoints": [
                {"datapoint_id": "EXT-a", "session_id": "s-a", "passed": true, "metrics": []},
                {"datapoint_id": "EXT-b", "session_id": "s-b", "passed": false, "error": "x"},
                {"session_id": "s-c"}
            ],
            "metrics": {
                "aggregation_function": "average",
                "details": [
                    {"metric_name": "exact", "metric_type": "CLIENT_SIDE", "aggregate": true,
                     "values": [1, 0.5], "datapoints": {"passed": ["EXT-a"], "failed": ["EXT-b"]}},
                    {"metric_name": "length", "aggregate": null, "values": []},
                    {"aggregate": 2}
                ]
            },
            "run_object": {"event_ids": ["s-a", "s-b"]}
        })
    }

    #[test]
    fn the_usual_shape_reads_as_the_lenient_reading_does() {
        let text = body().to_string();
        let reading = read_result(&text).expect("json");
        assert_eq!(reading, read_value(&body()));
        assert_eq!(reading.status, Some(RunStatus::Completed));
        assert_eq!(
            reading.verdicts,
            [("s-a".into(), true), ("s-b".into(), false)]
        );
        assert_eq!(reading.metrics.len(), 2);
        assert_eq!(reading.metrics[0].aggregate, Some(1.0));
        assert_eq!(reading.metrics[0].values, [1.0, 0.5]);
        assert_eq!(reading.metrics[0].failed, ["EXT-b"]);
        assert_eq!(reading.metrics[1].aggregate, None);
    }

    #[test]
    fn an_unusual_shape_skips_what_it_cannot_read() {
        let mut odd = body();
        odd["passed"] = json!(["EXT-a", 7]);
        odd["metrics"]["details"][0]["aggregate"] = json!("high");
        odd["datapoints"][0]["passed"] = json!("yes");
        let reading = read_result(&odd.to_string()).expect("json");
        assert_eq!(reading.passed, ["EXT-a"]);
        assert_eq!(reading.metrics[0].aggregate, None);
        assert_eq!(reading.verdicts, [("s-b".into(), false)]);
        assert_eq!(read_result("  ").expect("empty"), ResultReading::default());
        assert!(read_result("<html>").is_err());
    }
}
