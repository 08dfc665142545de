//! Where the server answers errors: [`ApiError`], its JSON body and status,
//! and what each server-side error becomes.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use honeyhive_model::{ErrorCode, ModelError};

use crate::ingest::events::InvalidBody;
use crate::store::{ReadError, StoreError};

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

/// A bounded read's error: past a limit, 422 `result_too_large` with `hint`
/// (how to ask for less on this route); anything else as the store's error.
pub(crate) fn read_error(e: ReadError, hint: &str) -> ApiError {
    match e {
        ReadError::TooLarge(_) => ApiError::from(e).with_hint(hint),
        ReadError::Store(e) => e.into(),
    }
}

impl From<InvalidBody> for ApiError {
    fn from(e: InvalidBody) -> ApiError {
        ApiError::bad_request(e.0).with_hint("see GET /openapi.json for the body schema")
    }
}

/// A store error, with `hint` when it is a missing row.
pub(crate) fn hinted(e: StoreError, hint: &str) -> ApiError {
    let not_found = matches!(e, StoreError::NotFound(_));
    let error = ApiError::from(e);
    if not_found {
        error.with_hint(hint)
    } else {
        error
    }
}
