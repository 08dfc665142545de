//! [`Compared`]: what every metric comparing the outputs with the ground truth
//! shares (which parts are compared, when the score passes, finding the reference),
//! around the one thing each does differently, its [`Comparison`].

use serde_json::Value;

use crate::{EvalError, EvalInput, EvalResult, Evaluator, Fields, PassCriteria};

/// How one metric scores a prediction against a reference.
pub trait Comparison: Send + Sync {
    /// The metric name (`honeyhive_metrics.<name>`).
    fn name(&self) -> &str;

    /// The pass criteria when [`Compared::threshold`] sets none.
    fn default_criteria(&self) -> Option<&PassCriteria> {
        None
    }

    /// Scores `prediction` (`null` when the outputs lack the selected field) against
    /// `reference`.
    fn compare(&self, prediction: &Value, reference: &Value) -> EvalResult;
}

/// A metric comparing the selected part of the outputs with the selected part of the
/// ground truth, which it needs: [`ExactMatch`](super::ExactMatch),
/// [`Levenshtein`](super::Levenshtein), [`TokenF1`](super::TokenF1),
/// [`Rouge`](super::Rouge), [`Bleu`](super::Bleu).
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, Fields, metrics::TokenF1};
/// use serde_json::json;
/// let f1 = TokenF1::new()
///     .fields(Fields::default().prediction("answer").reference("answer"))
///     .threshold(0.5);
/// let (out, inp, truth) = (json!({"answer": "Paris"}), json!({}), json!({"answer": "paris"}));
/// let r = f1.score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth))).unwrap();
/// assert_eq!(r.passed, Some(true));
/// let missing = json!({"other": 1});
/// assert!(f1.score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&missing))).is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Compared<C> {
    pub(crate) comparison: C,
    fields: Fields,
    criteria: Option<PassCriteria>,
}

impl<C: Comparison> Compared<C> {
    pub(crate) fn with(comparison: C) -> Self {
        Compared {
            comparison,
            fields: Fields::default(),
            criteria: None,
        }
    }

    /// Which parts of outputs and ground truth are compared (default: the whole of each).
    pub fn fields(mut self, fields: Fields) -> Self {
        self.fields = fields;
        self
    }

    /// Passes when the score is at least `threshold`.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.criteria = Some(PassCriteria::AtLeast(threshold));
        self
    }
}

impl<C: Comparison> Evaluator for Compared<C> {
    fn name(&self) -> &str {
        self.comparison.name()
    }
    fn needs_ground_truth(&self) -> bool {
        true
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        self.criteria
            .as_ref()
            .or_else(|| self.comparison.default_criteria())
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        let prediction = self.fields.prediction_value(input).unwrap_or(&Value::Null);
        let reference = self.fields.reference_value(input).ok_or_else(|| {
            EvalError::invalid_input(self.name(), "reference field not found in ground truth")
        })?;
        Ok(self.comparison.compare(prediction, reference))
    }
}
