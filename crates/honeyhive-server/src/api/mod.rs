//! The HTTP API: router assembly, shared state, errors and extractors.
//!
//! Handlers take `tenant: Tenant` (401 unless a valid bearer key is sent),
//! `JsonBody<T>` (400/413/415 as JSON errors) and return
//! `Result<impl IntoResponse, ApiError>`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use honeyhive_model::ErrorCode;
use honeyhive_model::cost::{Format, json_cost, memory_estimate};
use serde::de::DeserializeOwned;

use crate::auth::KeyCache;
use crate::config::ServerConfig;
use crate::ingest::budget::{BodyOverBudget, Budget, Refusal, RequestBudget};
use crate::metrics::Metrics;
use crate::store::{ReadError, Store, StoreError};

pub(crate) mod admission;
pub mod experiments;
mod ingest_events;
pub(crate) mod ingest_otlp;
pub mod ops;
mod sessions;

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
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl AppState {
    /// State over `store` with the limits of `config`.
    pub fn new(store: Arc<dyn Store>, config: &ServerConfig) -> AppState {
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
        }))
    }
}

/// Every route of the server, state applied.
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .merge(ingest_otlp::routes())
        .merge(ingest_events::routes())
        .merge(sessions::routes())
        .merge(ops::routes())
        .merge(experiments::routes())
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

/// An error answered as `{"error": {"code", "message", "hint"}}` with the
/// status of its [`ErrorCode`].
///
/// ```
/// use honeyhive_server::api::ApiError;
/// use honeyhive_model::ErrorCode;
/// let e = ApiError::new(ErrorCode::NotFound, "run r1 not found").with_hint("list runs with GET /v1/runs");
/// assert_eq!(e.code, ErrorCode::NotFound);
/// ```
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Stable code; decides the status.
    pub code: ErrorCode,
    /// What went wrong (lower case, no trailing punctuation).
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Seconds for `Retry-After` (429/503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            hint: None,
            retry_after: None,
        }
    }

    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    /// A 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> ApiError {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a `Retry-After` header.
    pub fn with_retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {
            "code": self.code.as_str(),
            "message": self.message,
            "hint": self.hint,
        }})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut headers = HeaderMap::new();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        (status, headers, axum::Json(self.body())).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StoreError::Invalid(why) => ApiError::bad_request(why),
            StoreError::Busy => {
                ApiError::new(ErrorCode::Unavailable, "the store's write queue is full")
                    .with_hint("retry after the delay in Retry-After")
                    .with_retry_after(1)
            }
            StoreError::Backend(why) => {
                tracing::error!(error = %why, "store failure");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "the store failed to serve this request",
                )
                .with_hint("retry later; the server log has the cause")
                .with_retry_after(1)
            }
            corrupt @ StoreError::Corrupt { .. } => {
                tracing::error!(error = %corrupt, "corrupt stored data");
                ApiError::new(ErrorCode::CorruptData, corrupt.to_string())
                    .with_hint("retrying will not help; an operator can delete or rewrite that row")
            }
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> ApiError {
        match e {
            ReadError::Store(e) => e.into(),
            ReadError::TooLarge(limit) => ApiError::new(
                ErrorCode::ResultTooLarge,
                format!("the answer would be larger than the read limit of {limit}"),
            )
            .with_hint("ask for fewer events: narrow the filters or the time range, or page"),
        }
    }
}

/// A JSON body read with the configured size limit. Rejections are JSON
/// errors: 413 over the limit, 415 for a non-JSON `Content-Type`, 400 when the
/// body does not parse. A missing `Content-Type` is accepted.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = req.headers().get(header::CONTENT_TYPE)
            && !is_json_content_type(content_type.to_str().unwrap_or(""))
        {
            let content_type = content_type.to_str().unwrap_or("").to_ascii_lowercase();
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("content type {content_type} is not json"),
            )
            .with_hint("send `Content-Type: application/json`"));
        }
        let budget = req.extensions().get::<RequestBudget>().cloned();
        let bytes = read_body(state, req).await?;
        let cost = json_cost(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid json body: {e}")))?;
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
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("invalid json body: {e}")))
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

/// The answer to a request the in-flight budget cannot take (counted).
pub(crate) fn over_budget(state: &AppState, refusal: Refusal, needed: usize) -> ApiError {
    state.metrics.over_budget();
    match refusal {
        Refusal::NotNow => ApiError::new(
            ErrorCode::OverBudget,
            "server is over its in-flight memory budget",
        )
        .with_hint("retry after the delay in Retry-After")
        .with_retry_after(state.config.retry_after_secs),
        Refusal::Never => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "decoding this request would take about {} MiB, more than the server's \
                 in-flight memory budget of {} MiB",
                needed.div_ceil(1 << 20),
                state.budget.max_bytes() >> 20
            ),
        )
        .with_hint("send smaller requests (fewer spans or events each), or raise the server's max_inflight_bytes"),
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
    use http_body_util::BodyExt;
    let limit = state.config.max_body_bytes;
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
