//! OTLP/HTTP trace ingest: `POST /opentelemetry/v1/traces` and `POST /v1/traces`.
//!
//! Order of checks, cheapest first and all before the body is read: auth
//! (401), content type and encoding (415), declared length (413), in-flight
//! budget (429 + `Retry-After`; a small refused body is still read and dropped,
//! so that the client gets the answer rather than a reset connection). Decoding
//! and mapping then run on the blocking pool; the answer is sent only after the
//! batch is committed.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use honeyhive_model::ErrorCode;

use super::{ApiError, AppState, declared_length, discard_small_body, read_body, too_large};
use crate::ingest::budget::Budget;
use crate::ingest::otlp::{OtlpEncoding, PreparedBatch, decode_body, encode_response, prepare};
use crate::store::Tenant;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/opentelemetry/v1/traces", post(export_traces))
        .route("/v1/traces", post(export_traces))
}

/// Whether the body is gzip; `Err` for an encoding we cannot read.
fn body_is_gzip(req: &Request) -> Result<bool, ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    match value
        .to_str()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "gzip" | "x-gzip" => Ok(true),
        "" | "identity" => Ok(false),
        other => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("content encoding {other} is not supported"),
        )
        .with_hint("send gzip or uncompressed bodies")),
    }
}

fn request_encoding(req: &Request) -> Result<OtlpEncoding, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    OtlpEncoding::from_content_type(content_type).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("content type {content_type:?} is not an otlp encoding"),
        )
        .with_hint("send application/x-protobuf or application/json")
    })
}

/// Admits a request into the in-flight budget or answers 429.
pub(crate) fn admit(
    state: &AppState,
    bytes: usize,
) -> Result<crate::ingest::budget::BudgetPermit, ApiError> {
    Budget::try_acquire(&state.budget, bytes).ok_or_else(|| {
        state.metrics.over_budget();
        ApiError::new(
            ErrorCode::OverBudget,
            "server is over its in-flight ingest budget",
        )
        .with_hint("retry after the delay in Retry-After")
        .with_retry_after(state.config.retry_after_secs)
    })
}

async fn export_traces(State(state): State<AppState>, tenant: Tenant, req: Request) -> Response {
    match export(&state, &tenant, req).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn export(state: &AppState, tenant: &Tenant, req: Request) -> Result<Response, ApiError> {
    let encoding = request_encoding(&req)?;
    let gzip = body_is_gzip(&req)?;
    let limit = state.config.max_body_bytes;
    let declared = declared_length(req.headers());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut permit = match admit(state, declared.unwrap_or(0)) {
        Ok(permit) => permit,
        Err(e) => {
            discard_small_body(req).await;
            return Err(e);
        }
    };
    let body = read_body(req, limit).await?;
    if declared.is_none() && !permit.try_grow(body.len()) {
        // A chunked body turned out larger than the room left: still unaccepted.
        state.metrics.over_budget();
        return Err(ApiError::new(
            ErrorCode::OverBudget,
            "server is over its in-flight ingest budget",
        )
        .with_retry_after(state.config.retry_after_secs));
    }
    let max_decompressed = state.config.max_decompressed_bytes;
    let prepared = tokio::task::spawn_blocking(move || -> Result<PreparedBatch, ApiError> {
        let request = decode_body(&body, encoding, gzip, max_decompressed)
            .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
        Ok(prepare(&request))
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, format!("decode task failed: {e}")))?;
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            state.metrics.rejected("undecodable_request", 1);
            return Err(e.with_hint("send an OTLP ExportTraceServiceRequest"));
        }
    };
    let response = store_prepared(state, tenant, prepared).await?;
    drop(permit);
    state.metrics.otlp_request(encoding.label());
    Ok((
        [(header::CONTENT_TYPE, encoding.content_type())],
        encode_response(&response, encoding),
    )
        .into_response())
}

/// Writes a prepared batch, records metrics, and builds the OTLP answer.
/// Shared with the gRPC service.
pub(crate) async fn store_prepared(
    state: &AppState,
    tenant: &Tenant,
    prepared: PreparedBatch,
) -> Result<honeyhive_model::otlp::ExportTraceServiceResponse, ApiError> {
    let response = prepared.response();
    for (reason, count) in prepared.rejected_by_reason() {
        state.metrics.rejected(reason, count);
    }
    let received = prepared.spans_received;
    let summary = state.store.write(tenant, prepared.batch).await?;
    state
        .metrics
        .spans(received, summary.inserted, summary.duplicates);
    Ok(response)
}
