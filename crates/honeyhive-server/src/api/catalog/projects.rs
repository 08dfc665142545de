//! The key's own project: `/v1/projects`.
//!
//! A key manages only its own project: `GET` lists just that one, `PUT` changes
//! its description and type but never its name (403), `DELETE` refuses it
//! (403), and `POST` creates nothing (403, except that the key's own project
//! name answers the project as it is). Any other project name answers 404 as if
//! it did not exist. Projects are created with `hh keys create --project NAME`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use honeyhive_model::ErrorCode;
use honeyhive_model::filter::format_datetime_ms;
use serde_json::{Map, Value, json};

use super::required_name;
use crate::api::query::{object, qs_tree, string_param, text_field};
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::store::{Project, ProjectPatch, Tenant};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/projects",
        get(list_projects)
            .post(create_project)
            .put(update_project)
            .delete(delete_project),
    )
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
