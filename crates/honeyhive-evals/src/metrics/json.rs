//! JSON validity and JSON-schema conformance of the prediction.

use serde_json::Value;

use super::schema::validate_schema;
use crate::{EvalError, EvalInput, EvalResult, Evaluator, Fields, PassCriteria};

const PASS_ON_HIT: PassCriteria = PassCriteria::AtLeast(1.0);

/// The prediction as JSON: a string is parsed, any other value already is JSON.
fn parse_prediction(value: &Value) -> Result<Value, String> {
    match value {
        Value::String(s) => serde_json::from_str(s).map_err(|e| e.to_string()),
        other => Ok(other.clone()),
    }
}

/// 1.0 when the prediction is valid JSON (a string that parses, or any non-string
/// output, which is JSON already), else 0.0 with the parse error as explanation.
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, metrics::JsonValid};
/// use serde_json::json;
/// let (good, bad, inp) = (json!("{\"a\": 1}"), json!("{a: 1}"), json!({}));
/// assert_eq!(JsonValid::new().score(&EvalInput::new(&good, &inp)).unwrap().passed, Some(true));
/// assert_eq!(JsonValid::new().score(&EvalInput::new(&bad, &inp)).unwrap().passed, Some(false));
/// ```
#[derive(Debug, Clone, Default)]
pub struct JsonValid {
    fields: Fields,
}

impl JsonValid {
    /// Checks the whole outputs.
    pub fn new() -> Self {
        JsonValid::default()
    }

    /// Which part of the outputs is checked.
    pub fn fields(mut self, fields: Fields) -> Self {
        self.fields = fields;
        self
    }
}

impl Evaluator for JsonValid {
    fn name(&self) -> &str {
        "json_valid"
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        Some(&PASS_ON_HIT)
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        let value = self.fields.prediction_value(input).unwrap_or(&Value::Null);
        Ok(match parse_prediction(value) {
            Ok(_) => EvalResult::number(1.0),
            Err(e) => EvalResult::number(0.0).with_explanation(format!("invalid json: {e}")),
        })
    }
}

/// 1.0 when the prediction is JSON conforming to a schema (see
/// [`validate_schema`](super::validate_schema) for the supported keywords), given
/// up front or taken from the ground truth. Violations go to the explanation and
/// to the `errors` extra field.
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, metrics::JsonSchema};
/// use serde_json::json;
/// let eval = JsonSchema::new(json!({"type": "object", "required": ["city"]}));
/// let (out, inp) = (json!("{\"country\": \"FR\"}"), json!({}));
/// let r = eval.score(&EvalInput::new(&out, &inp)).unwrap();
/// assert_eq!(r.passed, Some(false));
/// assert_eq!(r.extra["errors"], json!(["/: missing required property city"]));
/// ```
#[derive(Debug, Clone, Default)]
pub struct JsonSchema {
    schema: Option<Value>,
    fields: Fields,
}

impl JsonSchema {
    /// Validates against this schema.
    pub fn new(schema: Value) -> Self {
        JsonSchema {
            schema: Some(schema),
            fields: Fields::default(),
        }
    }

    /// Uses each datapoint's ground truth (a schema object, or a JSON string of one).
    pub fn from_reference() -> Self {
        JsonSchema::default()
    }

    /// Which parts of outputs and ground truth are used.
    pub fn fields(mut self, fields: Fields) -> Self {
        self.fields = fields;
        self
    }
}

impl Evaluator for JsonSchema {
    fn name(&self) -> &str {
        "json_schema"
    }
    fn needs_ground_truth(&self) -> bool {
        self.schema.is_none()
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        Some(&PASS_ON_HIT)
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        let schema = match &self.schema {
            Some(schema) => schema.clone(),
            None => {
                let reference = self.fields.reference_value(input).ok_or_else(|| {
                    EvalError::invalid_input(self.name(), "schema not found in ground truth")
                })?;
                parse_prediction(reference).map_err(|e| {
                    EvalError::invalid_input(self.name(), format!("schema is not valid json: {e}"))
                })?
            }
        };
        let value = self.fields.prediction_value(input).unwrap_or(&Value::Null);
        let instance = match parse_prediction(value) {
            Ok(v) => v,
            Err(e) => {
                return Ok(EvalResult::number(0.0).with_explanation(format!("invalid json: {e}")));
            }
        };
        let errors = validate_schema(&schema, &instance);
        if errors.is_empty() {
            return Ok(EvalResult::number(1.0));
        }
        Ok(EvalResult::number(0.0)
            .with_explanation(errors.join("; "))
            .with_extra("errors", errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_valid_accepts_structured_outputs_and_rejects_bad_strings() {
        let inp = json!({});
        let structured = json!({"a": [1, 2]});
        assert_eq!(
            JsonValid::new()
                .score(&EvalInput::new(&structured, &inp))
                .unwrap()
                .value
                .as_f64(),
            Some(1.0)
        );
        let empty = json!("");
        let r = JsonValid::new()
            .score(&EvalInput::new(&empty, &inp))
            .unwrap();
        assert_eq!(r.value.as_f64(), Some(0.0));
        assert!(r.explanation.unwrap().starts_with("invalid json"));
    }

    #[test]
    fn json_schema_from_reference_string() {
        let (out, inp, truth) = (
            json!("[1, 2, 3]"),
            json!({}),
            json!("{\"type\": \"array\", \"maxItems\": 2}"),
        );
        let r = JsonSchema::from_reference()
            .score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth)))
            .unwrap();
        assert_eq!(r.value.as_f64(), Some(0.0));
        let bad_schema = json!("{nope");
        let err = JsonSchema::from_reference()
            .score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&bad_schema)))
            .unwrap_err();
        assert!(matches!(err, EvalError::InvalidInput { .. }));
    }
}
