//! Run results and run comparisons, computed from the events of a run's sessions.
//!
//! Pure functions: a caller (the server's run routes) fetches the run and its
//! events, these turn them into a [`RunEvaluation`], which [`document`] turns
//! into the bodies of `GET /v1/runs/{id}/result` and
//! `GET /v1/runs/{new}/compare-with/{old}`, folding values with an
//! [`Aggregation`](crate::run::Aggregation).
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

use crate::run::{Run, RunEvent, RunStatus};
use crate::{Event, EventType};

pub mod document;

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
    !matches!(run.status, RunStatus::Failed | RunStatus::Cancelled)
        && eval.datapoints.iter().all(|d| d.passed)
}

#[cfg(test)]
mod tests;
