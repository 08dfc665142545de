//! The HTTP API: router assembly and shared state, one module per resource.
//!
//! Handlers take `tenant: Tenant` (401 unless a valid bearer key is sent),
//! `JsonBody<T>` (400/413/415 as JSON errors) and return
//! `Result<impl IntoResponse, ApiError>`.
//!
//! Response bodies follow the spec's schemas, except where the official Python
//! client (honeyhive 1.7.0) parses something else; then the client wins:
//! `GET /v1/metrics` answers `{"metrics": [...]}`, `GET /v1/configurations`
//! answers `{"configurations": [...]}`, and every success is `200`.

use std::sync::Arc;

use axum::Router;
use honeyhive_model::ErrorCode;

use crate::auth::KeyCache;
use crate::config::ServerConfig;
use crate::ingest::budget::Budget;
use crate::live::LiveHub;
use crate::metrics::Metrics;
use crate::store::Store;

pub(crate) mod admission;
mod answer;
mod body;
mod catalog;
mod datasets;
mod error;
pub(crate) mod events;
pub(crate) mod ingest;
pub(crate) mod live;
pub mod ops;
pub(crate) mod query;
pub mod runs;
pub(crate) mod sessions;
pub(crate) mod timeseries;

pub(crate) use answer::event_text;
#[cfg(feature = "graphql")]
pub(crate) use answer::json_answer;
pub use body::{JsonBody, QueryParams};
pub(crate) use body::{charge, declared_length, discard_body, over_budget, read_body, too_large};
pub use error::ApiError;
#[cfg(feature = "graphql")]
pub(crate) use {body::json_body, error::WorkFailed};

/// Shared state of every handler: one reference-counted pointer, so the
/// per-request clones axum makes (the handler service and the `State`
/// extractor each clone it) cost one atomic increment instead of one per field.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

/// What [`AppState`] shares; its fields are reached through `Deref`
/// (`state.store`, `state.metrics`, ...).
pub struct SharedState {
    /// The store (any backend).
    pub store: Arc<dyn Store>,
    /// Verified API keys.
    pub keys: Arc<KeyCache>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The in-flight ingest budget.
    pub budget: Arc<Budget>,
    /// Limits and settings.
    pub config: Arc<ServerConfig>,
    /// The last readiness probe (`/readyz`).
    pub readiness: ops::Readiness,
    /// Live push: where `GET /v1/events/stream` subscribes.
    pub live: LiveHub,
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl AppState {
    /// State over `store` with the limits of `config`; `live` is the hub the
    /// store feeds its commits to.
    pub fn new(store: Arc<dyn Store>, config: &ServerConfig, live: LiveHub) -> AppState {
        AppState(Arc::new(SharedState {
            store,
            keys: Arc::new(KeyCache::default()),
            metrics: Arc::new(Metrics::default()),
            budget: Arc::new(Budget::new(
                config.max_inflight_bytes,
                config.max_inflight_requests,
            )),
            config: Arc::new(config.clone()),
            readiness: ops::Readiness::default(),
            live,
        }))
    }
}

/// Every route of the server, state applied.
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .merge(ingest::routes())
        .merge(events::routes())
        .merge(live::routes())
        .merge(sessions::routes())
        .merge(runs::routes())
        .merge(datasets::routes())
        .merge(catalog::routes())
        .merge(timeseries::routes())
        .merge(ops::routes())
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.max_body_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admission::admit,
        ))
        .layer(axum::middleware::from_fn(move |req, next| {
            crate::metrics::track_request(metrics.clone(), req, next)
        }))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
        .with_hint("see GET /openapi.json for the routes this server serves")
}
