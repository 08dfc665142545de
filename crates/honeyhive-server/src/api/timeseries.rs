//! `GET /v1/metrics/timeseries`: the streaming metric buckets as series, one
//! point per step (counts, errors, error rate, tokens, cost, latency
//! quantiles, evaluator score means), optionally one series per model,
//! source or event name. Reads buckets only, never events.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use honeyhive_model::EventType;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ApiError, AppState, QueryParams};
use crate::clock::now_ms;
use crate::store::{Dimension, Point, Tenant, Timeseries, TimeseriesQuery};

/// Most points a series may hold.
pub(crate) const MAX_POINTS: i64 = 1_500;

/// The longest step: a month of days.
const MAX_STEP_MS: i64 = 31 * 86_400_000;

/// Points a range is cut into when no step is given, at most.
const TARGET_POINTS: i64 = 120;

/// Steps chosen for a range when none is given, finest first.
const AUTO_STEPS_MS: [i64; 9] = [
    60_000, 300_000, 900_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];

/// Series kept when `max_groups` is not given, and the most it may ask for.
const DEFAULT_GROUPS: usize = 8;
const MAX_GROUPS: usize = 50;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/metrics/timeseries", get(timeseries))
}

/// The query string of a time series, shared with the dashboard's
/// monitoring page: each field optional, empty meaning unset.
#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct TimeseriesParams {
    /// How far back from `end` when `start` is not given: `15m`, `24h`, `7d`.
    pub(crate) range: Option<String>,
    /// Range start, ms since the epoch.
    pub(crate) start: Option<String>,
    /// Range end, ms since the epoch; now when not given.
    pub(crate) end: Option<String>,
    /// Width of a point: `1m`, `5m`, `1h`, ... (whole minutes).
    pub(crate) step: Option<String>,
    /// `model`, `source` or `event_name`.
    pub(crate) group_by: Option<String>,
    /// Only events of this type.
    pub(crate) event_type: Option<String>,
    /// Most series (the rest summed into `(other)`).
    pub(crate) max_groups: Option<String>,
}

fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `15m`, `24h`, `7d` (or a bare number of ms) in ms.
pub(crate) fn parse_span(text: &str) -> Option<i64> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "ms"),
    };
    let n: i64 = number.parse().ok()?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms).filter(|ms| *ms > 0)
}

/// The latest time a range may name: the year 3000, in ms (beyond it the
/// step arithmetic would leave i64).
const LATEST_MS: f64 = 32_503_680_000_000.0;

fn time_param(value: &Option<String>, name: &str) -> Result<Option<i64>, ApiError> {
    set(value)
        .map(|text| {
            text.parse::<f64>()
                .ok()
                .filter(|ms| ms.is_finite() && (0.0..=LATEST_MS).contains(ms))
                .map(|ms| ms as i64)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("{name}={text:?} is not a time")).with_hint(
                        format!(
                            "give {name} in milliseconds since the epoch, before the year 3000"
                        ),
                    )
                })
        })
        .transpose()
}

impl TimeseriesParams {
    /// The store query these parameters ask for, `now_ms` being now.
    pub(crate) fn query(&self, now_ms: i64) -> Result<TimeseriesQuery, ApiError> {
        let end = time_param(&self.end, "end")?.unwrap_or(now_ms);
        let start = match time_param(&self.start, "start")? {
            Some(start) => start,
            None => {
                let range = set(&self.range).unwrap_or("24h");
                let span = parse_span(range).ok_or_else(|| {
                    ApiError::bad_request(format!("range={range:?} is not a duration"))
                        .with_hint("give the range as 15m, 1h, 24h, 7d, ...")
                })?;
                end.saturating_sub(span)
            }
        };
        if start >= end {
            return Err(ApiError::bad_request("start is not before end")
                .with_hint("give a start earlier than end"));
        }
        let step_ms = match set(&self.step) {
            Some(step) => parse_span(step)
                .filter(|ms| ms % 60_000 == 0 && *ms <= MAX_STEP_MS)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "step={step:?} is not a whole number of minutes up to 31 days"
                    ))
                    .with_hint("give the step as 1m, 5m, 1h, 1d, ...")
                })?,
            None => auto_step(end - start),
        };
        let points = ceil_div(end - start, step_ms);
        if points > MAX_POINTS {
            return Err(ApiError::bad_request(format!(
                "the range holds {points} steps of {step_ms} ms; at most {MAX_POINTS} are served"
            ))
            .with_hint("ask for a longer step or a shorter range"));
        }
        let group_by = set(&self.group_by)
            .map(|name| {
                Dimension::parse(name).ok_or_else(|| {
                    ApiError::bad_request(format!("group_by={name:?} is not a dimension"))
                        .with_hint("group by model, source or event_name")
                })
            })
            .transpose()?;
        let event_type = set(&self.event_type)
            .map(|name| match EventType::parse(name) {
                Some(EventType::Session) => Err(ApiError::bad_request(
                    "sessions are not counted in the metric buckets",
                )
                .with_hint("ask for model, chain or tool events, or all (no event_type)")),
                Some(kind) => Ok(kind),
                None => Err(ApiError::bad_request(format!(
                    "event_type={name:?} is not an event type"
                ))
                .with_hint("pick model, chain or tool")),
            })
            .transpose()?;
        let max_groups = match set(&self.max_groups) {
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_GROUPS).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("max_groups={text:?} is out of range"))
                        .with_hint(format!("give 1 to {MAX_GROUPS}"))
                })?,
            None => DEFAULT_GROUPS,
        };
        Ok(TimeseriesQuery {
            start_ms: start,
            end_ms: end,
            step_ms,
            group_by,
            event_type,
            max_groups,
        })
    }
}

/// `a / b` rounded up, both positive.
fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b != 0)
}

/// The finest step that cuts `span_ms` into at most [`TARGET_POINTS`] points.
fn auto_step(span_ms: i64) -> i64 {
    AUTO_STEPS_MS
        .into_iter()
        .find(|step| ceil_div(span_ms, *step) <= TARGET_POINTS)
        .unwrap_or(AUTO_STEPS_MS[AUTO_STEPS_MS.len() - 1])
}

/// Reads the series `params` ask for from the store.
pub(crate) async fn read_timeseries(
    state: &AppState,
    tenant: &Tenant,
    params: &TimeseriesParams,
) -> Result<(TimeseriesQuery, Timeseries), ApiError> {
    let query = params.query(now_ms() as i64)?;
    let series = state.store.timeseries(tenant, &query).await?;
    Ok((query, series))
}

fn point_json(start_ms: i64, point: &Point) -> Value {
    let scores: Map<String, Value> = point
        .scores
        .iter()
        .filter_map(|(name, score)| Some((name.clone(), json!(score.mean()?))))
        .collect();
    json!({
        "start": start_ms,
        "events": point.events,
        "errors": point.errors,
        "error_rate": point.error_rate(),
        "prompt_tokens": point.prompt_tokens,
        "completion_tokens": point.completion_tokens,
        "total_tokens": point.total_tokens,
        "cost": point.cost,
        "latency_ms": point.latency_ms.map(|[p50, p95, p99]| json!({"p50": p50, "p95": p95, "p99": p99})),
        "scores": scores,
    })
}

async fn timeseries(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(params): QueryParams<TimeseriesParams>,
) -> Result<Json<Value>, ApiError> {
    let (query, series) = read_timeseries(&state, &tenant, &params).await?;
    let rendered: Vec<Value> = series
        .series
        .iter()
        .map(|s| {
            let points: Vec<Value> = s
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| point_json(series.start_ms + series.step_ms * i as i64, p))
                .collect();
            json!({"group": s.group, "points": points})
        })
        .collect();
    Ok(Json(json!({
        "start": series.start_ms,
        "end": query.end_ms,
        "step_ms": series.step_ms,
        "group_by": query.group_by.map(Dimension::as_str),
        "event_type": query.event_type.map(EventType::as_str),
        "series": rendered,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_units_and_refuse_the_rest() {
        assert_eq!(parse_span("15m"), Some(900_000));
        assert_eq!(parse_span("24h"), Some(86_400_000));
        assert_eq!(parse_span("7d"), Some(604_800_000));
        assert_eq!(parse_span("60000"), Some(60_000));
        for bad in ["", "h", "5w", "-5m", "0m", "99999999999999999999d"] {
            assert_eq!(parse_span(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_day_is_cut_into_quarter_hours_and_a_week_into_three_hours() {
        assert_eq!(auto_step(86_400_000), 900_000);
        assert_eq!(auto_step(7 * 86_400_000), 10_800_000);
        assert_eq!(auto_step(3_600_000), 60_000);
    }

    #[test]
    fn bad_parameters_are_refused_with_a_hint() {
        let ask = |params: TimeseriesParams| params.query(1_000_000_000_000);
        for params in [
            TimeseriesParams {
                step: Some("30s".into()),
                ..Default::default()
            },
            TimeseriesParams {
                range: Some("forever".into()),
                ..Default::default()
            },
            TimeseriesParams {
                group_by: Some("user".into()),
                ..Default::default()
            },
            TimeseriesParams {
                event_type: Some("session".into()),
                ..Default::default()
            },
            TimeseriesParams {
                range: Some("30d".into()),
                step: Some("1m".into()),
                ..Default::default()
            },
            TimeseriesParams {
                start: Some("5".into()),
                end: Some("1".into()),
                ..Default::default()
            },
            TimeseriesParams {
                start: Some("9223372036848775807".into()),
                end: Some("9223372036854775807".into()),
                ..Default::default()
            },
            TimeseriesParams {
                start: Some("0".into()),
                end: Some("1e30".into()),
                ..Default::default()
            },
            TimeseriesParams {
                step: Some("100000000000d".into()),
                ..Default::default()
            },
            TimeseriesParams {
                max_groups: Some("0".into()),
                ..Default::default()
            },
        ] {
            let error = ask(params.clone()).expect_err(&format!("{params:?}"));
            assert_eq!(error.body()["error"]["code"], "bad_request", "{params:?}");
            assert!(error.body()["error"]["hint"].is_string(), "{params:?}");
        }
        let q = ask(TimeseriesParams {
            group_by: Some("model".into()),
            ..Default::default()
        })
        .expect("defaults");
        assert_eq!((q.end_ms - q.start_ms, q.step_ms), (86_400_000, 900_000));
        assert_eq!(q.group_by, Some(Dimension::Model));
    }
}
