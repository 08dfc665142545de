//! Peak memory of a real `hh serve` under hostile and heavy requests stays
//! within its in-flight budget plus a fixed overhead: bodies that decode into
//! far more than their size, gzip bombs, chunked bodies and large legitimate
//! exports, all at once. Measured as the server process's peak resident set
//! (`VmHWM` in `/proc/PID/status`).

use std::time::{Duration, Instant};

use crate::common::{ServerProcess, TEST_KEY};
use honeyhive_model::otlp::decode_json;
use honeyhive_testkit::otlp::gzip;
use prost::Message;
use serde_json::{Value, json};

const MIB: u64 = 1024 * 1024;
/// The budget the server is started with.
const BUDGET: u64 = 64 * MIB;
/// The writer's page cache: it fills as the store grows, whatever the
/// requests, and the mix stores enough spans to fill it.
const WRITER_CACHE: u64 = 64 * MIB;
/// What else the server may hold beyond its budget, whatever the requests:
/// the allocator's retained pages, the readers' page caches (a few MiB
/// each), thread stacks, buffers of connections being read.
const OVERHEAD: u64 = 128 * MIB;

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a kB figure")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// An OTLP/JSON body with one span whose attribute holds `value`.
fn otlp_json(value: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "bomb", "startTimeUnixNano": "1", "endTimeUnixNano": "2",
        "attributes": [{"key": "honeyhive_metadata.blob", "value": value}],
    }]}]}]}))
    .expect("json")
}

/// A legitimate protobuf export of `spans` LLM-like spans (request `n`).
fn export(n: usize, spans: usize) -> Vec<u8> {
    let spans: Vec<Value> = (0..spans)
        .map(|i| {
            json!({
                "traceId": format!("{:08x}{:024x}", n + 1, i / 5 + 1),
                "spanId": format!("{:08x}{:08x}", n + 1, i + 1),
                "name": "chat",
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000001000000000",
                "attributes": [
                    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                    {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                    {"key": "honeyhive_inputs.prompt", "value": {"stringValue": "q".repeat(200)}},
                    {"key": "honeyhive_outputs.answer", "value": {"stringValue": "a".repeat(200)}},
                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "120"}},
                ],
            })
        })
        .collect();
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]});
    decode_json(&serde_json::to_vec(&body).expect("json"))
        .expect("decode")
        .encode_to_vec()
}

/// Posts until the server takes the request (429s are retried).
fn post_until_taken(agent: &ureq::Agent, url: &str, content_type: &str, body: &[u8]) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let status = agent
            .post(url)
            .header("Authorization", &format!("Bearer {TEST_KEY}"))
            .header("Content-Type", content_type)
            .send(body)
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status != 429 || Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn peak_memory_stays_within_the_budget_under_a_hostile_mix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start_with(
        dir.path(),
        "memory",
        &[
            "--max-inflight-bytes",
            &BUDGET.to_string(),
            "--max-body-bytes",
            &(16 * MIB).to_string(),
        ],
    );
    let pid = server.child.id();
    let base = server.base_url();
    let events_url = format!("{base}/events");
    let otlp_url = format!("{base}/opentelemetry/v1/traces");
    let agent = agent();
    // Warm up: every path once, so code and first-use allocations are in the baseline.
    assert_eq!(
        post_until_taken(&agent, &otlp_url, "application/x-protobuf", &export(0, 50)),
        200
    );
    let before_kib = status_kib(pid, "VmHWM:");

    let numbers_event = serde_json::to_vec(&json!({"event": {"event_type": "tool",
        "inputs": {"n": vec![0u8; 4 * 1024 * 1024]}}}))
    .expect("json");
    let bomb = gzip(&otlp_json(json!(vec![0u8; 12 * 1024 * 1024])));
    let text_event = serde_json::to_vec(&json!({"event": {"event_type": "tool",
        "inputs": {"text": "t".repeat(6 * 1024 * 1024)}}}))
    .expect("json");
    let exports: Vec<Vec<u8>> = (1..=4).map(|n| export(n, 10_000)).collect();

    let statuses: Vec<(String, u16)> = std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for round in 0..2 {
            for i in 0..6 {
                let (agent, url, body) = (&agent, &events_url, &numbers_event);
                workers.push(scope.spawn(move || {
                    let status = agent
                        .post(url)
                        .header("Authorization", &format!("Bearer {TEST_KEY}"))
                        .header("Content-Type", "application/json")
                        .send(&body[..])
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    (format!("numbers {round}.{i}"), status)
                }));
            }
            for i in 0..4 {
                let (agent, url, body) = (&agent, &otlp_url, &bomb);
                workers.push(scope.spawn(move || {
                    let status = agent
                        .post(url)
                        .header("Authorization", &format!("Bearer {TEST_KEY}"))
                        .header("Content-Type", "application/json")
                        .header("Content-Encoding", "gzip")
                        .send(&body[..])
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    (format!("gzip bomb {round}.{i}"), status)
                }));
            }
            for i in 0..3 {
                let (agent, url, body) = (&agent, &events_url, &text_event);
                workers.push(scope.spawn(move || {
                    // Chunked: no length declared, charged as it arrives.
                    let mut reader = &body[..];
                    let status = agent
                        .post(url)
                        .header("Authorization", &format!("Bearer {TEST_KEY}"))
                        .header("Content-Type", "application/json")
                        .send(ureq::SendBody::from_reader(&mut reader))
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    (format!("chunked text {round}.{i}"), status)
                }));
            }
        }
        for (i, body) in exports.iter().enumerate() {
            let (agent, url) = (&agent, &otlp_url);
            workers.push(scope.spawn(move || {
                let status = post_until_taken(agent, url, "application/x-protobuf", body);
                (format!("export {i}"), status)
            }));
        }
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    let after_kib = status_kib(pid, "VmHWM:");
    let grown = (after_kib.saturating_sub(before_kib)) * 1024;
    eprintln!(
        "peak RSS before {} MiB, after {} MiB, grown {} MiB (budget {} MiB + writer cache {} MiB \
         + overhead {} MiB)",
        before_kib / 1024,
        after_kib / 1024,
        grown / MIB,
        BUDGET / MIB,
        WRITER_CACHE / MIB,
        OVERHEAD / MIB
    );

    for (what, status) in &statuses {
        let expected: &[u16] = if what.starts_with("export") {
            &[200]
        } else if what.starts_with("chunked") {
            &[200, 429]
        } else {
            &[413, 429]
        };
        assert!(expected.contains(status), "{what}: {status}");
    }
    assert!(
        grown <= BUDGET + WRITER_CACHE + OVERHEAD,
        "peak RSS grew {} MiB, past the budget of {} MiB plus the writer cache's {} MiB plus {} MiB",
        grown / MIB,
        BUDGET / MIB,
        WRITER_CACHE / MIB,
        OVERHEAD / MIB
    );
    // Every accepted export is stored.
    let stored: Value = agent
        .get(&format!(
            "{base}/events?limit=1&filters[0][field]=event_type&filters[0][operator]=is\
             &filters[0][value]=model&filters[0][type]=string"
        ))
        .header("Authorization", &format!("Bearer {TEST_KEY}"))
        .call()
        .expect("query")
        .body_mut()
        .read_json()
        .expect("json");
    assert_eq!(stored["totalEvents"], 40_050, "{stored}");
}
