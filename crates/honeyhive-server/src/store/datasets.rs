//! Datasets, datapoints, the membership between them, and their partial updates.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{Page, StoreResult, Tenant, merge};

/// Datasets, datapoints and the membership between them.
#[async_trait]
pub trait DatasetStore: Send + Sync {
    /// Creates or replaces a dataset with its ordered member list (duplicates
    /// dropped), and in the same transaction adds it to the `linked_datasets`
    /// of the stored datapoints that joined and removes it from those that
    /// left. Ids of datapoints that do not exist stay listed.
    async fn put_dataset(&self, tenant: &Tenant, dataset: &Dataset) -> StoreResult<()>;

    /// Applies `patch` to a stored dataset in one transaction, membership kept
    /// consistent as [`DatasetStore::put_dataset`] does; returns the dataset
    /// as stored, `NotFound` if not in this project.
    async fn update_dataset(
        &self,
        tenant: &Tenant,
        dataset_id: &str,
        patch: &DatasetPatch,
    ) -> StoreResult<Dataset>;

    /// A page of datasets, optionally narrowed to one id or one name, oldest first.
    async fn list_datasets(
        &self,
        tenant: &Tenant,
        query: &DatasetQuery,
    ) -> StoreResult<Page<Dataset>>;

    /// Deletes a dataset (its datapoints stay, unlinked from it); false if it
    /// was not in this project.
    async fn delete_dataset(&self, tenant: &Tenant, dataset_id: &str) -> StoreResult<bool>;

    /// Creates or replaces datapoints (keyed by `id`) in one transaction, and
    /// appends each to the datasets its `linked_datasets` names (leaving the
    /// ones a replaced datapoint no longer names). `NotFound`, and nothing
    /// stored, if a named dataset is not in this project.
    async fn put_datapoints(&self, tenant: &Tenant, datapoints: &[Datapoint]) -> StoreResult<()>;

    /// Applies `patch` to a stored datapoint in one transaction, membership kept
    /// consistent as [`DatasetStore::put_datapoints`] does; returns the
    /// datapoint as stored, `NotFound` if it or a dataset it joins is not in
    /// this project.
    async fn update_datapoint(
        &self,
        tenant: &Tenant,
        datapoint_id: &str,
        patch: &DatapointPatch,
    ) -> StoreResult<Datapoint>;

    /// Removes a datapoint from a dataset, on both sides, in one transaction;
    /// false if it was not a member, `NotFound` if the dataset is not in this project.
    async fn remove_from_dataset(
        &self,
        tenant: &Tenant,
        dataset_id: &str,
        datapoint_id: &str,
    ) -> StoreResult<bool>;

    /// A page of datapoints: by ids (in the given order), by dataset (in
    /// membership order) or all (oldest first).
    async fn list_datapoints(
        &self,
        tenant: &Tenant,
        query: &DatapointQuery,
    ) -> StoreResult<Page<Datapoint>>;

    /// Deletes a datapoint and its dataset memberships; false if it was not in this project.
    async fn delete_datapoint(&self, tenant: &Tenant, datapoint_id: &str) -> StoreResult<bool>;
}

/// A dataset as stored: a named, ordered list of datapoints, times in ms
/// since the epoch. The API answers it as a
/// [`DatasetObject`](honeyhive_model::dataset::DatasetObject).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Dataset {
    /// The dataset id.
    pub id: String,
    /// Display name (unique per project is not enforced).
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Member datapoint ids, in order.
    pub datapoint_ids: Vec<String>,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// Creation time, ms since epoch.
    pub created_at: f64,
    /// Last update time, ms since epoch.
    pub updated_at: f64,
}

/// What `GET /v1/datasets` selects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetQuery {
    /// Only this dataset.
    pub dataset_id: Option<String>,
    /// Only datasets with this exact name.
    pub name: Option<String>,
    /// Page size (0: no limit).
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
}

/// One datapoint as stored: inputs, expected outputs and provenance, times in
/// ms since the epoch. The API answers it as a
/// [`DatapointObject`](honeyhive_model::dataset::DatapointObject).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Datapoint {
    /// The datapoint id.
    pub id: String,
    /// Inputs to the function under test.
    pub inputs: Map<String, Value>,
    /// Chat history.
    pub history: Vec<Value>,
    /// Expected outputs.
    pub ground_truth: Map<String, Value>,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// The event this datapoint was made from.
    pub linked_event: Option<String>,
    /// Datasets this datapoint belongs to.
    pub linked_datasets: Vec<String>,
    /// Creation time, ms since epoch.
    pub created_at: f64,
    /// Last update time, ms since epoch.
    pub updated_at: f64,
}

/// Which datapoints a listing selects.
#[derive(Debug, Clone, PartialEq)]
pub enum DatapointSelection {
    /// These ids, in this order (unknown ids are skipped).
    Ids(Vec<String>),
    /// The members of this dataset, in membership order.
    Dataset(String),
    /// Every datapoint of the project, oldest first.
    All,
}

/// What a datapoint listing selects, and which page of it.
///
/// ```
/// use honeyhive_server::store::{DatapointQuery, DatapointSelection};
/// let q = DatapointQuery::whole(DatapointSelection::Ids(vec!["d1".into()]));
/// assert_eq!((q.limit, q.offset), (0, 0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DatapointQuery {
    /// Which datapoints.
    pub selection: DatapointSelection,
    /// Page size (0: no limit).
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
}

impl DatapointQuery {
    /// Every datapoint `selection` names, unpaged.
    pub fn whole(selection: DatapointSelection) -> DatapointQuery {
        DatapointQuery {
            selection,
            limit: 0,
            offset: 0,
        }
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
