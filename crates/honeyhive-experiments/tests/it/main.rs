//! `honeyhive-experiments` end to end against a real in-process server: runs,
//! datasets, evaluators and judges, scoring stored events.
// A test's failed expectation is its failure: unwrap, expect and panic say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod datasets;
mod evals;
mod events;
mod runs;
mod support;
mod wire;
