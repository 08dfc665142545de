//! Experiment runs, their partial updates, and the slim rows of their events
//! that run results read.

use async_trait::async_trait;
use honeyhive_model::filter::FilterSet;
use honeyhive_model::run::{Run, RunEvent};
use serde_json::{Map, Value};

use super::{Page, SortOrder, StoreResult, Tenant, merge};

/// Experiment runs, and the events of their sessions that run results read.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Creates or replaces a run (keyed by `run_id`).
    async fn put_run(&self, tenant: &Tenant, run: &Run) -> StoreResult<()>;

    /// Applies `patch` to a stored run in one transaction and returns the run
    /// as stored; `NotFound` if not in this project.
    async fn update_run(&self, tenant: &Tenant, run_id: &str, patch: &RunPatch)
    -> StoreResult<Run>;

    /// One run; `NotFound` if not in this project.
    async fn get_run(&self, tenant: &Tenant, run_id: &str) -> StoreResult<Run>;

    /// Runs matching `query`, newest first unless asked otherwise.
    async fn list_runs(&self, tenant: &Tenant, query: &RunQuery) -> StoreResult<Page<Run>>;

    /// Deletes a run; false if it was not in this project.
    async fn delete_run(&self, tenant: &Tenant, run_id: &str) -> StoreResult<bool>;

    /// The fields run results read ([`RunEvent`]) of the events of a run's
    /// sessions: the sessions `query` lists plus, when it names a run, every
    /// session with an event whose `metadata.run_id` is that run.
    ///
    /// Events come grouped by session (sessions in no particular order), each
    /// session's events by start time, then event id. No count and no paging: at
    /// most `query.limit` events.
    async fn run_events(
        &self,
        tenant: &Tenant,
        query: &RunEventsQuery,
    ) -> StoreResult<Vec<RunEvent>>;
}

/// What `GET /v1/runs` selects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunQuery {
    /// Only runs over this dataset.
    pub dataset_id: Option<String>,
    /// Only these runs (empty: any).
    pub run_ids: Vec<String>,
    /// Only runs whose name contains this.
    pub name: Option<String>,
    /// Only runs with this status.
    pub status: Option<String>,
    /// Only runs created at or after (ms).
    pub created_min: Option<f64>,
    /// Only runs created at or before (ms).
    pub created_max: Option<f64>,
    /// Page size (0: no limit).
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
    /// Order by creation time.
    pub order: SortOrder,
}

/// What [`RunStore::run_events`] selects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunEventsQuery {
    /// Sessions listed by the run (its `event_ids` and `session_ids`).
    pub session_ids: Vec<String>,
    /// Also the sessions whose events carry `metadata.run_id` = this run.
    pub tagged_run_id: Option<String>,
    /// Only events matching these filters.
    pub filters: FilterSet,
    /// Most events returned.
    pub limit: u64,
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
    /// use honeyhive_model::run::Run;
    /// use honeyhive_server::store::RunPatch;
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
