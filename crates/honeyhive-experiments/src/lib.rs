//! Experiments: run a function over a dataset, score it with evaluators, and let the
//! server aggregate the scores — the Python SDK's `evaluate()`, on the same wire.
//!
//! ```no_run
//! use honeyhive_experiments::{compare_runs, evaluate, evaluator_fn, Aggregation, Datapoint};
//! use serde_json::json;
//!
//! let dataset = vec![
//!     Datapoint::new(json!({"question": "abc"})).ground_truth(json!({"answer": "ABC"})),
//!     Datapoint::new(json!({"question": "x"})).ground_truth(json!({"answer": "X"})),
//! ];
//! let run = |version: &'static str| {
//!     evaluate(move |dp: &Datapoint| {
//!         let q = dp.inputs["question"].as_str().unwrap_or_default();
//!         Ok::<_, String>(json!({"answer": if version == "v2" { q.to_uppercase() } else { q.to_string() }}))
//!     })
//!     .name(format!("uppercase-{version}"))
//!     .dataset(dataset.clone())
//!     .evaluator(evaluator_fn("exact_match", |out, _, gt| Ok(json!(Some(out) == gt))))
//!     .aggregate(Aggregation::Average)
//!     .run()
//! };
//! let (old, new) = (run("v1")?, run("v2")?);
//! let diff = compare_runs(&new.run_id, &old.run_id)?;
//! println!("exact_match: {:?}", diff.metric("exact_match").and_then(|m| m.difference));
//! # Ok::<(), honeyhive_experiments::Error>(())
//! ```
//!
//! # Wire flow (the Python SDK 1.7's)
//! `POST /v1/runs` (pending, `EXT-` ids for datasets not stored on the server) → per
//! datapoint `POST /session/start` (source `evaluation`, inputs, metadata
//! `run_id`/`dataset_id`/`datapoint_id`) and a `chain` span named after the function
//! carrying `honeyhive_metadata.*`, `honeyhive_inputs.dp`, `honeyhive_outputs.result.*`
//! and the evaluator scores as `honeyhive_metrics.*` → `PUT /events` per session
//! (outputs, `feedback.ground_truth`) → `PUT /v1/runs/{id}` (completed, `event_ids`)
//! → `GET /v1/runs/{id}/result?aggregate_function=...`.
//!
//! One difference from Python, invisible in the stored data: the session id is minted
//! client-side and sent in the session start body (`session_id`, part of the same
//! request schema), so session starts and updates go out from background senders
//! instead of blocking each datapoint on a round trip.
//!
//! Spans recorded inside the function by `#[trace]` (on any tracer) join the
//! datapoint's session and nest under its chain span.

mod batch;
mod client;
mod dataset;
mod error;
mod evaluator;
mod execute;
mod pyjson;
mod runner;
mod sender;
mod summary;

pub use batch::{
    EvaluateEventsBuilder, EventFilter, EventScore, EventsEvaluation, evaluate_events,
};
pub use dataset::{Datapoint, Dataset, external_ids};
pub use evaluator::{JsonFnEvaluator, evaluator_fn};
/// The evaluator library (`honeyhive-evals`): built-in metrics, judges, composites.
pub use honeyhive_evals as evals;
/// The one kind of evaluator an experiment takes (from `honeyhive-evals`).
pub use honeyhive_evals::Evaluator;
/// The kind of step an event records (for [`EventFilter::event_type`]).
pub use honeyhive_model::EventType;
/// How the server folds per-datapoint metric values into one number
/// (`?aggregate_function=`): the wire type of `honeyhive-model`.
pub use honeyhive_model::run::{Aggregation, RunStatus};
pub use runner::{
    AsyncRun, BlockingRun, DEFAULT_MAX_CONCURRENCY, EvaluateBuilder, Progress, evaluate,
    evaluate_async,
};
pub use summary::{
    DatapointResult, EvaluationSummary, MetricAggregate, MetricComparison, RunComparison,
};

pub use error::{
    ClientError, ConfigError, Error, EvaluatorError, EventsError, RequestError, Result,
};

use client::RestClient;
/// Where and as whom the experiment calls go: the tracer's connection type, read
/// from the environment as a tracer reads it.
pub use honeyhive_tracer::config::Connection;

/// Read access to runs: results and comparisons.
///
/// ```no_run
/// use honeyhive_experiments::{Aggregation, Connection, ExperimentsClient};
/// let client = ExperimentsClient::new(&Connection::new("hh_key", "http://127.0.0.1:8080")?);
/// let diff = client.compare_runs("run-new", "run-old", Aggregation::Median)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ExperimentsClient {
    client: RestClient,
}

impl ExperimentsClient {
    /// A client calling over `connection`.
    pub fn new(connection: &Connection) -> ExperimentsClient {
        ExperimentsClient {
            client: RestClient::new(connection, 1),
        }
    }

    /// A client over [`Connection::from_env`].
    pub fn from_env() -> Result<ExperimentsClient, ConfigError> {
        Ok(ExperimentsClient::new(&Connection::from_env()?))
    }

    /// `GET /v1/runs/{new}/compare-with/{old}`: per-metric old/new aggregates,
    /// difference, percentage change and the common datapoints.
    pub fn compare_runs(
        &self,
        new_run_id: &str,
        old_run_id: &str,
        aggregate: Aggregation,
    ) -> Result<RunComparison, RequestError> {
        let raw = self.client.get(
            &format!("/v1/runs/{new_run_id}/compare-with/{old_run_id}"),
            &[("aggregate_function", aggregate.as_str())],
        )?;
        RunComparison::parse(new_run_id, old_run_id, raw)
    }

    /// `GET /v1/runs/{id}/result` as received.
    pub fn run_result(
        &self,
        run_id: &str,
        aggregate: Aggregation,
    ) -> Result<serde_json::Value, RequestError> {
        self.client.get(
            &format!("/v1/runs/{run_id}/result"),
            &[("aggregate_function", aggregate.as_str())],
        )
    }
}

/// Compares two runs with the average aggregate, connecting through
/// [`Connection::from_env`]. See [`ExperimentsClient::compare_runs`] for other settings.
pub fn compare_runs(new_run_id: &str, old_run_id: &str) -> Result<RunComparison, ClientError> {
    let client = ExperimentsClient::from_env()?;
    Ok(client.compare_runs(new_run_id, old_run_id, Aggregation::Average)?)
}
