//! `metricTimeseries`: the streaming metric buckets as `GET
//! /v1/metrics/timeseries` serves them (same arguments, same limits), one
//! point per step per group.

use async_graphql::{Context, Object, SimpleObject};

use super::context::{WHOLE_READ_COST, scope};
use crate::api::timeseries::{TimeseriesParams, read_timeseries};
use crate::store::{Dimension, Point, Timeseries};

/// `metricTimeseries`.
#[derive(Default)]
pub(super) struct MetricQueries;

/// A time series: one series per group, each with a point per step.
#[derive(SimpleObject)]
#[graphql(name = "Timeseries")]
struct TimeseriesObject {
    /// The first step's start, ms since the epoch.
    start: f64,
    /// The width of a step, ms.
    step_ms: f64,
    /// What the series are grouped by (`model`, `source`, `event_name`), if anything.
    group_by: Option<String>,
    /// The series, the group with the most events first.
    series: Vec<SeriesObject>,
}

/// One group's points.
#[derive(SimpleObject)]
#[graphql(name = "Series")]
struct SeriesObject {
    /// The group's value (`""` when not grouped or when events have none;
    /// `(other)` for the groups past `maxGroups`).
    group: String,
    /// One per step, oldest first.
    points: Vec<PointObject>,
}

/// One step's figures.
#[derive(SimpleObject)]
#[graphql(name = "MetricPoint")]
struct PointObject {
    /// The step's start, ms since the epoch.
    start: f64,
    /// Events stored (sessions are not counted).
    events: u64,
    /// Of them, with an error.
    errors: u64,
    /// Errors per event, 0 without events.
    error_rate: f64,
    /// Sum of `metadata.prompt_tokens`.
    prompt_tokens: u64,
    /// Sum of `metadata.completion_tokens`.
    completion_tokens: u64,
    /// Sum of `metadata.total_tokens` (or prompt + completion).
    total_tokens: u64,
    /// USD.
    cost: f64,
    /// Latency (duration) quantiles, ms; null without a timed event.
    latency_p50: Option<f64>,
    latency_p95: Option<f64>,
    latency_p99: Option<f64>,
    /// Mean evaluator score per metric.
    scores: Vec<ScoreObject>,
}

/// One evaluator metric's scores in a step.
#[derive(SimpleObject)]
#[graphql(name = "MetricScore")]
struct ScoreObject {
    /// The metric's name (a key of the events' `metrics`).
    name: String,
    /// Its mean score in the step (booleans count as 1 and 0).
    mean: f64,
    /// How many scores.
    count: u64,
}

fn point(start: f64, p: &Point) -> PointObject {
    let quantile = |i: usize| p.latency_ms.map(|q| q[i]);
    PointObject {
        start,
        events: p.events,
        errors: p.errors,
        error_rate: p.error_rate(),
        prompt_tokens: p.prompt_tokens,
        completion_tokens: p.completion_tokens,
        total_tokens: p.total_tokens,
        cost: p.cost,
        latency_p50: quantile(0),
        latency_p95: quantile(1),
        latency_p99: quantile(2),
        scores: p
            .scores
            .iter()
            .filter_map(|(name, score)| {
                Some(ScoreObject {
                    name: name.clone(),
                    mean: score.mean()?,
                    count: score.count,
                })
            })
            .collect(),
    }
}

fn timeseries(series: Timeseries, group_by: Option<Dimension>) -> TimeseriesObject {
    let Timeseries {
        start_ms,
        step_ms,
        series,
    } = series;
    TimeseriesObject {
        start: start_ms as f64,
        step_ms: step_ms as f64,
        group_by: group_by.map(|d| d.as_str().to_string()),
        series: series
            .into_iter()
            .map(|s| SeriesObject {
                group: s.group,
                points: s
                    .points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| point((start_ms + step_ms * i as i64) as f64, p))
                    .collect(),
            })
            .collect(),
    }
}

#[Object]
impl MetricQueries {
    /// Counts, errors, tokens, cost, latency quantiles and evaluator scores
    /// per step, read from the streaming metric buckets, never from events.
    /// Arguments as `GET /v1/metrics/timeseries` takes them: `range` (`24h`,
    /// `7d`; default 24h back from `end`) or `start`/`end` (ms), `step`
    /// (`1m`, `15m`, `1h`; chosen for about 120 points when absent),
    /// `groupBy` (`model`, `source`, `event_name`), `eventType`, `maxGroups`.
    #[graphql(complexity = "WHOLE_READ_COST + child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn metric_timeseries(
        &self,
        ctx: &Context<'_>,
        range: Option<String>,
        start: Option<f64>,
        end: Option<f64>,
        step: Option<String>,
        group_by: Option<String>,
        event_type: Option<String>,
        max_groups: Option<u32>,
    ) -> async_graphql::Result<TimeseriesObject> {
        let scope = scope(ctx)?;
        let params = TimeseriesParams {
            range,
            start: start.map(|ms| ms.to_string()),
            end: end.map(|ms| ms.to_string()),
            step,
            group_by,
            event_type,
            max_groups: max_groups.map(|n| n.to_string()),
        };
        let (query, series) = read_timeseries(&scope.state, &scope.tenant, &params).await?;
        Ok(timeseries(series, query.group_by))
    }
}
