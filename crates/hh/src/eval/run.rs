//! `hh eval run <experiment.toml>`: runs an app in any language over a dataset
//! through `honeyhive::experiments::evaluate`, with a progress bar, a result table,
//! an optional comparison with an earlier run, and a CI-friendly exit code.
//! The file format is documented in [`super::experiment`].

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use honeyhive::experiments::{
    Connection, Dataset, EvaluationSummary, ExperimentsClient, RunComparison, evaluate,
};
use indicatif::{ProgressBar, ProgressStyle};

use super::experiment::{ExperimentFile, FunctionRunner};

/// Arguments of `hh eval run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The experiment file (TOML; see `crates/hh/examples/experiment.toml`).
    pub experiment: PathBuf,
    /// Also compare the new run with this earlier run id.
    #[arg(long = "compare", value_name = "RUN_ID")]
    pub compare: Option<String>,
    /// Server URL.
    #[arg(long = "server", env = "HH_API_URL")]
    pub server: Option<String>,
    /// API key.
    #[arg(long = "api-key", env = "HH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Hide the progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
}

/// What a run ended with, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// At or above the threshold (or no threshold).
    Pass,
    /// Under `min_pass_rate`.
    BelowThreshold,
}

/// Runs the experiment and prints its tables.
pub fn run(args: RunArgs) -> Result<Verdict> {
    let file = ExperimentFile::load(&args.experiment)?;
    let evaluators = file.build_evaluators()?;
    let aggregate = file.aggregate()?;
    let dataset = match file
        .dataset
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => Dataset::csv(&file.dataset),
        _ => Dataset::jsonl(&file.dataset),
    };
    let runner = Arc::new(FunctionRunner::new(file.function.clone()));

    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} datapoints, {per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress_bar = bar.clone();

    let call = runner.clone();
    let mut builder = evaluate(move |dp: &honeyhive::experiments::Datapoint| call.call(&dp.inputs))
        .function_name(runner.display_name())
        .dataset(dataset)
        .aggregate(aggregate)
        .on_progress(move |p| {
            progress_bar.set_length(p.total as u64);
            progress_bar.set_position(p.completed as u64);
            progress_bar.set_message(format!("{} failed", p.failed));
        });
    for evaluator in evaluators {
        builder = builder.evaluator(evaluator);
    }
    if let Some(name) = &file.name {
        builder = builder.name(name.as_str());
    }
    if let Some(concurrency) = file.concurrency {
        builder = builder.max_concurrency(concurrency);
    }
    // Flags first, then the environment, as a tracer reads them.
    let connection = Connection::resolve(args.api_key.clone(), args.server.clone())?;
    builder = builder.connection(connection.clone());
    let summary = builder.run().context("running the experiment")?;
    bar.finish_and_clear();

    print!("{}", result_table(&summary));
    for warning in &summary.warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(old) = &args.compare {
        let client = ExperimentsClient::new(&connection);
        let comparison = client
            .compare_runs(&summary.run_id, old, aggregate)
            .with_context(|| format!("comparing with run {old}"))?;
        print!("{}", comparison_table(&comparison));
    }

    let rate = pass_rate(&summary);
    match file.min_pass_rate {
        Some(min) if rate < min => {
            println!(
                "FAIL: pass rate {:.1}% is under the required {:.1}%",
                rate * 100.0,
                min * 100.0
            );
            Ok(Verdict::BelowThreshold)
        }
        Some(min) => {
            println!(
                "OK: pass rate {:.1}% meets the required {:.1}%",
                rate * 100.0,
                min * 100.0
            );
            Ok(Verdict::Pass)
        }
        None => Ok(Verdict::Pass),
    }
}

/// Share of datapoints that passed (0 for an empty run).
pub fn pass_rate(summary: &EvaluationSummary) -> f64 {
    let total = summary.datapoints.len();
    if total == 0 {
        return 0.0;
    }
    summary.datapoints.iter().filter(|d| d.passed).count() as f64 / total as f64
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.4}"))
}

/// How many slowest datapoints the result table lists.
const SLOWEST_SHOWN: usize = 5;

/// The end-of-run table: run, per-metric aggregates, pass rate, slowest datapoints
/// and the first failures.
pub fn result_table(summary: &EvaluationSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let total = summary.datapoints.len();
    let passed = summary.datapoints.iter().filter(|d| d.passed).count();
    let errors = summary
        .datapoints
        .iter()
        .filter(|d| d.error.is_some())
        .count();
    let _ = writeln!(out, "run      {} ({})", summary.run_name, summary.run_id);
    let _ = writeln!(
        out,
        "result   {passed}/{total} passed ({:.1}%), {errors} function errors, aggregate {}",
        pass_rate(summary) * 100.0,
        summary.aggregate_function.as_str()
    );
    let _ = writeln!(out);
    let width = summary
        .metrics
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "{:<width$}  {:>10}  {:>6}  {:>6}",
        "metric", "aggregate", "pass", "fail"
    );
    for metric in &summary.metrics {
        let _ = writeln!(
            out,
            "{:<width$}  {:>10}  {:>6}  {:>6}",
            metric.name,
            fmt_opt(metric.aggregate),
            metric.passed.len(),
            metric.failed.len()
        );
    }
    let mut slowest: Vec<_> = summary.datapoints.iter().collect();
    slowest.sort_by_key(|d| std::cmp::Reverse(d.duration));
    let _ = writeln!(out);
    let _ = writeln!(out, "slowest datapoints");
    for dp in slowest.iter().take(SLOWEST_SHOWN) {
        let _ = writeln!(
            out,
            "  {:>9.1} ms  {}  {}",
            dp.duration.as_secs_f64() * 1000.0,
            dp.datapoint_id,
            if dp.passed { "passed" } else { "failed" }
        );
    }
    let failures: Vec<_> = summary
        .datapoints
        .iter()
        .filter(|d| d.error.is_some() || !d.evaluator_errors.is_empty())
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "errors");
        for dp in failures.iter().take(10) {
            if let Some(e) = &dp.error {
                let _ = writeln!(out, "  {}: {e}", dp.datapoint_id);
            }
            for (name, e) in &dp.evaluator_errors {
                let _ = writeln!(out, "  {} [{name}]: {e}", dp.datapoint_id);
            }
        }
    }
    let _ = writeln!(out);
    out
}

/// The `--compare` table: per metric old/new aggregate, difference, % change,
/// improved/degraded counts.
pub fn comparison_table(comparison: &RunComparison) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "comparison {} (new) vs {} (old): {} common datapoints",
        comparison.new_run_id,
        comparison.old_run_id,
        comparison.common_datapoints.len()
    );
    let width = comparison
        .metrics
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "{:<width$}  {:>10}  {:>10}  {:>10}  {:>9}  {:>8}  {:>8}",
        "metric", "old", "new", "diff", "change", "improved", "degraded"
    );
    for m in &comparison.metrics {
        let _ = writeln!(
            out,
            "{:<width$}  {:>10}  {:>10}  {:>10}  {:>9}  {:>8}  {:>8}",
            m.name,
            fmt_opt(m.old_aggregate),
            fmt_opt(m.new_aggregate),
            fmt_opt(m.difference),
            m.percentage_change
                .map_or_else(|| "-".into(), |p| format!("{p:+.1}%")),
            m.improved.len(),
            m.degraded.len()
        );
    }
    let _ = writeln!(out);
    out
}
