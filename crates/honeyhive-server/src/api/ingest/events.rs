//! The HoneyHive event API: sessions, events, model events, enrichment.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use honeyhive_model::{ErrorCode, EventType};
use serde_json::{Value, json};

use crate::api::answer::EventAnswer;
use crate::api::error::WorkFailed;
use crate::api::{ApiError, AppState, JsonBody};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::ingest::commit::commit;
use crate::ingest::fields::{OversizedField, oversized_enrichment, oversized_field};
use crate::store::{Tenant, WriteBatch};
use honeyhive_model::event_api::{self as bodies, EventDefaults, Stamp};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/session/start", post(start_session))
        .route("/v1/sessions", post(start_session))
        .route("/events", post(create_event).put(update_event))
        .route("/v1/events", post(create_event))
        .route("/events/batch", post(create_event_batch))
        .route("/v1/events/batch", post(create_event_batch))
        .route("/events/model", post(create_model_event))
        .route("/events/model/batch", post(create_model_event_batch))
}

/// The server's clock and id generator, for what a body leaves out.
fn stamp() -> Stamp<'static> {
    Stamp {
        now_ms: now_ms(),
        new_id: &new_id,
    }
}

async fn write(state: &AppState, tenant: &Tenant, batch: WriteBatch) -> Result<(), ApiError> {
    let count = batch.events.len() as u64;
    let max = state.config.max_spans_per_request;
    if batch.events.len() > max {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("request carries {count} events, more than the limit of {max}"),
        )
        .with_hint("send smaller batches, or raise the server's max_spans_per_request"));
    }
    let max_field = state.config.max_field_bytes;
    for event in &batch.events {
        if let Some(oversized) = oversized_field(event, max_field) {
            return Err(field_too_large(&event.event_id, oversized, max_field));
        }
    }
    commit(state.store.as_ref(), tenant, batch).await?;
    state.metrics.events(count);
    Ok(())
}

fn field_too_large(event_id: &str, oversized: OversizedField, max: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "event {event_id}: `{}` holds at least {} bytes of json, over the limit of {max}",
            oversized.field, oversized.bytes
        ),
    )
    .with_hint("store large payloads elsewhere and keep a reference, or raise the server's max_field_bytes")
}

async fn start_session(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let mut session = bodies::session_start(body, &tenant.project_name, &stamp())?;
    session.project_id = tenant.project_id.clone();
    session.tenant = tenant.org_id.clone();
    // The answer is encoded before the session moves into the write, so the
    // session is not cloned; it is sent only once the write committed.
    let answer = serde_json::to_vec(&EventAnswer::new(&session, &tenant))
        .map_err(|e| WorkFailed::new("encoding the session", e))?;
    let batch = WriteBatch {
        events: vec![session],
        ..WriteBatch::default()
    };
    write(&state, &tenant, batch).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], answer).into_response())
}

async fn create_event(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let event = bodies::single_event(body, "event", &EventDefaults::default(), &stamp())?;
    let event_id = event.event_id.clone();
    write(
        &state,
        &tenant,
        WriteBatch {
            events: vec![event],
            ..WriteBatch::default()
        },
    )
    .await?;
    Ok(Json(json!({"success": true, "event_id": event_id})))
}

async fn create_model_event(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let defaults = EventDefaults {
        event_type: Some(EventType::Model),
        session_id: None,
    };
    let event = bodies::single_event(body, "model_event", &defaults, &stamp())?;
    let event_id = event.event_id.clone();
    write(
        &state,
        &tenant,
        WriteBatch {
            events: vec![event],
            ..WriteBatch::default()
        },
    )
    .await?;
    Ok(Json(json!({"success": true, "event_id": event_id})))
}

async fn batch(
    state: AppState,
    tenant: Tenant,
    body: Value,
    list_key: &str,
    defaults: EventDefaults,
) -> Result<Json<Value>, ApiError> {
    let parsed = bodies::event_batch(body, list_key, &defaults, &tenant.project_name, &stamp())?;
    let event_ids: Vec<String> = parsed.events.iter().map(|e| e.event_id.clone()).collect();
    let session_id = parsed.session.as_ref().map(|s| s.session_id.clone());
    let mut events = parsed.events;
    events.extend(parsed.session);
    write(
        &state,
        &tenant,
        WriteBatch {
            events,
            ..WriteBatch::default()
        },
    )
    .await?;
    let mut answer = json!({"success": true, "event_ids": event_ids});
    if let Some(id) = session_id {
        answer["session_id"] = Value::String(id);
    }
    Ok(Json(answer))
}

async fn create_event_batch(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    batch(state, tenant, body, "events", EventDefaults::default()).await
}

async fn create_model_event_batch(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let defaults = EventDefaults {
        event_type: Some(EventType::Model),
        session_id: None,
    };
    batch(state, tenant, body, "model_events", defaults).await
}

async fn update_event(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let enrichment = bodies::event_update(body)?;
    let event_id = enrichment.event_id.clone();
    let max_field = state.config.max_field_bytes;
    if let Some(oversized) = oversized_enrichment(&enrichment, max_field) {
        return Err(field_too_large(&event_id, oversized, max_field));
    }
    let batch = WriteBatch {
        enrichments: vec![enrichment],
        ..WriteBatch::default()
    };
    let summary = state.store.write(&tenant, batch).await?;
    Ok(Json(json!({
        "success": true,
        "event_id": event_id,
        // False when the event has not arrived yet: the update is kept and applied on arrival.
        "applied": summary.enriched > 0,
    })))
}
