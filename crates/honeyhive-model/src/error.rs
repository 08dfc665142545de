//! The crate's one error type.

use crate::ErrorCode;

/// Everything that can go wrong while decoding or mapping telemetry.
///
/// Messages are lower-case and punctuation-free so they can be shown to clients
/// as-is; [`ModelError::code`] gives the stable [`ErrorCode`] to answer with.
///
/// ```
/// use honeyhive_model::{ErrorCode, ModelError};
/// let err = honeyhive_model::otlp::decode_json(b"not json").unwrap_err();
/// assert!(matches!(err, ModelError::Json(_)));
/// assert_eq!(err.code(), ErrorCode::BadRequest);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The body is not a valid OTLP protobuf message.
    #[error("invalid otlp protobuf: {0}")]
    Protobuf(String),
    /// The body is not JSON, or not an OTLP JSON request.
    #[error("invalid otlp json: {0}")]
    Json(String),
    /// The body is not a valid gzip stream.
    #[error("invalid gzip body: {0}")]
    Gzip(String),
    /// The decompressed body is larger than the allowed limit.
    #[error("decompressed body exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes that was exceeded.
        limit: usize,
    },
}

impl ModelError {
    /// The platform error code a server answers this error with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ModelError::Protobuf(_) | ModelError::Json(_) | ModelError::Gzip(_) => {
                ErrorCode::BadRequest
            }
            ModelError::TooLarge { .. } => ErrorCode::PayloadTooLarge,
        }
    }
}
