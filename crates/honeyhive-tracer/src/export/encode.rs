//! Span records → OTLP `ExportTraceServiceRequest` → request body bytes.

use std::io::Write;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;

use crate::config::{Protocol, ResolvedConfig};
use crate::record::{AttrValue, SpanRecord, SpanStatus};

/// Resource and scope shared by every request of one tracer.
pub(crate) struct Encoder {
    resource: Resource,
    scope: InstrumentationScope,
    protocol: Protocol,
}

fn kv(key: impl Into<String>, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

fn attr(key: &str, value: &AttrValue) -> KeyValue {
    let value = match value {
        AttrValue::Bool(b) => any_value::Value::BoolValue(*b),
        AttrValue::Int(i) => any_value::Value::IntValue(*i),
        AttrValue::Double(f) => any_value::Value::DoubleValue(*f),
        AttrValue::Str(s) => any_value::Value::StringValue(s.to_string()),
        AttrValue::Short(s) => any_value::Value::StringValue(s.as_str().to_owned()),
    };
    kv(key, value)
}

impl Encoder {
    pub(crate) fn new(config: &ResolvedConfig) -> Encoder {
        let service_name = config
            .service_name
            .clone()
            .unwrap_or_else(|| format!("unknown_service:{}", config.session_name));
        let mut attributes = vec![
            string_kv("telemetry.sdk.language", "rust"),
            string_kv("telemetry.sdk.name", "honeyhive"),
            string_kv("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
            string_kv("service.instance.id", &uuid::Uuid::new_v4().to_string()),
            string_kv("service.name", &service_name),
        ];
        for (key, value) in &config.resource_attributes {
            if key != "service.name" {
                attributes.push(string_kv(key, value));
            }
        }
        Encoder {
            resource: Resource {
                attributes,
                ..Default::default()
            },
            scope: InstrumentationScope {
                name: "honeyhive".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            },
            protocol: config.protocol,
        }
    }

    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Build the OTLP request for a batch.
    pub(crate) fn request(&self, records: &[Box<SpanRecord>]) -> ExportTraceServiceRequest {
        let spans = records.iter().map(|record| to_otlp_span(record)).collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(self.scope.clone()),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    /// Encode a batch in the configured protocol (uncompressed).
    pub(crate) fn encode(&self, records: &[Box<SpanRecord>]) -> Vec<u8> {
        let request = self.request(records);
        match self.protocol {
            Protocol::HttpProtobuf => request.encode_to_vec(),
            Protocol::HttpJson => encode_json(&request),
        }
    }
}

/// OTLP protobuf-JSON mapping (hex ids, 64-bit integers as strings, enum names).
pub(crate) fn encode_json(request: &ExportTraceServiceRequest) -> Vec<u8> {
    honeyhive_model::otlp::encode_json(request)
}

fn to_otlp_span(record: &SpanRecord) -> Span {
    let session = &record.session;
    let mut attributes = Vec::with_capacity(record.attributes.len() + 6);
    attributes.push(string_kv("honeyhive.session_id", &session.session_id));
    attributes.push(string_kv(
        "traceloop.association.properties.session_id",
        &session.session_id,
    ));
    if let Some(project) = &session.project {
        attributes.push(string_kv("honeyhive.project", project));
        attributes.push(string_kv(
            "traceloop.association.properties.project",
            project,
        ));
    }
    attributes.push(string_kv("honeyhive.source", &session.source));
    attributes.push(string_kv(
        "traceloop.association.properties.source",
        &session.source,
    ));
    attributes.extend(
        record
            .event_attributes()
            .map(|(key, value)| string_kv(key, value)),
    );
    attributes.extend(record.attributes.iter().map(|(k, v)| attr(k, v)));
    let status = match &record.status {
        SpanStatus::Unset => Status::default(),
        SpanStatus::Ok => Status {
            message: String::new(),
            code: status::StatusCode::Ok as i32,
        },
        SpanStatus::Error(message) => Status {
            message: message.clone(),
            code: status::StatusCode::Error as i32,
        },
    };
    Span {
        trace_id: record.trace_id.to_vec(),
        span_id: record.span_id.to_vec(),
        parent_span_id: record
            .parent_span_id
            .map(|p| p.to_vec())
            .unwrap_or_default(),
        flags: if record.sampled { 0x101 } else { 0x100 },
        name: record.name.to_string(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: record.start_unix_nano,
        end_time_unix_nano: record.end_unix_nano,
        attributes,
        events: record
            .events
            .iter()
            .map(|e| span::Event {
                time_unix_nano: e.time_unix_nano,
                name: e.name.to_string(),
                attributes: e.attributes.iter().map(|(k, v)| attr(k, v)).collect(),
                dropped_attributes_count: 0,
            })
            .collect(),
        status: Some(status),
        ..Default::default()
    }
}

/// gzip a body.
pub(crate) fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    encoder.write_all(body)?;
    encoder.finish()
}
