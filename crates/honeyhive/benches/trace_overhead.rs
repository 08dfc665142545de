//! Per-call overhead, side by side in one process:
//! 1. a bare `opentelemetry_sdk` span with 5 attributes through a BatchSpanProcessor to
//!    a no-op exporter (the baseline);
//! 2. a `#[trace]` call with two small `Serialize` args through our real queue and
//!    export worker, which discards each batch (as (1)'s processor hands batches to a
//!    no-op exporter);
//!
//!    2b. the same exporting for real (protobuf + gzip over HTTP) to a local axum sink
//!    in this process, which competes with the benchmark for the CPU;
//! 3. the same call with a test-mode (non-recording) tracer;
//! 4. (2) as an `async fn`, polled to completion in place: what keeping the span
//!    current across polls adds.
//!
//! Before the benchmarks it prints the resident memory added by creating a tracer and
//! recording 10 000 spans (Linux: /proc/self/status), measured before criterion runs.
//!
//! Run: `cargo bench -p honeyhive --bench trace_overhead -- --warm-up-time 1 --measurement-time 3`
// A test's failed expectation is its failure: unwrap, expect and panic say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use honeyhive::{Tracer, trace};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

#[derive(Debug)]
struct NoopExporter;

impl opentelemetry_sdk::trace::SpanExporter for NoopExporter {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// A local HTTP sink accepting every export (runs on its own thread).
fn sink_url() -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let app = axum::Router::new().fallback(|| async { "{}" });
            let _ = axum::serve(listener, app).await;
        })
    });
    format!("http://{addr}")
}

fn recording() -> &'static Tracer {
    static TRACER: OnceLock<Tracer> = OnceLock::new();
    TRACER.get_or_init(|| {
        Tracer::builder()
            .ignore_env()
            .api_key("bench")
            .project("bench")
            .discard_batches_for_benchmarks()
            .build()
            .unwrap()
    })
}

fn recording_http() -> &'static Tracer {
    static TRACER: OnceLock<Tracer> = OnceLock::new();
    TRACER.get_or_init(|| {
        Tracer::builder()
            .ignore_env()
            .api_key("bench")
            .project("bench")
            .server_url(sink_url())
            .build()
            .unwrap()
    })
}

fn disabled() -> &'static Tracer {
    static TRACER: OnceLock<Tracer> = OnceLock::new();
    TRACER.get_or_init(|| {
        Tracer::builder()
            .ignore_env()
            .test_mode(true)
            .build()
            .unwrap()
    })
}

#[trace(tracer = recording())]
fn traced(a: i64, name: &str) -> i64 {
    a + name.len() as i64
}

#[trace(tracer = recording_http())]
fn traced_http(a: i64, name: &str) -> i64 {
    a + name.len() as i64
}

#[trace(tracer = disabled())]
fn traced_disabled(a: i64, name: &str) -> i64 {
    a + name.len() as i64
}

#[trace(tracer = recording())]
async fn traced_async(a: i64, name: &str) -> i64 {
    a + name.len() as i64
}

/// Polls a future that never waits to completion (no executor in the measurement).
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn overhead(c: &mut Criterion) {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(NoopExporter)
        .build();
    let otel = provider.tracer("bench");
    recording();
    recording_http();
    disabled();
    let mut group = c.benchmark_group("trace_overhead");
    group.bench_function("1_otel_sdk_batch_5_attrs", |b| {
        b.iter(|| {
            let mut span = otel.start("op");
            span.set_attribute(KeyValue::new("a", 1i64));
            span.set_attribute(KeyValue::new("b", "two"));
            span.set_attribute(KeyValue::new("c", 3.0f64));
            span.set_attribute(KeyValue::new("d", true));
            span.set_attribute(KeyValue::new("e", "five"));
            span.end();
        })
    });
    group.bench_function("2_honeyhive_trace_2_args", |b| {
        b.iter(|| black_box(traced(black_box(41), black_box("x"))))
    });
    group.bench_function("2b_honeyhive_trace_2_args_http_sink", |b| {
        b.iter(|| black_box(traced_http(black_box(41), black_box("x"))))
    });
    group.bench_function("3_honeyhive_trace_test_mode", |b| {
        b.iter(|| black_box(traced_disabled(black_box(41), black_box("x"))))
    });
    group.bench_function("4_honeyhive_trace_async_2_args", |b| {
        b.iter(|| black_box(ready(traced_async(black_box(41), black_box("x")))))
    });
    group.finish();
    for (case, tracer) in [("2", recording()), ("2b", recording_http())] {
        let _ = tracer.flush(Duration::from_secs(10));
        let health = tracer.health();
        println!(
            "honeyhive pipeline ({case}) after the run: recorded {} sent {} dropped {:?}",
            health.spans_recorded, health.spans_sent, health.dropped
        );
    }
    let _ = provider.shutdown();
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[trace]
fn rss_work(i: u64, label: &str) -> u64 {
    i + label.len() as u64
}

/// RSS added by init + 10 000 spans, exported to the local sink.
fn report_rss() {
    let url = sink_url();
    std::thread::sleep(Duration::from_millis(100));
    let before = rss_kib();
    let tracer = Tracer::builder()
        .ignore_env()
        .api_key("rss")
        .project("rss")
        .server_url(url)
        .build()
        .unwrap();
    honeyhive::set_default_tracer(&tracer);
    let after_init = rss_kib();
    for i in 0..10_000 {
        black_box(rss_work(i, "label"));
    }
    let after_recording = rss_kib();
    let report = tracer.flush(Duration::from_secs(30)).unwrap();
    let after_spans = rss_kib();
    honeyhive::clear_default_tracer();
    let _ = tracer.shutdown();
    println!(
        "rss: added by init {} KiB; by init + 10000 spans {} KiB, {} KiB of it before the flush ({} sent, {} dropped)",
        after_init.saturating_sub(before),
        after_spans.saturating_sub(before),
        after_recording.saturating_sub(before),
        report.spans_sent,
        report.dropped.total()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = overhead
}

fn main() {
    report_rss();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
