//! Experiment runs, their partial updates, and the slim rows of their events
//! that run results read.

use async_trait::async_trait;
use honeyhive_model::filter::FilterSet;
use honeyhive_model::run::{Run, RunEvent, RunStatus, RunUpdate};

use super::{Page, SortOrder, StoreResult, Tenant};

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
    pub status: Option<RunStatus>,
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

/// A change to a run: the body of `POST /v1/runs` or `PUT /v1/runs/{id}`
/// ([`RunUpdate`]: objects merge key by key, lists and scalars replace) and
/// the run's new `updated_at`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunPatch {
    /// What the body changes (validated by the caller).
    pub update: RunUpdate,
    /// The run's new `updated_at`, ms since epoch.
    pub updated_at: f64,
}

impl RunPatch {
    /// Applies the patch to `run`.
    ///
    /// ```
    /// use honeyhive_model::run::{Run, RunStatus, RunUpdate};
    /// use honeyhive_server::store::RunPatch;
    /// let mut run = Run { run_id: "r".into(), ..Run::default() };
    /// let update = RunUpdate { status: Some(RunStatus::Completed), ..RunUpdate::default() };
    /// RunPatch { update, updated_at: 5.0 }.apply_to(&mut run);
    /// assert_eq!((run.status, run.updated_at), (RunStatus::Completed, 5.0));
    /// ```
    pub fn apply_to(&self, run: &mut Run) {
        self.update.apply_to(run);
        run.updated_at = self.updated_at;
    }
}
