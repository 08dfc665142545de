//! Experiments: `GET /ui/runs` (the project's runs), `GET /ui/runs/{id}` (each
//! datapoint's inputs, outputs, ground truth, metric scores and pass/fail,
//! and the run's averages) and `GET /ui/runs/{id}/compare?with={old}`
//! (metric deltas, and which datapoints improved or regressed). Results are
//! computed as `/v1/runs/{id}/result` computes them.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use honeyhive_model::Event;
use honeyhive_model::filter::FilterSet;
use honeyhive_model::run::Run;
use honeyhive_model::run_result::{DatapointOutcome, RunEvaluation};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::Dashboard;
use super::filters::PageQuery;
use super::view::{Page, Viewer, error_page, pager, time, url_encode};
use crate::api::ApiError;
use crate::store::{RunQuery, SortOrder};

/// Runs on one page of the list, and offered to compare with.
const PAGE_SIZE: u64 = 50;
/// Longest input, output or ground truth shown in a results table.
const MAX_CELL_CHARS: usize = 240;

const NARROW: &str = "the run has more events than a page reads; read its result with GET \
     /v1/runs/{id}/result and filters";

/// `GET /ui/runs`.
pub(super) async fn list(
    State(state): State<Dashboard>,
    viewer: Viewer,
    Query(query): Query<PageQuery>,
) -> Response {
    let page_number = query.number();
    let runs = match state
        .store
        .list_runs(
            &viewer.tenant,
            &RunQuery {
                limit: PAGE_SIZE,
                offset: (page_number - 1).saturating_mul(PAGE_SIZE),
                order: SortOrder::Descending,
                ..RunQuery::default()
            },
        )
        .await
    {
        Ok(runs) => runs,
        Err(e) => return error_page(e.into()),
    };
    Page::signed_in("Experiments", &viewer)
        .render(html! {
            h1 { "Experiments" }
            p.count { (runs.total) " runs" }
            table.runs {
                thead { tr { th { "Run" } th { "Status" } th { "Created" } th.num { "Sessions" } th { "Dataset" } } }
                tbody {
                    @for run in &runs.items {
                        tr {
                            td { a href=(run_link(run)) { (run_name(run)) } }
                            td { span class=(format!("status status-{}", run.status.as_str())) { (run.status.as_str()) } }
                            td { (time(run.created_at)) }
                            td.num { (run.event_ids.len() + run.session_ids.len()) }
                            td { (run.dataset_id.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
            @if runs.items.is_empty() {
                p.empty { "No experiments yet: run one with honeyhive::experiments::evaluate or hh eval run." }
            }
            (pager("/ui/runs", &[], page_number, PAGE_SIZE, runs.total))
        })
        .into_response()
}

fn run_name(run: &Run) -> &str {
    run.name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(&run.run_id)
}

fn run_link(run: &Run) -> String {
    format!("/ui/runs/{}", url_encode(&run.run_id))
}

/// A run and what its events say.
struct Evaluated {
    run: Run,
    eval: RunEvaluation,
}

async fn evaluate(state: &Dashboard, viewer: &Viewer, run_id: &str) -> Result<Evaluated, ApiError> {
    let run = state.store.get_run(&viewer.tenant, run_id).await?;
    let (run, eval) =
        crate::api::runs::evaluate(state, &viewer.tenant, run, FilterSet::default(), NARROW)
            .await?;
    Ok(Evaluated { run, eval })
}

/// Every metric name of `evals`, sorted.
fn metric_names<'a>(evals: impl IntoIterator<Item = &'a RunEvaluation>) -> Vec<String> {
    let names: BTreeSet<&str> = evals
        .into_iter()
        .flat_map(|e| &e.datapoints)
        .flat_map(|d| &d.metrics)
        .map(|m| m.name.as_str())
        .collect();
    names.into_iter().map(str::to_string).collect()
}

/// The mean of metric `name` over the datapoints that have it.
fn mean(eval: &RunEvaluation, name: &str) -> Option<f64> {
    let values: Vec<f64> = eval
        .datapoints
        .iter()
        .filter_map(|d| d.metrics.iter().find(|m| m.name == name))
        .map(|m| m.numeric)
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn score(value: Option<f64>) -> String {
    value.map_or("—".into(), |v| format!("{v:.3}"))
}

fn pass_rate(eval: &RunEvaluation) -> String {
    let total = eval.datapoints.len();
    let passed = eval.datapoints.iter().filter(|d| d.passed).count();
    if total == 0 {
        return "—".into();
    }
    format!(
        "{passed}/{total} ({:.0}%)",
        100.0 * passed as f64 / total as f64
    )
}

/// `value` as short text for a table cell.
fn cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => return String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if text.chars().count() > MAX_CELL_CHARS {
        let cut: String = text.chars().take(MAX_CELL_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// A datapoint's session event's inputs, outputs and ground truth.
fn io_cells(session: Option<&Event>) -> (String, String, String) {
    let Some(session) = session else {
        return Default::default();
    };
    let whole = |map: &serde_json::Map<String, Value>| {
        (!map.is_empty()).then(|| Value::Object(map.clone()))
    };
    (
        cell(whole(&session.inputs).as_ref()),
        cell(whole(&session.outputs).as_ref()),
        cell(
            session
                .feedback
                .get("ground_truth")
                .or_else(|| session.metadata.get("ground_truth")),
        ),
    )
}

#[derive(Deserialize)]
pub(super) struct CompareQuery {
    with: Option<String>,
}

/// `GET /ui/runs/{id}`.
pub(super) async fn run(
    State(state): State<Dashboard>,
    viewer: Viewer,
    Path(run_id): Path<String>,
) -> Response {
    match run_page(&state, &viewer, &run_id).await {
        Ok(page) => page,
        Err(e) => error_page(e),
    }
}

async fn run_page(state: &Dashboard, viewer: &Viewer, run_id: &str) -> Result<Response, ApiError> {
    let Evaluated { run, eval } = evaluate(state, viewer, run_id).await?;
    let session_ids = eval
        .datapoints
        .iter()
        .map(|d| d.session_id.clone())
        .collect();
    let max_bytes = state.config.read_limits().max_bytes;
    let sessions: HashMap<String, Event> = state
        .store
        .events_by_ids(&viewer.tenant, session_ids, max_bytes)
        .await
        .map(|events| {
            events
                .into_iter()
                .map(|e| (e.event_id.clone(), e))
                .collect()
        })
        .unwrap_or_default();
    let others = state
        .store
        .list_runs(
            &viewer.tenant,
            &RunQuery {
                limit: PAGE_SIZE,
                order: SortOrder::Descending,
                ..RunQuery::default()
            },
        )
        .await?;
    let metrics = metric_names([&eval]);
    let title = run_name(&run).to_string();
    Ok(Page::signed_in(&title, viewer)
        .render(html! {
            nav.crumbs { a href="/ui/runs" { "Experiments" } " / " span { (title) } }
            h1 { (title) }
            dl.facts {
                dt { "Status" } dd { (run.status.as_str()) }
                dt { "Created" } dd { (time(run.created_at)) }
                dt { "Passed" } dd { (pass_rate(&eval)) }
                @for name in &metrics { dt { (name) } dd { (score(mean(&eval, name))) " (average)" } }
            }
            form.compare method="get" action=(format!("{}/compare", run_link(&run))) {
                label for="with" { "Compare with " }
                select #with name="with" {
                    @for other in others.items.iter().filter(|o| o.run_id != run.run_id) {
                        option value=(other.run_id) { (run_name(other)) " · " (time(other.created_at)) }
                    }
                }
                button type="submit" { "Compare" }
            }
            table.results {
                thead { tr {
                    th { "Datapoint" } th { "Inputs" } th { "Outputs" } th { "Ground truth" }
                    @for name in &metrics { th.num { (name) } }
                    th { "Result" }
                } }
                tbody {
                    @for datapoint in &eval.datapoints {
                        @let (inputs, outputs, truth) = io_cells(sessions.get(&datapoint.session_id));
                        tr.failed[!datapoint.passed] {
                            td { a href=(format!("/ui/sessions/{}", url_encode(&datapoint.session_id))) { (datapoint.key()) } }
                            td.io { (inputs) } td.io { (outputs) } td.io { (truth) }
                            @for name in &metrics {
                                @let value = datapoint.metrics.iter().find(|m| &m.name == name);
                                td.num.failed[value.is_some_and(|m| !m.passed)] { (score(value.map(|m| m.numeric))) }
                            }
                            td { (outcome(datapoint)) }
                        }
                    }
                }
            }
        })
        .into_response())
}

fn outcome(datapoint: &DatapointOutcome) -> Markup {
    html! {
        @if let Some(error) = &datapoint.error { span.fail title=(error) { "error" } }
        @else if datapoint.passed { span.pass { "pass" } }
        @else { span.fail { "fail" } }
    }
}

/// How a datapoint changed between two runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Improved,
    Regressed,
    Unchanged,
    /// In one run only.
    Unmatched,
}

impl Change {
    fn label(self) -> &'static str {
        match self {
            Change::Improved => "improved",
            Change::Regressed => "regressed",
            Change::Unchanged => "unchanged",
            Change::Unmatched => "in one run only",
        }
    }
}

/// Passing where it failed is an improvement; otherwise the sum of its
/// metrics' changes decides (higher scores are better).
fn change(new: Option<&DatapointOutcome>, old: Option<&DatapointOutcome>) -> Change {
    let (Some(new), Some(old)) = (new, old) else {
        return Change::Unmatched;
    };
    match (new.passed, old.passed) {
        (true, false) => return Change::Improved,
        (false, true) => return Change::Regressed,
        _ => {}
    }
    let delta: f64 = new
        .metrics
        .iter()
        .filter_map(|m| {
            let before = old.metrics.iter().find(|o| o.name == m.name)?;
            Some(m.numeric - before.numeric)
        })
        .sum();
    if delta > 1e-9 {
        Change::Improved
    } else if delta < -1e-9 {
        Change::Regressed
    } else {
        Change::Unchanged
    }
}

/// `GET /ui/runs/{id}/compare?with={old}`.
pub(super) async fn compare(
    State(state): State<Dashboard>,
    viewer: Viewer,
    Path(run_id): Path<String>,
    Query(query): Query<CompareQuery>,
) -> Response {
    let Some(old_id) = query.with.filter(|w| !w.is_empty()) else {
        return error_page(
            ApiError::bad_request("which run to compare with is missing")
                .with_hint("pick a run in the form on the run's page (?with=<run id>)"),
        );
    };
    let (new, old) = match tokio::try_join!(
        evaluate(&state, &viewer, &run_id),
        evaluate(&state, &viewer, &old_id)
    ) {
        Ok(both) => both,
        Err(e) => return error_page(e),
    };
    compare_page(&viewer, &new, &old).into_response()
}

fn compare_page(viewer: &Viewer, new: &Evaluated, old: &Evaluated) -> impl IntoResponse {
    let metrics = metric_names([&new.eval, &old.eval]);
    let old_by_key: HashMap<&str, &DatapointOutcome> =
        old.eval.datapoints.iter().map(|d| (d.key(), d)).collect();
    let rows: Vec<(&DatapointOutcome, Option<&DatapointOutcome>, Change)> = new
        .eval
        .datapoints
        .iter()
        .map(|d| {
            let before = old_by_key.get(d.key()).copied();
            (d, before, change(Some(d), before))
        })
        .collect();
    let count = |c: Change| rows.iter().filter(|(_, _, x)| *x == c).count();
    let title = format!("{} vs {}", run_name(&new.run), run_name(&old.run));
    Page::signed_in(&title, viewer).render(html! {
        nav.crumbs {
            a href="/ui/runs" { "Experiments" } " / "
            a href=(run_link(&new.run)) { (run_name(&new.run)) } " / compare"
        }
        h1 { (run_name(&new.run)) " compared with " a href=(run_link(&old.run)) { (run_name(&old.run)) } }
        p.summary {
            span.pass { (count(Change::Improved)) " improved" } " · "
            span.fail { (count(Change::Regressed)) " regressed" } " · "
            (count(Change::Unchanged)) " unchanged"
            @if count(Change::Unmatched) > 0 { " · " (count(Change::Unmatched)) " in one run only" }
        }
        table.deltas {
            thead { tr { th { "Metric" } th.num { "before: " (run_name(&old.run)) } th.num { "after: " (run_name(&new.run)) } th.num { "Delta" } } }
            tbody {
                tr {
                    td { "passed" }
                    td.num { (pass_rate(&old.eval)) } td.num { (pass_rate(&new.eval)) } td.num { "" }
                }
                @for name in &metrics {
                    @let (before, after) = (mean(&old.eval, name), mean(&new.eval, name));
                    @let delta = before.zip(after).map(|(b, a)| a - b);
                    tr {
                        td { (name) }
                        td.num { (score(before)) } td.num { (score(after)) }
                        td.num.pass[delta.is_some_and(|d| d > 0.0)] .fail[delta.is_some_and(|d| d < 0.0)] {
                            (delta.map_or("—".into(), |d| format!("{d:+.3}")))
                        }
                    }
                }
            }
        }
        table.results {
            thead { tr {
                th { "Datapoint" }
                @for name in &metrics { th.num { (name) } }
                th { "Change" }
            } }
            tbody {
                @for (datapoint, before, change) in &rows {
                    tr {
                        td { a href=(format!("/ui/sessions/{}", url_encode(&datapoint.session_id))) { (datapoint.key()) } }
                        @for name in &metrics {
                            @let after = datapoint.metrics.iter().find(|m| &m.name == name).map(|m| m.numeric);
                            @let earlier = before.and_then(|b| b.metrics.iter().find(|m| &m.name == name)).map(|m| m.numeric);
                            td.num { (score(earlier)) " → " (score(after)) }
                        }
                        td { span class=(format!("change change-{}", change.label().replace(' ', "-"))) { (change.label()) } }
                    }
                }
            }
        }
    })
}
