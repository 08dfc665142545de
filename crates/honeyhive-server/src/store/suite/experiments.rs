//! Behaviour suite cases for event queries, runs, datasets and datapoints:
//! filter pushdown agrees with the in-memory evaluator, paging and time
//! ranges, round trips, tenancy. Run through [`crate::store_behaviour_suite!`]
//! with the other cases.
//!
//! Test code: cases panic on a failed assertion.
// Test support: a failed expectation is the calling test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use honeyhive_model::filter::FilterSet;
use honeyhive_model::run::{Run, RunStatus};
use honeyhive_model::{Event, EventType};
use serde_json::json;

use crate::store::{
    Datapoint, DatapointQuery, DatapointSelection, Dataset, DatasetQuery, EventQuery, RunQuery,
    SortOrder, Store, Tenant, WriteBatch,
};

fn by_dataset(id: &str) -> DatapointQuery {
    DatapointQuery::whole(DatapointSelection::Dataset(id.into()))
}

/// Twelve varied events: types, nested metadata, numbers, booleans, strings, errors.
fn corpus() -> Vec<Event> {
    (0..12)
        .map(|i| {
            let mut e = Event {
                event_id: format!("e{i}"),
                session_id: format!("s{}", i % 3),
                parent_id: Some(format!("s{}", i % 3)),
                event_type: [EventType::Model, EventType::Tool, EventType::Chain][i % 3],
                event_name: format!("step-{i}"),
                source: if i % 4 == 0 {
                    "evaluation".into()
                } else {
                    "dev".into()
                },
                start_time: 1000.0 * i as f64,
                end_time: 1000.0 * i as f64 + 5.0,
                duration: 5.0 + i as f64,
                error: (i % 5 == 0).then(|| format!("boom {i}")),
                ..Event::default()
            };
            e.metadata
                .insert("run_id".into(), json!(format!("r{}", i % 2)));
            e.metadata.insert(
                "nested".into(),
                json!({"k": i, "flag": i % 2 == 0, "s": format!("v{i}")}),
            );
            e.metrics.insert("score".into(), json!(i as f64 / 10.0));
            if i % 3 == 0 {
                e.metrics.insert("ok".into(), json!(i % 2 == 0));
            }
            e.inputs
                .insert("q".into(), json!(format!("question number {i}")));
            e.config.insert(
                "model".into(),
                if i % 2 == 0 {
                    json!("gpt-4o")
                } else {
                    json!(4)
                },
            );
            e
        })
        .collect()
}

fn filter_cases() -> Vec<serde_json::Value> {
    let f = |field: &str, op: &str, value: serde_json::Value, ty: &str| json!({"field": field, "operator": op, "value": value, "type": ty});
    vec![
        f("event_type", "is", json!("model"), "string"),
        f("event_type", "is not", json!("model"), "string"),
        f("metadata.run_id", "is", json!("r1"), "string"),
        f("metadata.nested.k", "greater than", json!(5), "number"),
        f("metadata.nested.k", "less than", json!(5), "number"),
        f("metadata.nested.flag", "is", json!(true), "boolean"),
        f("metadata.nested.flag", "is not", json!(true), "boolean"),
        f("metadata.nested.s", "contains", json!("1"), "string"),
        f("metadata.nested.s", "not contains", json!("1"), "string"),
        f("metadata.nested.k", "contains", json!("1"), "string"),
        f("metadata.nested.flag", "contains", json!("tru"), "string"),
        f("metadata.nested", "exists", json!(null), "string"),
        f("metadata.missing", "not exists", json!(null), "string"),
        f("metrics.ok", "exists", json!(null), "boolean"),
        f("metrics.ok", "is", json!(false), "boolean"),
        f("metrics.score", "greater than", json!(0.45), "number"),
        f("metrics.score", "is", json!(0.5), "number"),
        f("metrics.score", "is", json!("0.5"), "string"),
        f("config.model", "is", json!("gpt-4o"), "string"),
        f("config.model", "is", json!(4), "number"),
        f("config.model", "contains", json!("4"), "string"),
        f("inputs", "contains", json!("number 1"), "string"),
        f("feedback", "exists", json!(null), "string"),
        f("error", "exists", json!(null), "string"),
        f("error", "contains", json!("boom 1"), "string"),
        f("source", "is not", json!("dev"), "string"),
        f(
            "start_time",
            "after",
            json!("1970-01-01T00:00:05Z"),
            "datetime",
        ),
        f("duration", "less than", json!(9), "number"),
        f("parent_id", "is", json!("s1"), "string"),
        f("event_name", "contains", json!("step-1"), "string"),
    ]
}

async fn tenant(store: &dyn Store, name: &str) -> Tenant {
    store
        .put_api_key(&format!("hash-{name}"), name)
        .await
        .expect("key")
}

fn not_sessions() -> FilterSet {
    FilterSet::from_json(&json!([{"field": "event_type", "operator": "is not", "value": "session", "type": "string"}]))
        .expect("filter")
}

async fn store_corpus(store: &dyn Store, t: &Tenant) -> Vec<Event> {
    let mut events = corpus();
    for e in &mut events {
        e.project_id = t.project_id.clone();
        e.tenant = t.org_id.clone();
    }
    store
        .write(
            t,
            WriteBatch {
                events: events.clone(),
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write");
    events
}

pub async fn filter_pushdown_agrees_with_the_evaluator(store: &dyn Store) {
    let t = tenant(store, "alpha").await;
    store_corpus(store, &t).await;
    // Compare against what the store holds (it adds the sessions' own events).
    let events = store
        .query_events(&t, &EventQuery::default())
        .await
        .expect("all")
        .items;
    assert!(events.len() > 12);
    for case in filter_cases() {
        let filters = FilterSet::from_json(&json!([case.clone()])).expect("valid filter");
        let expected: Vec<&str> = events
            .iter()
            .filter(|e| filters.matches(e))
            .map(|e| e.event_id.as_str())
            .collect();
        let query = EventQuery {
            filters,
            ..EventQuery::default()
        };
        let page = store.query_events(&t, &query).await.expect("query");
        let got: Vec<&str> = page.items.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(got, expected, "{case}");
        assert_eq!(page.total as usize, expected.len(), "{case}");
    }
}

pub async fn event_queries_page_order_range_and_isolate(store: &dyn Store) {
    let t = tenant(store, "alpha").await;
    store_corpus(store, &t).await;
    let q = EventQuery {
        filters: not_sessions(),
        limit: 5,
        offset: 5,
        order: SortOrder::Descending,
        ..EventQuery::default()
    };
    let page = store.query_events(&t, &q).await.expect("page");
    assert_eq!(page.total, 12);
    let ids: Vec<&str> = page.items.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["e6", "e5", "e4", "e3", "e2"]);
    let q = EventQuery {
        filters: not_sessions(),
        start_time_min: Some(2000.0),
        start_time_max: Some(4000.0),
        ..EventQuery::default()
    };
    assert_eq!(store.query_events(&t, &q).await.expect("range").total, 3);
    let q = EventQuery {
        filters: not_sessions(),
        session_ids: vec!["s1".into()],
        ..EventQuery::default()
    };
    assert_eq!(store.query_events(&t, &q).await.expect("sessions").total, 4);

    let other = tenant(store, "beta").await;
    assert_eq!(
        store
            .query_events(
                &other,
                &EventQuery {
                    filters: not_sessions(),
                    ..EventQuery::default()
                }
            )
            .await
            .expect("other")
            .total,
        0
    );
    assert!(!store.delete_event(&other, "e1").await.expect("delete"));
    assert_eq!(store.delete_session(&other, "s1").await.expect("delete"), 0);
    assert!(store.delete_event(&t, "e1").await.expect("delete"));
    assert_eq!(
        store.delete_session(&t, "s2").await.expect("delete"),
        5,
        "4 events and the session event"
    );
    assert_eq!(
        store
            .query_events(
                &t,
                &EventQuery {
                    filters: not_sessions(),
                    ..EventQuery::default()
                }
            )
            .await
            .expect("left")
            .total,
        7
    );
}

pub async fn runs_datasets_and_datapoints_round_trip_per_project(store: &dyn Store) {
    let t = tenant(store, "alpha").await;
    let other = tenant(store, "beta").await;
    for (i, status) in [
        RunStatus::Pending,
        RunStatus::Completed,
        RunStatus::Completed,
    ]
    .into_iter()
    .enumerate()
    {
        let run = Run {
            run_id: format!("run-{i}"),
            name: Some(format!("exp {i}")),
            status,
            dataset_id: Some("ds".into()),
            event_ids: vec!["s0".into()],
            created_at: i as f64,
            updated_at: i as f64,
            ..Run::default()
        };
        store.put_run(&t, &run).await.expect("put run");
    }
    let mut run = store.get_run(&t, "run-0").await.expect("get");
    assert_eq!(run.event_ids, ["s0"]);
    run.status = RunStatus::Completed;
    store.put_run(&t, &run).await.expect("update");
    let page = store
        .list_runs(
            &t,
            &RunQuery {
                status: Some(RunStatus::Completed),
                limit: 2,
                order: SortOrder::Descending,
                ..RunQuery::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(page.total, 3);
    assert_eq!(
        page.items
            .iter()
            .map(|r| r.run_id.as_str())
            .collect::<Vec<_>>(),
        ["run-2", "run-1"]
    );
    assert!(store.get_run(&other, "run-0").await.is_err());
    assert_eq!(
        store
            .list_runs(&other, &RunQuery::default())
            .await
            .expect("other")
            .total,
        0
    );
    assert!(!store.delete_run(&other, "run-0").await.expect("delete"));
    assert!(store.delete_run(&t, "run-0").await.expect("delete"));

    let dps: Vec<Datapoint> = (0..3)
        .map(|i| Datapoint {
            id: format!("dp{i}"),
            inputs: json!({"i": i}).as_object().cloned().unwrap_or_default(),
            ..Datapoint::default()
        })
        .collect();
    store.put_datapoints(&t, &dps).await.expect("dps");
    let ds = Dataset {
        id: "ds".into(),
        name: "set".into(),
        datapoint_ids: vec!["dp2".into(), "dp0".into()],
        ..Dataset::default()
    };
    store.put_dataset(&t, &ds).await.expect("ds");
    let members = store
        .list_datapoints(&t, &by_dataset("ds"))
        .await
        .expect("members")
        .items;
    assert_eq!(
        members.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["dp2", "dp0"]
    );
    assert!(
        store
            .list_datapoints(&other, &by_dataset("ds"))
            .await
            .expect("other")
            .items
            .is_empty()
    );
    assert!(
        store
            .list_datasets(&other, &DatasetQuery::default())
            .await
            .expect("other")
            .items
            .is_empty()
    );
    assert!(store.delete_datapoint(&t, "dp2").await.expect("delete dp"));
    let ds = store
        .list_datasets(
            &t,
            &DatasetQuery {
                name: Some("set".into()),
                ..DatasetQuery::default()
            },
        )
        .await
        .expect("datasets")
        .items;
    assert_eq!(
        ds[0].datapoint_ids,
        ["dp0"],
        "deleting a datapoint removes it from its datasets"
    );
    let ids = store
        .list_datapoints(
            &t,
            &DatapointQuery::whole(DatapointSelection::Ids(vec![
                "dp1".into(),
                "nope".into(),
                "dp0".into(),
            ])),
        )
        .await
        .expect("ids")
        .items;
    assert_eq!(
        ids.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["dp1", "dp0"]
    );
}
