//! Golden tests: the wire captures of the official Python SDK 1.7.0 in, events out.
//!
//! Expected values are read off the fixtures by hand (span ids, attributes,
//! timestamps), not copied from the mapper's output.

use crate::common;

use honeyhive_model::mapping::{MappedBatch, event_id_for, map_request};
use honeyhive_model::otlp::{ExportTraceServiceRequest, decode_json, decode_protobuf, encode_json};
use honeyhive_model::rollup::rollup;
use honeyhive_model::{Event, EventType};
use honeyhive_testkit::fixtures::Fixture;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::{Value, json};

const TRACING: Fixture = Fixture::TracingBasic;
const EVALUATE: Fixture = Fixture::EvaluateInlineDataset;
const PROTOBUF: Fixture = Fixture::ProtobufNobatchMultiTracer;

/// A fixture's OTLP/JSON bodies as the bytes a client sends.
fn otlp_json_bodies(fixture: Fixture) -> Vec<Vec<u8>> {
    fixture
        .otlp_json_bodies()
        .iter()
        .map(|body| serde_json::to_vec(body).unwrap())
        .collect()
}

fn map_fixture_json(fixture: Fixture) -> Vec<MappedBatch> {
    otlp_json_bodies(fixture)
        .iter()
        .map(|body| map_request(&decode_json(body).expect("fixture body decodes")))
        .collect()
}

fn find<'a>(events: &'a [Event], name: &str) -> &'a Event {
    events
        .iter()
        .find(|e| e.event_name == name)
        .unwrap_or_else(|| panic!("no event named {name}"))
}

fn id(trace_hex: &str, span_hex: &str) -> String {
    event_id_for(
        &hex::decode(trace_hex).unwrap(),
        &hex::decode(span_hex).unwrap(),
    )
}

fn obj(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// Milliseconds match the fixture's nanoseconds to within the f64 resolution (< 1 µs).
fn assert_ms(actual_ms: f64, expected_nanos: u64) {
    let expected_ms = expected_nanos as f64 / 1e6;
    assert!(
        (actual_ms - expected_ms).abs() < 1e-3,
        "{actual_ms} != {expected_ms}"
    );
}

const SESSION_01: &str = "824a9112-dc59-48ef-bbdb-76d5886ee951";

#[test]
fn tracing_fixture_maps_every_span_with_tree_links() {
    let batches = map_fixture_json(TRACING);
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert!(batch.rejected.is_empty());
    assert_eq!(batch.events.len(), 6);
    for event in &batch.events {
        assert_eq!(event.session_id, SESSION_01);
        assert_eq!(event.source, "wire-test");
    }

    let outer = find(&batch.events, "__main__.outer");
    let add = find(&batch.events, "__main__.add");
    // add is outer's child (parentSpanId 0eb143cee2af7909); outer is a root span.
    assert_eq!(outer.event_id, "33213726-93e4-c51a-0eb1-43cee2af7909");
    assert_eq!(add.event_id, "33213726-93e4-c51a-4582-691c14e9cf2b");
    assert_eq!(add.parent_id.as_deref(), Some(outer.event_id.as_str()));
    assert_eq!(outer.parent_id.as_deref(), Some(SESSION_01));

    assert_eq!(add.event_type, EventType::Tool);
    assert_eq!(add.inputs, obj(json!({"a": 2, "b": 1})));
    assert_eq!(add.outputs, obj(json!({"result": 3})));
    assert_eq!(add.metrics, obj(json!({"score": 1.0})));
    assert_eq!(add.metadata["kind"], "leaf");
    assert_eq!(add.metadata["note"], "inside add");
    assert_eq!(add.duration, 6.925821304321289);
    assert_ms(add.start_time, 1_795_555_627_455_290_128);
    assert_ms(add.end_time, 1_795_555_627_462_226_051);
    assert_eq!(add.error, None);

    assert_eq!(outer.event_type, EventType::Chain);
    assert_eq!(outer.inputs, obj(json!({"x": 2})));
    assert_eq!(outer.outputs, obj(json!({"custom": 3, "result": 6})));
    assert_eq!(outer.config, obj(json!({"temperature": 0.1})));
    assert_eq!(outer.feedback, obj(json!({"liked": true})));
    assert_eq!(outer.user_properties, obj(json!({"uid": "u1"})));
    // An attribute no rule knows is kept in metadata under its full key.
    assert_eq!(outer.metadata["honeyhive_span_config.temperature"], 0.1);

    let model = find(&batch.events, "__main__.async_model");
    assert_eq!(model.event_type, EventType::Model);
    assert_eq!(model.parent_id.as_deref(), Some(SESSION_01));
    assert_eq!(model.config, obj(json!({"model": "fake-1"})));
    assert_eq!(model.inputs, obj(json!({"prompt": "hi"})));
    assert_eq!(model.outputs, obj(json!({"result": {"completion": "HI"}})));
    assert_eq!(model.metrics, obj(json!({"tokens": 3})));

    let plain = find(&batch.events, "__main__.plain");
    assert_eq!(plain.inputs, obj(json!({"s": "abc"})));
    assert_eq!(plain.outputs, obj(json!({"result": "cba"})));

    // boom: no honeyhive_error, only an ERROR status; no honeyhive_duration_ms.
    let boom = find(&batch.events, "__main__.boom");
    assert_eq!(boom.error.as_deref(), Some("ValueError: bad value 7"));
    assert_eq!(boom.inputs, obj(json!({"v": 7})));
    let expected = (1_795_555_627_484_664_273u64 - 1_795_555_627_482_356_863) as f64 / 1e6;
    assert!((boom.duration - expected).abs() < 1e-6, "{}", boom.duration);

    // boom_error: honeyhive_error + honeyhive_error_type.
    let boom_error = find(&batch.events, "boom_error");
    assert_eq!(boom_error.error.as_deref(), Some("ValueError: bad value 7"));
    assert_eq!(boom_error.event_type, EventType::Tool);
    assert_eq!(boom_error.duration, 2.655029296875);

    assert_eq!(batch.sessions.len(), 1);
    let session = &batch.sessions[0];
    assert_eq!(session.session_id, SESSION_01);
    assert_eq!(session.project.as_deref(), Some("wire-capture"));
    assert_eq!(session.source.as_deref(), Some("wire-test"));
    assert_eq!(session.session_name, None);
    assert_ms(session.start_time, 1_795_555_627_454_759_800);
    assert_ms(session.end_time, 1_795_555_627_485_601_226);
    assert_eq!(session.user_properties, obj(json!({"uid": "u1"})));

    let totals = rollup(&batch.events);
    assert_eq!((totals.num_events, totals.num_model_events), (6, 1));
    assert!(totals.has_feedback);
}

#[test]
fn mapping_is_deterministic_so_retries_upsert() {
    let body = &otlp_json_bodies(TRACING)[0];
    let first = map_request(&decode_json(body).unwrap());
    let second = map_request(&decode_json(body).unwrap());
    assert_eq!(first, second);
}

#[test]
fn evaluate_fixture_maps_sessions_metrics_and_json_strings() {
    let batches = map_fixture_json(EVALUATE);
    assert_eq!(batches.len(), 4);
    assert!(batches.iter().all(|b| b.rejected.is_empty()));
    let first = &batches[0];
    assert_eq!(first.events.len(), 3);

    let app = find(&first.events, "app");
    let helper = find(&first.events, "__main__.helper");
    let evaluation = find(&first.events, "Evaluation");
    let session = "981d965c-7448-4a88-8c7e-bd294364c059";

    assert_eq!(
        app.event_id,
        id("58e6622478ae21430e4e99574f9dd70f", "66d8082f120ce9c9")
    );
    assert_eq!(app.parent_id.as_deref(), Some(session));
    assert_eq!(helper.parent_id.as_deref(), Some(app.event_id.as_str()));
    // The evaluator span is its own trace but names the same session.
    assert_eq!(evaluation.parent_id.as_deref(), Some(session));
    for event in &first.events {
        assert_eq!(event.session_id, session);
        assert_eq!(event.source, "evaluation");
    }

    assert_eq!(app.event_type, EventType::Chain);
    assert_eq!(
        app.inputs,
        obj(json!({"dp": {"inputs": {"question": "abc"}, "ground_truth": {"answer": "ABC"}}}))
    );
    assert_eq!(app.outputs, obj(json!({"result": {"answer": "ABC"}})));
    assert_eq!(
        app.metrics,
        obj(json!({
            "exact_match": 1.0,
            "length_check": 3,
            "length_check_explanation": "answer length",
            "length_check_long_enough": true
        }))
    );
    assert_eq!(
        app.metadata["run_id"],
        "334e9c25-be2a-46ea-8760-fa2da159c889"
    );
    assert_eq!(app.metadata["datapoint_id"], "EXT-c526555695cbd730");
    assert_eq!(app.metadata["dataset_id"], "EXT-9151de35db353598");

    assert_eq!(helper.event_type, EventType::Tool);
    assert_eq!(helper.inputs, obj(json!({"q": "abc"})));
    assert_eq!(helper.outputs, obj(json!({"result": "ABC"})));

    assert_eq!(evaluation.event_type, EventType::Chain);
    // A Python repr is not JSON: it stays a string; "{}" is JSON: it is parsed.
    assert_eq!(
        evaluation.inputs["call_args"],
        "({'answer': 'ABC'}, {'question': 'abc'}, {'answer': 'ABC'})"
    );
    assert_eq!(evaluation.inputs["call_kwargs"], json!({}));
    assert_eq!(evaluation.inputs["score"], 1.0);
    assert_eq!(
        evaluation.metadata["func_args"],
        json!([{"answer": "ABC"}, {"question": "abc"}, {"answer": "ABC"}])
    );
    assert!(
        evaluation.config["final_settings"]
            .as_str()
            .unwrap()
            .starts_with("{\n    name: exact_match")
    );
    assert_eq!(evaluation.outputs["result"][1], json!([1.0]));

    // Second datapoint: exact_match failed.
    let second_app = find(&batches[1].events, "app");
    assert_eq!(
        second_app.session_id,
        "f2c82c7a-e73d-427b-9fb4-3e3f88b096fe"
    );
    assert_eq!(second_app.metrics["exact_match"], 0.0);
    assert_eq!(second_app.metrics["length_check"], 5);
    let third_app = find(&batches[2].events, "app");
    assert_eq!(third_app.metrics["length_check_long_enough"], false);

    // The late export carries two evaluator spans, both naming the first session.
    assert_eq!(batches[3].events.len(), 2);
    assert_eq!(batches[3].sessions.len(), 1);
    assert_eq!(batches[3].sessions[0].session_id, session);
}

/// Rebuilds the protobuf request of fixture 03 from its decoded form
/// (`otlp_decoded`: attributes as a JSON map, ids as hex).
fn protobuf_request(decoded: &Value) -> ExportTraceServiceRequest {
    let resource_spans = decoded
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| ResourceSpans {
            resource: Some(Resource {
                attributes: common::attributes(&rs["resource"]),
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: rs["scope"]["name"].as_str().unwrap().into(),
                    ..InstrumentationScope::default()
                }),
                spans: rs["spans"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(protobuf_span)
                    .collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

fn protobuf_span(span: &Value) -> Span {
    let hex_id = |key: &str| {
        span[key]
            .as_str()
            .map(|s| hex::decode(s).unwrap())
            .unwrap_or_default()
    };
    let nanos = |key: &str| span[key].as_str().unwrap().parse().unwrap();
    assert_eq!(span["kind"], "SPAN_KIND_INTERNAL");
    Span {
        trace_id: hex_id("traceId"),
        span_id: hex_id("spanId"),
        parent_span_id: hex_id("parentSpanId"),
        name: span["name"].as_str().unwrap().into(),
        kind: 1,
        start_time_unix_nano: nanos("startTimeUnixNano"),
        end_time_unix_nano: nanos("endTimeUnixNano"),
        attributes: common::attributes(&span["attributes"]),
        status: Some(Status::default()),
        ..Span::default()
    }
}

#[test]
fn protobuf_fixture_maps_through_decode_protobuf() {
    let events: Vec<Event> = PROTOBUF
        .requests()
        .iter()
        .filter(|r| r["path"] == "/opentelemetry/v1/traces")
        .flat_map(|r| {
            let bytes = protobuf_request(&r["body"]["otlp_decoded"]).encode_to_vec();
            let batch = map_request(&decode_protobuf(&bytes).expect("protobuf decodes"));
            assert!(batch.rejected.is_empty());
            batch.events
        })
        .collect();
    assert_eq!(events.len(), 3);

    let llm = find(&events, "llm_call");
    assert_eq!(llm.event_type, EventType::Model);
    assert_eq!(llm.session_id, "bb3d1768-f85f-4063-9a0f-741834922f0c");
    assert_eq!(llm.source, "pb");
    assert_eq!(
        llm.event_id,
        id("b7cb09d613373e36f9d1929092123816", "ce0c67e82da11cc4")
    );
    assert_eq!(
        llm.parent_id.as_deref(),
        Some("bb3d1768-f85f-4063-9a0f-741834922f0c")
    );
    assert_eq!(llm.inputs, obj(json!({"prompt": "p", "explicit": "in"})));
    assert_eq!(llm.outputs, obj(json!({"result": "ok:p"})));
    assert_eq!(llm.metadata["m"], 1);
    assert_eq!(llm.duration, 0.9491443634033203);
    assert_eq!(llm.error, None);

    // The second tracer: another session and source.
    let tool = find(&events, "__main__.tool_b");
    assert_eq!(tool.session_id, "0b024d8c-5a3a-4d11-9c55-3ad3bd4170d5");
    assert_eq!(tool.source, "pb2");
    assert_eq!(tool.event_type, EventType::Tool);
    assert_eq!(tool.inputs, obj(json!({"x": 1})));
    // A returned list, flattened as result.0 / result.1, is a list again.
    assert_eq!(tool.outputs, obj(json!({"result": [1, 1]})));
    assert_eq!(tool.metadata["where"], "b");

    let run = find(&events, "Svc.run");
    assert_eq!(run.session_id, tool.session_id);
    assert_eq!(run.inputs, obj(json!({"v": 2})));
    assert_eq!(run.outputs, obj(json!({"result": 6})));
}

#[test]
fn fixture_requests_round_trip_through_encode_json_and_protobuf() {
    for fixture in [TRACING, EVALUATE] {
        for body in otlp_json_bodies(fixture) {
            let request = decode_json(&body).unwrap();
            assert_eq!(decode_json(&encode_json(&request)).unwrap(), request);
            assert_eq!(decode_protobuf(&request.encode_to_vec()).unwrap(), request);
        }
    }
}
