//! Metric definitions (`/v1/metrics`), configurations (`/v1/configurations`) and
//! projects (`/v1/projects`).
//!
//! Updates are one store call each (the body validated into a patch first), so
//! concurrent updates of one document all land.
//!
//! A key manages only its own project: `GET` lists just that one, `PUT` changes
//! its description and type but never its name (403), `DELETE` refuses it
//! (403), and `POST` creates nothing (403, except that the key's own project
//! name answers the project as it is). Any other project name answers 404 as if
//! it did not exist. Projects are created with `hh keys create --project NAME`.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use honeyhive_model::ErrorCode;
use honeyhive_model::filter::format_datetime_ms;
use serde_json::{Map, Value, json};

use super::datasets::{hinted, text_field};
use super::query::{qs_tree, string_list, string_param};
use super::{new_id, now_ms};
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::store::{Project, ProjectPatch, Resource, ResourceKind, ResourcePatch, Tenant};

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

/// An update body as a patch: every field replaces the stored one (`id` and
/// `metric_id` name the document and are not stored).
fn resource_patch(body: Map<String, Value>) -> Result<ResourcePatch, ApiError> {
    let mut patch = ResourcePatch {
        updated_at: now_ms(),
        ..ResourcePatch::default()
    };
    for (k, v) in body {
        if matches!(k.as_str(), "id" | "metric_id") {
            continue;
        }
        if k == "name" {
            patch.name = Some(
                v.as_str()
                    .filter(|s| !s.trim().is_empty() && s.len() <= 200)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "`name` must be a non-empty string of at most 200 characters",
                        )
                    })?,
            );
        }
        patch.fields.insert(k, v);
    }
    Ok(patch)
}

async fn apply_update(
    state: &AppState,
    tenant: &Tenant,
    kind: ResourceKind,
    id: &str,
    body: Map<String, Value>,
) -> Result<(), ApiError> {
    let patch = resource_patch(body)?;
    state
        .store
        .update_resource(tenant, kind, id, &patch)
        .await
        .map_err(|e| {
            let hint = match kind {
                ResourceKind::Metric => "list metrics with GET /v1/metrics",
                ResourceKind::Configuration => "list configurations with GET /v1/configurations",
            };
            hinted(e, hint)
        })?;
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

/// The answer for a project name other than the key's own: the same whether
/// such a project exists or not, so a key learns nothing about other projects.
fn other_project(name: &str) -> ApiError {
    ApiError::not_found(format!("project {name:?} not found"))
        .with_hint("a key sees only its own project: GET /v1/projects lists it")
}

/// `GET /v1/projects`: the key's own project (an array of one, or none when
/// `name` names another).
async fn list_projects(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let name = string_param(params.get("name"));
    if name.as_ref().is_some_and(|n| *n != tenant.project_name) {
        return Ok(Json(json!([])));
    }
    let project = state.store.get_project(&tenant).await?;
    Ok(Json(json!([project_json(&project, &tenant)])))
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

/// `POST /v1/projects`: a key creates no project. Its own project's name is
/// answered with the project as it is (idempotent); any other name is refused.
async fn create_project(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let name = required_name(&body)?;
    if name != tenant.project_name {
        return Err(
            ApiError::new(ErrorCode::Forbidden, "an api key cannot create projects").with_hint(
                "create a project and its key on the server with `hh keys create --project NAME`",
            ),
        );
    }
    let project = state.store.get_project(&tenant).await?;
    Ok(Json(project_json(&project, &tenant)))
}

/// `PUT /v1/projects`: the key's own project's `description` and `type`.
async fn update_project(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let name = required_name(&body)?;
    if name != tenant.project_name {
        return Err(other_project(&name));
    }
    let new_name = text_field(&body, "new_name")?;
    if new_name.is_some_and(|n| !n.trim().is_empty() && n != tenant.project_name) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "an api key cannot rename its project",
        )
        .with_hint(
            "keys and stored data name the project; to use another name, create a project with `hh keys create --project NAME`",
        ));
    }
    let patch = ProjectPatch {
        description: text_field(&body, "description")?,
        project_type: project_type(&body)?,
    };
    let project = state.store.update_project(&tenant, &patch).await?;
    Ok(Json(project_json(&project, &tenant)))
}

/// `DELETE /v1/projects`: refused for the key's own project; any other name
/// is not there for this key.
async fn delete_project(
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let name = string_param(params.get("name"))
        .ok_or_else(|| ApiError::bad_request("query parameter name is required"))?;
    if name != tenant.project_name {
        return Err(other_project(&name));
    }
    Err(ApiError::new(
        ErrorCode::Forbidden,
        "an api key cannot delete its own project",
    )
    .with_hint("delete the project's data with DELETE /v1/sessions/{id} or DELETE /v1/events/{id}"))
}
