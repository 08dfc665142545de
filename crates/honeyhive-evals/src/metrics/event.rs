//! Latency, token and cost budgets read from the traced event of the function call.

use serde_json::Value;

use crate::{EvalError, EvalInput, EvalResult, Evaluator, PassCriteria};

/// Which quantity of the traced event is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventQuantity {
    /// `duration` in milliseconds (or `end_time - start_time`).
    LatencyMs,
    /// `metadata.total_tokens` (or prompt + completion tokens).
    TotalTokens,
    /// `metadata.prompt_tokens`.
    PromptTokens,
    /// `metadata.completion_tokens`.
    CompletionTokens,
    /// `metadata.cost` in USD.
    CostUsd,
}

impl EventQuantity {
    /// The metric name (`latency_ms`, `total_tokens`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EventQuantity::LatencyMs => "latency_ms",
            EventQuantity::TotalTokens => "total_tokens",
            EventQuantity::PromptTokens => "prompt_tokens",
            EventQuantity::CompletionTokens => "completion_tokens",
            EventQuantity::CostUsd => "cost",
        }
    }

    /// Reads the quantity from a HoneyHive event (JSON), looking in `metadata`
    /// first and `metrics` second, as the ingest stores usage in either.
    pub fn read(self, event: &Value) -> Option<f64> {
        let field = |key: &str| {
            ["metadata", "metrics"].iter().find_map(|section| {
                event
                    .get(section)
                    .and_then(|s| s.get(key))
                    .and_then(Value::as_f64)
            })
        };
        match self {
            EventQuantity::LatencyMs => {
                event.get("duration").and_then(Value::as_f64).or_else(|| {
                    let start = event.get("start_time")?.as_f64()?;
                    let end = event.get("end_time")?.as_f64()?;
                    Some(end - start)
                })
            }
            EventQuantity::TotalTokens => field("total_tokens").or_else(|| {
                let prompt = field("prompt_tokens");
                let completion = field("completion_tokens");
                (prompt.is_some() || completion.is_some())
                    .then(|| prompt.unwrap_or(0.0) + completion.unwrap_or(0.0))
            }),
            EventQuantity::PromptTokens => field("prompt_tokens"),
            EventQuantity::CompletionTokens => field("completion_tokens"),
            EventQuantity::CostUsd => field("cost"),
        }
    }
}

/// Scores the measured quantity and passes when it is within the budget.
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, metrics::EventBudget};
/// use serde_json::json;
/// let event = json!({"duration": 850.0, "metadata": {"total_tokens": 1200, "cost": 0.004}});
/// let (out, inp) = (json!("..."), json!({}));
/// let input = EvalInput::new(&out, &inp).with_event(Some(&event));
/// assert_eq!(EventBudget::latency_ms(1000.0).score(&input).unwrap().passed, Some(true));
/// assert_eq!(EventBudget::total_tokens(1000.0).score(&input).unwrap().passed, Some(false));
/// ```
#[derive(Debug, Clone)]
pub struct EventBudget {
    quantity: EventQuantity,
    criteria: PassCriteria,
}

impl EventBudget {
    /// Any quantity with a maximum.
    pub fn new(quantity: EventQuantity, max: f64) -> Self {
        EventBudget {
            quantity,
            criteria: PassCriteria::AtMost(max),
        }
    }

    /// Latency budget in milliseconds.
    pub fn latency_ms(max: f64) -> Self {
        EventBudget::new(EventQuantity::LatencyMs, max)
    }

    /// Total token budget.
    pub fn total_tokens(max: f64) -> Self {
        EventBudget::new(EventQuantity::TotalTokens, max)
    }

    /// Cost budget in USD.
    pub fn cost_usd(max: f64) -> Self {
        EventBudget::new(EventQuantity::CostUsd, max)
    }
}

impl Evaluator for EventBudget {
    fn name(&self) -> &str {
        self.quantity.name()
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        Some(&self.criteria)
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        let event = input
            .event
            .ok_or_else(|| EvalError::MissingEvent(self.name().to_string()))?;
        let value = self.quantity.read(event).ok_or_else(|| {
            EvalError::invalid_input(
                self.name(),
                format!("the traced event has no {}", self.name()),
            )
        })?;
        Ok(EvalResult::number(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_fallbacks_and_reports_missing() {
        let event = json!({"start_time": 1000.0, "end_time": 1250.0, "metrics": {"prompt_tokens": 10, "completion_tokens": 5}});
        assert_eq!(EventQuantity::LatencyMs.read(&event), Some(250.0));
        assert_eq!(EventQuantity::TotalTokens.read(&event), Some(15.0));
        assert_eq!(EventQuantity::CostUsd.read(&event), None);
        let (out, inp) = (json!(""), json!({}));
        let no_event = EventBudget::cost_usd(1.0).score(&EvalInput::new(&out, &inp));
        assert_eq!(no_event, Err(EvalError::MissingEvent("cost".into())));
        let no_cost =
            EventBudget::cost_usd(1.0).score(&EvalInput::new(&out, &inp).with_event(Some(&event)));
        assert!(matches!(no_cost, Err(EvalError::InvalidInput { .. })));
    }
}
