//! `hh eval`: evaluation tools for apps in any language.
//!
//! - `hh eval metric` scores JSON lines with one built-in metric.
//! - `hh eval run <experiment.toml>` runs an app (a command or an HTTP endpoint)
//!   over a dataset as a HoneyHive experiment (file format: [`experiment`]).
//! - `hh eval events` scores traffic already on the server and writes the scores
//!   back onto the events.

mod events;
pub mod experiment;
mod metric;
mod run;

use anyhow::Result;
use clap::Subcommand;

/// The `hh eval` subcommands.
#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// Score JSON lines `{"prediction", "reference", "inputs"}` from stdin with one
    /// built-in metric; print one JSON result per line.
    Metric(metric::MetricArgs),
    /// Run an experiment file: a dataset, evaluators and the app under test (a
    /// command or an HTTP endpoint). Exits with 1 when the pass rate is under the
    /// file's `min_pass_rate`.
    Run(run::RunArgs),
    /// Score events already on the server (selected by filters) and write the
    /// scores back onto them as metrics.
    Events(events::EventsArgs),
}

/// Runs one `hh eval` subcommand.
pub fn run(command: EvalCommand) -> Result<()> {
    match command {
        EvalCommand::Metric(args) => metric::run(args),
        EvalCommand::Run(args) => match run::run(args)? {
            run::Verdict::Pass => Ok(()),
            // The tables are printed; the exit code is the CI gate.
            run::Verdict::BelowThreshold => std::process::exit(1),
        },
        EvalCommand::Events(args) => events::run(args),
    }
}
