//! The behaviour suite every store backend must pass, written against the
//! traits only. Each case takes a fresh, empty store.
//!
//! A backend's tests instantiate it with [`crate::store_behaviour_suite!`]
//! (as `tests/it/store_suite.rs` does for SQLite):
//!
//! ```text
//! honeyhive_server::store_behaviour_suite!(|| {
//!     let dir = honeyhive_server::testing::TempDir::new();
//!     let store = SqliteStore::open(dir.path(), SyncMode::Normal).unwrap();
//!     (store, dir) // the second value is kept alive for the case's duration
//! });
//! ```
//!
//! Test code: cases panic on a failed assertion.
// Test support: a failed expectation is the calling test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use honeyhive_model::{Event, EventType, EventUpdate};
use serde_json::json;

use honeyhive_model::filter::{FieldPath, Filter, FilterSet, FilterValue, Operator};

use super::{
    ReadError, ReadLimit, ReadLimits, RunEventsQuery, SessionSighting, Store, StoreError, Tenant,
    WriteBatch,
};

mod changes;
mod deep_json;
mod experiments;
mod updates;

pub use changes::*;
pub use deep_json::*;
pub use experiments::*;
pub use updates::*;

/// Instantiates one `#[test]` per suite case for a store factory
/// `|| (store, guard)`; the guard (e.g. a temp dir) lives as long as the case.
#[macro_export]
macro_rules! store_behaviour_suite {
    ($factory:expr) => {
        $crate::store_behaviour_suite!(@cases $factory;
            keys_map_to_exactly_one_project,
            events_read_back_as_a_linked_tree,
            retried_writes_do_not_duplicate,
            enrichment_merges_into_a_stored_event,
            enrichment_before_its_event_is_applied_on_arrival,
            session_events_merge_and_sessions_are_created_on_first_sight,
            projects_are_isolated,
            a_failing_batch_commits_nothing,
            store_reports_writable,
            run_events_cover_listed_and_tagged_sessions,
            run_events_of_a_big_run_come_whole_and_grouped,
            events_by_ids_come_whole_in_time_order_within_a_byte_budget,
            run_patches_merge_and_racing_ones_all_land,
            resource_patches_merge_and_racing_ones_all_land,
            dataset_membership_stays_consistent_on_both_sides,
            racing_additions_to_a_dataset_all_land,
            catalog_listings_page_and_count,
            event_payloads_come_in_order_within_the_byte_limit,
            a_key_sees_and_changes_only_its_own_project,
            deep_json_is_stored_within_the_depth_bound,
            filter_pushdown_agrees_with_the_evaluator,
            event_queries_page_order_range_and_isolate,
            runs_datasets_and_datapoints_round_trip_per_project,
            changes_are_numbered_in_commit_order_and_read_after_a_number
        );
    };
    (@cases $factory:expr; $($case:ident),*) => {
        $(
            #[test]
            fn $case() {
                let runtime = ::tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                let (store, _guard) = ($factory)();
                runtime.block_on($crate::store::suite::$case(&store));
            }
        )*
    };
}

async fn tenant(store: &dyn Store, hash: &str, project: &str) -> Tenant {
    store.put_api_key(hash, project).await.expect("put key")
}

fn event(id: &str, session: &str, parent: Option<&str>, start: f64, kind: EventType) -> Event {
    Event {
        event_id: id.into(),
        session_id: session.into(),
        parent_id: parent.map(str::to_string),
        event_type: kind,
        event_name: format!("name-{id}"),
        source: "test".into(),
        start_time: start,
        end_time: start + 10.0,
        duration: 10.0,
        ..Event::default()
    }
}

/// Keys resolve to their project; unknown keys to nothing; re-putting is idempotent.
pub async fn keys_map_to_exactly_one_project(store: &dyn Store) {
    let a = tenant(store, "hash-a", "alpha").await;
    let again = tenant(store, "hash-a", "alpha").await;
    assert_eq!(a, again);
    let b = tenant(store, "hash-b", "beta").await;
    assert_ne!(a.project_id, b.project_id);
    let a2 = tenant(store, "hash-a2", "alpha").await;
    assert_eq!(a.project_id, a2.project_id, "two keys of one project");
    assert_eq!(
        store.tenant_for_key("hash-a").await.expect("read"),
        Some(a.clone())
    );
    assert_eq!(store.tenant_for_key("unknown").await.expect("read"), None);
    assert_eq!(a.project_name, "alpha");
}

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
    let batch = WriteBatch {
        events: vec![first.clone()],
        ..WriteBatch::default()
    };
    store.write(&t, batch.clone()).await.expect("write");
    let mut retry = batch;
    retry.events[0].inputs.insert("v".into(), json!(2));
    let summary = store.write(&t, retry).await.expect("retry");
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
    store
        .write(
            &t,
            WriteBatch {
                events: vec![e],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write");
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
    store
        .write(
            &t,
            WriteBatch {
                events: vec![event("later", "sess", Some("sess"), 5.0, EventType::Tool)],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write");
    let stored = store.get_event(&t, "later").await.expect("get");
    assert_eq!(stored.metrics["a"], 1);
    assert_eq!(stored.metrics["b"], 2);
    let tree = store
        .session_tree(&t, "sess", ReadLimits::default())
        .await
        .expect("session created on first sight");
    assert_eq!(tree.session.outputs["final"], "done");
}

/// Sessions appear on first sight; an explicit session event merges into one.
pub async fn session_events_merge_and_sessions_are_created_on_first_sight(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    store
        .write(
            &t,
            WriteBatch {
                events: vec![event("e", "s", Some("s"), 50.0, EventType::Tool)],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write");
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
    store
        .write(
            &t,
            WriteBatch {
                events: vec![explicit],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("merge");
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
        store
            .write(
                &t,
                WriteBatch {
                    events: vec![span],
                    ..WriteBatch::default()
                },
            )
            .await
            .expect("span");
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

/// No read or enrichment crosses projects, even with identical ids.
pub async fn projects_are_isolated(store: &dyn Store) {
    let a = tenant(store, "ha", "a").await;
    let b = tenant(store, "hb", "b").await;
    let mut ea = event("same", "s", Some("s"), 1.0, EventType::Tool);
    ea.event_name = "from-a".into();
    store
        .write(
            &a,
            WriteBatch {
                events: vec![ea],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("a");
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
    store
        .write(
            &b,
            WriteBatch {
                events: vec![eb],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("b");
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

/// The readiness probe passes on a healthy store.
pub async fn store_reports_writable(store: &dyn Store) {
    store.check_writable().await.expect("writable");
    let t = tenant(store, "h", "p").await;
    store
        .write(
            &t,
            WriteBatch {
                events: vec![event("e", "s", None, 1.0, EventType::Tool)],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write");
    store
        .check_writable()
        .await
        .expect("still writable after a write");
    assert_eq!(store.get_event(&t, "e").await.expect("get").event_id, "e");
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
    store
        .write(
            &other,
            WriteBatch {
                events: vec![elsewhere],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write other project");
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
    store
        .write(
            &other,
            WriteBatch {
                events: vec![event("foreign", "x", None, 0.0, EventType::Tool)],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write other project");

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
