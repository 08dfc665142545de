//! Every request with a body is charged what it really costs in memory, before
//! it is decoded: its decompressed size and what parsing it takes, on every
//! ingest route; spans per request and bytes per field are capped; the gRPC
//! key is checked before the message is read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use honeyhive_model::otlp::{ExportTraceServiceRequest, ExportTraceServiceResponse, decode_json};
use honeyhive_testkit::otlp::gzip;
use prost::Message;
use serde_json::{Value, json};

use crate::common::{Answer, Harness};

fn assert_error(answer: &Answer, status: u16, code: &str) -> Value {
    let body = answer.json();
    assert_eq!(answer.status, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["hint"].is_string(),
        "every refusal has a hint: {body}"
    );
    body
}

/// An OTLP/JSON request of `spans` spans; the first carries `attribute` under
/// `honeyhive_metadata.blob`.
fn otlp_body(spans: usize, attribute: Value) -> Value {
    let spans: Vec<Value> = (0..spans)
        .map(|i| {
            let mut span = json!({
                "traceId": "5b8efff798038103d269b633813fc60c",
                "spanId": format!("{:016x}", i + 1),
                "name": "op",
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000001000000000",
                "attributes": [{"key": "honeyhive.session_id", "value": {"stringValue": "budget-session"}}],
            });
            if i == 0 {
                span["attributes"]
                    .as_array_mut()
                    .expect("attributes")
                    .push(json!({"key": "honeyhive_metadata.blob", "value": attribute.clone()}));
            }
            span
        })
        .collect();
    json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
}

fn post_otlp(h: &Harness, body: &[u8], gzipped: bool) -> Answer {
    let mut headers = vec![("Content-Type", "application/json")];
    if gzipped {
        headers.push(("Content-Encoding", "gzip"));
    }
    h.send(
        "POST",
        "/opentelemetry/v1/traces",
        Some(&h.key()),
        &headers,
        body,
    )
}

#[test]
fn a_small_gzip_body_that_would_decode_into_gigabytes_is_refused_unparsed() {
    let h = Harness::start();
    // 24 MiB of JSON numbers in 30 KiB of gzip: about 3 GiB once decoded.
    let numbers = vec![0u8; 12 * 1024 * 1024];
    let body = serde_json::to_vec(&otlp_body(1, json!(numbers))).expect("json");
    let compressed = gzip(&body);
    assert!(compressed.len() < 100 * 1024, "{} bytes", compressed.len());
    let answer = post_otlp(&h, &compressed, true);
    let error = assert_error(&answer, 413, "payload_too_large");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("memory budget"),
        "{error}"
    );
    // The same on the event API, where bodies were not budgeted at all.
    let event =
        json!({"event": {"event_type": "tool", "inputs": {"numbers": vec![0u8; 6 * 1024 * 1024]}}});
    let answer = h.send(
        "POST",
        "/events",
        Some(&h.key()),
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "identity"),
        ],
        &serde_json::to_vec(&event).expect("json"),
    );
    assert_error(&answer, 413, "payload_too_large");
    assert_eq!(h.get("/healthz").status, 200);
}

#[test]
fn event_api_bodies_take_their_share_and_past_it_get_429_with_retry_after() {
    let h = Harness::start_with(|c| {
        c.max_body_bytes = 16 * 1024 * 1024;
        c.max_inflight_bytes = 40 * 1024 * 1024;
    });
    let addr = h.server().server().http_addr();
    let key = h.key();
    // Two 16 MiB bodies declared and still arriving hold 32 of the 40 MiB.
    let declared = 16 * 1024 * 1024;
    let mut arriving: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).expect("connect");
            let head = format!(
                "POST /events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\n\
                 Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{\"event\": "
            );
            stream.write_all(head.as_bytes()).expect("send");
            stream
        })
        .collect();
    // Admission runs before any handler: wait until both are counted.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !metric_line(&h, "hh_inflight_requests").is_some_and(|v| v >= 2.0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the bodies were not admitted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A third is refused from its headers alone, before its body is read.
    let mut third = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST /events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
    );
    third.write_all(head.as_bytes()).expect("send");
    let _ = third.set_read_timeout(Some(Duration::from_secs(20)));
    let mut answer = vec![0u8; 4096];
    let n = third.read(&mut answer).expect("an answer before the body");
    let answer = String::from_utf8_lossy(&answer[..n]).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 429"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("\"code\":\"over_budget\""), "{answer}");
    // A small event still fits beside them.
    let small = h.post_json("/events", &json!({"event": {"event_type": "tool"}}));
    assert_eq!(
        small.status,
        200,
        "{}",
        String::from_utf8_lossy(&small.body)
    );
    for stream in &mut arriving {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    drop(arriving);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while metric_line(&h, "hh_inflight_bytes") != Some(0.0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the budget was not released"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of an unlabelled series in `/metrics`.
fn metric_line(h: &Harness, name: &str) -> Option<f64> {
    let text = String::from_utf8_lossy(&h.get("/metrics").body).into_owned();
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[test]
fn the_decompressed_size_is_charged_not_the_compressed_one() {
    let h = Harness::start_with(|c| {
        c.max_body_bytes = 8 * 1024 * 1024;
        c.max_inflight_bytes = 24 * 1024 * 1024;
    });
    // 30 MiB of text in a few KiB of gzip: past the whole budget once inflated.
    let body =
        serde_json::to_vec(&otlp_body(1, json!("x".repeat(30 * 1024 * 1024)))).expect("json");
    let answer = post_otlp(&h, &gzip(&body), true);
    assert_error(&answer, 413, "payload_too_large");
    // What fits is stored.
    let fits = serde_json::to_vec(&otlp_body(2, json!("x".repeat(1024)))).expect("json");
    assert_eq!(post_otlp(&h, &gzip(&fits), true).status, 200);
}

#[test]
fn spans_and_events_per_request_are_capped() {
    let h = Harness::start_with(|c| c.max_spans_per_request = 100);
    let too_many = serde_json::to_vec(&otlp_body(101, json!(1))).expect("json");
    let answer = post_otlp(&h, &too_many, false);
    let error = assert_error(&answer, 413, "payload_too_large");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("101 spans"),
        "{error}"
    );
    // The protobuf path counts them before decoding.
    let request = decode_json(&too_many).expect("decode");
    let answer = h.send(
        "POST",
        "/opentelemetry/v1/traces",
        Some(&h.key()),
        &[("Content-Type", "application/x-protobuf")],
        &request.encode_to_vec(),
    );
    assert_error(&answer, 413, "payload_too_large");
    let enough = serde_json::to_vec(&otlp_body(100, json!(1))).expect("json");
    assert_eq!(post_otlp(&h, &enough, false).status, 200);

    let events: Vec<Value> = (0..101).map(|_| json!({"event_type": "tool"})).collect();
    let answer = h.post_json("/events/batch", &json!({"events": events}));
    assert_error(&answer, 413, "payload_too_large");
}

#[test]
fn a_field_over_the_cap_rejects_its_span_or_its_request() {
    let h = Harness::start_with(|c| c.max_field_bytes = 10_000);
    let body = serde_json::to_vec(&otlp_body(3, json!("y".repeat(20_000)))).expect("json");
    let answer = post_otlp(&h, &body, false);
    assert_eq!(answer.status, 200);
    let partial = answer.json();
    assert_eq!(partial["partialSuccess"]["rejectedSpans"], "1", "{partial}");
    assert!(
        partial["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("field_too_large"),
        "{partial}"
    );
    let stored = h.get(
        "/events?filters[0][field]=event_type&filters[0][operator]=is%20not\
         &filters[0][value]=session&filters[0][type]=string",
    );
    assert_eq!(
        stored.json()["totalEvents"],
        2,
        "the other spans are stored"
    );

    let answer = h.post_json(
        "/events",
        // Each string under the cap, the field over it.
        &json!({"event": {"event_type": "model", "outputs": {
            "a": "z".repeat(6_000), "b": "z".repeat(6_000)}}}),
    );
    let error = assert_error(&answer, 413, "payload_too_large");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("`outputs`"),
        "{error}"
    );
    let answer = h.put_json(
        "/events",
        &json!({"event_id": "e-1", "metadata": {"a": "n".repeat(6_000), "b": "n".repeat(6_000)}}),
    );
    assert_error(&answer, 413, "payload_too_large");
    // Any JSON body: one string past the cap is refused before parsing.
    let answer = h.post_json(
        "/v1/runs",
        &json!({"name": "r", "metadata": {"blob": "b".repeat(20_000)}}),
    );
    let error = assert_error(&answer, 413, "payload_too_large");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("string of"),
        "{error}"
    );
}

/// A gRPC client that sends raw bytes as the request message.
mod raw_grpc {
    use bytes::{Buf, BufMut, Bytes};
    use tonic::Status;
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

    #[derive(Debug, Clone, Default)]
    pub struct Raw;

    impl Codec for Raw {
        type Encode = Bytes;
        type Decode = Bytes;
        type Encoder = Raw;
        type Decoder = Raw;
        fn encoder(&mut self) -> Raw {
            Raw
        }
        fn decoder(&mut self) -> Raw {
            Raw
        }
    }

    impl Encoder for Raw {
        type Item = Bytes;
        type Error = Status;
        fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put(item);
            Ok(())
        }
    }

    impl Decoder for Raw {
        type Item = Bytes;
        type Error = Status;
        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
            Ok(Some(src.copy_to_bytes(src.remaining())))
        }
    }
}

#[test]
fn grpc_checks_the_key_before_reading_the_message() {
    let h = Harness::start();
    let url = h.server().grpc_url();
    let key = h.key();
    let status = h.rt.block_on(async move {
        let channel = tonic::transport::Endpoint::from_shared(url)
            .expect("url")
            .connect()
            .await
            .expect("connect");
        let mut client = tonic::client::Grpc::new(channel);
        client.ready().await.expect("ready");
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        );
        // Not a protobuf message: decoding it first would fail differently.
        let garbage = bytes::Bytes::from_static(&[0xff; 64]);
        let unauthenticated = client
            .unary(
                tonic::Request::new(garbage.clone()),
                path.clone(),
                raw_grpc::Raw,
            )
            .await
            .expect_err("no key");
        let mut authed = tonic::Request::new(garbage);
        authed.metadata_mut().insert(
            "authorization",
            format!("Bearer {key}").parse().expect("header"),
        );
        client.ready().await.expect("ready");
        let malformed = client
            .unary(authed, path, raw_grpc::Raw)
            .await
            .expect_err("not a message");
        (unauthenticated, malformed)
    });
    let (unauthenticated, malformed) = status;
    assert_eq!(
        unauthenticated.code(),
        tonic::Code::Unauthenticated,
        "{unauthenticated:?}"
    );
    assert!(
        unauthenticated.message().contains("Bearer"),
        "the hint travels: {unauthenticated:?}"
    );
    assert_eq!(
        malformed.code(),
        tonic::Code::InvalidArgument,
        "{malformed:?}"
    );

    // A real export still works and answers in protobuf.
    let request =
        decode_json(&serde_json::to_vec(&otlp_body(2, json!(1))).expect("json")).expect("decode");
    let url = h.server().grpc_url();
    let key = h.key();
    let answer: Result<ExportTraceServiceResponse, tonic::Status> = h.rt.block_on(async move {
        use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
        let mut client = TraceServiceClient::connect(url).await.expect("connect");
        let mut req = tonic::Request::new(ExportTraceServiceRequest::clone(&request));
        req.metadata_mut()
            .insert("authorization", format!("Bearer {key}").parse().expect("header"));
        client.export(req).await.map(|r| r.into_inner())
    });
    assert_eq!(answer.expect("exported").partial_success, None);
}

#[test]
fn reading_an_error_answer_does_not_need_the_whole_body() {
    // A 429 for a body that will never be read still reaches the client.
    let h = Harness::start_with(|c| {
        c.max_body_bytes = 4 * 1024 * 1024;
        c.max_inflight_bytes = 4 * 1024 * 1024;
        c.max_inflight_requests = 1;
    });
    let addr = h.server().server().http_addr();
    let key = h.key();
    let mut holder = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST /events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    holder.write_all(head.as_bytes()).expect("send");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !metric_line(&h, "hh_inflight_requests").is_some_and(|v| v >= 1.0) {
        assert!(std::time::Instant::now() < deadline, "not admitted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut refused = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST /events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    refused.write_all(head.as_bytes()).expect("send");
    let _ = refused.set_read_timeout(Some(Duration::from_secs(20)));
    let mut answer = String::new();
    let _ = refused.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
}
