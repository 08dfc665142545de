//! OTLP/HTTP trace ingest: `POST /opentelemetry/v1/traces` and `POST /v1/traces`,
//! and the decode → map → write path the gRPC service shares.
//!
//! Order of checks, cheapest first: auth (401), declared length (413) and the
//! in-flight budget (429) in the admission layer; content type and encoding
//! (415) before the body is read; then, on the blocking pool, the decompressed
//! size, the nesting and the spans of the body are read off its bytes and what
//! decoding it will take is charged to the budget (413/429) before it is
//! decoded. The answer is sent only after the batch is committed.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use honeyhive_model::ErrorCode;
use honeyhive_model::cost::memory_estimate;
use honeyhive_model::otlp::ExportTraceServiceResponse;

use crate::api::error::WorkFailed;
use crate::api::{ApiError, AppState, charge, discard_body, over_budget, read_body};
use crate::ingest::budget::RequestBudget;
use crate::ingest::commit::commit;
use crate::ingest::otlp::{
    InflateError, OtlpEncoding, PreparedBatch, decode, encode_response, inflate, measure, prepare,
    span_count,
};
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

async fn export_traces(State(state): State<AppState>, tenant: Tenant, req: Request) -> Response {
    match export(&state, &tenant, req).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn export(state: &AppState, tenant: &Tenant, req: Request) -> Result<Response, ApiError> {
    let (encoding, gzip) = match request_encoding(&req).and_then(|e| Ok((e, body_is_gzip(&req)?))) {
        Ok(read_as) => read_as,
        Err(e) => {
            // Drained so the connection stays usable (see `discard_body`).
            discard_body(req, state.config.max_body_bytes).await;
            return Err(e);
        }
    };
    let budget = req
        .extensions()
        .get::<RequestBudget>()
        .cloned()
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "request was not admitted"))?;
    let body = read_body(state, req).await?;
    let message = if gzip {
        Message::Gzip(body)
    } else {
        Message::Charged(body)
    };
    let response = ingest(state, tenant, &budget, message, encoding).await?;
    state.metrics.otlp_request(encoding.label());
    Ok((
        [(header::CONTENT_TYPE, encoding.content_type())],
        encode_response(&response, encoding),
    )
        .into_response())
}

/// An OTLP body as it reaches [`ingest`].
pub(crate) enum Message {
    /// Gzip bytes, charged to the budget; their inflated form is not yet.
    Gzip(Bytes),
    /// Plain bytes already charged to the budget.
    Charged(Bytes),
    /// Plain bytes not charged yet (a gRPC message tonic decompressed).
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    Uncharged(Bytes),
}

/// Decodes, maps and writes one OTLP request, charging what decoding it takes
/// to `budget` first; answers once everything is committed.
pub(crate) async fn ingest(
    state: &AppState,
    tenant: &Tenant,
    budget: &RequestBudget,
    message: Message,
    encoding: OtlpEncoding,
) -> Result<ExportTraceServiceResponse, ApiError> {
    let (work_state, work_budget) = (state.clone(), budget.clone());
    let prepared = tokio::task::spawn_blocking(move || {
        decode_charged(&work_state, &work_budget, message, encoding)
    })
    .await
    .map_err(|e| WorkFailed::new("decode task failed", e))?;
    let prepared = prepared.inspect_err(|e| {
        if e.code == ErrorCode::BadRequest {
            state.metrics.rejected("undecodable_request", 1);
        }
    })?;
    store_prepared(state, tenant, prepared).await
}

/// The blocking part of [`ingest`]: inflate, measure, charge, decode, map.
fn decode_charged(
    state: &AppState,
    budget: &RequestBudget,
    message: Message,
    encoding: OtlpEncoding,
) -> Result<PreparedBatch, ApiError> {
    let inflated;
    let raw: &[u8] = match &message {
        Message::Gzip(body) => {
            inflated =
                inflate(body, state.config.max_decompressed_bytes, budget).map_err(
                    |e| match e {
                        InflateError::OverBudget(refusal) => {
                            over_budget(state, refusal, state.config.max_decompressed_bytes)
                        }
                        other => ApiError::from(other),
                    },
                )?;
            &inflated
        }
        Message::Charged(body) => body,
        Message::Uncharged(body) => {
            charge(state, budget, body.len() as u64)?;
            body
        }
    };
    let (format, cost) = measure(raw, encoding)?;
    let max_spans = state.config.max_spans_per_request as u64;
    if cost.spans > max_spans {
        return Err(too_many_spans(cost.spans, max_spans));
    }
    // The raw bytes are charged already; what decoding adds is not.
    let decoding = memory_estimate(format, raw.len(), cost.values).saturating_sub(raw.len() as u64);
    charge(state, budget, decoding)?;
    let request = decode(raw, encoding)?;
    let spans = span_count(&request);
    if spans > max_spans {
        return Err(too_many_spans(spans, max_spans));
    }
    Ok(prepare(&request, state.config.max_field_bytes))
}

fn too_many_spans(spans: u64, max: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("request carries {spans} spans, more than the limit of {max}"),
    )
    .with_hint("export smaller batches (OTEL_BSP_MAX_EXPORT_BATCH_SIZE), or raise the server's max_spans_per_request")
}

/// Writes a prepared batch, records metrics, and builds the OTLP answer.
pub(crate) async fn store_prepared(
    state: &AppState,
    tenant: &Tenant,
    prepared: PreparedBatch,
) -> Result<ExportTraceServiceResponse, ApiError> {
    let response = prepared.response();
    for (reason, count) in prepared.rejected_by_reason() {
        state.metrics.rejected(reason, count);
    }
    let received = prepared.spans_received;
    let summary = commit(state.store.as_ref(), tenant, prepared.batch).await?;
    state
        .metrics
        .spans(received, summary.inserted, summary.duplicates);
    Ok(response)
}
