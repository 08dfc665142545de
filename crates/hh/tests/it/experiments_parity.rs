//! Rust `honeyhive::experiments::evaluate` vs the official Python SDK's `evaluate()`:
//! the same dataset and evaluators against one `hh serve` must give the same
//! datapoint ids, the same per-datapoint metrics and verdicts, and the same `/result`
//! aggregates, so the server cannot tell the two clients' runs apart.
//!
//! The Python side is `tests/python/experiments_parity.py`; its interpreter comes from
//! `honeyhive_testkit::python` (skipped outside CI on a machine without `python3`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::{ServerProcess, TEST_KEY};
use honeyhive::experiments::{Aggregation, Connection, Datapoint, evaluate, evaluator_fn};
use honeyhive_testkit::python;
use serde_json::{Value, json};

/// The Python script's DATASET, as Rust datapoints.
fn dataset() -> Vec<Datapoint> {
    vec![
        Datapoint::new(json!({"question": "abc"})).ground_truth(json!({"answer": "ABC"})),
        Datapoint::new(json!({"question": "hello"})).ground_truth(json!({"answer": "HELLO!"})),
        Datapoint::new(json!({"question": "x"})).ground_truth(json!({"answer": "X"})),
        Datapoint::new(json!({"question": "Größe ✓"}))
            .ground_truth(json!({"answer": "GRÖSSE ✓"}))
            .id("unicode"),
        Datapoint::new(json!({"question": "fail"})).ground_truth(json!({"answer": "FAIL"})),
        Datapoint::new(json!({"question": "nums", "weights": [0.5, 1e-05, 3]})),
    ]
}

fn app(dp: &Datapoint) -> Result<Value, String> {
    let question = dp.inputs["question"].as_str().unwrap_or_default();
    if question == "fail" {
        return Err("cannot answer".into());
    }
    Ok(json!({"answer": question.to_uppercase()}))
}

fn run_rust(server: &ServerProcess) -> String {
    evaluate(app)
        .name("parity-rust")
        .connection(Connection::new(TEST_KEY, server.base_url()).unwrap())
        .dataset(dataset())
        .evaluator(evaluator_fn("exact_match", |out, _, gt| {
            Ok(match gt {
                None => Value::Null,
                Some(gt) => json!(if out["answer"] == gt["answer"] {
                    1.0
                } else {
                    0.0
                }),
            })
        }))
        .evaluator(evaluator_fn("length_check", |out, _, _| {
            let n = out["answer"].as_str().unwrap_or_default().chars().count();
            Ok(json!({"score": n, "explanation": "answer length", "long_enough": n > 2}))
        }))
        .evaluator(evaluator_fn("is_upper", |out, _, _| {
            let answer = out["answer"].as_str().unwrap_or_default();
            Ok(json!(answer == answer.to_uppercase()))
        }))
        .max_concurrency(3)
        .run()
        .expect("rust evaluate")
        .run_id
}

fn run_python(python: &Path, server: &ServerProcess) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/experiments_parity.py");
    let output = Command::new(python)
        .arg(&script)
        .env("HH_API_URL", server.base_url())
        .env("HH_API_KEY", TEST_KEY)
        .env_remove("HH_OTLP_PROTOCOL")
        .env("OTEL_SDK_DISABLED", "false")
        .output()
        .expect("run the parity script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "parity script failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .expect("a json line");
    let parsed: Value = serde_json::from_str(line).expect("json");
    parsed["run_id"].as_str().expect("run_id").to_string()
}

fn result(server: &ServerProcess, run_id: &str, aggregate: Aggregation) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let text = agent
        .get(format!("{}/v1/runs/{run_id}/result", server.base_url()))
        .query("aggregate_function", aggregate.as_str())
        .header("Authorization", format!("Bearer {TEST_KEY}"))
        .call()
        .expect("GET result")
        .body_mut()
        .read_to_string()
        .expect("body");
    serde_json::from_str(&text).expect("json")
}

/// datapoint id → (passed, errored, metric name → value).
type PerDatapoint = BTreeMap<String, (bool, bool, BTreeMap<String, f64>)>;

fn per_datapoint(result: &Value) -> PerDatapoint {
    result["datapoints"]
        .as_array()
        .expect("datapoints")
        .iter()
        .map(|d| {
            let metrics = d["metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let value = match &m["value"] {
                        Value::Bool(b) => f64::from(u8::from(*b)),
                        other => other.as_f64().expect("numeric metric"),
                    };
                    (m["name"].as_str().unwrap().to_string(), value)
                })
                .collect();
            (
                d["datapoint_id"]
                    .as_str()
                    .expect("datapoint id")
                    .to_string(),
                (
                    d["passed"].as_bool().unwrap(),
                    !d["error"].is_null(),
                    metrics,
                ),
            )
        })
        .collect()
}

fn aggregates(result: &Value) -> BTreeMap<String, Option<f64>> {
    result["metrics"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|m| {
            (
                m["metric_name"].as_str().unwrap().to_string(),
                m["aggregate"].as_f64(),
            )
        })
        .collect()
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn rust_and_python_evaluate_are_indistinguishable_on_the_server() {
    let Some(py) = python::interpreter() else {
        return;
    };
    let data = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start(data.path(), "parity");
    let python_run = run_python(&py, &server);
    let rust_run = run_rust(&server);

    for aggregate in [Aggregation::Average, Aggregation::Sum, Aggregation::P90] {
        let py = result(&server, &python_run, aggregate);
        let rs = result(&server, &rust_run, aggregate);
        assert_eq!(sorted(&rs["passed"]), sorted(&py["passed"]), "passed lists");
        assert_eq!(sorted(&rs["failed"]), sorted(&py["failed"]), "failed lists");
        let (py_dps, rs_dps) = (per_datapoint(&py), per_datapoint(&rs));
        assert_eq!(py_dps.len(), 6, "python result: {py}");
        assert_eq!(rs_dps, py_dps, "per-datapoint metrics and verdicts");
        assert_eq!(aggregates(&rs), aggregates(&py), "{aggregate:?} aggregates");
        assert_eq!(rs["success"], py["success"]);
    }

    // Spot checks that the comparison is not vacuous.
    let py = result(&server, &python_run, Aggregation::Average);
    let dps = per_datapoint(&py);
    assert!(dps.contains_key("EXT-unicode"));
    assert!(dps.keys().all(|k| k.starts_with("EXT-")));
    assert_eq!(
        sorted(&py["failed"]).len(),
        2,
        "x (too short) and fail (error) fail: {py}"
    );
    assert!(aggregates(&py).contains_key("length_check_long_enough"));

    // Both runs name the same offline dataset.
    let run = |id: &str| {
        let agent = ureq::Agent::new_with_defaults();
        let text = agent
            .get(format!("{}/v1/runs/{id}", server.base_url()))
            .header("Authorization", format!("Bearer {TEST_KEY}"))
            .call()
            .expect("GET run")
            .body_mut()
            .read_to_string()
            .expect("body");
        let v: Value = serde_json::from_str(&text).expect("json");
        v.get("evaluation").cloned().unwrap_or(v)
    };
    let (py_run, rs_run) = (run(&python_run), run(&rust_run));
    assert_eq!(
        rs_run["metadata"]["offline_dataset_id"],
        py_run["metadata"]["offline_dataset_id"]
    );
    assert_eq!(rs_run["datapoint_ids"], py_run["datapoint_ids"]);
    let status = server.terminate();
    assert!(status.success(), "hh serve exited with {status}");
}
