//! What a store call can fail with, and what a client is told of it.

use std::time::Duration;

use honeyhive_model::{ErrorCode, ErrorCoded};

/// Errors a store can produce.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row with that id in this project.
    #[error("{0} not found")]
    NotFound(String),
    /// The input is invalid for the store (bad filter field, bad id).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The backend failed (I/O, corruption, connection); the cause is kept as
    /// the error's source, for the server's log.
    #[error("backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend's write queue is full; retry shortly.
    #[error("the store's write queue is full")]
    Busy,
    /// Stored JSON does not read back: a read error, never an empty value.
    #[error("stored {what} has an unreadable {field}: {reason}")]
    Corrupt {
        /// The row, e.g. `event <id>` or `run <id>`.
        what: String,
        /// The column or field, e.g. `metadata` or `doc`.
        field: &'static str,
        /// Why it does not read (the parser's message).
        reason: String,
    },
}

/// A store that failed or is busy is answered 503 with a retry delay (the
/// backend's own message goes to the server's log, not to the client); stored
/// data that does not read back is answered `corrupt_data`, which retrying
/// will not fix.
///
/// ```
/// use honeyhive_model::{ErrorCode, ErrorCoded};
/// use honeyhive_server::store::StoreError;
/// let busy = StoreError::Busy;
/// assert_eq!(busy.code(), ErrorCode::Unavailable);
/// assert_eq!(busy.retry_after().map(|d| d.as_secs()), Some(1));
/// assert_eq!(StoreError::Invalid("bad id".into()).public_message(), "bad id");
/// ```
impl ErrorCoded for StoreError {
    fn code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound(_) => ErrorCode::NotFound,
            StoreError::Invalid(_) => ErrorCode::BadRequest,
            StoreError::Backend(_) | StoreError::Busy => ErrorCode::Unavailable,
            StoreError::Corrupt { .. } => ErrorCode::CorruptData,
        }
    }

    fn hint(&self) -> Option<&str> {
        match self {
            StoreError::NotFound(_) | StoreError::Invalid(_) => None,
            StoreError::Busy => Some("retry after the delay in Retry-After"),
            StoreError::Backend(_) => Some("retry later; the server log has the cause"),
            StoreError::Corrupt { .. } => {
                Some("retrying will not help; an operator can delete or rewrite that row")
            }
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, StoreError::Busy | StoreError::Backend(_)).then_some(Duration::from_secs(1))
    }

    fn public_message(&self) -> String {
        match self {
            StoreError::Invalid(why) => why.clone(),
            StoreError::Backend(_) => "the store failed to serve this request".to_string(),
            other => other.to_string(),
        }
    }

    fn is_server_fault(&self) -> bool {
        matches!(self, StoreError::Backend(_) | StoreError::Corrupt { .. })
    }
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The read limit an answer would have passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadLimit {
    /// [`ReadLimits::max_bytes`](super::ReadLimits::max_bytes) (or a query's own byte bound).
    Bytes(u64),
    /// [`ReadLimits::max_events`](super::ReadLimits::max_events).
    Events(u64),
}

impl std::fmt::Display for ReadLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadLimit::Bytes(n) => write!(f, "{n} bytes"),
            ReadLimit::Events(n) => write!(f, "{n} events"),
        }
    }
}

/// Errors of a bounded read: the store's, or the answer passing a limit.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The store failed or refused (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The answer would hold more than the limit; nothing was returned.
    #[error("the answer would be larger than the read limit of {0}")]
    TooLarge(ReadLimit),
}

/// Result alias for bounded reads.
pub type ReadResult<T> = Result<T, ReadError>;

/// Past a limit, 422 `result_too_large` with how to ask for less (a route can
/// give its own hint); a store error as the store answers it.
impl ErrorCoded for ReadError {
    fn code(&self) -> ErrorCode {
        match self {
            ReadError::Store(e) => e.code(),
            ReadError::TooLarge(_) => ErrorCode::ResultTooLarge,
        }
    }

    fn hint(&self) -> Option<&str> {
        match self {
            ReadError::Store(e) => e.hint(),
            ReadError::TooLarge(_) => {
                Some("ask for fewer events: narrow the filters or the time range, or page")
            }
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ReadError::Store(e) => e.retry_after(),
            ReadError::TooLarge(_) => None,
        }
    }

    fn public_message(&self) -> String {
        match self {
            ReadError::Store(e) => e.public_message(),
            ReadError::TooLarge(_) => self.to_string(),
        }
    }

    fn is_server_fault(&self) -> bool {
        match self {
            ReadError::Store(e) => e.is_server_fault(),
            ReadError::TooLarge(_) => false,
        }
    }
}
