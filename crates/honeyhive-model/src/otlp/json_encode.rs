//! OTLP/JSON encoding (the protobuf-JSON mapping with OTLP's hex-id exception).

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, span};
use serde_json::{Map, Value, json};

use super::ExportTraceServiceRequest;

/// Encodes a request as OTLP/JSON, the way OTLP/HTTP JSON exporters send it.
///
/// camelCase keys, lowercase hex trace/span ids, 64-bit integers as decimal
/// strings, enums as integers, bytes as base64, non-finite doubles as `"NaN"` /
/// `"Infinity"` / `"-Infinity"`; default-valued fields are omitted.
pub fn encode_json(req: &ExportTraceServiceRequest) -> Vec<u8> {
    let resource_spans: Vec<Value> = req
        .resource_spans
        .iter()
        .map(|rs| {
            let mut out = Map::new();
            if let Some(resource) = &rs.resource {
                let mut r = Map::new();
                put_attributes(&mut r, &resource.attributes);
                put_u32(
                    &mut r,
                    "droppedAttributesCount",
                    resource.dropped_attributes_count,
                );
                out.insert("resource".into(), Value::Object(r));
            }
            let scopes: Vec<Value> = rs
                .scope_spans
                .iter()
                .map(|ss| {
                    let mut s = Map::new();
                    if let Some(scope) = &ss.scope {
                        let mut sc = Map::new();
                        put_str(&mut sc, "name", &scope.name);
                        put_str(&mut sc, "version", &scope.version);
                        put_attributes(&mut sc, &scope.attributes);
                        put_u32(
                            &mut sc,
                            "droppedAttributesCount",
                            scope.dropped_attributes_count,
                        );
                        s.insert("scope".into(), Value::Object(sc));
                    }
                    s.insert("spans".into(), ss.spans.iter().map(span_json).collect());
                    put_str(&mut s, "schemaUrl", &ss.schema_url);
                    Value::Object(s)
                })
                .collect();
            out.insert("scopeSpans".into(), Value::Array(scopes));
            put_str(&mut out, "schemaUrl", &rs.schema_url);
            Value::Object(out)
        })
        .collect();
    // Serializing a Value built from Strings and finite numbers cannot fail.
    serde_json::to_vec(&json!({ "resourceSpans": resource_spans })).unwrap_or_default()
}

fn span_json(span: &Span) -> Value {
    let mut out = Map::new();
    put_id(&mut out, "traceId", &span.trace_id);
    put_id(&mut out, "spanId", &span.span_id);
    put_str(&mut out, "traceState", &span.trace_state);
    put_id(&mut out, "parentSpanId", &span.parent_span_id);
    put_u32(&mut out, "flags", span.flags);
    put_str(&mut out, "name", &span.name);
    if span.kind != 0 {
        out.insert("kind".into(), span.kind.into());
    }
    put_u64(&mut out, "startTimeUnixNano", span.start_time_unix_nano);
    put_u64(&mut out, "endTimeUnixNano", span.end_time_unix_nano);
    put_attributes(&mut out, &span.attributes);
    put_u32(
        &mut out,
        "droppedAttributesCount",
        span.dropped_attributes_count,
    );
    if !span.events.is_empty() {
        out.insert(
            "events".into(),
            span.events.iter().map(event_json).collect(),
        );
    }
    put_u32(&mut out, "droppedEventsCount", span.dropped_events_count);
    if !span.links.is_empty() {
        out.insert("links".into(), span.links.iter().map(link_json).collect());
    }
    put_u32(&mut out, "droppedLinksCount", span.dropped_links_count);
    if let Some(status) = &span.status {
        let mut s = Map::new();
        put_str(&mut s, "message", &status.message);
        if status.code != 0 {
            s.insert("code".into(), status.code.into());
        }
        out.insert("status".into(), Value::Object(s));
    }
    Value::Object(out)
}

fn event_json(event: &span::Event) -> Value {
    let mut out = Map::new();
    put_u64(&mut out, "timeUnixNano", event.time_unix_nano);
    put_str(&mut out, "name", &event.name);
    put_attributes(&mut out, &event.attributes);
    put_u32(
        &mut out,
        "droppedAttributesCount",
        event.dropped_attributes_count,
    );
    Value::Object(out)
}

fn link_json(link: &span::Link) -> Value {
    let mut out = Map::new();
    put_id(&mut out, "traceId", &link.trace_id);
    put_id(&mut out, "spanId", &link.span_id);
    put_str(&mut out, "traceState", &link.trace_state);
    put_attributes(&mut out, &link.attributes);
    put_u32(
        &mut out,
        "droppedAttributesCount",
        link.dropped_attributes_count,
    );
    put_u32(&mut out, "flags", link.flags);
    Value::Object(out)
}

fn put_attributes(out: &mut Map<String, Value>, attributes: &[KeyValue]) {
    if !attributes.is_empty() {
        out.insert(
            "attributes".into(),
            attributes.iter().map(key_value_json).collect(),
        );
    }
}

fn key_value_json(kv: &KeyValue) -> Value {
    let mut out = Map::new();
    out.insert("key".into(), Value::String(kv.key.clone()));
    if let Some(value) = &kv.value {
        out.insert("value".into(), any_value_json(value));
    }
    Value::Object(out)
}

fn any_value_json(value: &AnyValue) -> Value {
    use any_value::Value as V;
    let Some(inner) = &value.value else {
        return Value::Object(Map::new());
    };
    match inner {
        V::StringValue(s) => json!({ "stringValue": s }),
        V::BoolValue(b) => json!({ "boolValue": b }),
        V::IntValue(i) => json!({ "intValue": i.to_string() }),
        V::DoubleValue(d) => json!({ "doubleValue": double_json(*d) }),
        V::ArrayValue(a) => {
            let values: Vec<Value> = a.values.iter().map(any_value_json).collect();
            json!({ "arrayValue": { "values": values } })
        }
        V::KvlistValue(kv) => {
            let values: Vec<Value> = kv.values.iter().map(key_value_json).collect();
            json!({ "kvlistValue": { "values": values } })
        }
        V::BytesValue(b) => {
            json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(b) })
        }
        V::StringValueStrindex(i) => json!({ "stringValueStrindex": i }),
    }
}

fn double_json(d: f64) -> Value {
    if d.is_nan() {
        Value::String("NaN".into())
    } else if d == f64::INFINITY {
        Value::String("Infinity".into())
    } else if d == f64::NEG_INFINITY {
        Value::String("-Infinity".into())
    } else {
        json!(d)
    }
}

fn put_id(out: &mut Map<String, Value>, key: &str, id: &[u8]) {
    if !id.is_empty() {
        out.insert(key.into(), Value::String(hex::encode(id)));
    }
}

fn put_str(out: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        out.insert(key.into(), Value::String(value.into()));
    }
}

fn put_u64(out: &mut Map<String, Value>, key: &str, value: u64) {
    if value != 0 {
        out.insert(key.into(), Value::String(value.to_string()));
    }
}

fn put_u32(out: &mut Map<String, Value>, key: &str, value: u32) {
    if value != 0 {
        out.insert(key.into(), value.into());
    }
}
