//! The SDK end to end against a local HTTP server: the export pipeline under
//! failures, the Python SDK's golden scenario, `#[trace]` and the tracing API, and
//! the `tracing` layer.
// A test's failed expectation is its failure: unwrap, expect and panic say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod export;
mod golden;
mod tracing_api;
// The crate's dev-dependency on itself enables the feature for `cargo test`.
#[cfg(feature = "tracing")]
mod tracing_layer;
