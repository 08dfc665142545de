//! [`EventType`]: what kind of step an event records (`session`, `model`,
//! `tool`, `chain`).

use serde::{Deserialize, Serialize};

/// What kind of step an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// The root of a session tree (`event_id == session_id`).
    Session,
    /// A call to a model (LLM, embedding, ...).
    Model,
    /// A tool call, retrieval or any leaf step; the default.
    #[default]
    Tool,
    /// A composite step: an agent, a workflow, a pipeline.
    Chain,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 4] = [
        EventType::Session,
        EventType::Model,
        EventType::Tool,
        EventType::Chain,
    ];

    /// The wire name: `session`, `model`, `tool` or `chain`.
    ///
    /// ```
    /// assert_eq!(honeyhive_model::EventType::Model.as_str(), "model");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Session => "session",
            EventType::Model => "model",
            EventType::Tool => "tool",
            EventType::Chain => "chain",
        }
    }

    /// Parses a wire name leniently (case-insensitive); `None` for anything else.
    ///
    /// ```
    /// use honeyhive_model::EventType;
    /// assert_eq!(EventType::parse("Chain"), Some(EventType::Chain));
    /// assert_eq!(EventType::parse("llm"), None);
    /// ```
    pub fn parse(s: &str) -> Option<EventType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "session" => Some(EventType::Session),
            "model" => Some(EventType::Model),
            "tool" => Some(EventType::Tool),
            "chain" => Some(EventType::Chain),
            _ => None,
        }
    }
}
