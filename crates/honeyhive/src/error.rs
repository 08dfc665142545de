//! One type for callers that handle every SDK error alike (`?` in `main`).

use honeyhive_tracer::{BuildError, FlushError};

/// Any error of the SDK's public functions. Each function returns its own, narrower
/// type ([`BuildError`], [`FlushError`], and with the `experiments` feature the
/// experiments' errors); all of them convert into this one, and its code and hint
/// are theirs.
///
/// ```
/// fn run() -> honeyhive::Result<()> {
///     let tracer = honeyhive::Tracer::builder().test_mode(true).build()?;
///     tracer.flush(std::time::Duration::from_secs(1))?;
///     Ok(())
/// }
/// run().unwrap();
///
/// let err: honeyhive::Error = honeyhive::Tracer::builder().api_key("k").server_url("x").build().unwrap_err().into();
/// assert_eq!(err.code(), "HH-E102");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tracer could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A flush or shutdown did not export everything.
    #[error(transparent)]
    Flush(#[from] FlushError),
    /// An experiment, a run query or a comparison failed.
    #[cfg(feature = "experiments")]
    #[error(transparent)]
    Experiment(#[from] honeyhive_experiments::Error),
}

#[cfg(feature = "experiments")]
impl From<honeyhive_experiments::ConfigError> for Error {
    fn from(error: honeyhive_experiments::ConfigError) -> Error {
        Error::Experiment(error.into())
    }
}

#[cfg(feature = "experiments")]
impl From<honeyhive_experiments::RequestError> for Error {
    fn from(error: honeyhive_experiments::RequestError) -> Error {
        Error::Experiment(error.into())
    }
}

#[cfg(feature = "experiments")]
impl From<honeyhive_experiments::ClientError> for Error {
    fn from(error: honeyhive_experiments::ClientError) -> Error {
        Error::Experiment(error.into())
    }
}

#[cfg(feature = "experiments")]
impl From<honeyhive_experiments::EventsError> for Error {
    fn from(error: honeyhive_experiments::EventsError) -> Error {
        Error::Experiment(error.into())
    }
}

impl Error {
    /// The stable, low-cardinality code of the underlying error (`HH-E…`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Build(e) => e.code(),
            Error::Flush(e) => e.code(),
            #[cfg(feature = "experiments")]
            Error::Experiment(e) => e.code(),
        }
    }

    /// What the user can do about the underlying error.
    pub fn hint(&self) -> &'static str {
        match self {
            Error::Build(e) => e.hint(),
            Error::Flush(e) => e.hint(),
            #[cfg(feature = "experiments")]
            Error::Experiment(e) => e.hint(),
        }
    }
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
