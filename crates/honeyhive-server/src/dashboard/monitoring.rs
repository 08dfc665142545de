//! `GET /ui/monitoring`: charts over a time range of events, errors and error
//! rate, latency quantiles, tokens, cost and evaluator scores, optionally one
//! line per model, source or event name. Read from the streaming metric
//! buckets (`GET /v1/metrics/timeseries` answers the same), never from events.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::Dashboard;
use super::chart::{Line, Steps, line_chart};
use super::view::{Page, Viewer, cost, error_page};
use crate::api::ApiError;
use crate::api::timeseries::{TimeseriesParams, read_timeseries};
use crate::store::{Dimension, Point, ScoreSum, Series, Timeseries};

/// The ranges the form offers.
const RANGES: [(&str, &str); 5] = [
    ("1h", "Last hour"),
    ("6h", "Last 6 hours"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
];

/// `GET /ui/monitoring?range=24h&group_by=model&event_type=model`.
pub(super) async fn page(
    State(state): State<Dashboard>,
    viewer: Viewer,
    Query(params): Query<TimeseriesParams>,
) -> Response {
    match render(&state, &viewer, &params).await {
        Ok(page) => page,
        Err(e) => error_page(e),
    }
}

async fn render(
    state: &Dashboard,
    viewer: &Viewer,
    params: &TimeseriesParams,
) -> Result<Response, ApiError> {
    let (query, series) = read_timeseries(state, &viewer.tenant, params).await?;
    let steps = Steps {
        start_ms: series.start_ms,
        step_ms: series.step_ms,
        count: series.series.first().map_or(
            ((query.end_ms - series.start_ms) / series.step_ms.max(1)).max(1) as usize,
            |s| s.points.len(),
        ),
    };
    let grouped = query.group_by.is_some();
    let per_step = format!("per {}", step_name(series.step_ms));
    Ok(Page::signed_in("Monitoring", viewer)
        .render(html! {
            h1 { "Monitoring" }
            (form(params))
            @if series.series.is_empty() {
                p.empty { "No events in this range." }
            } @else {
                (totals(&series, grouped))
                div.charts {
                    (line_chart(&format!("Events {per_step}"), steps, &lines(&series, |p| Some(p.events as f64)), whole))
                    (line_chart("Error rate", steps, &lines(&series, |p| (p.events > 0).then(|| p.error_rate())), percent))
                    (latency_chart(&series, steps, grouped))
                    (line_chart(&format!("Tokens {per_step}"), steps, &lines(&series, |p| Some(p.total_tokens as f64)), whole))
                    (line_chart(&format!("Cost {per_step}"), steps, &lines(&series, |p| Some(p.cost)), dollars))
                    (line_chart("Evaluator scores (mean)", steps, &score_lines(&series), decimal))
                }
            }
        })
        .into_response())
}

fn step_name(step_ms: i64) -> String {
    match step_ms {
        ms if ms % 86_400_000 == 0 => format!("{} d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        ms => format!("{} min", ms / 60_000),
    }
}

/// A count; an axis mark between whole numbers keeps its fraction.
fn whole(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn percent(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

fn dollars(v: f64) -> String {
    if v == 0.0 {
        "$0".into()
    } else {
        format!("${v:.4}")
    }
}

fn decimal(v: f64) -> String {
    format!("{v:.2}")
}

fn millis(v: f64) -> String {
    if v >= 1_000.0 {
        format!("{:.1} s", v / 1_000.0)
    } else {
        format!("{v:.0} ms")
    }
}

/// The name a series is shown by.
fn label(series: &Series) -> String {
    if series.group.is_empty() {
        "(none)".into()
    } else {
        series.group.clone()
    }
}

fn lines(series: &Timeseries, value: impl Fn(&Point) -> Option<f64>) -> Vec<Line> {
    series
        .series
        .iter()
        .map(|s| Line {
            name: if series.series.len() == 1 && s.group.is_empty() {
                String::new()
            } else {
                label(s)
            },
            values: s.points.iter().map(&value).collect(),
        })
        .collect()
}

/// Ungrouped: p50, p95 and p99; grouped: each group's p95.
fn latency_chart(series: &Timeseries, steps: Steps, grouped: bool) -> Markup {
    if grouped {
        let lines = lines(series, |p| p.latency_ms.map(|[_, p95, _]| p95));
        return line_chart("Latency p95", steps, &lines, millis);
    }
    let points = &series.series[0].points;
    let lines: Vec<Line> = ["p50", "p95", "p99"]
        .into_iter()
        .enumerate()
        .map(|(i, name)| Line {
            name: name.into(),
            values: points.iter().map(|p| p.latency_ms.map(|q| q[i])).collect(),
        })
        .collect();
    line_chart("Latency", steps, &lines, millis)
}

/// One line per evaluator metric: its mean score per step over every group.
fn score_lines(series: &Timeseries) -> Vec<Line> {
    let steps = series.series.first().map_or(0, |s| s.points.len());
    let mut sums: BTreeMap<&str, Vec<ScoreSum>> = BTreeMap::new();
    for s in &series.series {
        for (i, point) in s.points.iter().enumerate() {
            for (name, score) in &point.scores {
                let per_step = sums
                    .entry(name.as_str())
                    .or_insert_with(|| vec![ScoreSum::default(); steps]);
                per_step[i].sum += score.sum;
                per_step[i].count += score.count;
            }
        }
    }
    sums.into_iter()
        .map(|(name, per_step)| Line {
            name: name.to_string(),
            values: per_step.iter().map(ScoreSum::mean).collect(),
        })
        .collect()
}

/// Each series' totals over the range.
fn totals(series: &Timeseries, grouped: bool) -> Markup {
    html! {
        table.totals {
            thead { tr {
                @if grouped { th { "Group" } }
                th.num { "Events" } th.num { "Errors" } th.num { "Error rate" }
                th.num { "Tokens" } th.num { "Cost" }
            } }
            tbody {
                @for s in &series.series {
                    @let total = |count: fn(&Point) -> u64| s.points.iter().map(count).fold(0u64, u64::saturating_add);
                    @let events = total(|p| p.events);
                    @let errors = total(|p| p.errors);
                    @let tokens = total(|p| p.total_tokens);
                    @let spent: f64 = s.points.iter().map(|p| p.cost).sum();
                    tr {
                        @if grouped { td { (label(s)) } }
                        td.num { (events) }
                        td.num { (errors) }
                        td.num { (percent(if events > 0 { errors as f64 / events as f64 } else { 0.0 })) }
                        td.num { (tokens) }
                        td.num { (cost(spent)) }
                    }
                }
            }
        }
    }
}

fn form(params: &TimeseriesParams) -> Markup {
    let chosen = |value: &Option<String>| value.as_deref().unwrap_or("").trim().to_string();
    let range = Some(chosen(&params.range))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "24h".into());
    let group_by = chosen(&params.group_by);
    let event_type = chosen(&params.event_type);
    html! {
        form.filters method="get" action="/ui/monitoring" {
            select name="range" aria-label="Time range" {
                @for (value, name) in RANGES {
                    option value=(value) selected[range == value] { (name) }
                }
            }
            select name="group_by" aria-label="Group by" {
                option value="" selected[group_by.is_empty()] { "All events" }
                @for dimension in Dimension::ALL {
                    option value=(dimension.as_str()) selected[group_by == dimension.as_str()] {
                        "By " (dimension.as_str().replace('_', " "))
                    }
                }
            }
            select name="event_type" aria-label="Event type" {
                option value="" selected[event_type.is_empty()] { "Every type" }
                @for kind in ["model", "chain", "tool"] {
                    option value=(kind) selected[event_type == kind] { (kind) " events" }
                }
            }
            button type="submit" { "Show" }
        }
    }
}
