//! The answer bodies of `GET /v1/runs/{id}/result` and
//! `GET /v1/runs/{new}/compare-with/{old}`, built from [`RunEvaluation`]s in the
//! shapes the official Python client parses (`honeyhive.experiments.results`).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{Value, json};

use super::{DatapointOutcome, MetricValue, PassRule, RunEvaluation, run_success};
use crate::EventType;
use crate::run::{Aggregation, Run, RunObject, RunStatus};

/// Metric names in first-seen order across datapoints.
fn metric_names<'a>(evals: &[&'a RunEvaluation]) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for eval in evals {
        for dp in &eval.datapoints {
            for m in &dp.metrics {
                if seen.insert(&m.name) {
                    names.push(&m.name);
                }
            }
        }
    }
    names
}

/// Per-metric summary of one run: its values and their datapoints' keys, in
/// datapoint order.
#[derive(Default)]
struct MetricSummary<'a> {
    values: Vec<&'a MetricValue>,
    keys: Vec<&'a str>,
}

/// Every metric's [`MetricSummary`], by name, in one pass over the datapoints.
fn summaries(eval: &RunEvaluation) -> HashMap<&str, MetricSummary<'_>> {
    let mut by_name: HashMap<&str, MetricSummary<'_>> = HashMap::new();
    for dp in &eval.datapoints {
        for m in &dp.metrics {
            let summary = by_name.entry(&m.name).or_default();
            summary.values.push(m);
            summary.keys.push(dp.key());
        }
    }
    by_name
}

fn metric_type_of(eval: &RunEvaluation, name: &str) -> String {
    eval.metric_types
        .get(name)
        .cloned()
        .unwrap_or_else(|| "CLIENT_SIDE".to_string())
}

fn aggregate_of(summary: &MetricSummary<'_>, agg: Aggregation) -> Option<f64> {
    let numbers: Vec<f64> = summary.values.iter().map(|m| m.numeric).collect();
    agg.apply(&numbers)
}

/// The body of `GET /v1/runs/{id}/result` (spec `GetExperimentRunResultResponse`),
/// borrowing from the run and its evaluation.
///
/// Serialized from these borrowing structs, so an answer of megabytes (a run
/// of 10 000 datapoints) fills and drops no `Value` tree of maps and copied
/// strings.
#[derive(Debug, Serialize)]
pub struct ResultDocument<'a> {
    run_id: &'a str,
    status: RunStatus,
    success: bool,
    passed: Vec<&'a str>,
    failed: Vec<&'a str>,
    metrics: MetricsSection<'a>,
    datapoints: Vec<DatapointDocument<'a>>,
    event_details: Vec<EventDetail<'a>>,
    run_object: RunObject,
}

#[derive(Debug, Serialize)]
struct MetricsSection<'a> {
    aggregation_function: &'static str,
    details: Vec<MetricDetail<'a>>,
}

#[derive(Debug, Serialize)]
struct MetricDetail<'a> {
    metric_name: &'a str,
    metric_type: String,
    event_name: Option<&'a str>,
    event_type: Option<EventType>,
    aggregate: Option<f64>,
    values: Vec<f64>,
    datapoints: PassedFailed<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    passing_range: Option<Value>,
}

#[derive(Debug, Serialize)]
struct PassedFailed<'a> {
    passed: Vec<&'a str>,
    failed: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
struct DatapointDocument<'a> {
    datapoint_id: Option<&'a str>,
    session_id: &'a str,
    passed: bool,
    error: Option<&'a str>,
    metrics: Vec<DatapointMetric<'a>>,
}

#[derive(Debug, Serialize)]
struct DatapointMetric<'a> {
    name: &'a str,
    event_name: &'a str,
    event_type: EventType,
    value: &'a Value,
    passed: bool,
}

#[derive(Debug, Serialize)]
struct EventDetail<'a> {
    event_name: &'a str,
    event_type: EventType,
}

/// [`ResultDocument`] for `run` and its evaluation.
pub fn result_document<'a>(
    run: &'a Run,
    eval: &'a RunEvaluation,
    agg: Aggregation,
    run_object: RunObject,
) -> ResultDocument<'a> {
    let keys_where = |passed: bool| -> Vec<&'a str> {
        eval.datapoints
            .iter()
            .filter(|d| d.passed == passed)
            .map(DatapointOutcome::key)
            .collect()
    };
    let mut summaries = summaries(eval);
    let details = metric_names(&[eval])
        .into_iter()
        .map(|name| {
            let summary = summaries.remove(name).unwrap_or_default();
            let first = summary.values.first();
            let metric_keys_where = |passed: bool| -> Vec<&'a str> {
                summary
                    .values
                    .iter()
                    .zip(&summary.keys)
                    .filter(|(m, _)| m.passed == passed)
                    .map(|(_, k)| *k)
                    .collect()
            };
            MetricDetail {
                metric_name: name,
                metric_type: metric_type_of(eval, name),
                event_name: first.map(|m| m.event_name.as_str()),
                event_type: first.map(|m| m.event_type),
                aggregate: aggregate_of(&summary, agg),
                values: summary.values.iter().map(|m| m.numeric).collect(),
                datapoints: PassedFailed {
                    passed: metric_keys_where(true),
                    failed: metric_keys_where(false),
                },
                passing_range: eval.rules.get(name).map(PassRule::to_json),
            }
        })
        .collect();
    let datapoints = eval
        .datapoints
        .iter()
        .map(|dp| DatapointDocument {
            datapoint_id: dp.datapoint_id.as_deref(),
            session_id: &dp.session_id,
            passed: dp.passed,
            error: dp.error.as_deref(),
            metrics: dp
                .metrics
                .iter()
                .map(|m| DatapointMetric {
                    name: &m.name,
                    event_name: &m.event_name,
                    event_type: m.event_type,
                    value: &m.raw,
                    passed: m.passed,
                })
                .collect(),
        })
        .collect();
    ResultDocument {
        run_id: &run.run_id,
        status: run.status,
        success: run_success(run, eval),
        passed: keys_where(true),
        failed: keys_where(false),
        metrics: MetricsSection {
            aggregation_function: agg.as_str(),
            details,
        },
        datapoints,
        event_details: eval
            .event_details
            .iter()
            .map(|(event_name, event_type)| EventDetail {
                event_name,
                event_type: *event_type,
            })
            .collect(),
        run_object,
    }
}

/// The body of `GET /v1/runs/{new}/compare-with/{old}` (spec
/// `GetExperimentRunCompareResponse`, plus the per-metric datapoint breakdown
/// `honeyhive.experiments.compare_runs` reads).
///
/// Aggregates are over each run's own datapoints (as `/result` reports them);
/// improved/degraded/same compare the two values of each common datapoint, higher
/// being better.
pub fn compare_body(
    new: &RunEvaluation,
    old: &RunEvaluation,
    agg: Aggregation,
    new_object: RunObject,
    old_object: RunObject,
) -> Value {
    let old_keys: HashSet<&str> = old
        .datapoints
        .iter()
        .filter_map(|d| d.datapoint_id.as_deref())
        .collect();
    let mut common: Vec<&str> = Vec::new();
    let mut common_seen: HashSet<&str> = HashSet::new();
    for dp in &new.datapoints {
        if let Some(id) = dp.datapoint_id.as_deref()
            && old_keys.contains(id)
            && common_seen.insert(id)
        {
            common.push(id);
        }
    }
    let mut changes = metric_changes(&common, new, old);
    let (mut new_summaries, mut old_summaries) = (summaries(new), summaries(old));
    let metrics: Vec<Value> = metric_names(&[new, old])
        .into_iter()
        .map(|name| {
            let new_sum = new_summaries.remove(name).unwrap_or_default();
            let old_sum = old_summaries.remove(name).unwrap_or_default();
            let new_agg = aggregate_of(&new_sum, agg);
            let old_agg = aggregate_of(&old_sum, agg);
            let difference = new_agg.zip(old_agg).map(|(n, o)| n - o);
            let percentage = difference
                .zip(old_agg)
                .and_then(|(d, o)| (o != 0.0).then(|| d / o.abs() * 100.0));
            let MetricChanges {
                improved,
                degraded,
                same,
                old_values,
                new_values,
            } = changes.remove(name).unwrap_or_default();
            let first = new_sum.values.first().or(old_sum.values.first());
            json!({
                "metric_name": name,
                "metric_type": metric_type_of(new, name),
                "event_name": first.map(|m| m.event_name.clone()),
                "event_type": first.map(|m| m.event_type),
                "old_aggregate": old_agg,
                "new_aggregate": new_agg,
                "difference": difference,
                "percentage_change": percentage,
                "found_count": improved.len() + degraded.len() + same.len(),
                "improved_count": improved.len(),
                "degraded_count": degraded.len(),
                "same_count": same.len(),
                "improved": improved,
                "degraded": degraded,
                "same": same,
                "old_values": old_values,
                "new_values": new_values,
            })
        })
        .collect();
    let in_new: HashSet<(&str, EventType)> = new
        .event_details
        .iter()
        .map(|(name, ty)| (name.as_str(), *ty))
        .collect();
    let in_old: HashSet<(&str, EventType)> = old
        .event_details
        .iter()
        .map(|(name, ty)| (name.as_str(), *ty))
        .collect();
    let mut event_details: Vec<Value> = Vec::new();
    for (name, ty) in &new.event_details {
        let presence = if in_old.contains(&(name.as_str(), *ty)) {
            "both"
        } else {
            "new"
        };
        event_details.push(json!({"event_name": name, "event_type": ty, "presence": presence}));
    }
    for (name, ty) in &old.event_details {
        if !in_new.contains(&(name.as_str(), *ty)) {
            event_details.push(json!({"event_name": name, "event_type": ty, "presence": "old"}));
        }
    }
    json!({
        "metrics": metrics,
        "commonDatapoints": common,
        "event_details": event_details,
        "old_run": old_object,
        "new_run": new_object,
    })
}

/// How one metric moved over the common datapoints, in their order.
#[derive(Default)]
struct MetricChanges<'a> {
    improved: Vec<&'a str>,
    degraded: Vec<&'a str>,
    same: Vec<&'a str>,
    old_values: Vec<f64>,
    new_values: Vec<f64>,
}

/// Every metric's [`MetricChanges`], by name, in one pass over the common
/// datapoints; a datapoint id listed twice in a run counts its first datapoint.
fn metric_changes<'a>(
    common: &[&'a str],
    new: &'a RunEvaluation,
    old: &'a RunEvaluation,
) -> HashMap<&'a str, MetricChanges<'a>> {
    let first_by_id = |eval: &'a RunEvaluation| {
        let mut at: HashMap<&'a str, &'a DatapointOutcome> = HashMap::new();
        for dp in &eval.datapoints {
            if let Some(id) = dp.datapoint_id.as_deref() {
                at.entry(id).or_insert(dp);
            }
        }
        at
    };
    let (new_at, old_at) = (first_by_id(new), first_by_id(old));
    let mut by_name: HashMap<&'a str, MetricChanges<'a>> = HashMap::new();
    for id in common {
        let (Some(new_dp), Some(old_dp)) = (new_at.get(id), old_at.get(id)) else {
            continue;
        };
        for n in &new_dp.metrics {
            let Some(o) = old_dp.metric(&n.name) else {
                continue;
            };
            let changes = by_name.entry(&n.name).or_default();
            changes.new_values.push(n.numeric);
            changes.old_values.push(o.numeric);
            match n.numeric.total_cmp(&o.numeric) {
                std::cmp::Ordering::Greater => changes.improved.push(*id),
                std::cmp::Ordering::Less => changes.degraded.push(*id),
                std::cmp::Ordering::Equal => changes.same.push(*id),
            }
        }
    }
    by_name
}
