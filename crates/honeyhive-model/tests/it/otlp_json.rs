//! The lenient OTLP/JSON decoder against what real exporters send.

use honeyhive_model::mapping::map_request;
use honeyhive_model::otlp::{decode_json, gunzip};
use honeyhive_model::{ErrorCode, ErrorCoded, ModelError};
use honeyhive_testkit::otlp::attr;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Value, json};

fn decode_spans(spans: Value) -> Vec<Span> {
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]});
    let request = decode_json(&serde_json::to_vec(&body).unwrap()).expect("decodes");
    request.resource_spans[0].scope_spans[0].spans.clone()
}

const TRACE_HEX: &str = "5b8efff798038103d269b633813fc60c";
const SPAN_HEX: &str = "eee19b7ec3c1b174";

#[test]
fn ids_in_hex_any_case_or_base64() {
    let trace = hex::decode(TRACE_HEX).unwrap();
    let span = hex::decode(SPAN_HEX).unwrap();
    let spans = decode_spans(json!([
        {"traceId": TRACE_HEX.to_uppercase(), "spanId": SPAN_HEX},
        {"traceId": "W47/95gDgQPSabYzgT/GDA==", "spanId": "7uGbfsPBsXQ="},
        {"trace_id": "W47_95gDgQPSabYzgT_GDA", "span_id": "7uGbfsPBsXQ", "parent_span_id": ""}
    ]));
    for decoded in &spans {
        assert_eq!(decoded.trace_id, trace);
        assert_eq!(decoded.span_id, span);
        assert!(decoded.parent_span_id.is_empty());
    }
}

#[test]
fn numbers_enums_and_keys_in_every_spelling() {
    let spans = decode_spans(json!([
        {"traceId": TRACE_HEX, "spanId": SPAN_HEX, "kind": "SPAN_KIND_SERVER",
         "startTimeUnixNano": "1700000000000000001", "endTimeUnixNano": 1_700_000_000_000_000_002u64,
         "status": {"code": "STATUS_CODE_ERROR", "message": "boom"}},
        {"trace_id": TRACE_HEX, "span_id": SPAN_HEX, "kind": 3,
         "start_time_unix_nano": "5", "status": {"code": 1}},
        {"traceId": TRACE_HEX, "spanId": SPAN_HEX, "kind": "client", "status": {"code": "error"},
         "startTimeUnixNano": "not a number"}
    ]));
    assert_eq!(spans[0].kind, 2);
    assert_eq!(spans[0].start_time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(spans[0].end_time_unix_nano, 1_700_000_000_000_000_002);
    assert_eq!(
        spans[0]
            .status
            .as_ref()
            .map(|s| (s.code, s.message.as_str())),
        Some((2, "boom"))
    );
    assert_eq!(spans[1].kind, 3);
    assert_eq!(spans[1].start_time_unix_nano, 5);
    assert_eq!(spans[1].status.as_ref().map(|s| s.code), Some(1));
    assert_eq!(spans[2].kind, 3);
    assert_eq!(spans[2].status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(spans[2].start_time_unix_nano, 0);
}

#[test]
fn attribute_values_in_every_shape() {
    let spans = decode_spans(json!([{
        "traceId": TRACE_HEX, "spanId": SPAN_HEX,
        "attributes": [
            {"key": "int_string", "value": {"intValue": "42"}},
            {"key": "int_number", "value": {"intValue": 42}},
            {"key": "double", "value": {"doubleValue": 0.5}},
            {"key": "double_string", "value": {"doubleValue": "2.5"}},
            {"key": "nan", "value": {"doubleValue": "NaN"}},
            {"key": "inf", "value": {"doubleValue": "-Infinity"}},
            {"key": "bool", "value": {"boolValue": true}},
            {"key": "snake", "value": {"string_value": "s"}},
            {"key": "bytes", "value": {"bytesValue": "AQID"}},
            {"key": "array", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}]}}},
            {"key": "kvlist", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": false}}]}}},
            {"key": "bare", "value": 7},
            {"key": "empty", "value": {}},
            {"key": "missing"},
            {"not_a_key": true},
            "garbage"
        ]
    }]));
    let span = &spans[0];
    assert_eq!(attr(span, "int_string"), Some(&V::IntValue(42)));
    assert_eq!(attr(span, "int_number"), Some(&V::IntValue(42)));
    assert_eq!(attr(span, "double"), Some(&V::DoubleValue(0.5)));
    assert_eq!(attr(span, "double_string"), Some(&V::DoubleValue(2.5)));
    assert!(matches!(attr(span, "nan"), Some(V::DoubleValue(d)) if d.is_nan()));
    assert_eq!(attr(span, "inf"), Some(&V::DoubleValue(f64::NEG_INFINITY)));
    assert_eq!(attr(span, "bool"), Some(&V::BoolValue(true)));
    assert_eq!(attr(span, "snake"), Some(&V::StringValue("s".into())));
    assert_eq!(attr(span, "bytes"), Some(&V::BytesValue(vec![1, 2, 3])));
    assert!(matches!(attr(span, "array"), Some(V::ArrayValue(a)) if a.values.len() == 2));
    assert!(matches!(attr(span, "kvlist"), Some(V::KvlistValue(kv)) if kv.values[0].key == "k"));
    assert_eq!(attr(span, "bare"), Some(&V::IntValue(7)));
    assert_eq!(attr(span, "empty"), None);
    // Entries without a key are skipped; the rest survive.
    assert_eq!(span.attributes.len(), 14);

    // And they map to JSON; NaN/Infinity become strings, not a failure.
    let event = &map_request(&decode_json(&serde_json::to_vec(&json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": TRACE_HEX, "spanId": SPAN_HEX,
        "attributes": [
            {"key": "honeyhive_metrics.nan", "value": {"doubleValue": "NaN"}},
            {"key": "honeyhive_inputs.list", "value": {"arrayValue": {"values": [{"intValue": "1"}]}}},
            {"key": "honeyhive_inputs.kv", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}}
        ]}]}]}]})).unwrap()).unwrap()).events[0];
    assert_eq!(event.metrics["nan"], "NaN");
    assert_eq!(event.inputs["list"], json!([1]));
    assert_eq!(event.inputs["kv"], json!({"k": "v"}));
}

#[test]
fn attributes_given_as_a_plain_object_are_accepted() {
    let spans = decode_spans(json!([{"traceId": TRACE_HEX, "spanId": SPAN_HEX,
        "attributes": {"a": "x", "b": 2.5, "c": {"intValue": "3"}}}]));
    assert_eq!(attr(&spans[0], "a"), Some(&V::StringValue("x".into())));
    assert_eq!(attr(&spans[0], "b"), Some(&V::DoubleValue(2.5)));
    assert_eq!(attr(&spans[0], "c"), Some(&V::IntValue(3)));
}

#[test]
fn legacy_instrumentation_library_spans_are_read() {
    let body = json!({"resource_spans": [{"instrumentationLibrarySpans": [{
        "instrumentationLibrary": {"name": "old"},
        "spans": [{"traceId": TRACE_HEX, "spanId": SPAN_HEX, "name": "legacy"}]}]}]});
    let request = decode_json(&serde_json::to_vec(&body).unwrap()).unwrap();
    let scope = &request.resource_spans[0].scope_spans[0];
    assert_eq!(scope.scope.as_ref().map(|s| s.name.as_str()), Some("old"));
    assert_eq!(scope.spans[0].name, "legacy");
}

#[test]
fn malformed_spans_are_rejected_and_the_rest_mapped() {
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": TRACE_HEX, "spanId": SPAN_HEX, "name": "fine"},
        {"traceId": "not-an-id", "spanId": SPAN_HEX, "name": "bad trace"},
        {"traceId": TRACE_HEX, "spanId": 12345, "name": "bad span"},
        {"traceId": TRACE_HEX, "spanId": "0102030405060708", "parentSpanId": "zz", "name": "bad parent"},
        42,
        {"name": "no ids"}
    ]}]}]});
    let batch = map_request(&decode_json(&serde_json::to_vec(&body).unwrap()).unwrap());
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.events[0].event_name, "fine");
    let reasons: Vec<&str> = batch.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "invalid trace id",
            "invalid span id",
            "invalid parent span id",
            "invalid trace id",
            "invalid trace id"
        ]
    );
}

#[test]
fn only_a_broken_envelope_fails_the_request() {
    for body in [
        &b"not json"[..],
        b"[]",
        b"\"x\"",
        br#"{"resourceSpans": 5}"#,
        b"",
    ] {
        let err = decode_json(body).unwrap_err();
        assert!(matches!(err, ModelError::Json(_)), "{err:?}");
        assert_eq!(err.code(), ErrorCode::BadRequest);
    }
    assert!(decode_json(b"{}").unwrap().resource_spans.is_empty());
    assert!(
        decode_json(br#"{"resourceSpans": null}"#)
            .unwrap()
            .resource_spans
            .is_empty()
    );
}

#[test]
fn gzip_bombs_are_refused_without_inflating_them() {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..16 {
        encoder.write_all(&chunk).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 64 * 1024, "the bomb is small: {}", bomb.len());
    let err = gunzip(&bomb, 1 << 20).unwrap_err();
    assert_eq!(err, ModelError::TooLarge { limit: 1 << 20 });
    assert_eq!(err.code(), ErrorCode::PayloadTooLarge);
    assert_eq!(gunzip(&bomb, 16 << 20).unwrap().len(), 16 << 20);
    assert!(matches!(
        gunzip(b"plain text", 1024),
        Err(ModelError::Gzip(_))
    ));
    // Truncated streams are an error, not a silent short read.
    assert!(matches!(
        gunzip(&bomb[..bomb.len() / 2], 32 << 20),
        Err(ModelError::Gzip(_))
    ));
}
