//! Partial updates a store applies inside one transaction.
//!
//! A read in one store call and a write in another loses every write that lands
//! in between, so each update route hands the store a patch instead: the store
//! reads the row, applies the patch and writes it back in one transaction
//! (SQLite: one writer job). The API validates a request body into a patch
//! before the store call, so applying one cannot fail on input; `apply_to` is
//! the one rule every backend applies to the stored row. A patch carries its
//! own `updated_at`, so applying it twice to the same row gives the same row.

use serde_json::{Map, Value};

use super::{Datapoint, Dataset, Project, Resource, Run};

/// Keeps the first occurrence of each id, in order.
///
/// ```
/// let mut ids = vec!["a".to_string(), "b".into(), "a".into()];
/// honeyhive_server::store::dedup_ids(&mut ids);
/// assert_eq!(ids, ["a", "b"]);
/// ```
pub fn dedup_ids(ids: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    ids.retain(|id| seen.insert(id.clone()));
}

fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        into.insert(k.clone(), v.clone());
    }
}

/// A change to a run (`PUT /v1/runs/{id}`): objects merge key by key, lists
/// and scalars replace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunPatch {
    /// Replaces `name`.
    pub name: Option<String>,
    /// Replaces `description`.
    pub description: Option<String>,
    /// Replaces `status` (validated by the caller).
    pub status: Option<String>,
    /// Replaces `dataset_id` when `Some` (`Some(None)` clears it).
    pub dataset_id: Option<Option<String>>,
    /// Merged into `metadata`.
    pub metadata: Map<String, Value>,
    /// Merged into `results`.
    pub results: Map<String, Value>,
    /// Merged into `configuration`.
    pub configuration: Map<String, Value>,
    /// Merged into `passing_ranges`.
    pub passing_ranges: Map<String, Value>,
    /// Replaces `event_ids`.
    pub event_ids: Option<Vec<String>>,
    /// Replaces `session_ids`.
    pub session_ids: Option<Vec<String>>,
    /// Replaces `datapoint_ids`.
    pub datapoint_ids: Option<Vec<String>>,
    /// Replaces `evaluators`.
    pub evaluators: Option<Vec<Value>>,
    /// The run's new `updated_at`, ms since epoch.
    pub updated_at: f64,
}

impl RunPatch {
    /// Applies the patch to `run`.
    ///
    /// ```
    /// use honeyhive_server::store::{Run, RunPatch};
    /// let mut run = Run { run_id: "r".into(), ..Run::default() };
    /// run.metadata.insert("a".into(), 1.into());
    /// let mut patch = RunPatch { status: Some("completed".into()), ..RunPatch::default() };
    /// patch.metadata.insert("b".into(), 2.into());
    /// patch.apply_to(&mut run);
    /// assert_eq!((run.status.as_str(), run.metadata.len()), ("completed", 2));
    /// ```
    pub fn apply_to(&self, run: &mut Run) {
        if let Some(name) = &self.name {
            run.name = Some(name.clone());
        }
        if let Some(description) = &self.description {
            run.description = Some(description.clone());
        }
        if let Some(status) = &self.status {
            run.status = status.clone();
        }
        if let Some(dataset_id) = &self.dataset_id {
            run.dataset_id = dataset_id.clone();
        }
        merge(&mut run.metadata, &self.metadata);
        merge(&mut run.results, &self.results);
        merge(&mut run.configuration, &self.configuration);
        merge(&mut run.passing_ranges, &self.passing_ranges);
        for (list, target) in [
            (&self.event_ids, &mut run.event_ids),
            (&self.session_ids, &mut run.session_ids),
            (&self.datapoint_ids, &mut run.datapoint_ids),
        ] {
            if let Some(list) = list {
                target.clone_from(list);
            }
        }
        if let Some(evaluators) = &self.evaluators {
            run.evaluators.clone_from(evaluators);
        }
        run.updated_at = self.updated_at;
    }
}

/// A change to a named document (`PUT /v1/metrics/{id}`, `PUT /v1/configurations/{id}`):
/// every field of `fields` replaces the one stored under its key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourcePatch {
    /// Replaces `name` (also kept in `fields` under `name`).
    pub name: Option<String>,
    /// Merged into the document body, key by key.
    pub fields: Map<String, Value>,
    /// The document's new `updated_at`, ms since epoch.
    pub updated_at: f64,
}

impl ResourcePatch {
    /// Applies the patch to `resource`.
    pub fn apply_to(&self, resource: &mut Resource) {
        if let Some(name) = &self.name {
            resource.name = name.clone();
        }
        merge(&mut resource.body, &self.fields);
        resource.updated_at = self.updated_at;
    }
}

/// A change to a dataset (`PUT /v1/datasets/{id}`). A new member list also
/// changes the `linked_datasets` of the datapoints that join or leave; the
/// store does that in the same transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetPatch {
    /// Replaces `name`.
    pub name: Option<String>,
    /// Replaces `description`.
    pub description: Option<String>,
    /// Replaces the member list (duplicates dropped, first kept).
    pub datapoint_ids: Option<Vec<String>>,
    /// Merged into `metadata`.
    pub metadata: Map<String, Value>,
    /// The dataset's new `updated_at`, ms since epoch.
    pub updated_at: f64,
}

impl DatasetPatch {
    /// Applies the patch to `dataset` (its own fields only; see the type's doc).
    pub fn apply_to(&self, dataset: &mut Dataset) {
        if let Some(name) = &self.name {
            dataset.name = name.clone();
        }
        if let Some(description) = &self.description {
            dataset.description = Some(description.clone());
        }
        if let Some(ids) = &self.datapoint_ids {
            dataset.datapoint_ids.clone_from(ids);
            dedup_ids(&mut dataset.datapoint_ids);
        }
        merge(&mut dataset.metadata, &self.metadata);
        dataset.updated_at = self.updated_at;
    }
}

/// A change to a datapoint (`PUT /v1/datapoints/{id}`): each field present
/// replaces the stored one. A new `linked_datasets` also changes the member
/// lists of the datasets joined or left; the store does that in the same
/// transaction (a dataset joined must exist).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatapointPatch {
    /// Replaces `inputs`.
    pub inputs: Option<Map<String, Value>>,
    /// Replaces `ground_truth`.
    pub ground_truth: Option<Map<String, Value>>,
    /// Replaces `metadata`.
    pub metadata: Option<Map<String, Value>>,
    /// Replaces `history`.
    pub history: Option<Vec<Value>>,
    /// Replaces `linked_event`.
    pub linked_event: Option<String>,
    /// Replaces `linked_datasets` (duplicates dropped, first kept).
    pub linked_datasets: Option<Vec<String>>,
    /// The datapoint's new `updated_at`, ms since epoch.
    pub updated_at: f64,
}

impl DatapointPatch {
    /// Applies the patch to `datapoint` (its own fields only; see the type's doc).
    ///
    /// ```
    /// use honeyhive_server::store::{Datapoint, DatapointPatch};
    /// let mut dp = Datapoint { id: "d".into(), ..Datapoint::default() };
    /// let patch = DatapointPatch {
    ///     linked_datasets: Some(vec!["a".into(), "a".into()]),
    ///     ..DatapointPatch::default()
    /// };
    /// patch.apply_to(&mut dp);
    /// assert_eq!(dp.linked_datasets, ["a"]);
    /// ```
    pub fn apply_to(&self, datapoint: &mut Datapoint) {
        for (field, target) in [
            (&self.inputs, &mut datapoint.inputs),
            (&self.ground_truth, &mut datapoint.ground_truth),
            (&self.metadata, &mut datapoint.metadata),
        ] {
            if let Some(map) = field {
                target.clone_from(map);
            }
        }
        if let Some(history) = &self.history {
            datapoint.history.clone_from(history);
        }
        if let Some(linked) = &self.linked_event {
            datapoint.linked_event = Some(linked.clone());
        }
        if let Some(datasets) = &self.linked_datasets {
            datapoint.linked_datasets.clone_from(datasets);
            dedup_ids(&mut datapoint.linked_datasets);
        }
        datapoint.updated_at = self.updated_at;
    }
}

/// A change to the key's own project (`PUT /v1/projects`); its name never changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectPatch {
    /// Replaces `description`.
    pub description: Option<String>,
    /// Replaces `project_type` (`evaluation` or `completion`, validated by the caller).
    pub project_type: Option<String>,
}

impl ProjectPatch {
    /// Applies the patch to `project`.
    pub fn apply_to(&self, project: &mut Project) {
        if let Some(description) = &self.description {
            project.description = Some(description.clone());
        }
        if let Some(project_type) = &self.project_type {
            project.project_type = Some(project_type.clone());
        }
    }
}
