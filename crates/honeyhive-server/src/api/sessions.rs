//! `GET /v1/sessions/{session_id}`: the session tree.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use honeyhive_model::Event;
use serde_json::Value;

use super::ingest_events::event_json;
use super::{ApiError, AppState};
use crate::store::{SessionTree, Tenant};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/sessions/{session_id}", get(get_session))
}

async fn get_session(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tree = state.store.session_tree(&tenant, &session_id).await?;
    Ok(Json(tree_json(tree, &tenant)))
}

/// The spec's `GetSessionResponse`: the session event, roll-ups in its
/// `metadata`, each node carrying `children_ids` and nested `children`.
pub(crate) fn tree_json(tree: SessionTree, tenant: &Tenant) -> Value {
    let SessionTree {
        mut session,
        events,
    } = tree;
    crate::store::apply_rollup(&mut session, &events);
    let by_id: HashMap<&str, &Event> = events.iter().map(|e| (e.event_id.as_str(), e)).collect();
    node(&session, &by_id, tenant, 0)
}

/// Deep enough for any real trace; a cycle in bad data cannot recurse forever.
const MAX_DEPTH: usize = 256;

fn node(event: &Event, by_id: &HashMap<&str, &Event>, tenant: &Tenant, depth: usize) -> Value {
    let mut value = event_json(event, tenant);
    let children: Vec<Value> = if depth < MAX_DEPTH {
        event
            .children_ids
            .iter()
            .filter_map(|id| by_id.get(id.as_str()))
            .map(|child| node(child, by_id, tenant, depth + 1))
            .collect()
    } else {
        Vec::new()
    };
    value["children"] = Value::Array(children);
    value
}
