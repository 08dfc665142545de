//! Metric definitions (`/v1/metrics`), configurations (`/v1/configurations`) and
//! projects (`/v1/projects`).

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use honeyhive_model::ErrorCode;
use honeyhive_model::filter::format_datetime_ms;
use serde_json::{Map, Value, json};

use super::query::{qs_tree, string_list, string_param};
use super::{new_id, now_ms};
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::store::{Project, Resource, ResourceKind, Tenant};

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
        .route(
            "/v1/configurations",
            get(list_configurations).post(create_configuration),
        )
        .route(
            "/v1/configurations/{id}",
            put(update_configuration).delete(delete_configuration),
        )
        .route(
            "/v1/projects",
            get(list_projects)
                .post(create_project)
                .put(update_project)
                .delete(delete_project),
        )
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request("body must be a json object")),
    }
}

fn required_name(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => Ok(s.clone()),
        _ => Err(ApiError::bad_request(
            "`name` is required: a non-empty string of at most 200 characters",
        )),
    }
}

async fn find(
    state: &AppState,
    tenant: &Tenant,
    kind: ResourceKind,
    id: &str,
) -> Result<Resource, ApiError> {
    state
        .store
        .list_resources(tenant, kind)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::not_found(format!("{} {id} not found", kind.as_str())))
}

/// `defaults` overlaid with the stored body and the resource's identity and timestamps.
fn with_stored_fields(mut defaults: Value, r: &Resource) -> Value {
    if let Value::Object(out) = &mut defaults {
        for (k, v) in &r.body {
            out.insert(k.clone(), v.clone());
        }
        out.insert("id".into(), json!(r.id));
        out.insert("name".into(), json!(r.name));
        out.insert("created_at".into(), json!(format_datetime_ms(r.created_at)));
        out.insert("updated_at".into(), json!(format_datetime_ms(r.updated_at)));
    }
    defaults
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

async fn apply_update(
    state: &AppState,
    tenant: &Tenant,
    kind: ResourceKind,
    id: &str,
    body: Map<String, Value>,
) -> Result<(), ApiError> {
    let mut resource = find(state, tenant, kind, id).await?;
    for (k, v) in body {
        if matches!(k.as_str(), "id" | "metric_id") {
            continue;
        }
        if k == "name" {
            resource.name = v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| ApiError::bad_request("`name` must be a string"))?;
        }
        resource.body.insert(k, v);
    }
    resource.updated_at = now_ms();
    state.store.put_resource(tenant, &resource).await?;
    Ok(())
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

async fn remove(
    state: &AppState,
    tenant: &Tenant,
    kind: ResourceKind,
    id: &str,
) -> Result<(), ApiError> {
    if state.store.delete_resource(tenant, kind, id).await? {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "{} {id} not found",
            kind.as_str()
        )))
    }
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

fn configuration_json(r: &Resource) -> Value {
    let c = json!({
        "type": "LLM",
        "provider": "",
        "parameters": {"call_type": "chat", "model": ""},
        "env": [],
        "tags": [],
        "user_properties": null,
    });
    with_stored_fields(c, r)
}

async fn list_configurations(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let name = string_param(params.get("name"));
    let env = string_param(params.get("env"));
    let tags = string_list(params.get("tags"));
    let has = |r: &Resource, key: &str, wanted: &str| {
        r.body
            .get(key)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(wanted)))
    };
    let configurations: Vec<Value> = state
        .store
        .list_resources(&tenant, ResourceKind::Configuration)
        .await?
        .iter()
        .filter(|r| name.as_ref().is_none_or(|n| *n == r.name))
        .filter(|r| env.as_ref().is_none_or(|e| has(r, "env", e)))
        .filter(|r| tags.iter().all(|t| has(r, "tags", t)))
        .map(configuration_json)
        .collect();
    // The Python client reads `.configurations` off an object (the spec says a bare array).
    Ok(Json(json!({"configurations": configurations})))
}

async fn create_configuration(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let name = required_name(&body)?;
    if !body.get("provider").is_some_and(Value::is_string)
        || !body.get("parameters").is_some_and(Value::is_object)
    {
        return Err(ApiError::bad_request(
            "`provider` (string) and `parameters` (object) are required",
        ));
    }
    let now = now_ms();
    let resource = Resource {
        kind: ResourceKind::Configuration,
        id: new_id(),
        name,
        body,
        created_at: now,
        updated_at: now,
    };
    state.store.put_resource(&tenant, &resource).await?;
    Ok(Json(
        json!({"acknowledged": true, "insertedId": resource.id}),
    ))
}

async fn update_configuration(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    apply_update(
        &state,
        &tenant,
        ResourceKind::Configuration,
        &id,
        object(body)?,
    )
    .await?;
    Ok(Json(
        json!({"acknowledged": true, "modifiedCount": 1, "upsertedId": null, "upsertedCount": 0, "matchedCount": 1}),
    ))
}

async fn delete_configuration(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    remove(&state, &tenant, ResourceKind::Configuration, &id).await?;
    Ok(Json(json!({"acknowledged": true, "deletedCount": 1})))
}

fn project_json(p: &Project, tenant: &Tenant) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "type": p.project_type,
        "org_id": tenant.org_id,
        "created_at": format_datetime_ms(p.created_at),
    })
}

async fn list_projects(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let name = string_param(params.get("name"));
    let projects: Vec<Value> = state
        .store
        .list_projects(&tenant)
        .await?
        .iter()
        .filter(|p| name.as_ref().is_none_or(|n| *n == p.name))
        .map(|p| project_json(p, &tenant))
        .collect();
    Ok(Json(Value::Array(projects)))
}

fn project_type(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match body.get("type") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "evaluation" || s == "completion" => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(
            "`type` must be evaluation or completion",
        )),
    }
}

async fn create_project(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let project = Project {
        id: new_id(),
        name: required_name(&body)?,
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        project_type: project_type(&body)?,
        created_at: now_ms(),
    };
    state.store.put_project(&tenant, &project).await?;
    Ok(Json(project_json(&project, &tenant)))
}

async fn update_project(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let name = required_name(&body)?;
    let mut project = state
        .store
        .list_projects(&tenant)
        .await?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ApiError::not_found(format!("project {name:?} not found")))?;
    if let Some(new_name) = body
        .get("new_name")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
    {
        project.name = new_name.to_string();
    }
    if let Some(description) = body.get("description").and_then(Value::as_str) {
        project.description = Some(description.to_string());
    }
    if let Some(ty) = project_type(&body)? {
        project.project_type = Some(ty);
    }
    state.store.put_project(&tenant, &project).await?;
    Ok(Json(project_json(&project, &tenant)))
}

async fn delete_project(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let name = string_param(params.get("name"))
        .ok_or_else(|| ApiError::bad_request("query parameter name is required"))?;
    if state.store.delete_project(&tenant, &name).await? {
        Ok(Json(json!({"deleted": true, "name": name})))
    } else {
        Err(ApiError::not_found(format!("project {name:?} not found")))
    }
}
