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
//! The cases live in submodules by subject; the store-wide ones (keys,
//! readiness) and the helpers the submodules share are here.
//!
//! Test code: cases panic on a failed assertion.
// Test support: a failed expectation is the calling test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use honeyhive_model::{Event, EventType};

use super::{Store, Tenant, WriteBatch, WriteSummary};

mod changes;
mod deep_json;
mod events;
mod experiments;
mod sessions;
mod timeseries;
mod updates;

pub use changes::*;
pub use deep_json::*;
pub use events::*;
pub use experiments::*;
pub use sessions::*;
pub use timeseries::*;
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
            uncounted_pages_say_whether_there_is_more,
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
            changes_are_numbered_in_commit_order_and_read_after_a_number,
            metric_buckets_count_what_commits_and_follow_enrichments
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

/// Writes a batch of `event` alone, as most cases store their events one at
/// a time; a failed write fails the case.
async fn write_one(store: &dyn Store, tenant: &Tenant, event: Event) -> WriteSummary {
    store
        .write(
            tenant,
            WriteBatch {
                events: vec![event],
                ..WriteBatch::default()
            },
        )
        .await
        .expect("write one event")
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

/// The readiness probe passes on a healthy store.
pub async fn store_reports_writable(store: &dyn Store) {
    store.check_writable().await.expect("writable");
    let t = tenant(store, "h", "p").await;
    write_one(store, &t, event("e", "s", None, 1.0, EventType::Tool)).await;
    store
        .check_writable()
        .await
        .expect("still writable after a write");
    assert_eq!(store.get_event(&t, "e").await.expect("get").event_id, "e");
}
