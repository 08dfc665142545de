//! What an evaluator returns: a typed value, pass/fail, explanation, extra fields.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// The score itself.
///
/// ```
/// use honeyhive_evals::EvalValue;
/// assert_eq!(EvalValue::from(0.5).as_f64(), Some(0.5));
/// assert_eq!(EvalValue::from(true).as_f64(), Some(1.0));
/// assert_eq!(EvalValue::Category("good".into()).as_f64(), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum EvalValue {
    /// A numeric score (most metrics are in 0..=1; BLEU is 0..=100).
    Number(f64),
    /// A yes/no verdict.
    Bool(bool),
    /// Free text (for example a judge's rewrite).
    Str(String),
    /// One of a fixed set of labels (for example a judge's `"correct"` / `"incorrect"`).
    Category(String),
    /// A score as a Python-style evaluator returned it ([`EvalResult::from_json`]),
    /// recorded with its JSON type (an integer stays an integer); `null` when it gave
    /// none.
    Json(Value),
}

impl EvalValue {
    /// The value as a number: numbers as is, booleans as 1.0 / 0.0, text as `None`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            EvalValue::Number(x) => Some(*x),
            EvalValue::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            EvalValue::Str(_) | EvalValue::Category(_) => None,
            EvalValue::Json(Value::Bool(b)) => Some(if *b { 1.0 } else { 0.0 }),
            EvalValue::Json(value) => value.as_f64(),
        }
    }

    /// The value as JSON, as it is recorded under `honeyhive_metrics.<name>`.
    /// Non-finite numbers become `null` because JSON cannot carry them.
    pub fn to_json(&self) -> Value {
        match self {
            EvalValue::Number(x) => {
                serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number)
            }
            EvalValue::Bool(b) => Value::Bool(*b),
            EvalValue::Str(s) | EvalValue::Category(s) => Value::String(s.clone()),
            EvalValue::Json(value) => value.clone(),
        }
    }
}

impl From<f64> for EvalValue {
    fn from(x: f64) -> Self {
        EvalValue::Number(x)
    }
}

impl From<bool> for EvalValue {
    fn from(b: bool) -> Self {
        EvalValue::Bool(b)
    }
}

/// When a value counts as passing.
///
/// ```
/// use honeyhive_evals::{EvalValue, PassCriteria};
/// assert_eq!(PassCriteria::AtLeast(0.5).check(&EvalValue::Number(0.7)), Some(true));
/// assert_eq!(PassCriteria::categories(["good"]).check(&EvalValue::Category("Good".into())), Some(true));
/// assert_eq!(PassCriteria::AtMost(1.0).check(&EvalValue::Str("x".into())), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum PassCriteria {
    /// Passes when the numeric value is `>=` the threshold.
    AtLeast(f64),
    /// Passes when the numeric value is `<=` the threshold.
    AtMost(f64),
    /// Passes when `min <= value <= max`.
    Between {
        /// Lower bound, inclusive.
        min: f64,
        /// Upper bound, inclusive.
        max: f64,
    },
    /// Passes when the category (or text) is one of these, compared case-insensitively.
    Categories(Vec<String>),
    /// Passes when the value is `true` (or a number equal to 1).
    IsTrue,
}

impl PassCriteria {
    /// Passing categories from any list of strings.
    pub fn categories<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        PassCriteria::Categories(names.into_iter().map(Into::into).collect())
    }

    /// Whether `value` passes; `None` when the criteria do not apply to this kind of value.
    pub fn check(&self, value: &EvalValue) -> Option<bool> {
        match self {
            PassCriteria::AtLeast(min) => value.as_f64().map(|x| x >= *min),
            PassCriteria::AtMost(max) => value.as_f64().map(|x| x <= *max),
            PassCriteria::Between { min, max } => value.as_f64().map(|x| x >= *min && x <= *max),
            PassCriteria::IsTrue => value.as_f64().map(|x| x == 1.0),
            PassCriteria::Categories(names) => match value {
                EvalValue::Category(s) | EvalValue::Str(s) | EvalValue::Json(Value::String(s)) => {
                    Some(
                        names
                            .iter()
                            .any(|n| n.trim().eq_ignore_ascii_case(s.trim())),
                    )
                }
                EvalValue::Bool(_) | EvalValue::Number(_) | EvalValue::Json(_) => None,
            },
        }
    }
}

/// The details of one LLM call an evaluator made (the judge's chat completion).
///
/// `honeyhive-evals` does not depend on the SDK, so it cannot trace the call itself:
/// the experiment runner turns this into a `model` event under the evaluator's span
/// (see [`JudgeCall::to_model_event`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgeCall {
    /// The model name sent to the endpoint.
    pub model: String,
    /// The endpoint's base URL (for example `https://api.openai.com/v1`).
    pub base_url: String,
    /// The chat messages sent, OpenAI format.
    pub messages: Vec<Value>,
    /// The request parameters other than model and messages (temperature, ...).
    pub params: Map<String, Value>,
    /// The assistant message's text of the last attempt.
    pub response_text: String,
    /// The endpoint's full JSON response of the last attempt.
    pub raw_response: Value,
    /// Prompt tokens reported by the endpoint.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens reported by the endpoint.
    pub completion_tokens: Option<u64>,
    /// Total tokens reported by the endpoint.
    pub total_tokens: Option<u64>,
    /// Start of the first attempt, milliseconds since the Unix epoch.
    pub start_time_ms: f64,
    /// Wall time of all attempts including backoff, in milliseconds.
    pub latency_ms: f64,
    /// How many HTTP requests were made (1 when the first answer was usable).
    pub attempts: u32,
}

impl JudgeCall {
    /// The call as HoneyHive `model` event fields (`event_type`, `event_name`, `config`,
    /// `inputs.chat_history`, `outputs`, `metadata` token counts, `duration`,
    /// `start_time`, `end_time`), ready for the runner to send.
    ///
    /// ```
    /// use honeyhive_evals::JudgeCall;
    /// use serde_json::json;
    /// let call = JudgeCall {
    ///     model: "gpt-4o-mini".into(), base_url: "http://127.0.0.1:9/v1".into(),
    ///     messages: vec![json!({"role": "user", "content": "rate"})], params: Default::default(),
    ///     response_text: "{\"score\": 4}".into(), raw_response: json!({}),
    ///     prompt_tokens: Some(10), completion_tokens: Some(3), total_tokens: Some(13),
    ///     start_time_ms: 1000.0, latency_ms: 250.0, attempts: 1,
    /// };
    /// let event = call.to_model_event("relevance");
    /// assert_eq!(event["event_type"], "model");
    /// assert_eq!(event["metadata"]["total_tokens"], 13);
    /// ```
    pub fn to_model_event(&self, evaluator_name: &str) -> Value {
        json!({
            "event_type": "model",
            "event_name": format!("judge:{evaluator_name}"),
            "config": {
                "model": self.model,
                "provider": "openai-compatible",
                "base_url": self.base_url,
                "params": self.params,
            },
            "inputs": {"chat_history": self.messages},
            "outputs": {"role": "assistant", "content": self.response_text},
            "metadata": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.total_tokens,
                "attempts": self.attempts,
            },
            "start_time": self.start_time_ms,
            "end_time": self.start_time_ms + self.latency_ms,
            "duration": self.latency_ms,
        })
    }
}

/// One evaluator's result.
///
/// ```
/// use honeyhive_evals::{EvalResult, EvalValue};
/// let result = EvalResult::number(0.75).with_explanation("3 of 4 facts").with_extra("matched", 3);
/// assert_eq!(result.value, EvalValue::Number(0.75));
/// assert_eq!(result.to_json()["score"], 0.75);
/// assert_eq!(result.to_json()["matched"], 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EvalResult {
    /// The score.
    pub value: EvalValue,
    /// Why the evaluator gave this score.
    pub explanation: Option<String>,
    /// Further details (precision/recall, matched items, ...).
    pub extra: Map<String, Value>,
    /// Whether the score passes the evaluator's criteria; `None` when it has none.
    pub passed: Option<bool>,
    /// The LLM call behind this result, for judges (to be traced as a `model` event).
    pub judge_call: Option<JudgeCall>,
}

impl EvalResult {
    /// A result with this value and nothing else.
    pub fn new(value: impl Into<EvalValue>) -> Self {
        EvalResult {
            value: value.into(),
            explanation: None,
            extra: Map::new(),
            passed: None,
            judge_call: None,
        }
    }

    /// A numeric result.
    pub fn number(x: f64) -> Self {
        EvalResult::new(EvalValue::Number(x))
    }

    /// A boolean result.
    pub fn boolean(b: bool) -> Self {
        EvalResult::new(EvalValue::Bool(b))
    }

    /// A category result.
    pub fn category(label: impl Into<String>) -> Self {
        EvalResult::new(EvalValue::Category(label.into()))
    }

    /// A free-text result.
    pub fn text(text: impl Into<String>) -> Self {
        EvalResult::new(EvalValue::Str(text.into()))
    }

    /// A result as a Python-style evaluator returns it (the Python SDK's
    /// `EvaluatorMetricResult`): a scalar is the score; a one-element list is
    /// unwrapped; an object gives `score`, `explanation` (its text, or the JSON of
    /// anything else), `passed` when it is a boolean, and its other keys as extra
    /// fields; anything else is no score. The score keeps its JSON type.
    ///
    /// ```
    /// use honeyhive_evals::{EvalResult, EvalValue};
    /// use serde_json::json;
    /// let r = EvalResult::from_json(json!({"score": 3, "explanation": "length", "long": true}));
    /// assert_eq!(r.value, EvalValue::Json(json!(3)));
    /// assert_eq!(r.explanation.as_deref(), Some("length"));
    /// assert_eq!(r.extra["long"], true);
    /// assert_eq!(EvalResult::from_json(json!([0.5])).value.as_f64(), Some(0.5));
    /// assert_eq!(EvalResult::from_json(json!([1, 2])).value, EvalValue::Json(json!(null)));
    /// ```
    pub fn from_json(raw: Value) -> Self {
        let raw = match raw {
            Value::Array(mut items) if items.len() == 1 => items.pop().unwrap_or_default(),
            other => other,
        };
        match raw {
            Value::Object(mut object) => {
                let mut result =
                    EvalResult::new(EvalValue::Json(object.remove("score").unwrap_or_default()));
                result.explanation = match object.remove("explanation") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(text)) => Some(text),
                    Some(other) => Some(other.to_string()),
                };
                if let Some(Value::Bool(passed)) = object.get("passed") {
                    result.passed = Some(*passed);
                    object.remove("passed");
                }
                result.extra = object;
                result
            }
            scalar @ (Value::Bool(_) | Value::Number(_) | Value::String(_)) => {
                EvalResult::new(EvalValue::Json(scalar))
            }
            _ => EvalResult::new(EvalValue::Json(Value::Null)),
        }
    }

    /// Sets the explanation.
    pub fn with_explanation(mut self, explanation: impl Into<String>) -> Self {
        self.explanation = Some(explanation.into());
        self
    }

    /// Adds an extra field.
    pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Sets pass/fail explicitly (evaluators with their own notion of passing).
    pub fn with_passed(mut self, passed: bool) -> Self {
        self.passed = Some(passed);
        self
    }

    /// The result as one JSON object: `score`, then `passed` and `explanation` when
    /// set, then the extra fields, then `judge_call` when present.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("score".into(), self.value.to_json());
        if let Some(passed) = self.passed {
            out.insert("passed".into(), passed.into());
        }
        if let Some(explanation) = &self.explanation {
            out.insert("explanation".into(), explanation.clone().into());
        }
        for (k, v) in &self.extra {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if let Some(call) = &self.judge_call {
            out.insert(
                "judge_call".into(),
                serde_json::to_value(call).unwrap_or(Value::Null),
            );
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_criteria_cover_each_kind() {
        let n = |x| EvalValue::Number(x);
        assert_eq!(PassCriteria::AtLeast(0.5).check(&n(0.5)), Some(true));
        assert_eq!(PassCriteria::AtLeast(0.5).check(&n(0.49)), Some(false));
        assert_eq!(PassCriteria::AtMost(100.0).check(&n(150.0)), Some(false));
        let between = PassCriteria::Between { min: 1.0, max: 3.0 };
        assert_eq!(between.check(&n(3.0)), Some(true));
        assert_eq!(between.check(&n(0.0)), Some(false));
        assert_eq!(
            PassCriteria::IsTrue.check(&EvalValue::Bool(false)),
            Some(false)
        );
        assert_eq!(
            PassCriteria::IsTrue.check(&EvalValue::Bool(true)),
            Some(true)
        );
        let cats = PassCriteria::categories(["correct", "partially correct"]);
        assert_eq!(
            cats.check(&EvalValue::Category(" Correct ".into())),
            Some(true)
        );
        assert_eq!(
            cats.check(&EvalValue::Category("wrong".into())),
            Some(false)
        );
        assert_eq!(cats.check(&n(1.0)), None);
    }

    #[test]
    fn non_finite_scores_serialize_as_null() {
        assert_eq!(EvalValue::Number(f64::NAN).to_json(), Value::Null);
        assert_eq!(
            EvalResult::boolean(true).with_passed(true).to_json(),
            json!({"score": true, "passed": true})
        );
    }
}
