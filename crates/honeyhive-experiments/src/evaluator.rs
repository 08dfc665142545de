//! The evaluator interface of the experiment runner and how results become metrics.
//!
//! Results are normalised exactly like the Python SDK's `EvaluatorMetricResult`:
//! a scalar (number, bool, string) is the score; a one-element list is unwrapped; an
//! object gives `score`, `explanation` (→ `<name>_explanation`) and scalar extras
//! (→ `<name>_<key>`); anything else is dropped.

use serde_json::{Map, Value};

use crate::error::EvaluatorError;

/// Scores one datapoint's outputs. Object safe: runners hold `Box<dyn ExperimentEvaluator>`.
///
/// Closures `Fn(&Value, &Value, Option<&Value>) -> Result<Value, EvaluatorError>` (outputs,
/// inputs, ground truth, like Python's `evaluator(outputs, inputs, ground_truth)`)
/// are turned into evaluators with [`evaluator_fn`] or the builder's `.evaluator(name, f)`.
///
/// ```
/// use honeyhive_experiments::{EvaluatorError, ExperimentEvaluator};
/// use serde_json::{json, Value};
///
/// struct NonEmpty;
/// impl ExperimentEvaluator for NonEmpty {
///     fn name(&self) -> &str { "non_empty" }
///     fn evaluate(&self, outputs: &Value, _: &Value, _: Option<&Value>) -> Result<Value, EvaluatorError> {
///         match outputs {
///             Value::Null => Err("no output".into()),
///             other => Ok(json!(other.to_string().len() > 2)),
///         }
///     }
/// }
/// ```
pub trait ExperimentEvaluator: Send + Sync {
    /// The metric name (`honeyhive_metrics.<name>`).
    fn name(&self) -> &str;

    /// A number, bool, string, or `{score, explanation, ...}`; `Err` records an
    /// evaluator failure (its message) for this datapoint only.
    fn evaluate(
        &self,
        outputs: &Value,
        inputs: &Value,
        ground_truth: Option<&Value>,
    ) -> Result<Value, EvaluatorError>;

    /// The [`honeyhive_evals::Evaluator`] behind this one, when it wraps one (see
    /// [`from_evals`]). The runner then scores through it directly, so the evaluator
    /// also sees the traced event (latency, tokens, cost) and a judge's LLM call is
    /// recorded as a `model` event in the datapoint's session.
    fn evals_evaluator(&self) -> Option<&dyn honeyhive_evals::Evaluator> {
        None
    }
}

/// A [`honeyhive_evals::Evaluator`] as an experiment evaluator.
struct EvalsAdapter<E> {
    inner: E,
}

impl<E: honeyhive_evals::Evaluator> ExperimentEvaluator for EvalsAdapter<E> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn evaluate(
        &self,
        outputs: &Value,
        inputs: &Value,
        ground_truth: Option<&Value>,
    ) -> Result<Value, EvaluatorError> {
        let input =
            honeyhive_evals::EvalInput::new(outputs, inputs).with_ground_truth(ground_truth);
        let result = self.inner.score(&input)?;
        Ok(eval_result_value(&result))
    }

    fn evals_evaluator(&self) -> Option<&dyn honeyhive_evals::Evaluator> {
        Some(&self.inner)
    }
}

/// Any [`honeyhive_evals::Evaluator`] — a concrete one, `Box<dyn Evaluator>` or
/// `Arc<dyn Evaluator>` — as an experiment evaluator (what the builder's
/// `with_evaluator` does).
///
/// Its result is recorded like the Python SDK records `{score, explanation, ...}`:
/// `<name>` is the score, `<name>_explanation` the explanation, `<name>_<key>` each
/// scalar extra field, and `<name>_passed` the pass/fail verdict of the evaluator's
/// pass criteria (a `false` there fails the datapoint on the server).
///
/// ```
/// use honeyhive_experiments::from_evals;
/// use honeyhive_evals::{metrics::TokenF1, Evaluator};
/// let boxed: Box<dyn Evaluator> = Box::new(TokenF1::new());
/// let evaluator = from_evals(boxed);
/// assert_eq!(evaluator.name(), "token_f1");
/// assert!(evaluator.evals_evaluator().is_some());
/// ```
pub fn from_evals(
    evaluator: impl honeyhive_evals::Evaluator + 'static,
) -> Box<dyn ExperimentEvaluator> {
    Box::new(EvalsAdapter { inner: evaluator })
}

/// An [`honeyhive_evals::EvalResult`] as the `{score, explanation, passed, ...}`
/// object [`flatten_result`] turns into metrics.
pub(crate) fn eval_result_value(result: &honeyhive_evals::EvalResult) -> Value {
    let mut object = Map::new();
    object.insert("score".into(), result.value.to_json());
    if let Some(explanation) = &result.explanation {
        object.insert("explanation".into(), Value::String(explanation.clone()));
    }
    for (key, value) in &result.extra {
        if key != "score" && key != "explanation" && key != "passed" {
            object.insert(key.clone(), value.clone());
        }
    }
    if let Some(passed) = result.passed {
        object.insert("passed".into(), Value::Bool(passed));
    }
    Value::Object(object)
}

struct FnEvaluator<F> {
    name: String,
    f: F,
}

impl<F> ExperimentEvaluator for FnEvaluator<F>
where
    F: Fn(&Value, &Value, Option<&Value>) -> Result<Value, EvaluatorError> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(
        &self,
        outputs: &Value,
        inputs: &Value,
        ground_truth: Option<&Value>,
    ) -> Result<Value, EvaluatorError> {
        (self.f)(outputs, inputs, ground_truth)
    }
}

/// An evaluator from a name and a closure `(outputs, inputs, ground_truth)`.
///
/// ```
/// use honeyhive_experiments::evaluator_fn;
/// use serde_json::json;
///
/// let exact = evaluator_fn("exact_match", |out, _inputs, gt| {
///     Ok(json!(if Some(out) == gt { 1.0 } else { 0.0 }))
/// });
/// assert_eq!(exact.name(), "exact_match");
/// ```
pub fn evaluator_fn<F>(name: impl Into<String>, f: F) -> Box<dyn ExperimentEvaluator>
where
    F: Fn(&Value, &Value, Option<&Value>) -> Result<Value, EvaluatorError> + Send + Sync + 'static,
{
    Box::new(FnEvaluator {
        name: name.into(),
        f,
    })
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::Bool(_) | Value::Number(_) | Value::String(_))
}

/// Flattens one evaluator's raw result into `metrics` (Python's `to_metric_attrs`).
pub(crate) fn flatten_result(name: &str, raw: &Value, metrics: &mut Map<String, Value>) {
    let raw = match raw {
        Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    };
    match raw {
        Value::Null => {}
        v if is_scalar(v) => {
            metrics.insert(name.to_string(), v.clone());
        }
        Value::Object(obj) => {
            if let Some(score) = obj.get("score").filter(|s| is_scalar(s)) {
                metrics.insert(name.to_string(), score.clone());
            }
            match obj.get("explanation") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    metrics.insert(format!("{name}_explanation"), Value::String(s.clone()));
                }
                Some(other) => {
                    metrics.insert(
                        format!("{name}_explanation"),
                        Value::String(other.to_string()),
                    );
                }
            }
            for (key, value) in obj {
                if key != "score" && key != "explanation" && is_scalar(value) {
                    metrics.insert(format!("{name}_{key}"), value.clone());
                }
            }
        }
        // Lists of several items and other shapes: Python drops them with a warning.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_flatten_like_python() {
        let mut m = Map::new();
        flatten_result("exact", &json!(1.0), &mut m);
        flatten_result("wrapped", &json!([true]), &mut m);
        flatten_result(
            "len",
            &json!({"score": 3, "explanation": "answer length", "long_enough": true, "nested": {"x": 1}}),
            &mut m,
        );
        flatten_result("odd", &json!({"explanation": 5}), &mut m);
        flatten_result("none", &Value::Null, &mut m);
        flatten_result("list", &json!([1, 2]), &mut m);
        assert_eq!(
            Value::Object(m),
            json!({
                "exact": 1.0,
                "wrapped": true,
                "len": 3,
                "len_explanation": "answer length",
                "len_long_enough": true,
                "odd_explanation": "5",
            })
        );
    }

    #[test]
    fn eval_results_flatten_with_explanation_extras_and_passed() {
        use honeyhive_evals::{EvalInput, Evaluator, EvaluatorExt, PassCriteria, metrics::TokenF1};
        let f1 = TokenF1::new().passing(PassCriteria::AtLeast(0.9));
        let (out, inp, truth) = (json!("the cat sat"), json!({}), json!("the cat"));
        let result = f1
            .score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth)))
            .unwrap();
        let mut m = Map::new();
        flatten_result("token_f1", &eval_result_value(&result), &mut m);
        // SQuAD normalisation drops the article: "cat sat" vs "cat" → F1 2/3.
        let score = result.value.as_f64().unwrap();
        assert!((score - 2.0 / 3.0).abs() < 1e-9, "{score}");
        assert_eq!(m["token_f1"], json!(score));
        assert_eq!(m["token_f1_passed"], json!(false));
        let with_text = honeyhive_evals::EvalResult::category("good")
            .with_explanation("on topic")
            .with_extra("tokens", 12)
            .with_passed(true);
        let mut m = Map::new();
        flatten_result("judge", &eval_result_value(&with_text), &mut m);
        assert_eq!(
            Value::Object(m),
            json!({"judge": "good", "judge_explanation": "on topic", "judge_tokens": 12, "judge_passed": true})
        );
    }
}
