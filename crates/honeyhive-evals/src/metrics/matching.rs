//! Exact match, contains and regex: 1.0 on a hit, 0.0 otherwise, passing at 1.0.

use regex::Regex;
use serde_json::Value;

use super::compared::{Compared, Comparison};
use crate::{EvalError, EvalInput, EvalResult, Evaluator, Fields, Normalize, PassCriteria};

const PASS_ON_HIT: PassCriteria = PassCriteria::AtLeast(1.0);

fn hit(matched: bool) -> EvalResult {
    EvalResult::number(if matched { 1.0 } else { 0.0 })
}

/// 1.0 when the prediction equals the reference after normalisation.
///
/// Two non-string JSON values (objects, numbers, ...) are compared as JSON, so key
/// order does not matter; otherwise both sides are compared as normalised text.
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, Normalize, metrics::ExactMatch};
/// use serde_json::json;
/// let eval = ExactMatch::new().normalize(Normalize::lenient());
/// let (out, inp, truth) = (json!("Paris!"), json!({}), json!(" paris"));
/// let r = eval.score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth))).unwrap();
/// assert_eq!(r.value.as_f64(), Some(1.0));
/// assert_eq!(r.passed, Some(true));
/// ```
pub type ExactMatch = Compared<ExactMatchComparison>;

/// The comparison of [`ExactMatch`].
#[derive(Debug, Clone, Default)]
pub struct ExactMatchComparison {
    normalize: Normalize,
}

impl Compared<ExactMatchComparison> {
    /// Strict comparison of the whole outputs with the whole ground truth.
    pub fn new() -> Self {
        Compared::with(ExactMatchComparison::default())
    }

    /// Normalisation applied to both sides.
    pub fn normalize(mut self, normalize: Normalize) -> Self {
        self.comparison.normalize = normalize;
        self
    }
}

impl Comparison for ExactMatchComparison {
    fn name(&self) -> &str {
        "exact_match"
    }
    fn default_criteria(&self) -> Option<&PassCriteria> {
        Some(&PASS_ON_HIT)
    }
    fn compare(&self, prediction: &Value, reference: &Value) -> EvalResult {
        let equal = if !prediction.is_string() && !reference.is_string() {
            prediction == reference
        } else {
            let p = self.normalize.apply(&crate::text::value_text(prediction));
            let r = self.normalize.apply(&crate::text::value_text(reference));
            p == r
        };
        hit(equal)
    }
}

/// Whether the prediction contains fixed strings (any or all of them), or, with no
/// strings configured, the reference.
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, metrics::Contains};
/// use serde_json::json;
/// let eval = Contains::any(["refund", "money back"]).ignore_case(true);
/// let (out, inp) = (json!("We will issue a REFUND today."), json!({}));
/// assert_eq!(eval.score(&EvalInput::new(&out, &inp)).unwrap().value.as_f64(), Some(1.0));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Contains {
    needles: Vec<String>,
    require_all: bool,
    ignore_case: bool,
    fields: Fields,
}

impl Contains {
    /// Hit when the prediction contains at least one of `needles`.
    pub fn any<I: IntoIterator<Item = S>, S: Into<String>>(needles: I) -> Self {
        Contains {
            needles: needles.into_iter().map(Into::into).collect(),
            ..Contains::default()
        }
    }

    /// Hit when the prediction contains every one of `needles`.
    pub fn all<I: IntoIterator<Item = S>, S: Into<String>>(needles: I) -> Self {
        Contains {
            require_all: true,
            ..Contains::any(needles)
        }
    }

    /// Hit when the prediction contains the reference text (or, for an array
    /// reference, any of its strings).
    pub fn reference() -> Self {
        Contains::default()
    }

    /// Compare case-insensitively.
    pub fn ignore_case(mut self, on: bool) -> Self {
        self.ignore_case = on;
        self
    }

    /// Which parts of outputs and ground truth are compared.
    pub fn fields(mut self, fields: Fields) -> Self {
        self.fields = fields;
        self
    }
}

impl Evaluator for Contains {
    fn name(&self) -> &str {
        "contains"
    }
    fn needs_ground_truth(&self) -> bool {
        self.needles.is_empty()
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        Some(&PASS_ON_HIT)
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        let fold = |s: &str| {
            if self.ignore_case {
                s.to_lowercase()
            } else {
                s.to_string()
            }
        };
        let haystack = fold(&self.fields.prediction_text(input).unwrap_or_default());
        let needles: Vec<String> = if self.needles.is_empty() {
            let reference = self.fields.reference_value(input).ok_or_else(|| {
                EvalError::invalid_input(self.name(), "reference field not found in ground truth")
            })?;
            super::rouge::reference_texts(reference)
        } else {
            self.needles.clone()
        };
        let found: Vec<&String> = needles
            .iter()
            .filter(|n| haystack.contains(&fold(n)))
            .collect();
        let matched = if self.require_all {
            found.len() == needles.len()
        } else {
            !found.is_empty()
        };
        Ok(hit(matched).with_extra(
            "found",
            found
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect::<Vec<_>>(),
        ))
    }
}

/// Whether the prediction matches a regular expression (Rust `regex` syntax), given
/// up front or, with [`RegexMatch::from_reference`], taken from the ground truth.
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, metrics::RegexMatch};
/// use serde_json::json;
/// let eval = RegexMatch::new(r"^\d{3}-\d{4}$").unwrap();
/// let (out, inp) = (json!("555-1234"), json!({}));
/// assert_eq!(eval.score(&EvalInput::new(&out, &inp)).unwrap().passed, Some(true));
/// assert!(RegexMatch::new("(").is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct RegexMatch {
    pattern: Option<Regex>,
    fields: Fields,
}

impl RegexMatch {
    /// Matches against a fixed pattern; fails on an invalid pattern.
    pub fn new(pattern: &str) -> Result<Self, EvalError> {
        let re =
            Regex::new(pattern).map_err(|e| EvalError::invalid_param("pattern", e.to_string()))?;
        Ok(RegexMatch {
            pattern: Some(re),
            fields: Fields::default(),
        })
    }

    /// Uses each datapoint's reference text as the pattern.
    pub fn from_reference() -> Self {
        RegexMatch::default()
    }

    /// Which parts of outputs and ground truth are used.
    pub fn fields(mut self, fields: Fields) -> Self {
        self.fields = fields;
        self
    }
}

impl Evaluator for RegexMatch {
    fn name(&self) -> &str {
        "regex"
    }
    fn needs_ground_truth(&self) -> bool {
        self.pattern.is_none()
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        Some(&PASS_ON_HIT)
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        let text = self.fields.prediction_text(input).unwrap_or_default();
        let from_reference;
        let re = match &self.pattern {
            Some(re) => re,
            None => {
                let pattern = self.fields.reference_text(input).ok_or_else(|| {
                    EvalError::invalid_input(
                        self.name(),
                        "reference field not found in ground truth",
                    )
                })?;
                from_reference = Regex::new(&pattern).map_err(|e| {
                    EvalError::invalid_input(
                        self.name(),
                        format!("invalid pattern in reference: {e}"),
                    )
                })?;
                &from_reference
            }
        };
        let found = re.find(&text).map(|m| m.as_str().to_string());
        let result = hit(found.is_some());
        Ok(match found {
            Some(m) => result.with_extra("match", m),
            None => result,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn score(
        eval: &dyn Evaluator,
        out: Value,
        truth: Option<Value>,
    ) -> Result<EvalResult, EvalError> {
        let inp = json!({});
        eval.score(&EvalInput::new(&out, &inp).with_ground_truth(truth.as_ref()))
    }

    #[test]
    fn exact_match_respects_each_normalisation() {
        let strict = ExactMatch::new();
        assert_eq!(
            score(&strict, json!("Paris"), Some(json!("paris")))
                .unwrap()
                .value
                .as_f64(),
            Some(0.0)
        );
        let case = ExactMatch::new().normalize(Normalize {
            ignore_case: true,
            ..Normalize::default()
        });
        assert_eq!(
            score(&case, json!("Paris"), Some(json!("paris")))
                .unwrap()
                .value
                .as_f64(),
            Some(1.0)
        );
        assert_eq!(
            score(&case, json!("Paris "), Some(json!("paris")))
                .unwrap()
                .value
                .as_f64(),
            Some(0.0)
        );
        let space = ExactMatch::new().normalize(Normalize {
            collapse_whitespace: true,
            ..Normalize::default()
        });
        assert_eq!(
            score(&space, json!(" a  b\n"), Some(json!("a b")))
                .unwrap()
                .value
                .as_f64(),
            Some(1.0)
        );
        let punct = ExactMatch::new().normalize(Normalize {
            strip_punctuation: true,
            ..Normalize::default()
        });
        assert_eq!(
            score(&punct, json!("yes!"), Some(json!("yes")))
                .unwrap()
                .passed,
            Some(true)
        );
    }

    #[test]
    fn exact_match_compares_json_structurally_and_by_field() {
        let eval = ExactMatch::new();
        assert_eq!(
            score(
                &eval,
                json!({"a": 1, "b": 2}),
                Some(json!({"b": 2, "a": 1}))
            )
            .unwrap()
            .value
            .as_f64(),
            Some(1.0)
        );
        let by_field =
            ExactMatch::new().fields(Fields::default().prediction("answer").reference("answer"));
        assert_eq!(
            score(
                &by_field,
                json!({"answer": "x", "n": 1}),
                Some(json!({"answer": "x"}))
            )
            .unwrap()
            .value
            .as_f64(),
            Some(1.0)
        );
        assert!(matches!(
            score(&by_field, json!({}), Some(json!({}))),
            Err(EvalError::InvalidInput { .. })
        ));
        assert_eq!(
            score(&eval, json!("x"), None),
            Err(EvalError::MissingGroundTruth("exact_match".into()))
        );
    }

    #[test]
    fn contains_any_all_and_reference() {
        let any = Contains::any(["cat", "dog"]);
        assert_eq!(
            score(&any, json!("a dog"), None).unwrap().value.as_f64(),
            Some(1.0)
        );
        let all = Contains::all(["cat", "dog"]);
        let r = score(&all, json!("a dog"), None).unwrap();
        assert_eq!(r.value.as_f64(), Some(0.0));
        assert_eq!(r.extra["found"], json!(["dog"]));
        let reference = Contains::reference().ignore_case(true);
        assert!(reference.needs_ground_truth());
        assert_eq!(
            score(
                &reference,
                json!("The Answer is 42"),
                Some(json!("answer IS 42"))
            )
            .unwrap()
            .value
            .as_f64(),
            Some(1.0)
        );
    }

    #[test]
    fn regex_from_param_and_reference() {
        let eval = RegexMatch::new(r"\b\d+\b").unwrap();
        let r = score(&eval, json!("it is 42 today"), None).unwrap();
        assert_eq!(r.extra["match"], json!("42"));
        assert_eq!(
            score(&eval, json!("none"), None).unwrap().passed,
            Some(false)
        );
        let from_ref = RegexMatch::from_reference();
        assert_eq!(
            score(&from_ref, json!("abc"), Some(json!("^a.c$")))
                .unwrap()
                .value
                .as_f64(),
            Some(1.0)
        );
        assert!(matches!(
            score(&from_ref, json!("abc"), Some(json!("("))),
            Err(EvalError::InvalidInput { .. })
        ));
    }
}
