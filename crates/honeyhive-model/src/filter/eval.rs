//! Evaluating filters over an in-memory [`Event`].
//!
//! The semantics mirror the SQL translation in `sql.rs` exactly (the store behaviour
//! suite checks both against the same rows):
//! - a missing field and a JSON `null` are "absent";
//! - `is` compares strings with strings, and numbers with numbers where a boolean
//!   counts as 1/0; `is not` / `not contains` are the negations (true when absent);
//! - `greater than` / `less than` / `after` / `before` only match numeric values;
//! - `contains` is a case-sensitive substring test on the value's text.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{Column, FieldPath, Filter, FilterSet, FilterValue, JsonRoot, Operator};
use crate::Event;

impl FilterSet {
    /// Whether the event satisfies every filter.
    pub fn matches(&self, event: &Event) -> bool {
        self.filters.iter().all(|f| f.matches(event))
    }
}

impl Filter {
    /// Whether the event satisfies this filter.
    ///
    /// ```
    /// use honeyhive_model::{Event, filter::Filter};
    /// let f = Filter::from_json(&serde_json::json!(
    ///     {"field": "error", "operator": "exists", "value": null, "type": "string"}
    /// )).unwrap();
    /// assert!(!f.matches(&Event::default()));
    /// assert!(f.matches(&Event { error: Some("boom".into()), ..Event::default() }));
    /// ```
    pub fn matches(&self, event: &Event) -> bool {
        let found = lookup(event, &self.field);
        let present = found.as_deref().filter(|v| !v.is_null());
        match self.operator {
            Operator::Exists => is_present(&self.field, present),
            Operator::NotExists => !is_present(&self.field, present),
            Operator::Is => present.is_some_and(|v| equals(v, &self.value)),
            Operator::IsNot => !present.is_some_and(|v| equals(v, &self.value)),
            Operator::Contains => present.is_some_and(|v| contains(v, &self.value)),
            Operator::NotContains => !present.is_some_and(|v| contains(v, &self.value)),
            Operator::GreaterThan | Operator::After => {
                compare(present, &self.value).is_some_and(|(a, b)| a > b)
            }
            Operator::LessThan | Operator::Before => {
                compare(present, &self.value).is_some_and(|(a, b)| a < b)
            }
        }
    }
}

impl FieldPath {
    /// The value this field names in `event`, `None` when absent.
    ///
    /// ```
    /// use honeyhive_model::{Event, filter::FieldPath};
    /// let mut e = Event::default();
    /// e.metrics.insert("score".into(), 0.5.into());
    /// assert_eq!(FieldPath::parse("metrics.score").unwrap().value_in(&e), Some(0.5.into()));
    /// assert_eq!(FieldPath::parse("metrics.other").unwrap().value_in(&e), None);
    /// ```
    pub fn value_in(&self, event: &Event) -> Option<Value> {
        lookup(event, self)
            .map(Cow::into_owned)
            .filter(|v| !v.is_null())
    }
}

/// A whole JSON object counts as present only when it has at least one key.
fn is_present(field: &FieldPath, value: Option<&Value>) -> bool {
    match (field, value) {
        (FieldPath::Json { path, .. }, Some(Value::Object(m))) if path.is_empty() => !m.is_empty(),
        (_, v) => v.is_some(),
    }
}

fn json_root(event: &Event, root: JsonRoot) -> &Map<String, Value> {
    match root {
        JsonRoot::Inputs => &event.inputs,
        JsonRoot::Outputs => &event.outputs,
        JsonRoot::Config => &event.config,
        JsonRoot::Metadata => &event.metadata,
        JsonRoot::Metrics => &event.metrics,
        JsonRoot::Feedback => &event.feedback,
        JsonRoot::UserProperties => &event.user_properties,
    }
}

fn lookup<'e>(event: &'e Event, field: &FieldPath) -> Option<Cow<'e, Value>> {
    match field {
        FieldPath::Column(column) => {
            let v = match column {
                Column::EventId => Value::String(event.event_id.clone()),
                Column::SessionId => Value::String(event.session_id.clone()),
                Column::ParentId => Value::from(event.parent_id.clone()),
                Column::EventType => Value::String(event.event_type.as_str().to_string()),
                Column::EventName => Value::String(event.event_name.clone()),
                Column::Source => Value::String(event.source.clone()),
                Column::Error => Value::from(event.error.clone()),
                Column::StartTime => Value::from(event.start_time),
                Column::EndTime => Value::from(event.end_time),
                Column::Duration => Value::from(event.duration),
            };
            Some(Cow::Owned(v))
        }
        FieldPath::Json { root, path } => {
            let map = json_root(event, *root);
            let Some((first, rest)) = path.split_first() else {
                // Whole-object filters compare against the object itself.
                return Some(Cow::Owned(Value::Object(map.clone())));
            };
            let mut current = map.get(first)?;
            for key in rest {
                current = current.as_object()?.get(key)?;
            }
            Some(Cow::Borrowed(current))
        }
    }
}

/// The numeric reading of a stored value: numbers, and booleans as 1/0.
fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

fn equals(stored: &Value, target: &FilterValue) -> bool {
    match target {
        FilterValue::Text(t) => stored.as_str() == Some(t.as_str()),
        FilterValue::Number(n) | FilterValue::DateTime(n) => numeric(stored) == Some(*n),
        FilterValue::Bool(b) => numeric(stored) == Some(if *b { 1.0 } else { 0.0 }),
        FilterValue::None => false,
    }
}

fn contains(stored: &Value, target: &FilterValue) -> bool {
    let FilterValue::Text(needle) = target else {
        return false;
    };
    match stored {
        Value::String(s) => s.contains(needle.as_str()),
        // Numbers, booleans, objects and arrays are searched in their JSON text.
        other => other.to_string().contains(needle.as_str()),
    }
}

fn compare(stored: Option<&Value>, target: &FilterValue) -> Option<(f64, f64)> {
    let a = numeric(stored?)?;
    let b = match target {
        FilterValue::Number(n) | FilterValue::DateTime(n) => *n,
        _ => return None,
    };
    Some((a, b))
}
