//! Request bodies and query strings read under the server's limits: the body
//! size, the in-flight budget (charged chunk by chunk, then for what parsing
//! adds) and the longest string; a refused body is drained so the client reads
//! the answer.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use honeyhive_model::cost::{Format, ScanError, json_cost, memory_estimate};
use honeyhive_model::{ErrorCode, ErrorCoded};
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::ingest::budget::{BodyOverBudget, Refusal, RequestBudget};

/// A JSON body read with the configured size limit. Rejections are JSON
/// errors: 413 over the limit, 415 for a non-JSON `Content-Type`, 400 when the
/// body does not parse. A missing `Content-Type` is accepted.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        json_body(state, req, state.config.max_body_bytes)
            .await
            .map(JsonBody)
    }
}

/// A request's JSON body of at most `limit` bytes, read and parsed as
/// [`JsonBody`] reads it: a non-JSON `Content-Type` is a 415, a longer body a
/// 413, a string past `max_field_bytes` a 413, and what parsing adds is
/// charged to the request's budget.
pub(crate) async fn json_body<T: DeserializeOwned>(
    state: &AppState,
    req: Request,
    limit: usize,
) -> Result<T, ApiError> {
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE)
        && !is_json_content_type(content_type.to_str().unwrap_or(""))
    {
        let content_type = content_type.to_str().unwrap_or("").to_ascii_lowercase();
        // Drained so the connection stays usable: an unread body makes the
        // server close it, which a client reusing it sees as a reset.
        discard_body(req, limit).await;
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("content type {content_type} is not json"),
        )
        .with_hint("send `Content-Type: application/json`"));
    }
    let budget = req.extensions().get::<RequestBudget>().cloned();
    let bytes = read_body_within(state, req, limit).await?;
    let cost = json_cost(&bytes).map_err(InvalidJson::from)?;
    let max_field = state.config.max_field_bytes as u64;
    if cost.longest_string > max_field {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the body holds a string of {} bytes, over the limit of {max_field} for one field",
                cost.longest_string
            ),
        )
        .with_hint("store large payloads elsewhere and keep a reference, or raise the server's max_field_bytes"));
    }
    if let Some(budget) = budget {
        // The body itself is charged already; what parsing adds is not.
        let parsed = memory_estimate(Format::Json, bytes.len(), cost.values)
            .saturating_sub(bytes.len() as u64);
        charge(state, &budget, parsed)?;
    }
    serde_json::from_slice(&bytes).map_err(|e| InvalidJson::from(e).into())
}

/// A JSON body that does not parse, or is nested past what a parser accepts
/// (answered 400).
#[derive(Debug, thiserror::Error)]
pub(crate) enum InvalidJson {
    /// Found before parsing, by the scan that measures the body.
    #[error("invalid json body: {0}")]
    Scan(#[from] ScanError),
    /// Found by the parser.
    #[error("invalid json body: {0}")]
    Parse(#[from] serde_json::Error),
}

impl ErrorCoded for InvalidJson {
    fn code(&self) -> ErrorCode {
        ErrorCode::BadRequest
    }
}

/// Charges `bytes` more to a request's budget, or answers why not (429 now,
/// 413 ever).
pub(crate) fn charge(state: &AppState, budget: &RequestBudget, bytes: u64) -> Result<(), ApiError> {
    let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
    budget
        .try_grow(bytes)
        .map_err(|refusal| over_budget(state, refusal, budget.charged().saturating_add(bytes)))
}

/// The answer to a request the in-flight budget cannot take (counted): the
/// refusal's code and hint, with the budget's own figures and retry delay.
pub(crate) fn over_budget(state: &AppState, refusal: Refusal, needed: usize) -> ApiError {
    state.metrics.over_budget();
    let answer = |message: String| ApiError::new(refusal.code(), message).with_hint(refusal.hint());
    match refusal {
        Refusal::NotNow => answer("server is over its in-flight memory budget".to_string())
            .with_retry_after(state.config.retry_after_secs),
        Refusal::Never => answer(format!(
            "decoding this request would take about {} MiB, more than the server's \
             in-flight memory budget of {} MiB",
            needed.div_ceil(1 << 20),
            state.budget.max_bytes() >> 20
        )),
    }
}

/// Whether a `Content-Type` is accepted as JSON: any type mentioning `json`,
/// or `text/plain`, ignoring case. Checked without lowercasing a copy, since
/// every JSON request passes here.
fn is_json_content_type(content_type: &str) -> bool {
    let bytes = content_type.as_bytes();
    let mentions_json = bytes
        .windows(4)
        .any(|window| window.eq_ignore_ascii_case(b"json"));
    let plain_text = bytes
        .get(..10)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"text/plain"));
    mentions_json || plain_text
}

/// Query parameters; a parse failure is a JSON 400.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, &())
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))
    }
}

/// Longest wait for a whole request body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Reads a whole body, answering 413 past the body limit (early, from
/// `Content-Length`, when the client declares it) and 429/413 when a chunk
/// does not fit the request's budget.
pub(crate) async fn read_body(
    state: &AppState,
    req: Request,
) -> Result<axum::body::Bytes, ApiError> {
    read_body_within(state, req, state.config.max_body_bytes).await
}

/// [`read_body`] with a route's own body limit, `limit` bytes, below the
/// server's.
pub(crate) async fn read_body_within(
    state: &AppState,
    req: Request,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    use http_body_util::BodyExt;
    let declared = declared_length(req.headers());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let budget = req.extensions().get::<RequestBudget>().cloned();
    let mut body = req.into_body();
    // Chunks as they arrive (each charged by the admission layer's body), joined
    // at the end: no doubling buffer whose slack nobody charged.
    let mut chunks: Vec<axum::body::Bytes> = Vec::new();
    let mut received = 0usize;
    let reading = async {
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            received += data.len();
            if received > limit {
                return Ok(Err(too_large(limit)));
            }
            chunks.push(data);
        }
        Ok(Ok(()))
    };
    // A client that stops sending mid-body must not hold its budget forever.
    let read: Result<Result<(), ApiError>, axum::Error> =
        tokio::time::timeout(BODY_READ_TIMEOUT, reading)
            .await
            .map_err(|_| {
                ApiError::bad_request("request body not received in time")
                    .with_hint("send the whole body without pausing")
            })?;
    let refused = match read {
        Ok(Ok(())) => return join(state, budget.as_ref(), chunks, received),
        Ok(Err(too_large)) => too_large,
        Err(e) => match source_of::<BodyOverBudget>(&e) {
            Some(refusal) => over_budget(state, refusal.0, limit),
            None => return Err(ApiError::bad_request(format!("failed to read body: {e}"))),
        },
    };
    // Refused mid-body: drain the rest, so the client reads the answer
    // instead of a reset connection.
    drop(chunks);
    let draining = async {
        let mut seen = 0usize;
        while let Some(frame) = body.frame().await {
            seen += frame
                .ok()
                .and_then(|f| f.into_data().ok())
                .map_or(0, |d| d.len());
            if seen > limit {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, draining).await;
    Err(refused)
}

/// One buffer of a body's chunks; the copy is charged while both exist.
fn join(
    state: &AppState,
    budget: Option<&RequestBudget>,
    mut chunks: Vec<axum::body::Bytes>,
    len: usize,
) -> Result<axum::body::Bytes, ApiError> {
    if chunks.len() <= 1 {
        return Ok(chunks.pop().unwrap_or_default());
    }
    if let Some(budget) = budget {
        charge(state, budget, len as u64)?;
    }
    let mut joined = bytes::BytesMut::with_capacity(len);
    for chunk in chunks {
        joined.extend_from_slice(&chunk);
    }
    if let Some(budget) = budget {
        budget.release(len);
    }
    Ok(joined.freeze())
}

/// The first error of type `E` in `error`'s source chain.
fn source_of<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Reads and drops a refused request's body, chunk by chunk, before the
/// answer that refuses it.
///
/// Closing a connection with unread bytes makes the kernel reset it, and a
/// client may then see the reset instead of the answer (a 429's `Retry-After`
/// among it). Draining holds one chunk at a time; it stops after `limit`
/// bytes or [`DRAIN_TIMEOUT`], whichever comes first, and the connection is
/// then closed.
pub(crate) async fn discard_body(req: Request, limit: usize) {
    use http_body_util::BodyExt;
    let mut body = req.into_body();
    let draining = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > limit {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, draining).await;
}

/// Longest a refused body is drained before its connection is closed.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The `Content-Length` a request declares.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("request body over the {limit} byte limit"),
    )
    .with_hint("send smaller batches or raise the server's body limit")
}
