//! Error statuses and bodies, tenancy, ops endpoints, OTLP/gRPC.

use crate::common::{Answer, Harness};
use honeyhive_model::otlp::decode_json;
use honeyhive_testkit::sessions::tree_nodes;
use serde_json::{Value, json};

fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(
        answer.status,
        status,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let body = answer.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

fn one_span_body(trace: &str, span: &str, session: &str) -> Value {
    json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": trace, "spanId": span, "name": "op",
        "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
        "attributes": [{"key": "honeyhive.session_id", "value": {"stringValue": session}}]
    }]}]}]})
}

#[test]
fn missing_or_unknown_keys_get_401() {
    let h = Harness::start();
    let body = serde_json::to_vec(&json!({"session": {}})).expect("json");
    let none = h.send(
        "POST",
        "/session/start",
        None,
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_error(&none, 401, "unauthenticated");
    let wrong = h.send(
        "POST",
        "/session/start",
        Some("hh_not_a_key"),
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_error(&wrong, 401, "unauthenticated");
    assert_error(&h.get_as("nope", "/v1/sessions/x"), 401, "unauthenticated");
    let otlp = h.send(
        "POST",
        "/v1/traces",
        None,
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_error(&otlp, 401, "unauthenticated");
}

#[test]
fn bodies_over_the_limit_get_413() {
    let h = Harness::start_with(|c| c.max_body_bytes = 1024);
    let big = json!({"resourceSpans": [], "pad": "x".repeat(4096)});
    assert_error(&h.post_json("/v1/traces", &big), 413, "payload_too_large");
    assert_error(
        &h.post_json(
            "/events",
            &json!({"event": {"event_type": "tool", "pad": "x".repeat(4096)}}),
        ),
        413,
        "payload_too_large",
    );
    // Under the limit still works.
    assert_eq!(
        h.post_json("/v1/traces", &json!({"resourceSpans": []}))
            .status,
        200
    );
}

#[test]
fn wrong_content_types_and_encodings_get_415() {
    let h = Harness::start();
    let key = h.key();
    let html = h.send(
        "POST",
        "/v1/traces",
        Some(&key),
        &[("Content-Type", "text/html")],
        b"<p>",
    );
    assert_error(&html, 415, "unsupported_media_type");
    let none = h.send("POST", "/opentelemetry/v1/traces", Some(&key), &[], b"{}");
    assert_error(&none, 415, "unsupported_media_type");
    let brotli = h.send(
        "POST",
        "/v1/traces",
        Some(&key),
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "br"),
        ],
        b"{}",
    );
    assert_error(&brotli, 415, "unsupported_media_type");
    let proto_to_json_api = h.send(
        "POST",
        "/events",
        Some(&key),
        &[("Content-Type", "application/x-protobuf")],
        b"\x0a\x00",
    );
    assert_error(&proto_to_json_api, 415, "unsupported_media_type");
}

#[test]
fn malformed_bodies_get_400() {
    let h = Harness::start();
    let key = h.key();
    let json_header = [("Content-Type", "application/json")];
    assert_error(
        &h.send("POST", "/v1/traces", Some(&key), &json_header, b"{not json"),
        400,
        "bad_request",
    );
    let proto = h.send(
        "POST",
        "/v1/traces",
        Some(&key),
        &[("Content-Type", "application/x-protobuf")],
        &[0xff, 0xff, 0xff, 0xff],
    );
    assert_error(&proto, 400, "bad_request");
    let bad_gzip = h.send(
        "POST",
        "/v1/traces",
        Some(&key),
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        b"not gzip",
    );
    assert_error(&bad_gzip, 400, "bad_request");
    assert_error(
        &h.send("POST", "/session/start", Some(&key), &json_header, b"[1,2"),
        400,
        "bad_request",
    );
    assert_error(
        &h.post_json("/events", &json!({"event": {"event_type": "llm"}})),
        400,
        "bad_request",
    );
    assert_error(
        &h.put_json("/events", &json!({"metadata": {}})),
        400,
        "bad_request",
    );
}

#[test]
fn unknown_sessions_and_routes_get_404() {
    let h = Harness::start();
    assert_error(&h.get("/v1/sessions/does-not-exist"), 404, "not_found");
    assert_error(&h.get("/no/such/route"), 404, "not_found");
}

#[test]
fn over_budget_requests_get_429_with_retry_after_and_are_not_stored() {
    let h = Harness::start_with(|c| {
        c.max_inflight_requests = 0;
        c.retry_after_secs = 3;
    });
    let answer = h.post_json(
        "/v1/traces",
        &one_span_body(
            "5b8efff798038103d269b633813fc60c",
            "eee19b7ec3c1b174",
            "over-budget",
        ),
    );
    assert_error(&answer, 429, "over_budget");
    assert_eq!(answer.header("retry-after"), Some("3"));
    assert_error(&h.get("/v1/sessions/over-budget"), 404, "not_found");
    let metrics = String::from_utf8_lossy(&h.get("/metrics").body).to_string();
    assert!(
        metrics.contains("hh_requests_over_budget_total 1\n"),
        "{metrics}"
    );
}

#[test]
fn projects_never_see_each_others_rows() {
    let h = Harness::start();
    let key_a = h.key();
    let key_b = h.server().create_project_key("project-b");
    let body = one_span_body(
        "11111111111111111111111111111111",
        "2222222222222222",
        "shared-session",
    );
    assert_eq!(h.post_json_as(&key_a, "/v1/traces", &body).status, 200);
    assert_error(
        &h.get_as(&key_b, "/v1/sessions/shared-session"),
        404,
        "not_found",
    );

    // B writes the very same ids: its own rows, A's untouched.
    let mut body_b = body.clone();
    body_b["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] = json!("b-op");
    assert_eq!(h.post_json_as(&key_b, "/v1/traces", &body_b).status, 200);
    let tree_a = h.get_as(&key_a, "/v1/sessions/shared-session").json();
    let tree_b = h.get_as(&key_b, "/v1/sessions/shared-session").json();
    assert_eq!(tree_nodes(&tree_a)[1]["event_name"], "op");
    assert_eq!(tree_nodes(&tree_b)[1]["event_name"], "b-op");
    assert_ne!(tree_a["project_id"], tree_b["project_id"]);

    // Enriching across projects does not reach the other project's event.
    let event_id = tree_nodes(&tree_a)[1]["event_id"].clone();
    let put = serde_json::to_vec(&json!({"event_id": event_id, "metadata": {"from_b": true}}))
        .expect("json");
    assert_eq!(
        h.send(
            "PUT",
            "/events",
            Some(&key_b),
            &[("Content-Type", "application/json")],
            &put
        )
        .status,
        200
    );
    let tree_a = h.get_as(&key_a, "/v1/sessions/shared-session").json();
    assert!(tree_nodes(&tree_a)[1]["metadata"].get("from_b").is_none());
}

#[test]
fn ops_endpoints_answer() {
    let h = Harness::start();
    let health = h.send("GET", "/healthz", None, &[], &[]);
    assert_eq!(health.status, 200);
    let ready = h.send("GET", "/readyz", None, &[], &[]);
    assert_eq!(ready.status, 200);
    let openapi = h.send("GET", "/openapi.json", None, &[], &[]);
    assert_eq!(openapi.status, 200);
    assert!(openapi.json()["paths"]["/session/start"].is_object());
    assert_eq!(
        h.post_json("/v1/traces", &json!({"resourceSpans": []}))
            .status,
        200
    );
    let metrics = h.send("GET", "/metrics", None, &[], &[]);
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    for name in [
        "hh_spans_received_total",
        "hh_store_queue_depth",
        "hh_store_commit_seconds_sum",
        "hh_http_request_duration_seconds_count{route=\"/v1/traces\",status=\"2xx\"} 1",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
}

#[test]
fn grpc_export_is_authenticated_and_stored() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let h = Harness::start();
    let url = h.server().grpc_url();
    let key = h.key();
    let body = one_span_body(
        "33333333333333333333333333333333",
        "4444444444444444",
        "grpc-session",
    );
    let request = decode_json(&serde_json::to_vec(&body).expect("json")).expect("decodes");
    let (ok, unauthenticated) = h.rt.block_on(async move {
        let mut client = TraceServiceClient::connect(url).await.expect("connect");
        let mut authed = tonic::Request::new(request.clone());
        authed.metadata_mut().insert(
            "authorization",
            format!("Bearer {key}").parse().expect("header"),
        );
        let ok = client.export(authed).await;
        let unauthenticated = client.export(tonic::Request::new(request)).await;
        (ok, unauthenticated)
    });
    let ok = ok.expect("export accepted").into_inner();
    assert_eq!(ok.partial_success, None);
    let status = unauthenticated.expect_err("no key is refused");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let tree = h.get("/v1/sessions/grpc-session");
    assert_eq!(tree.status, 200);
    assert_eq!(tree_nodes(&tree.json()).len(), 2);
}
