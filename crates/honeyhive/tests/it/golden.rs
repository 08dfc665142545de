//! Golden test: the fixture-01 scenario of the official Python SDK, replayed with
//! `#[trace]`, must produce spans with the fixture's attribute keys and value types.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{TRACES, builder, server, spans, value_type};
use honeyhive::export::Protocol;
use honeyhive::{Enrichment, enrich_span, trace};
use honeyhive_testkit::fixtures::Fixture;
use rusty_fork::rusty_fork_test;
use serde_json::json;

#[derive(Debug)]
struct ValueError(String);

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[trace(event_type = "tool")]
fn add(a: i64, b: i64) -> i64 {
    enrich_span(
        Enrichment::new()
            .metadata(json!({"kind": "leaf", "note": "inside add"}))
            .metrics(json!({"score": 1.0})),
    );
    a + b
}

#[trace(event_type = "chain", config = json!({"temperature": 0.1}))]
fn outer(x: i64) -> i64 {
    enrich_span(
        Enrichment::new()
            .feedback(json!({"liked": true}))
            .outputs(json!({"custom": 3}))
            .user_properties(json!({"uid": "u1"})),
    );
    add(x, 1) + 3
}

#[trace(event_type = "model")]
async fn async_model(prompt: String) -> serde_json::Value {
    enrich_span(
        Enrichment::new()
            .metrics(json!({"tokens": 3}))
            .config(json!({"model": "fake-1"})),
    );
    json!({"completion": prompt.to_uppercase()})
}

#[trace]
fn plain(s: &str) -> String {
    s.chars().rev().collect()
}

#[trace]
fn boom(v: i64) -> Result<i64, ValueError> {
    Err(ValueError(format!("bad value {v}")))
}

#[trace]
fn boom_error() -> Result<(), ValueError> {
    Err(ValueError("bad value 7".into()))
}

/// `name → {key → value type}` for every span of the fixture.
fn fixture_spans() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for body in Fixture::TracingBasic.otlp_json_bodies() {
        for rs in body["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for span in ss["spans"].as_array().unwrap() {
                    let name = span["name"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("__main__.")
                        .to_owned();
                    let attrs = span["attributes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|kv| {
                            let ty = kv["value"]
                                .as_object()
                                .unwrap()
                                .keys()
                                .next()
                                .unwrap()
                                .clone();
                            (kv["key"].as_str().unwrap().to_owned(), ty)
                        })
                        .collect();
                    out.insert(name, attrs);
                }
            }
        }
    }
    out
}

/// Keys we emit beyond the Python SDK, on purpose: Rust records the error and the
/// duration on a function that returned `Err` (Python loses both when an exception
/// escapes), and always mirrors the event type into metadata.
fn allowed_extras(span: &str) -> &'static [&'static str] {
    match span {
        "boom" => &[
            "honeyhive_error",
            "honeyhive_error_type",
            "honeyhive_duration_ms",
        ],
        "boom_error" => &["honeyhive_metadata.event_type"],
        _ => &[],
    }
}

fn run_scenario(protocol: Protocol) {
    let server = server();
    let tracer = builder(&server.url())
        .project("wire-capture")
        .source("wire-test")
        .session_name("scenario-tracing")
        .protocol(protocol)
        .build()
        .unwrap();
    honeyhive::set_default_tracer(&tracer);

    assert_eq!(outer(2), 6);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(
        runtime.block_on(async_model("hi".into())),
        json!({"completion": "HI"})
    );
    assert_eq!(plain("abc"), "cba");
    assert!(boom(7).is_err());
    assert!(boom_error().is_err());
    tracer.enrich_session(
        Enrichment::new()
            .metadata(json!({"run": "wire"}))
            .feedback(json!({"rating": 5}))
            .metrics(json!({"m": 0.5}))
            .outputs(json!({"final": "done"}))
            .config(json!({"cfg": 1}))
            .user_properties(json!({"user": "alice"})),
    );
    let report = tracer.flush(Duration::from_secs(10)).unwrap();
    honeyhive::clear_default_tracer();
    assert_eq!(report.spans_sent, 6);
    assert_eq!(report.dropped.total(), 0);

    let expected = fixture_spans();
    let spans = spans(&server);
    assert_eq!(spans.len(), expected.len());
    for span in &spans {
        let want = expected
            .get(&span.name)
            .unwrap_or_else(|| panic!("unexpected span {}", span.name));
        let got: BTreeMap<String, String> = span
            .attributes
            .iter()
            .map(|kv| {
                (
                    kv.key.clone(),
                    value_type(kv.value.as_ref().unwrap()).to_owned(),
                )
            })
            .collect();
        for (key, ty) in want {
            assert_eq!(
                got.get(key),
                Some(ty),
                "span {} attribute {key} ({protocol:?})",
                span.name
            );
        }
        for key in got.keys() {
            assert!(
                want.contains_key(key) || allowed_extras(&span.name).contains(&key.as_str()),
                "span {} has unexpected attribute {key}",
                span.name
            );
        }
    }
    // Nesting: add is a child of outer in the same trace; errors carry status ERROR.
    let by_name = |n: &str| spans.iter().find(|s| s.name == n).unwrap();
    assert_eq!(by_name("add").parent_span_id, by_name("outer").span_id);
    assert_eq!(by_name("add").trace_id, by_name("outer").trace_id);
    let status = by_name("boom").status.clone().unwrap();
    assert_eq!(status.code, 2);
    assert_eq!(status.message, "ValueError: bad value 7");

    let starts = server.requests_to("/session/start");
    assert_eq!(starts.len(), 1);
    let session = &starts[0].json()["session"];
    assert_eq!(session["session_name"], "scenario-tracing");
    assert_eq!(session["source"], "wire-test");
    assert_eq!(session["project"], "wire-capture");
    assert_eq!(session["session_id"], tracer.session_id());
    let updates = server.requests_to("/events");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].method, "PUT");
    assert_eq!(
        updates[0].json(),
        json!({"event_id": tracer.session_id(), "metadata": {"run": "wire"}, "feedback": {"rating": 5},
               "metrics": {"m": 0.5}, "outputs": {"final": "done"}, "config": {"cfg": 1},
               "user_properties": {"user": "alice"}})
    );
    let export = &server.requests_to(TRACES)[0];
    assert_eq!(export.header("authorization"), Some("Bearer test-key"));
    assert_eq!(export.header("x-source"), Some("wire-test"));
    assert_eq!(export.header("hh-client-language"), Some("rust"));
    assert!(export.header("hh-client-version").is_some());
    let content_type = match protocol {
        Protocol::HttpProtobuf => "application/x-protobuf",
        _ => "application/json",
    };
    assert_eq!(export.header("content-type"), Some(content_type));
}

rusty_fork_test! {
    // One test, in a process of its own: both runs set the process-wide default
    // tracer, which the binary's other tests must not see.
    #[test]
    fn fixture_01_scenario_matches_python_keys_and_types_over_protobuf_and_json() {
        run_scenario(Protocol::HttpProtobuf);
        run_scenario(Protocol::HttpJson);
    }
}
