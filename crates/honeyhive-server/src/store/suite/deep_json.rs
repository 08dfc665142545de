//! Behaviour suite case for the depth bound on stored JSON: it holds for
//! whatever a backend is handed. Run through [`crate::store_behaviour_suite!`]
//! with the other cases.
//!
//! Test code: cases panic on a failed assertion.
// Test support: a failed expectation is the calling test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use honeyhive_model::filter::{FieldPath, Filter, FilterSet, FilterValue, Operator};
use honeyhive_model::limits::{MAX_JSON_DEPTH, object_depth};
use honeyhive_model::run::{Run, RunStatus};
use honeyhive_model::{Event, EventType, EventUpdate};
use serde_json::{Map, Value, json};

use super::write_one;
use crate::store::{EventQuery, Store, Tenant, WriteBatch};

async fn tenant(store: &dyn Store, hash: &str, project: &str) -> Tenant {
    store.put_api_key(hash, project).await.expect("put key")
}

/// A tool event of session `s-deep`, starting at `start`.
fn event(id: &str, start: f64) -> Event {
    Event {
        event_id: id.into(),
        session_id: "s-deep".into(),
        parent_id: Some("s-deep".into()),
        event_type: EventType::Tool,
        event_name: format!("name-{id}"),
        start_time: start,
        end_time: start + 10.0,
        duration: 10.0,
        ..Event::default()
    }
}

/// `{"k": {"k": ... "deep-leaf" ...}}`, `depth` objects deep, built without recursion.
fn nested_object(depth: usize) -> Map<String, Value> {
    let mut value = json!("deep-leaf");
    for _ in 0..depth {
        value = json!({ "k": value });
    }
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Whatever depth a backend is handed (past serde_json's 128 and SQLite's
/// 1000), every stored JSON field reads back within `MAX_JSON_DEPTH`, the deep
/// rest kept as text, and JSON-path filters keep answering.
pub async fn deep_json_is_stored_within_the_depth_bound(store: &dyn Store) {
    const DEPTH: usize = 1100;
    let t = tenant(store, "hash-deep", "deep").await;
    let mut deep = event("deep", 1.0);
    deep.metadata.insert("x".into(), json!("deep"));
    deep.metadata
        .insert("nested".into(), nested_object(DEPTH).into());
    let mut plain = event("plain", 2.0);
    plain.metadata.insert("x".into(), json!("plain"));
    let early = EventUpdate {
        event_id: "late".into(),
        feedback: nested_object(DEPTH),
        ..EventUpdate::default()
    };
    let batch = WriteBatch {
        events: vec![deep, plain],
        enrichments: vec![early],
        ..WriteBatch::default()
    };
    store.write(&t, batch).await.expect("deep write");
    let summary = write_one(store, &t, event("late", 3.0)).await;
    assert_eq!(summary.enriched, 1);

    let holds_leaf = |map: &Map<String, Value>| {
        object_depth(map) <= MAX_JSON_DEPTH
            && serde_json::to_string(map).is_ok_and(|text| text.contains("deep-leaf"))
    };
    let stored = store.get_event(&t, "deep").await.expect("deep event");
    assert!(holds_leaf(&stored.metadata));
    let stored = store.get_event(&t, "late").await.expect("late event");
    assert!(holds_leaf(&stored.feedback));

    let query = EventQuery {
        filters: FilterSet {
            filters: vec![Filter {
                field: FieldPath::parse("metadata.x").expect("field"),
                operator: Operator::Is,
                value: FilterValue::Text("plain".into()),
            }],
        },
        ..EventQuery::default()
    };
    let page = store.query_events(&t, &query).await.expect("filter");
    let ids: Vec<&str> = page.items.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["plain"]);

    let run = Run {
        run_id: "deep-run".into(),
        status: RunStatus::Pending,
        metadata: nested_object(DEPTH),
        ..Run::default()
    };
    store.put_run(&t, &run).await.expect("put run");
    let stored = store.get_run(&t, "deep-run").await.expect("get run");
    // The run document holds its metadata one level below its root.
    assert!(object_depth(&stored.metadata) < MAX_JSON_DEPTH);
    assert!(holds_leaf(&stored.metadata));
}
