//! Built-in metrics by name with parameters: what `hh eval metric` and experiment
//! files use.

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

struct Params<'a> {
    map: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Params<'a> {
    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.map.get(key)
    }

    fn bool(&mut self, key: &'static str) -> Result<bool, EvalError> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if matches!(s.as_str(), "true" | "1" | "yes") => Ok(true),
            Some(Value::String(s)) if matches!(s.as_str(), "false" | "0" | "no") => Ok(false),
            Some(other) => Err(EvalError::invalid_param(
                key,
                format!("expected true or false, got {other}"),
            )),
        }
    }

    fn number(&mut self, key: &'static str) -> Result<Option<f64>, EvalError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(Some)
                .ok_or_else(|| {
                    EvalError::invalid_param(key, format!("expected a number, got {v}"))
                }),
        }
    }

    fn string(&mut self, key: &'static str) -> Result<Option<String>, EvalError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(EvalError::invalid_param(
                key,
                format!("expected a string, got {other}"),
            )),
        }
    }

    /// A JSON value given either as JSON or as a string holding JSON.
    fn json(&mut self, key: &'static str) -> Result<Option<Value>, EvalError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|e| EvalError::invalid_param(key, format!("not valid json: {e}"))),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    fn normalize(&mut self) -> Result<Normalize, EvalError> {
        Ok(Normalize {
            ignore_case: self.bool("ignore_case")?,
            collapse_whitespace: self.bool("collapse_whitespace")?,
            strip_punctuation: self.bool("strip_punctuation")?,
        })
    }

    fn fields(&mut self) -> Result<Fields, EvalError> {
        Ok(Fields {
            prediction: self.string("prediction_field")?,
            reference: self.string("reference_field")?,
        })
    }

    fn finish(self, metric: &str) -> Result<(), EvalError> {
        match self.map.keys().find(|k| !self.used.contains(&k.as_str())) {
            Some(unknown) => Err(EvalError::invalid_param(
                unknown,
                format!(
                    "unknown parameter for {metric} (accepted: {})",
                    self.used.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }
}

/// A built-in metric by name (see [`BUILTIN_METRICS`]) with parameters.
///
/// Parameters (values may be JSON or strings holding them):
/// every metric takes `prediction_field` / `reference_field` (dotted paths);
/// `exact_match` and `levenshtein`: `ignore_case`, `collapse_whitespace`,
/// `strip_punctuation`; `contains`: `value` (string or array; default: the
/// reference), `all`, `ignore_case`; `regex`: `pattern` (default: the reference);
/// `json_schema`: `schema` (default: the reference); `rouge1|rouge2|rougeL`:
/// `stemmer`; `tool_call_correctness`: `expected` (array; default: the reference),
/// `ordered`; and `threshold` for the similarity metrics. Unknown parameters are
/// errors, so typos do not pass silently.
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
    let mut p = Params {
        map: params,
        used: Vec::new(),
    };
    let fields = p.fields()?;
    let evaluator: Box<dyn Evaluator> = match name {
        "exact_match" => Box::new(ExactMatch::new().fields(fields).normalize(p.normalize()?)),
        "contains" => {
            let all = p.bool("all")?;
            let ignore_case = p.bool("ignore_case")?;
            let needles: Option<Vec<String>> = match p.get("value") {
                None => None,
                Some(Value::String(s)) => Some(vec![s.clone()]),
                Some(Value::Array(items)) => {
                    Some(items.iter().map(crate::text::value_text).collect())
                }
                Some(other) => {
                    return Err(EvalError::invalid_param(
                        "value",
                        format!("expected a string or an array, got {other}"),
                    ));
                }
            };
            let base = match (needles, all) {
                (None, _) => Contains::reference(),
                (Some(n), true) => Contains::all(n),
                (Some(n), false) => Contains::any(n),
            };
            Box::new(base.ignore_case(ignore_case).fields(fields))
        }
        "regex" => match p.string("pattern")? {
            Some(pattern) => Box::new(RegexMatch::new(&pattern)?.fields(fields)),
            None => Box::new(RegexMatch::from_reference().fields(fields)),
        },
        "json_valid" => Box::new(JsonValid::new().fields(fields)),
        "json_schema" => match p.json("schema")? {
            Some(schema) => Box::new(JsonSchema::new(schema).fields(fields)),
            None => Box::new(JsonSchema::from_reference().fields(fields)),
        },
        "levenshtein" => {
            let mut eval = Levenshtein::new().fields(fields).normalize(p.normalize()?);
            if let Some(t) = p.number("threshold")? {
                eval = eval.threshold(t);
            }
            Box::new(eval)
        }
        "token_f1" => {
            let mut eval = TokenF1::new().fields(fields);
            if let Some(t) = p.number("threshold")? {
                eval = eval.threshold(t);
            }
            Box::new(eval)
        }
        "rouge1" | "rouge2" | "rougeL" => {
            let kind = match name {
                "rouge1" => RougeKind::Rouge1,
                "rouge2" => RougeKind::Rouge2,
                _ => RougeKind::RougeL,
            };
            let mut eval = Rouge::new(kind).stemmer(p.bool("stemmer")?).fields(fields);
            if let Some(t) = p.number("threshold")? {
                eval = eval.threshold(t);
            }
            Box::new(eval)
        }
        "bleu" => {
            let mut eval = Bleu::new().fields(fields);
            if let Some(t) = p.number("threshold")? {
                eval = eval.threshold(t);
            }
            Box::new(eval)
        }
        "tool_call_correctness" => {
            let ordered = p.bool("ordered")?;
            let eval = match p.json("expected")? {
                None => ToolCallCorrectness::from_reference(),
                Some(Value::Array(items)) => ToolCallCorrectness::new(
                    items
                        .iter()
                        .map(|item| {
                            let name =
                                item.get("name").and_then(Value::as_str).ok_or_else(|| {
                                    EvalError::invalid_param(
                                        "expected",
                                        "each expected call needs a name",
                                    )
                                })?;
                            Ok(match item.get("arguments") {
                                Some(args) => ExpectedToolCall::with_arguments(name, args.clone()),
                                None => ExpectedToolCall::named(name),
                            })
                        })
                        .collect::<Result<Vec<_>, EvalError>>()?,
                ),
                Some(other) => {
                    return Err(EvalError::invalid_param(
                        "expected",
                        format!("expected an array, got {other}"),
                    ));
                }
            };
            Box::new(eval.ordered(ordered))
        }
        other => return Err(EvalError::UnknownMetric(other.to_string())),
    };
    p.finish(name)?;
    Ok(evaluator)
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
            matches!(unknown, Err(EvalError::InvalidParam { param, .. }) if param == "smoothing")
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
}
