//! The event types of the schema: `Event` (the common fields typed, the JSON
//! documents as `JSON` scalars), a session's tree, and pages of rows.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Enum, Object, SimpleObject};
use honeyhive_model::Event;
use honeyhive_model::rollup::{SessionRollup, usage};
use serde_json::{Map, Value};

use crate::live::LiveEvent;

/// Kinds of event, as the schema names them.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, serde::Deserialize)]
#[graphql(name = "EventType", remote = "honeyhive_model::EventType")]
#[serde(rename_all = "lowercase")]
pub(super) enum EventKind {
    /// The root of a session tree.
    Session,
    /// A call to a model.
    Model,
    /// A tool call, retrieval or any leaf step.
    Tool,
    /// A composite step: an agent, a workflow, a pipeline.
    Chain,
}

/// An event a query read, or one a subscription was sent: the GraphQL
/// `Event` over either, without copying it.
#[derive(Clone)]
pub(super) enum EventObject {
    /// Read from the store.
    Stored(Arc<Event>),
    /// Pushed by the live hub (shared with every subscriber it matched).
    Live(Arc<LiveEvent>),
}

impl EventObject {
    fn event(&self) -> &Event {
        match self {
            EventObject::Stored(event) => event,
            EventObject::Live(live) => &live.event,
        }
    }
}

/// A text value of `map`.
fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// A JSON document of an event, as a `JSON` scalar.
fn document(map: &Map<String, Value>) -> async_graphql::Json<&Map<String, Value>> {
    async_graphql::Json(map)
}

/// Tokens an event reports (in its `metadata`).
#[derive(SimpleObject, Clone, Copy)]
pub(super) struct Tokens {
    /// `metadata.prompt_tokens`.
    prompt: Option<u64>,
    /// `metadata.completion_tokens`.
    completion: Option<u64>,
    /// `metadata.total_tokens`, else prompt + completion.
    total: Option<u64>,
}

/// One event: a session, a model call, a tool call or a chain. Times are ms
/// since the epoch, as `GET /events` shows them.
#[Object(name = "Event")]
impl EventObject {
    /// The event's id.
    async fn event_id(&self) -> &str {
        &self.event().event_id
    }

    /// The session it belongs to (its own id for a session).
    async fn session_id(&self) -> &str {
        &self.event().session_id
    }

    /// Its parent (the session for a top-level event; none for a session).
    async fn parent_id(&self) -> Option<&str> {
        self.event().parent_id.as_deref()
    }

    /// Its direct children (filled where a session tree was read).
    async fn children_ids(&self) -> &[String] {
        &self.event().children_ids
    }

    /// Its kind.
    async fn event_type(&self) -> EventKind {
        self.event().event_type.into()
    }

    /// Its name (function, span or session name).
    async fn event_name(&self) -> &str {
        &self.event().event_name
    }

    /// Where it came from (`dev`, `production`, `evaluation`, ...).
    async fn source(&self) -> &str {
        &self.event().source
    }

    /// The project it belongs to.
    async fn project_id(&self) -> &str {
        &self.event().project_id
    }

    /// Start, ms since the epoch.
    async fn start_time(&self) -> f64 {
        self.event().start_time
    }

    /// End, ms since the epoch.
    async fn end_time(&self) -> f64 {
        self.event().end_time
    }

    /// Duration in ms.
    async fn duration(&self) -> f64 {
        self.event().duration
    }

    /// The error it recorded, if it failed.
    async fn error(&self) -> Option<&str> {
        self.event().error.as_deref()
    }

    /// The model it called: `config.model`, else `metadata.model`.
    async fn model(&self) -> Option<&str> {
        let event = self.event();
        text(&event.config, "model").or_else(|| text(&event.metadata, "model"))
    }

    /// The model's provider: `config.provider`, else `metadata.provider`.
    async fn provider(&self) -> Option<&str> {
        let event = self.event();
        text(&event.config, "provider").or_else(|| text(&event.metadata, "provider"))
    }

    /// The tokens it reports (a session's are its events' roll-up, where a
    /// session tree was read).
    async fn tokens(&self) -> Tokens {
        let usage = usage(self.event());
        Tokens {
            prompt: usage.prompt_tokens,
            completion: usage.completion_tokens,
            total: usage.total_tokens,
        }
    }

    /// The cost it reports, USD (`metadata.cost`).
    async fn cost(&self) -> Option<f64> {
        usage(self.event()).cost
    }

    /// Inputs (arguments, chat history, ...).
    async fn inputs(&self) -> async_graphql::Json<&Map<String, Value>> {
        document(&self.event().inputs)
    }

    /// Outputs (return value, completion, ...).
    async fn outputs(&self) -> async_graphql::Json<&Map<String, Value>> {
        document(&self.event().outputs)
    }

    /// Free-form metadata (token counts, cost, run ids, ...).
    async fn metadata(&self) -> async_graphql::Json<&Map<String, Value>> {
        document(&self.event().metadata)
    }

    /// Scores (evaluators, latency, ...).
    async fn metrics(&self) -> async_graphql::Json<&Map<String, Value>> {
        document(&self.event().metrics)
    }

    /// Model or tool configuration.
    async fn config(&self) -> async_graphql::Json<&Map<String, Value>> {
        document(&self.event().config)
    }

    /// User or ground-truth feedback.
    async fn feedback(&self) -> async_graphql::Json<&Map<String, Value>> {
        document(&self.event().feedback)
    }

    /// Properties of the end user.
    async fn user_properties(&self) -> async_graphql::Json<&Map<String, Value>> {
        document(&self.event().user_properties)
    }
}

/// A session's events by id, shared by the nodes of its tree.
pub(super) struct Tree {
    by_id: HashMap<String, Arc<Event>>,
}

/// A session read back whole: its event (roll-ups in its `metadata`), its
/// top-level events with their children nested, and every event flat.
pub(super) struct SessionTree {
    tree: Arc<Tree>,
    session: Arc<Event>,
    events: Vec<Arc<Event>>,
    rollup: SessionRollup,
}

impl SessionTree {
    /// The tree of `session` and its `events` (by start time), `rollup` made
    /// of them.
    pub(super) fn new(session: Event, events: Vec<Event>, rollup: SessionRollup) -> SessionTree {
        let events: Vec<Arc<Event>> = events.into_iter().map(Arc::new).collect();
        let by_id = events
            .iter()
            .map(|e| (e.event_id.clone(), e.clone()))
            .collect();
        SessionTree {
            tree: Arc::new(Tree { by_id }),
            session: Arc::new(session),
            events,
            rollup,
        }
    }
}

/// What a session's events add up to.
#[derive(SimpleObject)]
pub(super) struct Rollup {
    /// Events in the session, the session event excluded.
    num_events: u64,
    /// Events of type `model`.
    num_model_events: u64,
    /// Whether any event, the session included, has feedback.
    has_feedback: bool,
    /// Sum of the events' `metadata.cost` (USD).
    cost: f64,
    /// Sum of the events' total tokens.
    total_tokens: u64,
    /// Sum of the events' prompt tokens.
    prompt_tokens: u64,
    /// Sum of the events' completion tokens.
    completion_tokens: u64,
}

/// A session with its events: nested as a tree (`children`) and flat (`events`).
#[Object]
impl SessionTree {
    /// The session event, its roll-ups in `metadata` as `GET /v1/sessions/{id}` shows them.
    async fn session(&self) -> EventObject {
        EventObject::Stored(self.session.clone())
    }

    /// Its top-level events, each with its children nested.
    async fn children(&self) -> Vec<TreeNode> {
        self.tree.nodes(&self.session.children_ids)
    }

    /// Every event of the session but the session event, by start time
    /// (rebuild deeper trees than a query nests from `parentId`).
    async fn events(&self) -> Vec<EventObject> {
        self.events
            .iter()
            .map(|e| EventObject::Stored(e.clone()))
            .collect()
    }

    /// What its events add up to.
    async fn rollup(&self) -> Rollup {
        let r = self.rollup;
        Rollup {
            num_events: r.num_events,
            num_model_events: r.num_model_events,
            has_feedback: r.has_feedback,
            cost: r.cost,
            total_tokens: r.total_tokens,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
        }
    }
}

impl Tree {
    /// The nodes of `ids` this session holds, in their order.
    fn nodes(self: &Arc<Tree>, ids: &[String]) -> Vec<TreeNode> {
        ids.iter()
            .filter_map(|id| self.by_id.get(id))
            .map(|event| TreeNode {
                tree: self.clone(),
                event: event.clone(),
            })
            .collect()
    }
}

/// An event of a session tree and its children. How deep a query follows
/// `children` is bounded by the depth limit, so a cycle in stored data
/// cannot recurse forever.
pub(super) struct TreeNode {
    tree: Arc<Tree>,
    event: Arc<Event>,
}

#[Object]
impl TreeNode {
    /// The event.
    async fn event(&self) -> EventObject {
        EventObject::Stored(self.event.clone())
    }

    /// Its children, in the order it lists them.
    async fn children(&self) -> Vec<TreeNode> {
        self.tree.nodes(&self.event.children_ids)
    }
}
