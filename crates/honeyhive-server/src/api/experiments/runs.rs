//! Experiment runs: `/v1/runs` CRUD, `/result`, `/compare-with/`, `/metrics`,
//! `/schema` and `/v1/runs/compare/events`.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use honeyhive_model::Event;
use honeyhive_model::filter::{
    FieldPath, Filter, FilterSet, FilterValue, Operator, format_datetime_ms,
};
use serde_json::{Map, Value, json};

use super::query::{
    parse_date_range, parse_filters, parse_paging, qs_tree, string_list, string_param,
};
use super::run_result::{
    Aggregation, MetricDefinition, PassRule, RunEvaluation, compare_body, evaluate_run,
    evaluate_run_events, result_document,
};
use super::{new_id, now_ms};
use crate::api::ingest_events::event_json;
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::store::{
    EventQuery, ResourceKind, Run, RunEventsQuery, RunPatch, RunQuery, SortOrder, StoreError,
    Tenant,
};

/// Most events read for one run (sessions × events per session).
const MAX_RUN_EVENTS: u64 = 200_000;
const RUN_STATUSES: [&str; 5] = ["pending", "running", "completed", "failed", "cancelled"];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/runs", get(list_runs).post(create_run))
        .route("/v1/runs/schema", get(runs_schema))
        .route("/v1/runs/compare/events", get(compare_events))
        .route(
            "/v1/runs/{run_id}",
            get(get_run).put(update_run).delete(delete_run),
        )
        .route("/v1/runs/{run_id}/result", get(run_result))
        .route("/v1/runs/{run_id}/summary", get(run_result))
        .route("/v1/runs/{run_id}/metrics", get(run_metrics))
        .route("/v1/runs/{run_id}/schema", get(run_schema))
        .route(
            "/v1/runs/{new_run_id}/compare-with/{old_run_id}",
            get(compare_runs),
        )
        .route(
            "/v1/runs/{new_run_id}/compare/{old_run_id}",
            get(compare_runs),
        )
}

/// The spec's `ExperimentRunObject` for `run`.
pub(super) fn run_object(run: &Run, tenant: &Tenant) -> Value {
    json!({
        "id": run.run_id,
        "run_id": run.run_id,
        "name": run.name,
        "description": run.description,
        "status": run.status,
        "metadata": run.metadata,
        "results": run.results,
        "event_ids": run.event_ids,
        "session_ids": run.session_ids,
        "datapoint_ids": run.datapoint_ids,
        "configuration": run.configuration,
        "evaluators": run.evaluators,
        "passing_ranges": run.passing_ranges,
        "is_active": true,
        "created_at": format_datetime_ms(run.created_at),
        "updated_at": format_datetime_ms(run.updated_at),
        "scope_type": "project",
        "scope_id": tenant.project_id,
        "project_id": tenant.project_id,
        "dataset_id": run.dataset_id,
    })
}

fn object_field(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<Map<String, Value>>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(ApiError::bad_request(format!("`{key}` must be an object"))),
    }
}

fn string_array(body: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::bad_request(format!("`{key}` must be an array of strings"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::bad_request(format!(
            "`{key}` must be an array of strings"
        ))),
    }
}

fn optional_string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("`{key}` must be a string"))),
    }
}

/// A create/update body as a patch, validated: objects (`metadata`, `results`,
/// `configuration`, `passing_ranges`) merge key by key; lists and scalars replace.
fn run_patch(body: &Map<String, Value>) -> Result<RunPatch, ApiError> {
    let status = optional_string(body, "status")?;
    if let Some(status) = &status
        && !RUN_STATUSES.contains(&status.as_str())
    {
        return Err(
            ApiError::bad_request(format!("unknown run status {status:?}"))
                .with_hint("use pending, running, completed, failed or cancelled"),
        );
    }
    let evaluators = match body.get("evaluators") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items.clone()),
        Some(_) => return Err(ApiError::bad_request("`evaluators` must be an array")),
    };
    Ok(RunPatch {
        name: optional_string(body, "name")?,
        description: optional_string(body, "description")?,
        status,
        dataset_id: if body.contains_key("dataset_id") {
            Some(optional_string(body, "dataset_id")?)
        } else {
            None
        },
        metadata: object_field(body, "metadata")?.unwrap_or_default(),
        results: object_field(body, "results")?.unwrap_or_default(),
        configuration: object_field(body, "configuration")?.unwrap_or_default(),
        passing_ranges: object_field(body, "passing_ranges")?.unwrap_or_default(),
        event_ids: string_array(body, "event_ids")?,
        session_ids: string_array(body, "session_ids")?,
        datapoint_ids: string_array(body, "datapoint_ids")?,
        evaluators,
        updated_at: now_ms(),
    })
}

fn body_object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request("body must be a json object")),
    }
}

async fn create_run(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = body_object(body)?;
    let patch = run_patch(&body)?;
    // The Python client names its own run id; honour it so its later calls match.
    let run_id = optional_string(&body, "run_id")?
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(new_id);
    let mut run = Run {
        run_id,
        status: "pending".into(),
        created_at: patch.updated_at,
        ..Run::default()
    };
    patch.apply_to(&mut run);
    state.store.put_run(&tenant, &run).await?;
    Ok(Json(
        json!({"run_id": run.run_id, "evaluation": run_object(&run, &tenant)}),
    ))
}

async fn get_run(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = state.store.get_run(&tenant, &run_id).await?;
    Ok(Json(json!({"evaluation": run_object(&run, &tenant)})))
}

async fn update_run(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let patch = run_patch(&body_object(body)?)?;
    let run = state
        .store
        .update_run(&tenant, &run_id, &patch)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ApiError::not_found(format!("run {run_id} not found"))
                .with_hint("list runs with GET /v1/runs"),
            other => other.into(),
        })?;
    Ok(Json(
        json!({"evaluation": run_object(&run, &tenant), "warning": null}),
    ))
}

async fn delete_run(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if state.store.delete_run(&tenant, &run_id).await? {
        Ok(Json(json!({"id": run_id, "deleted": true})))
    } else {
        Err(ApiError::not_found(format!("run {run_id} not found"))
            .with_hint("list runs with GET /v1/runs"))
    }
}

async fn list_runs(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let (limit, offset, page) = parse_paging(params.get("limit"), params.get("page"))?;
    let (created_min, created_max) = parse_date_range(params.get("dateRange"))?;
    let order = match string_param(params.get("sort_order")).as_deref() {
        Some("asc") | Some("ascending") => SortOrder::Ascending,
        _ => SortOrder::Descending,
    };
    let query = RunQuery {
        dataset_id: string_param(params.get("dataset_id")),
        run_ids: string_list(params.get("run_ids")),
        name: string_param(params.get("name")),
        status: string_param(params.get("status")),
        created_min,
        created_max,
        limit,
        offset,
        order,
    };
    let result = state.store.list_runs(&tenant, &query).await?;
    let unfiltered = state
        .store
        .list_runs(
            &tenant,
            &RunQuery {
                limit: 1,
                ..RunQuery::default()
            },
        )
        .await?
        .total;
    let total_pages = result.total.div_ceil(limit);
    Ok(Json(json!({
        "evaluations": result.items.iter().map(|r| run_object(r, &tenant)).collect::<Vec<_>>(),
        "pagination": {
            "page": page,
            "limit": limit,
            "total": result.total,
            "total_unfiltered": unfiltered,
            "total_pages": total_pages,
            "has_next": page < total_pages,
            "has_prev": page > 1,
        },
        "metrics": [],
    })))
}

/// Every event of the run's sessions: the listed ones plus any whose events carry
/// `metadata.run_id` = the run.
async fn run_events(
    state: &AppState,
    tenant: &Tenant,
    run: &Run,
    extra: &FilterSet,
) -> Result<Vec<Event>, ApiError> {
    let by_metadata = EventQuery {
        filters: FilterSet {
            filters: vec![Filter {
                field: FieldPath::parse("metadata.run_id")?,
                operator: Operator::Is,
                value: FilterValue::Text(run.run_id.clone()),
            }],
        },
        limit: MAX_RUN_EVENTS,
        ..EventQuery::default()
    };
    let tagged = state.store.query_events(tenant, &by_metadata).await?;
    let mut session_ids: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for id in run
        .event_ids
        .iter()
        .chain(&run.session_ids)
        .chain(tagged.items.iter().map(|e| &e.session_id))
    {
        if seen.insert(id.clone()) {
            session_ids.push(id.clone());
        }
    }
    if session_ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = EventQuery {
        filters: extra.clone(),
        session_ids,
        limit: MAX_RUN_EVENTS,
        ..EventQuery::default()
    };
    Ok(state.store.query_events(tenant, &query).await?.items)
}

/// The run's outcome (`/result`, `/compare-with`): only the fields results read
/// of the run's events (see [`run_events`] for which sessions), through
/// [`crate::store::ExperimentStore::run_events`].
async fn evaluate_stored_run(
    state: &AppState,
    tenant: &Tenant,
    run: &Run,
    extra: &FilterSet,
    definitions: &HashMap<String, MetricDefinition>,
) -> Result<RunEvaluation, ApiError> {
    let query = RunEventsQuery {
        session_ids: run
            .event_ids
            .iter()
            .chain(&run.session_ids)
            .cloned()
            .collect(),
        tagged_run_id: Some(run.run_id.clone()),
        filters: extra.clone(),
        limit: MAX_RUN_EVENTS,
    };
    let events = state.store.run_events(tenant, &query).await?;
    Ok(evaluate_run_events(run, &events, definitions))
}

/// Metric definitions of the project, by name (thresholds and types).
async fn metric_definitions(
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

fn aggregation(params: &Map<String, Value>) -> Result<Aggregation, ApiError> {
    Aggregation::parse(string_param(params.get("aggregate_function")).as_deref())
        .map_err(ApiError::bad_request)
}

async fn run_result(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = qs_tree(&pairs);
    let agg = aggregation(&params)?;
    let filters = parse_filters(params.get("filters"))?;
    let run = state.store.get_run(&tenant, &run_id).await?;
    let defs = metric_definitions(&state, &tenant).await?;
    let eval = evaluate_stored_run(&state, &tenant, &run, &filters, &defs).await?;
    let object = run_object(&run, &tenant);
    Ok(Json(result_document(&run, &eval, agg, object)).into_response())
}

async fn compare_runs(
    State(state): State<AppState>,
    tenant: Tenant,
    Path((new_id, old_id)): Path<(String, String)>,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let agg = aggregation(&params)?;
    let filters = parse_filters(params.get("filters"))?;
    let new_run = state.store.get_run(&tenant, &new_id).await?;
    let old_run = state.store.get_run(&tenant, &old_id).await?;
    let defs = metric_definitions(&state, &tenant).await?;
    let new_eval = evaluate_stored_run(&state, &tenant, &new_run, &filters, &defs).await?;
    let old_eval = evaluate_stored_run(&state, &tenant, &old_run, &filters, &defs).await?;
    Ok(Json(compare_body(
        &new_eval,
        &old_eval,
        agg,
        run_object(&new_run, &tenant),
        run_object(&old_run, &tenant),
    )))
}

/// `GET /v1/runs/{id}/metrics`: the run's events that carry metrics.
async fn run_metrics(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let filters = parse_filters(params.get("filters"))?;
    let run = state.store.get_run(&tenant, &run_id).await?;
    let events = run_events(&state, &tenant, &run, &filters).await?;
    let with_metrics: Vec<Value> = events
        .iter()
        .filter(|e| !e.metrics.is_empty())
        .map(|e| event_json(e, &tenant))
        .collect();
    Ok(Json(json!({"events": with_metrics})))
}

/// Fields (metric names per event) and datasets over a set of runs.
fn schema_of(runs: &[Run], events: &[Event]) -> Value {
    let mut fields: Vec<Value> = Vec::new();
    let mut seen = HashSet::new();
    for e in events {
        for (name, value) in &e.metrics {
            let kind = match value {
                Value::Bool(_) => "boolean",
                Value::Number(_) => "number",
                _ => continue,
            };
            if seen.insert((name.clone(), e.event_name.clone())) {
                fields.push(json!({"name": name, "event_name": e.event_name, "event_type": e.event_type.as_str(), "type": kind, "field": format!("metrics.{name}")}));
            }
        }
    }
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
    json!({"fields": fields, "datasets": datasets, "mappings": {}})
}

async fn runs_schema(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
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
                        limit: 200,
                        ..RunQuery::default()
                    },
                )
                .await?
                .items
        }
    };
    let mut events = Vec::new();
    for run in &runs {
        events.extend(run_events(&state, &tenant, run, &FilterSet::default()).await?);
    }
    Ok(Json(schema_of(&runs, &events)))
}

async fn run_schema(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = state.store.get_run(&tenant, &run_id).await?;
    let events = run_events(&state, &tenant, &run, &FilterSet::default()).await?;
    Ok(Json(schema_of(std::slice::from_ref(&run), &events)))
}

/// `GET /v1/runs/compare/events`: for each datapoint common to both runs, the pair
/// of events with the same name (and type), optionally narrowed by name/type/filter.
async fn compare_events(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
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
    let all_1 = run_events(&state, &tenant, &run_1, &FilterSet::default()).await?;
    let all_2 = run_events(&state, &tenant, &run_2, &FilterSet::default()).await?;
    let defs = HashMap::new();
    let eval_1 = evaluate_run(&run_1, &all_1, &defs);
    let eval_2 = evaluate_run(&run_2, &all_2, &defs);
    let sessions_2: HashMap<&str, &str> = eval_2
        .datapoints
        .iter()
        .filter_map(|d| {
            d.datapoint_id
                .as_deref()
                .map(|dp| (dp, d.session_id.as_str()))
        })
        .collect();
    let mut matched = Vec::new();
    for dp in &eval_1.datapoints {
        let Some(dp_id) = dp.datapoint_id.as_deref() else {
            continue;
        };
        let Some(session_2) = sessions_2.get(dp_id) else {
            continue;
        };
        for e1 in all_1
            .iter()
            .filter(|e| e.session_id == dp.session_id && filters.matches(e))
        {
            let twin = all_2.iter().find(|e| {
                e.session_id == *session_2
                    && e.event_name == e1.event_name
                    && e.event_type == e1.event_type
            });
            if let Some(e2) = twin {
                matched.push(json!({"datapoint_id": dp_id, "event_1": event_json(e1, &tenant), "event_2": event_json(e2, &tenant)}));
            }
        }
    }
    let total = matched.len();
    let events: Vec<Value> = matched
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Ok(Json(
        json!({"events": events, "pagination": {"page": page, "limit": limit, "total": total}}),
    ))
}
