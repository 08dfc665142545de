//! Experiment runs: `runs`, `run` (with its result) and `compareRuns`.
//! Results and comparisons are computed as `GET /v1/runs/{id}/result` and
//! `/compare-with/` compute them (their types are in `results.rs`).

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use honeyhive_model::ErrorCode;
use honeyhive_model::run::{Aggregation, RunObject};
use honeyhive_model::run_result::document::compare_body;
use serde_json::Value;

use super::context::{WHOLE_READ_COST, paged_cost, paging, params, scope};
use super::page::Paged;
use super::run_node::{RunComparison, RunNode, Status, find_run};
use crate::api::ApiError;
use crate::api::query::parse_filters;
use crate::api::runs::{NARROW_WITH_FILTERS, blocking, evaluate, run_query};

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
