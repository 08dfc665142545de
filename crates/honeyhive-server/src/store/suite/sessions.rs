//! Behaviour suite cases for sessions: created on first sight, merged with an
//! explicit session event and widened by later spans; a run's events read back
//! by the sessions listed or tagged with the run, grouped per session.
//! Run through [`crate::store_behaviour_suite!`] with the other cases.
//!
//! Test code: cases panic on a failed assertion.
// Test support: a failed expectation is the calling test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use honeyhive_model::filter::{FieldPath, Filter, FilterSet, FilterValue, Operator};
use honeyhive_model::{Event, EventType, EventUpdate};
use serde_json::json;

use super::{event, tenant, write_one};
use crate::store::{ReadLimits, RunEventsQuery, Store, WriteBatch};

/// Sessions appear on first sight; an explicit session event merges into one.
pub async fn session_events_merge_and_sessions_are_created_on_first_sight(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    write_one(store, &t, event("e", "s", Some("s"), 50.0, EventType::Tool)).await;
    let tree = store
        .session_tree(&t, "s", ReadLimits::default())
        .await
        .expect("implicit session");
    assert_eq!(tree.session.start_time, 50.0);
    assert_eq!(
        tree.session.event_name, "p",
        "unnamed sessions take the project name"
    );
    let mut explicit = event("s", "s", None, 10.0, EventType::Session);
    explicit.event_name = "started".into();
    explicit.inputs.insert("q".into(), json!("hi"));
    write_one(store, &t, explicit).await;
    let tree = store
        .session_tree(&t, "s", ReadLimits::default())
        .await
        .expect("tree");
    assert_eq!(tree.session.event_name, "started");
    assert_eq!(tree.session.inputs["q"], "hi");
    assert_eq!(tree.session.start_time, 10.0);
    assert_eq!(tree.session.end_time, 60.0, "window widened, not shrunk");
    assert_eq!(tree.events.len(), 1);

    // Later spans widen the window at either end, or leave it as it is.
    for (id, start, end) in [
        ("inside", 20.0, 30.0),
        ("later", 40.0, 90.0),
        ("earlier", 4.0, 8.0),
    ] {
        let mut span = event(id, "s", Some("s"), start, EventType::Tool);
        span.end_time = end;
        write_one(store, &t, span).await;
        let session = store
            .session_tree(&t, "s", ReadLimits::default())
            .await
            .expect("tree")
            .session;
        let expected = match id {
            "inside" => (10.0, 60.0),
            "later" => (10.0, 90.0),
            _ => (4.0, 90.0),
        };
        assert_eq!(
            (session.start_time, session.end_time),
            expected,
            "after {id}"
        );
        assert_eq!(session.duration, expected.1 - expected.0, "after {id}");
    }
    let tree = store
        .session_tree(&t, "s", ReadLimits::default())
        .await
        .expect("tree");
    let order: Vec<&str> = tree.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(order, ["earlier", "inside", "later", "e"]);
}

/// `run_events` returns the slim rows of the listed sessions and of the sessions
/// tagged with the run (also when the tag arrives by enrichment), grouped by
/// session and ordered by start time then id, filtered, bounded, and only from
/// the caller's project.
pub async fn run_events_cover_listed_and_tagged_sessions(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let other = tenant(store, "h2", "other").await;
    let tagged = |mut e: Event, run: serde_json::Value| {
        e.metadata.insert("run_id".into(), run);
        e
    };
    let mut listed_session = event("s1", "s1", None, 100.0, EventType::Session);
    listed_session
        .metadata
        .insert("datapoint_id".into(), json!("dp-1"));
    let mut scored = event("b-chain", "s1", Some("s1"), 110.0, EventType::Chain);
    scored.metrics.insert("exact".into(), json!(true));
    scored.error = Some("boom".into());
    let mut numeric_datapoint = event("s3", "s3", None, 300.0, EventType::Session);
    numeric_datapoint
        .metadata
        .insert("datapoint_id".into(), json!(7));
    let events = vec![
        listed_session,
        scored,
        // Same start time as b-chain: the id breaks the tie.
        event("a-tool", "s1", Some("b-chain"), 110.0, EventType::Tool),
        tagged(
            event("s2-child", "s2", Some("s2"), 200.0, EventType::Tool),
            json!("r1"),
        ),
        event("s2", "s2", None, 190.0, EventType::Session),
        tagged(numeric_datapoint, json!("r1")),
        // A run id that is not a string tags nothing, nor does another run's.
        tagged(event("s4", "s4", None, 400.0, EventType::Session), json!(1)),
        tagged(
            event("s5", "s5", None, 500.0, EventType::Session),
            json!("r2"),
        ),
        event("s6", "s6", None, 600.0, EventType::Session),
    ];
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
    let elsewhere = tagged(
        event("x1", "x1", None, 1.0, EventType::Session),
        json!("r1"),
    );
    write_one(store, &other, elsewhere).await;
    // s6 joins the run through an enrichment of its metadata.
    let mut join = EventUpdate {
        event_id: "s6".into(),
        ..EventUpdate::default()
    };
    join.metadata.insert("run_id".into(), json!("r1"));
    store
        .write(
            &t,
            WriteBatch {
                enrichments: vec![join],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("enrich");

    let query = RunEventsQuery {
        session_ids: vec!["s1".into(), "missing".into(), "s1".into()],
        tagged_run_id: Some("r1".into()),
        filters: FilterSet::default(),
        limit: 1000,
    };
    let rows = store.run_events(&t, &query).await.expect("run events");
    let mut sessions: Vec<&str> = rows.iter().map(|e| e.session_id.as_str()).collect();
    sessions.dedup();
    let grouped = sessions.len();
    sessions.sort_unstable();
    sessions.dedup();
    assert_eq!(
        grouped,
        sessions.len(),
        "each session's events are contiguous"
    );
    assert_eq!(sessions, ["s1", "s2", "s3", "s6"]);
    let ids_of = |session: &str| -> Vec<&str> {
        rows.iter()
            .filter(|e| e.session_id == session)
            .map(|e| e.event_id.as_str())
            .collect()
    };
    assert_eq!(ids_of("s1"), ["s1", "a-tool", "b-chain"]);
    assert_eq!(ids_of("s2"), ["s2", "s2-child"]);
    let by_id = |id: &str| rows.iter().find(|e| e.event_id == id).expect("row present");
    assert_eq!(by_id("s1").datapoint_id.as_deref(), Some("dp-1"));
    assert_eq!(by_id("s1").event_type, EventType::Session);
    assert_eq!(
        by_id("s3").datapoint_id,
        None,
        "a numeric datapoint id is not one"
    );
    let chain = by_id("b-chain");
    assert_eq!(chain.metrics["exact"], json!(true));
    assert_eq!(chain.error.as_deref(), Some("boom"));
    assert_eq!(chain.parent_id.as_deref(), Some("s1"));
    assert_eq!(chain.event_name, "name-b-chain");
    assert_eq!(chain.start_time, 110.0);

    let sessions_only = RunEventsQuery {
        filters: FilterSet {
            filters: vec![Filter {
                field: FieldPath::parse("event_type").expect("field"),
                operator: Operator::Is,
                value: FilterValue::Text("session".into()),
            }],
        },
        ..query.clone()
    };
    let rows = store
        .run_events(&t, &sessions_only)
        .await
        .expect("filtered");
    let mut ids: Vec<&str> = rows.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["s1", "s2", "s3", "s6"]);

    let bounded = RunEventsQuery {
        limit: 2,
        ..query.clone()
    };
    assert_eq!(
        store.run_events(&t, &bounded).await.expect("bounded").len(),
        2
    );
    let untagged = RunEventsQuery {
        tagged_run_id: None,
        ..query
    };
    let rows = store.run_events(&t, &untagged).await.expect("listed only");
    assert!(rows.iter().all(|e| e.session_id == "s1"));
    assert_eq!(rows.len(), 3);
}

/// Enough sessions that a backend may read them in parts (SQLite does, side by
/// side): every event arrives once, grouped by session and ordered within it.
pub async fn run_events_of_a_big_run_come_whole_and_grouped(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    const SESSIONS: usize = 2600;
    let mut events = Vec::with_capacity(SESSIONS * 3);
    for i in 0..SESSIONS {
        let session = format!("s{i:05}");
        let start = (SESSIONS - i) as f64;
        events.push(event(&session, &session, None, start, EventType::Session));
        // Two children at one start time: the id breaks the tie.
        for child in ["z", "a"] {
            events.push(event(
                &format!("{child}{i:05}"),
                &session,
                Some(&session),
                start + 1.0,
                EventType::Chain,
            ));
        }
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
    // Listed newest first, with repeats and sessions that do not exist.
    let mut listed: Vec<String> = (0..SESSIONS).rev().map(|i| format!("s{i:05}")).collect();
    listed.extend(["s00007".to_string(), "nowhere".to_string()]);
    let query = RunEventsQuery {
        session_ids: listed,
        tagged_run_id: None,
        filters: FilterSet::default(),
        limit: 100_000,
    };
    let rows = store.run_events(&t, &query).await.expect("run events");
    assert_eq!(rows.len(), SESSIONS * 3);
    for group in rows.chunks(3) {
        let session = &group[0].session_id;
        let suffix = &session[1..];
        let ids: Vec<&str> = group.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(
            ids,
            [session.clone(), format!("a{suffix}"), format!("z{suffix}")]
        );
        assert!(group.iter().all(|e| &e.session_id == session));
    }
    let mut sessions: Vec<&str> = rows.iter().map(|e| e.session_id.as_str()).collect();
    sessions.dedup();
    assert_eq!(
        sessions.len(),
        SESSIONS,
        "each session's events are contiguous"
    );
    sessions.sort_unstable();
    sessions.dedup();
    assert_eq!(sessions.len(), SESSIONS);

    let bounded = RunEventsQuery {
        limit: 5000,
        ..query
    };
    assert_eq!(
        store.run_events(&t, &bounded).await.expect("bounded").len(),
        5000
    );
}
