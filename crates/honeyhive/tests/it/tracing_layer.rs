//! Feature `tracing`: `#[tracing::instrument]` spans recorded as HoneyHive events
//! through `HoneyHiveLayer`, end to end through a real local server.
//! (The crate's dev-dependency on itself enables the feature for `cargo test`.)

use std::time::Duration;

use crate::common::{builder, server, spans};
use honeyhive::{HoneyHiveLayer, Tracer, trace};
use honeyhive_testkit::otlp::{attr, str_attr};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use tracing_subscriber::layer::SubscriberExt;

#[tracing::instrument(fields(event_type = "model", metadata.team = "search", output))]
fn call_llm(prompt: &str, max_tokens: i64) -> usize {
    let answer = prompt.len() * 2;
    tracing::Span::current().record("output", answer as i64);
    answer
}

#[trace(tracer = TRACER.get().unwrap())]
fn traced_tool(x: i64) -> i64 {
    // A `tracing` span opened inside a #[trace] function nests under it.
    let span = tracing::info_span!("inner_lookup", key = "k1");
    let _entered = span.enter();
    x + 1
}

#[tracing::instrument]
fn agent_step(question: &str) -> usize {
    let n = call_llm(question, 16);
    // A #[trace] function called inside a `tracing` span nests under it.
    traced_tool(n as i64) as usize
}

#[tracing::instrument(fields(event_type = "chain"))]
fn failing_step() {
    tracing::error!(error = "upstream timed out", "lookup failed");
}

#[tracing::instrument(err)]
fn fallible(input: &str) -> Result<i32, std::num::ParseIntError> {
    input.parse::<i32>()
}

static TRACER: std::sync::OnceLock<Tracer> = std::sync::OnceLock::new();

fn by_name<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span named {name}: {spans:#?}"))
}

#[test]
fn tracing_spans_become_events_with_inputs_types_outputs_errors_and_nesting() {
    let server = server();
    let tracer = TRACER.get_or_init(|| builder(&server.url()).build().unwrap());
    let subscriber = tracing_subscriber::registry().with(HoneyHiveLayer::new(tracer));
    tracing::subscriber::with_default(subscriber, || {
        assert_eq!(agent_step("hello"), 11);
        failing_step();
        assert!(fallible("x").is_err());
        assert_eq!(fallible("7"), Ok(7));
    });
    tracer.flush(Duration::from_secs(10)).unwrap();
    let spans = spans(&server);

    let agent = by_name(&spans, "agent_step");
    let llm = by_name(&spans, "call_llm");
    let tool = by_name(&spans, "traced_tool");
    let inner = by_name(&spans, "inner_lookup");

    // Names, event types (field or default `tool`) and the session.
    assert_eq!(str_attr(llm, "honeyhive_event_type"), Some("model"));
    assert_eq!(str_attr(llm, "honeyhive_event_name"), Some("call_llm"));
    assert_eq!(str_attr(agent, "honeyhive_event_type"), Some("tool"));
    for span in [agent, llm, tool, inner] {
        assert_eq!(
            str_attr(span, "honeyhive.session_id"),
            Some(tracer.session_id())
        );
    }

    // Fields: inputs, metadata, and a recorded output.
    assert_eq!(
        attr(llm, "honeyhive_inputs.max_tokens"),
        Some(&Value::IntValue(16))
    );
    assert!(
        str_attr(llm, "honeyhive_inputs.prompt").is_some_and(|p| p.contains("hello")),
        "{llm:#?}"
    );
    assert_eq!(str_attr(llm, "honeyhive_metadata.team"), Some("search"));
    assert_eq!(
        attr(llm, "honeyhive_outputs.result"),
        Some(&Value::IntValue(10))
    );
    assert_eq!(str_attr(inner, "honeyhive_inputs.key"), Some("k1"));

    // Nesting: tracing tree, tracing → #[trace], #[trace] → tracing; one trace.
    assert!(agent.parent_span_id.is_empty());
    assert_eq!(llm.parent_span_id, agent.span_id);
    assert_eq!(tool.parent_span_id, agent.span_id);
    assert_eq!(inner.parent_span_id, tool.span_id);
    for span in [llm, tool, inner] {
        assert_eq!(span.trace_id, agent.trace_id);
    }

    // Errors: an `error` field on an ERROR event, and `#[instrument(err)]`.
    let failing = by_name(&spans, "failing_step");
    assert_eq!(str_attr(failing, "honeyhive_event_type"), Some("chain"));
    assert_eq!(
        str_attr(failing, "honeyhive_error"),
        Some("upstream timed out")
    );
    assert_eq!(failing.status.as_ref().map(|s| s.code), Some(2));
    let fallible_spans: Vec<&Span> = spans.iter().filter(|s| s.name == "fallible").collect();
    assert_eq!(fallible_spans.len(), 2);
    let errored: Vec<&&Span> = fallible_spans
        .iter()
        .filter(|s| str_attr(s, "honeyhive_error").is_some())
        .collect();
    assert_eq!(errored.len(), 1);
    assert!(
        str_attr(errored[0], "honeyhive_error").is_some_and(|e| e.contains("invalid digit")),
        "{errored:#?}"
    );
    let report = tracer.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.dropped.total(), 0);
}

#[test]
fn the_default_tracer_layer_records_nothing_without_a_default_and_spans_stay_usable() {
    let subscriber = tracing_subscriber::registry().with(HoneyHiveLayer::for_default_tracer());
    tracing::subscriber::with_default(subscriber, || {
        // No default tracer set in this test binary: nothing is recorded, nothing breaks.
        assert_eq!(fallible("3"), Ok(3));
        let span = tracing::info_span!("plain", output = 1i64);
        span.in_scope(|| tracing::error!("not attached to any HoneyHive span"));
    });
}
