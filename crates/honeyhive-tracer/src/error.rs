//! What the tracer's public functions can fail with. Each returns only the errors it
//! can produce, and every one has a stable code and a hint.

use std::path::PathBuf;
use std::time::Duration;

/// Why a tracer could not be built ([`TracerBuilder::build`](crate::config::TracerBuilder::build),
/// [`Tracer::from_env`](crate::Tracer::from_env)).
///
/// Each variant has a stable code ([`BuildError::code`], `HH-E1xx`) that is safe to
/// match on or to use as a metric label, and a hint ([`BuildError::hint`]) saying what
/// to do about it.
///
/// ```
/// let err = honeyhive::Tracer::builder().api_key("k").server_url("not a url").build().unwrap_err();
/// assert_eq!(err.code(), "HH-E102");
/// assert!(!err.hint().is_empty());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
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
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The export worker thread could not be started.
    #[error("could not start the export worker: {0}")]
    WorkerStart(std::io::Error),
}

impl BuildError {
    /// The stable, low-cardinality code of this error (`HH-E1xx`).
    pub fn code(&self) -> &'static str {
        match self {
            BuildError::MissingApiKey => "HH-E101",
            BuildError::InvalidServerUrl { .. } => "HH-E102",
            BuildError::InvalidConfig { .. } => "HH-E103",
            BuildError::SpoolUnavailable { .. } => "HH-E104",
            BuildError::WorkerStart(_) => "HH-E105",
        }
    }

    /// What the user can do about this error.
    pub fn hint(&self) -> &'static str {
        match self {
            BuildError::MissingApiKey => {
                "pass .api_key(..) to the builder or set HH_API_KEY; use .test_mode(true) to trace without a server"
            }
            BuildError::InvalidServerUrl { .. } => {
                "use an absolute http:// or https:// url such as https://api.honeyhive.ai (HH_API_URL)"
            }
            BuildError::InvalidConfig { .. } => {
                "check the value against the builder method's documentation"
            }
            BuildError::SpoolUnavailable { .. } => {
                "point spool_dir / HH_SPOOL_DIR at a writable directory or leave it unset"
            }
            BuildError::WorkerStart(_) => "the process may have hit its thread limit",
        }
    }
}

/// Why [`Tracer::flush`](crate::Tracer::flush) or
/// [`Tracer::shutdown`](crate::Tracer::shutdown) did not export everything.
///
/// ```
/// let tracer = honeyhive::Tracer::builder().api_key("k").server_url("http://127.0.0.1:9").build()?;
/// tracer.shutdown().ok();
/// let err = tracer.shutdown().unwrap_err();
/// assert_eq!(err.code(), "HH-E203");
/// # Ok::<(), honeyhive::BuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// The deadline passed first; the spans stay queued.
    #[error("flush did not complete within {timeout:?}; {pending} spans still pending")]
    Timeout {
        /// The deadline given to `flush`.
        timeout: Duration,
        /// Spans still queued or in flight when the deadline passed.
        pending: u64,
    },
    /// The tracer was shut down; nothing more is exported.
    #[error("the tracer is shut down")]
    ShutDown,
}

impl FlushError {
    /// The stable, low-cardinality code of this error (`HH-E2xx`).
    pub fn code(&self) -> &'static str {
        match self {
            FlushError::Timeout { .. } => "HH-E202",
            FlushError::ShutDown => "HH-E203",
        }
    }

    /// What the user can do about this error.
    pub fn hint(&self) -> &'static str {
        match self {
            FlushError::Timeout { .. } => {
                "the server is slow or unreachable; see Tracer::health() for the breaker state and drop counts"
            }
            FlushError::ShutDown => "create a new Tracer; a shut-down tracer records nothing",
        }
    }
}
