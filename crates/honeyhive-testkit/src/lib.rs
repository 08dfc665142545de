//! What the workspace's test suites share, in one place (tracing-mock's pattern): a
//! dev-dependency of the crates whose tests use it, never a dependency of a shipped
//! crate, never published.
//!
//! - [`fixtures`]: the wire captures of the official Python SDK, one copy.
//! - [`http`]: a scripted HTTP server that records what it is sent.
//! - [`otlp`]: a span's attributes, a body gzipped as exporters send it.
//! - [`python`]: the interpreter of the tests that check against Python, and when
//!   such a test runs, fails or is skipped.
//! - [`sessions`]: the events of a session tree as the REST API answers it.
//!
//! A helper here fails the test that called it with a message saying what went wrong,
//! so its `unwrap`, `expect` and `panic` are the test's own failures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod fixtures;
pub mod http;
pub mod otlp;
pub mod python;
pub mod sessions;
