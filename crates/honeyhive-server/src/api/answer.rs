//! How answers are shaped: an event as the API shows it, and big answers
//! serialized on the blocking pool.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use honeyhive_model::Event;
use serde::Serialize;
use serde_json::{Value, json};

use super::ApiError;
use super::error::WorkFailed;
use crate::store::Tenant;

/// The event as the API shows it, with its tenancy ids ([`EventAnswer`] as a
/// `Value`, its `project_id` the tenant's).
pub(crate) fn event_json(event: &Event, tenant: &Tenant) -> Value {
    let mut value =
        serde_json::to_value(EventAnswer::new(event, tenant)).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut value {
        map.insert(
            "project_id".into(),
            Value::String(tenant.project_id.clone()),
        );
    }
    value
}

/// [`event_json`] as text, for an event whose `project_id` is the tenant's:
/// what live subscribers are sent.
pub(crate) fn event_text(event: &Event, tenant: &Tenant) -> String {
    serde_json::to_string(&EventAnswer::new(event, tenant)).unwrap_or_else(|_| "{}".to_string())
}

/// An event as the API shows it: its fields, then the org as `org_id` and
/// `workspace_id`. Serialized straight from the event, no `Value` tree; the
/// event's `project_id` must already be the tenant's (see [`event_json`]).
#[derive(Serialize)]
pub(crate) struct EventAnswer<'a> {
    #[serde(flatten)]
    event: &'a Event,
    org_id: &'a str,
    workspace_id: &'a str,
}

impl<'a> EventAnswer<'a> {
    pub(crate) fn new(event: &'a Event, tenant: &'a Tenant) -> EventAnswer<'a> {
        EventAnswer {
            event,
            org_id: &tenant.org_id,
            workspace_id: &tenant.org_id,
        }
    }
}

/// A JSON answer whose body `serialize` writes on the blocking pool: a big
/// answer's serialization must not hold an async worker.
pub(crate) async fn json_answer(
    serialize: impl FnOnce() -> serde_json::Result<Vec<u8>> + Send + 'static,
) -> Result<Response, ApiError> {
    let body = tokio::task::spawn_blocking(serialize)
        .await
        .map_err(|e| WorkFailed::new("answer task failed", e))?
        .map_err(|e| WorkFailed::new("answer not serializable", e))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use honeyhive_model::event_api::{self as bodies, Stamp};

    #[test]
    fn the_session_start_answer_is_event_json_without_the_value_tree() {
        let tenant = Tenant {
            org_id: "org-1".into(),
            project_id: "project-1".into(),
            project_name: "demo".into(),
        };
        let body = json!({"session": {
            "session_name": "run",
            "source": "evaluation",
            "session_id": "0194f7a2-0000-7000-8000-000000000001",
            "inputs": {"q": "what is 2 + 2?", "n": 2.5},
            "metadata": {"run_id": "r1", "datapoint_id": "d1"},
            "user_properties": {"plan": "pro"},
        }});
        let stamp = Stamp {
            now_ms: 1000.0,
            new_id: &crate::ids::new_id,
        };
        let mut session = bodies::session_start(body, &tenant.project_name, &stamp).expect("body");
        session.project_id = tenant.project_id.clone();
        session.tenant = tenant.org_id.clone();

        let bytes = serde_json::to_vec(&EventAnswer::new(&session, &tenant)).expect("encode");
        let direct: Value = serde_json::from_slice(&bytes).expect("json");
        let expected = event_json(&session, &tenant);
        assert_eq!(direct, expected);
        let keys = |v: &Value| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>());
        assert_eq!(
            keys(&direct),
            keys(&expected),
            "same fields in the same order"
        );
        assert_eq!(direct["workspace_id"], "org-1");
        assert!(direct.get("tenant").is_none());
    }
}
