//! The evaluator interface of the experiment runner and how results become metrics.
//!
//! Results are normalised exactly like the Python SDK's `EvaluatorMetricResult`:
//! a scalar (number, bool, string) is the score; a one-element list is unwrapped; an
//! object gives `score`, `explanation` (→ `<name>_explanation`) and scalar extras
//! (→ `<name>_<key>`); anything else is dropped.

use serde_json::{Map, Value};

/// Scores one datapoint's outputs. Object safe: runners hold `Box<dyn ExperimentEvaluator>`.
///
/// Closures `Fn(&Value, &Value, Option<&Value>) -> Result<Value, String>` (outputs,
/// inputs, ground truth, like Python's `evaluator(outputs, inputs, ground_truth)`)
/// are turned into evaluators with [`evaluator_fn`] or the builder's `.evaluator(name, f)`.
///
/// ```
/// use honeyhive::experiments::ExperimentEvaluator;
/// use serde_json::{json, Value};
///
/// struct NonEmpty;
/// impl ExperimentEvaluator for NonEmpty {
///     fn name(&self) -> &str { "non_empty" }
///     fn evaluate(&self, outputs: &Value, _: &Value, _: Option<&Value>) -> Result<Value, String> {
///         Ok(json!(!outputs.is_null()))
///     }
/// }
/// ```
pub trait ExperimentEvaluator: Send + Sync {
    /// The metric name (`honeyhive_metrics.<name>`).
    fn name(&self) -> &str;

    /// A number, bool, string, or `{score, explanation, ...}`; `Err` records an
    /// evaluator failure for this datapoint only.
    fn evaluate(
        &self,
        outputs: &Value,
        inputs: &Value,
        ground_truth: Option<&Value>,
    ) -> Result<Value, String>;
}

struct FnEvaluator<F> {
    name: String,
    f: F,
}

impl<F> ExperimentEvaluator for FnEvaluator<F>
where
    F: Fn(&Value, &Value, Option<&Value>) -> Result<Value, String> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(
        &self,
        outputs: &Value,
        inputs: &Value,
        ground_truth: Option<&Value>,
    ) -> Result<Value, String> {
        (self.f)(outputs, inputs, ground_truth)
    }
}

/// An evaluator from a name and a closure `(outputs, inputs, ground_truth)`.
///
/// ```
/// use honeyhive::experiments::evaluator_fn;
/// use serde_json::json;
///
/// let exact = evaluator_fn("exact_match", |out, _inputs, gt| {
///     Ok(json!(if Some(out) == gt { 1.0 } else { 0.0 }))
/// });
/// assert_eq!(exact.name(), "exact_match");
/// ```
pub fn evaluator_fn<F>(name: impl Into<String>, f: F) -> Box<dyn ExperimentEvaluator>
where
    F: Fn(&Value, &Value, Option<&Value>) -> Result<Value, String> + Send + Sync + 'static,
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
}
