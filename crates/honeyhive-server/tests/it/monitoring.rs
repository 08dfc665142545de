//! Streaming metrics over real HTTP: `GET /v1/metrics/timeseries` counts what
//! was ingested, per model, keeps it across a restart, refuses bad parameters
//! with a hint and isolates projects; the monitoring page charts the same.

use serde_json::{Value, json};

use crate::common::Harness;
use crate::dashboard::{Browser, sign_in_with_key, text};

/// Records model events now: per (model, error, duration ms, accuracy score).
fn ingest_calls(h: &Harness, key: &str, calls: &[(&str, Option<&str>, f64, f64)]) {
    for (model, error, duration, accuracy) in calls {
        let answer = h.post_json_as(
            key,
            "/events",
            &json!({"event": {
                "session_id": "7d1c4b52-0c5e-4d8a-9a51-3f1e2b6c8d90", "event_type": "model",
                "event_name": "answer", "source": "monitoring-test",
                "config": {"model": model},
                "metadata": {"prompt_tokens": 100, "completion_tokens": 20, "cost": 0.01},
                "metrics": {"accuracy": accuracy},
                "error": error, "duration": duration
            }}),
        );
        assert_eq!(answer.status, 200, "{}", text(&answer));
    }
}

/// The sum of `field` over a series' points (its JSON, REST or GraphQL).
pub(crate) fn series_total(series: &Value, field: &str) -> f64 {
    series["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p[field].as_f64().unwrap_or(0.0))
        .sum()
}

fn by_model(h: &Harness, key: &str) -> Value {
    let answer = h.get_as(
        key,
        "/v1/metrics/timeseries?range=1h&step=1m&group_by=model",
    );
    assert_eq!(answer.status, 200, "{}", text(&answer));
    answer.json()
}

#[test]
fn the_timeseries_counts_what_was_ingested_per_model_and_survives_a_restart() {
    let mut h = Harness::start();
    let key = h.key();
    ingest_calls(
        &h,
        &key,
        &[
            ("gpt-4o", None, 400.0, 1.0),
            ("gpt-4o", Some("rate limited"), 1200.0, 0.0),
            ("gpt-4o", None, 500.0, 1.0),
            ("claude-sonnet", None, 800.0, 1.0),
        ],
    );
    let check = |body: &Value| {
        assert_eq!(body["step_ms"], 60_000);
        assert_eq!(body["group_by"], "model");
        let series = body["series"].as_array().expect("series");
        let groups: Vec<&str> = series
            .iter()
            .map(|s| s["group"].as_str().unwrap())
            .collect();
        assert_eq!(groups, ["gpt-4o", "claude-sonnet"], "most events first");
        let points = series[0]["points"].as_array().unwrap().len();
        assert!(
            (60..=61).contains(&points),
            "an hour of minutes, the current one included: {points}"
        );
        assert_eq!(series_total(&series[0], "events"), 3.0);
        assert_eq!(series_total(&series[0], "errors"), 1.0);
        assert_eq!(series_total(&series[0], "total_tokens"), 360.0);
        assert!((series_total(&series[0], "cost") - 0.03).abs() < 1e-9);
        assert_eq!(series_total(&series[1], "events"), 1.0);
        let filled: Vec<&Value> = series[0]["points"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["events"].as_u64() > Some(0))
            .collect();
        let latest = filled.last().expect("a point with events");
        assert!(latest["latency_ms"]["p99"].as_f64().expect("p99") > 0.0);
        assert!(latest["scores"]["accuracy"].as_f64().is_some());
    };
    check(&by_model(&h, &key));
    h.restart();
    check(&by_model(&h, &key));

    let other_key = h.server().create_project_key("other-project");
    assert_eq!(
        by_model(&h, &other_key)["series"],
        json!([]),
        "projects are isolated"
    );

    for bad in [
        "step=30s",
        "range=forever",
        "group_by=user",
        "event_type=session",
        "range=30d&step=1m",
    ] {
        let answer = h.get(&format!("/v1/metrics/timeseries?{bad}"));
        assert_eq!(answer.status, 400, "{bad}");
        let body = answer.json();
        assert_eq!(body["error"]["code"], "bad_request", "{bad}");
        assert!(body["error"]["hint"].is_string(), "{bad}: {body}");
    }
    assert_eq!(
        h.send("GET", "/v1/metrics/timeseries", None, &[], &[])
            .status,
        401
    );
}

#[test]
fn the_monitoring_page_charts_the_projects_events_by_model() {
    let h = Harness::start();
    let key = h.key();
    ingest_calls(
        &h,
        &key,
        &[
            ("gpt-4o", Some("boom"), 300.0, 1.0),
            ("claude-sonnet", None, 900.0, 0.5),
        ],
    );
    let mut browser = Browser::new();
    sign_in_with_key(&h, &mut browser, &key);
    let answer = browser.get(
        &h,
        "/ui/monitoring?range=6h&group_by=model&event_type=model",
    );
    assert_eq!(answer.status, 200);
    let page = text(&answer);
    for expected in [
        "Events per 5 min",
        "Error rate",
        "Latency p95",
        "Tokens per 5 min",
        "Cost per 5 min",
        "Evaluator scores (mean)",
        "gpt-4o",
        "claude-sonnet",
        "<option value=\"model\" selected>",
    ] {
        assert!(page.contains(expected), "{expected} missing from {page}");
    }
    let svgs = page.matches("<svg").count();
    assert_eq!(svgs, 6, "every chart has points");
    // The totals table: gpt-4o one event, failed; claude one event.
    assert!(page.contains("<td>gpt-4o</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">100.0 %</td>"), "{page}");

    let empty = browser.get(&h, "/ui/monitoring?event_type=tool");
    assert!(text(&empty).contains("No events in this range."));
    let bad = browser.get(&h, "/ui/monitoring?range=forever");
    assert_eq!(bad.status, 400);
    assert!(text(&bad).contains("15m, 1h, 24h, 7d"), "the hint is shown");
}
