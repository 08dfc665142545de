//! One tenant's large request does not hold the single writer: it is written
//! in bounded parts, and another tenant's small write commits between them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use honeyhive_model::otlp::decode_json;
use prost::Message;
use serde_json::{Value, json};

use crate::common::Harness;

const SPANS: usize = 30_000;

fn big_request() -> Vec<u8> {
    let spans: Vec<Value> = (0..SPANS)
        .map(|i| {
            json!({
                // Distinct prefixes keep span event ids apart from the
                // session ids derived from trace ids.
                "traceId": format!("ab{:030x}", i / 10 + 1),
                "spanId": format!("cd{:014x}", i + 1),
                "name": "step",
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000001000000000",
            })
        })
        .collect();
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]});
    decode_json(&serde_json::to_vec(&body).expect("json"))
        .expect("decode")
        .encode_to_vec()
}

/// Non-session events of the project of `key`.
fn stored_spans(h: &Harness, key: &str) -> u64 {
    let answer = h.get_as(
        key,
        "/events?limit=1&filters[0][field]=event_type&filters[0][operator]=is%20not\
         &filters[0][value]=session&filters[0][type]=string",
    );
    answer.json()["totalEvents"].as_u64().unwrap_or(0)
}

#[test]
fn a_small_write_commits_between_the_parts_of_a_large_one() {
    let h = Harness::start();
    let other = h.server().create_project_key("other-tenant");
    let body = big_request();
    let finished = AtomicUsize::new(0);
    let (big_done, small_done, partial_seen) = std::thread::scope(|scope| {
        let big = scope.spawn(|| {
            let answer = h.send(
                "POST",
                "/opentelemetry/v1/traces",
                Some(&h.key()),
                &[("Content-Type", "application/x-protobuf")],
                &body,
            );
            assert_eq!(
                answer.status,
                200,
                "{}",
                String::from_utf8_lossy(&answer.body)
            );
            finished.fetch_add(1, Ordering::SeqCst) + 1
        });
        // Wait until the first parts are visible: the large write is under way.
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = 0;
        while seen == 0 {
            assert!(Instant::now() < deadline, "the large write never began");
            std::thread::sleep(Duration::from_millis(5));
            seen = stored_spans(&h, &h.key());
        }
        let small = h.post_json_as(&other, "/events", &json!({"event": {"event_type": "tool"}}));
        assert_eq!(small.status, 200);
        let small_done = finished.fetch_add(1, Ordering::SeqCst) + 1;
        (big.join().expect("big request"), small_done, seen)
    });
    assert!(
        (partial_seen as usize) < SPANS,
        "a large write became visible all at once ({partial_seen} spans): it held the writer"
    );
    assert!(
        small_done < big_done,
        "the small write finished after the large one (small {small_done}, large {big_done})"
    );
    assert_eq!(stored_spans(&h, &h.key()), SPANS as u64, "nothing lost");
}
