//! Lenient OTLP/JSON decoding by walking a `serde_json::Value` into the prost types.
//!
//! Walking a `Value` instead of deriving `Deserialize` keeps every leniency rule in
//! one readable place and means one odd field can never fail a whole request.

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use serde_json::{Map, Value};

use super::ExportTraceServiceRequest;
use crate::ModelError;

/// Stands in for an id that was present but could not be decoded: its length is
/// neither 0 nor a valid id length, so the mapping rejects the span.
const UNDECODABLE_ID: [u8; 1] = [0];

/// Decodes an OTLP/HTTP JSON body (already decompressed), leniently.
///
/// Fails only when the body is not JSON or its top level is not an object with an
/// optional `resourceSpans` array; anything odd deeper down is tolerated (see the
/// [module docs](crate::otlp)).
pub fn decode_json(body: &[u8]) -> Result<ExportTraceServiceRequest, ModelError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| ModelError::Json(e.to_string()))?;
    let Value::Object(root) = root else {
        return Err(ModelError::Json("top level is not an object".into()));
    };
    let resource_spans = match field(&root, "resourceSpans", "resource_spans") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(resource_spans).collect(),
        Some(_) => return Err(ModelError::Json("resourceSpans is not an array".into())),
    };
    Ok(ExportTraceServiceRequest { resource_spans })
}

/// Looks a field up by its camelCase or snake_case name; `null` counts as missing.
fn field<'a>(obj: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel)
        .or_else(|| obj.get(snake))
        .filter(|v| !v.is_null())
}

fn array<'a>(obj: &'a Map<String, Value>, camel: &str, snake: &str) -> &'a [Value] {
    match field(obj, camel, snake) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

fn string(obj: &Map<String, Value>, camel: &str, snake: &str) -> String {
    match field(obj, camel, snake) {
        Some(Value::String(s)) => s.clone(),
        Some(other @ (Value::Number(_) | Value::Bool(_))) => other.to_string(),
        _ => String::new(),
    }
}

fn resource_spans(value: &Value) -> ResourceSpans {
    let Value::Object(obj) = value else {
        return ResourceSpans::default();
    };
    let resource = match field(obj, "resource", "resource") {
        Some(Value::Object(r)) => Some(Resource {
            attributes: attributes(r),
            dropped_attributes_count: uint32(field(
                r,
                "droppedAttributesCount",
                "dropped_attributes_count",
            )),
            entity_refs: Vec::new(),
        }),
        _ => None,
    };
    // `instrumentationLibrarySpans` is the pre-1.0 name some old exporters still send.
    let scopes = match field(obj, "scopeSpans", "scope_spans") {
        Some(Value::Array(items)) => items.as_slice(),
        _ => array(
            obj,
            "instrumentationLibrarySpans",
            "instrumentation_library_spans",
        ),
    };
    ResourceSpans {
        resource,
        scope_spans: scopes.iter().map(scope_spans).collect(),
        schema_url: string(obj, "schemaUrl", "schema_url"),
    }
}

fn scope_spans(value: &Value) -> ScopeSpans {
    let Value::Object(obj) = value else {
        return ScopeSpans::default();
    };
    let scope = field(obj, "scope", "scope")
        .or_else(|| field(obj, "instrumentationLibrary", "instrumentation_library"));
    let scope = match scope {
        Some(Value::Object(s)) => Some(InstrumentationScope {
            name: string(s, "name", "name"),
            version: string(s, "version", "version"),
            attributes: attributes(s),
            dropped_attributes_count: uint32(field(
                s,
                "droppedAttributesCount",
                "dropped_attributes_count",
            )),
        }),
        _ => None,
    };
    ScopeSpans {
        scope,
        spans: array(obj, "spans", "spans")
            .iter()
            .map(decode_span)
            .collect(),
        schema_url: string(obj, "schemaUrl", "schema_url"),
    }
}

fn decode_span(value: &Value) -> Span {
    let Value::Object(obj) = value else {
        // Not even an object: empty ids make the mapping reject it.
        return Span::default();
    };
    let status = match field(obj, "status", "status") {
        Some(Value::Object(s)) => Some(Status {
            message: string(s, "message", "message"),
            code: enum_value(field(s, "code", "code"), status_code_by_name),
        }),
        _ => None,
    };
    Span {
        trace_id: id(field(obj, "traceId", "trace_id"), 16),
        span_id: id(field(obj, "spanId", "span_id"), 8),
        trace_state: string(obj, "traceState", "trace_state"),
        parent_span_id: id(field(obj, "parentSpanId", "parent_span_id"), 8),
        flags: uint32(field(obj, "flags", "flags")),
        name: string(obj, "name", "name"),
        kind: enum_value(field(obj, "kind", "kind"), span_kind_by_name),
        start_time_unix_nano: uint64(field(obj, "startTimeUnixNano", "start_time_unix_nano")),
        end_time_unix_nano: uint64(field(obj, "endTimeUnixNano", "end_time_unix_nano")),
        attributes: attributes(obj),
        dropped_attributes_count: uint32(field(
            obj,
            "droppedAttributesCount",
            "dropped_attributes_count",
        )),
        events: array(obj, "events", "events")
            .iter()
            .map(span_event)
            .collect(),
        dropped_events_count: uint32(field(obj, "droppedEventsCount", "dropped_events_count")),
        links: array(obj, "links", "links").iter().map(span_link).collect(),
        dropped_links_count: uint32(field(obj, "droppedLinksCount", "dropped_links_count")),
        status,
    }
}

fn span_event(value: &Value) -> span::Event {
    let Value::Object(obj) = value else {
        return span::Event::default();
    };
    span::Event {
        time_unix_nano: uint64(field(obj, "timeUnixNano", "time_unix_nano")),
        name: string(obj, "name", "name"),
        attributes: attributes(obj),
        dropped_attributes_count: uint32(field(
            obj,
            "droppedAttributesCount",
            "dropped_attributes_count",
        )),
    }
}

fn span_link(value: &Value) -> span::Link {
    let Value::Object(obj) = value else {
        return span::Link::default();
    };
    span::Link {
        trace_id: id(field(obj, "traceId", "trace_id"), 16),
        span_id: id(field(obj, "spanId", "span_id"), 8),
        trace_state: string(obj, "traceState", "trace_state"),
        attributes: attributes(obj),
        dropped_attributes_count: uint32(field(
            obj,
            "droppedAttributesCount",
            "dropped_attributes_count",
        )),
        flags: uint32(field(obj, "flags", "flags")),
    }
}

/// Decodes an id given as hex or base64; missing or empty means "no id".
fn id(value: Option<&Value>, len: usize) -> Vec<u8> {
    let Some(value) = value else {
        return Vec::new();
    };
    let Value::String(text) = value else {
        return UNDECODABLE_ID.to_vec();
    };
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    if text.len() == len * 2
        && let Ok(bytes) = hex::decode(text)
    {
        return bytes;
    }
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .filter_map(|engine| engine.decode(text).ok())
        .find(|bytes| bytes.len() == len)
        .unwrap_or_else(|| UNDECODABLE_ID.to_vec())
}

/// Attributes as the spec's `[{key, value}]` list, or leniently as a `{key: value}` object.
fn attributes(obj: &Map<String, Value>) -> Vec<KeyValue> {
    match field(obj, "attributes", "attributes") {
        Some(Value::Array(items)) => items.iter().filter_map(key_value).collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| KeyValue {
                key: key.clone(),
                value: any_value(value),
                key_strindex: 0,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn key_value(value: &Value) -> Option<KeyValue> {
    let Value::Object(obj) = value else {
        return None;
    };
    let key = match field(obj, "key", "key") {
        Some(Value::String(key)) => key.clone(),
        Some(other @ (Value::Number(_) | Value::Bool(_))) => other.to_string(),
        _ => return None,
    };
    Some(KeyValue {
        key,
        value: field(obj, "value", "value").and_then(any_value),
        key_strindex: 0,
    })
}

/// Decodes an `AnyValue` object, or a bare JSON value standing in for one.
fn any_value(value: &Value) -> Option<AnyValue> {
    use any_value::Value as V;
    let inner = match value {
        Value::Null => return None,
        Value::Bool(b) => V::BoolValue(*b),
        Value::String(s) => V::StringValue(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::Array(items) => V::ArrayValue(ArrayValue {
            values: items.iter().filter_map(any_value).collect(),
        }),
        Value::Object(obj) => {
            return Some(AnyValue {
                value: typed_any_value(obj),
            });
        }
    };
    Some(AnyValue { value: Some(inner) })
}

fn typed_any_value(obj: &Map<String, Value>) -> Option<any_value::Value> {
    use any_value::Value as V;
    if let Some(v) = field(obj, "stringValue", "string_value") {
        return Some(V::StringValue(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }));
    }
    if let Some(v) = field(obj, "boolValue", "bool_value") {
        return Some(V::BoolValue(match v {
            Value::Bool(b) => *b,
            Value::String(s) => s.eq_ignore_ascii_case("true"),
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            _ => false,
        }));
    }
    if let Some(v) = field(obj, "intValue", "int_value") {
        return Some(match int64(v) {
            Some(i) => V::IntValue(i),
            // Out of i64 range or fractional: keep the number rather than lose it.
            None => V::DoubleValue(double(v)),
        });
    }
    if let Some(v) = field(obj, "doubleValue", "double_value") {
        return Some(V::DoubleValue(double(v)));
    }
    if let Some(v) = field(obj, "arrayValue", "array_value") {
        let values = match v {
            Value::Object(a) => array(a, "values", "values")
                .iter()
                .filter_map(any_value)
                .collect(),
            Value::Array(items) => items.iter().filter_map(any_value).collect(),
            _ => Vec::new(),
        };
        return Some(V::ArrayValue(ArrayValue { values }));
    }
    if let Some(v) = field(obj, "kvlistValue", "kvlist_value") {
        let values = match v {
            Value::Object(kv) => array(kv, "values", "values")
                .iter()
                .filter_map(key_value)
                .collect(),
            Value::Array(items) => items.iter().filter_map(key_value).collect(),
            _ => Vec::new(),
        };
        return Some(V::KvlistValue(KeyValueList { values }));
    }
    if let Some(v) = field(obj, "bytesValue", "bytes_value") {
        let bytes = match v {
            Value::String(s) => base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .or_else(|_| hex::decode(s.trim()))
                .unwrap_or_else(|_| s.as_bytes().to_vec()),
            _ => Vec::new(),
        };
        return Some(V::BytesValue(bytes));
    }
    if let Some(v) = field(obj, "stringValueStrindex", "string_value_strindex") {
        return Some(V::StringValueStrindex(
            int64(v).and_then(|i| i32::try_from(i).ok()).unwrap_or(0),
        ));
    }
    if obj.is_empty() {
        return None;
    }
    // A plain JSON object where an AnyValue was expected: keep it as a key/value list.
    Some(V::KvlistValue(KeyValueList {
        values: obj
            .iter()
            .map(|(key, value)| KeyValue {
                key: key.clone(),
                value: any_value(value),
                key_strindex: 0,
            })
            .collect(),
    }))
}

fn int64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn double(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => match s.trim() {
            "Infinity" | "+Infinity" | "inf" => f64::INFINITY,
            "-Infinity" | "-inf" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or(f64::NAN),
        },
        _ => f64::NAN,
    }
}

fn uint64(value: Option<&Value>) -> u64 {
    match value {
        Some(Value::Number(n)) => n.as_u64().unwrap_or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0)
                .map(|f| f as u64)
                .unwrap_or(0)
        }),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn uint32(value: Option<&Value>) -> u32 {
    u32::try_from(uint64(value)).unwrap_or(u32::MAX)
}

/// An enum given as a number or by name (matched by `by_name`, case-insensitively).
fn enum_value(value: Option<&Value>, by_name: fn(&str) -> Option<i32>) -> i32 {
    match value {
        Some(Value::Number(n)) => n.as_i64().and_then(|i| i32::try_from(i).ok()).unwrap_or(0),
        Some(Value::String(s)) => {
            let name = s.trim().to_ascii_uppercase();
            by_name(&name).or_else(|| name.parse().ok()).unwrap_or(0)
        }
        _ => 0,
    }
}

fn span_kind_by_name(name: &str) -> Option<i32> {
    let short = name.strip_prefix("SPAN_KIND_").unwrap_or(name);
    Some(match short {
        "UNSPECIFIED" => 0,
        "INTERNAL" => 1,
        "SERVER" => 2,
        "CLIENT" => 3,
        "PRODUCER" => 4,
        "CONSUMER" => 5,
        _ => return None,
    })
}

fn status_code_by_name(name: &str) -> Option<i32> {
    let short = name.strip_prefix("STATUS_CODE_").unwrap_or(name);
    Some(match short {
        "UNSET" => 0,
        "OK" => 1,
        "ERROR" => 2,
        _ => return None,
    })
}
