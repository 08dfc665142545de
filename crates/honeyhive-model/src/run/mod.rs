//! Experiment runs on the wire and as the platform keeps them.
//!
//! - [`Run`]: a run as stored (times in ms since the epoch);
//!   [`RunObject`]: a run as the REST API answers it (the spec's
//!   `ExperimentRunObject`).
//! - [`RunUpdate`]: the body of `POST /v1/runs` and `PUT /v1/runs/{id}`.
//! - [`RunStatus`]: the closed set of run states.
//! - [`Aggregation`]: how per-datapoint metric values fold into one number
//!   (`?aggregate_function=` of `GET /v1/runs/{id}/result`).
//! - [`RunEvent`]: the part of an event that run results read.
//!
//! ```
//! use honeyhive_model::run::{Run, RunObject, RunStatus, RunUpdate};
//! let mut run = Run { run_id: "r1".into(), ..Run::default() };
//! let update: RunUpdate = serde_json::from_value(serde_json::json!({
//!     "status": "completed", "event_ids": ["s1", "s2"]
//! })).unwrap();
//! update.apply_to(&mut run);
//! assert_eq!(run.status, RunStatus::Completed);
//! let object = RunObject::new(&run, "p1");
//! assert_eq!(serde_json::to_value(&object).unwrap()["status"], "completed");
//! ```

mod aggregation;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::filter::format_datetime_ms;
use crate::{Event, EventType, ModelError};

pub use aggregation::Aggregation;

/// The state of a run; its wire names are lower case (`pending`, `running`,
/// `completed`, `failed`, `cancelled`).
///
/// ```
/// use honeyhive_model::run::RunStatus;
/// assert_eq!("completed".parse::<RunStatus>(), Ok(RunStatus::Completed));
/// assert_eq!(RunStatus::Cancelled.as_str(), "cancelled");
/// assert!("done".parse::<RunStatus>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Created, not started (what a run is created as unless it says otherwise).
    #[default]
    Pending,
    /// Its datapoints are being run.
    Running,
    /// Every datapoint was run.
    Completed,
    /// It stopped on an error.
    Failed,
    /// It was stopped.
    Cancelled,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a wire name exactly, as the API validates a run body.
impl FromStr for RunStatus {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<RunStatus, ModelError> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ModelError::UnknownRunStatus(s.to_string()))
    }
}

/// An experiment run as the platform keeps it: the spec's `ExperimentRunObject`
/// minus presentation fields, times in ms since the epoch. Its serde form is
/// what a store keeps; [`RunObject`] is what the API answers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Run {
    /// The run id (a UUID).
    pub run_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Its state.
    pub status: RunStatus,
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

/// A run as the REST API answers it (the spec's `ExperimentRunObject`, plus
/// the `session_ids`, `datapoint_ids`, `evaluators` and `passing_ranges` the
/// run was given): times as ISO 8601 text, scoped to its project.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunObject {
    /// The run id (the same as `run_id`).
    pub id: String,
    /// The run id.
    pub run_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Its state.
    pub status: RunStatus,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// Free-form results.
    pub results: Map<String, Value>,
    /// Session ids of the run (one per datapoint).
    pub event_ids: Vec<String>,
    /// Extra session ids.
    pub session_ids: Vec<String>,
    /// Datapoint ids of the run.
    pub datapoint_ids: Vec<String>,
    /// The run's configuration (function, evaluators, ...).
    pub configuration: Map<String, Value>,
    /// Evaluators the run declared.
    pub evaluators: Vec<Value>,
    /// Metric name → `{min, max}` passing range.
    pub passing_ranges: Map<String, Value>,
    /// Whether the run is live (always, for runs that are not deleted).
    #[serde(default = "active")]
    pub is_active: bool,
    /// Creation time, ISO 8601.
    pub created_at: String,
    /// Last update time, ISO 8601.
    pub updated_at: String,
    /// What the run is scoped to: `project`.
    pub scope_type: String,
    /// The id of what it is scoped to: its project.
    pub scope_id: String,
    /// Its project.
    pub project_id: String,
    /// The dataset the run evaluated, if it is a stored one.
    pub dataset_id: Option<String>,
}

fn active() -> bool {
    true
}

impl RunObject {
    /// `run` as the API answers it, in project `project_id`.
    ///
    /// ```
    /// use honeyhive_model::run::{Run, RunObject};
    /// let run = Run { run_id: "r1".into(), created_at: 0.0, ..Run::default() };
    /// let object = RunObject::new(&run, "p1");
    /// assert_eq!((object.id.as_str(), object.scope_id.as_str()), ("r1", "p1"));
    /// assert_eq!(object.created_at, "1970-01-01T00:00:00.000Z");
    /// ```
    pub fn new(run: &Run, project_id: &str) -> RunObject {
        RunObject {
            id: run.run_id.clone(),
            run_id: run.run_id.clone(),
            name: run.name.clone(),
            description: run.description.clone(),
            status: run.status,
            metadata: run.metadata.clone(),
            results: run.results.clone(),
            event_ids: run.event_ids.clone(),
            session_ids: run.session_ids.clone(),
            datapoint_ids: run.datapoint_ids.clone(),
            configuration: run.configuration.clone(),
            evaluators: run.evaluators.clone(),
            passing_ranges: run.passing_ranges.clone(),
            is_active: true,
            created_at: format_datetime_ms(run.created_at),
            updated_at: format_datetime_ms(run.updated_at),
            scope_type: "project".to_string(),
            scope_id: project_id.to_string(),
            project_id: project_id.to_string(),
            dataset_id: run.dataset_id.clone(),
        }
    }
}

/// The body of `POST /v1/runs` and `PUT /v1/runs/{id}` (the spec's
/// `PostExperimentRunRequest` and `PutExperimentRunRequest`): every field may
/// be left out, and is then left out of the JSON too. Applied to a run,
/// objects merge key by key and lists and scalars replace.
///
/// The fields serialize in the order the official Python client sends them.
///
/// ```
/// use honeyhive_model::run::{RunStatus, RunUpdate};
/// let update = RunUpdate {
///     name: Some("exp".into()),
///     status: Some(RunStatus::Completed),
///     event_ids: Some(vec!["s1".into()]),
///     ..RunUpdate::default()
/// };
/// assert_eq!(
///     serde_json::to_string(&update).unwrap(),
///     r#"{"name":"exp","status":"completed","event_ids":["s1"]}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunUpdate {
    /// The run id a client picks for a run it creates (ignored by an update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Replaces `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Replaces `description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Replaces `status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    /// Merged into `metadata`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Merged into `results`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Map<String, Value>>,
    /// Replaces `event_ids`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_ids: Option<Vec<String>>,
    /// Replaces `session_ids`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_ids: Option<Vec<String>>,
    /// Merged into `configuration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Map<String, Value>>,
    /// Replaces `evaluators`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluators: Option<Vec<Value>>,
    /// Replaces `datapoint_ids`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapoint_ids: Option<Vec<String>>,
    /// Replaces `dataset_id` when `Some`; `Some(None)` (JSON `null`) clears it.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub dataset_id: Option<Option<String>>,
    /// Merged into `passing_ranges`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passing_ranges: Option<Map<String, Value>>,
}

/// A field that is present: `null` is `Some(None)`, absence stays `None` (serde's default).
fn present_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl RunUpdate {
    /// Applies the update to `run` (all but `run_id` and the times).
    ///
    /// ```
    /// use honeyhive_model::run::{Run, RunStatus, RunUpdate};
    /// let mut run = Run { run_id: "r".into(), ..Run::default() };
    /// run.metadata.insert("a".into(), 1.into());
    /// let mut update = RunUpdate { status: Some(RunStatus::Completed), ..RunUpdate::default() };
    /// update.metadata = Some([("b".to_string(), 2.into())].into_iter().collect());
    /// update.apply_to(&mut run);
    /// assert_eq!((run.status, run.metadata.len()), (RunStatus::Completed, 2));
    /// ```
    pub fn apply_to(&self, run: &mut Run) {
        if let Some(name) = &self.name {
            run.name = Some(name.clone());
        }
        if let Some(description) = &self.description {
            run.description = Some(description.clone());
        }
        if let Some(status) = self.status {
            run.status = status;
        }
        if let Some(dataset_id) = &self.dataset_id {
            run.dataset_id = dataset_id.clone();
        }
        for (from, into) in [
            (&self.metadata, &mut run.metadata),
            (&self.results, &mut run.results),
            (&self.configuration, &mut run.configuration),
            (&self.passing_ranges, &mut run.passing_ranges),
        ] {
            for (key, value) in from.iter().flatten() {
                into.insert(key.clone(), value.clone());
            }
        }
        for (from, into) in [
            (&self.event_ids, &mut run.event_ids),
            (&self.session_ids, &mut run.session_ids),
            (&self.datapoint_ids, &mut run.datapoint_ids),
        ] {
            if let Some(list) = from {
                into.clone_from(list);
            }
        }
        if let Some(evaluators) = &self.evaluators {
            run.evaluators.clone_from(evaluators);
        }
    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn statuses_round_trip_through_their_wire_names() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    #[test]
    fn an_update_tells_a_cleared_dataset_from_an_absent_one() {
        let cleared: RunUpdate = serde_json::from_value(json!({"dataset_id": null})).unwrap();
        assert_eq!(cleared.dataset_id, Some(None));
        let absent: RunUpdate = serde_json::from_value(json!({})).unwrap();
        assert_eq!(absent.dataset_id, None);
        assert_eq!(
            serde_json::to_string(&cleared).unwrap(),
            r#"{"dataset_id":null}"#
        );
        assert_eq!(serde_json::to_string(&absent).unwrap(), "{}");
        let mut run = Run {
            dataset_id: Some("d".into()),
            ..Run::default()
        };
        absent.apply_to(&mut run);
        assert_eq!(run.dataset_id.as_deref(), Some("d"));
        cleared.apply_to(&mut run);
        assert_eq!(run.dataset_id, None);
    }

    #[test]
    fn create_and_complete_bodies_serialize_as_the_python_client_sends_them() {
        let update = RunUpdate {
            run_id: Some("r1".into()),
            name: Some("exp".into()),
            status: Some(RunStatus::Pending),
            metadata: Some(Map::new()),
            event_ids: Some(Vec::new()),
            configuration: Some(Map::new()),
            datapoint_ids: Some(vec!["d1".into()]),
            dataset_id: Some(Some("ds".into())),
            ..RunUpdate::default()
        };
        assert_eq!(
            serde_json::to_string(&update).unwrap(),
            r#"{"run_id":"r1","name":"exp","status":"pending","metadata":{},"event_ids":[],"configuration":{},"datapoint_ids":["d1"],"dataset_id":"ds"}"#
        );
        let completion = RunUpdate {
            name: Some("exp".into()),
            status: Some(RunStatus::Completed),
            metadata: Some(Map::from_iter([(
                "offline_dataset_id".into(),
                "EXT-1".into(),
            )])),
            event_ids: Some(vec!["s1".into()]),
            ..RunUpdate::default()
        };
        assert_eq!(
            serde_json::to_string(&completion).unwrap(),
            r#"{"name":"exp","status":"completed","metadata":{"offline_dataset_id":"EXT-1"},"event_ids":["s1"]}"#
        );
    }
}
