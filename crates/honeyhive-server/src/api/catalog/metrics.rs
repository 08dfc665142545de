//! Metric definitions: `/v1/metrics`, `/v1/metrics/{id}`, and the metric
//! runs the server does not do yet (`/v1/metrics/run_metric`).

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use honeyhive_model::ErrorCode;
use serde_json::{Value, json};

use super::{apply_update, remove, required_name, with_stored_fields};
use crate::api::query::{object, qs_tree, string_param};
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::store::{Resource, ResourceKind, Tenant};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/metrics",
            get(list_metrics)
                .post(create_metric)
                .put(update_metric_legacy)
                .delete(delete_metric_legacy),
        )
        .route(
            "/v1/metrics/{metric_id}",
            put(update_metric).delete(delete_metric),
        )
        .route("/v1/metrics/run_metric", post(run_metric))
        .route("/v1/metrics/run", post(run_metric))
}

/// A metric as the Python client's `MetricItem` requires it (every required key present).
fn metric_json(r: &Resource) -> Value {
    let m = json!({
        "name": r.name,
        "type": "PYTHON",
        "criteria": "",
        "description": "",
        "return_type": "float",
        "enabled_in_prod": false,
        "needs_ground_truth": false,
        "sampling_percentage": 100,
        "model_provider": null,
        "model_name": null,
        "scale": null,
        "threshold": null,
        "categories": null,
        "child_metrics": null,
        "filters": {"filterArray": []},
    });
    with_stored_fields(m, r)
}

async fn list_metrics(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let (id, ty, name) = (
        string_param(params.get("id")),
        string_param(params.get("type")),
        string_param(params.get("name")),
    );
    let metrics: Vec<Value> = state
        .store
        .list_resources(&tenant, ResourceKind::Metric)
        .await?
        .iter()
        .filter(|r| id.as_ref().is_none_or(|id| *id == r.id))
        .filter(|r| name.as_ref().is_none_or(|n| *n == r.name))
        .filter(|r| {
            ty.as_ref()
                .is_none_or(|t| r.body.get("type").and_then(Value::as_str) == Some(t))
        })
        .map(metric_json)
        .collect();
    // The Python client reads `.metrics` off an object (the spec says a bare array).
    Ok(Json(json!({"metrics": metrics})))
}

async fn create_metric(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let name = required_name(&body)?;
    let now = now_ms();
    let resource = Resource {
        kind: ResourceKind::Metric,
        id: new_id(),
        name,
        body,
        created_at: now,
        updated_at: now,
    };
    state.store.put_resource(&tenant, &resource).await?;
    Ok(Json(json!({"inserted": true, "metric_id": resource.id})))
}

async fn update_metric_legacy(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let id = body
        .get("id")
        .or_else(|| body.get("metric_id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request("`id` is required"))?;
    apply_update(&state, &tenant, ResourceKind::Metric, &id, body).await?;
    Ok(Json(json!({"updated": true})))
}

async fn update_metric(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    apply_update(&state, &tenant, ResourceKind::Metric, &id, object(body)?).await?;
    Ok(Json(json!({"updated": true})))
}

async fn delete_metric_legacy(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let id = string_param(params.get("metric_id"))
        .ok_or_else(|| ApiError::bad_request("query parameter metric_id is required"))?;
    remove(&state, &tenant, ResourceKind::Metric, &id).await?;
    Ok(Json(json!({"deleted": true})))
}

async fn delete_metric(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    remove(&state, &tenant, ResourceKind::Metric, &id).await?;
    Ok(Json(json!({"deleted": true})))
}

/// Server-side metric execution needs the online evaluators, which do not exist yet.
async fn run_metric(_tenant: Tenant) -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        "running metrics on the server is not implemented yet",
    )
    .with_hint("compute evaluator scores client-side (evaluate()) and send them as metrics")
}
