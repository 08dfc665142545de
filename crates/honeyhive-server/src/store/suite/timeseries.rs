//! Behaviour suite cases for the streaming metric buckets: what a write
//! stores is counted once, in the bucket of its start time; enrichments move
//! the counters; series group, fold and isolate projects.
//! Run through [`crate::store_behaviour_suite!`] with the other cases.
//!
//! Test code: cases panic on a failed assertion.
// Test support: a failed expectation is the calling test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use honeyhive_model::{Event, EventType, EventUpdate};
use serde_json::json;

use super::{event, tenant};
use crate::store::{Dimension, OTHER_GROUP, Store, TimeseriesQuery, WriteBatch};

/// 2026-01-01T00:00:00Z, a whole hour.
const HOUR_START: f64 = 1_767_225_600_000.0;

fn llm_call(id: &str, minute: f64, model: &str, duration: f64) -> Event {
    let mut e = event(
        id,
        "s",
        None,
        HOUR_START + minute * 60_000.0,
        EventType::Model,
    );
    e.event_name = "chat".into();
    e.duration = duration;
    e.config.insert("model".into(), json!(model));
    e.metadata.insert("prompt_tokens".into(), json!(10));
    e.metadata.insert("completion_tokens".into(), json!(5));
    e.metadata.insert("cost".into(), json!(0.5));
    e
}

fn query(step_ms: i64, group_by: Option<Dimension>) -> TimeseriesQuery {
    TimeseriesQuery {
        start_ms: HOUR_START as i64,
        end_ms: HOUR_START as i64 + 3_600_000,
        step_ms,
        group_by,
        event_type: None,
        max_groups: 10,
    }
}

/// Buckets count each stored event once, by start time, per model; a
/// retried write, a session and another project's events add nothing; an
/// enrichment moves errors and scores; hourly buckets agree with the minutes.
pub async fn metric_buckets_count_what_commits_and_follow_enrichments(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let other = tenant(store, "h2", "q").await;
    let mut first_minute: Vec<Event> = (1..=100)
        .map(|i| llm_call(&format!("a{i}"), 0.5, "gpt-4o", f64::from(i)))
        .collect();
    first_minute[0].error = Some("timeout".into());
    first_minute[1]
        .metrics
        .insert("accuracy".into(), json!(1.0));
    first_minute[2]
        .metrics
        .insert("accuracy".into(), json!(false));
    let batch = WriteBatch {
        events: first_minute.clone(),
        ..WriteBatch::default()
    };
    store.write(&t, batch.clone()).await.expect("write");
    store.write(&t, batch).await.expect("retried write");
    let mut session = event("s", "s", None, HOUR_START, EventType::Session);
    session.duration = 5_000.0;
    let later = vec![
        llm_call("b1", 2.0, "claude", 300.0),
        llm_call("b2", 2.9, "claude", 300.0),
        session,
    ];
    store
        .write(
            &t,
            WriteBatch {
                events: later,
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write");
    store
        .write(
            &other,
            WriteBatch {
                events: vec![llm_call("x", 0.0, "gpt-4o", 1.0)],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("other project");

    let by_model = store
        .timeseries(&t, &query(60_000, Some(Dimension::Model)))
        .await
        .expect("series");
    assert_eq!(by_model.start_ms, HOUR_START as i64);
    let groups: Vec<&str> = by_model.series.iter().map(|s| s.group.as_str()).collect();
    assert_eq!(groups, ["gpt-4o", "claude"], "most events first");
    let gpt = &by_model.series[0].points;
    assert_eq!(gpt.len(), 60, "a point for every minute");
    assert_eq!((gpt[0].events, gpt[0].errors), (100, 1), "counted once");
    assert_eq!(
        (
            gpt[0].prompt_tokens,
            gpt[0].completion_tokens,
            gpt[0].total_tokens
        ),
        (1000, 500, 1500)
    );
    assert!((gpt[0].cost - 50.0).abs() < 1e-9);
    let [p50, p95, p99] = gpt[0].latency_ms.expect("timed events");
    for (got, want) in [(p50, 50.0), (p95, 95.0), (p99, 99.0)] {
        assert!(
            (got - want).abs() <= want * 0.03,
            "quantile {got}, want {want}"
        );
    }
    assert_eq!(
        gpt[0].scores["accuracy"].mean(),
        Some(0.5),
        "booleans as 1/0"
    );
    assert!(
        gpt[1..]
            .iter()
            .all(|p| p.events == 0 && p.latency_ms.is_none())
    );
    let claude = &by_model.series[1].points;
    assert_eq!(
        claude[2].events, 2,
        "both in minute 2, sessions not counted"
    );

    // An enrichment fails an event and scores another: the counters move.
    let fail = EventUpdate {
        event_id: "a50".into(),
        error: Some("refused".into()),
        metrics: json!({"accuracy": 0}).as_object().cloned().unwrap(),
        ..EventUpdate::default()
    };
    store
        .write(
            &t,
            WriteBatch {
                enrichments: vec![fail],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("enrich");
    let total = store
        .timeseries(&t, &query(60_000, None))
        .await
        .expect("series");
    assert_eq!(total.series.len(), 1);
    assert_eq!(total.series[0].group, "");
    let p = &total.series[0].points[0];
    assert_eq!(
        (p.events, p.errors),
        (100, 2),
        "an enrichment moves errors, not events"
    );
    assert_eq!(p.scores["accuracy"].count, 3);
    assert!((p.error_rate() - 0.02).abs() < 1e-9);

    // The hourly buckets hold the same totals, latency merged.
    let hourly = store
        .timeseries(&t, &query(3_600_000, None))
        .await
        .expect("hourly");
    let h = &hourly.series[0].points;
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].events, h[0].errors, h[0].total_tokens),
        (102, 2, 1530)
    );
    let [p50, _, p99] = h[0].latency_ms.expect("timed");
    assert!((p50 - 51.0).abs() <= 2.0, "merged p50 {p50}");
    assert!((p99 - 100.0).abs() <= 3.0, "merged p99 {p99}");

    // Only model events; one series kept, the rest folded into "(other)".
    let mut tools = query(900_000, Some(Dimension::Model));
    tools.event_type = Some(EventType::Tool);
    assert!(
        store
            .timeseries(&t, &tools)
            .await
            .expect("tools")
            .series
            .is_empty()
    );
    let mut folded = query(900_000, Some(Dimension::Model));
    folded.max_groups = 1;
    let folded = store.timeseries(&t, &folded).await.expect("folded");
    let groups: Vec<&str> = folded.series.iter().map(|s| s.group.as_str()).collect();
    assert_eq!(groups, [OTHER_GROUP]);
    assert_eq!(folded.series[0].points[0].events, 102);
    let mut exact = query(900_000, Some(Dimension::Model));
    exact.max_groups = 2;
    let exact = store.timeseries(&t, &exact).await.expect("two groups");
    let groups: Vec<&str> = exact.series.iter().map(|s| s.group.as_str()).collect();
    assert_eq!(
        groups,
        ["gpt-4o", "claude"],
        "as many groups as kept: no \"(other)\""
    );

    let theirs = store
        .timeseries(&other, &query(60_000, None))
        .await
        .expect("other");
    assert_eq!(
        theirs.series[0].points[0].events, 1,
        "projects are isolated"
    );
}
