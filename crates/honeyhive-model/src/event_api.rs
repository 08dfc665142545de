//! HoneyHive event API bodies to events and updates: the REST counterpart of
//! [`crate::mapping`] (OTLP spans to events).
//!
//! - `POST /session/start` → [`session_start`]; `POST /events` and
//!   `/events/model` → [`single_event`]; their batches → [`event_batch`];
//!   `PUT /events` → [`event_update`]. A refused body is an [`InvalidBody`] (400).
//! - Model-event fields land where the OTLP mapping puts them: `model`,
//!   `provider`, `hyperparameters`, ... in `config`; `messages` as
//!   `inputs.chat_history`; `response` in `outputs`; `usage` in `metadata`;
//!   anything else in `metadata`. JSON-in-string fields are parsed and kept
//!   within [`MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH).
//! - What a body leaves out (times, ids) comes from the caller's [`Stamp`], so
//!   the reading is pure.
//!
//! The real client and the spec disagree on details (an object or a
//! JSON-encoded string under `session` / `event`; `single_session` or
//! `is_single_session`; `session` or `session_properties`), so every reader
//! here accepts all of them.
//!
//! ```
//! use honeyhive_model::EventType;
//! use honeyhive_model::event_api::{Stamp, session_start};
//! let stamp = Stamp { now_ms: 1.7e12, new_id: &|| "generated".to_string() };
//! let body = serde_json::json!({"session": "{\"session_name\": \"chat\", \"source\": \"evaluation\"}"});
//! let session = session_start(body, "my-project", &stamp).unwrap();
//! assert_eq!((session.event_type, session.event_name.as_str()), (EventType::Session, "chat"));
//! assert_eq!(session.session_id, "generated");
//! assert_eq!(session.start_time, 1.7e12);
//! ```

use serde_json::{Map, Value};

use crate::{ErrorCode, ErrorCoded, Event, EventType, EventUpdate};

/// Why a body was refused (answered as 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidBody(pub String);

impl ErrorCoded for InvalidBody {
    fn code(&self) -> ErrorCode {
        ErrorCode::BadRequest
    }

    fn hint(&self) -> Option<&str> {
        Some("see GET /openapi.json for the body schema")
    }
}

fn invalid(message: impl Into<String>) -> InvalidBody {
    InvalidBody(message.into())
}

/// A value that may be a JSON document encoded as a string, decoded.
fn decode_if_string(value: Value) -> Result<Value, InvalidBody> {
    match value {
        Value::String(text) => serde_json::from_str(&text)
            .map_err(|e| invalid(format!("field holds a string that is not json: {e}"))),
        other => Ok(other),
    }
}

/// `body[key]` as an object (decoding a JSON string), or the body itself when
/// the key is absent and `bare_allowed`.
fn wrapped_object(
    body: Value,
    key: &str,
    bare_allowed: bool,
) -> Result<Map<String, Value>, InvalidBody> {
    let Value::Object(mut outer) = body else {
        return Err(invalid("body must be a json object"));
    };
    match outer.remove(key) {
        Some(inner) => match decode_if_string(inner)? {
            Value::Object(map) => Ok(map),
            _ => Err(invalid(format!("`{key}` must be an object"))),
        },
        None if bare_allowed => Ok(outer),
        None => Err(invalid(format!("missing `{key}`"))),
    }
}

fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key)? {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn take_f64(map: &mut Map<String, Value>, key: &str) -> Option<f64> {
    match map.remove(key)? {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// An object field; a scalar or array is kept under `value` rather than refused.
fn take_object(map: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    map.remove(key).map(object_field).unwrap_or_default()
}

/// A value as the object field of an event stores it: an object as it is, a
/// JSON text of an object parsed, `null` empty, and anything else kept under
/// `value`. The one rule for a body that sends, say, `"outputs": "ABC"`, and for
/// a client that must send an object.
///
/// ```
/// use honeyhive_model::event_api::object_field;
/// use serde_json::json;
/// assert_eq!(object_field(json!("ABC")), json!({"value": "ABC"}).as_object().unwrap().clone());
/// assert_eq!(object_field(json!(r#"{"a": 1}"#))["a"], 1);
/// assert!(object_field(json!(null)).is_empty());
/// ```
pub fn object_field(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => m,
            _ => Map::from_iter([("value".to_string(), Value::String(s))]),
        },
        other => Map::from_iter([("value".to_string(), other)]),
    }
}

/// What the caller stamps on what a body leaves out: the time of an event
/// that names none of its times, and the ids of events and sessions posted
/// without one.
///
/// ```
/// use honeyhive_model::event_api::{Stamp, single_event, EventDefaults};
/// let stamp = Stamp { now_ms: 1000.0, new_id: &|| "fresh".to_string() };
/// let event = single_event(serde_json::json!({"event_type": "tool"}), "event", &EventDefaults::default(), &stamp).unwrap();
/// assert_eq!((event.event_id.as_str(), event.start_time), ("fresh", 1000.0));
/// ```
#[derive(Clone, Copy)]
pub struct Stamp<'a> {
    /// Now, in ms since the epoch.
    pub now_ms: f64,
    /// A fresh, unique id.
    pub new_id: &'a dyn Fn() -> String,
}

impl std::fmt::Debug for Stamp<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stamp")
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

/// Fills start/end/duration from whichever of them were given, else from `now`.
fn settle_times(
    e: &mut Event,
    start: Option<f64>,
    end: Option<f64>,
    duration: Option<f64>,
    now: f64,
) {
    let start = start.unwrap_or(match (end, duration) {
        (Some(end), Some(d)) => end - d,
        (Some(end), None) => end,
        _ => now,
    });
    let end = end.unwrap_or(start + duration.unwrap_or(0.0));
    e.start_time = start;
    e.end_time = end;
    e.duration = duration.unwrap_or((end - start).max(0.0));
}

/// Defaults for events posted without their own session.
#[derive(Debug, Clone, Default)]
pub struct EventDefaults {
    /// Event type when the body names none (`model` for `/events/model`).
    pub event_type: Option<EventType>,
    /// Session for events naming none.
    pub session_id: Option<String>,
}

/// Reads one event object of the event API.
pub fn event_from_object(
    mut map: Map<String, Value>,
    defaults: &EventDefaults,
    stamp: &Stamp<'_>,
) -> Result<Event, InvalidBody> {
    let event_type = match take_string(&mut map, "event_type") {
        Some(name) => EventType::parse(&name).ok_or_else(|| {
            invalid(format!(
                "unknown event_type `{name}`; use session, model, chain or tool"
            ))
        })?,
        None => defaults
            .event_type
            .ok_or_else(|| invalid("missing `event_type` (session, model, chain or tool)"))?,
    };
    let event_id = take_string(&mut map, "event_id").unwrap_or_else(stamp.new_id);
    let session_id = match event_type {
        EventType::Session => {
            take_string(&mut map, "session_id").unwrap_or_else(|| event_id.clone())
        }
        _ => take_string(&mut map, "session_id")
            .or_else(|| defaults.session_id.clone())
            .unwrap_or_else(stamp.new_id),
    };
    let parent_id = match event_type {
        EventType::Session => None,
        _ => Some(take_string(&mut map, "parent_id").unwrap_or_else(|| session_id.clone())),
    };
    let (start, end, duration) = (
        take_f64(&mut map, "start_time"),
        take_f64(&mut map, "end_time"),
        take_f64(&mut map, "duration"),
    );
    let mut event = Event {
        event_id,
        session_id,
        parent_id,
        event_type,
        event_name: take_string(&mut map, "event_name")
            .or_else(|| take_string(&mut map, "session_name"))
            .unwrap_or_else(|| event_type.as_str().to_string()),
        source: take_string(&mut map, "source").unwrap_or_else(|| "dev".to_string()),
        config: take_object(&mut map, "config"),
        inputs: take_object(&mut map, "inputs"),
        outputs: take_object(&mut map, "outputs"),
        error: take_string(&mut map, "error"),
        metadata: take_object(&mut map, "metadata"),
        metrics: take_object(&mut map, "metrics"),
        feedback: take_object(&mut map, "feedback"),
        user_properties: take_object(&mut map, "user_properties"),
        ..Event::default()
    };
    settle_times(&mut event, start, end, duration, stamp.now_ms);
    // The key decides the project; the rest are model-event fields or extras.
    for ignored in [
        "project",
        "project_id",
        "children_ids",
        "org_id",
        "workspace_id",
    ] {
        map.remove(ignored);
    }
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "model" | "model_name" | "model_version" | "provider" | "hyperparameters"
            | "template" | "tools" | "tool_choice" | "response_format" => {
                event.config.insert(key, value);
            }
            "messages" => {
                event.inputs.insert("chat_history".to_string(), value);
            }
            "template_inputs" => {
                event.inputs.insert(key, value);
            }
            "response" => match value {
                Value::Object(m) => event.outputs.extend(m),
                other => {
                    event.outputs.insert("response".to_string(), other);
                }
            },
            "usage" => match value {
                Value::Object(m) => event.metadata.extend(m),
                other => {
                    event.metadata.insert("usage".to_string(), other);
                }
            },
            _ => {
                event.metadata.insert(key, value);
            }
        }
    }
    // JSON-in-string fields nest below the body's own depth.
    event.bound_json_depth();
    Ok(event)
}

/// A session object (of `/session/start`, or a single-session batch) → the
/// session event: always of type session, its `session_id` its event id, named
/// `default_name` when it names itself nothing.
fn session_from_object(
    mut map: Map<String, Value>,
    default_name: &str,
    stamp: &Stamp<'_>,
) -> Result<Event, InvalidBody> {
    map.remove("event_type");
    if let Some(id) = take_string(&mut map, "session_id") {
        map.insert("event_id".into(), Value::String(id));
    }
    let defaults = EventDefaults {
        event_type: Some(EventType::Session),
        session_id: None,
    };
    let mut event = event_from_object(map, &defaults, stamp)?;
    if event.event_name == EventType::Session.as_str() {
        event.event_name = default_name.to_string();
    }
    Ok(event)
}

/// `POST /session/start`: `{"session": {...}}` (object or JSON string, or the
/// bare session object) → the session event.
pub fn session_start(
    body: Value,
    default_name: &str,
    stamp: &Stamp<'_>,
) -> Result<Event, InvalidBody> {
    session_from_object(wrapped_object(body, "session", true)?, default_name, stamp)
}

/// `POST /events` (`{"event": ...}` or bare) and `POST /events/model`
/// (`{"model_event": ...}` or bare).
pub fn single_event(
    body: Value,
    wrapper: &str,
    defaults: &EventDefaults,
    stamp: &Stamp<'_>,
) -> Result<Event, InvalidBody> {
    event_from_object(wrapped_object(body, wrapper, true)?, defaults, stamp)
}

/// A batch body: its events and, for a single-session batch, the session.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBatchBody {
    /// The events, sessions assigned.
    pub events: Vec<Event>,
    /// The shared session when the batch asked for one.
    pub session: Option<Event>,
}

/// `POST /events/batch` (`events`) and `POST /events/model/batch` (`model_events`).
pub fn event_batch(
    body: Value,
    list_key: &str,
    defaults: &EventDefaults,
    default_name: &str,
    stamp: &Stamp<'_>,
) -> Result<EventBatchBody, InvalidBody> {
    let Value::Object(mut outer) = body else {
        return Err(invalid("body must be a json object"));
    };
    let items = match outer.remove(list_key).map(decode_if_string).transpose()? {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid(format!("`{list_key}` must be an array"))),
        None => return Err(invalid(format!("missing `{list_key}`"))),
    };
    let single = ["is_single_session", "single_session"]
        .iter()
        .any(|k| outer.get(*k).and_then(Value::as_bool).unwrap_or(false));
    let mut defaults = defaults.clone();
    let session = if single {
        let props = match ["session_properties", "session"]
            .iter()
            .find_map(|k| outer.remove(*k))
            .map(decode_if_string)
            .transpose()?
        {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let session = session_from_object(props, default_name, stamp)?;
        defaults.session_id = Some(session.session_id.clone());
        Some(session)
    } else {
        None
    };
    let events = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match decode_if_string(item) {
            Ok(Value::Object(map)) => event_from_object(map, &defaults, stamp)
                .map_err(|e| invalid(format!("{list_key}[{i}]: {e}"))),
            Ok(_) => Err(invalid(format!("{list_key}[{i}] must be an object"))),
            Err(e) => Err(invalid(format!("{list_key}[{i}]: {e}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EventBatchBody { events, session })
}

/// `PUT /events`: `{"event_id", "metadata", "feedback", ...}` (an object or
/// a JSON string of one) → the update; a field that is not an object is kept
/// under `value`.
pub fn event_update(body: Value) -> Result<EventUpdate, InvalidBody> {
    let Value::Object(mut map) = decode_if_string(body)? else {
        return Err(invalid("body must be a json object"));
    };
    let event_id =
        take_string(&mut map, "event_id").ok_or_else(|| invalid("missing `event_id`"))?;
    let mut update = EventUpdate {
        event_id,
        config: take_object(&mut map, "config"),
        inputs: take_object(&mut map, "inputs"),
        outputs: take_object(&mut map, "outputs"),
        metadata: take_object(&mut map, "metadata"),
        metrics: take_object(&mut map, "metrics"),
        feedback: take_object(&mut map, "feedback"),
        user_properties: take_object(&mut map, "user_properties"),
        error: take_string(&mut map, "error"),
        duration: take_f64(&mut map, "duration"),
        end_time: take_f64(&mut map, "end_time"),
    };
    update.bound_json_depth();
    Ok(update)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn new_id() -> String {
        "generated".to_string()
    }

    const STAMP: Stamp<'static> = Stamp {
        now_ms: 1000.0,
        new_id: &new_id,
    };

    #[test]
    fn session_start_accepts_object_string_and_bare() {
        let as_object = session_start(
            json!({"session": {"session_name": "s", "source": "x"}}),
            "p",
            &STAMP,
        )
        .unwrap();
        assert_eq!(as_object.event_type, EventType::Session);
        assert_eq!(as_object.event_name, "s");
        assert_eq!(as_object.source, "x");
        assert_eq!(as_object.event_id, as_object.session_id);
        let as_string =
            session_start(json!({"session": "{\"session_id\": \"abc\"}"}), "p", &STAMP).unwrap();
        assert_eq!(as_string.session_id, "abc");
        assert_eq!(as_string.event_name, "p");
        let bare = session_start(json!({"session_name": "b"}), "p", &STAMP).unwrap();
        assert_eq!(bare.event_name, "b");
        assert!(session_start(json!({"session": "{not json"}), "p", &STAMP).is_err());
        assert!(session_start(json!([1]), "p", &STAMP).is_err());
    }

    #[test]
    fn model_event_fields_land_in_config_inputs_outputs() {
        let defaults = EventDefaults {
            event_type: Some(EventType::Model),
            session_id: None,
        };
        let e = single_event(
            json!({"model_event": {"model": "gpt-4o", "messages": [{"role": "user"}], "response": {"content": "hi"}, "usage": {"total_tokens": 3}, "session_id": "s1"}}),
            "model_event",
            &defaults,
            &STAMP,
        )
        .unwrap();
        assert_eq!(e.event_type, EventType::Model);
        assert_eq!(e.config["model"], "gpt-4o");
        assert_eq!(e.inputs["chat_history"][0]["role"], "user");
        assert_eq!(e.outputs["content"], "hi");
        assert_eq!(e.metadata["total_tokens"], 3);
        assert_eq!(e.parent_id.as_deref(), Some("s1"));
    }

    #[test]
    fn event_requires_a_known_type() {
        let err = single_event(
            json!({"event": {"event_type": "llm"}}),
            "event",
            &EventDefaults::default(),
            &STAMP,
        );
        assert!(err.is_err());
        let err = single_event(
            json!({"event": {}}),
            "event",
            &EventDefaults::default(),
            &STAMP,
        );
        assert!(err.is_err());
    }

    #[test]
    fn single_session_batch_shares_one_session() {
        let b = event_batch(
            json!({"events": [{"event_type": "tool"}, {"event_type": "chain"}], "is_single_session": true, "session_properties": {"session_name": "batch"}}),
            "events",
            &EventDefaults::default(),
            "p",
            &STAMP,
        )
        .unwrap();
        let session = b.session.expect("session");
        assert_eq!(session.event_name, "batch");
        assert!(b.events.iter().all(|e| e.session_id == session.session_id));
    }

    #[test]
    fn an_update_reads_every_field() {
        let en = event_update(
            json!({"event_id": "e", "metadata": {"a": 1}, "duration": 5, "outputs": "text"}),
        )
        .unwrap();
        assert_eq!(en.event_id, "e");
        assert_eq!(en.metadata["a"], 1);
        assert_eq!(en.duration, Some(5.0));
        assert_eq!(en.outputs["value"], "text");
        assert!(event_update(json!({"metadata": {}})).is_err());
    }
}
