//! Server configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::live::LiveLimits;
pub use crate::store::sqlite::SyncMode;
use crate::store::{DEFAULT_MAX_READ_BYTES, DEFAULT_MAX_SESSION_EVENTS, ReadLimits};

/// Everything [`crate::Server::start`] needs. `Default` is the zero-setup local
/// platform: `.honeyhive/` in the working directory, HTTP on 127.0.0.1:8080,
/// OTLP/gRPC on 127.0.0.1:4317, 32 MiB bodies, 64 MiB read answers.
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
    /// Memory budget of requests in flight, in bytes: each request with a body
    /// is charged its body, its decompressed body and what decoding it will
    /// take (estimated from its bytes) until its write commits. Past it 429;
    /// a request that alone would pass it, 413. At least `max_body_bytes`.
    pub max_inflight_bytes: usize,
    /// Requests with a body in flight (read, decoded or waiting for a commit); past it 429.
    pub max_inflight_requests: usize,
    /// Most spans (OTLP) or events (event API) one request may carry; past it 413.
    pub max_spans_per_request: usize,
    /// Largest JSON text one stored field of an event may have (`inputs`,
    /// `metadata`, ..., `error`): an OTLP span past it is rejected alone, a
    /// REST request answered 413.
    pub max_field_bytes: usize,
    /// Open connections across the HTTP and gRPC listeners; past it a new
    /// connection is answered 503 and closed. Lowered at start to what the
    /// process's file limit allows.
    pub max_connections: usize,
    /// Longest wait for a request's headers, from the connection's start or
    /// the end of its previous answer (HTTP/1.1 keep-alive waits included).
    pub header_read_timeout: Duration,
    /// A connection that moves no bytes for this long is closed.
    pub idle_timeout: Duration,
    /// Bearer token `GET /metrics` requires. Unset: `/metrics` answers only
    /// clients on a loopback address.
    pub metrics_token: Option<String>,
    /// How long an enrichment (`PUT /events`) for an event that has not
    /// arrived is kept; past it, it is dropped and counted.
    pub pending_enrichment_ttl: Duration,
    /// Seconds a client is told to wait (`Retry-After`) when over budget.
    pub retry_after_secs: u64,
    /// Disk sync policy of the store (see [`SyncMode`]).
    pub sync_mode: SyncMode,
    /// Most bytes of stored text one read answer may load (a page of
    /// `GET /events` or the export, a session tree, a chart's fields); past it
    /// the request gets 422 `result_too_large`. Default 64 MiB: an answer
    /// costs about twice its stored size in memory while it is built.
    pub max_read_bytes: usize,
    /// Most events one session tree (`GET /v1/sessions/{id}`,
    /// `GET /v1/events/{id}`) may hold; past it 422 `result_too_large`, and
    /// the session is read page by page through `GET /events`. Default 20 000:
    /// far above a real agent run, and it bounds sessions of many small
    /// events, which cost 2 to 3 KiB each in memory however little text they
    /// hold (20 000 of them about 50 MiB, less than the byte limit allows).
    pub max_session_events: usize,
    /// Most events the run routes (`/v1/runs/{id}/result`, `/compare-with`,
    /// `/metrics`, `/schema`, `/v1/runs/compare/events`) read of one run, and
    /// `/v1/runs/schema` of all its runs together; past it 422
    /// `result_too_large`, never a silently partial result. Default 200 000.
    /// They read a slim row per event (ids, name, type, time, error, metrics,
    /// datapoint id), about 0.5 KiB each; the whole events they answer with
    /// are bounded by `max_read_bytes`.
    pub max_run_events: usize,
    /// Bounds of live push: subscribers, per project and in all, and each
    /// subscriber's buffer (see [`LiveLimits`]).
    pub live: LiveLimits,
    /// Bounds of the GraphQL API: query depth and cost, request size,
    /// subscriptions per WebSocket (see [`GraphqlLimits`]).
    pub graphql: GraphqlLimits,
}

/// Bounds of the GraphQL API (`POST /graphql` and its WebSocket); each is a
/// field of [`ServerConfig::graphql`].
///
/// ```
/// let limits = honeyhive_server::config::GraphqlLimits::default();
/// assert_eq!((limits.max_depth, limits.max_complexity), (12, 2000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphqlLimits {
    /// Deepest a query may nest its selections (a field inside a field is
    /// one level deeper); deeper is refused before anything runs.
    pub max_depth: usize,
    /// Highest cost a query may have, counted before anything runs: each
    /// field costs 1, a field that reads the store 50 more (a session tree, a
    /// run's result 250, a comparison 500), and a page of rows its size times
    /// what each row selects. Introspection counts like any other query.
    pub max_complexity: usize,
    /// Largest request body (query and variables), and largest WebSocket
    /// message.
    pub max_body_bytes: usize,
    /// Subscriptions one WebSocket may hold at once; each also counts toward
    /// the live subscriber limits ([`LiveLimits`]).
    pub max_subscriptions_per_connection: usize,
    /// How long a WebSocket may take to send `connection_init` before it is
    /// closed (4408, as `graphql-transport-ws` says).
    pub connection_init_timeout: Duration,
}

impl Default for GraphqlLimits {
    fn default() -> GraphqlLimits {
        GraphqlLimits {
            max_depth: 12,
            max_complexity: 2000,
            max_body_bytes: 256 * 1024,
            max_subscriptions_per_connection: 16,
            connection_init_timeout: Duration::from_secs(10),
        }
    }
}

impl ServerConfig {
    /// The session-tree limits of this config.
    ///
    /// ```
    /// let cfg = honeyhive_server::ServerConfig { max_session_events: 10, ..Default::default() };
    /// assert_eq!(cfg.read_limits().max_events, 10);
    /// assert_eq!(cfg.read_limits().max_bytes, 64 * 1024 * 1024);
    /// ```
    pub fn read_limits(&self) -> ReadLimits {
        ReadLimits {
            max_bytes: u64::try_from(self.max_read_bytes).unwrap_or(u64::MAX),
            max_events: u64::try_from(self.max_session_events).unwrap_or(u64::MAX),
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
            max_spans_per_request: 50_000,
            max_field_bytes: 8 * 1024 * 1024,
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            metrics_token: None,
            pending_enrichment_ttl: Duration::from_secs(24 * 3600),
            retry_after_secs: 1,
            sync_mode: SyncMode::Full,
            max_read_bytes: DEFAULT_MAX_READ_BYTES as usize,
            max_session_events: DEFAULT_MAX_SESSION_EVENTS as usize,
            max_run_events: 200_000,
            live: LiveLimits::default(),
            graphql: GraphqlLimits::default(),
        }
    }
}
