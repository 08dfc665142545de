//! The wire captures of the official Python SDK, `honeyhive==1.7.0` from PyPI: every
//! HTTP request it sent in one scenario, in order, as
//! `{"scenario", "note", "requests": [{"seq", "method", "path", "query", "headers", "body"}]}`
//! (authorization values redacted). Golden tests replay them into the mapping and the
//! server, and compare what the Rust SDK sends with them.
//!
//! ```
//! use honeyhive_testkit::fixtures::Fixture;
//!
//! let first = &Fixture::TracingBasic.requests()[0];
//! assert_eq!(first["path"], "/session/start");
//! ```

use serde_json::Value;

/// One capture; its `note` says what the scenario did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fixture {
    /// `01_tracing_basic.json`: a tracer, nested `@trace` functions with `enrich_span`,
    /// an async model call, a raising function, session enrichment; OTLP/JSON, batched.
    TracingBasic,
    /// `02_evaluate_inline_dataset.json`: `evaluate()` over three inline datapoints
    /// with two evaluators: the run, its sessions, spans and metrics.
    EvaluateInlineDataset,
    /// `03_protobuf_nobatch_multi_tracer.json`: OTLP/protobuf, one export per span, two
    /// tracers; protobuf bodies are given decoded, under `body.otlp_decoded`.
    ProtobufNobatchMultiTracer,
}

impl Fixture {
    /// The capture as it is stored.
    pub fn text(self) -> &'static str {
        match self {
            Fixture::TracingBasic => include_str!("../fixtures/01_tracing_basic.json"),
            Fixture::EvaluateInlineDataset => {
                include_str!("../fixtures/02_evaluate_inline_dataset.json")
            }
            Fixture::ProtobufNobatchMultiTracer => {
                include_str!("../fixtures/03_protobuf_nobatch_multi_tracer.json")
            }
        }
    }

    /// The whole capture.
    pub fn json(self) -> Value {
        serde_json::from_str(self.text()).expect("a fixture is json")
    }

    /// Its requests, in the order they were sent.
    pub fn requests(self) -> Vec<Value> {
        match self.json() {
            Value::Object(mut capture) => match capture.remove("requests") {
                Some(Value::Array(requests)) => requests,
                other => panic!("{self:?}: `requests` is not a list: {other:?}"),
            },
            other => panic!("{self:?}: not an object: {other}"),
        }
    }

    /// The bodies of its OTLP/JSON trace exports (`POST /opentelemetry/v1/traces` with
    /// a `resourceSpans` body), in order.
    pub fn otlp_json_bodies(self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r["path"] == "/opentelemetry/v1/traces" && r["body"].get("resourceSpans").is_some()
            })
            .map(|mut r| r["body"].take())
            .collect()
    }
}
