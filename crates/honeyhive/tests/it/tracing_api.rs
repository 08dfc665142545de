//! `#[trace]`, sessions, propagation and OpenTelemetry interop, end to end through a
//! real local server. Every test uses its own explicit tracer (no shared default).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::common::{TRACES, builder, server, spans};
use honeyhive::config::{Sampling, TracerBuilder};
use honeyhive::{EventType, Instrument, Tracer, trace};
use honeyhive_testkit::http::ScriptedServer;
use honeyhive_testkit::otlp::{attr, str_attr};
use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

/// One server + tracer per test area, created on first use.
struct Fixture {
    server: ScriptedServer,
    tracer: Tracer,
}

fn fixture(
    slot: &'static OnceLock<Fixture>,
    configure: fn(TracerBuilder) -> TracerBuilder,
) -> &'static Fixture {
    slot.get_or_init(|| {
        let server = server();
        let tracer = configure(builder(&server.url())).build().unwrap();
        Fixture { server, tracer }
    })
}

fn flush(f: &Fixture) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    f.tracer.flush(Duration::from_secs(10)).unwrap();
    spans(&f.server)
}

// ---- multi-tracer isolation ----------------------------------------------------

static TENANT_A: OnceLock<Fixture> = OnceLock::new();
static TENANT_B: OnceLock<Fixture> = OnceLock::new();
fn tenant_a() -> &'static Tracer {
    &fixture(&TENANT_A, |b| b.source("source-a").project("project-a")).tracer
}
fn tenant_b() -> &'static Tracer {
    &fixture(&TENANT_B, |b| b.source("source-b").project("project-b")).tracer
}

#[trace(tracer = tenant_a())]
fn work_a(x: i64) -> i64 {
    x + 1
}

#[trace(tracer = tenant_b(), event_type = "model")]
fn work_b(x: i64) -> i64 {
    work_a(x) * 2
}

#[test]
fn two_tracers_keep_their_own_sessions_sources_and_servers() {
    assert_eq!(work_b(1), 4);
    let (a, b) = (TENANT_A.get().unwrap(), TENANT_B.get().unwrap());
    assert_ne!(a.tracer.session_id(), b.tracer.session_id());
    let spans_a = flush(a);
    let spans_b = flush(b);
    assert_eq!(spans_a.len(), 1);
    assert_eq!(spans_b.len(), 1);
    assert_eq!(
        str_attr(&spans_a[0], "honeyhive.session_id"),
        Some(a.tracer.session_id())
    );
    assert_eq!(str_attr(&spans_a[0], "honeyhive.source"), Some("source-a"));
    assert_eq!(str_attr(&spans_b[0], "honeyhive.source"), Some("source-b"));
    assert_eq!(str_attr(&spans_b[0], "honeyhive_event_type"), Some("model"));
    // Still one trace: a's span nests under b's across tracers.
    assert_eq!(spans_a[0].parent_span_id, spans_b[0].span_id);
    assert_eq!(
        a.server.requests_to(TRACES)[0].header("x-source"),
        Some("source-a")
    );
    assert_eq!(
        b.server.requests_to(TRACES)[0].header("x-source"),
        Some("source-b")
    );
}

// ---- async nesting -------------------------------------------------------------

static ASYNC: OnceLock<Fixture> = OnceLock::new();
fn async_tracer() -> &'static Tracer {
    &fixture(&ASYNC, |b| b).tracer
}

#[trace(tracer = async_tracer())]
async fn leaf(tag: &'static str) -> &'static str {
    tokio::task::yield_now().await;
    tag
}

#[trace(tracer = async_tracer(), event_type = "chain")]
async fn parent_task() -> usize {
    tokio::task::yield_now().await;
    let awaited = leaf("awaited").await;
    let wrapped = tokio::spawn(leaf("spawned-wrapped").in_current_context());
    let bare = tokio::spawn(leaf("spawned-bare"));
    awaited.len() + wrapped.await.unwrap().len() + bare.await.unwrap().len()
}

#[test]
fn async_spans_stay_current_across_await_and_spawn_needs_an_explicit_wrapper() {
    async_tracer(); // start the test server outside the runtime
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(parent_task());
    let spans = flush(ASYNC.get().unwrap());
    let find = |tag: &str| {
        spans
            .iter()
            .find(|s| match attr(s, "honeyhive_inputs.tag") {
                Some(Value::StringValue(v)) => v == tag,
                _ => s.name == tag,
            })
            .unwrap_or_else(|| panic!("no span {tag}"))
    };
    let parent = find("parent_task");
    assert_eq!(find("awaited").parent_span_id, parent.span_id);
    assert_eq!(find("spawned-wrapped").parent_span_id, parent.span_id);
    let bare = find("spawned-bare");
    assert!(
        bare.parent_span_id.is_empty(),
        "tokio::spawn does not carry the context by itself"
    );
    assert_ne!(bare.trace_id, parent.trace_id);
}

// ---- spans by hand, futures instrumented with them -----------------------------

static INSTRUMENTED: OnceLock<Fixture> = OnceLock::new();
fn instrumented_tracer() -> &'static Tracer {
    &fixture(&INSTRUMENTED, |b| b).tracer
}

#[trace(tracer = instrumented_tracer())]
async fn lookup(key: &'static str) -> usize {
    tokio::task::yield_now().await;
    key.len()
}

#[test]
fn an_instrumented_future_keeps_its_span_current_and_records_its_panic() {
    let tracer = instrumented_tracer();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let pipeline = tracer.span("pipeline", EventType::Chain);
    let total =
        runtime.block_on(async { lookup("a").await + lookup("bc").await }.instrument(pipeline));
    assert_eq!(total, 3);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(
            async {
                tokio::task::yield_now().await;
                panic!("boom in a future")
            }
            .instrument(tracer.span("panicky", EventType::Tool)),
        )
    }));
    assert!(panicked.is_err());

    let spans = flush(INSTRUMENTED.get().unwrap());
    let pipeline = spans.iter().find(|s| s.name == "pipeline").unwrap();
    let lookups: Vec<_> = spans.iter().filter(|s| s.name == "lookup").collect();
    assert_eq!(lookups.len(), 2);
    for lookup in lookups {
        assert_eq!(lookup.parent_span_id, pipeline.span_id);
        assert_eq!(lookup.trace_id, pipeline.trace_id);
    }
    let panicky = spans.iter().find(|s| s.name == "panicky").unwrap();
    assert_eq!(
        str_attr(panicky, "honeyhive_error"),
        Some("boom in a future")
    );
    assert_eq!(panicky.status.as_ref().unwrap().code, 2);
}

#[test]
fn a_tracer_that_does_not_record_hands_out_spans_that_keep_the_current_context() {
    let tracer = Tracer::builder().test_mode(true).build().unwrap();
    let session = tracer.new_session("request");
    session.in_scope(|| {
        let span = tracer.span("step", EventType::Chain);
        assert!(span.is_none());
        span.record_output(&1);
        let inside = span.in_scope(|| tracer.current_session_id());
        assert_eq!(inside, session.session_id());
    });
}

// ---- panics and errors ---------------------------------------------------------

static ERRORS: OnceLock<Fixture> = OnceLock::new();
fn errors_tracer() -> &'static Tracer {
    &fixture(&ERRORS, |b| b).tracer
}

#[trace(tracer = errors_tracer())]
fn explode(n: u32) -> u32 {
    if n > 0 {
        panic!("exploded with {n}");
    }
    n
}

#[derive(Debug)]
enum NotDisplay {
    Broken,
}

#[trace(tracer = errors_tracer())]
fn parse_number(s: &str) -> Result<i32, std::num::ParseIntError> {
    s.parse()
}

#[trace(tracer = errors_tracer())]
fn debug_only_error() -> Result<(), NotDisplay> {
    Err(NotDisplay::Broken)
}

#[trace(tracer = errors_tracer())]
async fn async_explode() -> u8 {
    panic!("async boom")
}

#[test]
fn panics_are_recorded_and_resumed_and_errors_mark_the_span() {
    errors_tracer(); // start the test server outside any runtime
    let caught = std::panic::catch_unwind(|| explode(3));
    let payload = caught.expect_err("the panic must propagate to the caller");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("exploded with 3")
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let async_caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async_explode())
    }));
    assert!(async_caught.is_err());
    assert!(parse_number("x").is_err());
    assert_eq!(parse_number("12").unwrap(), 12);
    assert!(debug_only_error().is_err());

    let spans = flush(ERRORS.get().unwrap());
    let by = |name: &str, pred: &dyn Fn(&opentelemetry_proto::tonic::trace::v1::Span) -> bool| {
        spans
            .iter()
            .find(|s| s.name == name && pred(s))
            .unwrap_or_else(|| panic!("no span {name}"))
            .clone()
    };
    let panicked = by("explode", &|_| true);
    assert_eq!(
        str_attr(&panicked, "honeyhive_error"),
        Some("exploded with 3")
    );
    assert_eq!(str_attr(&panicked, "honeyhive_error_type"), Some("panic"));
    assert_eq!(panicked.status.as_ref().unwrap().code, 2);
    assert_eq!(panicked.events[0].name, "exception");
    let async_panicked = by("async_explode", &|_| true);
    assert_eq!(
        str_attr(&async_panicked, "honeyhive_error"),
        Some("async boom")
    );
    let failed = by("parse_number", &|s| {
        str_attr(s, "honeyhive_inputs.s") == Some("x")
    });
    assert_eq!(
        str_attr(&failed, "honeyhive_error_type"),
        Some("ParseIntError")
    );
    assert_eq!(
        str_attr(&failed, "honeyhive_error"),
        Some("invalid digit found in string")
    );
    let ok = by("parse_number", &|s| {
        str_attr(s, "honeyhive_inputs.s") == Some("12")
    });
    assert_eq!(
        attr(&ok, "honeyhive_outputs.result"),
        Some(&Value::IntValue(12))
    );
    assert_eq!(ok.status.as_ref().unwrap().code, 0);
    let debug_error = by("debug_only_error", &|_| true);
    assert_eq!(str_attr(&debug_error, "honeyhive_error"), Some("Broken"));
}

// ---- inputs that are not Serialize, skip, options ------------------------------

static INPUTS: OnceLock<Fixture> = OnceLock::new();
fn inputs_tracer() -> &'static Tracer {
    &fixture(&INPUTS, |b| b).tracer
}

struct Opaque;

#[trace(tracer = inputs_tracer(), name = "custom-name", skip(secret), metadata = serde_json::json!({"team": "a"}))]
fn with_options(opaque: Opaque, secret: &str, list: Vec<u8>) -> Opaque {
    let _ = secret;
    let _ = list;
    opaque
}

#[test]
fn unserializable_inputs_record_their_type_and_skipped_inputs_are_absent() {
    let _ = with_options(Opaque, "hunter2", vec![1, 2]);
    let spans = flush(INPUTS.get().unwrap());
    let span = spans.iter().find(|s| s.name == "custom-name").unwrap();
    assert_eq!(
        str_attr(span, "honeyhive_inputs.opaque"),
        Some("it::tracing_api::Opaque")
    );
    assert_eq!(str_attr(span, "honeyhive_inputs.list"), Some("[1,2]"));
    assert!(attr(span, "honeyhive_inputs.secret").is_none());
    assert_eq!(str_attr(span, "honeyhive_event_name"), Some("custom-name"));
    assert_eq!(str_attr(span, "honeyhive_metadata.team"), Some("a"));
    assert!(
        attr(span, "honeyhive_outputs.result").is_none(),
        "non-Serialize output is skipped"
    );
}

// ---- impl blocks -----------------------------------------------------------------

static METHODS: OnceLock<Fixture> = OnceLock::new();
fn methods_tracer() -> &'static Tracer {
    &fixture(&METHODS, |b| b).tracer
}

struct Service {
    factor: i64,
}

#[trace(tracer = methods_tracer())]
impl Service {
    pub fn run(&self, v: i64) -> i64 {
        self.helper(v)
    }

    fn helper(&self, v: i64) -> i64 {
        v * self.factor
    }
}

#[test]
fn impl_blocks_trace_every_public_method() {
    assert_eq!(Service { factor: 3 }.run(2), 6);
    let spans = flush(METHODS.get().unwrap());
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Service.run"]);
    assert_eq!(
        str_attr(&spans[0], "honeyhive_event_name"),
        Some("Service.run")
    );
    assert_eq!(
        attr(&spans[0], "honeyhive_inputs.v"),
        Some(&Value::IntValue(2))
    );
}

// ---- sessions and propagation --------------------------------------------------

static SESSIONS: OnceLock<Fixture> = OnceLock::new();
fn sessions_tracer() -> &'static Tracer {
    &fixture(&SESSIONS, |b| b).tracer
}

#[trace(tracer = sessions_tracer())]
fn handle_request(id: usize) -> usize {
    id
}

#[test]
fn concurrent_sessions_do_not_mix_and_are_started_by_the_worker() {
    let tracer = sessions_tracer();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let session = tracer.new_session(&format!("request-{i}"));
            std::thread::spawn(move || {
                session.in_scope(|| {
                    for _ in 0..5 {
                        handle_request(i);
                    }
                });
                (i as i64, session.session_id().to_owned())
            })
        })
        .collect();
    let expected: HashMap<i64, String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let spans = flush(SESSIONS.get().unwrap());
    let request_spans: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "handle_request")
        .collect();
    assert_eq!(request_spans.len(), 20);
    for span in request_spans {
        let Some(Value::IntValue(id)) = attr(span, "honeyhive_inputs.id") else {
            panic!("no id")
        };
        assert_eq!(
            str_attr(span, "honeyhive.session_id"),
            Some(expected[id].as_str())
        );
    }
    let starts = SESSIONS.get().unwrap().server.requests_to("/session/start");
    let started: Vec<String> = starts
        .iter()
        .map(|r| {
            r.json()["session"]["session_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for id in expected.values() {
        assert!(started.contains(id), "session {id} was started");
    }
}

#[test]
fn traceparent_and_baggage_carry_trace_and_session_to_another_service() {
    let tracer = sessions_tracer();
    let session = tracer.new_session("upstream");
    let mut headers: HashMap<String, String> = HashMap::new();
    let upstream = session.in_scope(|| {
        let span = tracer.span("upstream-call", EventType::Chain);
        let (trace_id, span_id) = {
            let cx = span.context().span().span_context().clone();
            (cx.trace_id(), cx.span_id())
        };
        span.in_scope(|| tracer.inject_context(&mut headers));
        (trace_id, span_id)
    });
    assert!(headers["traceparent"].contains(&upstream.0.to_string()));

    // The "other service" (same process here, empty context).
    let downstream_cx = tracer.extract_context(&headers);
    let _attached = downstream_cx.attach();
    let span = tracer.span("downstream", EventType::Tool);
    let cx = span.context().span().span_context().clone();
    assert_eq!(cx.trace_id(), upstream.0);
    drop(span);
    let spans = flush(SESSIONS.get().unwrap());
    let downstream = spans.iter().find(|s| s.name == "downstream").unwrap();
    assert_eq!(downstream.parent_span_id, upstream.1.to_bytes().to_vec());
    assert_eq!(
        str_attr(downstream, "honeyhive.session_id"),
        Some(session.session_id())
    );
}

// ---- OpenTelemetry interop -----------------------------------------------------

#[derive(Debug, Clone, Default)]
struct CollectingExporter(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

impl opentelemetry_sdk::trace::SpanExporter for CollectingExporter {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

static INTEROP: OnceLock<Fixture> = OnceLock::new();
fn interop_tracer() -> &'static Tracer {
    &fixture(&INTEROP, |b| b).tracer
}

#[trace(tracer = interop_tracer())]
fn ours_calls_theirs(provider: &opentelemetry_sdk::trace::SdkTracerProvider) -> u8 {
    opentelemetry::Context::current()
        .span()
        .set_attribute(opentelemetry::KeyValue::new("set.via.otel", 7i64));
    provider.tracer("other-lib").in_span("theirs", |_| 1)
}

#[trace(tracer = interop_tracer())]
fn ours_inside_theirs() -> u8 {
    2
}

#[test]
fn otel_spans_nest_under_ours_and_ours_under_theirs() {
    let exporter = CollectingExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    ours_calls_theirs(&provider);
    provider
        .tracer("other-lib")
        .in_span("outer-theirs", |_| ours_inside_theirs());
    let spans = flush(INTEROP.get().unwrap());
    let theirs = exporter.0.lock().unwrap().clone();
    let ours_outer = spans
        .iter()
        .find(|s| s.name == "ours_calls_theirs")
        .unwrap();
    let their_child = theirs.iter().find(|s| s.name == "theirs").unwrap();
    assert_eq!(
        their_child.parent_span_id.to_bytes().to_vec(),
        ours_outer.span_id
    );
    assert_eq!(attr(ours_outer, "set.via.otel"), Some(&Value::IntValue(7)));
    let their_parent = theirs.iter().find(|s| s.name == "outer-theirs").unwrap();
    let ours_inner = spans
        .iter()
        .find(|s| s.name == "ours_inside_theirs")
        .unwrap();
    assert_eq!(
        ours_inner.parent_span_id,
        their_parent.span_context.span_id().to_bytes().to_vec()
    );
    assert_eq!(
        ours_inner.trace_id,
        their_parent.span_context.trace_id().to_bytes().to_vec()
    );
}

// ---- sampling --------------------------------------------------------------------

#[test]
fn unsampled_traces_are_counted_and_errors_can_be_kept() {
    let server = server();
    let tracer = builder(&server.url())
        .sampling(Sampling::ratio(0.0).keep_errors(true))
        .build()
        .unwrap();
    for _ in 0..3 {
        drop(tracer.span("dropped", EventType::Tool));
    }
    let failing = tracer.span("kept", EventType::Tool);
    failing.record_error("Oops", "kept because it failed");
    drop(failing);
    let report = tracer.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.dropped.sampled_out, 3);
    let spans = spans(&server);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "kept");
}
