//! The integration tests of honeyhive-server: one module per concern, all in one
//! binary so the crate and its dependencies are linked once.
// A test's failed expectation is its failure: unwrap, expect and panic say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_experiments;
mod common;
mod dashboard;
mod dashboard_browser;
mod dashboard_live;
mod errors_and_ops;
mod fuzz_bodies;
#[cfg(feature = "graphql")]
mod graphql;
mod hardening;
mod ingest_http;
mod live;
mod monitoring;
mod store_suite;
