//! The size cap of one stored field: an event's `inputs`, `outputs`,
//! `metadata` (any of its JSON documents) or its `error`, measured as JSON text.
//!
//! A field past the cap is refused rather than stored: an OTLP span is
//! rejected alone (answered in `partial_success`, counted as
//! `field_too_large`), a REST request is answered 413 naming the field.

use honeyhive_model::Event;
use serde_json::{Map, Value};

use honeyhive_model::EventUpdate;

/// A field over the cap: its name and a lower bound of its size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OversizedField {
    /// The field (`inputs`, `metadata`, `error`, ...).
    pub field: &'static str,
    /// At least this many bytes of JSON text.
    pub bytes: usize,
}

/// The first field of `event` whose JSON text passes `max_bytes`.
///
/// ```
/// use honeyhive_model::Event;
/// use honeyhive_server::ingest::fields::oversized_field;
/// let mut event = Event::default();
/// event.inputs.insert("prompt".into(), "x".repeat(2000).into());
/// assert_eq!(oversized_field(&event, 1000).map(|f| f.field), Some("inputs"));
/// assert_eq!(oversized_field(&event, 4000), None);
/// ```
pub fn oversized_field(event: &Event, max_bytes: usize) -> Option<OversizedField> {
    first_oversized(&event.json_fields(), event.error.as_deref(), max_bytes).or_else(|| {
        (event.event_name.len() > max_bytes).then_some(OversizedField {
            field: "event_name",
            bytes: event.event_name.len(),
        })
    })
}

/// The first field of `enrichment` whose JSON text passes `max_bytes`.
pub fn oversized_enrichment(enrichment: &EventUpdate, max_bytes: usize) -> Option<OversizedField> {
    first_oversized(
        &enrichment.json_fields(),
        enrichment.error.as_deref(),
        max_bytes,
    )
}

fn first_oversized(
    maps: &[(&'static str, &Map<String, Value>)],
    error: Option<&str>,
    max_bytes: usize,
) -> Option<OversizedField> {
    for (field, map) in maps {
        if let Some(bytes) = json_len_over(map, max_bytes) {
            return Some(OversizedField { field, bytes });
        }
    }
    error
        .filter(|e| e.len() > max_bytes)
        .map(|e| OversizedField {
            field: "error",
            bytes: e.len(),
        })
}

/// `Some(n)` once the JSON text of `map` is known to pass `limit` bytes (`n`
/// counted so far, escapes not counted); `None` if it stays within.
fn json_len_over(map: &Map<String, Value>, limit: usize) -> Option<usize> {
    let mut total: usize = 2;
    let mut pending: Vec<&Value> = Vec::new();
    for (key, value) in map {
        total += key.len() + 4;
        pending.push(value);
    }
    while let Some(value) = pending.pop() {
        if total > limit {
            return Some(total);
        }
        total += match value {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 8,
            Value::String(s) => s.len() + 2,
            Value::Array(items) => {
                pending.extend(items);
                2 + items.len()
            }
            Value::Object(entries) => {
                for (key, value) in entries {
                    total += key.len() + 4;
                    pending.push(value);
                }
                2
            }
        };
    }
    (total > limit).then_some(total)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_strings_count_towards_their_field() {
        let mut event = Event::default();
        event.metadata.insert(
            "deep".into(),
            json!({"a": [{"b": "y".repeat(500)}, "z".repeat(600)]}),
        );
        assert_eq!(
            oversized_field(&event, 1000).map(|f| f.field),
            Some("metadata")
        );
        assert_eq!(oversized_field(&event, 1200), None);
        event.error = Some("e".repeat(2000));
        assert_eq!(
            oversized_field(&event, 1500).map(|f| f.field),
            Some("error")
        );
    }
}
