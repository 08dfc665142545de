//! Evaluators for honeyhive experiments.
//!
//! An [`Evaluator`] scores one datapoint's outputs against its inputs and ground truth.
//! The experiments runner records the score on the datapoint's session as
//! `honeyhive_metrics.<name>`, exactly as the Python SDK does.
//!
//! ```
//! use honeyhive_evals::{Evaluator, ExactMatch};
//! use serde_json::json;
//! let score = ExactMatch::new("answer").evaluate(&json!({"answer": "ABC"}), &json!({}), Some(&json!({"answer": "ABC"})));
//! assert_eq!(score.unwrap().value, json!(1.0));
//! ```

use serde_json::Value;

/// Errors an evaluator can report instead of a score.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EvalError {
    /// The evaluator needs ground truth and the datapoint has none.
    #[error("ground truth missing for evaluator {0}")]
    MissingGroundTruth(String),
}

/// One evaluator's result: a value (number, bool or JSON) and an optional explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The score itself, usually a number.
    pub value: Value,
    /// Why the evaluator gave this score.
    pub explanation: Option<String>,
}

/// Scores one datapoint.
pub trait Evaluator: Send + Sync {
    /// The metric name the score is recorded under.
    fn name(&self) -> &str;
    /// Computes the score of `outputs` for `inputs`, against `ground_truth` when present.
    fn evaluate(&self, outputs: &Value, inputs: &Value, ground_truth: Option<&Value>) -> Result<Score, EvalError>;
}

/// 1.0 when `outputs[field] == ground_truth[field]`, else 0.0.
#[derive(Debug, Clone)]
pub struct ExactMatch {
    field: String,
    name: String,
}

impl ExactMatch {
    /// Compares the given top-level field of outputs and ground truth.
    pub fn new(field: impl Into<String>) -> Self {
        ExactMatch {
            field: field.into(),
            name: "exact_match".to_string(),
        }
    }
}

impl Evaluator for ExactMatch {
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(&self, outputs: &Value, _inputs: &Value, ground_truth: Option<&Value>) -> Result<Score, EvalError> {
        let truth = ground_truth.ok_or_else(|| EvalError::MissingGroundTruth(self.name.clone()))?;
        let same = outputs.get(&self.field) == truth.get(&self.field);
        Ok(Score {
            value: Value::from(if same { 1.0 } else { 0.0 }),
            explanation: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_match_scores_equal_and_different_fields() {
        let eval = ExactMatch::new("answer");
        let hit = eval.evaluate(&json!({"answer": "X"}), &json!({}), Some(&json!({"answer": "X"}))).unwrap();
        let miss = eval.evaluate(&json!({"answer": "X"}), &json!({}), Some(&json!({"answer": "Y"}))).unwrap();
        assert_eq!(hit.value, json!(1.0));
        assert_eq!(miss.value, json!(0.0));
    }

    #[test]
    fn exact_match_without_ground_truth_is_an_error() {
        let err = ExactMatch::new("answer").evaluate(&json!({}), &json!({}), None).unwrap_err();
        assert_eq!(err, EvalError::MissingGroundTruth("exact_match".into()));
    }
}
