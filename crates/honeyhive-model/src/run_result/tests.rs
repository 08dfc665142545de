use std::collections::HashMap;

use serde_json::{Value, json};

use super::document::{compare_body, result_document};
use super::*;
use crate::run::{Aggregation, Run, RunObject, RunStatus};
use crate::{Event, EventType};

/// The `/result` body as a JSON value, to index into.
fn result_body(run: &Run, eval: &RunEvaluation, agg: Aggregation, run_object: RunObject) -> Value {
    serde_json::to_value(result_document(run, eval, agg, run_object)).expect("serializes")
}

fn event(
    id: &str,
    session: &str,
    parent: Option<&str>,
    ty: EventType,
    name: &str,
    start: f64,
) -> Event {
    Event {
        event_id: id.into(),
        session_id: session.into(),
        parent_id: parent.map(str::to_string),
        event_type: ty,
        event_name: name.into(),
        start_time: start,
        ..Event::default()
    }
}

/// The fixture's evaluate() run: 3 datapoints, evaluators exact_match and length_check.
fn fixture_run(run_id: &str, exact: [f64; 3], lengths: [i64; 3]) -> (Run, Vec<Event>) {
    let mut events = Vec::new();
    let mut run = Run {
        run_id: run_id.into(),
        status: RunStatus::Completed,
        ..Run::default()
    };
    for (i, (score, len)) in exact.iter().zip(lengths).enumerate() {
        let sid = format!("{run_id}-s{i}");
        let dp = format!("EXT-dp{i}");
        run.event_ids.push(sid.clone());
        run.datapoint_ids.push(dp.clone());
        let mut session = event(
            &sid,
            &sid,
            None,
            EventType::Session,
            "wire-capture-exp",
            i as f64 * 10.0,
        );
        session.metadata.insert("run_id".into(), json!(run_id));
        session.metadata.insert("datapoint_id".into(), json!(dp));
        let app_id = format!("{sid}-app");
        let mut app = event(
            &app_id,
            &sid,
            Some(&sid),
            EventType::Chain,
            "app",
            i as f64 * 10.0 + 1.0,
        );
        app.metadata.insert("datapoint_id".into(), json!(dp));
        app.metrics.insert("exact_match".into(), json!(score));
        app.metrics.insert("length_check".into(), json!(len));
        app.metrics
            .insert("length_check_explanation".into(), json!("answer length"));
        app.metrics
            .insert("length_check_long_enough".into(), json!(len >= 3));
        let helper = event(
            &format!("{sid}-helper"),
            &sid,
            Some(&app_id),
            EventType::Tool,
            "__main__.helper",
            i as f64 * 10.0 + 2.0,
        );
        let mut evaluation = event(
            &format!("{sid}-eval"),
            &sid,
            None,
            EventType::Chain,
            "Evaluation",
            i as f64 * 10.0 + 5.0,
        );
        evaluation.inputs.insert("score".into(), json!(score));
        events.extend([session, app, helper, evaluation]);
    }
    (run, events)
}

fn object(id: &str) -> RunObject {
    RunObject {
        id: id.into(),
        ..RunObject::default()
    }
}

#[test]
fn aggregations() {
    let v = [4.0, 1.0, 3.0, 2.0];
    assert_eq!(Aggregation::Average.apply(&v), Some(2.5));
    assert_eq!(Aggregation::Sum.apply(&v), Some(10.0));
    assert_eq!(Aggregation::Count.apply(&v), Some(4.0));
    assert_eq!(Aggregation::Min.apply(&v), Some(1.0));
    assert_eq!(Aggregation::Max.apply(&v), Some(4.0));
    assert_eq!(Aggregation::Median.apply(&v), Some(2.5));
    assert_eq!(Aggregation::Median.apply(&[7.0]), Some(7.0));
    let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
    assert!((Aggregation::P90.apply(&hundred).unwrap() - 90.1).abs() < 1e-9);
    assert!((Aggregation::P99.apply(&hundred).unwrap() - 99.01).abs() < 1e-9);
    for name in [
        "average", "min", "max", "median", "p90", "p95", "p99", "sum", "count",
    ] {
        assert_eq!(Aggregation::parse(Some(name)).unwrap().as_str(), name);
    }
}

#[test]
fn fixture_run_result_matches_the_python_client_shape() {
    let (run, events) = fixture_run("r1", [1.0, 0.0, 1.0], [3, 5, 1]);
    let eval = evaluate_run(&run, &events, &HashMap::new());
    let body = result_body(&run, &eval, Aggregation::Average, object("r1"));
    assert_eq!(body["status"], "completed");
    assert_eq!(body["passed"], json!(["EXT-dp0", "EXT-dp1"]));
    // The third datapoint's boolean metric is false, so it fails.
    assert_eq!(body["failed"], json!(["EXT-dp2"]));
    assert_eq!(body["success"], false);
    assert_eq!(body["metrics"]["aggregation_function"], "average");
    let details = body["metrics"]["details"].as_array().unwrap();
    let names: Vec<&str> = details
        .iter()
        .map(|d| d["metric_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["exact_match", "length_check", "length_check_long_enough"],
        "strings are not metrics"
    );
    let exact = &details[0];
    assert!((exact["aggregate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(exact["values"], json!([1.0, 0.0, 1.0]));
    assert_eq!(exact["event_name"], "app");
    assert_eq!(exact["event_type"], "chain");
    assert_eq!(exact["metric_type"], "CLIENT_SIDE");
    assert_eq!(
        exact["datapoints"]["passed"],
        json!(["EXT-dp0", "EXT-dp1", "EXT-dp2"])
    );
    assert_eq!(details[1]["aggregate"], json!(3.0));
    assert_eq!(details[2]["datapoints"]["failed"], json!(["EXT-dp2"]));
    let dps = body["datapoints"].as_array().unwrap();
    assert_eq!(dps.len(), 3);
    assert_eq!(dps[1]["session_id"], "r1-s1");
    assert_eq!(dps[1]["datapoint_id"], "EXT-dp1");
    assert_eq!(
        dps[1]["metrics"][0],
        json!({"name": "exact_match", "event_name": "app", "event_type": "chain", "value": 0.0, "passed": true})
    );
    assert_eq!(
        body["event_details"][0],
        json!({"event_name": "wire-capture-exp", "event_type": "session"})
    );
    assert_eq!(body["run_object"]["id"], "r1");
}

#[test]
fn other_aggregations_over_the_fixture() {
    let (run, events) = fixture_run("r1", [1.0, 0.0, 1.0], [3, 5, 1]);
    let eval = evaluate_run(&run, &events, &HashMap::new());
    let detail = |agg: Aggregation| {
        result_body(&run, &eval, agg, RunObject::default())["metrics"]["details"][1]["aggregate"]
            .clone()
    };
    assert_eq!(detail(Aggregation::Sum), json!(9.0));
    assert_eq!(detail(Aggregation::Min), json!(1.0));
    assert_eq!(detail(Aggregation::Max), json!(5.0));
    assert_eq!(detail(Aggregation::Median), json!(3.0));
    assert_eq!(detail(Aggregation::Count), json!(3.0));
    assert!((detail(Aggregation::P90).as_f64().unwrap() - 4.6).abs() < 1e-12);
}

#[test]
fn passing_ranges_errors_and_definitions_decide_pass_fail() {
    let (mut run, mut events) = fixture_run("r1", [1.0, 0.0, 1.0], [3, 5, 4]);
    let eval = evaluate_run(&run, &events, &HashMap::new());
    assert!(eval.datapoints.iter().all(|d| d.passed));
    assert!(run_success(&run, &eval));

    run.passing_ranges
        .insert("exact_match".into(), json!({"min": 1}));
    let eval = evaluate_run(&run, &events, &HashMap::new());
    let failed: Vec<&str> = eval
        .datapoints
        .iter()
        .filter(|d| !d.passed)
        .map(|d| d.key())
        .collect();
    assert_eq!(failed, ["EXT-dp1"]);
    let body = result_body(&run, &eval, Aggregation::Average, RunObject::default());
    assert_eq!(
        body["metrics"]["details"][0]["passing_range"],
        json!({"min": 1.0})
    );

    run.passing_ranges.clear();
    let defs = HashMap::from([(
        "length_check".to_string(),
        MetricDefinition {
            metric_type: Some("PYTHON".into()),
            rule: PassRule::from_json(&json!({"max": 4})),
        },
    )]);
    let eval = evaluate_run(&run, &events, &defs);
    let failed: Vec<&str> = eval
        .datapoints
        .iter()
        .filter(|d| !d.passed)
        .map(|d| d.key())
        .collect();
    assert_eq!(failed, ["EXT-dp1"]);
    assert_eq!(
        result_body(&run, &eval, Aggregation::Average, RunObject::default())["metrics"]["details"]
            [1]["metric_type"],
        "PYTHON"
    );

    // An error on a top-level event fails the datapoint; one on a nested event does not.
    events
        .iter_mut()
        .find(|e| e.event_id == "r1-s0-helper")
        .unwrap()
        .error = Some("nested".into());
    events
        .iter_mut()
        .find(|e| e.event_id == "r1-s2-app")
        .unwrap()
        .error = Some("boom".into());
    let eval = evaluate_run(&run, &events, &HashMap::new());
    let failed: Vec<(&str, Option<&str>)> = eval
        .datapoints
        .iter()
        .filter(|d| !d.passed)
        .map(|d| (d.key(), d.error.as_deref()))
        .collect();
    assert_eq!(failed, [("EXT-dp2", Some("boom"))]);
}

#[test]
fn session_metrics_win_and_datapoint_ids_fall_back_to_position() {
    let (run, mut events) = fixture_run("r1", [1.0, 0.0, 1.0], [3, 5, 4]);
    let session = events.iter_mut().find(|e| e.event_id == "r1-s1").unwrap();
    session.metrics.insert("exact_match".into(), json!(0.5));
    for e in events.iter_mut().filter(|e| e.session_id == "r1-s2") {
        e.metadata.remove("datapoint_id");
    }
    let eval = evaluate_run(&run, &events, &HashMap::new());
    let m = eval.datapoints[1]
        .metrics
        .iter()
        .find(|m| m.name == "exact_match")
        .unwrap();
    assert_eq!((m.numeric, m.event_type), (0.5, EventType::Session));
    assert_eq!(eval.datapoints[2].datapoint_id.as_deref(), Some("EXT-dp2"));
}

#[test]
fn sessions_found_by_metadata_join_the_run_after_listed_ones() {
    let (mut run, events) = fixture_run("r1", [1.0, 0.0, 1.0], [3, 5, 4]);
    run.event_ids.truncate(1);
    run.datapoint_ids.clear();
    let eval = evaluate_run(&run, &events, &HashMap::new());
    let sessions: Vec<&str> = eval
        .datapoints
        .iter()
        .map(|d| d.session_id.as_str())
        .collect();
    assert_eq!(sessions, ["r1-s0", "r1-s1", "r1-s2"]);
}

#[test]
fn stray_sessions_for_covered_datapoints_are_skipped() {
    let (run, mut events) = fixture_run("r1", [1.0, 0.0, 1.0], [3, 5, 4]);
    let mut stray = event(
        "stray",
        "stray",
        None,
        EventType::Session,
        "wire-capture-exp",
        100.0,
    );
    stray.metadata.insert("run_id".into(), json!("r1"));
    stray
        .metadata
        .insert("datapoint_id".into(), json!("EXT-dp1"));
    events.push(stray);
    let eval = evaluate_run(&run, &events, &HashMap::new());
    let sessions: Vec<&str> = eval
        .datapoints
        .iter()
        .map(|d| d.session_id.as_str())
        .collect();
    assert_eq!(sessions, ["r1-s0", "r1-s1", "r1-s2"]);
}

#[test]
fn comparison_reports_deltas_and_per_datapoint_changes() {
    let (old_run, old_events) = fixture_run("old", [1.0, 0.0, 0.0], [3, 5, 4]);
    let (new_run, new_events) = fixture_run("new", [1.0, 1.0, 0.0], [2, 5, 4]);
    let old = evaluate_run(&old_run, &old_events, &HashMap::new());
    let new = evaluate_run(&new_run, &new_events, &HashMap::new());
    let body = compare_body(&new, &old, Aggregation::Average, object("N"), object("O"));
    assert_eq!(
        body["commonDatapoints"],
        json!(["EXT-dp0", "EXT-dp1", "EXT-dp2"])
    );
    assert_eq!(
        (body["new_run"]["id"].clone(), body["old_run"]["id"].clone()),
        (json!("N"), json!("O"))
    );
    let exact = &body["metrics"][0];
    assert_eq!(exact["metric_name"], "exact_match");
    assert!((exact["old_aggregate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert!((exact["new_aggregate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert!((exact["difference"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert!((exact["percentage_change"].as_f64().unwrap() - 100.0).abs() < 1e-9);
    assert_eq!(exact["improved"], json!(["EXT-dp1"]));
    assert_eq!(exact["same"], json!(["EXT-dp0", "EXT-dp2"]));
    assert_eq!(
        (
            exact["improved_count"].clone(),
            exact["degraded_count"].clone(),
            exact["found_count"].clone()
        ),
        (json!(1), json!(0), json!(3))
    );
    assert_eq!(exact["old_values"], json!([1.0, 0.0, 0.0]));
    let length = &body["metrics"][1];
    assert_eq!(length["degraded"], json!(["EXT-dp0"]));
    assert!(
        body["event_details"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["presence"] == "both")
    );
}
