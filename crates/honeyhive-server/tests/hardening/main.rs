//! Hostile and careless clients against a real server: each module holds the
//! tests of one hardening concern (see SECURITY.md for the limits they check).
// A test's failed expectation is its failure: unwrap, expect and panic say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod budget;
mod connections;
mod deep_json;
mod fairness;
mod ops;
mod reads;
mod runs;
mod updates;
