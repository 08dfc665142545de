//! The experiment runner: the builder, the worker threads and the Python SDK's
//! wire flow.

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::client::RestClient;
use super::dataset::{self, Datapoint, Dataset, PreparedDataset};
use super::execute::{AsyncRuntime, RunContext, summarize};
use super::sender::Lanes;
use super::summary::EvaluationSummary;
use crate::Error;
use crate::error::ConfigError;
use honeyhive_evals::Evaluator;
use honeyhive_model::run::{Aggregation, RunStatus, RunUpdate};
use honeyhive_tracer::Tracer;
use honeyhive_tracer::config::Connection;

type SyncFn = dyn Fn(&Datapoint) -> Result<Value, String> + Send + Sync;
type BoxedFuture = Pin<Box<dyn Future<Output = Result<Value, String>>>>;
type AsyncFn = dyn Fn(Datapoint) -> BoxedFuture + Send + Sync;
type ProgressFn = dyn Fn(&Progress) + Send + Sync;

pub(crate) enum Target {
    Sync(Box<SyncFn>),
    Async(Box<AsyncFn>),
}

/// How far a run has got; handed to the [`EvaluateBuilder::on_progress`] callback
/// after each datapoint (from the worker thread that ran it).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Datapoints finished so far (including this one).
    pub completed: usize,
    /// Datapoints in the run.
    pub total: usize,
    /// Datapoints whose function failed so far.
    pub failed: usize,
    /// The datapoint just finished.
    pub datapoint_id: String,
    /// Its function error, if it failed.
    pub error: Option<String>,
    /// Its function + evaluators wall time.
    pub duration: Duration,
}

/// Default number of datapoints run at once (the Python SDK's `max_workers`).
pub const DEFAULT_MAX_CONCURRENCY: usize = 10;

/// Background senders for session starts and updates (queues with a connection
/// each, on one thread). The server commits concurrent requests in groups, so more
/// lanes than workers pay off: per-datapoint calls are short, and the run waits
/// for them all before it completes.
const MAX_SEND_LANES: usize = 32;

fn send_lanes(datapoints: usize) -> usize {
    MAX_SEND_LANES.min(datapoints.max(1))
}

/// How long the end of a run waits for the tracer to export the run's spans.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);

/// What an experiment is made of, whichever way its function runs.
pub(crate) struct Experiment {
    pub(crate) target: Target,
    pub(crate) function_name: String,
    dataset: Option<Dataset>,
    pub(crate) evaluators: Vec<Box<dyn Evaluator>>,
    name: Option<String>,
    run_id: Option<String>,
    pub(crate) max_concurrency: usize,
    aggregate: Aggregation,
    connection: Option<Connection>,
    tracer: Option<Tracer>,
    pub(crate) progress: Option<Arc<ProgressFn>>,
}

/// [`EvaluateBuilder`] of a synchronous function ([`evaluate`]): `run` blocks.
#[derive(Debug)]
pub struct BlockingRun;

/// [`EvaluateBuilder`] of an async function ([`evaluate_async`]): `run` is awaited.
#[derive(Debug)]
pub struct AsyncRun;

/// Configures and runs an experiment; made by [`evaluate`] (a [`BlockingRun`]) or
/// [`evaluate_async`] (an [`AsyncRun`]).
#[must_use]
pub struct EvaluateBuilder<K = BlockingRun> {
    experiment: Experiment,
    kind: PhantomData<K>,
}

impl<K> std::fmt::Debug for EvaluateBuilder<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = &self.experiment;
        f.debug_struct("EvaluateBuilder")
            .field("function_name", &e.function_name)
            .field("dataset", &e.dataset)
            .field(
                "evaluators",
                &e.evaluators.iter().map(|e| e.name()).collect::<Vec<_>>(),
            )
            .field("name", &e.name)
            .field("max_concurrency", &e.max_concurrency)
            .field("aggregate", &e.aggregate)
            .finish_non_exhaustive()
    }
}

/// The function's name for the run configuration and the chain span: the last path
/// segment of a `fn` item's type name, `function` for closures.
fn function_name_of<F>() -> String {
    let full = std::any::type_name::<F>();
    if full.contains("{{closure}}") || full.contains('<') {
        return "function".into();
    }
    full.rsplit("::").next().unwrap_or("function").to_string()
}

fn output_value<T: Serialize>(value: T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| format!("the output is not serializable: {e}"))
}

/// Runs a synchronous function over a dataset, like the Python SDK's `evaluate()`.
///
/// The function gets each [`Datapoint`] and returns any `Serialize` output or an
/// error; a panic is caught and recorded as that datapoint's failure.
///
/// ```no_run
/// use honeyhive_experiments::{evaluate, evaluator_fn, Datapoint};
/// use serde_json::json;
///
/// fn app(dp: &Datapoint) -> Result<serde_json::Value, String> {
///     Ok(json!({"answer": dp.inputs["question"].as_str().unwrap_or("").to_uppercase()}))
/// }
///
/// let summary = evaluate(app)
///     .name("uppercase-v1")
///     .dataset(vec![Datapoint::new(json!({"question": "abc"})).ground_truth(json!({"answer": "ABC"}))])
///     .evaluator(evaluator_fn("exact_match", |out, _inputs, gt| {
///         Ok(json!(if Some(out) == gt { 1.0 } else { 0.0 }))
///     }))
///     .run()?;
/// println!("{} passed, exact_match = {:?}", summary.passed.len(), summary.metric("exact_match"));
/// # Ok::<(), honeyhive_experiments::Error>(())
/// ```
pub fn evaluate<F, T, E>(function: F) -> EvaluateBuilder<BlockingRun>
where
    F: Fn(&Datapoint) -> Result<T, E> + Send + Sync + 'static,
    T: Serialize,
    E: Display,
{
    let name = function_name_of::<F>();
    let target = Target::Sync(Box::new(move |dp: &Datapoint| match function(dp) {
        Ok(value) => output_value(value),
        Err(e) => Err(e.to_string()),
    }));
    EvaluateBuilder::new(target, name)
}

/// Runs an async function over a dataset; its [`run`](EvaluateBuilder::run) is
/// awaited. The futures run on the caller's multi-threaded tokio runtime when there
/// is one, else on runtimes the run creates (so `tokio::time`, `reqwest`, ... work).
///
/// ```no_run
/// use honeyhive_experiments::{evaluate_async, Datapoint};
/// use serde_json::json;
///
/// # async fn demo() -> Result<(), honeyhive_experiments::Error> {
/// let summary = evaluate_async(|dp: Datapoint| async move {
///     Ok::<_, String>(json!({"echo": dp.inputs}))
/// })
/// .dataset(vec![Datapoint::new(json!({"q": 1}))])
/// .max_concurrency(64)
/// .run()
/// .await?;
/// # Ok(())
/// # }
/// ```
pub fn evaluate_async<F, Fut, T, E>(function: F) -> EvaluateBuilder<AsyncRun>
where
    F: Fn(Datapoint) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + 'static,
    T: Serialize,
    E: Display,
{
    let name = function_name_of::<F>();
    let function = Arc::new(function);
    let target = Target::Async(Box::new(move |dp: Datapoint| {
        let future = function(dp);
        Box::pin(async move {
            match future.await {
                Ok(value) => output_value(value),
                Err(e) => Err(e.to_string()),
            }
        }) as BoxedFuture
    }));
    EvaluateBuilder::new(target, name)
}

impl<K> EvaluateBuilder<K> {
    fn new(target: Target, function_name: String) -> EvaluateBuilder<K> {
        let experiment = Experiment {
            target,
            function_name,
            dataset: None,
            evaluators: Vec::new(),
            name: None,
            run_id: None,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            aggregate: Aggregation::Average,
            connection: None,
            tracer: None,
            progress: None,
        };
        EvaluateBuilder {
            experiment,
            kind: PhantomData,
        }
    }

    /// The datapoints: a `Vec<Datapoint>`, [`Dataset::jsonl`], [`Dataset::csv`] or
    /// [`Dataset::server`].
    pub fn dataset(mut self, dataset: impl Into<Dataset>) -> Self {
        self.experiment.dataset = Some(dataset.into());
        self
    }

    /// Adds an evaluator: a built-in metric, an LLM judge, a composite, a
    /// Python-style closure ([`evaluator_fn`](crate::evaluator_fn)), a type of your
    /// own, or a `Box<dyn Evaluator>` / `Arc<dyn Evaluator>` of any of them. It sees
    /// the traced event of the function call; its pass criteria become
    /// `<name>_passed`, and a judge's LLM call is recorded as a `model` event under
    /// the datapoint's chain span.
    ///
    /// ```no_run
    /// use honeyhive_experiments::{evaluate, evaluator_fn, Datapoint, Evaluator};
    /// use honeyhive_experiments::evals::{builtin, metrics::TokenF1};
    /// use serde_json::{json, Map};
    ///
    /// let exact: Box<dyn Evaluator> = builtin("exact_match", &Map::new()).unwrap();
    /// let summary = evaluate(|dp: &Datapoint| Ok::<_, String>(dp.inputs["q"].clone()))
    ///     .dataset(vec![Datapoint::new(json!({"q": "a"})).ground_truth(json!("a"))])
    ///     .evaluator(exact)
    ///     .evaluator(TokenF1::new())
    ///     .evaluator(evaluator_fn("non_empty", |out, _, _| Ok(json!(!out.is_null()))))
    ///     .run()?;
    /// # Ok::<(), honeyhive_experiments::Error>(())
    /// ```
    pub fn evaluator(mut self, evaluator: impl Evaluator + 'static) -> Self {
        self.experiment.evaluators.push(Box::new(evaluator));
        self
    }

    /// The run name (default `experiment-<first 8 chars of the run id>`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.experiment.name = Some(name.into());
        self
    }

    /// The run id to create (default: a fresh UUID; the server's answer wins).
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.experiment.run_id = Some(run_id.into());
        self
    }

    /// The function's name in the run configuration and on its chain span
    /// (default: the `fn` item's name, `function` for closures).
    pub fn function_name(mut self, name: impl Into<String>) -> Self {
        self.experiment.function_name = name.into();
        self
    }

    /// Datapoints run at once (default 10).
    pub fn max_concurrency(mut self, max: usize) -> Self {
        self.experiment.max_concurrency = max;
        self
    }

    /// How the server aggregates each metric (default average).
    pub fn aggregate(mut self, aggregate: Aggregation) -> Self {
        self.experiment.aggregate = aggregate;
        self
    }

    /// The server and key to call (default: [`Connection::from_env`]).
    pub fn connection(mut self, connection: Connection) -> Self {
        self.experiment.connection = Some(connection);
        self
    }

    /// The tracer the run's spans go through. Default: one built for the run with
    /// source `evaluation` and the same connection. A tracer given here keeps its
    /// own source; give it `source("evaluation")` to match the Python SDK.
    pub fn tracer(mut self, tracer: Tracer) -> Self {
        self.experiment.tracer = Some(tracer);
        self
    }

    /// Called after each datapoint; the library itself never prints.
    pub fn on_progress(mut self, callback: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.experiment.progress = Some(Arc::new(callback));
        self
    }
}

impl EvaluateBuilder<BlockingRun> {
    /// Runs the experiment and returns its summary. Blocks; inside an async
    /// context call it from `tokio::task::spawn_blocking`.
    ///
    /// Fails as a whole only when the dataset cannot be loaded or the run cannot
    /// be created, completed or read back; a failing datapoint or evaluator is
    /// recorded in the summary.
    pub fn run(self) -> crate::Result<EvaluationSummary> {
        self.experiment.run(None)
    }
}

impl EvaluateBuilder<AsyncRun> {
    /// Runs the experiment and returns its summary, without blocking the caller's
    /// executor: the run's calls and its waiting happen on threads of its own, the
    /// function's futures on the caller's multi-thread tokio runtime when there is
    /// one, else on runtimes of the run's threads. Any executor may await it.
    ///
    /// Fails as the blocking `run` of [`evaluate`] does.
    pub async fn run(self) -> crate::Result<EvaluationSummary> {
        let runtime = AsyncRuntime::acquire();
        let (done, finished) = tokio::sync::oneshot::channel();
        let experiment = self.experiment;
        std::thread::Builder::new()
            .name("hh-experiment-run".into())
            .spawn(move || {
                let _ = done.send(experiment.run(Some(runtime)));
            })
            .map_err(Error::Worker)?;
        finished
            .await
            .map_err(|_| Error::Worker(std::io::Error::other("the experiment's thread stopped")))?
    }
}

impl Experiment {
    /// Runs the experiment; `runtime` is where an async function's futures run.
    fn run(mut self, runtime: Option<AsyncRuntime>) -> crate::Result<EvaluationSummary> {
        if self.max_concurrency == 0 {
            return Err(ConfigError::new("max_concurrency must be at least 1").into());
        }
        let dataset = self.dataset.take().ok_or(Error::MissingDataset)?;
        let connection = match &self.connection {
            Some(connection) => connection.clone(),
            None => Connection::from_env().map_err(ConfigError::from)?,
        };
        // The run's own calls, one at a time (the lanes keep connections of their own).
        let client = RestClient::new(&connection, 1);
        let prepared = prepare(&client, dataset)?;

        let mut run_id = self
            .run_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let run_name = self
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!("experiment-{}", run_id.chars().take(8).collect::<String>())
            });
        let created = client.post(
            "/v1/runs",
            &self.create_run_body(&run_id, &run_name, &prepared),
        )?;
        if let Some(id) = created
            .get("run_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            run_id = id.to_string();
        }

        let tracer = match &self.tracer {
            Some(t) => t.clone(),
            None => Tracer::builder()
                .connection(&connection)
                .source("evaluation")
                .session_name(run_name.as_str())
                .start_session(false)
                .build()
                .map_err(Error::Tracer)?,
        };
        let lanes = Lanes::start(&client, send_lanes(prepared.datapoints.len()))?;
        let (results, _runtime) = {
            let ctx = RunContext {
                builder: &self,
                tracer: &tracer,
                runtime: runtime.as_ref(),
                lanes: &lanes,
                run_id: &run_id,
                run_name: &run_name,
                dataset: &prepared,
                completed: AtomicUsize::new(0),
                failed: AtomicUsize::new(0),
            };
            (ctx.run_all()?, runtime)
        };

        let mut warnings = Vec::new();
        match tracer.flush(FLUSH_TIMEOUT) {
            Ok(report) if report.dropped.total() > 0 => warnings.push(format!(
                "{} spans of the run could not be exported",
                report.dropped.total()
            )),
            Ok(_) => {}
            Err(e) => warnings.push(format!("exporting the run's spans: {e}")),
        }
        let stats = lanes.finish();
        let failed_calls = stats.failed.load(Ordering::Relaxed);
        if failed_calls > 0 {
            warnings.push(format!(
                "{failed_calls} session start/update calls failed; first: {}",
                stats.first_error.lock().clone().unwrap_or_default()
            ));
        }

        // The Python SDK's completion body: name, status, metadata, event ids.
        let completion = RunUpdate {
            name: Some(run_name.clone()),
            status: Some(RunStatus::Completed),
            metadata: prepared
                .is_external()
                .then(|| offline_dataset_metadata(&prepared)),
            event_ids: Some(results.iter().map(|r| r.session_id.clone()).collect()),
            ..RunUpdate::default()
        };
        let run_path = format!("/v1/runs/{run_id}");
        client.put(&run_path, &completion)?;

        let result = client.get_text(
            &format!("{run_path}/result"),
            &[("aggregate_function", self.aggregate.as_str())],
        )?;
        summarize(
            result,
            results,
            &run_id,
            run_name,
            prepared.dataset_id,
            self.aggregate,
            warnings,
        )
    }

    /// `POST /v1/runs` body, field for field the Python SDK's.
    fn create_run_body(
        &self,
        run_id: &str,
        run_name: &str,
        prepared: &PreparedDataset,
    ) -> RunUpdate {
        let mut configuration = Map::new();
        configuration.insert("function".into(), json!(self.function_name));
        configuration.insert(
            "evaluators".into(),
            json!(self.evaluators.iter().map(|e| e.name()).collect::<Vec<_>>()),
        );
        configuration.insert("max_workers".into(), json!(self.max_concurrency));
        configuration.insert("aggregate_function".into(), json!(self.aggregate));
        RunUpdate {
            run_id: Some(run_id.to_string()),
            name: Some(run_name.to_string()),
            status: Some(RunStatus::Pending),
            metadata: Some(if prepared.is_external() {
                offline_dataset_metadata(prepared)
            } else {
                Map::new()
            }),
            event_ids: Some(Vec::new()),
            configuration: Some(configuration),
            datapoint_ids: Some(prepared.datapoint_ids.clone()),
            dataset_id: (!prepared.is_external()).then(|| Some(prepared.dataset_id.clone())),
            ..RunUpdate::default()
        }
    }
}

/// A run's metadata naming the client-side dataset it ran over (its `EXT-` id).
fn offline_dataset_metadata(prepared: &PreparedDataset) -> Map<String, Value> {
    Map::from_iter([("offline_dataset_id".to_string(), json!(prepared.dataset_id))])
}

/// Loads the datapoints and assigns their ids.
fn prepare(client: &RestClient, dataset: Dataset) -> crate::Result<PreparedDataset> {
    Ok(match dataset {
        Dataset::Inline(dps) => PreparedDataset::external(dps),
        Dataset::Jsonl(path) => PreparedDataset::external(dataset::read_jsonl(&path)?),
        Dataset::Csv(path) => PreparedDataset::external(dataset::read_csv(&path)?),
        Dataset::Server(id) => {
            let limit = dataset::SERVER_PAGE_SIZE.to_string();
            let rows = dataset::server_rows(|page| {
                let page = page.to_string();
                let query = [
                    ("dataset_id", id.as_str()),
                    ("limit", limit.as_str()),
                    ("page", page.as_str()),
                ];
                client.get("/v1/datapoints", &query)
            })?;
            let (datapoint_ids, datapoints): (Vec<String>, Vec<Datapoint>) =
                rows.into_iter().filter_map(dataset::from_server).unzip();
            if datapoints.is_empty() {
                return Err(Error::EmptyDataset(id));
            }
            PreparedDataset {
                dataset_id: id,
                datapoints,
                datapoint_ids,
            }
        }
    })
}
