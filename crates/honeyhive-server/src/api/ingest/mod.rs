//! Everything that brings telemetry in: OTLP/HTTP (`POST
//! /opentelemetry/v1/traces`), OTLP/gRPC (`TraceService/Export`, its own
//! listener) and the HoneyHive event API (`/session/start`, `POST|PUT
//! /events`, batches, model events). The bodies become write batches in
//! [`crate::ingest`].

mod events;
#[cfg(feature = "grpc")]
pub(crate) mod grpc;
pub(crate) mod otlp;

use axum::Router;

use super::AppState;

/// The ingest routes of the HTTP listener.
pub(super) fn routes() -> Router<AppState> {
    Router::new().merge(otlp::routes()).merge(events::routes())
}
