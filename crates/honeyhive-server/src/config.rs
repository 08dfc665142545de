//! Server configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

pub use crate::store::sqlite::SyncMode;

/// Everything [`crate::Server::start`] needs. `Default` is the zero-setup local
/// platform: `.honeyhive/` in the working directory, HTTP on 127.0.0.1:8080,
/// OTLP/gRPC on 127.0.0.1:4317, 32 MiB bodies.
///
/// ```
/// let cfg = honeyhive_server::ServerConfig {
///     http_addr: "127.0.0.1:0".parse().unwrap(),
///     grpc_addr: None,
///     ..Default::default()
/// };
/// assert_eq!(cfg.max_body_bytes, 32 * 1024 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Directory holding the database (created if missing).
    pub data_dir: PathBuf,
    /// HTTP listen address (port 0 picks a free port; see `RunningServer::http_addr`).
    pub http_addr: SocketAddr,
    /// OTLP/gRPC listen address; `None` disables gRPC.
    pub grpc_addr: Option<SocketAddr>,
    /// Largest accepted request body, compressed (413 above).
    pub max_body_bytes: usize,
    /// Largest accepted body after gunzip (400 above): guards against zip bombs.
    pub max_decompressed_bytes: usize,
    /// Key and project name created on start if missing (`HH_API_KEY` / `HH_PROJECT`).
    pub bootstrap_key: Option<(String, String)>,
    /// In-flight ingest budget in body bytes; past it requests get 429.
    pub max_inflight_bytes: usize,
    /// In-flight ingest budget in requests (decoding or waiting for a commit); past it 429.
    pub max_inflight_requests: usize,
    /// Seconds a client is told to wait (`Retry-After`) when over budget.
    pub retry_after_secs: u64,
    /// Disk sync policy of the store (see [`SyncMode`]).
    pub sync_mode: SyncMode,
    /// What one request of the run routes (`/v1/runs/...`) may read.
    pub run_reads: RunReadLimits,
}

/// Bounds on the reads of the run routes: past one, the answer is 422
/// `result_too_large` with a hint, never a silently partial result.
///
/// ```
/// let limits = honeyhive_server::config::RunReadLimits::default();
/// assert_eq!(limits.max_events, 200_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunReadLimits {
    /// Most events (slim rows) one request reads: per run for `/result`,
    /// `/compare-with`, `/metrics` and `compare/events`, and across all runs
    /// for `/v1/runs/schema`.
    pub max_events: u64,
    /// Most bytes of whole stored events one answer loads (the events of
    /// `/metrics`, the page of `compare/events`).
    pub max_event_bytes: u64,
}

impl Default for RunReadLimits {
    fn default() -> Self {
        RunReadLimits {
            max_events: 200_000,
            max_event_bytes: 32 * 1024 * 1024,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: PathBuf::from(".honeyhive"),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            grpc_addr: Some(SocketAddr::from(([127, 0, 0, 1], 4317))),
            max_body_bytes: 32 * 1024 * 1024,
            max_decompressed_bytes: 128 * 1024 * 1024,
            bootstrap_key: None,
            max_inflight_bytes: 256 * 1024 * 1024,
            max_inflight_requests: 1024,
            retry_after_secs: 1,
            sync_mode: SyncMode::Full,
            run_reads: RunReadLimits::default(),
        }
    }
}
