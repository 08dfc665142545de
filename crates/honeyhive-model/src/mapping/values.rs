//! Converting OTLP attribute values to JSON, and lenient reading of JSON values.

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use serde_json::{Map, Number, Value};

/// Converts an OTLP `AnyValue` to JSON.
///
/// Non-finite doubles (not representable in JSON) become the strings `"NaN"`,
/// `"Infinity"`, `"-Infinity"`; bytes become base64 strings.
pub(crate) fn any_to_json(value: &AnyValue) -> Value {
    use any_value::Value as V;
    match &value.value {
        None => Value::Null,
        Some(V::StringValue(s)) => Value::String(s.clone()),
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::IntValue(i)) => Value::Number((*i).into()),
        Some(V::DoubleValue(d)) => double_to_json(*d),
        Some(V::ArrayValue(a)) => Value::Array(a.values.iter().map(any_to_json).collect()),
        Some(V::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|entry| {
                    let value = entry.value.as_ref().map(any_to_json).unwrap_or(Value::Null);
                    (entry.key.clone(), value)
                })
                .collect(),
        ),
        Some(V::BytesValue(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(V::StringValueStrindex(i)) => Value::Number((*i).into()),
    }
}

fn double_to_json(d: f64) -> Value {
    match Number::from_f64(d) {
        Some(n) => Value::Number(n),
        None if d.is_nan() => Value::String("NaN".into()),
        None if d > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// Parses a string holding a JSON object or array; anything else is returned as is.
///
/// Only objects and arrays are parsed: `"42"` or `"true"` stay strings, because a
/// string attribute that happens to look like a number is still a string.
pub(crate) fn lenient_json(value: Value) -> Value {
    if let Value::String(s) = &value {
        let trimmed = s.trim_start();
        if (trimmed.starts_with('{') || trimmed.starts_with('['))
            && let Ok(parsed) = serde_json::from_str::<Value>(s)
        {
            return parsed;
        }
    }
    value
}

/// Reads a non-negative integer from a number or a numeric string.
pub(crate) fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.round() as u64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f.round() as u64)
            })
        }
        _ => None,
    }
}

/// Reads a finite float from a number or a numeric string.
pub(crate) fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A non-empty string, or a number / bool rendered as one.
pub(crate) fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether a value carries information (not null, not an empty string/array/object).
pub(crate) fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Inserts unless the key is already there: earlier (more explicit) sources win.
pub(crate) fn insert_missing(map: &mut Map<String, Value>, key: &str, value: Value) {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), value);
    }
}

/// Puts a payload into `map`: an object's entries are merged in (missing keys only),
/// anything else goes under `fallback_key`.
pub(crate) fn merge_payload(map: &mut Map<String, Value>, fallback_key: &str, value: Value) {
    match lenient_json(value) {
        Value::Object(entries) => {
            for (key, value) in entries {
                insert_missing(map, &key, value);
            }
        }
        other => insert_missing(map, fallback_key, other),
    }
}
