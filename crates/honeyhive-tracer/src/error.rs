//! The SDK's one error type: every user-visible failure has a stable code and a hint.

use std::path::PathBuf;
use std::time::Duration;

/// Everything the SDK can report to the caller.
///
/// Each variant has a stable code ([`Error::code`], `HH-E1xx` for configuration,
/// `HH-E2xx` for the export pipeline, `HH-E3xx` for experiments) that is safe to match
/// on or to use as a metric label, and a hint ([`Error::hint`]) saying what to do about it.
///
/// ```
/// let err = honeyhive::Tracer::builder().api_key("k").server_url("not a url").build().unwrap_err();
/// assert_eq!(err.code(), "HH-E102");
/// assert!(!err.hint().is_empty());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No API key was given and `HH_API_KEY` is not set.
    #[error("missing api key")]
    MissingApiKey,
    /// The server URL could not be parsed or uses an unsupported scheme.
    #[error("invalid server url {url:?}: {reason}")]
    InvalidServerUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A configuration value (builder or environment) is out of range or malformed.
    #[error("invalid configuration value for {field}: {reason}")]
    InvalidConfig {
        /// The builder method or environment variable.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The spool directory could not be created or is not writable.
    #[error("spool directory {path:?} is unusable: {source}")]
    SpoolUnavailable {
        /// The directory.
        path: std::path::PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The export worker thread could not be started.
    #[error("could not start the export worker: {0}")]
    WorkerStart(std::io::Error),
    /// The server rejected the API key (`401`/`403`).
    #[error("the server rejected the api key with status {status}")]
    Unauthorized {
        /// HTTP status.
        status: u16,
        /// The server's error code, when it sent one.
        server_code: Option<String>,
    },
    /// `flush` did not finish before its deadline; the spans stay queued.
    #[error("flush did not complete within {timeout:?}; {pending} spans still pending")]
    FlushTimeout {
        /// The deadline given to `flush`.
        timeout: Duration,
        /// Spans still queued or in flight when the deadline passed.
        pending: u64,
    },
    /// The tracer was shut down; nothing more is exported.
    #[error("the tracer is shut down")]
    ShutDown,
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
    /// The experiment configuration is unusable (missing key, bad URL, zero concurrency, ...).
    #[error("invalid experiment configuration: {0}")]
    InvalidExperimentConfig(String),
    /// The tracer for an experiment's spans could not be started; the boxed error is
    /// the tracer's own (kept whole so its code and hint stay reachable).
    #[error("could not start the tracer: {0}")]
    ExperimentTracer(#[source] Box<Error>),
    /// An experiments REST call failed at the transport level or with a non-2xx status.
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
    /// The server answered an experiments REST call with a body we cannot read.
    #[error("unexpected response from {path}: {reason}")]
    BadResponse {
        /// Request path.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The server dataset has no datapoints.
    #[error("dataset {0} has no datapoints")]
    EmptyDataset(String),
    /// An experiment worker thread could not be started.
    #[error("could not start a worker thread: {0}")]
    ExperimentWorker(std::io::Error),
}

impl Error {
    /// The stable, low-cardinality code of this error (`HH-E…`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::MissingApiKey => "HH-E101",
            Error::InvalidServerUrl { .. } => "HH-E102",
            Error::InvalidConfig { .. } => "HH-E103",
            Error::SpoolUnavailable { .. } => "HH-E104",
            Error::WorkerStart(_) => "HH-E105",
            Error::Unauthorized { .. } => "HH-E201",
            Error::FlushTimeout { .. } => "HH-E202",
            Error::ShutDown => "HH-E203",
            Error::MissingDataset => "HH-E301",
            Error::DatasetFile { .. } => "HH-E302",
            Error::InvalidDataset { .. } => "HH-E303",
            Error::InvalidExperimentConfig(_) => "HH-E304",
            Error::ExperimentTracer(_) => "HH-E305",
            Error::Http { .. } => "HH-E306",
            Error::BadResponse { .. } => "HH-E307",
            Error::EmptyDataset(_) => "HH-E308",
            Error::ExperimentWorker(_) => "HH-E309",
        }
    }

    /// What the user can do about this error.
    pub fn hint(&self) -> &'static str {
        match self {
            Error::MissingApiKey => {
                "pass .api_key(..) to the builder or set HH_API_KEY; use .test_mode(true) to trace without a server"
            }
            Error::InvalidServerUrl { .. } => {
                "use an absolute http:// or https:// url such as https://api.honeyhive.ai (HH_API_URL)"
            }
            Error::InvalidConfig { .. } => {
                "check the value against the builder method's documentation"
            }
            Error::SpoolUnavailable { .. } => {
                "point spool_dir / HH_SPOOL_DIR at a writable directory or leave it unset"
            }
            Error::WorkerStart(_) => "the process may have hit its thread limit",
            Error::Unauthorized { .. } => {
                "check HH_API_KEY: it must be a project api key for this server"
            }
            Error::FlushTimeout { .. } => {
                "the server is slow or unreachable; see Tracer::health() for the breaker state and drop counts"
            }
            Error::ShutDown => "create a new Tracer; a shut-down tracer records nothing",
            Error::MissingDataset => {
                "call .dataset(...) with datapoints, a jsonl/csv file or a server dataset id"
            }
            Error::DatasetFile { .. } => "check the dataset path and its permissions",
            Error::InvalidDataset { .. } => {
                "jsonl: one object per line with inputs/ground_truth/id; csv: a header row and the same number of fields per row"
            }
            Error::InvalidExperimentConfig(_) => {
                "set HH_API_KEY and HH_API_URL or pass api_key/server_url; max_concurrency must be at least 1"
            }
            Error::ExperimentTracer(_) => "see the tracer error's own hint",
            Error::Http { .. } => {
                "check that the server is reachable and the api key belongs to the project"
            }
            Error::BadResponse { .. } => "check that the server url points at a HoneyHive API",
            Error::EmptyDataset(_) => "add datapoints to the dataset or pick another one",
            Error::ExperimentWorker(_) => "lower max_concurrency or raise the process thread limit",
        }
    }
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiment_tracer_error_keeps_its_own_code_and_exposes_the_tracer_error_as_source() {
        let err = Error::ExperimentTracer(Box::new(Error::MissingApiKey));
        assert_eq!(err.code(), "HH-E305");
        assert_eq!(
            err.to_string(),
            "could not start the tracer: missing api key"
        );
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("missing api key"));
    }
}
