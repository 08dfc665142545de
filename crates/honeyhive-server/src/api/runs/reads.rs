//! The run routes that read a run's events: `/result` (and `/summary`),
//! `/compare-with`, `/metrics`, `/schema`, `/v1/runs/schema` and
//! `/v1/runs/compare/events`.
//!
//! Each reads the slim rows results need ([`RunEvent`]), at most
//! [`crate::ServerConfig::max_run_events`] of them, and loads whole events only
//! for what it answers with, within [`crate::ServerConfig::max_read_bytes`];
//! past either it answers 422 `result_too_large`. Everything that loops over
//! events (evaluation, matching, building and serializing the answer) runs on
//! the blocking pool, so the async workers only wait and `/healthz` answers
//! while a big run is read.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use axum::response::Response;
use honeyhive_model::filter::{FieldPath, Filter, FilterSet, FilterValue, Operator};
use honeyhive_model::run::{Aggregation, Run, RunEvent, RunObject};
use honeyhive_model::run_result::document::{compare_body, result_document};
use honeyhive_model::run_result::{MetricDefinition, PassRule, RunEvaluation, evaluate_run_events};
use honeyhive_model::{ErrorCode, Event, EventType};
use serde_json::{Map, Value, json};

use crate::api::answer::{event_json, json_answer};
use crate::api::error::{WorkFailed, read_error};
use crate::api::query::{parse_date_range, parse_filters, parse_paging, qs_tree, string_param};
use crate::api::{ApiError, AppState, QueryParams};
use crate::store::{ResourceKind, RunEventsQuery, RunQuery, Tenant};

/// Most runs `/v1/runs/schema` reads.
const MAX_SCHEMA_RUNS: u64 = 200;

/// Runs `work` on the blocking pool and waits for it.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| WorkFailed::new("run task failed", e).into())
}

fn too_many_events(what: &str, limit: u64, hint: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResultTooLarge,
        format!("{what} more than {limit} events to read"),
    )
    .with_hint(hint.to_string())
}

/// The query for the events of `run`'s sessions: its `event_ids`, its
/// `session_ids`, and the sessions whose events carry `metadata.run_id` = the run.
fn run_events_query(run: &Run, filters: FilterSet, limit: u64) -> RunEventsQuery {
    RunEventsQuery {
        session_ids: run
            .event_ids
            .iter()
            .chain(&run.session_ids)
            .cloned()
            .collect(),
        tagged_run_id: Some(run.run_id.clone()),
        filters,
        limit,
    }
}

/// What to do when a run has more events than a route reads, for routes that
/// take `filters`.
pub(crate) const NARROW_WITH_FILTERS: &str = "narrow the run's events with `filters`";

/// [`crate::ServerConfig::max_run_events`].
fn max_run_events(state: &AppState) -> u64 {
    u64::try_from(state.config.max_run_events).unwrap_or(u64::MAX)
}

/// The slim rows of `run`'s events that match `filters`; more than
/// [`max_run_events`] of them is a 422 with `hint`.
pub(crate) async fn run_rows(
    state: &AppState,
    tenant: &Tenant,
    run: &Run,
    filters: FilterSet,
    hint: &str,
) -> Result<Vec<RunEvent>, ApiError> {
    let limit = max_run_events(state);
    let query = run_events_query(run, filters, limit.saturating_add(1));
    let rows = state.store.run_events(tenant, &query).await?;
    if rows.len() as u64 > limit {
        return Err(too_many_events(
            &format!("run {} has", run.run_id),
            limit,
            hint,
        ));
    }
    Ok(rows)
}

/// Metric definitions of the project, by name (thresholds and types).
pub(crate) async fn metric_definitions(
    state: &AppState,
    tenant: &Tenant,
) -> Result<HashMap<String, MetricDefinition>, ApiError> {
    let docs = state
        .store
        .list_resources(tenant, ResourceKind::Metric)
        .await?;
    Ok(docs
        .into_iter()
        .map(|doc| {
            let def = MetricDefinition {
                metric_type: doc
                    .body
                    .get("type")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                rule: doc.body.get("threshold").and_then(PassRule::from_json),
            };
            (doc.name, def)
        })
        .collect())
}

/// What `run`'s events matching `filters` say (per datapoint: metrics,
/// pass/fail), computed on the blocking pool; more events than the run
/// routes read is a 422 with `hint`.
pub(crate) async fn evaluate(
    state: &AppState,
    tenant: &Tenant,
    run: Run,
    filters: FilterSet,
    hint: &str,
) -> Result<(Run, RunEvaluation), ApiError> {
    let defs = metric_definitions(state, tenant).await?;
    let rows = run_rows(state, tenant, &run, filters, hint).await?;
    blocking(move || {
        let eval = evaluate_run_events(&run, &rows, &defs);
        (run, eval)
    })
    .await
}

fn aggregation(params: &Map<String, Value>) -> Result<Aggregation, ApiError> {
    Ok(Aggregation::parse(
        string_param(params.get("aggregate_function")).as_deref(),
    )?)
}

/// `GET /v1/runs/{id}/result` (and `/summary`).
pub(super) async fn run_result(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = qs_tree(&pairs);
    let agg = aggregation(&params)?;
    let filters = parse_filters(params.get("filters"))?;
    let run = state.store.get_run(&tenant, &run_id).await?;
    let (run, eval) = evaluate(&state, &tenant, run, filters, NARROW_WITH_FILTERS).await?;
    json_answer(move || {
        let object = RunObject::new(&run, &tenant.project_id);
        serde_json::to_vec(&result_document(&run, &eval, agg, object))
    })
    .await
}

/// `GET /v1/runs/{new}/compare-with/{old}`.
pub(super) async fn compare_runs(
    State(state): State<AppState>,
    tenant: Tenant,
    Path((new_id, old_id)): Path<(String, String)>,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = qs_tree(&pairs);
    let agg = aggregation(&params)?;
    let filters = parse_filters(params.get("filters"))?;
    let new_run = state.store.get_run(&tenant, &new_id).await?;
    let old_run = state.store.get_run(&tenant, &old_id).await?;
    let ((new_run, new_eval), (old_run, old_eval)) = tokio::try_join!(
        evaluate(
            &state,
            &tenant,
            new_run,
            filters.clone(),
            NARROW_WITH_FILTERS
        ),
        evaluate(&state, &tenant, old_run, filters, NARROW_WITH_FILTERS),
    )?;
    json_answer(move || {
        serde_json::to_vec(&compare_body(
            &new_eval,
            &old_eval,
            agg,
            RunObject::new(&new_run, &tenant.project_id),
            RunObject::new(&old_run, &tenant.project_id),
        ))
    })
    .await
}

/// Loads whole events by id within the byte budget; past it, a 422 with `hint`.
async fn whole_events(
    state: &AppState,
    tenant: &Tenant,
    ids: Vec<String>,
    hint: &str,
) -> Result<Vec<Event>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let max_bytes = u64::try_from(state.config.max_read_bytes).unwrap_or(u64::MAX);
    state
        .store
        .events_by_ids(tenant, ids, max_bytes)
        .await
        .map_err(|e| read_error(e, hint))
}

/// `GET /v1/runs/{id}/metrics`: the run's events that carry metrics, by start
/// time then id.
pub(super) async fn run_metrics(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = qs_tree(&pairs);
    let filters = parse_filters(params.get("filters"))?;
    let run = state.store.get_run(&tenant, &run_id).await?;
    let rows = run_rows(&state, &tenant, &run, filters, NARROW_WITH_FILTERS).await?;
    let ids = blocking(move || {
        rows.into_iter()
            .filter(|e| !e.metrics.is_empty())
            .map(|e| e.event_id)
            .collect::<Vec<String>>()
    })
    .await?;
    let events = whole_events(&state, &tenant, ids, NARROW_WITH_FILTERS).await?;
    json_answer(move || {
        let with_metrics: Vec<Value> = events.iter().map(|e| event_json(e, &tenant)).collect();
        serde_json::to_vec(&json!({"events": with_metrics}))
    })
    .await
}

/// The metric fields of a set of runs (`name`, `event_name`, `event_type`,
/// value kind), each once, in the order the runs' events first show them.
#[derive(Default)]
struct SchemaFields {
    fields: Vec<Value>,
    seen: HashSet<(String, String)>,
}

impl SchemaFields {
    /// Adds one run's events, taken in start time then id order.
    fn add_run(&mut self, mut rows: Vec<RunEvent>) {
        rows.sort_by(|a, b| {
            a.start_time
                .total_cmp(&b.start_time)
                .then_with(|| a.event_id.cmp(&b.event_id))
        });
        for e in &rows {
            for (name, value) in &e.metrics {
                let kind = match value {
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "number",
                    _ => continue,
                };
                if self.seen.insert((name.clone(), e.event_name.clone())) {
                    self.fields.push(json!({"name": name, "event_name": e.event_name, "event_type": e.event_type, "type": kind, "field": format!("metrics.{name}")}));
                }
            }
        }
    }
}

/// The schema answer (fields and datasets) over `runs`, reading at most
/// [`max_run_events`] events across all of them.
async fn schema_of(
    state: &AppState,
    tenant: &Tenant,
    runs: Vec<Run>,
    hint: &'static str,
) -> Result<Response, ApiError> {
    let limit = max_run_events(state);
    let mut fields = SchemaFields::default();
    let mut read: u64 = 0;
    for run in &runs {
        let left = limit - read;
        let query = run_events_query(run, FilterSet::default(), left.saturating_add(1));
        let rows = state.store.run_events(tenant, &query).await?;
        if rows.len() as u64 > left {
            let what = match runs.len() {
                1 => format!("run {} has", run.run_id),
                n => format!("the {n} runs have"),
            };
            return Err(too_many_events(&what, limit, hint));
        }
        read += rows.len() as u64;
        fields = blocking(move || {
            fields.add_run(rows);
            fields
        })
        .await?;
    }
    json_answer(move || {
        let mut datasets: Vec<String> = runs
            .iter()
            .filter_map(|r| {
                r.dataset_id.clone().or_else(|| {
                    r.metadata
                        .get("offline_dataset_id")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
            })
            .collect();
        datasets.sort();
        datasets.dedup();
        serde_json::to_vec(&json!({"fields": fields.fields, "datasets": datasets, "mappings": {}}))
    })
    .await
}

/// `GET /v1/runs/schema`: metric fields and datasets over the project's runs
/// (newest 200, or those in `dateRange`, or the one `evaluation_id`).
pub(super) async fn runs_schema(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = qs_tree(&pairs);
    let (created_min, created_max) = parse_date_range(params.get("dateRange"))?;
    let runs = match string_param(params.get("evaluation_id")) {
        Some(id) => vec![state.store.get_run(&tenant, &id).await?],
        None => {
            state
                .store
                .list_runs(
                    &tenant,
                    &RunQuery {
                        created_min,
                        created_max,
                        limit: MAX_SCHEMA_RUNS,
                        ..RunQuery::default()
                    },
                )
                .await?
                .items
        }
    };
    schema_of(
        &state,
        &tenant,
        runs,
        "narrow the runs with `dateRange` or `evaluation_id`",
    )
    .await
}

/// `GET /v1/runs/{id}/schema`: the metric fields of one run.
pub(super) async fn run_schema(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let run = state.store.get_run(&tenant, &run_id).await?;
    schema_of(
        &state,
        &tenant,
        vec![run],
        "the run is too large for a schema; read its events with GET /events",
    )
    .await
}

/// One matched pair of `compare/events`, by event id.
struct EventPair<'a> {
    datapoint_id: &'a str,
    event_1: &'a str,
    event_2: &'a str,
}

/// The pairs of `compare/events`, in answer order: for each datapoint of run 1
/// (in run order) that run 2 also has, each event of run 1's session (by start
/// time, then id) that `matching` admits (all when `None`), paired with the
/// first event of run 2's session with the same name and type.
fn pair_events<'a>(
    eval_1: &'a RunEvaluation,
    rows_1: &'a [RunEvent],
    eval_2: &RunEvaluation,
    rows_2: &'a [RunEvent],
    matching: Option<&HashSet<String>>,
) -> Vec<EventPair<'a>> {
    // A datapoint listed twice in run 2 pairs with its last session.
    let sessions_2: HashMap<&str, &str> = eval_2
        .datapoints
        .iter()
        .filter_map(|d| {
            d.datapoint_id
                .as_deref()
                .map(|dp| (dp, d.session_id.as_str()))
        })
        .collect();
    // Rows come grouped by session, each session's by start time then id.
    let mut events_1: HashMap<&str, Vec<&RunEvent>> = HashMap::new();
    for e in rows_1 {
        events_1.entry(e.session_id.as_str()).or_default().push(e);
    }
    let mut twins: HashMap<(&str, &str, EventType), &RunEvent> = HashMap::new();
    for e in rows_2 {
        twins
            .entry((e.session_id.as_str(), e.event_name.as_str(), e.event_type))
            .or_insert(e);
    }
    let mut pairs = Vec::new();
    for dp in &eval_1.datapoints {
        let Some(dp_id) = dp.datapoint_id.as_deref() else {
            continue;
        };
        let Some(session_2) = sessions_2.get(dp_id) else {
            continue;
        };
        let Some(session_events) = events_1.get(dp.session_id.as_str()) else {
            continue;
        };
        for e1 in session_events {
            if matching.is_some_and(|ids| !ids.contains(&e1.event_id)) {
                continue;
            }
            let key = (*session_2, e1.event_name.as_str(), e1.event_type);
            if let Some(e2) = twins.get(&key) {
                pairs.push(EventPair {
                    datapoint_id: dp_id,
                    event_1: &e1.event_id,
                    event_2: &e2.event_id,
                });
            }
        }
    }
    pairs
}

/// `GET /v1/runs/compare/events`: for each datapoint common to both runs, the pair
/// of events with the same name (and type), optionally narrowed by name/type/filter.
pub(super) async fn compare_events(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = qs_tree(&pairs);
    let (Some(id_1), Some(id_2)) = (
        string_param(params.get("run_id_1")),
        string_param(params.get("run_id_2")),
    ) else {
        return Err(ApiError::bad_request("run_id_1 and run_id_2 are required"));
    };
    let (limit, offset, page) = parse_paging(params.get("limit"), params.get("page"))?;
    let mut filters = parse_filters(params.get("filter"))?;
    for (key, field) in [("event_name", "event_name"), ("event_type", "event_type")] {
        if let Some(v) = string_param(params.get(key)) {
            filters.push(Filter {
                field: FieldPath::parse(field)?,
                operator: Operator::Is,
                value: FilterValue::Text(v),
            });
        }
    }
    let run_1 = state.store.get_run(&tenant, &id_1).await?;
    let run_2 = state.store.get_run(&tenant, &id_2).await?;
    let hint = "the runs are too large to pair event by event; read their events with \
                GET /events filtered by `metadata.run_id`";
    let (rows_1, rows_2) = tokio::try_join!(
        run_rows(&state, &tenant, &run_1, FilterSet::default(), hint),
        run_rows(&state, &tenant, &run_2, FilterSet::default(), hint),
    )?;
    // The filters pick run 1's events; the store evaluates them.
    let matching = if filters.filters.is_empty() {
        None
    } else {
        Some(run_rows(&state, &tenant, &run_1, filters, hint).await?)
    };
    let (page_pairs, ids, total) = blocking(move || {
        let matching: Option<HashSet<String>> =
            matching.map(|rows| rows.into_iter().map(|e| e.event_id).collect());
        let defs = HashMap::new();
        let eval_1 = evaluate_run_events(&run_1, &rows_1, &defs);
        let eval_2 = evaluate_run_events(&run_2, &rows_2, &defs);
        let pairs = pair_events(&eval_1, &rows_1, &eval_2, &rows_2, matching.as_ref());
        let total = pairs.len();
        let page_pairs: Vec<[String; 3]> = pairs
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|p| {
                [
                    p.datapoint_id.to_string(),
                    p.event_1.to_string(),
                    p.event_2.to_string(),
                ]
            })
            .collect();
        let ids: Vec<String> = page_pairs
            .iter()
            .flat_map(|[_, e1, e2]| [e1.clone(), e2.clone()])
            .collect();
        (page_pairs, ids, total)
    })
    .await?;
    let events = whole_events(&state, &tenant, ids, "ask for a smaller page with `limit`").await?;
    json_answer(move || {
        let by_id: HashMap<&str, &Event> =
            events.iter().map(|e| (e.event_id.as_str(), e)).collect();
        // A pair whose event was deleted since the match is left out.
        let matched: Vec<Value> = page_pairs
            .iter()
            .filter_map(|[dp_id, id_1, id_2]| {
                let (e1, e2) = (by_id.get(id_1.as_str())?, by_id.get(id_2.as_str())?);
                Some(json!({"datapoint_id": dp_id, "event_1": event_json(e1, &tenant), "event_2": event_json(e2, &tenant)}))
            })
            .collect();
        serde_json::to_vec(&json!({"events": matched, "pagination": {"page": page, "limit": limit, "total": total}}))
    })
    .await
}
