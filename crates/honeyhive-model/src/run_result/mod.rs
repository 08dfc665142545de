//! Run results and run comparisons, computed from the events of a run's sessions.
//!
//! Pure functions: the route handlers fetch the run and its events, these turn
//! them into a [`RunEvaluation`], which [`document`] turns into the
//! bodies of `GET /v1/runs/{id}/result` and `GET /v1/runs/{new}/compare-with/{old}`.
//!
//! Rules (documented for users in the report and the API docs):
//! - A run's sessions are its `event_ids`, then its `session_ids`, then any other
//!   session whose events carry `metadata.run_id` = the run (the caller fetches those).
//! - A session's datapoint id is `metadata.datapoint_id` of its session event, else of
//!   its earliest event carrying one, else the run's `datapoint_ids` at the session's
//!   position in `event_ids` when both lists have the same length.
//!   A session found only by metadata whose datapoint the run already covers is skipped.
//! - A session's metrics are the numeric and boolean entries of `metrics` on its
//!   events; when several events carry the same metric, the session event wins, then
//!   top-level events, then the earliest. Strings (explanations) are not metrics.
//! - A metric value passes when it lies in its passing range (the run's
//!   `passing_ranges`, else the metric definition's `threshold`); with no range, a
//!   number always passes and a boolean passes when it equals `pass_when` (default `true`).
//! - A datapoint passes when all its metric values pass and neither its session event
//!   nor a top-level event of the session recorded an error.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::run::{Run, RunEvent};
use crate::{Event, EventType};

pub mod document;

/// How per-datapoint metric values are folded into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// Arithmetic mean (booleans count as 1/0: the pass rate).
    Average,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// 50th percentile.
    Median,
    /// 90th percentile.
    P90,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
    /// Sum.
    Sum,
    /// Number of values.
    Count,
}

impl Aggregation {
    /// Parses `aggregate_function`; `None` or empty means `average`.
    ///
    /// ```
    /// use honeyhive_model::run_result::Aggregation;
    /// assert_eq!(Aggregation::parse(Some("p90")), Ok(Aggregation::P90));
    /// assert_eq!(Aggregation::parse(None), Ok(Aggregation::Average));
    /// assert!(Aggregation::parse(Some("mode")).is_err());
    /// ```
    pub fn parse(s: Option<&str>) -> Result<Aggregation, String> {
        let s = s.map(|s| s.trim().to_ascii_lowercase()).unwrap_or_default();
        Ok(match s.as_str() {
            "" | "average" | "avg" | "mean" => Aggregation::Average,
            "min" => Aggregation::Min,
            "max" => Aggregation::Max,
            "median" | "p50" => Aggregation::Median,
            "p90" => Aggregation::P90,
            "p95" => Aggregation::P95,
            "p99" => Aggregation::P99,
            "sum" => Aggregation::Sum,
            "count" => Aggregation::Count,
            other => {
                return Err(format!(
                    "unknown aggregate_function {other:?}; use average, min, max, median, p90, p95, p99, sum or count"
                ));
            }
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Average => "average",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::Median => "median",
            Aggregation::P90 => "p90",
            Aggregation::P95 => "p95",
            Aggregation::P99 => "p99",
            Aggregation::Sum => "sum",
            Aggregation::Count => "count",
        }
    }

    /// Folds `values`; `None` when there are none. Percentiles interpolate linearly
    /// between the closest ranks (numpy's default).
    ///
    /// ```
    /// use honeyhive_model::run_result::Aggregation;
    /// assert_eq!(Aggregation::Median.apply(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
    /// assert_eq!(Aggregation::P90.apply(&[1.0, 2.0, 3.0, 4.0, 5.0]), Some(4.6));
    /// assert_eq!(Aggregation::Average.apply(&[]), None);
    /// ```
    pub fn apply(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        Some(match self {
            Aggregation::Average => values.iter().sum::<f64>() / n,
            Aggregation::Sum => values.iter().sum(),
            Aggregation::Count => n,
            Aggregation::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Aggregation::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Aggregation::Median => percentile(values, 0.5),
            Aggregation::P90 => percentile(values, 0.9),
            Aggregation::P95 => percentile(values, 0.95),
            Aggregation::P99 => percentile(values, 0.99),
        })
    }
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let (a, b) = (sorted[lo], sorted[hi.min(sorted.len() - 1)]);
    a + (b - a) * (rank - lo as f64)
}

/// A pass criterion for one metric.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PassRule {
    /// Lowest passing value (inclusive).
    pub min: Option<f64>,
    /// Highest passing value (inclusive).
    pub max: Option<f64>,
    /// For booleans: the passing value (default `true`).
    pub pass_when: Option<bool>,
}

impl PassRule {
    /// Reads `{min, max, pass_when}` leniently; `None` when it names no criterion.
    pub fn from_json(v: &Value) -> Option<PassRule> {
        let obj = v.as_object()?;
        let rule = PassRule {
            min: obj.get("min").and_then(Value::as_f64),
            max: obj.get("max").and_then(Value::as_f64),
            pass_when: obj.get("pass_when").and_then(Value::as_bool),
        };
        (rule.min.is_some() || rule.max.is_some() || rule.pass_when.is_some()).then_some(rule)
    }

    fn passes(&self, value: &MetricValue) -> bool {
        match (&value.raw, self.min.is_some() || self.max.is_some()) {
            (Value::Bool(b), false) => *b == self.pass_when.unwrap_or(true),
            _ => {
                self.min.is_none_or(|m| value.numeric >= m)
                    && self.max.is_none_or(|m| value.numeric <= m)
            }
        }
    }

    pub(super) fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(min) = self.min {
            m.insert("min".into(), json!(min));
        }
        if let Some(max) = self.max {
            m.insert("max".into(), json!(max));
        }
        if let Some(p) = self.pass_when {
            m.insert("pass_when".into(), json!(p));
        }
        Value::Object(m)
    }
}

/// What the project's metric definitions say about a metric name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricDefinition {
    /// The definition's `type` (`PYTHON`, `LLM`, `HUMAN`, `COMPOSITE`).
    pub metric_type: Option<String>,
    /// Its threshold, if any.
    pub rule: Option<PassRule>,
}

/// One metric value of one datapoint.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue {
    /// Metric name (the key under `metrics`).
    pub name: String,
    /// The stored value (a number or a boolean).
    pub raw: Value,
    /// Its numeric reading (booleans as 1/0).
    pub numeric: f64,
    /// Name of the event that carried it.
    pub event_name: String,
    /// Type of the event that carried it.
    pub event_type: EventType,
    /// Whether it passes its rule.
    pub passed: bool,
}

/// The outcome of one datapoint (one session) of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct DatapointOutcome {
    /// The datapoint id, when known.
    pub datapoint_id: Option<String>,
    /// The session id.
    pub session_id: String,
    /// The first error recorded on the session event or a top-level event.
    pub error: Option<String>,
    /// Metric values, sorted by name.
    pub metrics: Vec<MetricValue>,
    /// Whether every metric passed and there was no error.
    pub passed: bool,
}

impl DatapointOutcome {
    /// The id used in passed/failed lists: the datapoint id, else the session id.
    pub fn key(&self) -> &str {
        self.datapoint_id.as_deref().unwrap_or(&self.session_id)
    }

    /// The value of metric `name` (`metrics` is sorted by name).
    pub(super) fn metric(&self, name: &str) -> Option<&MetricValue> {
        self.metrics
            .binary_search_by(|m| m.name.as_str().cmp(name))
            .ok()
            .map(|at| &self.metrics[at])
    }
}

/// Everything computed about one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvaluation {
    /// One entry per session, in run order.
    pub datapoints: Vec<DatapointOutcome>,
    /// Distinct `(event_name, event_type)` pairs seen, in first-seen order.
    pub event_details: Vec<(String, EventType)>,
    /// Passing rule per metric name (run ranges over metric definitions).
    pub rules: HashMap<String, PassRule>,
    /// Metric type per metric name, from definitions.
    pub metric_types: HashMap<String, String>,
}

fn metric_numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Groups `events` into the run's sessions and computes every datapoint's outcome.
///
/// `definitions` maps metric names to the project's metric definitions (for
/// thresholds and types); the run's own `passing_ranges` take precedence.
pub fn evaluate_run(
    run: &Run,
    events: &[Event],
    definitions: &HashMap<String, MetricDefinition>,
) -> RunEvaluation {
    let events: Vec<RunEvent> = events.iter().map(RunEvent::from_event).collect();
    evaluate_run_events(run, &events, definitions)
}

/// [`evaluate_run`] over the slim rows a store reads for run results
/// returns: the same outcome without loading whole events.
pub fn evaluate_run_events(
    run: &Run,
    events: &[RunEvent],
    definitions: &HashMap<String, MetricDefinition>,
) -> RunEvaluation {
    let mut rules: HashMap<String, PassRule> = definitions
        .iter()
        .filter_map(|(name, d)| d.rule.clone().map(|r| (name.clone(), r)))
        .collect();
    for (name, range) in &run.passing_ranges {
        if let Some(rule) = PassRule::from_json(range) {
            rules.insert(name.clone(), rule);
        }
    }
    let metric_types = definitions
        .iter()
        .filter_map(|(name, d)| d.metric_type.clone().map(|t| (name.clone(), t)))
        .collect();

    let mut by_session: HashMap<&str, Vec<&RunEvent>> = HashMap::with_capacity(run.event_ids.len());
    for e in events {
        by_session.entry(e.session_id.as_str()).or_default().push(e);
    }
    // Run order: event_ids, session_ids, then sessions found by metadata, by start time.
    let mut order: Vec<&str> = Vec::with_capacity(by_session.len());
    let mut listed: HashSet<&str> = HashSet::with_capacity(run.event_ids.len());
    for id in run.event_ids.iter().chain(run.session_ids.iter()) {
        if listed.insert(id) {
            order.push(id);
        }
    }
    let mut extra: Vec<(&str, f64)> = by_session
        .iter()
        .filter(|(sid, _)| !listed.contains(**sid))
        .map(|(sid, evs)| {
            (
                *sid,
                evs.iter()
                    .map(|e| e.start_time)
                    .fold(f64::INFINITY, f64::min),
            )
        })
        .collect();
    extra.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
    order.extend(extra.into_iter().map(|(sid, _)| sid));

    // Position of each listed session, for runs that pair event_ids with
    // datapoint_ids; built on first need.
    let positional = run.event_ids.len() == run.datapoint_ids.len();
    let mut positions: Option<HashMap<&str, usize>> = None;
    let mut datapoint_ids_seen: HashSet<&str> = HashSet::with_capacity(order.len());
    let mut event_details: Vec<(String, EventType)> = Vec::new();
    let mut event_details_seen: HashSet<(&str, EventType)> = HashSet::new();
    let mut datapoints = Vec::with_capacity(order.len());
    for session_id in order {
        let mut session_events = by_session.remove(session_id).unwrap_or_default();
        let is_top = |e: &RunEvent| {
            e.event_type == EventType::Session
                || e.parent_id
                    .as_deref()
                    .is_none_or(|p| p.is_empty() || p == session_id)
        };
        // Priority: session event, then top-level events, then the rest; earliest
        // first, the event id breaking ties.
        let rank = |e: &RunEvent| match (e.event_type == EventType::Session, is_top(e)) {
            (true, _) => 0,
            (false, true) => 1,
            (false, false) => 2,
        };
        session_events.sort_by(|a, b| {
            rank(a)
                .cmp(&rank(b))
                .then(a.start_time.total_cmp(&b.start_time))
                .then_with(|| a.event_id.cmp(&b.event_id))
        });
        for e in &session_events {
            if event_details_seen.insert((e.event_name.as_str(), e.event_type)) {
                event_details.push((e.event_name.clone(), e.event_type));
            }
        }
        let datapoint_id = session_events
            .iter()
            .find_map(|e| e.datapoint_id.as_deref())
            .or_else(|| {
                if !positional {
                    return None;
                }
                let positions = positions.get_or_insert_with(|| {
                    let mut at = HashMap::with_capacity(run.event_ids.len());
                    for (index, id) in run.event_ids.iter().enumerate() {
                        at.entry(id.as_str()).or_insert(index);
                    }
                    at
                });
                let index = *positions.get(session_id)?;
                run.datapoint_ids.get(index).map(String::as_str)
            });
        if let Some(id) = datapoint_id
            && !datapoint_ids_seen.insert(id)
            && !listed.contains(session_id)
        {
            // A stray session (found by metadata, not listed by the run) for a datapoint
            // the run already covers, e.g. an abandoned attempt: the listed one wins.
            continue;
        }
        let error = session_events
            .iter()
            .filter(|e| is_top(e))
            .find_map(|e| e.error.clone().filter(|s| !s.is_empty()));
        let mut metrics: BTreeMap<&str, MetricValue> = BTreeMap::new();
        for e in &session_events {
            for (name, raw) in &e.metrics {
                let Some(numeric) = metric_numeric(raw) else {
                    continue;
                };
                if metrics.contains_key(name.as_str()) {
                    continue;
                }
                let mut value = MetricValue {
                    name: name.clone(),
                    raw: raw.clone(),
                    numeric,
                    event_name: e.event_name.clone(),
                    event_type: e.event_type,
                    passed: true,
                };
                value.passed = match rules.get(name) {
                    Some(rule) => rule.passes(&value),
                    None => PassRule::default().passes(&value),
                };
                metrics.insert(name, value);
            }
        }
        let metrics: Vec<MetricValue> = metrics.into_values().collect();
        let passed = error.is_none() && metrics.iter().all(|m| m.passed);
        datapoints.push(DatapointOutcome {
            datapoint_id: datapoint_id.map(str::to_string),
            session_id: session_id.to_string(),
            error,
            metrics,
            passed,
        });
    }
    RunEvaluation {
        datapoints,
        event_details,
        rules,
        metric_types,
    }
}

/// Whether the run counts as a success: no failed datapoint and not failed/cancelled.
pub fn run_success(run: &Run, eval: &RunEvaluation) -> bool {
    !matches!(run.status.as_str(), "failed" | "cancelled")
        && eval.datapoints.iter().all(|d| d.passed)
}

#[cfg(test)]
mod tests;
