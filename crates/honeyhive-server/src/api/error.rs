//! Where the server answers errors: [`ApiError`], its JSON body and HTTP
//! status, and its gRPC status.
//!
//! Every server-side error implements [`ErrorCoded`] where it is defined
//! (store, read, auth, body and decoding errors) and becomes an `ApiError`
//! through the one conversion here; handlers add a route's own hint where they
//! know better (`read_error`, `hinted`).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use honeyhive_model::{ErrorCode, ErrorCoded};

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

/// The one way a server-side error becomes an answer: its code, the message
/// the client is shown, its hint and retry delay. A fault of the server or of
/// its stored data is logged here, with the error's own message.
///
/// ```
/// use honeyhive_model::ErrorCode;
/// use honeyhive_server::api::ApiError;
/// use honeyhive_server::store::StoreError;
/// let e = ApiError::from(StoreError::Busy);
/// assert_eq!((e.code, e.retry_after), (ErrorCode::Unavailable, Some(1)));
/// assert_eq!(e.message, "the store's write queue is full");
/// ```
impl<E: ErrorCoded> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        let code = e.code();
        if e.is_server_fault() {
            tracing::error!(code = code.as_str(), error = %e, "request failed on the server's side");
        }
        ApiError {
            code,
            message: e.public_message(),
            hint: e.hint().map(str::to_string),
            retry_after: e
                .retry_after()
                .map(|delay| delay.as_secs_f64().ceil() as u64),
        }
    }
}

/// The gRPC answer of an API error: its code, its message and hint, and its
/// retry delay as `grpc-retry-pushback-ms`.
#[cfg(feature = "grpc")]
impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> tonic::Status {
        let code = tonic::Code::from_i32(e.code.grpc_code());
        let message = match &e.hint {
            Some(hint) => format!("{} ({hint})", e.message),
            None => e.message.clone(),
        };
        let mut status = tonic::Status::new(code, message);
        if let Some(seconds) = e.retry_after
            && let Ok(value) =
                tonic::metadata::MetadataValue::try_from((seconds * 1000).to_string())
        {
            status
                .metadata_mut()
                .insert("grpc-retry-pushback-ms", value);
        }
        status
    }
}

/// The server's own work failed: a task on the blocking pool that did not
/// come back (it panicked, or the runtime is stopping), or an answer that
/// would not encode. Answered 500 with what failed; the cause goes to the log.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub(crate) struct WorkFailed {
    what: &'static str,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl WorkFailed {
    /// `what` failed (lower case, no trailing punctuation), because of `source`.
    pub(crate) fn new(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> WorkFailed {
        WorkFailed {
            what,
            source: source.into(),
        }
    }
}

impl ErrorCoded for WorkFailed {
    fn code(&self) -> ErrorCode {
        ErrorCode::Internal
    }

    fn public_message(&self) -> String {
        self.what.to_string()
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

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use honeyhive_model::filter::FilterSet;

    use super::*;
    use crate::auth::AuthError;

    #[test]
    fn a_store_failure_is_answered_503_with_a_retry_delay_and_its_cause_kept_for_the_log() {
        let cause = rusqlite::Error::InvalidQuery;
        let failure = StoreError::Backend(Box::new(cause));
        let kept = failure
            .source()
            .and_then(|s| s.downcast_ref::<rusqlite::Error>());
        assert!(
            matches!(kept, Some(rusqlite::Error::InvalidQuery)),
            "{kept:?}"
        );
        assert!(failure.to_string().starts_with("backend: "), "{failure}");

        let answer = ApiError::from(failure);
        assert_eq!(answer.code, ErrorCode::Unavailable);
        assert_eq!(answer.message, "the store failed to serve this request");
        assert_eq!(
            answer.hint.as_deref(),
            Some("retry later; the server log has the cause")
        );
        assert_eq!(answer.retry_after, Some(1));
    }

    #[test]
    fn an_auth_error_from_the_store_is_answered_as_the_store_answers_it() {
        let busy = ApiError::from(AuthError::Store(StoreError::Busy));
        assert_eq!(
            (busy.code, busy.retry_after, busy.message.as_str()),
            (
                ErrorCode::Unavailable,
                Some(1),
                "the store's write queue is full"
            )
        );
        let unknown = ApiError::from(AuthError::Unknown);
        assert_eq!(
            (unknown.code, unknown.hint.as_deref()),
            (
                ErrorCode::Unauthenticated,
                Some("create one with `hh keys create --project NAME`")
            )
        );
    }

    #[test]
    fn a_filter_error_names_itself_and_shows_how_filters_are_written() {
        let Err(error) = FilterSet::from_json(&serde_json::json!(42)) else {
            panic!("42 is not a filter list");
        };
        let answer = ApiError::from(error);
        assert_eq!(answer.code, ErrorCode::BadRequest);
        assert!(answer.message.starts_with("invalid filter: "), "{answer}");
        assert!(
            answer
                .hint
                .is_some_and(|h| h.contains("operators: is, is not"))
        );
    }

    #[tokio::test]
    async fn work_that_did_not_come_back_is_answered_500_naming_it_and_its_cause_kept_for_the_log()
    {
        let work = || -> u8 { panic!("a detail the client is not shown") };
        let Err(panicked) = tokio::task::spawn_blocking(work).await else {
            panic!("the task panicked");
        };
        let failure = WorkFailed::new("run task failed", panicked);
        let kept = failure
            .source()
            .and_then(|s| s.downcast_ref::<tokio::task::JoinError>());
        assert!(kept.is_some_and(|e| e.is_panic()), "{failure:?}");

        let answer = ApiError::from(failure);
        assert_eq!(answer.code, ErrorCode::Internal);
        assert_eq!(answer.message, "run task failed");
        assert_eq!(answer.retry_after, None);
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn the_grpc_status_carries_the_message_hint_and_retry_delay() {
        let status = tonic::Status::from(ApiError::from(StoreError::Busy));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            status.message(),
            "the store's write queue is full (retry after the delay in Retry-After)"
        );
        let pushback = status
            .metadata()
            .get("grpc-retry-pushback-ms")
            .and_then(|v| v.to_str().ok());
        assert_eq!(pushback, Some("1000"));
    }
}
