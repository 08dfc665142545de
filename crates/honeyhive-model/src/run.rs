//! Experiment runs: the run as the platform keeps it ([`Run`]), and the part
//! of an event that run results read ([`RunEvent`]).

use serde_json::{Map, Value};

use crate::{Event, EventType};

/// An experiment run (the spec's `ExperimentRunObject`, minus presentation fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Run {
    /// The run id (a UUID).
    pub run_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// The dataset the run evaluated, if it is a stored one.
    pub dataset_id: Option<String>,
    /// Session ids of the run (one per datapoint).
    pub event_ids: Vec<String>,
    /// Extra session ids (the spec's `session_ids`).
    pub session_ids: Vec<String>,
    /// Datapoint ids of the run.
    pub datapoint_ids: Vec<String>,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// Free-form results.
    pub results: Map<String, Value>,
    /// The run's configuration (function, evaluators, ...).
    pub configuration: Map<String, Value>,
    /// Evaluators the run declared.
    pub evaluators: Vec<Value>,
    /// Metric name → `{min, max}` passing range.
    pub passing_ranges: Map<String, Value>,
    /// Creation time, ms since epoch.
    pub created_at: f64,
    /// Last update time, ms since epoch.
    pub updated_at: f64,
}

/// The part of an event that run results read: enough to group it into its
/// session, rank it, and take its datapoint id, error and metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunEvent {
    /// The event id.
    pub event_id: String,
    /// Its session.
    pub session_id: String,
    /// Its parent, if any.
    pub parent_id: Option<String>,
    /// Its type.
    pub event_type: EventType,
    /// Its name.
    pub event_name: String,
    /// Start time, ms since epoch.
    pub start_time: f64,
    /// The recorded error, if any.
    pub error: Option<String>,
    /// `metrics`, whole.
    pub metrics: Map<String, Value>,
    /// `metadata.datapoint_id` when it is a string.
    pub datapoint_id: Option<String>,
}

impl RunEvent {
    /// The run-result view of a whole event.
    ///
    /// ```
    /// use honeyhive_model::Event;
    /// use honeyhive_model::run::RunEvent;
    /// let mut e = Event { event_id: "e".into(), session_id: "s".into(), ..Event::default() };
    /// e.metadata.insert("datapoint_id".into(), "dp-1".into());
    /// assert_eq!(RunEvent::from_event(&e).datapoint_id.as_deref(), Some("dp-1"));
    /// ```
    pub fn from_event(event: &Event) -> RunEvent {
        RunEvent {
            event_id: event.event_id.clone(),
            session_id: event.session_id.clone(),
            parent_id: event.parent_id.clone(),
            event_type: event.event_type,
            event_name: event.event_name.clone(),
            start_time: event.start_time,
            error: event.error.clone(),
            metrics: event.metrics.clone(),
            datapoint_id: event
                .metadata
                .get("datapoint_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        }
    }
}
