//! Experiment runs: `/v1/runs` CRUD here; `/result`, `/compare-with/`,
//! `/metrics`, `/schema` and `/v1/runs/compare/events` in `reads.rs`.

mod reads;

pub(crate) use reads::evaluate;
#[cfg(feature = "graphql")]
pub(crate) use reads::{NARROW_WITH_FILTERS, blocking};

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use honeyhive_model::run::{Run, RunObject, RunStatus, RunUpdate};
use serde_json::{Map, Value, json};

use crate::api::query::{parse_date_range, parse_paging, qs_tree, string_list, string_param};
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::store::{RunPatch, RunQuery, SortOrder, StoreError, Tenant};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/runs", get(list_runs).post(create_run))
        .route("/v1/runs/schema", get(reads::runs_schema))
        .route("/v1/runs/compare/events", get(reads::compare_events))
        .route(
            "/v1/runs/{run_id}",
            get(get_run).put(update_run).delete(delete_run),
        )
        .route("/v1/runs/{run_id}/result", get(reads::run_result))
        .route("/v1/runs/{run_id}/summary", get(reads::run_result))
        .route("/v1/runs/{run_id}/metrics", get(reads::run_metrics))
        .route("/v1/runs/{run_id}/schema", get(reads::run_schema))
        .route(
            "/v1/runs/{new_run_id}/compare-with/{old_run_id}",
            get(reads::compare_runs),
        )
        .route(
            "/v1/runs/{new_run_id}/compare/{old_run_id}",
            get(reads::compare_runs),
        )
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

/// A create/update body as a patch, validated field by field (each wrong field
/// named in the answer): objects (`metadata`, `results`, `configuration`,
/// `passing_ranges`) merge key by key; lists and scalars replace. A create's
/// `run_id` is read by [`create_run`].
fn run_patch(body: &Map<String, Value>) -> Result<RunPatch, ApiError> {
    let status = optional_string(body, "status")?
        .map(|s| s.parse::<RunStatus>())
        .transpose()?;
    let evaluators = match body.get("evaluators") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items.clone()),
        Some(_) => return Err(ApiError::bad_request("`evaluators` must be an array")),
    };
    let update = RunUpdate {
        name: optional_string(body, "name")?,
        description: optional_string(body, "description")?,
        status,
        metadata: object_field(body, "metadata")?,
        results: object_field(body, "results")?,
        event_ids: string_array(body, "event_ids")?,
        session_ids: string_array(body, "session_ids")?,
        configuration: object_field(body, "configuration")?,
        evaluators,
        datapoint_ids: string_array(body, "datapoint_ids")?,
        dataset_id: if body.contains_key("dataset_id") {
            Some(optional_string(body, "dataset_id")?)
        } else {
            None
        },
        passing_ranges: object_field(body, "passing_ranges")?,
        run_id: None,
    };
    Ok(RunPatch {
        update,
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
        status: RunStatus::Pending,
        created_at: patch.updated_at,
        ..Run::default()
    };
    patch.apply_to(&mut run);
    state.store.put_run(&tenant, &run).await?;
    Ok(Json(
        json!({"run_id": run.run_id, "evaluation": RunObject::new(&run, &tenant.project_id)}),
    ))
}

async fn get_run(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = state.store.get_run(&tenant, &run_id).await?;
    Ok(Json(
        json!({"evaluation": RunObject::new(&run, &tenant.project_id)}),
    ))
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
        json!({"evaluation": RunObject::new(&run, &tenant.project_id), "warning": null}),
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

/// The runs `GET /v1/runs` params select (`dataset_id`, `run_ids`, `name`,
/// `status`, `dateRange`, `sort_order`, `limit`, `page`), and the page asked
/// for; also what the GraphQL run list reads its arguments with.
pub(crate) fn run_query(params: &Map<String, Value>) -> Result<(RunQuery, u64), ApiError> {
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
        status: string_param(params.get("status"))
            .map(|s| s.parse::<RunStatus>())
            .transpose()?,
        created_min,
        created_max,
        limit,
        offset,
        order,
    };
    Ok((query, page))
}

async fn list_runs(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let (query, page) = run_query(&qs_tree(&pairs))?;
    let limit = query.limit;
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
        "evaluations": result.items.iter().map(|r| RunObject::new(r, &tenant.project_id)).collect::<Vec<_>>(),
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
