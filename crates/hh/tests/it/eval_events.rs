//! `hh eval events` against a real `hh serve`: select stored events by filter,
//! score them, and write the scores back as metrics.

use std::process::{Command, Output};
use std::time::Duration;

use crate::common::{ServerProcess, TEST_KEY};
use serde_json::{Value, json};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post_event(server: &ServerProcess, event: Value) -> String {
    let reply: Value = agent()
        .post(format!("{}/events", server.base_url()))
        .header("Authorization", format!("Bearer {TEST_KEY}"))
        .send_json(json!({"event": event}))
        .expect("POST /events")
        .body_mut()
        .read_json()
        .expect("json");
    reply["event_id"].as_str().expect("event_id").to_string()
}

fn events_named(server: &ServerProcess, name: &str) -> Vec<Value> {
    let filters =
        json!([{"field": "event_name", "operator": "is", "value": name, "type": "string"}]);
    let reply: Value = agent()
        .get(format!("{}/events", server.base_url()))
        .header("Authorization", format!("Bearer {TEST_KEY}"))
        .query("filters", filters.to_string())
        .call()
        .expect("GET /events")
        .body_mut()
        .read_json()
        .expect("json");
    reply["events"].as_array().cloned().unwrap_or_default()
}

fn hh_eval_events(server: &ServerProcess, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hh"))
        .args(["eval", "events", "--filter", "event_name=answer"])
        .args(["--filter", "metadata.env=prod"])
        .args(["--evaluator", "exact_match:prediction_field=content"])
        .args([
            "--evaluator",
            "token_f1:prediction_field=content,threshold=0.5",
        ])
        .args(extra)
        .args(["--server", &server.base_url(), "--api-key", TEST_KEY])
        .output()
        .expect("run hh eval events")
}

#[test]
fn stored_events_are_selected_scored_and_updated_in_place() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(&data.path().join("store"), "eval-events");
    let session_id = uuid_like(1);
    let answer = |content: &str, truth: &str, env: &str| {
        json!({
            "event_type": "model",
            "event_name": "answer",
            "session_id": session_id,
            "source": "production",
            "inputs": {"question": "q"},
            "outputs": {"content": content},
            "feedback": {"ground_truth": truth},
            "metadata": {"env": env},
            "duration": 12.0,
        })
    };
    let right = post_event(&server, answer("Paris", "Paris", "prod"));
    let close = post_event(&server, answer("Paris France", "Paris", "prod"));
    let other_env = post_event(&server, answer("Paris", "Paris", "dev"));

    let dry = hh_eval_events(&server, &["--dry-run", "--json"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&dry.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2, "only prod answers are selected: {lines:#?}");
    let stored = events_named(&server, "answer");
    assert!(
        stored
            .iter()
            .all(|e| e["metrics"].get("exact_match").is_none()),
        "a dry run writes nothing: {stored:#?}"
    );

    let output = hh_eval_events(&server, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("2 events scored, 2 written back"),
        "{stdout}"
    );

    let stored = events_named(&server, "answer");
    let by_id = |id: &str| {
        stored
            .iter()
            .find(|e| e["event_id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {stored:#?}"))
    };
    let metrics = &by_id(&right)["metrics"];
    assert_eq!(metrics["exact_match"], json!(1.0), "{metrics:#}");
    assert_eq!(metrics["exact_match_passed"], json!(true));
    assert_eq!(metrics["token_f1"], json!(1.0));
    let metrics = &by_id(&close)["metrics"];
    assert_eq!(metrics["exact_match"], json!(0.0), "{metrics:#}");
    assert_eq!(metrics["exact_match_passed"], json!(false));
    let f1 = metrics["token_f1"].as_f64().expect("token_f1");
    assert!((f1 - 2.0 / 3.0).abs() < 1e-9, "{f1}");
    assert_eq!(metrics["token_f1_passed"], json!(true));
    assert!(
        by_id(&other_env)["metrics"].get("exact_match").is_none(),
        "events outside the filter are untouched"
    );
}

#[test]
fn bad_filters_and_evaluators_are_usage_errors() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(&data.path().join("store"), "eval-events-bad");
    for args in [["--filter", "no-operator-here"], ["--evaluator", "rougeX"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_hh"))
            .args(["eval", "events", "--evaluator", "bleu"])
            .args(args)
            .args(["--server", &server.base_url(), "--api-key", TEST_KEY])
            .output()
            .expect("run hh");
        assert!(!output.status.success(), "{args:?} should fail");
    }
}

fn uuid_like(n: u8) -> String {
    format!("00000000-0000-4000-8000-0000000000{n:02x}")
}
