//! The [`Evaluator`] trait, its input, wrappers and closure adapters.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use serde_json::Value;

use crate::{EvalError, EvalResult, PassCriteria};

/// What an evaluator sees of one datapoint.
///
/// `outputs` is what the function under test returned, `inputs` the datapoint's
/// inputs, `ground_truth` its expected output, and `event` the traced event of the
/// function call (a HoneyHive event as JSON: `duration`, `metadata.total_tokens`,
/// `metadata.cost`, ...) for evaluators that judge latency, tokens or cost.
///
/// ```
/// use honeyhive_evals::EvalInput;
/// use serde_json::json;
/// let (out, inp, truth) = (json!("Paris"), json!({"q": "capital of France?"}), json!("Paris"));
/// let input = EvalInput::new(&out, &inp).with_ground_truth(Some(&truth));
/// assert_eq!(input.ground_truth, Some(&json!("Paris")));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EvalInput<'a> {
    /// The function's output.
    pub outputs: &'a Value,
    /// The datapoint's inputs.
    pub inputs: &'a Value,
    /// The datapoint's ground truth, when it has one.
    pub ground_truth: Option<&'a Value>,
    /// The traced event of the function call, when the runner has it.
    pub event: Option<&'a Value>,
}

impl<'a> EvalInput<'a> {
    /// Outputs and inputs, no ground truth, no event.
    pub fn new(outputs: &'a Value, inputs: &'a Value) -> Self {
        EvalInput {
            outputs,
            inputs,
            ground_truth: None,
            event: None,
        }
    }

    /// Sets the ground truth.
    pub fn with_ground_truth(mut self, ground_truth: Option<&'a Value>) -> Self {
        self.ground_truth = ground_truth;
        self
    }

    /// Sets the traced event.
    pub fn with_event(mut self, event: Option<&'a Value>) -> Self {
        self.event = event;
        self
    }
}

/// The future [`Evaluator::evaluate_async`] returns: boxed so the trait stays object-safe.
pub type EvalFuture<'a> = Pin<Box<dyn Future<Output = Result<EvalResult, EvalError>> + Send + 'a>>;

/// Scores one datapoint.
///
/// Implement [`evaluate`](Evaluator::evaluate); evaluators that wait on I/O (judges,
/// embeddings) also override [`evaluate_async`](Evaluator::evaluate_async) so async
/// runners are not blocked. Runners call [`score`](Evaluator::score) /
/// [`score_async`](Evaluator::score_async), which check ground truth and resolve
/// `passed` from [`pass_criteria`](Evaluator::pass_criteria).
/// `Box<dyn Evaluator>` works; nothing depends on an async runtime.
///
/// ```
/// use honeyhive_evals::{EvalError, EvalInput, EvalResult, Evaluator, PassCriteria};
/// use serde_json::json;
///
/// struct Length;
/// impl Evaluator for Length {
///     fn name(&self) -> &str { "length" }
///     fn pass_criteria(&self) -> Option<&PassCriteria> { Some(&PassCriteria::AtMost(10.0)) }
///     fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
///         let text = input.outputs.as_str().unwrap_or_default();
///         Ok(EvalResult::number(text.chars().count() as f64))
///     }
/// }
///
/// let boxed: Box<dyn Evaluator> = Box::new(Length);
/// let (out, inp) = (json!("short"), json!({}));
/// let result = boxed.score(&EvalInput::new(&out, &inp)).unwrap();
/// assert_eq!(result.passed, Some(true));
/// ```
pub trait Evaluator: Send + Sync {
    /// The metric name the score is recorded under (`honeyhive_metrics.<name>`).
    fn name(&self) -> &str;

    /// Whether the evaluator needs the datapoint's ground truth.
    fn needs_ground_truth(&self) -> bool {
        false
    }

    /// When a result passes; `None` leaves `passed` as the evaluator set it.
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        None
    }

    /// Computes the result. Called by [`score`](Evaluator::score), which has
    /// already checked that ground truth is present when needed.
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError>;

    /// Computes the result without blocking the caller's executor. The default runs
    /// [`evaluate`](Evaluator::evaluate) inline, which suits CPU-only evaluators.
    fn evaluate_async<'a>(&'a self, input: EvalInput<'a>) -> EvalFuture<'a> {
        Box::pin(std::future::ready(self.evaluate(&input)))
    }

    /// Checks ground truth, evaluates, and resolves `passed`.
    fn score(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        check_ground_truth(self.name(), self.needs_ground_truth(), input)?;
        let result = self.evaluate(input)?;
        Ok(resolve_passed(result, self.pass_criteria()))
    }

    /// Async form of [`score`](Evaluator::score).
    fn score_async<'a>(&'a self, input: EvalInput<'a>) -> EvalFuture<'a> {
        Box::pin(async move {
            check_ground_truth(self.name(), self.needs_ground_truth(), &input)?;
            let result = self.evaluate_async(input).await?;
            Ok(resolve_passed(result, self.pass_criteria()))
        })
    }
}

fn check_ground_truth(name: &str, needed: bool, input: &EvalInput<'_>) -> Result<(), EvalError> {
    let missing = input.ground_truth.is_none_or(Value::is_null);
    if needed && missing {
        return Err(EvalError::MissingGroundTruth(name.to_string()));
    }
    Ok(())
}

fn resolve_passed(mut result: EvalResult, criteria: Option<&PassCriteria>) -> EvalResult {
    if let Some(criteria) = criteria
        && let Some(passed) = criteria.check(&result.value)
    {
        result.passed = Some(passed);
    }
    result
}

impl<E: Evaluator + ?Sized> Evaluator for Box<E> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn needs_ground_truth(&self) -> bool {
        (**self).needs_ground_truth()
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        (**self).pass_criteria()
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        (**self).evaluate(input)
    }
    fn evaluate_async<'a>(&'a self, input: EvalInput<'a>) -> EvalFuture<'a> {
        (**self).evaluate_async(input)
    }
}

impl<E: Evaluator + ?Sized> Evaluator for Arc<E> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn needs_ground_truth(&self) -> bool {
        (**self).needs_ground_truth()
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        (**self).pass_criteria()
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        (**self).evaluate(input)
    }
    fn evaluate_async<'a>(&'a self, input: EvalInput<'a>) -> EvalFuture<'a> {
        (**self).evaluate_async(input)
    }
}

/// Renaming and pass criteria for any evaluator.
///
/// ```
/// use honeyhive_evals::{EvaluatorExt, Evaluator, PassCriteria, metrics::Levenshtein};
/// let eval = Levenshtein::new().named("edit_similarity").passing(PassCriteria::AtLeast(0.9));
/// assert_eq!(eval.name(), "edit_similarity");
/// ```
pub trait EvaluatorExt: Evaluator + Sized {
    /// Records the score under another name.
    fn named(self, name: impl Into<String>) -> Configured<Self> {
        Configured::new(self).named(name)
    }

    /// Replaces the pass criteria.
    fn passing(self, criteria: PassCriteria) -> Configured<Self> {
        Configured::new(self).passing(criteria)
    }
}

impl<E: Evaluator + Sized> EvaluatorExt for E {}

/// An evaluator with its name and/or pass criteria overridden (see [`EvaluatorExt`]).
#[derive(Debug, Clone)]
pub struct Configured<E> {
    inner: E,
    name: Option<String>,
    criteria: Option<PassCriteria>,
}

impl<E: Evaluator> Configured<E> {
    fn new(inner: E) -> Self {
        Configured {
            inner,
            name: None,
            criteria: None,
        }
    }

    /// Records the score under another name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Replaces the pass criteria.
    pub fn passing(mut self, criteria: PassCriteria) -> Self {
        self.criteria = Some(criteria);
        self
    }
}

impl<E: Evaluator> Evaluator for Configured<E> {
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.inner.name())
    }
    fn needs_ground_truth(&self) -> bool {
        self.inner.needs_ground_truth()
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        self.criteria
            .as_ref()
            .or_else(|| self.inner.pass_criteria())
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        self.inner.evaluate(input)
    }
    fn evaluate_async<'a>(&'a self, input: EvalInput<'a>) -> EvalFuture<'a> {
        self.inner.evaluate_async(input)
    }
}

type SyncFn = dyn Fn(&EvalInput<'_>) -> Result<EvalResult, EvalError> + Send + Sync;
type AsyncFn = dyn for<'a> Fn(EvalInput<'a>) -> EvalFuture<'a> + Send + Sync;

/// An evaluator from a closure, sync or async.
///
/// ```
/// use honeyhive_evals::{EvalInput, EvalResult, Evaluator, FnEvaluator};
/// use serde_json::json;
/// let has_answer = FnEvaluator::new("has_answer", |input| {
///     Ok(EvalResult::boolean(input.outputs.get("answer").is_some()))
/// });
/// let (out, inp) = (json!({"answer": 42}), json!({}));
/// assert_eq!(has_answer.score(&EvalInput::new(&out, &inp)).unwrap(), EvalResult::boolean(true));
///
/// let slow = FnEvaluator::new_async("slow", |input| Box::pin(async move {
///     Ok(EvalResult::number(input.outputs.as_f64().unwrap_or(0.0)))
/// }));
/// let (out, inp) = (json!(0.5), json!({}));
/// assert_eq!(slow.score(&EvalInput::new(&out, &inp)).unwrap(), EvalResult::number(0.5));
/// ```
pub struct FnEvaluator {
    name: String,
    needs_ground_truth: bool,
    criteria: Option<PassCriteria>,
    body: FnBody,
}

enum FnBody {
    Sync(Box<SyncFn>),
    Async(Box<AsyncFn>),
}

impl std::fmt::Debug for FnEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnEvaluator")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl FnEvaluator {
    /// A sync evaluator from a closure.
    pub fn new<F>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(&EvalInput<'_>) -> Result<EvalResult, EvalError> + Send + Sync + 'static,
    {
        FnEvaluator {
            name: name.into(),
            needs_ground_truth: false,
            criteria: None,
            body: FnBody::Sync(Box::new(f)),
        }
    }

    /// An async evaluator from a closure returning a boxed future. Its sync
    /// [`evaluate`](Evaluator::evaluate) drives the future on the calling thread, so a
    /// future that needs a specific runtime (timers, sockets) must be run through
    /// [`score_async`](Evaluator::score_async) inside that runtime.
    pub fn new_async<F>(name: impl Into<String>, f: F) -> Self
    where
        F: for<'a> Fn(EvalInput<'a>) -> EvalFuture<'a> + Send + Sync + 'static,
    {
        FnEvaluator {
            name: name.into(),
            needs_ground_truth: false,
            criteria: None,
            body: FnBody::Async(Box::new(f)),
        }
    }

    /// Marks the evaluator as needing ground truth.
    pub fn requires_ground_truth(mut self) -> Self {
        self.needs_ground_truth = true;
        self
    }

    /// Sets the pass criteria.
    pub fn passing(mut self, criteria: PassCriteria) -> Self {
        self.criteria = Some(criteria);
        self
    }
}

impl Evaluator for FnEvaluator {
    fn name(&self) -> &str {
        &self.name
    }
    fn needs_ground_truth(&self) -> bool {
        self.needs_ground_truth
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        self.criteria.as_ref()
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        match &self.body {
            FnBody::Sync(f) => f(input),
            FnBody::Async(f) => block_on(f(*input)),
        }
    }
    fn evaluate_async<'a>(&'a self, input: EvalInput<'a>) -> EvalFuture<'a> {
        match &self.body {
            FnBody::Sync(f) => Box::pin(std::future::ready(f(&input))),
            FnBody::Async(f) => f(input),
        }
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives a future to completion on the current thread (no runtime needed).
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    finished: bool,
}

/// Runs blocking work (an HTTP call) on its own thread and awaits it from any
/// executor: the evaluators stay runtime-agnostic and never block a runtime's worker.
pub(crate) fn offload<T, F>(work: F) -> impl Future<Output = Result<T, String>> + Send
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
        finished: false,
    }));
    let producer = Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name("hh-eval-io".into())
        .spawn(move || {
            let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).ok();
            let waker = {
                let mut guard = producer.lock().unwrap_or_else(|e| e.into_inner());
                guard.value = value;
                guard.finished = true;
                guard.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
    let spawn_error = spawned
        .err()
        .map(|e| format!("cannot start io thread: {e}"));
    std::future::poll_fn(move |cx| {
        if let Some(err) = &spawn_error {
            return Poll::Ready(Err(err.clone()));
        }
        let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
        if guard.finished {
            return Poll::Ready(
                guard
                    .value
                    .take()
                    .ok_or_else(|| "evaluator io thread panicked".to_string()),
            );
        }
        guard.waker = Some(cx.waker().clone());
        Poll::Pending
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn score_rejects_missing_or_null_ground_truth() {
        let eval = FnEvaluator::new("needs_truth", |_| Ok(EvalResult::number(1.0)))
            .requires_ground_truth();
        let (out, inp, null) = (json!("x"), json!({}), Value::Null);
        let err = eval.score(&EvalInput::new(&out, &inp)).unwrap_err();
        assert_eq!(err, EvalError::MissingGroundTruth("needs_truth".into()));
        let err = eval
            .score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&null)))
            .unwrap_err();
        assert_eq!(err, EvalError::MissingGroundTruth("needs_truth".into()));
    }

    #[test]
    fn configured_overrides_name_and_criteria() {
        let eval = FnEvaluator::new("raw", |_| Ok(EvalResult::number(0.4)))
            .named("renamed")
            .passing(PassCriteria::AtLeast(0.5));
        let (out, inp) = (json!("x"), json!({}));
        let result = eval.score(&EvalInput::new(&out, &inp)).unwrap();
        assert_eq!(eval.name(), "renamed");
        assert_eq!(result.passed, Some(false));
    }

    #[test]
    fn score_async_resolves_passed_and_offload_returns_value() {
        let eval = FnEvaluator::new_async("io", |input| {
            let text = input.outputs.as_str().unwrap_or_default().to_string();
            Box::pin(async move {
                let len = offload(move || text.len())
                    .await
                    .map_err(|m| EvalError::Failed {
                        evaluator: "io".into(),
                        message: m,
                    })?;
                Ok(EvalResult::number(len as f64))
            })
        })
        .passing(PassCriteria::AtLeast(3.0));
        let (out, inp) = (json!("abcd"), json!({}));
        let result = block_on(eval.score_async(EvalInput::new(&out, &inp))).unwrap();
        assert_eq!(result.value, crate::EvalValue::Number(4.0));
        assert_eq!(result.passed, Some(true));
    }

    #[test]
    fn offload_reports_a_panicking_job() {
        let out: Result<(), String> = block_on(offload(|| panic!("boom")));
        assert!(out.unwrap_err().contains("panicked"));
    }
}
