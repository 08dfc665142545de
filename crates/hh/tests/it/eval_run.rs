//! `hh eval run` as a user runs it: the real binary, a real `hh serve`, and the
//! function under test as a shell command or as an HTTP endpoint.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::common::{ServerProcess, TEST_KEY};
use honeyhive_testkit::http::{Reply, ScriptedServer};
use serde_json::{Value, json};

/// Four datapoints: two the uppercasing app gets right, one it gets wrong
/// (`x` → `X`, expected `Y`), one that makes it fail (`boom`). Pass rate 50%.
const DATASET: &str = r#"{"inputs": {"question": "abc"}, "ground_truth": "ABC"}
{"inputs": {"question": "hello"}, "ground_truth": "HELLO"}
{"inputs": {"question": "x"}, "ground_truth": "Y"}
{"inputs": {"question": "boom"}, "ground_truth": "BOOM"}
"#;

/// Uppercases `question` and prints it as a JSON string; fails on `boom`.
const SHELL_APP: &str = r#"input=$(cat); case "$input" in *boom*) echo exploded >&2; exit 3;; esac; printf '%s' "$input" | sed 's/.*"question": *"\([^"]*\)".*/"\1"/' | tr a-z A-Z"#;

fn write_experiment(dir: &Path, file: &str, function: &str, min_pass_rate: f64) -> String {
    std::fs::write(dir.join("data.jsonl"), DATASET).expect("dataset");
    let text = format!(
        r#"name = "{file}"
dataset = "data.jsonl"
concurrency = 2
aggregate = "average"
min_pass_rate = {min_pass_rate}

[function]
{function}
timeout_secs = 30

[[evaluators]]
metric = "exact_match"

[[evaluators]]
metric = "token_f1"
pass_at_least = 0.5

[[evaluators]]
composite = "quality"
combine = "min"
children = [{{ metric = "levenshtein" }}, {{ metric = "exact_match", name = "strict" }}]
"#
    );
    let path = dir.join(format!("{file}.toml"));
    std::fs::write(&path, text).expect("experiment file");
    path.to_string_lossy().into_owned()
}

fn hh_eval_run(server: &ServerProcess, experiment: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hh"))
        .args(["eval", "run", experiment, "--quiet"])
        .args(extra)
        .env("HH_API_URL", server.base_url())
        .env("HH_API_KEY", TEST_KEY)
        .output()
        .expect("run hh eval run")
}

/// The run id from the result table's first line: `run      <name> (<id>)`.
fn run_id(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("run "))
        .and_then(|l| l.rsplit_once('('))
        .map(|(_, id)| id.trim_end_matches(')').to_string())
        .unwrap_or_else(|| panic!("no run line in {stdout}"))
}

fn get(server: &ServerProcess, path: &str) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    agent
        .get(format!("{}{path}", server.base_url()))
        .header("Authorization", format!("Bearer {TEST_KEY}"))
        .call()
        .expect("GET")
        .body_mut()
        .read_json()
        .expect("json")
}

fn text(output: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Checks what the server stored for a run of [`DATASET`].
fn check_stored_run(server: &ServerProcess, id: &str) {
    let result = get(server, &format!("/v1/runs/{id}/result"));
    assert_eq!(result["status"], "completed", "{result:#}");
    assert_eq!(
        result["passed"].as_array().map(Vec::len),
        Some(2),
        "{result:#}"
    );
    assert_eq!(
        result["failed"].as_array().map(Vec::len),
        Some(2),
        "{result:#}"
    );
    let exact = &result["metrics"]["details"]
        .as_array()
        .and_then(|d| d.iter().find(|m| m["metric_name"] == "exact_match"))
        .cloned()
        .unwrap_or_else(|| panic!("no exact_match in {result:#}"));
    // Three datapoints were scored (the failing one has no output): 1, 1, 0.
    let aggregate = exact["aggregate"].as_f64().expect("aggregate");
    assert!((aggregate - 2.0 / 3.0).abs() < 1e-9, "{exact:#}");
}

#[test]
fn a_command_function_runs_gates_on_the_pass_rate_and_compares() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(&data.path().join("store"), "eval-run");
    let function = format!("command = '''{SHELL_APP}'''");

    let lenient = write_experiment(data.path(), "lenient", &function, 0.5);
    let output = hh_eval_run(&server, &lenient, &[]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("2/4 passed (50.0%)"), "{out}");
    assert!(out.contains("1 function errors"), "{out}");
    assert!(
        out.contains("exited with"),
        "the failing datapoint's error is listed: {out}"
    );
    assert!(out.contains("slowest datapoints"), "{out}");
    assert!(out.contains("OK: pass rate 50.0%"), "{out}");
    let first = run_id(&String::from_utf8_lossy(&output.stdout));
    check_stored_run(&server, &first);

    let strict = write_experiment(data.path(), "strict", &function, 0.75);
    let output = hh_eval_run(&server, &strict, &["--compare", &first]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL: pass rate 50.0% is under the required 75.0%"),
        "{out}"
    );
    assert!(out.contains(&format!("(new) vs {first} (old)")), "{out}");
    let comparison_row = out
        .lines()
        .skip_while(|l| !l.starts_with("comparison"))
        .find(|l| l.starts_with("exact_match"))
        .unwrap_or_else(|| panic!("no exact_match comparison row: {out}"));
    // Same app, same data: no change.
    assert!(comparison_row.contains("0.0000"), "{comparison_row}");
    check_stored_run(&server, &run_id(&String::from_utf8_lossy(&output.stdout)));
}

/// The app under test as an HTTP endpoint: uppercases `question`, 500 on `boom`.
fn start_http_app() -> ScriptedServer {
    ScriptedServer::start(|request| {
        let inputs: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let question = inputs["question"].as_str().unwrap_or_default();
        if request.path != "/answer" {
            Reply::status(404)
        } else if question == "boom" {
            Reply::text(500, "exploded")
        } else {
            Reply::json(200, &json!(question.to_uppercase()))
        }
    })
}

#[test]
fn an_http_function_runs_and_fails_the_gate() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(&data.path().join("store"), "eval-run-http");
    let app = start_http_app();
    let function = format!("url = \"{}/answer\"", app.url());

    let experiment = write_experiment(data.path(), "http", &function, 0.9);
    let output = hh_eval_run(&server, &experiment, &[]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("2/4 passed (50.0%)"), "{out}");
    assert!(out.contains("http status 500"), "{out}");
    check_stored_run(&server, &run_id(&String::from_utf8_lossy(&output.stdout)));

    let passing = write_experiment(data.path(), "http-ok", &function, 0.5);
    let output = hh_eval_run(&server, &passing, &[]);
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn a_broken_experiment_file_is_an_error_not_a_run() {
    let data = tempfile::tempdir().expect("tempdir");
    let path = data.path().join("bad.toml");
    std::fs::write(
        &path,
        "dataset = \"d.jsonl\"\n[function]\ncommand = \"cat\"\n[[evaluators]]\nmetric = \"rougeX\"\n",
    )
    .expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_hh"))
        .args(["eval", "run"])
        .arg(&path)
        .args(["--server", "http://127.0.0.1:9", "--api-key", "k"])
        .output()
        .expect("run hh");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rougeX"), "{stderr}");
}
