//! Executing a run: worker threads, one datapoint's session and chain span, the
//! async runtime, and reading the server's result into the summary.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::dataset::{Datapoint, PreparedDataset};
use super::evaluator::{eval_result_value, flatten_result};
use super::runner::{EvaluateBuilder, Progress, Target};
use super::sender::Lanes;
use super::summary::{
    Aggregate, DatapointResult, EvaluationSummary, parse_metric_details, passed_failed,
};
use crate::Error;
use crate::Tracer;

/// The tokio runtime async functions run on.
pub(crate) enum AsyncRuntime {
    Host(tokio::runtime::Handle),
    Own(Option<tokio::runtime::Runtime>, tokio::runtime::Handle),
}

impl AsyncRuntime {
    pub(crate) fn acquire() -> crate::Result<AsyncRuntime> {
        if let Ok(handle) = tokio::runtime::Handle::try_current()
            && handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            return Ok(AsyncRuntime::Host(handle));
        }
        // A current-thread host runtime is blocked by this very call, so it could not
        // drive the futures' timers and I/O: use a runtime of our own.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hh-experiment-rt")
            .enable_all()
            .build()
            .map_err(Error::ExperimentWorker)?;
        let handle = runtime.handle().clone();
        Ok(AsyncRuntime::Own(Some(runtime), handle))
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        match self {
            AsyncRuntime::Host(h) | AsyncRuntime::Own(_, h) => h,
        }
    }
}

impl Drop for AsyncRuntime {
    fn drop(&mut self) {
        if let AsyncRuntime::Own(runtime, _) = self
            && let Some(runtime) = runtime.take()
        {
            // Dropping a runtime inside an async context panics; this does not.
            runtime.shutdown_background();
        }
    }
}

pub(crate) struct RunContext<'a> {
    pub(crate) builder: &'a EvaluateBuilder,
    pub(crate) tracer: &'a Tracer,
    pub(crate) runtime: Option<&'a tokio::runtime::Handle>,
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
    /// Runs every datapoint on `max_concurrency` worker threads; results in dataset order.
    pub(crate) fn run_all(&self) -> crate::Result<Vec<DatapointResult>> {
        let total = self.dataset.datapoints.len();
        let next = AtomicUsize::new(0);
        let slots: Mutex<Vec<Option<DatapointResult>>> = Mutex::new(vec![None; total]);
        let workers = self.builder.max_concurrency.min(total.max(1));
        std::thread::scope(|scope| -> crate::Result<()> {
            for index in 0..workers {
                let worker = || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            break;
                        }
                        let result = self.run_datapoint(i);
                        self.report_progress(&result, total);
                        slots.lock()[i] = Some(result);
                    }
                };
                std::thread::Builder::new()
                    .name(format!("hh-experiment-{index}"))
                    .spawn_scoped(scope, worker)
                    .map_err(Error::ExperimentWorker)?;
            }
            Ok(())
        })?;
        Ok(slots.into_inner().into_iter().flatten().collect())
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

    fn run_datapoint(&self, index: usize) -> DatapointResult {
        let dp = &self.dataset.datapoints[index];
        let datapoint_id = &self.dataset.datapoint_ids[index];
        let session_id = uuid::Uuid::new_v4().to_string();
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
        let (outputs, error, metrics, evaluator_errors) = {
            let _session = session_cx.attach();
            let span = self
                .tracer
                .span(self.builder.function_name.clone(), "chain");
            let _span_cx = span.as_ref().map(|s| s.context().clone().attach());
            if let Some(span) = &span {
                span.record_flattened("honeyhive_metadata", &metadata);
                span.record_input("dp", dp);
            }
            let function_started = std::time::SystemTime::now();
            let outcome = self.call_function(dp);
            let function_ms = function_started
                .elapsed()
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0);
            let mut metrics = Map::new();
            let mut evaluator_errors = BTreeMap::new();
            match &outcome {
                Ok(outputs) => {
                    let call = FunctionCall {
                        index,
                        session_id: &session_id,
                        parent_event_id: span.as_ref().map(|s| span_event_id(s.context())),
                        event: json!({
                            "event_type": "chain",
                            "event_name": self.builder.function_name,
                            "inputs": inputs,
                            "outputs": outputs,
                            "metadata": metadata,
                            "start_time": unix_ms(function_started),
                            "end_time": unix_ms(function_started) + function_ms,
                            "duration": function_ms,
                        }),
                    };
                    self.run_evaluators(outputs, dp, &call, &mut metrics, &mut evaluator_errors);
                    if let Some(span) = &span {
                        if !metrics.is_empty() {
                            span.record_flattened("honeyhive_metrics", &metrics);
                        }
                        span.record_output(outputs);
                    }
                }
                Err((kind, message)) => {
                    if let Some(span) = &span {
                        span.record_error(kind, message);
                    }
                }
            }
            match outcome {
                Ok(outputs) => (Some(outputs), None, metrics, evaluator_errors),
                Err((kind, message)) => {
                    let error = if kind == "panic" {
                        format!("panic: {message}")
                    } else {
                        message
                    };
                    (None, Some(error), metrics, evaluator_errors)
                }
            }
        };
        let duration = started.elapsed();

        let update = SessionUpdate {
            event_id: &session_id,
            feedback: dp
                .ground_truth
                .as_ref()
                .map(|ground_truth| Feedback { ground_truth }),
            outputs: outputs.as_ref().filter(|o| !o.is_null()),
        };
        if update.feedback.is_some() || update.outputs.is_some() {
            self.lanes.send(index, "PUT", "/events", &update);
        }

        DatapointResult {
            datapoint_id: datapoint_id.clone(),
            session_id,
            inputs,
            ground_truth: dp.ground_truth.clone(),
            outputs,
            error,
            metrics,
            evaluator_errors,
            passed: false,
            duration,
        }
    }

    /// Calls the function; `Err((error type, message))` on error or panic.
    fn call_function(&self, dp: &Datapoint) -> Result<Value, (&'static str, String)> {
        let outcome = match (&self.builder.target, self.runtime) {
            (Target::Sync(f), _) => catch_unwind(AssertUnwindSafe(|| f(dp))),
            (Target::Async(f), Some(handle)) => catch_unwind(AssertUnwindSafe(|| {
                use opentelemetry::context::FutureExt;
                let future = f(dp.clone()).with_current_context();
                handle.block_on(future)
            })),
            (Target::Async(_), None) => Ok(Err("no async runtime available".to_string())),
        };
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(("Error", message)),
            Err(payload) => Err(("panic", panic_message(payload.as_ref()))),
        }
    }

    fn run_evaluators(
        &self,
        outputs: &Value,
        dp: &Datapoint,
        call: &FunctionCall<'_>,
        metrics: &mut Map<String, Value>,
        errors: &mut BTreeMap<String, String>,
    ) {
        for evaluator in &self.builder.evaluators {
            let name = evaluator.name();
            let result = catch_unwind(AssertUnwindSafe(|| match evaluator.evals_evaluator() {
                Some(scorer) => self.score(scorer, outputs, dp, call),
                None => evaluator.evaluate(outputs, &dp.inputs, dp.ground_truth.as_ref()),
            }));
            match result {
                Ok(Ok(raw)) => flatten_result(name, &raw, metrics),
                Ok(Err(e)) => {
                    errors.insert(name.to_string(), e);
                }
                Err(payload) => {
                    errors.insert(
                        name.to_string(),
                        format!("panic: {}", panic_message(payload.as_ref())),
                    );
                }
            }
        }
    }

    /// Scores with a honeyhive-evals evaluator (async ones on the run's runtime) and
    /// records a judge's LLM call as a `model` event under the chain span.
    fn score(
        &self,
        scorer: &dyn honeyhive_evals::Evaluator,
        outputs: &Value,
        dp: &Datapoint,
        call: &FunctionCall<'_>,
    ) -> Result<Value, String> {
        let input = honeyhive_evals::EvalInput::new(outputs, &dp.inputs)
            .with_ground_truth(dp.ground_truth.as_ref())
            .with_event(Some(&call.event));
        let result = match self.runtime {
            Some(handle) => handle.block_on(scorer.score_async(input)),
            None => scorer.score(&input),
        };
        let result = result.map_err(|e| e.to_string())?;
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

/// `PUT /events` on the session: its outputs and the ground truth as feedback.
#[derive(Serialize)]
struct SessionUpdate<'a> {
    event_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    feedback: Option<Feedback<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outputs: Option<&'a Value>,
}

#[derive(Serialize)]
struct Feedback<'a> {
    ground_truth: &'a Value,
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

pub(crate) fn summarize(
    result: Value,
    mut datapoints: Vec<DatapointResult>,
    run_id: &str,
    run_name: String,
    dataset_id: String,
    aggregate: Aggregate,
    warnings: Vec<String>,
) -> EvaluationSummary {
    let (passed, failed) = passed_failed(&result);
    // Per-datapoint verdicts from the server, matched by session (datapoint ids may repeat).
    let verdicts: std::collections::HashMap<&str, bool> = result
        .get("datapoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| Some((d.get("session_id")?.as_str()?, d.get("passed")?.as_bool()?)))
        .collect();
    for dp in &mut datapoints {
        dp.passed = verdicts
            .get(dp.session_id.as_str())
            .copied()
            .unwrap_or_else(|| passed.contains(&dp.datapoint_id) && dp.error.is_none());
    }
    EvaluationSummary {
        run_id: run_id.to_string(),
        run_name,
        dataset_id,
        status: result
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        success: result
            .get("success")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        passed,
        failed,
        datapoints,
        metrics: parse_metric_details(&result),
        aggregate_function: aggregate,
        warnings,
        raw_result: result,
    }
}
