//! Behaviour suite cases for the commit sequence: every stored or changed
//! event is numbered, and what changed after a number reads back in order,
//! filtered, bounded and per project.
//! Run through [`crate::store_behaviour_suite!`] with the other cases.
//!
//! Test code: cases panic on a failed assertion.
// Test support: a failed expectation is the calling test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use honeyhive_model::filter::{FieldPath, Filter, FilterSet, FilterValue, Operator};
use honeyhive_model::{Event, EventType, EventUpdate};
use serde_json::json;

use super::write_one;
use crate::store::{ChangeKind, ChangesPage, ChangesQuery, ReadError, Store, Tenant, WriteBatch};

async fn tenant(store: &dyn Store, hash: &str, project: &str) -> Tenant {
    store.put_api_key(hash, project).await.expect("put key")
}

fn event(id: &str, kind: EventType) -> Event {
    Event {
        event_id: id.into(),
        session_id: "s1".into(),
        parent_id: Some("s1".into()),
        event_type: kind,
        event_name: format!("name-{id}"),
        source: "test".into(),
        start_time: 100.0,
        end_time: 110.0,
        duration: 10.0,
        ..Event::default()
    }
}

fn everything_after(after: u64, up_to: u64) -> ChangesQuery {
    ChangesQuery {
        after,
        up_to,
        filters: FilterSet::default(),
        limit: 1000,
        max_bytes: 1 << 20,
    }
}

async fn changes(store: &dyn Store, t: &Tenant, query: &ChangesQuery) -> ChangesPage {
    store.changes_after(t, query).await.expect("changes")
}

fn seen(page: &ChangesPage) -> Vec<(&str, ChangeKind)> {
    page.items
        .iter()
        .map(|c| (c.event.event_id.as_str(), c.kind))
        .collect()
}

async fn enrich(store: &dyn Store, t: &Tenant, id: &str, score: i64) {
    let mut update = EventUpdate {
        event_id: id.into(),
        ..EventUpdate::default()
    };
    update.metrics.insert("score".into(), json!(score));
    store
        .write(
            t,
            WriteBatch {
                enrichments: vec![update],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("enrich");
}

/// Every stored or changed event takes a number above all earlier ones; what
/// changed after a number reads back in order, each event once as it stands,
/// within the range, filters, limits and project asked for.
pub async fn changes_are_numbered_in_commit_order_and_read_after_a_number(store: &dyn Store) {
    use ChangeKind::{Created, Updated};
    let t = tenant(store, "h", "p").await;
    let other = tenant(store, "h2", "q").await;
    assert_eq!(store.last_seq(&t).await.expect("last"), 0, "nothing yet");
    let batch = WriteBatch {
        events: vec![event("a", EventType::Tool), event("b", EventType::Model)],
        ..WriteBatch::default()
    };
    store.write(&t, batch).await.expect("write");
    let first = store.last_seq(&t).await.expect("last");
    let page = changes(store, &t, &everything_after(0, first)).await;
    // The session the events name is created with them.
    assert_eq!(
        seen(&page),
        [("a", Created), ("b", Created), ("s1", Created)]
    );
    assert!(page.items.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(page.items.last().map(|c| c.seq), Some(first));
    assert!(!page.more);

    write_one(store, &other, event("x", EventType::Tool)).await;
    assert!(store.last_seq(&other).await.expect("last") > first);
    assert_eq!(store.last_seq(&t).await.expect("last"), first);

    enrich(store, &t, "a", 1).await;
    let second = store.last_seq(&t).await.expect("last");
    assert!(second > first);
    let since = changes(store, &t, &everything_after(first, second)).await;
    assert_eq!(seen(&since), [("a", Updated)]);
    assert_eq!(since.items[0].event.metrics["score"], 1);
    enrich(store, &t, "a", 1).await;
    assert_eq!(
        store.last_seq(&t).await.expect("last"),
        second,
        "an update that changes nothing is no change"
    );

    let all = changes(store, &t, &everything_after(0, second)).await;
    assert_eq!(
        seen(&all),
        [("b", Created), ("s1", Created), ("a", Created)]
    );
    let up_to_first = changes(store, &t, &everything_after(0, first)).await;
    assert_eq!(seen(&up_to_first), [("b", Created), ("s1", Created)]);

    let models = ChangesQuery {
        filters: FilterSet {
            filters: vec![Filter {
                field: FieldPath::parse("event_type").expect("field"),
                operator: Operator::Is,
                value: FilterValue::Text("model".into()),
            }],
        },
        ..everything_after(0, second)
    };
    assert_eq!(seen(&changes(store, &t, &models).await), [("b", Created)]);
    assert_eq!(store.count_changes(&t, &models).await.expect("count"), 1);
    assert_eq!(
        store
            .count_changes(&t, &everything_after(0, second))
            .await
            .expect("count"),
        3
    );

    let one = ChangesQuery {
        limit: 1,
        ..everything_after(0, second)
    };
    let page = changes(store, &t, &one).await;
    assert_eq!((seen(&page), page.more), (vec![("b", Created)], true));
    let tiny = ChangesQuery {
        max_bytes: 1,
        ..everything_after(0, second)
    };
    assert!(matches!(
        store.changes_after(&t, &tiny).await,
        Err(ReadError::TooLarge(_))
    ));
}
