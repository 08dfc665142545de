//! `hh eval`: evaluation tools for apps in any language.
//!
//! `hh eval metric` scores JSON lines with one built-in metric. Further
//! subcommands (`hh eval run <experiment.toml>`) slot into [`EvalCommand`].

mod metric;

use anyhow::Result;
use clap::Subcommand;

/// The `hh eval` subcommands.
#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// Score JSON lines `{"prediction", "reference", "inputs"}` from stdin with one
    /// built-in metric; print one JSON result per line.
    Metric(metric::MetricArgs),
}

/// Runs one `hh eval` subcommand.
pub fn run(command: EvalCommand) -> Result<()> {
    match command {
        EvalCommand::Metric(args) => metric::run(args),
    }
}
