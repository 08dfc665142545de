//! Experiment runs: `runs`, `run` (with its result) and `compareRuns`.
//! Results and comparisons are computed as `GET /v1/runs/{id}/result` and
//! `/compare-with/` compute them (their types are in `results.rs`).

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object};
use honeyhive_model::ErrorCode;
use honeyhive_model::run::{Aggregation, Run, RunObject};
use honeyhive_model::run_result::document::{compare_body, result_document};
use serde_json::{Map, Value};

use super::results::{RunComparison, RunResult};
use super::schema::{WHOLE_READ_COST, paged_cost, paging, params, scope};
use super::types::Paged;
use crate::api::query::parse_filters;
use crate::api::runs::{NARROW_WITH_FILTERS, blocking, evaluate, run_query};
use crate::api::{ApiError, WorkFailed};
use crate::store::Tenant;

/// A run's state, as the schema names it.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "RunStatus", remote = "honeyhive_model::run::RunStatus")]
pub(super) enum Status {
    /// Created, not started.
    Pending,
    /// Its datapoints are being run.
    Running,
    /// Every datapoint was run.
    Completed,
    /// It stopped on an error.
    Failed,
    /// It was stopped.
    Cancelled,
}

/// An experiment run. Times are ms since the epoch.
#[derive(Clone)]
pub(super) struct RunNode(pub(super) Arc<Run>);

fn json(map: &Map<String, Value>) -> async_graphql::Json<&Map<String, Value>> {
    async_graphql::Json(map)
}

#[Object(name = "Run")]
impl RunNode {
    /// The run's id.
    async fn run_id(&self) -> &str {
        &self.0.run_id
    }

    /// Its display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// Free text.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Its state.
    async fn status(&self) -> Status {
        self.0.status.into()
    }

    /// The stored dataset it evaluated, if any.
    async fn dataset_id(&self) -> Option<&str> {
        self.0.dataset_id.as_deref()
    }

    /// Its sessions, one per datapoint.
    async fn event_ids(&self) -> &[String] {
        &self.0.event_ids
    }

    /// More of its sessions.
    async fn session_ids(&self) -> &[String] {
        &self.0.session_ids
    }

    /// Its datapoints.
    async fn datapoint_ids(&self) -> &[String] {
        &self.0.datapoint_ids
    }

    /// Free-form metadata.
    async fn metadata(&self) -> async_graphql::Json<&Map<String, Value>> {
        json(&self.0.metadata)
    }

    /// Free-form results.
    async fn results(&self) -> async_graphql::Json<&Map<String, Value>> {
        json(&self.0.results)
    }

    /// Its configuration (function, evaluators, ...).
    async fn configuration(&self) -> async_graphql::Json<&Map<String, Value>> {
        json(&self.0.configuration)
    }

    /// Metric name → `{min, max}` passing range.
    async fn passing_ranges(&self) -> async_graphql::Json<&Map<String, Value>> {
        json(&self.0.passing_ranges)
    }

    /// Created, ms since the epoch.
    async fn created_at(&self) -> f64 {
        self.0.created_at
    }

    /// Last updated, ms since the epoch.
    async fn updated_at(&self) -> f64 {
        self.0.updated_at
    }

    /// What its events say, as `GET /v1/runs/{id}/result` answers:
    /// per-datapoint metrics and pass/fail, and each metric folded with
    /// `aggregation` (`average` unless named: min, max, median, p90, p95,
    /// p99, sum, count). `filters` narrows the events read.
    #[graphql(complexity = "WHOLE_READ_COST + child_complexity")]
    async fn result(
        &self,
        ctx: &Context<'_>,
        aggregation: Option<String>,
        filters: Option<Value>,
    ) -> async_graphql::Result<RunResult> {
        let scope = scope(ctx)?;
        let aggregation = Aggregation::parse(aggregation.as_deref()).map_err(ApiError::from)?;
        let filters = parse_filters(filters.as_ref())?;
        let run = Run::clone(&self.0);
        let (run, eval) = evaluate(
            &scope.state,
            &scope.tenant,
            run,
            filters,
            NARROW_WITH_FILTERS,
        )
        .await?;
        let project_id = scope.tenant.project_id.clone();
        let result = blocking(move || {
            let object = RunObject::new(&run, &project_id);
            let document = serde_json::to_value(result_document(&run, &eval, aggregation, object))
                .map_err(|e| WorkFailed::new("run result not serializable", e))?;
            RunResult::read(document, aggregation)
        })
        .await??;
        Ok(result)
    }
}

/// The run `id` of `tenant`'s project.
async fn find_run(ctx: &Context<'_>, tenant: &Tenant, id: &str) -> Result<Run, ApiError> {
    let scope = scope(ctx)?;
    scope.state.store.get_run(tenant, id).await.map_err(|e| {
        let e = ApiError::from(e);
        if e.code == ErrorCode::NotFound {
            e.with_hint("list runs with the `runs` query")
        } else {
            e
        }
    })
}

/// `runs`, `run` and `compareRuns`.
#[derive(Default)]
pub(super) struct RunQueries;

#[Object]
impl RunQueries {
    /// The project's runs, newest first, optionally of one `status`,
    /// `datasetId` or with `name` in their name. `limit` defaults to 50.
    #[graphql(complexity = "paged_cost(limit, child_complexity)")]
    async fn runs(
        &self,
        ctx: &Context<'_>,
        status: Option<Status>,
        dataset_id: Option<String>,
        name: Option<String>,
        limit: Option<u64>,
        page: Option<u64>,
    ) -> async_graphql::Result<Paged<RunNode>> {
        let scope = scope(ctx)?;
        let (limit, _, _) = paging(limit, page)?;
        let status = status.map(|s| honeyhive_model::run::RunStatus::from(s).as_str());
        let (query, page) = run_query(&params([
            ("status", status.map(Value::from)),
            ("dataset_id", dataset_id.map(Value::from)),
            ("name", name.map(Value::from)),
            ("limit", Some(Value::from(limit))),
            ("page", page.map(Value::from)),
        ]))?;
        let runs = scope
            .state
            .store
            .list_runs(&scope.tenant, &query)
            .await
            .map_err(ApiError::from)?;
        let items = runs
            .items
            .into_iter()
            .map(|r| RunNode(Arc::new(r)))
            .collect();
        Ok(Paged::new(items, runs.total, page, query.limit))
    }

    /// The run `id`; null when the project has no such run.
    async fn run(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<RunNode>> {
        let scope = scope(ctx)?;
        match find_run(ctx, &scope.tenant, &id).await {
            Ok(run) => Ok(Some(RunNode(Arc::new(run)))),
            Err(e) if e.code == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Run `newRunId` compared with run `oldRunId`: each metric's aggregates
    /// (folded with `aggregation`, `average` unless named) and which common
    /// datapoints improved or got worse. `filters` narrows the events read.
    #[graphql(complexity = "2 * WHOLE_READ_COST + child_complexity")]
    async fn compare_runs(
        &self,
        ctx: &Context<'_>,
        new_run_id: ID,
        old_run_id: ID,
        aggregation: Option<String>,
        filters: Option<Value>,
    ) -> async_graphql::Result<RunComparison> {
        let scope = scope(ctx)?;
        let (state, tenant) = (&scope.state, &scope.tenant);
        let aggregation = Aggregation::parse(aggregation.as_deref()).map_err(ApiError::from)?;
        let filters = parse_filters(filters.as_ref())?;
        let new_run = find_run(ctx, tenant, &new_run_id).await?;
        let old_run = find_run(ctx, tenant, &old_run_id).await?;
        let ((new_run, new_eval), (old_run, old_eval)) = tokio::try_join!(
            evaluate(state, tenant, new_run, filters.clone(), NARROW_WITH_FILTERS),
            evaluate(state, tenant, old_run, filters, NARROW_WITH_FILTERS),
        )?;
        let project_id = tenant.project_id.clone();
        let comparison = blocking(move || {
            let document = compare_body(
                &new_eval,
                &old_eval,
                aggregation,
                RunObject::new(&new_run, &project_id),
                RunObject::new(&old_run, &project_id),
            );
            let runs = (RunNode(Arc::new(new_run)), RunNode(Arc::new(old_run)));
            RunComparison::read(document, runs, aggregation)
        })
        .await??;
        Ok(comparison)
    }
}
