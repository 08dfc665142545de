//! Prompt and model configurations: `/v1/configurations` and
//! `/v1/configurations/{id}`.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{apply_update, remove, required_name, with_stored_fields};
use crate::api::query::{object, qs_tree, string_list, string_param};
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::store::{Resource, ResourceKind, Tenant};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/configurations",
            get(list_configurations).post(create_configuration),
        )
        .route(
            "/v1/configurations/{id}",
            put(update_configuration).delete(delete_configuration),
        )
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
