//! The export pipeline against a real local HTTP server that injects failures.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::{TRACES, builder, otlp, server, slow, spans};
use honeyhive::export::BreakerState;
use honeyhive::{EventType, Tracer};
use honeyhive_testkit::http::{Reply, ScriptedServer};

fn emit(tracer: &Tracer, n: usize) {
    for i in 0..n {
        let span = tracer.span(format!("span-{i}"), EventType::Tool);
        assert!(!span.is_none(), "recording");
        span.record_input("honeyhive_inputs.i", &i);
    }
}

fn unique_span_ids(server: &ScriptedServer) -> HashSet<Vec<u8>> {
    spans(server).into_iter().map(|s| s.span_id).collect()
}

#[test]
fn server_errors_are_retried_until_delivered() {
    let server = server();
    server.script(TRACES, [Reply::status(500), Reply::status(502)]);
    let tracer = builder(&server.url()).build().unwrap();
    emit(&tracer, 3);
    let report = tracer.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.spans_sent, 3);
    assert_eq!(server.requests_to(TRACES).len(), 3);
    assert_eq!(spans(&server).len(), 3);
    assert!(tracer.health().retries >= 2);
    assert_eq!(tracer.health().breaker, BreakerState::Closed);
}

#[test]
fn too_many_requests_honours_retry_after() {
    let server = server();
    server.script(TRACES, [Reply::status(429).header("retry-after", "1")]);
    let mut export = crate::common::fast_export();
    export.retry.max_backoff = Duration::from_secs(5);
    let tracer = builder(&server.url()).export(export).build().unwrap();
    emit(&tracer, 1);
    let started = Instant::now();
    let report = tracer.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.spans_sent, 1);
    assert_eq!(server.requests_to(TRACES).len(), 2);
    // A lower bound only: the retry waited for the server's Retry-After.
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn unauthorized_is_not_retried_and_is_counted_with_the_server_code() {
    let server = server();
    server.script(TRACES, [Reply::text(401, r#"{"code":"HH-AUTH-401"}"#)]);
    let tracer = builder(&server.url()).build().unwrap();
    emit(&tracer, 4);
    let report = tracer.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.dropped.rejected_by_server, 4);
    assert_eq!(report.spans_sent, 0);
    assert_eq!(server.requests_to(TRACES).len(), 1);
    let error = tracer.health().last_error.unwrap();
    assert!(
        error.contains("401") && error.contains("HH-AUTH-401"),
        "{error}"
    );
}

#[test]
fn slow_responses_time_out_and_are_retried() {
    let server = server();
    server.script(TRACES, [slow(Duration::from_millis(1500))]);
    let mut export = crate::common::fast_export();
    export.request_timeout = Duration::from_millis(300);
    let tracer = builder(&server.url()).export(export).build().unwrap();
    emit(&tracer, 2);
    let report = tracer.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.spans_sent, 2);
    assert!(tracer.health().retries >= 1);
}

#[test]
fn breaker_opens_on_repeated_failures_and_closes_after_recovery() {
    let server = server();
    server.script(TRACES, std::iter::repeat_n(Reply::status(503), 3));
    let mut export = crate::common::fast_export();
    export.breaker.open_for = Duration::from_millis(300);
    export.retry.max_attempts = 10;
    let tracer = builder(&server.url()).export(export).build().unwrap();
    emit(&tracer, 5);
    // While open, no request is attempted and the spans stay queued.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tracer.health().breaker != BreakerState::Open && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(tracer.health().breaker, BreakerState::Open);
    let report = tracer.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.spans_sent, 5);
    let health = tracer.health();
    assert_eq!(health.breaker, BreakerState::Closed);
    // closed → open → half-open → closed
    assert!(health.breaker_transitions >= 3, "{health:?}");
    assert_eq!(unique_span_ids(&server).len(), 5);
}

#[test]
fn outage_with_spool_delivers_every_span_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server();
    let url = server.url();
    server.stop();
    let tracer = builder(&url).spool_dir(dir.path()).build().unwrap();
    emit(&tracer, 10_000);
    // With the server down, a flush spools everything to disk.
    let report = tracer.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(report.pending, 0);
    assert_eq!(report.spooled + report.spans_sent, 10_000);
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report = tracer.flush(Duration::from_secs(10)).unwrap();
        if report.spooled == 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let report = tracer.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.spans_sent, 10_000);
    assert_eq!(report.dropped.total(), 0);
    assert_eq!(spans(&server).len(), 10_000, "no duplicates");
    assert_eq!(unique_span_ids(&server).len(), 10_000);
}

#[test]
fn spooled_spans_survive_a_process_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server();
    let url = server.url();
    server.stop();
    {
        let tracer = builder(&url).spool_dir(dir.path()).build().unwrap();
        emit(&tracer, 50);
        let report = tracer.shutdown().unwrap();
        assert_eq!(report.spooled, 50);
    }
    server.restart();
    let tracer = builder(&url).spool_dir(dir.path()).build().unwrap();
    assert_eq!(tracer.health().spooled, 50);
    let deadline = Instant::now() + Duration::from_secs(30);
    while tracer.health().spooled > 0 && Instant::now() < deadline {
        let _ = tracer.flush(Duration::from_secs(5));
    }
    assert_eq!(tracer.health().spans_sent, 50);
    assert_eq!(unique_span_ids(&server).len(), 50);
}

#[test]
fn outage_without_spool_counts_every_drop_exactly() {
    let mut server = server();
    let url = server.url();
    server.stop();
    let mut export = crate::common::fast_export();
    export.max_queue_bytes = 256 * 1024;
    let tracer = builder(&url).export(export).build().unwrap();
    emit(&tracer, 10_000);
    let during = tracer.health();
    assert!(
        during.dropped.queue_full > 0,
        "the byte cap must have been hit: {during:?}"
    );
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        match tracer.flush(Duration::from_secs(10)) {
            Ok(report) => break report,
            Err(_) if Instant::now() < deadline => continue,
            Err(error) => panic!("flush never completed: {error}"),
        }
    };
    let received = unique_span_ids(&server).len() as u64;
    assert_eq!(spans(&server).len() as u64, received, "no duplicates");
    assert_eq!(report.spans_sent, received);
    assert_eq!(received + report.dropped.total(), 10_000, "{report:?}");
}

#[test]
fn dropping_the_last_handle_flushes() {
    let server = server();
    {
        // A long batch delay: only the drop-time flush can deliver these spans.
        let mut export = crate::common::fast_export();
        export.scheduled_delay = Duration::from_secs(600);
        let tracer = builder(&server.url()).export(export).build().unwrap();
        let clone = tracer.clone();
        emit(&clone, 7);
        drop(clone);
        assert_eq!(spans(&server).len(), 0, "a clone's drop does not flush");
    }
    assert_eq!(spans(&server).len(), 7);
}

#[test]
fn disable_batch_sends_one_request_per_span() {
    let server = server();
    let tracer = builder(&server.url()).disable_batch(true).build().unwrap();
    emit(&tracer, 3);
    tracer.flush(Duration::from_secs(10)).unwrap();
    let exports = server.requests_to(TRACES);
    assert_eq!(spans(&server).len(), 3);
    assert!(
        exports
            .iter()
            .all(|r| otlp(r).resource_spans[0].scope_spans[0].spans.len() == 1)
    );
}

#[test]
fn shutdown_stops_recording_and_counts_late_spans() {
    let server = server();
    let tracer = builder(&server.url()).build().unwrap();
    emit(&tracer, 2);
    let report = tracer.shutdown().unwrap();
    assert_eq!(report.spans_sent, 2);
    assert!(tracer.span("late", EventType::Tool).is_none());
    assert_eq!(tracer.shutdown().unwrap_err().code(), "HH-E203");
}

#[test]
fn build_never_waits_for_the_network() {
    // Nothing listens here: build must still succeed at once, the session start is
    // the worker's business.
    let mut server = server();
    let url = server.url();
    server.stop();
    let tracer = builder(&url).build().unwrap();
    assert!(!tracer.health().session_started);
    assert!(
        tracer.flush(Duration::from_millis(200)).is_ok(),
        "no spans: nothing pending"
    );
}
