//! Property tests: no body, however broken, crashes or wedges the server.
//! Every answer is a 2xx or a JSON 4xx, and the server stays healthy.

use crate::common::{Answer, Harness};
use honeyhive_model::otlp::decode_json;
use honeyhive_testkit::fixtures::Fixture;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use prost::Message;
use serde_json::Value;

const OTLP_PATHS: [&str; 2] = ["/v1/traces", "/opentelemetry/v1/traces"];
const JSON_PATHS: [(&str, &str); 7] = [
    ("POST", "/session/start"),
    ("POST", "/events"),
    ("POST", "/events/batch"),
    ("POST", "/events/model"),
    ("POST", "/events/model/batch"),
    ("PUT", "/events"),
    ("POST", "/v1/traces"),
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        prop_oneof![
            Just("session".to_string()),
            Just("model".to_string()),
            Just("{\"event_type\": \"tool\"}".to_string()),
            "[a-z_]{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("session".to_string()),
                        Just("event".to_string()),
                        Just("events".to_string()),
                        Just("model_event".to_string()),
                        Just("model_events".to_string()),
                        Just("event_id".to_string()),
                        Just("event_type".to_string()),
                        Just("session_id".to_string()),
                        Just("is_single_session".to_string()),
                        Just("metadata".to_string()),
                        Just("start_time".to_string()),
                        Just("resourceSpans".to_string()),
                        Just("scopeSpans".to_string()),
                        Just("spans".to_string()),
                        Just("traceId".to_string()),
                        Just("spanId".to_string()),
                        Just("attributes".to_string()),
                        "[a-z]{1,8}",
                    ],
                    inner,
                ),
                0..6,
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn assert_sane(answer: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(
        answer.status < 500,
        "status {} body {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    if answer.status >= 400 {
        let body: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| TestCaseError::fail(format!("error body is not json: {e}")))?;
        prop_assert!(body["error"]["code"].is_string());
    }
    Ok(())
}

#[test]
fn random_bytes_to_otlp_endpoints_never_crash() {
    let h = Harness::start();
    let key = h.key();
    let strategy = (
        0..OTLP_PATHS.len(),
        prop_oneof![Just("application/json"), Just("application/x-protobuf")],
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..1024),
    );
    TestRunner::new(Config {
        cases: 96,
        ..Config::default()
    })
    .run(&strategy, |(path, content_type, gzip, bytes)| {
        let mut headers = vec![("Content-Type", content_type)];
        if gzip {
            headers.push(("Content-Encoding", "gzip"));
        }
        assert_sane(&h.send("POST", OTLP_PATHS[path], Some(&key), &headers, &bytes))
    })
    .expect("no crash");
    assert_eq!(h.send("GET", "/healthz", None, &[], &[]).status, 200);
    assert_eq!(h.send("GET", "/readyz", None, &[], &[]).status, 200);
}

#[test]
fn corrupted_protobuf_exports_never_crash() {
    let h = Harness::start();
    let key = h.key();
    let otlp = Fixture::TracingBasic.otlp_json_bodies().remove(0);
    let valid = decode_json(&serde_json::to_vec(&otlp).expect("json"))
        .expect("decodes")
        .encode_to_vec();
    let len = valid.len();
    let strategy = prop::collection::vec((0..len, any::<u8>()), 1..8);
    TestRunner::new(Config {
        cases: 96,
        ..Config::default()
    })
    .run(&strategy, |flips| {
        let mut body = valid.clone();
        for (at, byte) in flips {
            body[at] = byte;
        }
        assert_sane(&h.send(
            "POST",
            "/v1/traces",
            Some(&key),
            &[("Content-Type", "application/x-protobuf")],
            &body,
        ))
    })
    .expect("no crash");
    assert_eq!(h.send("GET", "/readyz", None, &[], &[]).status, 200);
}

#[test]
fn random_json_to_event_endpoints_never_crash() {
    let h = Harness::start();
    let key = h.key();
    let strategy = (0..JSON_PATHS.len(), json_value());
    TestRunner::new(Config {
        cases: 128,
        ..Config::default()
    })
    .run(&strategy, |(which, value)| {
        let (method, path) = JSON_PATHS[which];
        let bytes = serde_json::to_vec(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_sane(&h.send(
            method,
            path,
            Some(&key),
            &[("Content-Type", "application/json")],
            &bytes,
        ))
    })
    .expect("no crash");
    assert_eq!(h.send("GET", "/readyz", None, &[], &[]).status, 200);
}
