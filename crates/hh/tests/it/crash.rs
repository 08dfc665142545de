//! Crash test: ingest continuously, SIGKILL the server mid-stream, restart it on the
//! same data dir, and prove every acknowledged span is present.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::{ServerProcess, TEST_KEY};
use parking_lot::Mutex;
use serde_json::{Value, json};

const SPANS_PER_REQUEST: usize = 50;

/// One OTLP/JSON request: a session of `SPANS_PER_REQUEST` spans (10 traces of 5).
fn request_body(n: usize) -> (String, Value) {
    let session_id = format!("00000000-0000-4000-8000-{n:012x}");
    let mut spans = Vec::new();
    for t in 0..SPANS_PER_REQUEST / 5 {
        let trace_id = format!("{:016x}{:016x}", n as u64 + 1, t as u64 + 1);
        for k in 0..5u64 {
            let span_id = format!("{:08x}{:08x}", n as u32 + 1, (t as u32) << 4 | k as u32);
            let parent = if k == 0 {
                String::new()
            } else {
                format!("{:08x}{:08x}", n as u32 + 1, (t as u32) << 4)
            };
            spans.push(json!({
                "traceId": trace_id, "spanId": span_id, "parentSpanId": parent,
                "name": format!("step-{k}"), "kind": 1,
                "startTimeUnixNano": "1795555627455290128", "endTimeUnixNano": "1795555627462226051",
                "attributes": [
                    {"key": "honeyhive.session_id", "value": {"stringValue": session_id}},
                    {"key": "honeyhive_event_type", "value": {"stringValue": if k == 0 {"chain"} else {"tool"}}},
                    {"key": "honeyhive_inputs.n", "value": {"intValue": n.to_string()}}
                ]
            }));
        }
    }
    let body = json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "crash"}, "spans": spans}]}]});
    (session_id, body)
}

fn count_session_events(agent: &ureq::Agent, base: &str, session_id: &str) -> u64 {
    let filters = json!([
        {"field": "session_id", "operator": "is", "value": session_id, "type": "string"},
        {"field": "event_type", "operator": "is not", "value": "session", "type": "string"}
    ])
    .to_string();
    let mut resp = agent
        .get(&format!("{base}/events"))
        .query("filters", &filters)
        .query("limit", "1")
        .header("Authorization", &format!("Bearer {TEST_KEY}"))
        .call()
        .expect("GET /events after restart");
    let body: Value = resp.body_mut().read_json().expect("json");
    body["totalEvents"].as_u64().expect("totalEvents")
}

#[test]
fn every_acknowledged_span_survives_sigkill() {
    let data = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start(data.path(), "crash");
    let base = server.base_url();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (acked, stop, base) = (acked.clone(), stop.clone(), base.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(10)))
                    .build()
                    .into();
                let mut n = w;
                // Bounded: at most 100_000 requests per writer, stops at the kill.
                while !stop.load(Ordering::Relaxed) && n < 300_000 {
                    let (session_id, body) = request_body(n);
                    let res = agent
                        .post(&format!("{base}/opentelemetry/v1/traces"))
                        .header("Authorization", &format!("Bearer {TEST_KEY}"))
                        .send_json(&body);
                    match res {
                        Ok(r) if r.status().is_success() => acked.lock().push(session_id),
                        Ok(_) | Err(ureq::Error::StatusCode(_)) => {} // over budget: not acknowledged
                        Err(_) => break,                              // the server is gone
                    }
                    n += 3;
                }
            })
        })
        .collect();

    // Let a good amount land, then kill without warning while writes are in flight.
    while acked.lock().len() < 150 {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.join();
    }
    let acked = acked.lock().clone();
    assert!(acked.len() >= 150);

    let server = ServerProcess::start(data.path(), "crash");
    let agent = ureq::Agent::new_with_defaults();
    let mut missing = Vec::new();
    for session_id in &acked {
        let n = count_session_events(&agent, &server.base_url(), session_id);
        if n != SPANS_PER_REQUEST as u64 {
            missing.push((session_id.clone(), n));
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged sessions incomplete after SIGKILL: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(10)]
    );
    // The store is consistent and writable after recovery: a new write is acknowledged and readable.
    let (session_id, body) = request_body(1_000_000);
    let resp = agent
        .post(&format!("{}/opentelemetry/v1/traces", server.base_url()))
        .header("Authorization", &format!("Bearer {TEST_KEY}"))
        .send_json(&body)
        .expect("write after recovery");
    assert!(resp.status().is_success());
    assert_eq!(
        count_session_events(&agent, &server.base_url(), &session_id),
        SPANS_PER_REQUEST as u64
    );
    assert!(server.terminate().success());
}
