//! The platform's closed set of error codes, mapped once to HTTP and gRPC
//! statuses, and [`ErrorCoded`], what every error a client can be answered with
//! tells about itself.

use serde::{Deserialize, Serialize};

/// Every error the platform can show a client. Low-cardinality, so it can label metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or parameters could not be parsed or are invalid.
    BadRequest,
    /// No API key, or an unknown one.
    Unauthenticated,
    /// The key is valid but may not touch this resource.
    Forbidden,
    /// No such id in this project.
    NotFound,
    /// The body is over the configured size limit.
    PayloadTooLarge,
    /// The `Content-Type` is not one this endpoint reads.
    UnsupportedMediaType,
    /// The answer would pass the server's read limits (rows or bytes); ask for less.
    ResultTooLarge,
    /// The server is over its in-flight budget; retry after the given delay.
    OverBudget,
    /// The store is not writable right now.
    Unavailable,
    /// Stored data does not read back (a corrupt row or document); retrying
    /// will not help, an operator must repair or delete it.
    CorruptData,
    /// A bug: never expected.
    Internal,
}

impl ErrorCode {
    /// Stable wire name, e.g. `"not_found"`.
    ///
    /// ```
    /// assert_eq!(honeyhive_model::ErrorCode::NotFound.as_str(), "not_found");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ResultTooLarge => "result_too_large",
            ErrorCode::OverBudget => "over_budget",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::CorruptData => "corrupt_data",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status this code is answered with.
    ///
    /// ```
    /// assert_eq!(honeyhive_model::ErrorCode::OverBudget.http_status(), 429);
    /// ```
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::ResultTooLarge => 422,
            ErrorCode::OverBudget => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::CorruptData => 500,
            ErrorCode::Internal => 500,
        }
    }

    /// The gRPC status code number (per `google.rpc.Code`).
    ///
    /// ```
    /// assert_eq!(honeyhive_model::ErrorCode::Unauthenticated.grpc_code(), 16);
    /// ```
    pub fn grpc_code(self) -> i32 {
        match self {
            ErrorCode::BadRequest => 3,
            ErrorCode::Unauthenticated => 16,
            ErrorCode::Forbidden => 7,
            ErrorCode::NotFound => 5,
            ErrorCode::PayloadTooLarge => 8,
            ErrorCode::UnsupportedMediaType => 3,
            ErrorCode::ResultTooLarge => 8,
            ErrorCode::OverBudget => 8,
            ErrorCode::Unavailable => 14,
            ErrorCode::CorruptData => 15,
            ErrorCode::Internal => 13,
        }
    }

    /// Whether a client should retry a request answered with this code.
    ///
    /// ```
    /// assert!(honeyhive_model::ErrorCode::Unavailable.is_retryable());
    /// assert!(!honeyhive_model::ErrorCode::Unauthenticated.is_retryable());
    /// assert!(!honeyhive_model::ErrorCode::CorruptData.is_retryable());
    /// ```
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::OverBudget | ErrorCode::Unavailable | ErrorCode::Internal
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a client can be answered with: its stable [`ErrorCode`], the
/// message the client is shown, what to do about it, and when to retry.
///
/// Every error a server answers with implements it, and the server turns any
/// of them into its HTTP or gRPC answer in one place, so an error is worded,
/// hinted and coded where it is defined, not where it is answered.
///
/// ```
/// use std::time::Duration;
/// use honeyhive_model::{ErrorCode, ErrorCoded};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("the queue is full")]
/// struct QueueFull;
///
/// impl ErrorCoded for QueueFull {
///     fn code(&self) -> ErrorCode {
///         ErrorCode::Unavailable
///     }
///     fn hint(&self) -> Option<&str> {
///         Some("retry after the delay in Retry-After")
///     }
///     fn retry_after(&self) -> Option<Duration> {
///         Some(Duration::from_secs(1))
///     }
/// }
///
/// assert_eq!(QueueFull.code().http_status(), 503);
/// assert_eq!(QueueFull.public_message(), "the queue is full");
/// assert!(!QueueFull.is_server_fault());
/// ```
pub trait ErrorCoded: std::error::Error {
    /// The stable code the client is answered with; it decides the status.
    fn code(&self) -> ErrorCode;

    /// What the client can do about it, if anything useful can be said.
    fn hint(&self) -> Option<&str> {
        None
    }

    /// How long the client should wait before retrying, when retrying later
    /// will help.
    fn retry_after(&self) -> Option<std::time::Duration> {
        None
    }

    /// The message the client is shown: the error's own (lower case, no
    /// trailing punctuation) unless that would expose the server's internals.
    fn public_message(&self) -> String {
        self.to_string()
    }

    /// Whether the server's log should record this error: a fault of the
    /// server or of its stored data, not of the request.
    fn is_server_fault(&self) -> bool {
        matches!(self.code(), ErrorCode::Internal | ErrorCode::CorruptData)
    }
}
