//! What can stop the server from starting, running or shutting down.

/// Errors starting, running or stopping the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener could not bind or serve.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The store failed to open or write.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A server task ended abnormally.
    #[error("server task failed: {0}")]
    Task(String),
    /// Invalid configuration or argument.
    #[error("invalid: {0}")]
    Invalid(String),
}
