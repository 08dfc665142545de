//! HoneyHive filter objects: parsing, and evaluation over an [`Event`](crate::Event).
//!
//! The REST API selects events with filter objects shaped like the spec's
//! `SingleFilter`: `{"field": "metadata.run_id", "operator": "is", "value": "r1",
//! "type": "string"}`. A list of them (`FiltersArray`) is a conjunction.
//!
//! - [`Filter::from_json`] / [`FilterSet::from_json`] turn untrusted JSON into a typed
//!   AST with clear errors; they never panic on any input.
//! - [`FilterSet::matches`] evaluates the filters over an [`Event`](crate::Event) (tests, and backends
//!   without pushdown).
//!
//! A store that pushes filters down renders this AST in its own dialect (the
//! server's SQLite store does, with every value and JSON path a bound parameter).
//!
//! ```
//! use honeyhive_model::filter::FilterSet;
//! use honeyhive_model::{Event, EventType};
//! use serde_json::json;
//!
//! let filters = FilterSet::from_json(&json!([
//!     {"field": "event_type", "operator": "is not", "value": "session", "type": "string"},
//!     {"field": "metrics.score", "operator": "greater than", "value": 0.5, "type": "number"},
//! ])).unwrap();
//! let mut event = Event { event_type: EventType::Chain, ..Event::default() };
//! event.metrics.insert("score".into(), json!(0.9));
//! assert!(filters.matches(&event));
//! ```

mod datetime;
mod eval;
mod parse;

pub use datetime::{format_datetime_ms, parse_datetime_ms};

/// A top-level scalar column of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// `event_id`
    EventId,
    /// `session_id`
    SessionId,
    /// `parent_id`
    ParentId,
    /// `event_type`
    EventType,
    /// `event_name`
    EventName,
    /// `source`
    Source,
    /// `error`
    Error,
    /// `start_time` (ms since the epoch)
    StartTime,
    /// `end_time` (ms since the epoch)
    EndTime,
    /// `duration` (ms)
    Duration,
}

impl Column {
    /// Every column, for exhaustive tests and SQL mappings.
    pub const ALL: [Column; 10] = [
        Column::EventId,
        Column::SessionId,
        Column::ParentId,
        Column::EventType,
        Column::EventName,
        Column::Source,
        Column::Error,
        Column::StartTime,
        Column::EndTime,
        Column::Duration,
    ];

    /// The field name used in filters and in the event JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Column::EventId => "event_id",
            Column::SessionId => "session_id",
            Column::ParentId => "parent_id",
            Column::EventType => "event_type",
            Column::EventName => "event_name",
            Column::Source => "source",
            Column::Error => "error",
            Column::StartTime => "start_time",
            Column::EndTime => "end_time",
            Column::Duration => "duration",
        }
    }

    /// Whether the column holds a number (times, duration) rather than text.
    pub fn is_numeric(self) -> bool {
        matches!(self, Column::StartTime | Column::EndTime | Column::Duration)
    }
}

/// One of the JSON object columns of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonRoot {
    /// `inputs`
    Inputs,
    /// `outputs`
    Outputs,
    /// `config`
    Config,
    /// `metadata`
    Metadata,
    /// `metrics`
    Metrics,
    /// `feedback`
    Feedback,
    /// `user_properties`
    UserProperties,
}

impl JsonRoot {
    /// Every JSON root, for exhaustive tests and SQL mappings.
    pub const ALL: [JsonRoot; 7] = [
        JsonRoot::Inputs,
        JsonRoot::Outputs,
        JsonRoot::Config,
        JsonRoot::Metadata,
        JsonRoot::Metrics,
        JsonRoot::Feedback,
        JsonRoot::UserProperties,
    ];

    /// The field name used in filters and in the event JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            JsonRoot::Inputs => "inputs",
            JsonRoot::Outputs => "outputs",
            JsonRoot::Config => "config",
            JsonRoot::Metadata => "metadata",
            JsonRoot::Metrics => "metrics",
            JsonRoot::Feedback => "feedback",
            JsonRoot::UserProperties => "user_properties",
        }
    }
}

/// A validated filter field: a scalar column or a path inside a JSON column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldPath {
    /// A top-level scalar column such as `event_type`.
    Column(Column),
    /// A path inside a JSON object column, e.g. `metadata.run_id` → (`Metadata`, `["run_id"]`).
    /// An empty path names the whole object (only `exists`/`contains` apply).
    Json {
        /// The JSON column.
        root: JsonRoot,
        /// The object keys to follow, each non-empty and free of quotes and control characters.
        path: Vec<String>,
    },
}

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `is`: equal to the value.
    Is,
    /// `is not`: not equal (also true when the field is missing).
    IsNot,
    /// `contains`: the text contains the value.
    Contains,
    /// `not contains`: the text does not contain the value (also true when missing).
    NotContains,
    /// `greater than` (numbers and datetimes).
    GreaterThan,
    /// `less than` (numbers and datetimes).
    LessThan,
    /// `after` (datetimes; same as `greater than`).
    After,
    /// `before` (datetimes; same as `less than`).
    Before,
    /// `exists`: the field is present and not null.
    Exists,
    /// `not exists`: the field is missing or null.
    NotExists,
}

impl Operator {
    /// The canonical wire name, e.g. `"greater than"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Is => "is",
            Operator::IsNot => "is not",
            Operator::Contains => "contains",
            Operator::NotContains => "not contains",
            Operator::GreaterThan => "greater than",
            Operator::LessThan => "less than",
            Operator::After => "after",
            Operator::Before => "before",
            Operator::Exists => "exists",
            Operator::NotExists => "not exists",
        }
    }
}

/// The typed value a filter compares against.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// No value (`exists` / `not exists`).
    None,
    /// A string.
    Text(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// A point in time, in ms since the epoch.
    DateTime(f64),
}

impl FilterValue {
    fn type_name(&self) -> &'static str {
        match self {
            FilterValue::None => "null",
            FilterValue::Text(_) => "string",
            FilterValue::Number(_) => "number",
            FilterValue::Bool(_) => "boolean",
            FilterValue::DateTime(_) => "datetime",
        }
    }
}

/// One parsed, validated filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// What to look at.
    pub field: FieldPath,
    /// How to compare.
    pub operator: Operator,
    /// What to compare with.
    pub value: FilterValue,
}

/// A conjunction of filters (the spec's `FiltersArray`); empty matches everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilterSet {
    /// The filters, all of which must match.
    pub filters: Vec<Filter>,
}

#[cfg(test)]
mod tests;
