//! Tool-call correctness: did the model call the expected tools with the expected
//! arguments?

use serde_json::{Map, Value};

use crate::{EvalError, EvalInput, EvalResult, Evaluator, PassCriteria};

/// One expected tool call. `arguments: None` accepts any arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedToolCall {
    /// The tool (function) name.
    pub name: String,
    /// Expected arguments (a JSON object).
    pub arguments: Option<Value>,
}

impl ExpectedToolCall {
    /// A call of `name` with any arguments.
    pub fn named(name: impl Into<String>) -> Self {
        ExpectedToolCall {
            name: name.into(),
            arguments: None,
        }
    }

    /// A call of `name` with these arguments.
    pub fn with_arguments(name: impl Into<String>, arguments: Value) -> Self {
        ExpectedToolCall {
            name: name.into(),
            arguments: Some(arguments),
        }
    }
}

/// How expected arguments are compared with actual ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArgumentMatch {
    /// Every expected key must be present with an equal value; extra keys are fine.
    #[default]
    Subset,
    /// The argument objects must be equal.
    Exact,
}

/// A tool call found in the outputs: name and parsed arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ActualToolCall {
    /// The tool name.
    pub name: String,
    /// The arguments (parsed when they were a JSON string).
    pub arguments: Value,
}

/// Finds tool calls in common output shapes: OpenAI `tool_calls`
/// (`{function: {name, arguments: "<json>"}}`), a message or `choices[0].message`
/// carrying them, Anthropic `content` blocks of type `tool_use` (`{name, input}`),
/// or a plain array of `{name, arguments}`.
///
/// ```
/// use honeyhive_evals::metrics::extract_tool_calls;
/// use serde_json::json;
/// let out = json!({"tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]});
/// let calls = extract_tool_calls(&out);
/// assert_eq!(calls[0].name, "get_weather");
/// assert_eq!(calls[0].arguments, json!({"city": "Paris"}));
/// ```
pub fn extract_tool_calls(outputs: &Value) -> Vec<ActualToolCall> {
    let list = outputs
        .get("tool_calls")
        .or_else(|| outputs.pointer("/message/tool_calls"))
        .or_else(|| outputs.pointer("/choices/0/message/tool_calls"))
        .or_else(|| outputs.get("content").filter(|c| c.is_array()))
        .unwrap_or(outputs);
    let Some(items) = list.as_array() else {
        return Vec::new();
    };
    items.iter().filter_map(parse_call).collect()
}

fn parse_call(item: &Value) -> Option<ActualToolCall> {
    let (name, arguments) = if let Some(function) = item.get("function") {
        (function.get("name")?, function.get("arguments"))
    } else if item.get("type").and_then(Value::as_str) == Some("tool_use") {
        (item.get("name")?, item.get("input"))
    } else {
        (
            item.get("name")?,
            item.get("arguments").or_else(|| item.get("args")),
        )
    };
    let arguments = match arguments {
        Some(Value::String(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(v) => v.clone(),
        None => Value::Object(Map::new()),
    };
    Some(ActualToolCall {
        name: name.as_str()?.to_string(),
        arguments,
    })
}

fn expected_from_value(value: &Value) -> Result<Vec<ExpectedToolCall>, String> {
    let list = value.get("tool_calls").unwrap_or(value);
    let items = list
        .as_array()
        .ok_or("expected tool calls must be an array")?;
    items
        .iter()
        .map(|item| {
            let call = parse_call(item).ok_or("each expected tool call needs a name")?;
            let explicit = item
                .get("arguments")
                .or_else(|| item.get("input"))
                .or_else(|| item.pointer("/function/arguments"));
            Ok(ExpectedToolCall {
                name: call.name,
                arguments: explicit.map(|_| call.arguments),
            })
        })
        .collect()
}

fn arguments_match(expected: &Value, actual: &Value, mode: ArgumentMatch) -> bool {
    match (mode, expected, actual) {
        (ArgumentMatch::Subset, Value::Object(e), Value::Object(a)) => {
            e.iter().all(|(k, v)| a.get(k) == Some(v))
        }
        _ => expected == actual,
    }
}

/// Fraction of expected tool calls the outputs made (0–1), passing at 1.0.
/// Expected calls come from the evaluator or from the ground truth (an array, or
/// an object with `tool_calls`, in any shape [`extract_tool_calls`] reads).
/// With `ordered`, expected calls must appear in order (as a subsequence).
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, metrics::{ExpectedToolCall, ToolCallCorrectness}};
/// use serde_json::json;
/// let eval = ToolCallCorrectness::new(vec![ExpectedToolCall::with_arguments("search", json!({"q": "rust"}))]);
/// let out = json!([{"name": "search", "arguments": {"q": "rust", "limit": 5}}]);
/// let inp = json!({});
/// assert_eq!(eval.score(&EvalInput::new(&out, &inp)).unwrap().passed, Some(true));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ToolCallCorrectness {
    expected: Option<Vec<ExpectedToolCall>>,
    argument_match: ArgumentMatch,
    ordered: bool,
    forbid_unexpected: bool,
}

const PASS_ALL: PassCriteria = PassCriteria::AtLeast(1.0);

impl ToolCallCorrectness {
    /// Checks for these calls.
    pub fn new(expected: Vec<ExpectedToolCall>) -> Self {
        ToolCallCorrectness {
            expected: Some(expected),
            ..ToolCallCorrectness::default()
        }
    }

    /// Takes expected calls from each datapoint's ground truth.
    pub fn from_reference() -> Self {
        ToolCallCorrectness::default()
    }

    /// How arguments are compared (default: subset).
    pub fn argument_match(mut self, mode: ArgumentMatch) -> Self {
        self.argument_match = mode;
        self
    }

    /// Requires the expected calls in order.
    pub fn ordered(mut self, on: bool) -> Self {
        self.ordered = on;
        self
    }

    /// Scores 0 when the outputs call a tool that was not expected.
    pub fn forbid_unexpected(mut self, on: bool) -> Self {
        self.forbid_unexpected = on;
        self
    }
}

impl Evaluator for ToolCallCorrectness {
    fn name(&self) -> &str {
        "tool_call_correctness"
    }
    fn needs_ground_truth(&self) -> bool {
        self.expected.is_none()
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        Some(&PASS_ALL)
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        let expected = match &self.expected {
            Some(e) => e.clone(),
            None => {
                let truth = input
                    .ground_truth
                    .ok_or_else(|| EvalError::MissingGroundTruth(self.name().into()))?;
                expected_from_value(truth).map_err(|m| EvalError::invalid_input(self.name(), m))?
            }
        };
        let actual = extract_tool_calls(input.outputs);
        let mut used = vec![false; actual.len()];
        let mut cursor = 0;
        let mut missing = Vec::new();
        for exp in &expected {
            let start = if self.ordered { cursor } else { 0 };
            let found = (start..actual.len()).find(|&i| {
                !used[i]
                    && actual[i].name == exp.name
                    && exp.arguments.as_ref().is_none_or(|args| {
                        arguments_match(args, &actual[i].arguments, self.argument_match)
                    })
            });
            match found {
                Some(i) => {
                    used[i] = true;
                    cursor = i + 1;
                }
                None => missing.push(Value::from(exp.name.as_str())),
            }
        }
        let unexpected: Vec<Value> = actual
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(c, _)| Value::from(c.name.as_str()))
            .collect();
        let matched = expected.len() - missing.len();
        let mut score = if expected.is_empty() {
            if actual.is_empty() { 1.0 } else { 0.0 }
        } else {
            matched as f64 / expected.len() as f64
        };
        if self.forbid_unexpected && !unexpected.is_empty() {
            score = 0.0;
        }
        Ok(EvalResult::number(score)
            .with_extra("matched", matched)
            .with_extra("missing", missing)
            .with_extra("unexpected", unexpected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(eval: &ToolCallCorrectness, out: Value, truth: Option<Value>) -> EvalResult {
        let inp = json!({});
        eval.score(&EvalInput::new(&out, &inp).with_ground_truth(truth.as_ref()))
            .unwrap()
    }

    #[test]
    fn extracts_openai_anthropic_and_choice_shapes() {
        let anthropic = json!({"content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "name": "calc", "input": {"x": 1}}]});
        assert_eq!(
            extract_tool_calls(&anthropic),
            [ActualToolCall {
                name: "calc".into(),
                arguments: json!({"x": 1})
            }]
        );
        let choice = json!({"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": "not json"}}]}}]});
        assert_eq!(extract_tool_calls(&choice)[0].arguments, json!("not json"));
        assert!(extract_tool_calls(&json!("plain text")).is_empty());
    }

    #[test]
    fn partial_ordered_and_exact_matching() {
        let out =
            json!([{"name": "b", "arguments": {}}, {"name": "a", "arguments": {"k": 1, "z": 2}}]);
        let eval = ToolCallCorrectness::new(vec![
            ExpectedToolCall::with_arguments("a", json!({"k": 1})),
            ExpectedToolCall::named("b"),
        ]);
        assert_eq!(run(&eval, out.clone(), None).value.as_f64(), Some(1.0));
        let ordered = eval.clone().ordered(true);
        let r = run(&ordered, out.clone(), None);
        assert_eq!(r.value.as_f64(), Some(0.5));
        assert_eq!(r.extra["missing"], json!(["b"]));
        let exact = eval.argument_match(ArgumentMatch::Exact);
        assert_eq!(run(&exact, out, None).passed, Some(false));
    }

    #[test]
    fn expected_from_ground_truth_and_unexpected_calls() {
        let eval = ToolCallCorrectness::from_reference().forbid_unexpected(true);
        let truth = json!({"tool_calls": [{"name": "a"}]});
        let r = run(
            &eval,
            json!([{"name": "a"}, {"name": "rm_rf"}]),
            Some(truth),
        );
        assert_eq!(r.value.as_f64(), Some(0.0));
        assert_eq!(r.extra["unexpected"], json!(["rm_rf"]));
        assert_eq!(
            run(&ToolCallCorrectness::new(vec![]), json!([]), None)
                .value
                .as_f64(),
            Some(1.0)
        );
    }
}
