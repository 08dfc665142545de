//! Evaluators for honeyhive experiments.
//!
//! An [`Evaluator`] scores one datapoint — the function's outputs, the datapoint's
//! inputs and ground truth, and optionally the traced event — and returns a typed
//! [`EvalResult`] (number, bool, text or category, plus explanation, extra fields
//! and pass/fail). The experiments runner records the value on the datapoint's
//! session as `honeyhive_metrics.<name>`, exactly as the Python SDK does.
//!
//! - [`metrics`]: exact match, contains, regex, JSON validity and schema,
//!   Levenshtein, token F1, ROUGE-1/2/L (identical to `rouge-score`), BLEU
//!   (identical to sacrebleu's `sentence_bleu`), latency/token/cost budgets,
//!   tool-call correctness, embedding similarity.
//! - [`judge`]: LLM-as-judge over any OpenAI-compatible chat endpoint.
//! - [`Composite`]: weighted mean, min, max, all-pass, any-pass, nested.
//! - [`builtin`]: metrics by name and parameters (for `hh eval`).
//!
//! The crate depends on no async runtime: evaluators that wait on the network run
//! their blocking HTTP call on a helper thread inside
//! [`Evaluator::evaluate_async`], so they can be awaited from any executor.
//!
//! ```
//! use honeyhive_evals::{EvalInput, Evaluator, EvaluatorExt, PassCriteria};
//! use honeyhive_evals::metrics::{Bleu, Rouge, RougeKind};
//! use serde_json::json;
//!
//! let evaluators: Vec<Box<dyn Evaluator>> = vec![
//!     Box::new(Rouge::new(RougeKind::Rouge1).passing(PassCriteria::AtLeast(0.5))),
//!     Box::new(Bleu::new()),
//! ];
//! let (outputs, inputs, truth) = (json!("The cat sat on the mat."), json!({}), json!("A cat sat on the mat."));
//! let input = EvalInput::new(&outputs, &inputs).with_ground_truth(Some(&truth));
//! for evaluator in &evaluators {
//!     let result = evaluator.score(&input).unwrap();
//!     println!("{} = {:?} passed={:?}", evaluator.name(), result.value, result.passed);
//! }
//! ```
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `tls`   | off     | `https://` judge and embeddings endpoints (rustls) |

mod composite;
mod error;
mod evaluator;
mod http;
pub mod judge;
pub mod metrics;
mod registry;
mod result;
mod text;

pub use composite::{Combine, Composite};
pub use error::EvalError;
pub use evaluator::{Configured, EvalFuture, EvalInput, Evaluator, EvaluatorExt, FnEvaluator};
pub use http::EndpointConfig;
pub use registry::{BUILTIN_METRICS, ExpectedCallSpec, MetricSpec, builtin};
pub use result::{EvalResult, EvalValue, JudgeCall, PassCriteria};
pub use text::{Fields, Normalize};
