//! Executing a run: worker threads, one datapoint's session and chain span, the
//! async runtime, and reading the server's result into the summary.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::dataset::{Datapoint, PreparedDataset};
use super::evaluator::{error_text, eval_result_value, flatten_result};
use super::runner::{Experiment, Progress, Target};
use super::sender::Lanes;
use super::summary::{DatapointResult, EvaluationSummary, read_result};
use crate::Error;
use crate::error::RequestError;
use honeyhive_model::attributes::Namespace;
use honeyhive_model::event_api::object_field;
use honeyhive_model::run::Aggregation;
use honeyhive_model::{EventType, EventUpdate};
use honeyhive_tracer::{SpanGuard, Tracer};

/// Where async functions run.
pub(crate) enum AsyncRuntime {
    /// The caller's multi-thread runtime: the futures (and whatever they hold,
    /// clients bound to it) run there, polled from the run's threads.
    Host(tokio::runtime::Handle),
    /// No usable runtime around the call: each polling thread drives a
    /// current-thread runtime of its own, so a timer or socket wakes the thread
    /// that polls the future directly, not a runtime worker that then wakes it.
    PerThread,
}

impl AsyncRuntime {
    pub(crate) fn acquire() -> AsyncRuntime {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                AsyncRuntime::Host(handle)
            }
            // A current-thread host runtime is blocked by this very call, so it could
            // not drive the futures' timers and I/O.
            _ => AsyncRuntime::PerThread,
        }
    }
}

pub(crate) struct RunContext<'a> {
    pub(crate) builder: &'a Experiment,
    pub(crate) tracer: &'a Tracer,
    /// `Some` for an async function.
    pub(crate) runtime: Option<&'a AsyncRuntime>,
    pub(crate) lanes: &'a Lanes,
    pub(crate) run_id: &'a str,
    pub(crate) run_name: &'a str,
    pub(crate) dataset: &'a PreparedDataset,
    pub(crate) completed: AtomicUsize,
    pub(crate) failed: AtomicUsize,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".into())
}

impl RunContext<'_> {
    /// Runs every datapoint, at most `max_concurrency` at once; results in dataset order.
    ///
    /// A sync function gets a worker thread per concurrent datapoint. Async
    /// functions are polled together, a share of them on each of one thread per
    /// core: a thread per datapoint would wake twice for every timer or I/O event
    /// (the runtime's worker, then the blocked thread).
    pub(crate) fn run_all(&self) -> crate::Result<Vec<DatapointResult>> {
        let total = self.dataset.datapoints.len();
        let next = AtomicUsize::new(0);
        let slots: Mutex<Vec<Option<DatapointResult>>> = Mutex::new(vec![None; total]);
        let concurrency = self.builder.max_concurrency.min(total.max(1));
        let threads = match self.runtime {
            Some(_) => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(concurrency),
            None => concurrency,
        };
        let finished = |i: usize, result: DatapointResult| {
            self.report_progress(&result, total);
            slots.lock()[i] = Some(result);
        };
        std::thread::scope(|scope| -> crate::Result<()> {
            for index in 0..threads {
                // This thread's share of the concurrency (async only).
                let in_flight = concurrency / threads + usize::from(index < concurrency % threads);
                let (next, finished) = (&next, &finished);
                let own_runtime = match self.runtime {
                    Some(AsyncRuntime::PerThread) => Some(
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .map_err(Error::Worker)?,
                    ),
                    _ => None,
                };
                let worker = move || match (self.runtime, own_runtime) {
                    (Some(AsyncRuntime::Host(handle)), _) => {
                        handle.block_on(self.poll_datapoints(next, in_flight, finished));
                    }
                    (_, Some(runtime)) => {
                        runtime.block_on(self.poll_datapoints(next, in_flight, finished));
                        // Dropping would wait for any `spawn_blocking` task a
                        // function left running; the run is done with them.
                        runtime.shutdown_background();
                    }
                    _ => loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            break;
                        }
                        finished(i, self.run_datapoint(i));
                    },
                };
                std::thread::Builder::new()
                    .name(format!("hh-experiment-{index}"))
                    .spawn_scoped(scope, worker)
                    .map_err(Error::Worker)?;
            }
            Ok(())
        })?;
        Ok(slots.into_inner().into_iter().flatten().collect())
    }

    /// Keeps `in_flight` async datapoints running until none are left to start.
    async fn poll_datapoints(
        &self,
        next: &AtomicUsize,
        in_flight: usize,
        finished: &(impl Fn(usize, DatapointResult) + Sync),
    ) {
        let total = self.dataset.datapoints.len();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < in_flight {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                running.push(async move { (i, self.run_datapoint_async(i).await) });
            }
            match running.next().await {
                Some((i, result)) => finished(i, result),
                None => break,
            }
        }
    }

    fn report_progress(&self, result: &DatapointResult, total: usize) {
        let completed = self.completed.fetch_add(1, Ordering::Relaxed) + 1;
        let failed = if result.error.is_some() {
            self.failed.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.failed.load(Ordering::Relaxed)
        };
        if let Some(callback) = &self.builder.progress {
            let progress = Progress {
                completed,
                total,
                failed,
                datapoint_id: result.datapoint_id.clone(),
                error: result.error.clone(),
                duration: result.duration,
            };
            // A panicking callback must not take the run down with it.
            let _ = catch_unwind(AssertUnwindSafe(|| callback(&progress)));
        }
    }

    /// One datapoint of a sync function, on the calling thread.
    fn run_datapoint(&self, index: usize) -> DatapointResult {
        let running = self.begin(index);
        let Target::Sync(function) = &self.builder.target else {
            let outcome = Err(("Error", "an async function outside an async run".into()));
            return self.finish(running, outcome, Evaluations::default());
        };
        let outcome = {
            let _cx = running.context.clone().attach();
            function_outcome(catch_unwind(AssertUnwindSafe(|| function(running.dp))))
        };
        let function_ms = running.function_ms();
        let mut evaluations = Evaluations::default();
        if let Ok(outputs) = &outcome
            && !self.builder.evaluators.is_empty()
        {
            let call = self.function_call(&running, outputs, function_ms);
            let _cx = running.context.clone().attach();
            for evaluator in &self.builder.evaluators {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    let input = eval_input(outputs, running.dp, &call);
                    self.scored(evaluator.as_ref(), &call, evaluator.score(&input))
                }));
                evaluations.record(evaluator.name(), result);
            }
        }
        self.finish(running, outcome, evaluations)
    }

    /// One datapoint of an async function; the function's future and async
    /// evaluators run in the datapoint's trace context.
    async fn run_datapoint_async(&self, index: usize) -> DatapointResult {
        use opentelemetry::context::FutureExt as _;

        let running = self.begin(index);
        let Target::Async(function) = &self.builder.target else {
            let outcome = Err(("Error", "a sync function inside an async run".into()));
            return self.finish(running, outcome, Evaluations::default());
        };
        let future = {
            let _cx = running.context.clone().attach();
            catch_unwind(AssertUnwindSafe(|| function(running.dp.clone())))
        };
        let outcome = match future {
            Ok(future) => {
                let future = AssertUnwindSafe(future.with_context(running.context.clone()));
                function_outcome(future.catch_unwind().await)
            }
            Err(payload) => function_outcome(Err(payload)),
        };
        let function_ms = running.function_ms();
        let mut evaluations = Evaluations::default();
        if let Ok(outputs) = &outcome
            && !self.builder.evaluators.is_empty()
        {
            let call = self.function_call(&running, outputs, function_ms);
            for evaluator in &self.builder.evaluators {
                let input = eval_input(outputs, running.dp, &call);
                let scoring = evaluator
                    .score_async(input)
                    .with_context(running.context.clone());
                let result = AssertUnwindSafe(scoring)
                    .catch_unwind()
                    .await
                    .map(|result| self.scored(evaluator.as_ref(), &call, result));
                evaluations.record(evaluator.name(), result);
            }
        }
        self.finish(running, outcome, evaluations)
    }

    /// Starts a datapoint: queues its session start and opens its chain span.
    fn begin(&self, index: usize) -> Running<'_> {
        let dp = &self.dataset.datapoints[index];
        let datapoint_id = &self.dataset.datapoint_ids[index];
        let session_id = honeyhive_tracer::new_session_id();
        let metadata = json!({
            "run_id": self.run_id,
            "dataset_id": self.dataset.dataset_id,
            "datapoint_id": datapoint_id,
        });
        let inputs = if dp.inputs.is_null() {
            Value::Object(Map::new())
        } else {
            dp.inputs.clone()
        };
        // The Python session start body, plus the client-minted session id (a field
        // of the same request schema) so nothing here waits for the answer.
        self.lanes.send(
            index,
            "POST",
            "/session/start",
            &SessionStart {
                session: SessionStartFields {
                    session_name: self.run_name,
                    source: "evaluation",
                    inputs: &inputs,
                    metadata: &metadata,
                    session_id: &session_id,
                },
            },
        );

        let session_cx = self
            .tracer
            .extract_context(&std::collections::HashMap::from([(
                "baggage".to_string(),
                format!("session_id={session_id}"),
            )]));
        let started = Instant::now();
        let span = {
            let _session = session_cx.clone().attach();
            self.tracer
                .span(self.builder.function_name.clone(), EventType::Chain)
        };
        span.record_flattened(Namespace::Metadata.prefix(), &metadata);
        span.record_input("dp", dp);
        // The session's context when tracing is off: a span that records nothing
        // keeps the context it was made in.
        let context = span.context().clone();
        Running {
            index,
            dp,
            session_id,
            metadata,
            inputs,
            context,
            span,
            started,
            function_started: std::time::SystemTime::now(),
        }
    }

    /// The function's call as evaluators see it (duration, inputs, outputs).
    fn function_call<'r>(
        &self,
        running: &'r Running<'_>,
        outputs: &Value,
        function_ms: f64,
    ) -> FunctionCall<'r> {
        FunctionCall {
            index: running.index,
            session_id: &running.session_id,
            parent_event_id: (!running.span.is_none())
                .then(|| span_event_id(running.span.context())),
            event: json!({
                "event_type": EventType::Chain,
                "event_name": self.builder.function_name,
                "inputs": running.inputs,
                "outputs": outputs,
                "metadata": running.metadata,
                "start_time": unix_ms(running.function_started),
                "end_time": unix_ms(running.function_started) + function_ms,
                "duration": function_ms,
            }),
        }
    }

    /// Ends a datapoint: records its scores and output (or error) on the chain
    /// span, ends the span and queues the session's update.
    fn finish(
        &self,
        running: Running<'_>,
        outcome: Result<Value, (&'static str, String)>,
        evaluations: Evaluations,
    ) -> DatapointResult {
        let Evaluations { metrics, errors } = evaluations;
        let span = &running.span;
        match &outcome {
            Ok(outputs) => {
                if !metrics.is_empty() {
                    span.record_flattened(Namespace::Metrics.prefix(), &metrics);
                }
                span.record_output(outputs);
            }
            Err((kind, message)) => span.record_error(kind, message),
        }
        let Running {
            dp,
            session_id,
            inputs,
            span,
            started,
            index,
            ..
        } = running;
        drop(span);
        let duration = started.elapsed();
        let (outputs, error) = match outcome {
            Ok(outputs) => (Some(outputs), None),
            Err(("panic", message)) => (None, Some(format!("panic: {message}"))),
            Err((_, message)) => (None, Some(message)),
        };

        // The session's outputs and the ground truth as feedback (the Python SDK's
        // enrichment); an output that is not an object is stored as the server
        // would store it, under `value`.
        let mut update = EventUpdate {
            event_id: session_id.clone(),
            outputs: outputs.clone().map(object_field).unwrap_or_default(),
            ..EventUpdate::default()
        };
        if let Some(ground_truth) = &dp.ground_truth {
            update
                .feedback
                .insert("ground_truth".into(), ground_truth.clone());
        }
        if !(update.feedback.is_empty() && update.outputs.is_empty()) {
            self.lanes.send(index, "PUT", "/events", &update);
        }

        DatapointResult {
            datapoint_id: self.dataset.datapoint_ids[index].clone(),
            session_id,
            inputs,
            ground_truth: dp.ground_truth.clone(),
            outputs,
            error,
            metrics,
            evaluator_errors: errors,
            passed: false,
            duration,
        }
    }

    /// A honeyhive-evals evaluator's result as a metric value; a judge's LLM
    /// call is recorded as a `model` event under the chain span.
    fn scored(
        &self,
        scorer: &dyn honeyhive_evals::Evaluator,
        call: &FunctionCall<'_>,
        result: Result<honeyhive_evals::EvalResult, honeyhive_evals::EvalError>,
    ) -> Result<Value, String> {
        let result = result.map_err(error_text)?;
        if let Some(judge_call) = &result.judge_call {
            let mut event = judge_call.to_model_event(scorer.name());
            if let Some(object) = event.as_object_mut() {
                object.insert("session_id".into(), json!(call.session_id));
                object.insert("source".into(), json!("evaluation"));
                if let Some(parent) = &call.parent_event_id {
                    object.insert("parent_id".into(), json!(parent));
                }
            }
            self.lanes
                .send(call.index, "POST", "/events", &json!({"event": event}));
        }
        Ok(eval_result_value(&result))
    }
}

/// A datapoint whose function is running: what its end needs.
struct Running<'d> {
    index: usize,
    dp: &'d Datapoint,
    session_id: String,
    metadata: Value,
    inputs: Value,
    /// The chain span's context (the session's when tracing is off).
    context: opentelemetry::Context,
    span: SpanGuard,
    started: Instant,
    function_started: std::time::SystemTime,
}

impl Running<'_> {
    /// Milliseconds since the function was called.
    fn function_ms(&self) -> f64 {
        self.function_started
            .elapsed()
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    }
}

/// The evaluators' scores and errors for one datapoint.
#[derive(Default)]
struct Evaluations {
    metrics: Map<String, Value>,
    errors: BTreeMap<String, String>,
}

impl Evaluations {
    /// Records one evaluator's result, error or panic.
    fn record(&mut self, name: &str, result: std::thread::Result<Result<Value, String>>) {
        match result {
            Ok(Ok(raw)) => flatten_result(name, &raw, &mut self.metrics),
            Ok(Err(e)) => {
                self.errors.insert(name.to_string(), e);
            }
            Err(payload) => {
                self.errors.insert(
                    name.to_string(),
                    format!("panic: {}", panic_message(payload.as_ref())),
                );
            }
        }
    }
}

/// The function's result; `Err((error type, message))` on error or panic.
fn function_outcome(
    outcome: std::thread::Result<Result<Value, String>>,
) -> Result<Value, (&'static str, String)> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(("Error", message)),
        Err(payload) => Err(("panic", panic_message(payload.as_ref()))),
    }
}

fn eval_input<'a>(
    outputs: &'a Value,
    dp: &'a Datapoint,
    call: &'a FunctionCall<'_>,
) -> honeyhive_evals::EvalInput<'a> {
    honeyhive_evals::EvalInput::new(outputs, &dp.inputs)
        .with_ground_truth(dp.ground_truth.as_ref())
        .with_event(Some(&call.event))
}

/// `POST /session/start`: `{"session": {...}}`, fields in the Python SDK's order.
#[derive(Serialize)]
struct SessionStart<'a> {
    session: SessionStartFields<'a>,
}

#[derive(Serialize)]
struct SessionStartFields<'a> {
    session_name: &'a str,
    source: &'static str,
    inputs: &'a Value,
    metadata: &'a Value,
    session_id: &'a str,
}

/// What evaluators see of the function call beyond its output.
struct FunctionCall<'a> {
    index: usize,
    session_id: &'a str,
    /// The chain span's event id (judge calls nest under it).
    parent_event_id: Option<String>,
    /// The call as a HoneyHive event (`duration`, inputs, outputs, metadata).
    event: Value,
}

/// The event id the server gives the span current in `cx`.
fn span_event_id(cx: &opentelemetry::Context) -> String {
    use opentelemetry::trace::TraceContextExt;
    let span = cx.span();
    let sc = span.span_context();
    honeyhive_model::mapping::event_id_for(&sc.trace_id().to_bytes(), &sc.span_id().to_bytes())
}

fn unix_ms(at: std::time::SystemTime) -> f64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// The summary of a finished run from its datapoints and the `/result` body.
pub(crate) fn summarize(
    result: String,
    mut datapoints: Vec<DatapointResult>,
    run_id: &str,
    run_name: String,
    dataset_id: String,
    aggregate: Aggregation,
    warnings: Vec<String>,
) -> crate::Result<EvaluationSummary> {
    let reading = read_result(&result).map_err(|e| {
        RequestError::bad_response(&format!("/v1/runs/{run_id}/result"), e.to_string())
    })?;
    // Per-datapoint verdicts from the server, matched by session (datapoint ids may repeat).
    let verdicts: std::collections::HashMap<&str, bool> = reading
        .verdicts
        .iter()
        .map(|(session, passed)| (session.as_str(), *passed))
        .collect();
    for dp in &mut datapoints {
        dp.passed = verdicts
            .get(dp.session_id.as_str())
            .copied()
            .unwrap_or_else(|| reading.passed.contains(&dp.datapoint_id) && dp.error.is_none());
    }
    drop(verdicts);
    Ok(EvaluationSummary {
        run_id: run_id.to_string(),
        run_name,
        dataset_id,
        status: reading.status,
        success: reading.success.unwrap_or(false),
        passed: reading.passed,
        failed: reading.failed,
        datapoints,
        metrics: reading.metrics,
        aggregate_function: aggregate,
        warnings,
        raw_result: result,
    })
}
