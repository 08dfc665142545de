//! What a store call can fail with.

/// Errors a store can produce.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row with that id in this project.
    #[error("{0} not found")]
    NotFound(String),
    /// The input is invalid for the store (bad filter field, bad id).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The backend failed (I/O, corruption, connection).
    #[error("backend: {0}")]
    Backend(String),
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
    #[error("the answer is larger than the read limit of {0}")]
    TooLarge(ReadLimit),
}

/// Result alias for bounded reads.
pub type ReadResult<T> = Result<T, ReadError>;
