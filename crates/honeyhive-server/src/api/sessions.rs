//! Sessions: `GET /v1/sessions/{session_id}` (the session tree, within the
//! read limits, serialized on the blocking pool) and `DELETE
//! /v1/sessions/{session_id}` (the session and every event in it). Sessions are
//! started through the event API ([`super::ingest`]).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use honeyhive_model::Event;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::answer::{event_json, json_answer};
use super::error::read_error;
use super::{ApiError, AppState};
use crate::store::{SessionTree, Tenant};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/sessions/{session_id}",
        get(get_session).delete(delete_session),
    )
}

async fn get_session(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    session_tree_answer(&state, &tenant, &session_id).await
}

/// The session tree of `session_id` within the configured read limits
/// (`GET /v1/sessions/{id}`, `GET /v1/events/{id}`).
pub(crate) async fn session_tree_answer(
    state: &AppState,
    tenant: &Tenant,
    session_id: &str,
) -> Result<Response, ApiError> {
    let tree = read_session_tree(state, tenant, session_id).await?;
    let tenant = tenant.clone();
    json_answer(move || tree_body(tree, &tenant)).await
}

/// The session tree of `session_id` as stored (no roll-ups yet), within the
/// configured read limits; past them 422 with how to read it page by page.
pub(crate) async fn read_session_tree(
    state: &AppState,
    tenant: &Tenant,
    session_id: &str,
) -> Result<SessionTree, ApiError> {
    state
        .store
        .session_tree(tenant, session_id, state.config.read_limits())
        .await
        .map_err(|e| {
            let by_session = serde_json::json!([
                {"field": "session_id", "operator": "is", "value": session_id, "type": "id"}
            ]);
            read_error(
                e,
                &format!(
                    "read the session's events page by page: GET /events with filters={by_session}, limit and page"
                ),
            )
        })
}

/// The spec's `GetSessionResponse` as bytes: the session event, roll-ups in
/// its `metadata`, each node carrying `children_ids` and nested `children`.
fn tree_body(tree: SessionTree, tenant: &Tenant) -> serde_json::Result<Vec<u8>> {
    let SessionTree {
        mut session,
        events,
    } = tree;
    crate::store::apply_rollup(&mut session, &events);
    let by_id: HashMap<&str, &Event> = events.iter().map(|e| (e.event_id.as_str(), e)).collect();
    serde_json::to_vec(&TreeNode {
        event: &session,
        by_id: &by_id,
        tenant,
        depth: 0,
    })
}

/// Deep enough for any real trace; a cycle in bad data cannot recurse forever.
const MAX_DEPTH: usize = 256;

/// One node of the spec's `GetSessionResponse`: the event as the API shows it
/// (see [`event_json`]), then its nested `children`. Serialized straight to
/// the answer's bytes, so the tree is never held as one `Value`.
struct TreeNode<'a> {
    event: &'a Event,
    by_id: &'a HashMap<&'a str, &'a Event>,
    tenant: &'a Tenant,
    depth: usize,
}

impl Serialize for TreeNode<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = match event_json(self.event, self.tenant) {
            Value::Object(fields) => fields,
            _ => serde_json::Map::new(),
        };
        let mut map = serializer.serialize_map(Some(fields.len() + 1))?;
        for (key, value) in &fields {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("children", &Children(self))?;
        map.end()
    }
}

/// The `children` of a [`TreeNode`], empty past [`MAX_DEPTH`].
struct Children<'a>(&'a TreeNode<'a>);

impl Serialize for Children<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let parent = self.0;
        let mut seq = serializer.serialize_seq(None)?;
        if parent.depth < MAX_DEPTH {
            for child in parent
                .event
                .children_ids
                .iter()
                .filter_map(|id| parent.by_id.get(id.as_str()))
            {
                seq.serialize_element(&TreeNode {
                    event: child,
                    by_id: parent.by_id,
                    tenant: parent.tenant,
                    depth: parent.depth + 1,
                })?;
            }
        }
        seq.end()
    }
}

async fn delete_session(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if state.store.delete_session(&tenant, &id).await? > 0 {
        Ok(Json(json!({"success": true, "deleted": id})))
    } else {
        Err(ApiError::not_found(format!("session {id} not found")))
    }
}

#[cfg(test)]
mod tests {
    use honeyhive_model::EventType;
    use serde_json::json;

    use super::*;

    fn event(id: &str, parent: Option<&str>, children: &[&str]) -> Event {
        Event {
            event_id: id.into(),
            project_id: "p1".into(),
            session_id: "s".into(),
            parent_id: parent.map(str::to_string),
            children_ids: children.iter().map(|c| c.to_string()).collect(),
            event_type: if id == "s" {
                EventType::Session
            } else {
                EventType::Tool
            },
            ..Event::default()
        }
    }

    #[test]
    fn the_tree_is_each_event_as_the_api_shows_it_then_its_children() {
        let tenant = Tenant {
            org_id: "org".into(),
            project_id: "p1".into(),
            project_name: "demo".into(),
        };
        let mut root = event("root", Some("s"), &["leaf"]);
        root.inputs.insert("q".into(), json!("hi"));
        let leaf = event("leaf", Some("root"), &[]);
        let tree = SessionTree {
            session: event("s", None, &["root"]),
            events: vec![root.clone(), leaf.clone()],
        };
        let body = tree_body(tree.clone(), &tenant).expect("serializes");
        let answer: Value = serde_json::from_slice(&body).expect("json");

        let with_children = |e: &Event, children: Value| {
            let mut value = event_json(e, &tenant);
            value["children"] = children;
            value
        };
        let mut session = tree.session.clone();
        crate::store::apply_rollup(&mut session, &tree.events);
        let leaf_json = with_children(&leaf, json!([]));
        let root_json = with_children(&root, json!([leaf_json]));
        let expected = with_children(&session, json!([root_json]));
        assert_eq!(answer, expected);
        let keys = |v: &Value| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>());
        assert_eq!(keys(&answer), keys(&expected), "same fields, same order");
        assert_eq!(answer["metadata"]["num_events"], 2);
    }
}
