//! The honeyhive-rs platform as a library: OTLP and HoneyHive REST ingest into
//! a durable embedded store, the REST API, and ops endpoints.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), honeyhive_server::ServerError> {
//! use honeyhive_server::{Server, ServerConfig};
//! let running = Server::start(ServerConfig::default()).await?;
//! println!("serving on http://{}", running.http_addr());
//! running.wait().await // until Ctrl-C / SIGTERM, then a graceful shutdown
//! # }
//! ```
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `grpc`  | yes     | OTLP/gRPC `TraceService/Export` listener (tonic) |
//! | `graphql` | yes   | `POST /graphql` (async-graphql), subscriptions over WebSocket (`graphql-transport-ws`), the explorer page at `GET /graphql` |
//! | `test-util` | no  | test support: `testing` (a real server on a temporary data dir) and the store behaviour suite |
//!
//! Committed events are pushed live to subscribers ([`live`]; `GET /v1/events/stream`,
//! and GraphQL subscriptions with the `graphql` feature).

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod dashboard;
mod error;
#[cfg(feature = "graphql")]
mod graphql;
pub mod ids;
pub mod ingest;
mod listen;
pub mod live;
pub mod metrics;
mod server;
pub mod store;
mod sweep;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use config::{ServerConfig, SyncMode};
pub use error::ServerError;
pub use server::{RunningServer, Server, create_api_key};
