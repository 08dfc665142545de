//! `metricTimeseries`: the streaming metric buckets over GraphQL, as `GET
//! /v1/metrics/timeseries` serves them.

use serde_json::json;

use super::{assert_coded, data, errors, post_event, start_session};
use crate::common::Harness;
use crate::monitoring::series_total;

const BY_MODEL: &str = r#"query($step: String) {
  metricTimeseries(range: "1h", step: $step, groupBy: "model") {
    stepMs groupBy
    series { group points { start events errors totalTokens cost latencyP99 scores { name mean count } } }
  }
}"#;

#[test]
fn the_metric_time_series_counts_the_events_per_model() {
    let h = Harness::start();
    let key = h.key();
    let session = start_session(&h, &key, "metrics");
    for (model, error, score) in [
        ("gpt-4o", None, 1.0),
        ("gpt-4o", Some("boom"), 0.0),
        ("claude", None, 1.0),
    ] {
        post_event(
            &h,
            &key,
            json!({
                "session_id": session, "event_type": "model", "event_name": "answer",
                "config": {"model": model},
                "metadata": {"prompt_tokens": 10, "completion_tokens": 5, "cost": 0.25},
                "metrics": {"helpful": score}, "error": error, "duration": 300.0
            }),
        );
    }
    let answer = data(&h, BY_MODEL, json!({"step": "1m"}));
    let timeseries = &answer["metricTimeseries"];
    assert_eq!(timeseries["stepMs"], 60_000.0);
    assert_eq!(timeseries["groupBy"], "model");
    let series = timeseries["series"].as_array().expect("series");
    let groups: Vec<&str> = series
        .iter()
        .map(|s| s["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["gpt-4o", "claude"]);
    assert_eq!(series_total(&series[0], "events"), 2.0);
    assert_eq!(series_total(&series[0], "errors"), 1.0);
    assert_eq!(series_total(&series[0], "totalTokens"), 30.0);
    assert!((series_total(&series[0], "cost") - 0.5).abs() < 1e-9);
    let point = series[0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["events"].as_u64() > Some(0))
        .expect("a point with the events");
    assert!((point["latencyP99"].as_f64().expect("timed") - 300.0).abs() <= 9.0);
    assert_eq!(
        point["scores"],
        json!([{"name": "helpful", "mean": 0.5, "count": 2}])
    );

    assert_coded(&errors(&h, BY_MODEL, json!({"step": "30s"})), "bad_request");
}
