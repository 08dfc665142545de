//! What an experiment can fail with as a whole. Failures of one datapoint or one
//! evaluator are not errors: they are recorded in the summary and the run completes.

use std::path::PathBuf;

/// A failure that stops an experiment (or a run query) as a whole.
///
/// Codes are stable (`HH-E3xx`) and safe to use as metric labels.
///
/// ```
/// use honeyhive::experiments::{evaluate, Dataset};
/// let err = evaluate(|_dp| Ok::<_, String>(serde_json::json!(null)))
///     .dataset(Dataset::jsonl("/nonexistent/eval.jsonl"))
///     .api_key("k")
///     .server_url("http://127.0.0.1:9")
///     .run()
///     .unwrap_err();
/// assert_eq!(err.code(), "HH-E302");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// No dataset was given.
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
    /// The configuration is unusable (missing key, bad URL, zero concurrency, ...).
    #[error("invalid experiment configuration: {0}")]
    InvalidConfig(String),
    /// The tracer for the experiment's spans could not be started.
    #[error("could not start the tracer: {0}")]
    Tracer(#[from] crate::Error),
    /// A REST call failed at the transport level or with a non-2xx status.
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
    /// The server dataset has no datapoints.
    #[error("dataset {0} has no datapoints")]
    EmptyDataset(String),
    /// A worker thread could not be started.
    #[error("could not start a worker thread: {0}")]
    Worker(std::io::Error),
}

impl ExperimentError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ExperimentError::MissingDataset => "HH-E301",
            ExperimentError::DatasetFile { .. } => "HH-E302",
            ExperimentError::InvalidDataset { .. } => "HH-E303",
            ExperimentError::InvalidConfig(_) => "HH-E304",
            ExperimentError::Tracer(_) => "HH-E305",
            ExperimentError::Http { .. } => "HH-E306",
            ExperimentError::BadResponse { .. } => "HH-E307",
            ExperimentError::EmptyDataset(_) => "HH-E308",
            ExperimentError::Worker(_) => "HH-E309",
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ExperimentError::MissingDataset => {
                "call .dataset(...) with datapoints, a jsonl/csv file or a server dataset id"
            }
            ExperimentError::DatasetFile { .. } => "check the dataset path and its permissions",
            ExperimentError::InvalidDataset { .. } => {
                "jsonl: one object per line with inputs/ground_truth/id; csv: a header row and the same number of fields per row"
            }
            ExperimentError::InvalidConfig(_) => {
                "set HH_API_KEY and HH_API_URL or pass api_key/server_url; max_concurrency must be at least 1"
            }
            ExperimentError::Tracer(_) => "see the tracer error's own hint",
            ExperimentError::Http { .. } => {
                "check that the server is reachable and the api key belongs to the project"
            }
            ExperimentError::BadResponse { .. } => {
                "check that the server url points at a HoneyHive API"
            }
            ExperimentError::EmptyDataset(_) => "add datapoints to the dataset or pick another one",
            ExperimentError::Worker(_) => "lower max_concurrency or raise the process thread limit",
        }
    }
}
