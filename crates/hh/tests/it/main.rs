//! The integration tests of the `hh` binary: each spawns `hh serve` (and the other
//! subcommands) as a child process. One module per concern, all in one binary so the
//! workspace is linked once.
// A test's failed expectation is its failure: unwrap, expect and panic say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod crash;
mod eval_events;
mod eval_run;
mod experiments_parity;
mod memory_budget;
mod python_conformance;
mod sdk_end_to_end;
mod tail;
