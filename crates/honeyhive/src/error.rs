//! The SDK's one error type: every user-visible failure has a stable code and a hint.

use std::time::Duration;

/// Everything the SDK can report to the caller.
///
/// Each variant has a stable code ([`Error::code`], `HH-E1xx` for configuration,
/// `HH-E2xx` for the export pipeline) that is safe to match on or to use as a metric
/// label, and a hint ([`Error::hint`]) saying what to do about it.
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
        }
    }
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
