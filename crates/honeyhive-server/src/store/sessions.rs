//! Sessions read back as trees, their roll-ups, and their deletion.

use async_trait::async_trait;
use honeyhive_model::Event;

use super::{ReadLimits, ReadResult, StoreResult, Tenant};

/// Sessions as trees, and their deletion.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The session tree; `NotFound` if the session is not in this project,
    /// `TooLarge` if it holds more than `limits` allow (nothing is returned).
    async fn session_tree(
        &self,
        tenant: &Tenant,
        session_id: &str,
        limits: ReadLimits,
    ) -> ReadResult<SessionTree>;

    /// Deletes a session and every event in it; returns how many events went.
    async fn delete_session(&self, tenant: &Tenant, session_id: &str) -> StoreResult<u64>;
}

/// A session read back as a tree: the session event and every event in it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionTree {
    /// The session event (`event_type == session`), `children_ids` filled.
    pub session: Event,
    /// All other events of the session, by start time, `children_ids` filled.
    pub events: Vec<Event>,
}

/// Writes the session roll-ups (`num_events`, `num_model_events`,
/// `has_feedback`, `cost`, `total_tokens`, `prompt_tokens`,
/// `completion_tokens`) into the session event's `metadata`.
pub fn apply_rollup(session: &mut Event, events: &[Event]) {
    let rollup = honeyhive_model::rollup::rollup(std::iter::once(&*session).chain(events));
    let metadata = &mut session.metadata;
    metadata.insert("num_events".into(), rollup.num_events.into());
    metadata.insert("num_model_events".into(), rollup.num_model_events.into());
    metadata.insert("has_feedback".into(), rollup.has_feedback.into());
    metadata.insert("cost".into(), rollup.cost.into());
    metadata.insert("total_tokens".into(), rollup.total_tokens.into());
    metadata.insert("prompt_tokens".into(), rollup.prompt_tokens.into());
    metadata.insert("completion_tokens".into(), rollup.completion_tokens.into());
}
