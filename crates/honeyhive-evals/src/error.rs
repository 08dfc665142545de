//! The crate's one error type.

/// Why an evaluator produced no result.
///
/// Messages are lower-case and name the evaluator or parameter involved so that an
/// experiment runner can record them per evaluator without further context.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum EvalError {
    /// The evaluator needs ground truth and the datapoint has none.
    #[error("ground truth missing for evaluator {0}")]
    MissingGroundTruth(String),
    /// The evaluator reads the traced event and none was supplied.
    #[error("traced event missing for evaluator {0}")]
    MissingEvent(String),
    /// A field the evaluator reads is absent or has the wrong type.
    #[error("evaluator {evaluator}: {message}")]
    InvalidInput {
        /// The evaluator that rejected the input.
        evaluator: String,
        /// What was wrong.
        message: String,
    },
    /// An evaluator was configured with a bad parameter (unknown name, bad regex, ...).
    #[error("invalid parameter {param}: {message}")]
    InvalidParam {
        /// The parameter's name.
        param: String,
        /// What was wrong with it.
        message: String,
    },
    /// A metric's parameters do not read as its [`MetricSpec`](crate::MetricSpec): a
    /// parameter it does not take, or a value of the wrong type.
    #[error("invalid parameters for {metric}: {message}")]
    InvalidSpec {
        /// The metric.
        metric: String,
        /// What was wrong, naming the parameter.
        message: String,
    },
    /// No built-in metric has this name.
    #[error("unknown metric {0}")]
    UnknownMetric(String),
    /// The judge or embeddings endpoint could not be reached or answered with an error.
    #[error("endpoint {url} failed after {attempts} attempts: {message}")]
    Endpoint {
        /// The URL that was called.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        message: String,
    },
    /// The endpoint configuration is incomplete (no base URL or model).
    #[error("endpoint configuration incomplete: {0}")]
    Config(String),
    /// The judge answered but no verdict could be read from its answer.
    #[error("unparseable judge verdict: {raw}")]
    UnparseableVerdict {
        /// The judge's raw answer text.
        raw: String,
    },
    /// A child of a composite evaluator failed.
    #[error("composite {composite}: child {child} failed: {source}")]
    Child {
        /// The composite's name.
        composite: String,
        /// The failing child's name.
        child: String,
        /// The child's error.
        #[source]
        source: Box<EvalError>,
    },
    /// A user-supplied evaluator function failed.
    #[error("evaluator {evaluator} failed: {message}")]
    Failed {
        /// The evaluator's name.
        evaluator: String,
        /// The failure, as the function reported it.
        message: String,
    },
}

impl EvalError {
    pub(crate) fn invalid_input(evaluator: &str, message: impl Into<String>) -> Self {
        EvalError::InvalidInput {
            evaluator: evaluator.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        EvalError::InvalidParam {
            param: param.to_string(),
            message: message.into(),
        }
    }
}
