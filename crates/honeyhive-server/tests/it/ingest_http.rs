//! End to end over real HTTP: wire fixtures of the Python client in, session
//! trees out; protobuf + gzip; partial success; idempotency; durability.

use crate::common::{Harness, otlp_spans, span_attr};
use honeyhive_model::otlp::{ExportTraceServiceResponse, decode_json};
use honeyhive_testkit::fixtures::Fixture;
use honeyhive_testkit::otlp::gzip;
use honeyhive_testkit::sessions::tree_nodes;
use prost::Message;
use serde_json::{Value, json};

/// The first OTLP body of fixture 01 and the session its spans name.
fn tracing_fixture() -> (Value, Vec<Value>, String) {
    let requests = Fixture::TracingBasic.requests();
    let otlp = Fixture::TracingBasic.otlp_json_bodies().remove(0);
    let session_id = span_attr(otlp_spans(&otlp)[0], "honeyhive.session_id")
        .expect("spans name their session")
        .to_string();
    (otlp, requests, session_id)
}

#[test]
fn tracing_fixture_replays_into_the_session_tree() {
    let h = Harness::start();
    let (otlp, requests, session_id) = tracing_fixture();
    for request in &requests {
        let answer = h.replay(request);
        assert_eq!(
            answer.status,
            200,
            "{} {}: {}",
            request["method"],
            request["path"],
            String::from_utf8_lossy(&answer.body)
        );
    }

    let tree = h.get(&format!("/v1/sessions/{session_id}"));
    assert_eq!(tree.status, 200);
    let tree = tree.json();
    assert_eq!(tree["event_type"], "session");
    assert_eq!(tree["session_id"], session_id.as_str());

    // The enrichments (sent before the spans existed) were kept and applied.
    let enrich: Vec<&Value> = requests
        .iter()
        .filter(|r| r["method"] == "PUT")
        .map(|r| &r["body"])
        .collect();
    for body in &enrich {
        for field in [
            "metadata",
            "feedback",
            "metrics",
            "outputs",
            "config",
            "user_properties",
        ] {
            for (k, v) in body[field].as_object().into_iter().flatten() {
                assert_eq!(&tree[field][k], v, "session {field}.{k}");
            }
        }
    }

    // Every span became exactly one event of the tree, names and ids intact.
    let spans = otlp_spans(&otlp);
    let nodes = tree_nodes(&tree);
    assert_eq!(nodes.len(), spans.len() + 1, "session + one node per span");
    let mut names: Vec<&str> = nodes[1..]
        .iter()
        .map(|n| n["event_name"].as_str().unwrap_or(""))
        .collect();
    let mut expected: Vec<&str> = spans
        .iter()
        .map(|s| {
            span_attr(s, "honeyhive_event_name")
                .or(s["name"].as_str())
                .unwrap_or("")
        })
        .collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected);

    // A span with a parent hangs under that parent's event, not under the session.
    let child = spans
        .iter()
        .find(|s| s["parentSpanId"].as_str().is_some_and(|p| !p.is_empty()))
        .expect("a nested span");
    let parent = spans
        .iter()
        .find(|s| s["spanId"] == child["parentSpanId"])
        .expect("its parent");
    let parent_node = nodes
        .iter()
        .find(|n| n["event_name"] == parent["name"])
        .expect("parent node");
    let child_names: Vec<&str> = parent_node["children"]
        .as_array()
        .expect("children")
        .iter()
        .filter_map(|c| c["event_name"].as_str())
        .collect();
    assert!(
        child_names.contains(&child["name"].as_str().unwrap_or("?")),
        "{child_names:?}"
    );
    assert_eq!(
        parent_node["children_ids"].as_array().map(Vec::len),
        Some(child_names.len())
    );

    // Roll-ups: counted from the spans themselves.
    let model_spans = spans
        .iter()
        .filter(|s| span_attr(s, "honeyhive_event_type") == Some("model"))
        .count();
    assert_eq!(tree["metadata"]["num_events"], spans.len() as u64);
    assert_eq!(tree["metadata"]["num_model_events"], model_spans as u64);
    assert_eq!(tree["metadata"]["has_feedback"], true);
    for n in &nodes {
        assert!(n["org_id"].is_string() && n["project_id"].is_string());
    }
}

#[test]
fn session_start_answers_what_the_python_client_reads() {
    let h = Harness::start();
    let answer = h.post_json(
        "/session/start",
        &json!({"session": {"session_name": "s1", "source": "dev", "inputs": {"q": "hi"}}}),
    );
    assert_eq!(answer.status, 200);
    let body = answer.json();
    for field in [
        "event_id",
        "session_id",
        "org_id",
        "workspace_id",
        "project_id",
    ] {
        assert!(
            body[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field} in {body}"
        );
    }
    assert_eq!(body["event_id"], body["session_id"]);
    // The spec's form: the session as a JSON string.
    let as_string = h.post_json(
        "/session/start",
        &json!({"session": "{\"session_id\": \"fixed-id\", \"session_name\": \"str\"}"}),
    );
    assert_eq!(as_string.status, 200);
    assert_eq!(as_string.json()["session_id"], "fixed-id");
    let tree = h.get("/v1/sessions/fixed-id").json();
    assert_eq!(tree["event_name"], "str");
    let first = h
        .get(&format!(
            "/v1/sessions/{}",
            body["session_id"].as_str().unwrap_or("")
        ))
        .json();
    assert_eq!(first["inputs"]["q"], "hi");
}

#[test]
fn evaluate_fixture_sessions_carry_metrics_outputs_and_feedback() {
    let h = Harness::start();
    let requests = Fixture::EvaluateInlineDataset.requests();
    let mut puts = Vec::new();
    for request in &requests {
        let path = request["path"].as_str().unwrap_or("");
        // Runs belong to the experiments API; everything else is ingest.
        if path.starts_with("/v1/runs") {
            continue;
        }
        let answer = h.replay(request);
        assert_eq!(
            answer.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        if request["method"] == "PUT" {
            puts.push(&request["body"]);
        }
    }
    assert!(!puts.is_empty());
    for put in puts {
        let session_id = put["event_id"].as_str().expect("event_id");
        let tree = h.get(&format!("/v1/sessions/{session_id}"));
        assert_eq!(tree.status, 200, "session {session_id}");
        let tree = tree.json();
        for field in ["outputs", "feedback", "metrics", "metadata"] {
            for (k, v) in put[field].as_object().into_iter().flatten() {
                assert_eq!(&tree[field][k], v, "{session_id} {field}.{k}");
            }
        }
        assert!(tree_nodes(&tree).len() > 1, "the session has its spans");
    }
}

#[test]
fn protobuf_gzip_export_is_stored_and_answered_in_protobuf() {
    let h = Harness::start();
    let (otlp, _, session_id) = tracing_fixture();
    let request = decode_json(&serde_json::to_vec(&otlp).expect("json")).expect("fixture decodes");
    let body = gzip(&request.encode_to_vec());
    let answer = h.send(
        "POST",
        "/v1/traces",
        Some(&h.key()),
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "gzip"),
        ],
        &body,
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/x-protobuf")
    );
    let response =
        ExportTraceServiceResponse::decode(answer.body.as_slice()).expect("protobuf answer");
    assert_eq!(response.partial_success, None);
    let tree = h.get(&format!("/v1/sessions/{session_id}")).json();
    assert_eq!(tree_nodes(&tree).len(), otlp_spans(&otlp).len() + 1);
}

#[test]
fn bad_spans_are_answered_with_partial_success_and_counted() {
    let h = Harness::start();
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "good", "startTimeUnixNano": "1000000000", "endTimeUnixNano": "2000000000"},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "00", "name": "bad id"}
    ]}]}]});
    let answer = h.post_json("/opentelemetry/v1/traces", &body);
    assert_eq!(answer.status, 200);
    let response = answer.json();
    assert_eq!(response["partialSuccess"]["rejectedSpans"], "1");
    assert!(
        response["partialSuccess"]["errorMessage"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let metrics = String::from_utf8_lossy(&h.get("/metrics").body).to_string();
    assert!(metrics.contains("hh_spans_stored_total 1\n"), "{metrics}");
    assert!(metrics.contains("hh_spans_received_total 2\n"), "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("hh_spans_rejected_total{reason=") && l.ends_with(" 1")),
        "{metrics}"
    );
}

#[test]
fn retried_exports_do_not_duplicate_events() {
    let h = Harness::start();
    let (otlp, _, session_id) = tracing_fixture();
    for _ in 0..3 {
        assert_eq!(h.post_json("/opentelemetry/v1/traces", &otlp).status, 200);
    }
    let tree = h.get(&format!("/v1/sessions/{session_id}")).json();
    assert_eq!(tree_nodes(&tree).len(), otlp_spans(&otlp).len() + 1);
    let metrics = String::from_utf8_lossy(&h.get("/metrics").body).to_string();
    let spans = otlp_spans(&otlp).len();
    assert!(
        metrics.contains(&format!("hh_spans_stored_total {spans}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("hh_spans_duplicate_total {}\n", 2 * spans)),
        "{metrics}"
    );
}

#[test]
fn acknowledged_data_survives_a_restart() {
    let mut h = Harness::start();
    let (otlp, requests, session_id) = tracing_fixture();
    for request in &requests {
        assert_eq!(h.replay(request).status, 200);
    }
    let before = h.get(&format!("/v1/sessions/{session_id}")).json();
    h.restart();
    let after = h.get(&format!("/v1/sessions/{session_id}"));
    assert_eq!(after.status, 200);
    let after = after.json();
    assert_eq!(tree_nodes(&after).len(), otlp_spans(&otlp).len() + 1);
    assert_eq!(
        before, after,
        "the tree reads back identically after a restart"
    );
}

#[test]
fn event_api_creates_events_and_sessions() {
    let h = Harness::start();
    let single = h.post_json("/events", &json!({"event": {"event_type": "tool", "event_name": "lookup", "inputs": {"q": 1}, "session_id": "sess-a"}}));
    assert_eq!(
        single.status,
        200,
        "{}",
        String::from_utf8_lossy(&single.body)
    );
    let single = single.json();
    assert_eq!(single["success"], true);
    let model = h.post_json("/events/model", &json!({"model_event": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "session_id": "sess-a", "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}}));
    assert_eq!(
        model.status,
        200,
        "{}",
        String::from_utf8_lossy(&model.body)
    );

    let tree = h.get("/v1/sessions/sess-a").json();
    let nodes = tree_nodes(&tree);
    assert_eq!(nodes.len(), 3);
    assert!(
        nodes
            .iter()
            .any(|n| n["event_id"] == single["event_id"] && n["inputs"]["q"] == 1)
    );
    let model_node = nodes
        .iter()
        .find(|n| n["event_type"] == "model")
        .expect("model event");
    assert_eq!(model_node["config"]["model"], "gpt-4o");
    assert_eq!(tree["metadata"]["num_model_events"], 1);
    assert_eq!(tree["metadata"]["total_tokens"], 7);

    let batch = h.post_json("/events/batch", &json!({"events": [{"event_type": "chain", "inputs": {}}, {"event_type": "tool", "inputs": {}}], "is_single_session": true, "session_properties": {"session_name": "batched"}}));
    assert_eq!(batch.status, 200);
    let batch = batch.json();
    let batch_session = batch["session_id"].as_str().expect("session id");
    let tree = h.get(&format!("/v1/sessions/{batch_session}")).json();
    assert_eq!(tree["event_name"], "batched");
    assert_eq!(tree["children_ids"].as_array().map(Vec::len), Some(2));

    let model_batch = h.post_json("/events/model/batch", &json!({"model_events": [{"model": "m", "session_id": "sess-b"}, {"model": "m", "session_id": "sess-b"}]}));
    assert_eq!(model_batch.status, 200);
    assert_eq!(
        model_batch.json()["event_ids"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        h.get("/v1/sessions/sess-b").json()["metadata"]["num_model_events"],
        2
    );

    let enrich = h.put_json("/events", &json!({"event_id": single["event_id"], "metrics": {"score": 0.9}, "feedback": {"ok": true}}));
    assert_eq!(enrich.status, 200);
    let tree = h.get("/v1/sessions/sess-a").json();
    let enriched = tree_nodes(&tree)
        .into_iter()
        .find(|n| n["event_id"] == single["event_id"])
        .expect("event")
        .clone();
    assert_eq!(enriched["metrics"]["score"], 0.9);
    assert_eq!(
        enriched["inputs"]["q"], 1,
        "enrichment merges, it does not replace"
    );
}
