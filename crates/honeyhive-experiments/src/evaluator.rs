//! Evaluators in experiments and how their results become metrics.
//!
//! An experiment takes one kind of evaluator, [`honeyhive_evals::Evaluator`]: a
//! built-in metric, a judge, a composite, a type of your own, or a Python-style
//! closure through [`evaluator_fn`]. Results become metrics exactly like the Python
//! SDK's `EvaluatorMetricResult`: the score is `<name>`, the explanation
//! `<name>_explanation`, each scalar extra `<name>_<key>`, and the pass/fail verdict
//! `<name>_passed`.

use honeyhive_evals::{EvalError, EvalInput, EvalResult, Evaluator};
use serde_json::{Map, Value};

use crate::error::EvaluatorError;

/// An [`honeyhive_evals::EvalResult`] as the `{score, explanation, passed, ...}`
/// object [`flatten_result`] turns into metrics.
pub(crate) fn eval_result_value(result: &honeyhive_evals::EvalResult) -> Value {
    let mut object = Map::new();
    object.insert("score".into(), result.value.to_json());
    if let Some(explanation) = &result.explanation {
        object.insert("explanation".into(), Value::String(explanation.clone()));
    }
    for (key, value) in &result.extra {
        let verdict = key == "passed" && result.passed.is_some();
        if key != "score" && key != "explanation" && !verdict {
            object.insert(key.clone(), value.clone());
        }
    }
    if let Some(passed) = result.passed {
        object.insert("passed".into(), Value::Bool(passed));
    }
    Value::Object(object)
}

/// A Python-style evaluator: a closure `(outputs, inputs, ground_truth)`, like
/// Python's `evaluator(outputs, inputs, ground_truth)`, returning a number, bool,
/// string or `{score, explanation, ...}` ([`EvalResult::from_json`]). An `Err` is
/// recorded as that datapoint's evaluator error.
///
/// ```
/// use honeyhive_experiments::{evaluator_fn, Evaluator};
/// use serde_json::json;
///
/// let exact = evaluator_fn("exact_match", |out, _inputs, gt| {
///     Ok(json!(if Some(out) == gt { 1.0 } else { 0.0 }))
/// });
/// assert_eq!(exact.name(), "exact_match");
/// ```
pub fn evaluator_fn<F>(name: impl Into<String>, f: F) -> JsonFnEvaluator<F>
where
    F: Fn(&Value, &Value, Option<&Value>) -> Result<Value, EvaluatorError> + Send + Sync + 'static,
{
    JsonFnEvaluator {
        name: name.into(),
        f,
    }
}

/// What [`evaluator_fn`] makes.
pub struct JsonFnEvaluator<F> {
    name: String,
    f: F,
}

impl<F> std::fmt::Debug for JsonFnEvaluator<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonFnEvaluator")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<F> Evaluator for JsonFnEvaluator<F>
where
    F: Fn(&Value, &Value, Option<&Value>) -> Result<Value, EvaluatorError> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        (self.f)(input.outputs, input.inputs, input.ground_truth)
            .map(EvalResult::from_json)
            .map_err(|e| EvalError::Failed {
                evaluator: self.name.clone(),
                message: e.to_string(),
            })
    }
}

/// An evaluator's error as recorded for a datapoint: a closure's own message, or
/// the evaluator error's text.
pub(crate) fn error_text(error: EvalError) -> String {
    match error {
        EvalError::Failed { message, .. } => message,
        other => other.to_string(),
    }
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

    /// A Python-style result recorded the way the runner records every result.
    fn record(name: &str, raw: Value, metrics: &mut Map<String, Value>) {
        flatten_result(
            name,
            &eval_result_value(&EvalResult::from_json(raw)),
            metrics,
        );
    }

    #[test]
    fn results_flatten_like_python() {
        let mut m = Map::new();
        record("exact", json!(1.0), &mut m);
        record("wrapped", json!([true]), &mut m);
        record(
            "len",
            json!({"score": 3, "explanation": "answer length", "long_enough": true, "nested": {"x": 1}}),
            &mut m,
        );
        record("odd", json!({"explanation": 5}), &mut m);
        record("none", Value::Null, &mut m);
        record("list", json!([1, 2]), &mut m);
        record("verdict", json!({"score": 0, "passed": "yes"}), &mut m);
        assert_eq!(
            Value::Object(m),
            json!({
                "exact": 1.0,
                "wrapped": true,
                "len": 3,
                "len_explanation": "answer length",
                "len_long_enough": true,
                "odd_explanation": "5",
                "verdict": 0,
                "verdict_passed": "yes",
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
