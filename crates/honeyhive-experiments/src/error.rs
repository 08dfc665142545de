//! What the experiments API can fail with. Each public function returns only the
//! errors it can produce; every one has a stable code (`HH-E3xx`) and a hint.
//!
//! Failures of one datapoint or one evaluator are not errors: they are recorded in
//! the summary and the run completes.

use std::path::PathBuf;

use honeyhive_tracer::BuildError;

/// The error an evaluator returns for one datapoint: any error, or a message
/// (`Err("no ground truth".into())`). It is recorded for that datapoint only.
pub type EvaluatorError = Box<dyn std::error::Error + Send + Sync>;

/// The connection or run settings are unusable: no api key in the environment, a
/// server url there that is not `http(s)://`, zero concurrency, no evaluators.
/// Code `HH-E304`.
///
/// ```
/// let err = honeyhive_experiments::evaluate(|_dp| Ok::<_, String>(serde_json::json!(null)))
///     .max_concurrency(0)
///     .dataset(vec![])
///     .run()
///     .unwrap_err();
/// assert_eq!(err.code(), "HH-E304");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid experiment configuration: {reason}")]
pub struct ConfigError {
    reason: String,
}

impl ConfigError {
    pub(crate) fn new(reason: impl Into<String>) -> ConfigError {
        ConfigError {
            reason: reason.into(),
        }
    }

    /// What is wrong with the configuration.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The stable code, `HH-E304`.
    pub fn code(&self) -> &'static str {
        "HH-E304"
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        "set HH_API_KEY and HH_API_URL or pass a Connection; max_concurrency must be at least 1"
    }
}

/// A connection that cannot be made from the environment (no key, a bad url).
impl From<BuildError> for ConfigError {
    fn from(error: BuildError) -> ConfigError {
        ConfigError::new(error.to_string())
    }
}

/// A REST call to the server failed (`HH-E306`) or answered with a body that cannot be
/// read (`HH-E307`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The call failed at the transport level or with a non-2xx status.
    #[error("{method} {path} failed: {reason}")]
    Http {
        /// HTTP method.
        method: &'static str,
        /// Request path.
        path: String,
        /// HTTP status when the server answered.
        status: Option<u16>,
        /// The status line or transport error, and the server's message.
        reason: String,
    },
    /// The server answered with a body we cannot read.
    #[error("unexpected response from {path}: {reason}")]
    BadResponse {
        /// Request path.
        path: String,
        /// What was wrong.
        reason: String,
    },
}

impl RequestError {
    pub(crate) fn bad_response(path: &str, reason: impl Into<String>) -> RequestError {
        RequestError::BadResponse {
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    /// The stable code: `HH-E306` (call failed) or `HH-E307` (unreadable answer).
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::Http { .. } => "HH-E306",
            RequestError::BadResponse { .. } => "HH-E307",
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            RequestError::Http { .. } => {
                "check that the server is reachable and the api key belongs to the project"
            }
            RequestError::BadResponse { .. } => {
                "check that the server url points at a HoneyHive API"
            }
        }
    }
}

/// What [`compare_runs`](crate::compare_runs) can fail with: unusable connection
/// settings or a failed call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connection settings are unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A call to the server failed.
    #[error(transparent)]
    Request(#[from] RequestError),
}

impl ClientError {
    /// The stable code of the underlying error.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Config(e) => e.code(),
            ClientError::Request(e) => e.code(),
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ClientError::Config(e) => e.hint(),
            ClientError::Request(e) => e.hint(),
        }
    }
}

/// What stops [`EvaluateEventsBuilder::run`](crate::EvaluateEventsBuilder::run) as a
/// whole: unusable settings, the events cannot be read, or no worker thread starts.
/// Failed evaluators and failed write-backs are reported per event instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Reading the events failed.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A worker thread could not be started (`HH-E309`).
    #[error("could not start a worker thread: {0}")]
    Worker(std::io::Error),
}

impl EventsError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            EventsError::Config(e) => e.code(),
            EventsError::Request(e) => e.code(),
            EventsError::Worker(_) => WORKER_CODE,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            EventsError::Config(e) => e.hint(),
            EventsError::Request(e) => e.hint(),
            EventsError::Worker(_) => WORKER_HINT,
        }
    }
}

const WORKER_CODE: &str = "HH-E309";
const WORKER_HINT: &str = "lower the concurrency or raise the process thread limit";

/// What stops an experiment ([`EvaluateBuilder::run`](crate::EvaluateBuilder::run))
/// as a whole; every error of this crate converts into it.
///
/// ```
/// use honeyhive_experiments::{evaluate, Dataset};
/// let err = evaluate(|_dp| Ok::<_, String>(serde_json::json!(null)))
///     .dataset(Dataset::jsonl("/nonexistent/eval.jsonl"))
///     .connection(honeyhive_experiments::Connection::new("k", "http://127.0.0.1:9").unwrap())
///     .run()
///     .unwrap_err();
/// assert_eq!(err.code(), "HH-E302");
/// assert!(!err.hint().is_empty());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An experiment was started without a dataset.
    #[error("no dataset given")]
    MissingDataset,
    /// A dataset file could not be read.
    #[error("cannot read dataset file {path:?}: {source}")]
    DatasetFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A dataset file has a malformed row.
    #[error("invalid dataset {path:?} at line {line}: {reason}")]
    InvalidDataset {
        /// The file.
        path: PathBuf,
        /// 1-based line of the row.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The tracer for the experiment's spans could not be built; its own error (code
    /// and hint) is the source.
    #[error("could not start the tracer: {0}")]
    Tracer(#[source] BuildError),
    /// A call to the server failed.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The server dataset has no datapoints.
    #[error("dataset {0} has no datapoints")]
    EmptyDataset(String),
    /// A worker thread could not be started.
    #[error("could not start a worker thread: {0}")]
    Worker(std::io::Error),
}

impl From<ClientError> for Error {
    fn from(error: ClientError) -> Error {
        match error {
            ClientError::Config(e) => Error::Config(e),
            ClientError::Request(e) => Error::Request(e),
        }
    }
}

impl From<EventsError> for Error {
    fn from(error: EventsError) -> Error {
        match error {
            EventsError::Config(e) => Error::Config(e),
            EventsError::Request(e) => Error::Request(e),
            EventsError::Worker(e) => Error::Worker(e),
        }
    }
}

impl Error {
    /// The stable, low-cardinality code of this error (`HH-E3xx`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::MissingDataset => "HH-E301",
            Error::DatasetFile { .. } => "HH-E302",
            Error::InvalidDataset { .. } => "HH-E303",
            Error::Config(e) => e.code(),
            Error::Tracer(_) => "HH-E305",
            Error::Request(e) => e.code(),
            Error::EmptyDataset(_) => "HH-E308",
            Error::Worker(_) => WORKER_CODE,
        }
    }

    /// What the user can do about this error.
    pub fn hint(&self) -> &'static str {
        match self {
            Error::MissingDataset => {
                "call .dataset(...) with datapoints, a jsonl/csv file or a server dataset id"
            }
            Error::DatasetFile { .. } => "check the dataset path and its permissions",
            Error::InvalidDataset { .. } => {
                "jsonl: one object per line with inputs/ground_truth/id; csv: a header row and the same number of fields per row"
            }
            Error::Config(e) => e.hint(),
            Error::Tracer(_) => "see the tracer error's own hint",
            Error::Request(e) => e.hint(),
            Error::EmptyDataset(_) => "add datapoints to the dataset or pick another one",
            Error::Worker(_) => WORKER_HINT,
        }
    }
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracer_error_keeps_its_own_code_and_is_the_source() {
        let err = Error::Tracer(BuildError::MissingApiKey);
        assert_eq!(err.code(), "HH-E305");
        assert_eq!(
            err.to_string(),
            "could not start the tracer: missing api key"
        );
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("missing api key"));
    }

    #[test]
    fn wrapped_errors_keep_their_codes_and_messages() {
        let config: Error = ConfigError::new("missing api key (HH_API_KEY)").into();
        assert_eq!(config.code(), "HH-E304");
        assert_eq!(
            config.to_string(),
            "invalid experiment configuration: missing api key (HH_API_KEY)"
        );
        let request: Error = RequestError::bad_response("/v1/runs", "no run").into();
        assert_eq!(request.code(), "HH-E307");
        assert_eq!(
            request.to_string(),
            "unexpected response from /v1/runs: no run"
        );
    }
}
