//! Behaviour suite cases for events: written and read back as a session's
//! linked tree, retried writes kept once, enrichments merged (also those that
//! arrive before their event), whole batches or nothing, projects kept apart
//! and events read by id within a byte budget.
//! Run through [`crate::store_behaviour_suite!`] with the other cases.
//!
//! Test code: cases panic on a failed assertion.
// Test support: a failed expectation is the calling test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use honeyhive_model::{EventType, EventUpdate};
use serde_json::json;

use super::{event, tenant, write_one};
use honeyhive_model::filter::FilterSet;

use crate::store::{
    EventQuery, ReadError, ReadLimit, ReadLimits, SessionSighting, SortOrder, Store, StoreError,
    WriteBatch,
};

/// Events of a session come back in time order with children linked.
pub async fn events_read_back_as_a_linked_tree(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let batch = WriteBatch {
        events: vec![
            event("child", "s1", Some("root"), 200.0, EventType::Tool),
            event("root", "s1", Some("s1"), 100.0, EventType::Chain),
            event("top", "s1", None, 300.0, EventType::Model),
        ],
        sessions: vec![SessionSighting {
            session_id: "s1".into(),
            session_name: Some("named".into()),
            start_time: Some(100.0),
            end_time: Some(310.0),
            ..SessionSighting::default()
        }],
        enrichments: vec![],
    };
    let summary = store.write(&t, batch).await.expect("write");
    assert_eq!(summary.inserted, 3);
    assert_eq!(summary.sessions_created, 1);
    let tree = store
        .session_tree(&t, "s1", ReadLimits::default())
        .await
        .expect("tree");
    assert_eq!(tree.session.event_type, EventType::Session);
    assert_eq!(tree.session.event_name, "named");
    assert_eq!(tree.session.start_time, 100.0);
    assert_eq!(tree.session.end_time, 310.0);
    let ids: Vec<&str> = tree.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["root", "child", "top"]);
    assert_eq!(tree.session.children_ids, ["root", "top"]);
    assert_eq!(tree.events[0].children_ids, ["child"]);
    let child = store.get_event(&t, "root").await.expect("get");
    assert_eq!(child.children_ids, ["child"]);
    assert_eq!(child.project_id, t.project_id);
    assert_eq!(child.tenant, t.org_id);
}

/// Writing the same events again stores nothing new and changes nothing.
pub async fn retried_writes_do_not_duplicate(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let mut first = event("e1", "s", Some("s"), 1.0, EventType::Tool);
    first.inputs.insert("v".into(), json!(1));
    write_one(store, &t, first.clone()).await;
    let mut retry = first;
    retry.inputs.insert("v".into(), json!(2));
    let summary = write_one(store, &t, retry).await;
    assert_eq!((summary.inserted, summary.duplicates), (0, 1));
    let tree = store
        .session_tree(&t, "s", ReadLimits::default())
        .await
        .expect("tree");
    assert_eq!(tree.events.len(), 1);
    assert_eq!(tree.events[0].inputs["v"], 1, "first write wins");
}

/// An enrichment merges objects key by key and replaces scalars.
pub async fn enrichment_merges_into_a_stored_event(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let mut e = event("e1", "s", Some("s"), 1.0, EventType::Tool);
    e.metadata.insert("kept".into(), json!("yes"));
    write_one(store, &t, e).await;
    let mut en = EventUpdate {
        event_id: "e1".into(),
        duration: Some(99.0),
        ..EventUpdate::default()
    };
    en.metadata.insert("added".into(), json!(1));
    en.feedback.insert("rating".into(), json!(5));
    let summary = store
        .write(
            &t,
            WriteBatch {
                enrichments: vec![en],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("enrich");
    assert_eq!((summary.enriched, summary.deferred), (1, 0));
    let stored = store.get_event(&t, "e1").await.expect("get");
    assert_eq!(stored.metadata["kept"], "yes");
    assert_eq!(stored.metadata["added"], 1);
    assert_eq!(stored.feedback["rating"], 5);
    assert_eq!(stored.duration, 99.0);

    // A later enrichment changes only what it names: an error and one output.
    let mut later = EventUpdate {
        event_id: "e1".into(),
        error: Some("timed out".into()),
        ..EventUpdate::default()
    };
    later.outputs.insert("partial".into(), json!("ab"));
    store
        .write(
            &t,
            WriteBatch {
                enrichments: vec![later],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("enrich again");
    let stored = store.get_event(&t, "e1").await.expect("get");
    assert_eq!(stored.error.as_deref(), Some("timed out"));
    assert_eq!(stored.outputs["partial"], "ab");
    assert_eq!(stored.metadata["added"], 1);
    assert_eq!(stored.feedback["rating"], 5);
    assert_eq!(stored.duration, 99.0);
    assert_eq!(
        (
            stored.start_time,
            stored.event_type,
            stored.session_id.as_str()
        ),
        (1.0, EventType::Tool, "s")
    );
}

/// Enrichments for an event (or session) not yet stored wait for it.
pub async fn enrichment_before_its_event_is_applied_on_arrival(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let mut first = EventUpdate {
        event_id: "later".into(),
        ..EventUpdate::default()
    };
    first.metrics.insert("a".into(), json!(1));
    let mut second = EventUpdate {
        event_id: "later".into(),
        ..EventUpdate::default()
    };
    second.metrics.insert("b".into(), json!(2));
    let mut for_session = EventUpdate {
        event_id: "sess".into(),
        ..EventUpdate::default()
    };
    for_session.outputs.insert("final".into(), json!("done"));
    let summary = store
        .write(
            &t,
            WriteBatch {
                enrichments: vec![first, second, for_session],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("enrich");
    assert_eq!(summary.deferred, 3);
    assert!(matches!(
        store.get_event(&t, "later").await,
        Err(StoreError::NotFound(_))
    ));
    write_one(
        store,
        &t,
        event("later", "sess", Some("sess"), 5.0, EventType::Tool),
    )
    .await;
    let stored = store.get_event(&t, "later").await.expect("get");
    assert_eq!(stored.metrics["a"], 1);
    assert_eq!(stored.metrics["b"], 2);
    let tree = store
        .session_tree(&t, "sess", ReadLimits::default())
        .await
        .expect("session created on first sight");
    assert_eq!(tree.session.outputs["final"], "done");
}

/// No read or enrichment crosses projects, even with identical ids.
pub async fn projects_are_isolated(store: &dyn Store) {
    let a = tenant(store, "ha", "a").await;
    let b = tenant(store, "hb", "b").await;
    let mut ea = event("same", "s", Some("s"), 1.0, EventType::Tool);
    ea.event_name = "from-a".into();
    write_one(store, &a, ea).await;
    assert!(matches!(
        store.get_event(&b, "same").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.session_tree(&b, "s", ReadLimits::default()).await,
        Err(ReadError::Store(StoreError::NotFound(_)))
    ));
    let mut en = EventUpdate {
        event_id: "same".into(),
        ..EventUpdate::default()
    };
    en.metadata.insert("b".into(), json!(true));
    let summary = store
        .write(
            &b,
            WriteBatch {
                enrichments: vec![en],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("b");
    assert_eq!(
        summary.deferred, 1,
        "b's enrichment waits for b's own event"
    );
    let mut eb = event("same", "s", Some("s"), 1.0, EventType::Tool);
    eb.event_name = "from-b".into();
    write_one(store, &b, eb).await;
    assert_eq!(
        store.get_event(&a, "same").await.expect("a").event_name,
        "from-a"
    );
    assert!(
        store
            .get_event(&a, "same")
            .await
            .expect("a")
            .metadata
            .get("b")
            .is_none()
    );
    assert_eq!(
        store.get_event(&b, "same").await.expect("b").metadata["b"],
        true
    );
}

/// A batch that fails part-way leaves no trace.
pub async fn a_failing_batch_commits_nothing(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let batch = WriteBatch {
        events: vec![
            event("ok", "s", Some("s"), 1.0, EventType::Tool),
            event("", "s", None, 1.0, EventType::Tool),
        ],
        ..WriteBatch::default()
    };
    assert!(matches!(
        store.write(&t, batch).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.get_event(&t, "ok").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.session_tree(&t, "s", ReadLimits::default()).await,
        Err(ReadError::Store(StoreError::NotFound(_)))
    ));
}

/// `events_by_ids` returns whole events of the caller's project, each once,
/// ordered by start time then id, and stops at its byte budget.
pub async fn events_by_ids_come_whole_in_time_order_within_a_byte_budget(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let other = tenant(store, "h2", "other").await;
    let mut events = Vec::new();
    for i in 0..1200 {
        let mut e = event(
            &format!("e{i:04}"),
            &format!("s{}", i % 7),
            None,
            f64::from(i / 2),
            EventType::Tool,
        );
        e.inputs.insert("text".into(), json!("x".repeat(100)));
        e.metrics.insert("score".into(), json!(i));
        events.push(e);
    }
    store
        .write(
            &t,
            WriteBatch {
                events,
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write");
    write_one(
        store,
        &other,
        event("foreign", "x", None, 0.0, EventType::Tool),
    )
    .await;

    // Newest first, with a repeat, a missing id and another project's id.
    let mut ids: Vec<String> = (0..1200).rev().map(|i| format!("e{i:04}")).collect();
    ids.extend(["e0003".into(), "missing".into(), "foreign".into()]);
    let read = store
        .events_by_ids(&t, ids.clone(), u64::MAX)
        .await
        .expect("by ids");
    let got: Vec<&str> = read.iter().map(|e| e.event_id.as_str()).collect();
    let want: Vec<String> = (0..1200).map(|i| format!("e{i:04}")).collect();
    assert_eq!(got, want, "by start time, then id, each once");
    let e7 = &read[7];
    assert_eq!(e7.inputs["text"], json!("x".repeat(100)));
    assert_eq!(e7.metrics["score"], json!(7));
    assert_eq!(e7.session_id, "s0");
    assert_eq!(e7.project_id, t.project_id);

    let small = store.events_by_ids(&t, ids, 20_000).await;
    assert!(
        matches!(small, Err(ReadError::TooLarge(ReadLimit::Bytes(20_000)))),
        "a budget below the events' size stops the read: {small:?}"
    );
    let none = store
        .events_by_ids(&t, vec!["foreign".to_string()], u64::MAX)
        .await
        .expect("foreign");
    assert!(none.is_empty());
}

/// Without `exact_total` a page counts one row past itself; events of named
/// sessions come in the order asked, whichever index finds them.
pub async fn uncounted_pages_say_whether_there_is_more(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let events: Vec<_> = (0..5)
        .map(|i| {
            event(
                &format!("e{i}"),
                &format!("s{}", i % 2),
                None,
                100.0 * f64::from(i),
                EventType::Tool,
            )
        })
        .collect();
    let summary = store
        .write(
            &t,
            WriteBatch {
                events,
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write");
    assert_eq!(summary.inserted, 5);
    let page = |offset: u64, exact_total: bool| EventQuery {
        filters: FilterSet::from_json(&json!([
            {"field": "event_type", "operator": "is", "value": "tool", "type": "string"}
        ]))
        .expect("filters"),
        limit: 2,
        offset,
        order: SortOrder::Descending,
        exact_total,
        ..EventQuery::default()
    };
    let first = store.query_events(&t, &page(0, false)).await.expect("page");
    let ids: Vec<&str> = first.items.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        (ids, first.total),
        (vec!["e4", "e3"], 3),
        "two shown and more"
    );
    let last = store.query_events(&t, &page(4, false)).await.expect("page");
    assert_eq!(
        (last.items.len(), last.total),
        (1, 5),
        "the last row, nothing after"
    );
    let counted = store.query_events(&t, &page(0, true)).await.expect("page");
    assert_eq!((counted.items.len(), counted.total), (2, 5));

    let by_session = EventQuery {
        session_ids: vec!["s1".into(), "s0".into()],
        order: SortOrder::Descending,
        ..EventQuery::default()
    };
    let found = store
        .query_events(&t, &by_session)
        .await
        .expect("by session");
    let spans: Vec<&str> = found
        .items
        .iter()
        .map(|e| e.event_id.as_str())
        .filter(|id| id.starts_with('e'))
        .collect();
    assert_eq!(spans, ["e4", "e3", "e2", "e1", "e0"]);
    assert!(
        found
            .items
            .windows(2)
            .all(|w| w[0].start_time >= w[1].start_time),
        "newest first, the sessions' own events among them"
    );
}
