//! The SDK's tests against the testkit's scripted server: it answers as the platform
//! does (a session start with its ids, anything else with success); a test scripts
//! the replies to trace exports (statuses, `Retry-After`, slow answers) and can stop
//! and restart it on the same port for a connection-refused outage.

use std::time::Duration;

use honeyhive::config::TracerBuilder;
use honeyhive::export::{BreakerPolicy, ExportOptions, RetryPolicy};
use honeyhive_testkit::http::{Reply, Request, ScriptedServer};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::json;

/// Where the SDK sends spans.
pub const TRACES: &str = "/opentelemetry/v1/traces";

/// A scripted server answering as the platform does.
pub fn server() -> ScriptedServer {
    ScriptedServer::start(ok)
}

/// The platform's answer to `request` when it accepts it.
pub fn ok(request: &Request) -> Reply {
    match request.path.as_str() {
        "/session/start" => Reply::json(
            200,
            &json!({
                "event_id": "e", "session_id": "s", "org_id": "o", "workspace_id": "w", "project_id": "p"
            }),
        ),
        _ => Reply::json(200, &json!({"success": true})),
    }
}

/// An accepting answer that comes `delay` late.
pub fn slow(delay: Duration) -> Reply {
    Reply::json(200, &json!({"success": true})).after(delay)
}

/// The trace export request a body holds, by its content type.
pub fn otlp(request: &Request) -> ExportTraceServiceRequest {
    match request.header("content-type") {
        Some("application/json") => {
            honeyhive_model::otlp::decode_json(&request.body).expect("otlp json")
        }
        _ => honeyhive_model::otlp::decode_protobuf(&request.body).expect("otlp protobuf"),
    }
}

/// Every span of the trace exports the server accepted, in arrival order.
pub fn spans(server: &ScriptedServer) -> Vec<Span> {
    server
        .requests_to(TRACES)
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .flat_map(|r| otlp(r).resource_spans)
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .collect()
}

/// A builder pointed at `url` with short, test-friendly export settings.
pub fn builder(url: &str) -> TracerBuilder {
    honeyhive::Tracer::builder()
        .ignore_env()
        .api_key("test-key")
        .project("test-project")
        .source("test")
        .session_name("tests")
        .server_url(url)
        .export(fast_export())
}

pub fn fast_export() -> ExportOptions {
    ExportOptions {
        scheduled_delay: Duration::from_millis(20),
        request_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
        },
        breaker: BreakerPolicy {
            failure_threshold: 3,
            open_for: Duration::from_millis(100),
        },
        ..Default::default()
    }
}

/// String form of an attribute value's type, as in the OTLP JSON mapping.
pub fn value_type(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> &'static str {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match &value.value {
        Some(Value::StringValue(_)) => "stringValue",
        Some(Value::IntValue(_)) => "intValue",
        Some(Value::DoubleValue(_)) => "doubleValue",
        Some(Value::BoolValue(_)) => "boolValue",
        Some(Value::ArrayValue(_)) => "arrayValue",
        Some(Value::KvlistValue(_)) => "kvlistValue",
        _ => "other",
    }
}
