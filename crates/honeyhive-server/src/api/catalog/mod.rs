//! The catalog of a project: metric definitions (`/v1/metrics`),
//! configurations (`/v1/configurations`) and the project itself
//! (`/v1/projects`).
//!
//! Updates are one store call each (the body validated into a patch first), so
//! concurrent updates of one document all land.

mod configurations;
mod metrics;
mod projects;

use axum::Router;
use honeyhive_model::filter::format_datetime_ms;
use serde_json::{Map, Value, json};

use super::error::hinted;
use super::{ApiError, AppState};
use crate::clock::now_ms;
use crate::store::{Resource, ResourceKind, ResourcePatch, Tenant};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(metrics::routes())
        .merge(configurations::routes())
        .merge(projects::routes())
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
