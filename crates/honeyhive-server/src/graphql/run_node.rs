//! An experiment run as the schema shows it, with its result, and two runs
//! compared.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, SimpleObject};
use honeyhive_model::ErrorCode;
use honeyhive_model::run::{Aggregation, Run, RunObject};
use honeyhive_model::run_result::document::result_document;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::context::{WHOLE_READ_COST, scope};
use super::results::{MetricComparison, RunResult};
use crate::api::query::parse_filters;
use crate::api::runs::{NARROW_WITH_FILTERS, blocking, evaluate};
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
pub(super) async fn find_run(
    ctx: &Context<'_>,
    tenant: &Tenant,
    id: &str,
) -> Result<Run, ApiError> {
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

/// Two runs compared (`GET /v1/runs/{new}/compare-with/{old}`).
#[derive(SimpleObject)]
pub(super) struct RunComparison {
    /// The newer run.
    new_run: RunNode,
    /// The run it is compared with.
    old_run: RunNode,
    /// How each metric was folded.
    aggregation: String,
    /// Datapoints both runs have.
    common_datapoints: Vec<String>,
    /// Each metric, old against new.
    metrics: Vec<MetricComparison>,
    /// The whole REST answer.
    document: Value,
}

impl RunComparison {
    /// The typed fields of a comparison `document` of the `(new, old)` runs.
    pub(super) fn read(
        document: Value,
        (new_run, old_run): (RunNode, RunNode),
        aggregation: Aggregation,
    ) -> Result<RunComparison, ApiError> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "commonDatapoints")]
            common_datapoints: Vec<String>,
            metrics: Vec<MetricComparison>,
        }
        let wire = Wire::deserialize(&document)
            .map_err(|e| WorkFailed::new("run comparison unreadable", e))?;
        Ok(RunComparison {
            new_run,
            old_run,
            aggregation: aggregation.as_str().to_string(),
            common_datapoints: wire.common_datapoints,
            metrics: wire.metrics,
            document,
        })
    }
}
