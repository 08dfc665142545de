//! Helpers shared by the integration tests: building OTLP requests tersely.

use honeyhive_model::Event;
use honeyhive_model::mapping::{MappedBatch, map_request};
use honeyhive_model::otlp::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::Value;

pub const TRACE: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
pub const SPAN: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];

/// A JSON scalar/array as the typed OTLP value an SDK would send for it.
pub fn any(value: &Value) -> AnyValue {
    use any_value::Value as V;
    let inner = match value {
        Value::String(s) => V::StringValue(s.clone()),
        Value::Bool(b) => V::BoolValue(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap()),
        },
        Value::Array(items) => V::ArrayValue(ArrayValue {
            values: items.iter().map(any).collect(),
        }),
        other => V::StringValue(other.to_string()),
    };
    AnyValue { value: Some(inner) }
}

/// `{"key": value, ...}` as an OTLP attribute list, in order.
pub fn attributes(object: &Value) -> Vec<KeyValue> {
    object
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(key, value)| KeyValue {
                    key: key.clone(),
                    value: Some(any(value)),
                    key_strindex: 0,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A root span with the given attributes, 1 s long, starting at 1.7e18 ns.
pub fn span(name: &str, attrs: Value) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: SPAN.to_vec(),
        name: name.into(),
        kind: 1,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_001_000_000_000,
        attributes: attributes(&attrs),
        status: Some(Status::default()),
        ..Span::default()
    }
}

pub fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    request_with_resource(Value::Null, spans)
}

pub fn request_with_resource(resource: Value, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: attributes(&resource),
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "test".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Maps one span and returns its event, asserting nothing was rejected.
pub fn map_one(name: &str, attrs: Value) -> Event {
    let batch: MappedBatch = map_request(&request(vec![span(name, attrs)]));
    assert!(
        batch.rejected.is_empty(),
        "unexpected rejection: {:?}",
        batch.rejected
    );
    assert_eq!(batch.events.len(), 1);
    batch.events.into_iter().next().unwrap()
}
