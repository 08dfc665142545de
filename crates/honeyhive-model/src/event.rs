//! The event: the one row shape every span, session and API call becomes,
//! and the update (`PUT /events`) merged into one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::EventType;

/// One stored event, in the HoneyHive event schema.
///
/// Times are milliseconds since the Unix epoch (floating point, as HoneyHive
/// returns them); `duration` is milliseconds. The JSON objects (`inputs`,
/// `outputs`, ...) are rebuilt from dotted span attributes.
///
/// ```
/// use honeyhive_model::{Event, EventType};
/// let e = Event { event_id: "e1".into(), session_id: "s1".into(), event_type: EventType::Tool, ..Event::default() };
/// assert_eq!(serde_json::to_value(&e).unwrap()["event_type"], "tool");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Event {
    /// Unique id of the event (a UUID string).
    pub event_id: String,
    /// The project the event belongs to (filled by the server from the API key).
    pub project_id: String,
    /// The org (tenant) the event belongs to (filled by the server). Never
    /// serialized: the API names the org as `org_id` / `workspace_id`.
    #[serde(skip_serializing)]
    pub tenant: String,
    /// The session this event is part of; equals `event_id` for a session event.
    pub session_id: String,
    /// The parent event; the session id for top-level events, `None` for a session.
    pub parent_id: Option<String>,
    /// Direct children, filled when a tree is read back.
    pub children_ids: Vec<String>,
    /// Kind of step.
    pub event_type: EventType,
    /// Human name (function name, span name).
    pub event_name: String,
    /// Where it came from (`dev`, `production`, `evaluation`, ...).
    pub source: String,
    /// Model/tool configuration (model name, provider, temperature, ...).
    pub config: Map<String, Value>,
    /// Inputs (function arguments, chat history, ...).
    pub inputs: Map<String, Value>,
    /// Outputs (return value, completion, ...).
    pub outputs: Map<String, Value>,
    /// Error message, if the step failed.
    pub error: Option<String>,
    /// Start time in ms since the epoch.
    pub start_time: f64,
    /// End time in ms since the epoch.
    pub end_time: f64,
    /// Duration in ms.
    pub duration: f64,
    /// Free-form metadata (token counts, cost, run ids, ...).
    pub metadata: Map<String, Value>,
    /// Numeric or boolean scores (evaluators, latency, ...).
    pub metrics: Map<String, Value>,
    /// User or ground-truth feedback.
    pub feedback: Map<String, Value>,
    /// Properties of the end user.
    pub user_properties: Map<String, Value>,
}

impl Event {
    /// Keeps every JSON field within [`MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH):
    /// deeper subtrees become their compact JSON text. Returns how many were flattened.
    ///
    /// ```
    /// use honeyhive_model::{Event, limits::{MAX_JSON_DEPTH, object_depth}};
    /// let mut deep = serde_json::json!("leaf");
    /// for _ in 0..100 {
    ///     deep = serde_json::json!({ "k": deep });
    /// }
    /// let mut event = Event::default();
    /// event.metadata.insert("deep".into(), deep);
    /// assert_eq!(event.bound_json_depth(), 1);
    /// assert_eq!(object_depth(&event.metadata), MAX_JSON_DEPTH);
    /// ```
    pub fn bound_json_depth(&mut self) -> usize {
        self.json_fields_mut()
            .into_iter()
            .map(|(_, map)| crate::limits::bound_object_depth(map, crate::limits::MAX_JSON_DEPTH))
            .sum()
    }

    /// The seven JSON documents of an event, by field name.
    ///
    /// ```
    /// let event = honeyhive_model::Event::default();
    /// assert_eq!(event.json_fields()[3].0, "metadata");
    /// ```
    pub fn json_fields(&self) -> [(&'static str, &Map<String, Value>); 7] {
        [
            ("config", &self.config),
            ("inputs", &self.inputs),
            ("outputs", &self.outputs),
            ("metadata", &self.metadata),
            ("metrics", &self.metrics),
            ("feedback", &self.feedback),
            ("user_properties", &self.user_properties),
        ]
    }

    /// [`Event::json_fields`], mutable.
    pub fn json_fields_mut(&mut self) -> [(&'static str, &mut Map<String, Value>); 7] {
        [
            ("config", &mut self.config),
            ("inputs", &mut self.inputs),
            ("outputs", &mut self.outputs),
            ("metadata", &mut self.metadata),
            ("metrics", &mut self.metrics),
            ("feedback", &mut self.feedback),
            ("user_properties", &mut self.user_properties),
        ]
    }
}

/// A partial update merged into an existing event: the body of `PUT /events`,
/// which the platform calls an enrichment.
///
/// Object fields are merged key by key (new keys win); scalar fields replace.
/// A server keeps an update for an event that does not exist yet and applies
/// it when the event arrives, so an update racing its own spans is never lost.
///
/// Its JSON leaves out what it does not set, fields in the order of the
/// spec's example (`event_id`, `metadata`, `feedback`, `metrics`, `outputs`,
/// `config`, `user_properties`, `duration`), then `inputs`, `error`, `end_time`.
///
/// ```
/// use honeyhive_model::EventUpdate;
/// let mut update = EventUpdate { event_id: "s1".into(), ..EventUpdate::default() };
/// update.outputs.insert("answer".into(), "ABC".into());
/// update.feedback.insert("ground_truth".into(), serde_json::json!({"answer": "ABC"}));
/// assert_eq!(
///     serde_json::to_string(&update).unwrap(),
///     r#"{"event_id":"s1","feedback":{"ground_truth":{"answer":"ABC"}},"outputs":{"answer":"ABC"}}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventUpdate {
    /// The event to update; a session id updates the session event.
    pub event_id: String,
    /// Merged into `metadata`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// Merged into `feedback`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub feedback: Map<String, Value>,
    /// Merged into `metrics`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metrics: Map<String, Value>,
    /// Merged into `outputs`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub outputs: Map<String, Value>,
    /// Merged into `config`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    /// Merged into `user_properties`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub user_properties: Map<String, Value>,
    /// Replaces `duration` when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Merged into `inputs`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub inputs: Map<String, Value>,
    /// Replaces `error` when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Replaces `end_time` when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
}

impl EventUpdate {
    /// Merges this update into `event` (the one rule every store applies).
    ///
    /// ```
    /// use honeyhive_model::{Event, EventUpdate};
    /// let mut e = Event { event_id: "e".into(), ..Event::default() };
    /// e.metadata.insert("a".into(), 1.into());
    /// let mut update = EventUpdate { event_id: "e".into(), ..EventUpdate::default() };
    /// update.metadata.insert("b".into(), 2.into());
    /// update.apply_to(&mut e);
    /// assert_eq!(e.metadata.len(), 2);
    /// ```
    pub fn apply_to(&self, event: &mut Event) {
        for ((_, into), (_, from)) in event.json_fields_mut().into_iter().zip(self.json_fields()) {
            for (k, v) in from {
                into.insert(k.clone(), v.clone());
            }
        }
        if let Some(error) = &self.error {
            event.error = Some(error.clone());
        }
        if let Some(duration) = self.duration {
            event.duration = duration;
        }
        if let Some(end_time) = self.end_time {
            event.end_time = end_time;
        }
    }

    /// Keeps every JSON field within [`MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH),
    /// as the fields of an event are. Returns how many subtrees were flattened.
    pub fn bound_json_depth(&mut self) -> usize {
        self.json_fields_mut()
            .into_iter()
            .map(|(_, map)| crate::limits::bound_object_depth(map, crate::limits::MAX_JSON_DEPTH))
            .sum()
    }

    /// The seven JSON documents the update merges, by field name, in the
    /// order of [`Event::json_fields`].
    pub fn json_fields(&self) -> [(&'static str, &Map<String, Value>); 7] {
        [
            ("config", &self.config),
            ("inputs", &self.inputs),
            ("outputs", &self.outputs),
            ("metadata", &self.metadata),
            ("metrics", &self.metrics),
            ("feedback", &self.feedback),
            ("user_properties", &self.user_properties),
        ]
    }

    /// [`EventUpdate::json_fields`], mutable.
    pub fn json_fields_mut(&mut self) -> [(&'static str, &mut Map<String, Value>); 7] {
        [
            ("config", &mut self.config),
            ("inputs", &mut self.inputs),
            ("outputs", &mut self.outputs),
            ("metadata", &mut self.metadata),
            ("metrics", &mut self.metrics),
            ("feedback", &mut self.feedback),
            ("user_properties", &mut self.user_properties),
        ]
    }

    /// Folds a later update of the same event into this one.
    pub fn absorb(&mut self, later: EventUpdate) {
        self.config.extend(later.config);
        self.inputs.extend(later.inputs);
        self.outputs.extend(later.outputs);
        self.metadata.extend(later.metadata);
        self.metrics.extend(later.metrics);
        self.feedback.extend(later.feedback);
        self.user_properties.extend(later.user_properties);
        if later.error.is_some() {
            self.error = later.error;
        }
        if later.duration.is_some() {
            self.duration = later.duration;
        }
        if later.end_time.is_some() {
            self.end_time = later.end_time;
        }
    }
}
