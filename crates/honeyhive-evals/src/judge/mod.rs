//! LLM-as-judge: a rubric rendered into a prompt, sent to any OpenAI-compatible
//! `/chat/completions` endpoint, and a verdict parsed from the answer.
//!
//! The judge call is returned as a [`JudgeCall`] on the result (model, messages,
//! raw response, token usage, latency, attempts) so the experiment runner can
//! record it as a `model` event; this crate does not depend on the SDK.

mod verdict;

pub use verdict::{Scale, Verdict, parse_verdict};

use serde_json::{Map, Value, json};

use crate::evaluator::offload;
use crate::http::EndpointConfig;
use crate::text::value_text;
use crate::{EvalError, EvalFuture, EvalInput, EvalResult, Evaluator, JudgeCall, PassCriteria};

/// What the judge grades and how.
///
/// ```
/// use honeyhive_evals::judge::Rubric;
/// let rubric = Rubric::numeric("Is the answer faithful to the reference?", 1.0, 5.0)
///     .with_ground_truth()
///     .passing_at(4.0);
/// assert!(rubric.uses_ground_truth());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Rubric {
    criteria: String,
    scale: Scale,
    use_ground_truth: bool,
    pass: Option<PassCriteria>,
    template: Option<String>,
}

impl Rubric {
    /// A numeric scale from `min` to `max`.
    pub fn numeric(criteria: impl Into<String>, min: f64, max: f64) -> Self {
        Rubric {
            criteria: criteria.into(),
            scale: Scale::Numeric { min, max },
            use_ground_truth: false,
            pass: None,
            template: None,
        }
    }

    /// A choice among labels.
    pub fn categories<I, S>(criteria: impl Into<String>, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Rubric {
            criteria: criteria.into(),
            scale: Scale::Categories(labels.into_iter().map(Into::into).collect()),
            use_ground_truth: false,
            pass: None,
            template: None,
        }
    }

    /// Shows the judge the datapoint's ground truth as the reference answer (the
    /// evaluator then needs ground truth).
    pub fn with_ground_truth(mut self) -> Self {
        self.use_ground_truth = true;
        self
    }

    /// Whether the ground truth is part of the prompt.
    pub fn uses_ground_truth(&self) -> bool {
        self.use_ground_truth
    }

    /// Passes at or above this score (numeric scales).
    pub fn passing_at(mut self, threshold: f64) -> Self {
        self.pass = Some(PassCriteria::AtLeast(threshold));
        self
    }

    /// Passes on these labels (category scales).
    pub fn passing_categories<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pass = Some(PassCriteria::categories(labels));
        self
    }

    /// Replaces the user prompt. Placeholders: `{criteria}`, `{inputs}`,
    /// `{outputs}`, `{ground_truth}`, `{answer_format}` (the reply instructions).
    pub fn template(mut self, template: impl Into<String>) -> Self {
        self.template = Some(template.into());
        self
    }

    fn answer_format(&self) -> String {
        match &self.scale {
            Scale::Numeric { min, max } => format!(
                "Reply with only a JSON object: {{\"score\": <a number from {min} to {max}>, \"explanation\": \"<one or two sentences>\"}}"
            ),
            Scale::Categories(labels) => format!(
                "Reply with only a JSON object: {{\"category\": <one of {}>, \"explanation\": \"<one or two sentences>\"}}",
                Value::from(labels.clone())
            ),
        }
    }

    /// The chat messages for one datapoint (system + user).
    pub fn messages(&self, input: &EvalInput<'_>) -> Vec<Value> {
        let inputs = serde_json::to_string_pretty(input.inputs).unwrap_or_default();
        let outputs = value_text(input.outputs);
        let ground_truth = input.ground_truth.map(value_text).unwrap_or_default();
        let user = match &self.template {
            Some(template) => template
                .replace("{criteria}", &self.criteria)
                .replace("{inputs}", &inputs)
                .replace("{outputs}", &outputs)
                .replace("{ground_truth}", &ground_truth)
                .replace("{answer_format}", &self.answer_format()),
            None => {
                let mut text = format!(
                    "Evaluate the output below.\n\n## Criteria\n{}\n\n## Input\n{inputs}\n\n## Output\n{outputs}\n",
                    self.criteria
                );
                if self.use_ground_truth {
                    text.push_str(&format!("\n## Reference answer\n{ground_truth}\n"));
                }
                text.push_str(&format!("\n## How to answer\n{}", self.answer_format()));
                text
            }
        };
        vec![
            json!({"role": "system", "content": "You are a strict, impartial evaluator of AI outputs. Follow the criteria exactly and answer in the requested format."}),
            json!({"role": "user", "content": user}),
        ]
    }
}

/// An LLM judge evaluator.
///
/// Retries transport errors, 408/409/429/5xx and unparseable verdicts with
/// exponential backoff ([`EndpointConfig::retries`]); the last failure is the
/// error. The result carries the verdict (number or category), the judge's
/// explanation, and the [`JudgeCall`].
///
/// ```no_run
/// use honeyhive_evals::{EndpointConfig, EvalInput, Evaluator, judge::{LlmJudge, Rubric}};
/// use serde_json::json;
/// let judge = LlmJudge::new(
///     "helpfulness",
///     Rubric::numeric("How helpful is the answer?", 1.0, 5.0).passing_at(4.0),
///     EndpointConfig::judge_from_env()?,
/// );
/// let (out, inp) = (json!("Use `cargo test -p crate`."), json!({"question": "How do I test one crate?"}));
/// let result = judge.score(&EvalInput::new(&out, &inp))?;
/// println!("{:?} {:?}", result.value, result.judge_call.map(|c| c.total_tokens));
/// # Ok::<(), honeyhive_evals::EvalError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LlmJudge {
    name: String,
    rubric: Rubric,
    endpoint: EndpointConfig,
    params: Map<String, Value>,
}

impl LlmJudge {
    /// A judge with temperature 0.
    pub fn new(name: impl Into<String>, rubric: Rubric, endpoint: EndpointConfig) -> Self {
        let mut params = Map::new();
        params.insert("temperature".into(), json!(0));
        LlmJudge {
            name: name.into(),
            rubric,
            endpoint,
            params,
        }
    }

    /// Sets a request parameter (`temperature`, `max_tokens`, `response_format`, ...).
    pub fn param(mut self, key: impl Into<String>, value: Value) -> Self {
        self.params.insert(key.into(), value);
        self
    }

    fn judge(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        let messages = self.rubric.messages(input);
        let mut body = Map::new();
        body.insert("model".into(), Value::from(self.endpoint.model.clone()));
        body.insert("messages".into(), Value::from(messages.clone()));
        for (k, v) in &self.params {
            body.insert(k.clone(), v.clone());
        }
        let scale = &self.rubric.scale;
        let ((verdict, text), stats) = self.endpoint.post_with_retries(
            "/chat/completions",
            &Value::Object(body),
            |response| {
                let text = response
                    .pointer("/choices/0/message/content")
                    .and_then(Value::as_str)
                    .ok_or_else(|| EvalError::UnparseableVerdict {
                        raw: response.to_string(),
                    })?;
                let verdict =
                    parse_verdict(text, scale).ok_or_else(|| EvalError::UnparseableVerdict {
                        raw: text.to_string(),
                    })?;
                Ok((verdict, text.to_string()))
            },
        )?;
        let usage = |key: &str| {
            stats
                .response
                .pointer(&format!("/usage/{key}"))
                .and_then(Value::as_u64)
        };
        let call = JudgeCall {
            model: self.endpoint.model.clone(),
            base_url: self.endpoint.base_url.clone(),
            messages,
            params: self.params.clone(),
            response_text: text,
            prompt_tokens: usage("prompt_tokens"),
            completion_tokens: usage("completion_tokens"),
            total_tokens: usage("total_tokens"),
            raw_response: stats.response,
            start_time_ms: stats.start_time_ms,
            latency_ms: stats.latency_ms,
            attempts: stats.attempts,
        };
        let mut result = EvalResult::new(verdict.value);
        result.explanation = verdict.explanation;
        result.judge_call = Some(call);
        Ok(result)
    }
}

impl Evaluator for LlmJudge {
    fn name(&self) -> &str {
        &self.name
    }
    fn needs_ground_truth(&self) -> bool {
        self.rubric.use_ground_truth
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        self.rubric.pass.as_ref()
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        self.judge(input)
    }
    fn evaluate_async<'a>(&'a self, input: EvalInput<'a>) -> EvalFuture<'a> {
        let judge = self.clone();
        let (outputs, inputs) = (input.outputs.clone(), input.inputs.clone());
        let (ground_truth, event) = (input.ground_truth.cloned(), input.event.cloned());
        let name = self.name.clone();
        Box::pin(async move {
            offload(move || {
                let input = EvalInput::new(&outputs, &inputs)
                    .with_ground_truth(ground_truth.as_ref())
                    .with_event(event.as_ref());
                judge.judge(&input)
            })
            .await
            .map_err(|message| EvalError::Failed {
                evaluator: name,
                message,
            })?
        })
    }
}
