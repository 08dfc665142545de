//! Routes of the experiments side: event queries, runs (results, comparisons),
//! datasets, datapoints, metrics, configurations and projects.
//!
//! Response bodies follow the spec's schemas, except where the official Python
//! client (honeyhive 1.7.0) parses something else; then the client wins:
//! `GET /v1/metrics` answers `{"metrics": [...]}`, `GET /v1/configurations`
//! answers `{"configurations": [...]}`, and every success is `200`.

mod catalog;
mod datapoints;
mod datasets;
mod events_query;
mod query;
pub mod run_document;
mod run_reads;
pub mod run_result;
mod runs;

use axum::Router;
use honeyhive_model::ModelError;

use super::{ApiError, AppState};

/// The experiments routes, merged into [`super::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(events_query::routes())
        .merge(runs::routes())
        .merge(datasets::routes())
        .merge(datapoints::routes())
        .merge(catalog::routes())
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> ApiError {
        // Only filter parsing reaches `?` on these routes today; anything else keeps
        // its own code and message instead of being worded as a filter problem.
        if !e.is_filter() {
            return ApiError::new(e.code(), e.to_string());
        }
        ApiError::bad_request(format!("invalid filter: {e}")).with_hint(
            "filters are [{\"field\": \"metadata.run_id\", \"operator\": \"is\", \"value\": \"...\", \"type\": \"string\"}]; \
             operators: is, is not, contains, not contains, greater than, less than, after, before, exists, not exists",
        )
    }
}

/// Milliseconds since the epoch, now.
fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// A fresh id for a created row.
fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
