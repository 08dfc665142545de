//! Session roll-ups: the aggregate figures a session row shows.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Event, EventType};

/// Aggregates over the events of one session.
///
/// Session events themselves are not counted and their token/cost figures are
/// not summed (they would double count what their children report), but their
/// feedback does count towards `has_feedback`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRollup {
    /// Events in the session, the session event excluded.
    pub num_events: u64,
    /// Events of type `model`.
    pub num_model_events: u64,
    /// Whether any event, the session included, has non-empty feedback.
    pub has_feedback: bool,
    /// Sum of `metadata.cost` (USD).
    pub cost: f64,
    /// Sum of `metadata.total_tokens` (or prompt + completion where missing).
    pub total_tokens: u64,
    /// Sum of `metadata.prompt_tokens`.
    pub prompt_tokens: u64,
    /// Sum of `metadata.completion_tokens`.
    pub completion_tokens: u64,
}

/// Rolls up the events of one session. Numbers stored as strings are read too.
///
/// ```
/// use honeyhive_model::{rollup::rollup, Event, EventType};
/// let mut model = Event { event_type: EventType::Model, ..Event::default() };
/// model.metadata.insert("prompt_tokens".into(), 10.into());
/// model.metadata.insert("completion_tokens".into(), 5.into());
/// model.metadata.insert("cost".into(), 0.25.into());
/// let tool = Event { event_type: EventType::Tool, ..Event::default() };
/// let r = rollup([&model, &tool]);
/// assert_eq!((r.num_events, r.num_model_events, r.total_tokens), (2, 1, 15));
/// assert_eq!(r.cost, 0.25);
/// ```
pub fn rollup<'a>(events: impl IntoIterator<Item = &'a Event>) -> SessionRollup {
    let mut out = SessionRollup::default();
    for event in events {
        out.has_feedback |= !event.feedback.is_empty();
        if event.event_type == EventType::Session {
            continue;
        }
        out.num_events += 1;
        if event.event_type == EventType::Model {
            out.num_model_events += 1;
        }
        let usage = usage(event);
        out.prompt_tokens = out
            .prompt_tokens
            .saturating_add(usage.prompt_tokens.unwrap_or(0));
        out.completion_tokens = out
            .completion_tokens
            .saturating_add(usage.completion_tokens.unwrap_or(0));
        out.total_tokens = out
            .total_tokens
            .saturating_add(usage.total_tokens.unwrap_or(0));
        if let Some(cost) = usage.cost {
            out.cost += cost;
        }
    }
    out
}

/// The tokens and cost one event reports in its `metadata`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// `metadata.prompt_tokens`.
    pub prompt_tokens: Option<u64>,
    /// `metadata.completion_tokens`.
    pub completion_tokens: Option<u64>,
    /// `metadata.total_tokens`, else prompt + completion where either is known.
    pub total_tokens: Option<u64>,
    /// `metadata.cost` (USD).
    pub cost: Option<f64>,
}

/// What `event` reports of its tokens and cost, as [`rollup`] reads them
/// (numbers stored as strings are read too; negative or non-finite ones are not).
///
/// ```
/// use honeyhive_model::{rollup::usage, Event};
/// let mut event = Event::default();
/// event.metadata.insert("prompt_tokens".into(), "10".into());
/// event.metadata.insert("completion_tokens".into(), 5.into());
/// let usage = usage(&event);
/// assert_eq!((usage.total_tokens, usage.cost), (Some(15), None));
/// ```
pub fn usage(event: &Event) -> Usage {
    let prompt_tokens = count(&event.metadata, "prompt_tokens");
    let completion_tokens = count(&event.metadata, "completion_tokens");
    let total_tokens = count(&event.metadata, "total_tokens").or_else(|| {
        (prompt_tokens.is_some() || completion_tokens.is_some()).then(|| {
            prompt_tokens
                .unwrap_or(0)
                .saturating_add(completion_tokens.unwrap_or(0))
        })
    });
    Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens,
        cost: event
            .metadata
            .get("cost")
            .and_then(number)
            .filter(|c| c.is_finite()),
    }
}

fn count(metadata: &Map<String, Value>, key: &str) -> Option<u64> {
    metadata
        .get(key)
        .and_then(number)
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n.round() as u64)
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(event_type: EventType, metadata: Value, feedback: Value) -> Event {
        Event {
            event_type,
            metadata: metadata.as_object().cloned().unwrap_or_default(),
            feedback: feedback.as_object().cloned().unwrap_or_default(),
            ..Event::default()
        }
    }

    #[test]
    fn sums_tokens_and_cost_and_counts_events() {
        let events = [
            event(
                EventType::Session,
                json!({"total_tokens": 999, "cost": 9.0}),
                json!({}),
            ),
            event(EventType::Chain, json!({}), json!({})),
            event(
                EventType::Model,
                json!({"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, "cost": 0.5}),
                json!({}),
            ),
            // Strings are read, a missing total is prompt + completion.
            event(
                EventType::Model,
                json!({"prompt_tokens": "7", "completion_tokens": 3, "cost": "0.25"}),
                json!({}),
            ),
            event(
                EventType::Tool,
                json!({"cost": "free", "prompt_tokens": -4}),
                json!({}),
            ),
        ];
        let r = rollup(&events);
        assert_eq!(r.num_events, 4);
        assert_eq!(r.num_model_events, 2);
        assert_eq!(r.prompt_tokens, 107);
        assert_eq!(r.completion_tokens, 23);
        assert_eq!(r.total_tokens, 130);
        assert!((r.cost - 0.75).abs() < 1e-12);
        assert!(!r.has_feedback);
    }

    #[test]
    fn feedback_anywhere_including_the_session_counts() {
        let session = event(EventType::Session, json!({}), json!({"rating": 5}));
        assert!(rollup([&session]).has_feedback);
        assert_eq!(rollup([&session]).num_events, 0);
        let tool = event(EventType::Tool, json!({}), json!({"liked": true}));
        assert!(rollup([&tool]).has_feedback);
        assert_eq!(rollup(std::iter::empty()), SessionRollup::default());
    }
}
