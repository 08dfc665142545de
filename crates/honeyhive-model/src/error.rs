//! The crate's one error type.

use crate::{ErrorCode, ErrorCoded};

/// Everything that can go wrong while decoding or mapping telemetry, parsing
/// filter objects ([`crate::filter`]), or reading a run's wire names
/// ([`crate::run`]).
///
/// Messages are lower-case and punctuation-free so they can be shown to clients
/// as-is; [`ErrorCoded::code`] gives the stable [`ErrorCode`] to answer with.
///
/// ```
/// use honeyhive_model::{ErrorCode, ErrorCoded, ModelError};
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
    /// A filter (or filter list) is not the expected JSON shape.
    #[error("filter is malformed: {0}")]
    FilterMalformed(String),
    /// A filter `field` is empty, unknown, or its path has an invalid segment.
    #[error("unknown or invalid filter field {0:?}")]
    FilterInvalidField(String),
    /// A filter `operator` is not one of the supported operators.
    #[error("unknown filter operator {0:?}")]
    FilterUnknownOperator(String),
    /// A filter `type` is not `string`, `number`, `boolean` or `datetime`.
    #[error("unknown filter type {0:?}")]
    FilterUnknownType(String),
    /// A filter `value` cannot be read as the declared `type`.
    #[error("filter value for {field:?} is not a valid {expected}")]
    FilterInvalidValue {
        /// The filter's field.
        field: String,
        /// The type the value had to have.
        expected: &'static str,
    },
    /// A filter operator does not apply to this field or value type.
    #[error("operator {operator:?} cannot be used on {field:?} with a {value_type} value")]
    FilterOperatorMismatch {
        /// The filter's field.
        field: String,
        /// The operator's wire name.
        operator: &'static str,
        /// The value type it was given.
        value_type: &'static str,
    },
    /// A run status that is not one of [`crate::run::RunStatus`]'s wire names.
    #[error("unknown run status {0:?}")]
    UnknownRunStatus(String),
    /// An aggregation that is not one of [`crate::run::Aggregation`]'s names.
    #[error(
        "unknown aggregate_function {0:?}; use average, min, max, median, p90, p95, p99, sum or count"
    )]
    UnknownAggregation(String),
}

/// How a filter object is written, for the hint of a filter error.
const FILTER_HINT: &str = "filters are [{\"field\": \"metadata.run_id\", \"operator\": \"is\", \"value\": \"...\", \"type\": \"string\"}]; \
     operators: is, is not, contains, not contains, greater than, less than, after, before, exists, not exists";

/// Filter errors are shown as `invalid filter: ...` with how filters are
/// written; an undecodable OTLP body, with what to send instead.
///
/// ```
/// use honeyhive_model::ErrorCoded;
/// use honeyhive_model::filter::FilterSet;
/// let err = FilterSet::from_json(&serde_json::json!(42)).unwrap_err();
/// assert_eq!(
///     err.public_message(),
///     "invalid filter: filter is malformed: filters must be an array of objects"
/// );
/// assert!(err.hint().is_some_and(|h| h.starts_with("filters are [")));
/// ```
impl ErrorCoded for ModelError {
    fn code(&self) -> ErrorCode {
        match self {
            ModelError::Protobuf(_) | ModelError::Json(_) | ModelError::Gzip(_) => {
                ErrorCode::BadRequest
            }
            ModelError::TooLarge { .. } => ErrorCode::PayloadTooLarge,
            ModelError::FilterMalformed(_)
            | ModelError::FilterInvalidField(_)
            | ModelError::FilterUnknownOperator(_)
            | ModelError::FilterUnknownType(_)
            | ModelError::FilterInvalidValue { .. }
            | ModelError::FilterOperatorMismatch { .. } => ErrorCode::BadRequest,
            ModelError::UnknownRunStatus(_) | ModelError::UnknownAggregation(_) => {
                ErrorCode::BadRequest
            }
        }
    }

    fn hint(&self) -> Option<&str> {
        match self {
            _ if self.is_filter() => Some(FILTER_HINT),
            ModelError::Protobuf(_) | ModelError::Json(_) => {
                Some("send an OTLP ExportTraceServiceRequest")
            }
            ModelError::UnknownRunStatus(_) => {
                Some("use pending, running, completed, failed or cancelled")
            }
            _ => None,
        }
    }

    fn public_message(&self) -> String {
        if self.is_filter() {
            format!("invalid filter: {self}")
        } else {
            self.to_string()
        }
    }
}

impl ModelError {
    /// Whether this error rejects a filter object (see [`crate::filter`]), as opposed
    /// to a telemetry body; servers word and hint the two differently.
    ///
    /// ```
    /// use honeyhive_model::{ErrorCode, ErrorCoded};
    /// use honeyhive_model::filter::FilterSet;
    /// let err = FilterSet::from_json(&serde_json::json!(42)).unwrap_err();
    /// assert!(err.is_filter());
    /// assert_eq!(err.code(), ErrorCode::BadRequest);
    /// assert_eq!(err.to_string(), "filter is malformed: filters must be an array of objects");
    /// ```
    pub fn is_filter(&self) -> bool {
        matches!(
            self,
            ModelError::FilterMalformed(_)
                | ModelError::FilterInvalidField(_)
                | ModelError::FilterUnknownOperator(_)
                | ModelError::FilterUnknownType(_)
                | ModelError::FilterInvalidValue { .. }
                | ModelError::FilterOperatorMismatch { .. }
        )
    }
}
