//! Built-in metrics by name with parameters: what `hh eval metric`, `hh eval events`
//! and experiment files use. A [`MetricSpec`] is the metric and its parameters as
//! data (`{"metric": "token_f1", "threshold": 0.5}`); a parameter the metric does not
//! take is an error, at any depth, so a typo never passes silently.

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Map, Value};

use crate::metrics::{
    Bleu, Contains, ExactMatch, ExpectedToolCall, JsonSchema, JsonValid, Levenshtein, RegexMatch,
    Rouge, RougeKind, TokenF1, ToolCallCorrectness,
};
use crate::{EvalError, Evaluator, Fields, Normalize};

/// Names [`builtin`] accepts.
pub const BUILTIN_METRICS: &[&str] = &[
    "exact_match",
    "contains",
    "regex",
    "json_valid",
    "json_schema",
    "levenshtein",
    "token_f1",
    "rouge1",
    "rouge2",
    "rougeL",
    "bleu",
    "tool_call_correctness",
];

/// A built-in metric and its parameters, tagged by `metric`. Every metric but
/// `tool_call_correctness` takes `prediction_field` / `reference_field` (dotted paths
/// into the outputs and the ground truth). A value may be given as JSON or as a string holding it
/// (`"true"`, `"0.5"`, a schema as text), as a command line gives them.
///
/// ```
/// use honeyhive_evals::MetricSpec;
/// let spec: MetricSpec = serde_json::from_value(serde_json::json!({
///     "metric": "token_f1", "threshold": "0.5", "prediction_field": "answer"
/// })).unwrap();
/// assert_eq!(spec.build().unwrap().name(), "token_f1");
/// let typo = serde_json::from_value::<MetricSpec>(serde_json::json!({"metric": "bleu", "treshold": 1}));
/// assert!(typo.unwrap_err().to_string().contains("treshold"));
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "metric", deny_unknown_fields)]
pub enum MetricSpec {
    /// [`ExactMatch`].
    #[serde(rename = "exact_match")]
    ExactMatch {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
        /// Compare case-insensitively.
        #[serde(default, deserialize_with = "flag")]
        ignore_case: bool,
        /// Trim and collapse whitespace.
        #[serde(default, deserialize_with = "flag")]
        collapse_whitespace: bool,
        /// Remove punctuation.
        #[serde(default, deserialize_with = "flag")]
        strip_punctuation: bool,
    },
    /// [`Contains`]: `value` (a string or a list; default: the reference), `all`.
    #[serde(rename = "contains")]
    Contains {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
        /// What must be contained: one string or a list (default: the reference).
        #[serde(default, deserialize_with = "needles")]
        value: Option<Vec<String>>,
        /// Every value must be contained (default: any).
        #[serde(default, deserialize_with = "flag")]
        all: bool,
        /// Compare case-insensitively.
        #[serde(default, deserialize_with = "flag")]
        ignore_case: bool,
    },
    /// [`RegexMatch`].
    #[serde(rename = "regex")]
    Regex {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
        /// The pattern (default: the reference).
        #[serde(default)]
        pattern: Option<String>,
    },
    /// [`JsonValid`].
    #[serde(rename = "json_valid")]
    JsonValid {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
    },
    /// [`JsonSchema`].
    #[serde(rename = "json_schema")]
    JsonSchema {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
        /// The schema (default: the reference).
        #[serde(default, deserialize_with = "json")]
        schema: Option<Value>,
    },
    /// [`Levenshtein`].
    #[serde(rename = "levenshtein")]
    Levenshtein {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
        /// Compare case-insensitively.
        #[serde(default, deserialize_with = "flag")]
        ignore_case: bool,
        /// Trim and collapse whitespace.
        #[serde(default, deserialize_with = "flag")]
        collapse_whitespace: bool,
        /// Remove punctuation.
        #[serde(default, deserialize_with = "flag")]
        strip_punctuation: bool,
        /// Passes at or above this similarity.
        #[serde(default, deserialize_with = "number")]
        threshold: Option<f64>,
    },
    /// [`TokenF1`].
    #[serde(rename = "token_f1")]
    TokenF1 {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
        /// Passes at or above this F1.
        #[serde(default, deserialize_with = "number")]
        threshold: Option<f64>,
    },
    /// [`Rouge`] with unigrams.
    #[serde(rename = "rouge1")]
    Rouge1 {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
        /// Porter-stem tokens first.
        #[serde(default, deserialize_with = "flag")]
        stemmer: bool,
        /// Passes at or above this F-measure.
        #[serde(default, deserialize_with = "number")]
        threshold: Option<f64>,
    },
    /// [`Rouge`] with bigrams.
    #[serde(rename = "rouge2")]
    Rouge2 {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
        /// Porter-stem tokens first.
        #[serde(default, deserialize_with = "flag")]
        stemmer: bool,
        /// Passes at or above this F-measure.
        #[serde(default, deserialize_with = "number")]
        threshold: Option<f64>,
    },
    /// [`Rouge`] on the longest common subsequence.
    #[serde(rename = "rougeL")]
    RougeL {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
        /// Porter-stem tokens first.
        #[serde(default, deserialize_with = "flag")]
        stemmer: bool,
        /// Passes at or above this F-measure.
        #[serde(default, deserialize_with = "number")]
        threshold: Option<f64>,
    },
    /// [`Bleu`].
    #[serde(rename = "bleu")]
    Bleu {
        /// Path into the outputs.
        #[serde(default)]
        prediction_field: Option<String>,
        /// Path into the ground truth.
        #[serde(default)]
        reference_field: Option<String>,
        /// Passes at or above this score (0..=100).
        #[serde(default, deserialize_with = "number")]
        threshold: Option<f64>,
    },
    /// [`ToolCallCorrectness`] (which reads the outputs' tool calls itself, so takes
    /// no fields).
    #[serde(rename = "tool_call_correctness")]
    ToolCallCorrectness {
        /// The expected calls (default: the reference).
        #[serde(default, deserialize_with = "expected_calls")]
        expected: Option<Vec<ExpectedCallSpec>>,
        /// The calls must come in this order.
        #[serde(default, deserialize_with = "flag")]
        ordered: bool,
    },
}

/// One expected tool call of [`MetricSpec::ToolCallCorrectness`]: `name` and,
/// optionally, `arguments`; nothing else.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedCallSpec {
    /// The tool name.
    pub name: String,
    /// The expected arguments (a JSON object).
    #[serde(default)]
    pub arguments: Option<Value>,
}

impl MetricSpec {
    /// The evaluator this spec describes; `Err` for a pattern that does not compile.
    pub fn build(self) -> Result<Box<dyn Evaluator>, EvalError> {
        let fields = |prediction: Option<String>, reference: Option<String>| Fields {
            prediction,
            reference,
        };
        let normalize = |ignore_case, collapse_whitespace, strip_punctuation| Normalize {
            ignore_case,
            collapse_whitespace,
            strip_punctuation,
        };
        Ok(match self {
            MetricSpec::ExactMatch {
                prediction_field,
                reference_field,
                ignore_case,
                collapse_whitespace,
                strip_punctuation,
            } => Box::new(
                ExactMatch::new()
                    .fields(fields(prediction_field, reference_field))
                    .normalize(normalize(
                        ignore_case,
                        collapse_whitespace,
                        strip_punctuation,
                    )),
            ),
            MetricSpec::Contains {
                prediction_field,
                reference_field,
                value,
                all,
                ignore_case,
            } => {
                let base = match (value, all) {
                    (None, _) => Contains::reference(),
                    (Some(needles), true) => Contains::all(needles),
                    (Some(needles), false) => Contains::any(needles),
                };
                Box::new(
                    base.ignore_case(ignore_case)
                        .fields(fields(prediction_field, reference_field)),
                )
            }
            MetricSpec::Regex {
                prediction_field,
                reference_field,
                pattern,
            } => {
                let regex = match pattern {
                    Some(pattern) => RegexMatch::new(&pattern)?,
                    None => RegexMatch::from_reference(),
                };
                Box::new(regex.fields(fields(prediction_field, reference_field)))
            }
            MetricSpec::JsonValid {
                prediction_field,
                reference_field,
            } => Box::new(JsonValid::new().fields(fields(prediction_field, reference_field))),
            MetricSpec::JsonSchema {
                prediction_field,
                reference_field,
                schema,
            } => {
                let schema = match schema {
                    Some(schema) => JsonSchema::new(schema),
                    None => JsonSchema::from_reference(),
                };
                Box::new(schema.fields(fields(prediction_field, reference_field)))
            }
            MetricSpec::Levenshtein {
                prediction_field,
                reference_field,
                ignore_case,
                collapse_whitespace,
                strip_punctuation,
                threshold,
            } => {
                let mut eval = Levenshtein::new()
                    .fields(fields(prediction_field, reference_field))
                    .normalize(normalize(
                        ignore_case,
                        collapse_whitespace,
                        strip_punctuation,
                    ));
                if let Some(t) = threshold {
                    eval = eval.threshold(t);
                }
                Box::new(eval)
            }
            MetricSpec::TokenF1 {
                prediction_field,
                reference_field,
                threshold,
            } => {
                let mut eval = TokenF1::new().fields(fields(prediction_field, reference_field));
                if let Some(t) = threshold {
                    eval = eval.threshold(t);
                }
                Box::new(eval)
            }
            MetricSpec::Rouge1 {
                prediction_field,
                reference_field,
                stemmer,
                threshold,
            } => rouge(
                RougeKind::Rouge1,
                fields(prediction_field, reference_field),
                stemmer,
                threshold,
            ),
            MetricSpec::Rouge2 {
                prediction_field,
                reference_field,
                stemmer,
                threshold,
            } => rouge(
                RougeKind::Rouge2,
                fields(prediction_field, reference_field),
                stemmer,
                threshold,
            ),
            MetricSpec::RougeL {
                prediction_field,
                reference_field,
                stemmer,
                threshold,
            } => rouge(
                RougeKind::RougeL,
                fields(prediction_field, reference_field),
                stemmer,
                threshold,
            ),
            MetricSpec::Bleu {
                prediction_field,
                reference_field,
                threshold,
            } => {
                let mut eval = Bleu::new().fields(fields(prediction_field, reference_field));
                if let Some(t) = threshold {
                    eval = eval.threshold(t);
                }
                Box::new(eval)
            }
            MetricSpec::ToolCallCorrectness { expected, ordered } => {
                let eval = match expected {
                    None => ToolCallCorrectness::from_reference(),
                    Some(calls) => ToolCallCorrectness::new(
                        calls
                            .into_iter()
                            .map(|call| match call.arguments {
                                Some(arguments) => {
                                    ExpectedToolCall::with_arguments(call.name, arguments)
                                }
                                None => ExpectedToolCall::named(call.name),
                            })
                            .collect(),
                    ),
                };
                Box::new(eval.ordered(ordered))
            }
        })
    }
}

fn rouge(
    kind: RougeKind,
    fields: Fields,
    stemmer: bool,
    threshold: Option<f64>,
) -> Box<dyn Evaluator> {
    let mut eval = Rouge::new(kind).stemmer(stemmer).fields(fields);
    if let Some(t) = threshold {
        eval = eval.threshold(t);
    }
    Box::new(eval)
}

/// A boolean, or a string saying one (`true`/`1`/`yes`, `false`/`0`/`no`).
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::String(s) if matches!(s.as_str(), "true" | "1" | "yes") => Ok(true),
        Value::String(s) if matches!(s.as_str(), "false" | "0" | "no") => Ok(false),
        other => Err(de::Error::custom(format!(
            "expected true or false, got {other}"
        ))),
    }
}

/// A number, or a string holding one.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let value = Value::deserialize(d)?;
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .map(Some)
        .ok_or_else(|| de::Error::custom(format!("expected a number, got {value}")))
}

/// A JSON value, or a string holding one.
fn json<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => serde_json::from_str(&s)
            .map(Some)
            .map_err(|e| de::Error::custom(format!("not valid json: {e}"))),
        other => Ok(Some(other)),
    }
}

/// One string or a list of values (each compared as text).
fn needles<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(Some(vec![s])),
        Value::Array(items) => Ok(Some(items.iter().map(crate::text::value_text).collect())),
        other => Err(de::Error::custom(format!(
            "expected a string or an array, got {other}"
        ))),
    }
}

/// The expected calls, as JSON or as a string holding JSON.
fn expected_calls<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<ExpectedCallSpec>>, D::Error> {
    let calls = match Value::deserialize(d)? {
        Value::String(s) => serde_json::from_str(&s)
            .map_err(|e| de::Error::custom(format!("not valid json: {e}")))?,
        other => other,
    };
    serde_json::from_value(calls)
        .map(Some)
        .map_err(de::Error::custom)
}

/// A built-in metric by name (see [`BUILTIN_METRICS`]) with parameters, read as
/// the [`MetricSpec`] `{"metric": name, ..params}`: parameters a metric does not
/// take are errors, so typos do not pass silently.
///
/// ```
/// use honeyhive_evals::{builtin, EvalInput, Evaluator};
/// use serde_json::{json, Map};
/// let params: Map<String, serde_json::Value> = [("stemmer".to_string(), json!("true"))].into_iter().collect();
/// let rouge = builtin("rougeL", &params).unwrap();
/// let (out, inp, truth) = (json!("cats running"), json!({}), json!("the cat runs"));
/// let r = rouge.score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth))).unwrap();
/// assert!((r.value.as_f64().unwrap() - 0.8).abs() < 1e-12);
/// assert!(builtin("rougeX", &Map::new()).is_err());
/// ```
pub fn builtin(name: &str, params: &Map<String, Value>) -> Result<Box<dyn Evaluator>, EvalError> {
    if !BUILTIN_METRICS.contains(&name) {
        return Err(EvalError::UnknownMetric(name.to_string()));
    }
    if params.contains_key("metric") {
        return Err(EvalError::invalid_param(
            "metric",
            "the metric is named separately",
        ));
    }
    let mut spec = params.clone();
    spec.insert("metric".into(), Value::String(name.to_string()));
    let spec: MetricSpec =
        serde_json::from_value(Value::Object(spec)).map_err(|e| EvalError::InvalidSpec {
            metric: name.to_string(),
            message: e.to_string(),
        })?;
    spec.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EvalInput;
    use serde_json::json;

    fn params(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn every_listed_name_builds_with_no_params() {
        for name in BUILTIN_METRICS {
            let eval = builtin(name, &Map::new()).unwrap();
            assert_eq!(&eval.name(), name);
        }
    }

    #[test]
    fn params_are_typed_and_checked() {
        let eval = builtin("exact_match", &params(&[("ignore_case", json!("true"))])).unwrap();
        let (out, inp, truth) = (json!("ABC"), json!({}), json!("abc"));
        let input = EvalInput::new(&out, &inp).with_ground_truth(Some(&truth));
        assert_eq!(eval.score(&input).unwrap().value.as_f64(), Some(1.0));
        let unknown = builtin("bleu", &params(&[("smoothing", json!("none"))]));
        assert!(
            matches!(unknown, Err(EvalError::InvalidSpec { metric, message }) if metric == "bleu" && message.contains("smoothing"))
        );
        assert!(builtin("regex", &params(&[("pattern", json!("("))])).is_err());
        assert!(builtin("rouge1", &params(&[("stemmer", json!("maybe"))])).is_err());
        assert!(builtin("json_schema", &params(&[("schema", json!("{bad"))])).is_err());
        let schema = builtin(
            "json_schema",
            &params(&[("schema", json!("{\"type\": \"number\"}"))]),
        )
        .unwrap();
        let number = json!("3");
        assert_eq!(
            schema.score(&EvalInput::new(&number, &inp)).unwrap().passed,
            Some(true)
        );
        let contains = builtin(
            "contains",
            &params(&[("value", json!(["x", "y"])), ("all", json!(true))]),
        )
        .unwrap();
        let xy = json!("y then x");
        assert_eq!(
            contains
                .score(&EvalInput::new(&xy, &inp))
                .unwrap()
                .value
                .as_f64(),
            Some(1.0)
        );
    }

    #[test]
    fn a_parameter_no_metric_takes_is_an_error_at_any_depth() {
        // A typo inside an expected tool call used to be ignored: the call then
        // matched any arguments.
        let typo = builtin(
            "tool_call_correctness",
            &params(&[(
                "expected",
                json!([{"name": "search", "argumnets": {"q": "rust"}}]),
            )]),
        );
        assert!(typo.is_err(), "the typo was accepted");
        let err = typo.err().unwrap().to_string();
        assert!(err.contains("argumnets"), "{err}");
        // Fields used to be accepted here and ignored: the metric reads tool calls itself.
        let ignored = builtin(
            "tool_call_correctness",
            &params(&[("prediction_field", json!("calls"))]),
        );
        assert!(ignored.is_err(), "prediction_field was accepted");
    }
}
