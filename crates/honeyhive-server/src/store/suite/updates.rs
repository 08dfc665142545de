//! Behaviour suite cases for updates of runs, datasets, datapoints and events:
//! patches applied in one step (also when many race), dataset membership kept
//! consistent on both sides, paged listings, event payload reads and the key's
//! own project.
//! Run through [`crate::store_behaviour_suite!`] with the other cases.
//!
//! Test code: cases panic on a failed assertion.
// Test support: a failed expectation is the calling test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use honeyhive_model::run::{Run, RunStatus, RunUpdate};
use honeyhive_model::{Event, EventType};
use serde_json::{Map, json};

use crate::store::{
    Datapoint, DatapointPatch, DatapointQuery, DatapointSelection, Dataset, DatasetPatch,
    DatasetQuery, ProjectPatch, Resource, ResourceKind, ResourcePatch, RunPatch, Store, StoreError,
    Tenant, WriteBatch,
};

/// Updates raced in the concurrency cases.
const RACERS: usize = 16;

async fn tenant(store: &dyn Store, hash: &str, project: &str) -> Tenant {
    store.put_api_key(hash, project).await.expect("put key")
}

/// Polls every future until all are done, so their store calls are in flight
/// together (a backend that reads and writes in separate steps loses updates).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn datapoint(id: &str, datasets: &[&str]) -> Datapoint {
    Datapoint {
        id: id.into(),
        linked_datasets: datasets.iter().map(|d| d.to_string()).collect(),
        created_at: 1.0,
        updated_at: 1.0,
        ..Datapoint::default()
    }
}

fn dataset(id: &str, members: &[&str]) -> Dataset {
    Dataset {
        id: id.into(),
        name: format!("name-{id}"),
        datapoint_ids: members.iter().map(|m| m.to_string()).collect(),
        created_at: 1.0,
        updated_at: 1.0,
        ..Dataset::default()
    }
}

async fn members(store: &dyn Store, t: &Tenant, dataset_id: &str) -> Vec<String> {
    let query = DatasetQuery {
        dataset_id: Some(dataset_id.into()),
        ..DatasetQuery::default()
    };
    let page = store.list_datasets(t, &query).await.expect("list datasets");
    let listed = page
        .items
        .first()
        .expect("dataset listed")
        .datapoint_ids
        .clone();
    let by_dataset = DatapointQuery::whole(DatapointSelection::Dataset(dataset_id.into()));
    let rows: Vec<String> = store
        .list_datapoints(t, &by_dataset)
        .await
        .expect("list datapoints")
        .items
        .into_iter()
        .map(|d| d.id)
        .collect();
    let known: Vec<String> = listed
        .iter()
        .filter(|id| rows.contains(id))
        .cloned()
        .collect();
    assert_eq!(rows, known, "member rows follow the dataset's list");
    listed
}

async fn links(store: &dyn Store, t: &Tenant, datapoint_id: &str) -> Vec<String> {
    let query = DatapointQuery::whole(DatapointSelection::Ids(vec![datapoint_id.into()]));
    let mut page = store.list_datapoints(t, &query).await.expect("list");
    page.items.pop().expect("datapoint stored").linked_datasets
}

/// A run patch merges objects and replaces the rest; racing patches all land,
/// also when failing ones share their commit; a missing run is `NotFound`.
pub async fn run_patches_merge_and_racing_ones_all_land(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let other = tenant(store, "h2", "other").await;
    let mut run = Run {
        run_id: "r".into(),
        status: RunStatus::Pending,
        event_ids: vec!["old".into()],
        ..Run::default()
    };
    run.metadata.insert("kept".into(), json!(true));
    store.put_run(&t, &run).await.expect("put run");

    let patch = RunPatch {
        update: RunUpdate {
            status: Some(RunStatus::Completed),
            event_ids: Some(vec!["s1".into()]),
            metadata: Some(Map::from_iter([("added".to_string(), json!(1))])),
            ..RunUpdate::default()
        },
        updated_at: 5.0,
    };
    let updated = store.update_run(&t, "r", &patch).await.expect("update");
    assert_eq!(updated, store.get_run(&t, "r").await.expect("get"));
    assert_eq!(updated.status, RunStatus::Completed);
    assert_eq!(updated.event_ids, ["s1"]);
    assert_eq!(updated.updated_at, 5.0);
    assert_eq!(updated.metadata["kept"], true);
    assert_eq!(updated.metadata["added"], 1);

    let t = &t;
    let racing = (0..RACERS).map(|i| {
        let mut patch = RunPatch::default();
        patch.update.metadata = Some(Map::from_iter([(format!("k{i}"), json!(i))]));
        // Every fourth names no run: its failure must not undo its neighbours.
        let id = if i % 4 == 3 { "missing" } else { "r" };
        async move { store.update_run(t, id, &patch).await }
    });
    for (i, outcome) in join_all(racing.collect()).await.into_iter().enumerate() {
        match outcome {
            Ok(_) => assert_ne!(i % 4, 3),
            Err(StoreError::NotFound(_)) => assert_eq!(i % 4, 3),
            Err(e) => panic!("update {i}: {e}"),
        }
    }
    let stored = store.get_run(t, "r").await.expect("get");
    for i in (0..RACERS).filter(|i| i % 4 != 3) {
        assert_eq!(stored.metadata[&format!("k{i}")], json!(i), "k{i} landed");
    }
    assert!(matches!(
        store.update_run(&other, "r", &RunPatch::default()).await,
        Err(StoreError::NotFound(_))
    ));
}

/// A document patch replaces fields key by key; racing patches all land.
pub async fn resource_patches_merge_and_racing_ones_all_land(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let mut body = serde_json::Map::new();
    body.insert("criteria".into(), json!("x"));
    let metric = Resource {
        kind: ResourceKind::Metric,
        id: "m".into(),
        name: "accuracy".into(),
        body,
        created_at: 1.0,
        updated_at: 1.0,
    };
    store.put_resource(&t, &metric).await.expect("put");
    let mut rename = ResourcePatch {
        name: Some("acc".into()),
        updated_at: 2.0,
        ..ResourcePatch::default()
    };
    rename.fields.insert("name".into(), json!("acc"));
    let renamed = store
        .update_resource(&t, ResourceKind::Metric, "m", &rename)
        .await
        .expect("update");
    assert_eq!((renamed.name.as_str(), renamed.updated_at), ("acc", 2.0));
    assert_eq!(renamed.body["criteria"], "x");

    let t = &t;
    let racing = (0..RACERS).map(|i| {
        let mut patch = ResourcePatch::default();
        patch.fields.insert(format!("f{i}"), json!(i));
        async move {
            store
                .update_resource(t, ResourceKind::Metric, "m", &patch)
                .await
        }
    });
    for outcome in join_all(racing.collect()).await {
        outcome.expect("update");
    }
    let stored = store
        .list_resources(t, ResourceKind::Metric)
        .await
        .expect("list");
    for i in 0..RACERS {
        assert_eq!(stored[0].body[&format!("f{i}")], json!(i), "f{i} landed");
    }
    assert!(matches!(
        store
            .update_resource(
                t,
                ResourceKind::Configuration,
                "m",
                &ResourcePatch::default()
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// Every membership change keeps the dataset's list, its member rows and the
/// datapoints' `linked_datasets` in agreement.
pub async fn dataset_membership_stays_consistent_on_both_sides(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    store.put_dataset(&t, &dataset("a", &[])).await.expect("a");
    store.put_dataset(&t, &dataset("b", &[])).await.expect("b");

    // Created into datasets: appended to each, in order.
    store
        .put_datapoints(&t, &[datapoint("d1", &["a"]), datapoint("d2", &["a", "b"])])
        .await
        .expect("create");
    assert_eq!(members(store, &t, "a").await, ["d1", "d2"]);
    assert_eq!(members(store, &t, "b").await, ["d2"]);

    // A dataset naming a missing one stores nothing at all.
    let refused = store
        .put_datapoints(&t, &[datapoint("d3", &["a"]), datapoint("d4", &["nope"])])
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "{refused:?}"
    );
    assert_eq!(members(store, &t, "a").await, ["d1", "d2"]);
    let d3 = DatapointQuery::whole(DatapointSelection::Ids(vec!["d3".into()]));
    assert!(
        store
            .list_datapoints(&t, &d3)
            .await
            .expect("list")
            .items
            .is_empty()
    );

    // A datapoint's new links move it between datasets.
    let relink = DatapointPatch {
        linked_datasets: Some(vec!["b".into()]),
        updated_at: 3.0,
        ..DatapointPatch::default()
    };
    let moved = store
        .update_datapoint(&t, "d1", &relink)
        .await
        .expect("relink");
    assert_eq!(moved.linked_datasets, ["b"]);
    assert_eq!(members(store, &t, "a").await, ["d2"]);
    assert_eq!(members(store, &t, "b").await, ["d2", "d1"]);
    let to_missing = DatapointPatch {
        linked_datasets: Some(vec!["nope".into()]),
        ..DatapointPatch::default()
    };
    assert!(matches!(
        store.update_datapoint(&t, "d1", &to_missing).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        links(store, &t, "d1").await,
        ["b"],
        "a refused patch changes nothing"
    );

    // A dataset's new member list relinks the datapoints.
    let reorder = DatasetPatch {
        datapoint_ids: Some(vec!["d1".into(), "d1".into(), "ghost".into()]),
        updated_at: 4.0,
        ..DatasetPatch::default()
    };
    let b = store
        .update_dataset(&t, "b", &reorder)
        .await
        .expect("update");
    assert_eq!(b.datapoint_ids, ["d1", "ghost"], "duplicates dropped");
    assert_eq!(links(store, &t, "d2").await, ["a"]);
    assert_eq!(links(store, &t, "d1").await, ["b"]);

    // Removal from one dataset, on both sides.
    assert!(
        store
            .remove_from_dataset(&t, "a", "d2")
            .await
            .expect("remove")
    );
    assert!(
        !store
            .remove_from_dataset(&t, "a", "d2")
            .await
            .expect("again")
    );
    assert!(members(store, &t, "a").await.is_empty());
    assert!(links(store, &t, "d2").await.is_empty());
    assert!(matches!(
        store.remove_from_dataset(&t, "nope", "d2").await,
        Err(StoreError::NotFound(_))
    ));

    // A deleted dataset is unlinked; a deleted datapoint leaves every list.
    store
        .put_datapoints(&t, &[datapoint("d5", &["a", "b"])])
        .await
        .expect("d5");
    assert!(store.delete_dataset(&t, "a").await.expect("delete a"));
    assert_eq!(links(store, &t, "d5").await, ["b"]);
    assert!(store.delete_datapoint(&t, "d1").await.expect("delete d1"));
    assert_eq!(members(store, &t, "b").await, ["ghost", "d5"]);
}

/// Racing additions to one dataset all land, also next to failing ones.
pub async fn racing_additions_to_a_dataset_all_land(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    store.put_dataset(&t, &dataset("a", &[])).await.expect("a");
    store
        .put_datapoints(&t, &[datapoint("linked-later", &[])])
        .await
        .expect("dp");
    let t = &t;
    let racing = (0..RACERS).map(|i| async move {
        match i % 4 {
            0 => {
                let patch = DatapointPatch {
                    linked_datasets: Some(vec!["a".into()]),
                    ..DatapointPatch::default()
                };
                store
                    .update_datapoint(t, "linked-later", &patch)
                    .await
                    .map(|_| ())
            }
            3 => {
                store
                    .put_datapoints(t, &[datapoint(&format!("d{i}"), &["missing"])])
                    .await
            }
            _ => {
                store
                    .put_datapoints(t, &[datapoint(&format!("d{i}"), &["a"])])
                    .await
            }
        }
    });
    for (i, outcome) in join_all(racing.collect()).await.into_iter().enumerate() {
        assert_eq!(outcome.is_ok(), i % 4 != 3, "outcome {i}: {outcome:?}");
    }
    let mut listed = members(store, t, "a").await;
    listed.sort();
    let mut expected: Vec<String> = (0..RACERS)
        .filter(|i| i % 4 == 1 || i % 4 == 2)
        .map(|i| format!("d{i}"))
        .chain(std::iter::once("linked-later".to_string()))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
}

/// Datasets and datapoints list in pages with the total count.
pub async fn catalog_listings_page_and_count(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    for i in 0..5 {
        let mut d = dataset(&format!("ds{i}"), &[]);
        d.created_at = f64::from(i);
        store.put_dataset(&t, &d).await.expect("dataset");
    }
    let page = store
        .list_datasets(
            &t,
            &DatasetQuery {
                limit: 2,
                offset: 2,
                ..DatasetQuery::default()
            },
        )
        .await
        .expect("page");
    let ids: Vec<&str> = page.items.iter().map(|d| d.id.as_str()).collect();
    assert_eq!((ids, page.total), (vec!["ds2", "ds3"], 5));

    let dps: Vec<Datapoint> = (0..5)
        .map(|i| {
            let mut dp = datapoint(&format!("d{i}"), &["ds0"]);
            dp.created_at = f64::from(i);
            dp
        })
        .collect();
    store.put_datapoints(&t, &dps).await.expect("datapoints");
    for selection in [
        DatapointSelection::Dataset("ds0".into()),
        DatapointSelection::All,
    ] {
        let query = DatapointQuery {
            selection,
            limit: 2,
            offset: 3,
        };
        let page = store.list_datapoints(&t, &query).await.expect("page");
        let ids: Vec<&str> = page.items.iter().map(|d| d.id.as_str()).collect();
        assert_eq!((ids, page.total), (vec!["d3", "d4"], 5), "{query:?}");
    }
    let by_ids = DatapointQuery::whole(DatapointSelection::Ids(vec![
        "d4".into(),
        "nope".into(),
        "d0".into(),
    ]));
    let page = store.list_datapoints(&t, &by_ids).await.expect("ids");
    let ids: Vec<&str> = page.items.iter().map(|d| d.id.as_str()).collect();
    assert_eq!((ids, page.total), (vec!["d4", "d0"], 2));
}

fn payload_event(id: &str, input: i64) -> Event {
    let mut e = Event {
        event_id: id.into(),
        session_id: "s".into(),
        parent_id: Some("s".into()),
        event_type: EventType::Tool,
        event_name: id.into(),
        source: "test".into(),
        start_time: 1.0,
        end_time: 2.0,
        duration: 1.0,
        ..Event::default()
    };
    e.inputs.insert("q".into(), json!(input));
    e.outputs.insert("a".into(), json!(input * 10));
    e.feedback
        .insert("ground_truth".into(), json!({"a": input}));
    e
}

/// Event payloads come in the order asked (repeats kept), from this project
/// only, and stop at the byte limit.
pub async fn event_payloads_come_in_order_within_the_byte_limit(store: &dyn Store) {
    let t = tenant(store, "h", "p").await;
    let other = tenant(store, "h2", "other").await;
    let batch = WriteBatch {
        events: vec![payload_event("e1", 1), payload_event("e2", 2)],
        ..WriteBatch::default()
    };
    store.write(&t, batch).await.expect("write");
    let ids: Vec<String> = ["e2", "e1", "e2"].iter().map(|s| s.to_string()).collect();
    let read = store
        .event_payloads(&t, &ids, u64::MAX)
        .await
        .expect("payloads");
    assert!(!read.over_limit);
    let order: Vec<&str> = read.items.iter().map(|p| p.event_id.as_str()).collect();
    assert_eq!(order, ["e2", "e1", "e2"]);
    assert_eq!(read.items[1].inputs["q"], 1);
    assert_eq!(read.items[1].outputs["a"], 10);
    assert_eq!(read.items[1].feedback["ground_truth"], json!({"a": 1}));

    let tight = store.event_payloads(&t, &ids, 60).await.expect("tight");
    assert!(tight.over_limit);
    assert!(tight.items.len() < ids.len());
    assert!(matches!(
        store.event_payloads(&t, &["e1".into(), "nope".into()], u64::MAX).await,
        Err(StoreError::NotFound(what)) if what.contains("nope")
    ));
    assert!(matches!(
        store.event_payloads(&other, &["e1".into()], u64::MAX).await,
        Err(StoreError::NotFound(_))
    ));
}

/// A key reads and changes its own project only, never its name.
pub async fn a_key_sees_and_changes_only_its_own_project(store: &dyn Store) {
    let a = tenant(store, "ha", "alpha").await;
    let b = tenant(store, "hb", "beta").await;
    let project = store.get_project(&a).await.expect("own project");
    assert_eq!(
        (project.id.as_str(), project.name.as_str()),
        (a.project_id.as_str(), "alpha")
    );
    let patch = ProjectPatch {
        description: Some("d".into()),
        project_type: None,
    };
    store.update_project(&a, &patch).await.expect("description");
    let patch = ProjectPatch {
        description: None,
        project_type: Some("evaluation".into()),
    };
    let updated = store.update_project(&a, &patch).await.expect("type");
    assert_eq!(updated.description.as_deref(), Some("d"), "kept");
    assert_eq!(updated.project_type.as_deref(), Some("evaluation"));
    assert_eq!(updated.name, "alpha");
    let other = store.get_project(&b).await.expect("b");
    assert_eq!((other.name.as_str(), other.description), ("beta", None));
}
