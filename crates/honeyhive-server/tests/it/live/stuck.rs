//! A subscriber that never reads: ingest and the other subscribers go on,
//! it misses events, and when it reads at last it is told how many.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::sse::{encode, open};
use super::{otlp, span};
use crate::common::Harness;

const REQUESTS: usize = 32;
const SPANS_PER_REQUEST: usize = 4;
/// Each span's input: the stream carries 32 MiB, far more than the socket
/// buffers between the server and a client that does not read.
const INPUT_BYTES: usize = 256 * 1024;

/// A stream opened on a raw connection with a small receive buffer, read up
/// to its `ready` message and then left alone.
fn stuck_stream(h: &Harness) -> TcpStream {
    let addr = h.server().server().http_addr();
    let mut stream =
        h.rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.set_recv_buffer_size(4096)?;
            socket.connect(addr).await?.into_std()
        })
        .expect("connect");
    stream.set_nonblocking(false).expect("blocking");
    let request = format!(
        "GET /v1/events/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        h.key()
    );
    stream.write_all(request.as_bytes()).expect("request");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&head).contains("event: ready") {
        stream.read_exact(&mut byte).expect("the stream starts");
        head.push(byte[0]);
    }
    stream
}

fn metric(h: &Harness, name: &str) -> u64 {
    let text = String::from_utf8_lossy(&h.get("/metrics").body).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} "))?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

const NOTICE: &[u8] = b"event: lagged\ndata: ";

/// Lagged notices read off a stream as its bytes arrive.
#[derive(Default)]
struct Notices {
    text: Vec<u8>,
    scanned: usize,
    count: u64,
    missed: u64,
}

impl Notices {
    fn add(&mut self, bytes: &[u8]) {
        self.text.extend_from_slice(bytes);
        loop {
            let rest = &self.text[self.scanned..];
            let Some(at) = rest.windows(NOTICE.len()).position(|w| w == NOTICE) else {
                // Keep what could be the start of a notice split by the read.
                self.scanned = self.text.len().saturating_sub(NOTICE.len());
                return;
            };
            let data = self.scanned + at + NOTICE.len();
            let Some(end) = self.text[data..].iter().position(|b| *b == b'\n') else {
                self.scanned += at;
                return;
            };
            let notice: Value =
                serde_json::from_slice(&self.text[data..data + end]).expect("notice json");
            self.missed += notice["missed"].as_u64().expect("missed");
            self.count += 1;
            self.scanned = data + end;
        }
    }
}

#[test]
fn a_subscriber_that_never_reads_slows_nobody_and_is_told_what_it_missed() {
    let h = Harness::start_with(|cfg| {
        cfg.live.buffer_events = 8;
        cfg.live.buffer_bytes = 256 * 1024;
    });
    let mut stuck = stuck_stream(&h);
    // Another subscriber reads as events come; it follows the small ones.
    let small = r#"[{"field":"event_name","operator":"is","value":"small","type":"string"}]"#;
    let reader = open(&h, &h.key(), &format!("filters={}", encode(small)), None).expect("stream");
    reader.ready();

    let input = "x".repeat(INPUT_BYTES);
    for r in 0..REQUESTS {
        let first = (r * (SPANS_PER_REQUEST + 1) + 1) as u64;
        let mut spans = vec![span(first, "small", "tool", "s")];
        spans.extend((1..=SPANS_PER_REQUEST as u64).map(|s| {
            let mut span = span(first + s, "big", "tool", "s");
            span["attributes"]
                .as_array_mut()
                .expect("attributes")
                .push(json!({"key": "honeyhive_inputs.text", "value": {"stringValue": input}}));
            span
        }));
        let answer = h.post_json("/opentelemetry/v1/traces", &otlp(spans));
        assert_eq!(answer.status, 200, "request {r} is acknowledged");
    }
    // The subscriber that reads got every event it follows.
    let got = reader.take(REQUESTS);
    assert!(
        got.iter()
            .all(|m| m.event == "created" && m.name() == "small")
    );
    let ids: Vec<u64> = got.iter().map(|m| m.id.expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // The one that did not read missed events; once it reads, every missed
    // event is announced in a lagged notice.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut notices = Notices::default();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = stuck.read(&mut chunk).expect("the stuck stream reads");
        assert!(n > 0, "the stream stays open");
        notices.add(&chunk[..n]);
        let missed = metric(&h, "hh_live_events_missed_total");
        if notices.missed > 0 && notices.missed == missed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {missed} missed events announced",
            notices.missed
        );
    }
    assert!(metric(&h, "hh_live_lag_notices_total") >= notices.count);
    assert!(metric(&h, "hh_live_events_delivered_total") >= got.len() as u64);
}
