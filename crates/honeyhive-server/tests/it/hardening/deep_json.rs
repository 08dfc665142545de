//! Deep JSON: dotted keys of thousands of segments and JSON nested to the
//! parsers' limits are stored within `MAX_JSON_DEPTH`, read back whole, keep
//! JSON-path filters working, and never take the server down.
//!
//! On code without the bounds the first two tests overflow a server thread's
//! stack, which aborts this whole test process (the server runs in-process).

use honeyhive_model::limits::{MAX_JSON_DEPTH, MAX_KEY_SEGMENTS, json_depth};
use honeyhive_model::otlp::decode_json;
use prost::Message;
use serde_json::{Value, json};

use crate::common::Harness;

/// The value every deep key or document carries, looked for after the round trip.
const DEEP_VALUE: &str = "deep-value-7d1e";

fn segments(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("s{i}")).collect()
}

/// Where a value stored under `segments` (after `tree_segments` segments of the
/// key that are part of the same rebuilt path) is found: past the segment cap,
/// the rest of the key is one literal key.
fn capped_path(segments: &[String], tree_segments: usize) -> Vec<String> {
    let nested = MAX_KEY_SEGMENTS - tree_segments;
    if segments.len() <= nested {
        return segments.to_vec();
    }
    let mut path = segments[..nested - 1].to_vec();
    path.push(segments[nested - 1..].join("."));
    path
}

fn walk<'v>(mut value: &'v Value, path: &[String]) -> Option<&'v Value> {
    for key in path {
        value = match value {
            Value::Object(map) => map.get(key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// `depth` nested objects around [`DEEP_VALUE`], as JSON text.
fn nested_text(depth: usize) -> String {
    format!(
        "{}\"{DEEP_VALUE}\"{}",
        "{\"k\":".repeat(depth),
        "}".repeat(depth)
    )
}

/// An OTLP/JSON body with one span of string attributes.
fn span_body(trace: &str, span: &str, name: &str, attributes: &[(String, String)]) -> Value {
    let attributes: Vec<Value> = attributes
        .iter()
        .map(|(key, value)| json!({"key": key, "value": {"stringValue": value}}))
        .collect();
    json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": trace, "spanId": span, "name": name,
        "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
        "attributes": attributes
    }]}]}]})
}

fn deep_metadata_attributes(segment_count: usize) -> Vec<(String, String)> {
    vec![
        (
            format!("honeyhive_metadata.{}", segments(segment_count).join(".")),
            DEEP_VALUE.to_owned(),
        ),
        ("honeyhive_metadata.shallow".to_owned(), "kept".to_owned()),
    ]
}

/// Events whose `field` is `value`, through `GET /events` (a 200 is required).
fn events_where(h: &Harness, field: &str, value: &str) -> Vec<Value> {
    let answer = h.get(&format!(
        "/events?filters[0][field]={field}&filters[0][operator]=is&filters[0][value]={value}&filters[0][type]=string"
    ));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()["events"]
        .as_array()
        .expect("an events list")
        .clone()
}

/// The one non-session event named `name` (a span's trace session takes the
/// name of its root span too).
fn the_event_named(h: &Harness, name: &str) -> Value {
    let mut events: Vec<Value> = events_where(h, "event_name", name)
        .into_iter()
        .filter(|e| e["event_type"] != "session")
        .collect();
    assert_eq!(events.len(), 1, "{} events named {name}", events.len());
    events.remove(0)
}

/// Every JSON field of an event read back is within the bound.
fn assert_fields_bounded(event: &Value) {
    for field in [
        "config",
        "inputs",
        "outputs",
        "metadata",
        "metrics",
        "feedback",
        "user_properties",
    ] {
        let depth = json_depth(&event[field]);
        assert!(depth <= MAX_JSON_DEPTH, "{field} is {depth} deep");
    }
}

/// The deep metadata key and its shallow sibling read back where they belong.
fn assert_deep_metadata_kept(event: &Value, segment_count: usize) {
    assert_fields_bounded(event);
    let metadata = &event["metadata"];
    assert_eq!(metadata["shallow"], "kept");
    let path = capped_path(&segments(segment_count), 0);
    assert_eq!(walk(metadata, &path), Some(&json!(DEEP_VALUE)));
}

fn assert_healthy(h: &Harness) {
    assert_eq!(h.get("/healthz").status, 200);
}

#[test]
fn a_two_thousand_segment_key_over_otlp_http_is_stored_and_the_server_keeps_serving() {
    let h = Harness::start();
    let as_json = span_body(
        "0a0000000000000000000000000000a1",
        "0a000000000000a1",
        "deep-json",
        &deep_metadata_attributes(2000),
    );
    let answer = h.post_json("/opentelemetry/v1/traces", &as_json);
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_healthy(&h);

    let as_protobuf = span_body(
        "0a0000000000000000000000000000a2",
        "0a000000000000a2",
        "deep-protobuf",
        &deep_metadata_attributes(2000),
    );
    let request = decode_json(&serde_json::to_vec(&as_protobuf).expect("json")).expect("decodes");
    let answer = h.send(
        "POST",
        "/opentelemetry/v1/traces",
        Some(&h.key()),
        &[("Content-Type", "application/x-protobuf")],
        &request.encode_to_vec(),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_healthy(&h);

    for name in ["deep-json", "deep-protobuf"] {
        assert_deep_metadata_kept(&the_event_named(&h, name), 2000);
    }
}

#[test]
fn a_deep_gen_ai_prompt_key_over_otlp_grpc_is_stored_and_the_server_keeps_serving() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let h = Harness::start();
    let deep = segments(2000);
    let body = span_body(
        "0b0000000000000000000000000000b1",
        "0b000000000000b1",
        "deep-grpc",
        &[
            ("gen_ai.prompt.0.role".to_owned(), "user".to_owned()),
            (
                format!("gen_ai.prompt.0.content.{}", deep.join(".")),
                DEEP_VALUE.to_owned(),
            ),
        ],
    );
    let request = decode_json(&serde_json::to_vec(&body).expect("json")).expect("decodes");
    let (url, key) = (h.server().grpc_url(), h.key());
    let exported = h.rt.block_on(async move {
        let mut client = TraceServiceClient::connect(url).await.expect("connect");
        let mut request = tonic::Request::new(request);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {key}").parse().expect("header"),
        );
        client.export(request).await
    });
    let exported = exported.expect("export accepted").into_inner();
    assert_eq!(exported.partial_success, None);
    assert_healthy(&h);

    let event = the_event_named(&h, "deep-grpc");
    assert_fields_bounded(&event);
    let message = &event["inputs"]["chat_history"][0];
    assert_eq!(message["role"], "user");
    // `0.content.` are the first two segments of the rebuilt path.
    let path = capped_path(&deep, 2);
    assert_eq!(walk(&message["content"], &path), Some(&json!(DEEP_VALUE)));
}

#[test]
fn a_key_150_levels_deep_reads_back_with_its_whole_metadata() {
    let h = Harness::start();
    let body = span_body(
        "0c0000000000000000000000000000c1",
        "0c000000000000c1",
        "deep-150",
        &deep_metadata_attributes(150),
    );
    assert_eq!(h.post_json("/opentelemetry/v1/traces", &body).status, 200);
    let event = the_event_named(&h, "deep-150");
    assert!(
        event["metadata"].as_object().is_some_and(|m| !m.is_empty()),
        "metadata reads back empty"
    );
    assert_deep_metadata_kept(&event, 150);
}

#[test]
fn json_path_filters_keep_working_after_a_key_1100_levels_deep() {
    let h = Harness::start();
    let plain = span_body(
        "0d0000000000000000000000000000d1",
        "0d000000000000d1",
        "filter-plain",
        &[("honeyhive_metadata.x".to_owned(), "plain".to_owned())],
    );
    let mut attributes = deep_metadata_attributes(1100);
    attributes.push(("honeyhive_metadata.x".to_owned(), "deep".to_owned()));
    let deep = span_body(
        "0d0000000000000000000000000000d2",
        "0d000000000000d2",
        "filter-deep",
        &attributes,
    );
    for body in [&plain, &deep] {
        assert_eq!(h.post_json("/opentelemetry/v1/traces", body).status, 200);
    }
    let plain_rows = events_where(&h, "metadata.x", "plain");
    let names: Vec<&Value> = plain_rows.iter().map(|e| &e["event_name"]).collect();
    assert_eq!(names, [&json!("filter-plain")]);
    let deep_rows = events_where(&h, "metadata.x", "deep");
    assert_eq!(deep_rows.len(), 1, "{} rows", deep_rows.len());
    assert_eq!(deep_rows[0]["event_name"], "filter-deep");
    assert_deep_metadata_kept(&deep_rows[0], 1100);
}

/// The deepest object a JSON field may hold as JSON text inside a body (a
/// string is parsed on its own, up to serde_json's limit of 127 levels).
const DEEPEST_PARSEABLE: usize = 127;

/// Asserts that `value` holds [`DEEP_VALUE`] (as a value or inside the text a
/// too-deep subtree was kept as) within the bound.
fn assert_holds_deep_value(value: &Value) {
    assert!(
        json_depth(value) <= MAX_JSON_DEPTH,
        "{} deep",
        json_depth(value)
    );
    let text = serde_json::to_string(value).expect("serializes");
    assert!(text.contains(DEEP_VALUE), "{DEEP_VALUE} missing");
}

#[test]
fn deep_json_through_the_event_api_and_enrichments_reads_back() {
    let h = Harness::start();
    let deep = nested_text(DEEPEST_PARSEABLE);
    let event = json!({"event": {
        "event_id": "6a000000-0000-4000-8000-000000000001",
        "session_id": "6a000000-0000-4000-8000-0000000000aa",
        "event_type": "tool", "event_name": "rest-deep",
        "inputs": deep, "metadata": deep,
    }});
    assert_eq!(h.post_json("/events", &event).status, 200);

    // Enrich the stored event, and park an enrichment for one not stored yet.
    let enrich_stored =
        json!({"event_id": "6a000000-0000-4000-8000-000000000001", "feedback": deep});
    let answer = h.put_json("/events", &enrich_stored);
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let parked_id = "6a000000-0000-4000-8000-000000000002";
    let answer = h.put_json("/events", &json!({"event_id": parked_id, "metadata": deep}));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let arrives = json!({"event": {
        "event_id": parked_id, "session_id": "6a000000-0000-4000-8000-0000000000aa",
        "event_type": "tool", "event_name": "rest-parked",
    }});
    assert_eq!(h.post_json("/events", &arrives).status, 200);

    let parked = the_event_named(&h, "rest-parked");
    assert_holds_deep_value(&parked["metadata"]);
    let stored = the_event_named(&h, "rest-deep");
    assert_fields_bounded(&stored);
    for field in ["inputs", "metadata", "feedback"] {
        assert_holds_deep_value(&stored[field]);
    }

    // A datapoint made from that event holds its inputs one level below the
    // document's root.
    let answer = h.post_json(
        "/v1/datapoints/batch",
        &json!({"events": ["6a000000-0000-4000-8000-000000000001"]}),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let id = answer.json()["insertedIds"][0]
        .as_str()
        .expect("an inserted id")
        .to_owned();
    let answer = h.get(&format!("/v1/datapoints/{id}"));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_holds_deep_value(&answer.json()["datapoint"][0]["inputs"]);
}

#[test]
fn runs_and_datapoints_nested_to_the_body_limit_read_back() {
    let h = Harness::start();
    // One level for the body itself: the deepest body JSON parsing accepts.
    let at_limit = nested_text(DEEPEST_PARSEABLE - 1);
    let run = format!(r#"{{"run_id":"deep-run","name":"deep","metadata":{at_limit}}}"#);
    let answer = h.send(
        "POST",
        "/v1/runs",
        Some(&h.key()),
        &[("Content-Type", "application/json")],
        run.as_bytes(),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let answer = h.get("/v1/runs/deep-run");
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_holds_deep_value(&answer.json()["evaluation"]["metadata"]);

    let datapoint = format!(r#"{{"inputs":{at_limit},"metadata":{at_limit}}}"#);
    let answer = h.send(
        "POST",
        "/v1/datapoints",
        Some(&h.key()),
        &[("Content-Type", "application/json")],
        datapoint.as_bytes(),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let id = answer.json()["result"]["insertedIds"][0]
        .as_str()
        .expect("an inserted id")
        .to_owned();
    let answer = h.get(&format!("/v1/datapoints/{id}"));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let datapoint = &answer.json()["datapoint"][0];
    assert_holds_deep_value(&datapoint["inputs"]);
    assert_holds_deep_value(&datapoint["metadata"]);
}

/// Asserts a `corrupt_data` answer whose message names `names`.
fn assert_corrupt(answer: &crate::common::Answer, names: &[&str]) {
    assert_eq!(
        answer.status,
        500,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let error = &answer.json()["error"];
    assert_eq!(error["code"], "corrupt_data");
    let message = error["message"].as_str().expect("a message");
    for name in names {
        assert!(message.contains(name), "{message:?} does not name {name}");
    }
    assert!(error["hint"].is_string());
}

#[test]
fn stored_json_that_does_not_read_back_is_an_error_naming_the_row() {
    use honeyhive_server::store::sqlite::DB_FILE_NAME;
    let h = Harness::start();
    let event_id = "6b000000-0000-4000-8000-000000000001";
    let event = json!({"event": {
        "event_id": event_id, "event_type": "tool", "event_name": "to-corrupt",
        "metadata": {"a": 1},
    }});
    assert_eq!(h.post_json("/events", &event).status, 200);
    let run = json!({"run_id": "run-to-corrupt", "name": "r"});
    assert_eq!(h.post_json("/v1/runs", &run).status, 200);

    let db = rusqlite::Connection::open(h.server().data_dir().join(DB_FILE_NAME)).expect("open");
    db.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    // Not JSON at all, and JSON nested deeper than a reader accepts (as an
    // earlier version could store): both are errors, never an empty object.
    for metadata in ["{\"broken".to_owned(), nested_text(150)] {
        db.execute(
            "UPDATE events SET metadata = ?1 WHERE event_id = ?2",
            [&metadata, event_id],
        )
        .expect("update");
        let answer = h.get(
            "/events?filters[0][field]=event_name&filters[0][operator]=is&filters[0][value]=to-corrupt&filters[0][type]=string",
        );
        assert_corrupt(&answer, &[event_id, "metadata"]);
    }
    // An event type no version writes is corrupt too, not the default type.
    db.execute(
        "UPDATE events SET metadata = '{}', event_type = 'bogus' WHERE event_id = ?1",
        [event_id],
    )
    .expect("update");
    let answer = h.get(
        "/events?filters[0][field]=event_name&filters[0][operator]=is&filters[0][value]=to-corrupt&filters[0][type]=string",
    );
    assert_corrupt(&answer, &[event_id, "event_type"]);
    db.execute(
        "UPDATE runs SET doc = '{' WHERE run_id = 'run-to-corrupt'",
        [],
    )
    .expect("update");
    assert_corrupt(
        &h.get("/v1/runs/run-to-corrupt"),
        &["run run-to-corrupt", "doc"],
    );
    assert_healthy(&h);
}
