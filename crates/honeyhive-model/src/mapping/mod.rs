//! OTLP spans to HoneyHive events, for every span convention the platform reads.
//!
//! [`map_request`] is pure: the same request always gives the same events, so a
//! retried export upserts the same rows (ids come from [`event_id_for`]).
//!
//! # Rules
//!
//! - **Ids.** `event_id = event_id_for(trace_id, span_id)`; `parent_id` is
//!   `event_id_for(trace_id, parent_span_id)` for child spans and the session id for
//!   root spans. A span whose trace id is not 16 bytes, whose span id is not 8
//!   bytes, or whose parent span id is neither empty nor 8 bytes is *rejected*
//!   (see [`RejectedSpan`]); nothing else rejects a span.
//! - **Session.** The first of `honeyhive.session_id`, `honeyhive_session_id`,
//!   `traceloop.association.properties.session_id`, `session.id` (OpenInference),
//!   `gen_ai.conversation.id`, `ai.telemetry.metadata.sessionId` (Vercel AI), on
//!   the span then on its resource; else one session per trace,
//!   [`session_id_for_trace`].
//! - **HoneyHive namespaces.** `honeyhive_inputs.*`, `_outputs.*`, `_config.*`,
//!   `_metadata.*`, `_metrics.*`, `_feedback.*`, `_user_properties.*` are rebuilt
//!   into nested objects (`honeyhive_outputs.result.completion` → `{"result":
//!   {"completion": ..}}`); flattened lists (`key.0`, `key.1`) become arrays again;
//!   string values holding a JSON object or array are parsed, other strings stay
//!   strings. The un-dotted form (`honeyhive_inputs` = a JSON object) is merged in.
//! - **Bounds.** A dotted key is split into at most
//!   [`MAX_KEY_SEGMENTS`](crate::limits::MAX_KEY_SEGMENTS) segments (the rest of
//!   the key stays one literal key), and every field is kept within
//!   [`MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH): a subtree that would sit
//!   deeper (a JSON-text value under a long key) is kept as its compact JSON text.
//! - **Conventions.** OTel `gen_ai.*` (current and deprecated), OpenInference,
//!   OpenLLMetry and Vercel AI facts land in fixed places: `config.model`,
//!   `config.provider`, request parameters in `config.*`, `config.tools`;
//!   `inputs.chat_history` (normalized `{role, content, tool_calls?}` messages);
//!   the first completion's `role` / `content` / `tool_calls` / `finish_reason` in
//!   `outputs` (all of them in `outputs.choices` when there are several);
//!   `metadata.prompt_tokens`, `completion_tokens`, `total_tokens`,
//!   `cache_read_tokens`, `cache_write_tokens`, `reasoning_tokens`, `cost`;
//!   `metrics.ttft_ms`; `user_properties.user_id`. Values set through the
//!   HoneyHive namespaces always win over convention values for the same key.
//! - **Cost.** When a model span carries no cost, `metadata.cost` is computed from
//!   its token counts with [`crate::price::cost_usd`] (if the model is priced).
//! - **Unknown attributes** are never dropped: every attribute no rule consumes is
//!   kept in `metadata` under its full original key (e.g. `metadata["http.method"]`),
//!   unless `metadata` already has that key. Resource attributes are not copied.
//! - **Event type** (first non-empty wins): `honeyhive_event_type` →
//!   `openinference.span.kind` → `gen_ai.operation.name` → `traceloop.span.kind` →
//!   Vercel `ai.operationId` → a model is named ⇒ `model` → `tool`.
//! - **Name, times, error.** `honeyhive_event_name`, else the span name; times in
//!   ms since the epoch; `duration = honeyhive_duration_ms`, else end - start;
//!   `error = honeyhive_error` (prefixed with `honeyhive_error_type`), else the
//!   message of an `ERROR` status (or its `exception` event).
//!
//! ```
//! use honeyhive_model::{mapping, otlp, EventType};
//! let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
//!   "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
//!   "name":"chat gpt-4o","startTimeUnixNano":"1700000000000000000",
//!   "endTimeUnixNano":"1700000000500000000",
//!   "attributes":[
//!     {"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
//!     {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
//!     {"key":"gen_ai.usage.input_tokens","value":{"intValue":"1000"}},
//!     {"key":"gen_ai.usage.output_tokens","value":{"intValue":"100"}}]}]}]}]}"#;
//! let batch = mapping::map_request(&otlp::decode_json(body).unwrap());
//! let event = &batch.events[0];
//! assert_eq!(event.event_type, EventType::Model);
//! assert_eq!(event.config["model"], "gpt-4o");
//! assert_eq!(event.metadata["total_tokens"], 1100);
//! assert_eq!(event.duration, 500.0);
//! assert!(event.metadata["cost"].as_f64().unwrap() > 0.0);
//! // A span naming no session gets the session of its trace.
//! assert_eq!(batch.sessions[0].session_id, event.session_id);
//! assert_eq!(event.parent_id.as_deref(), Some(event.session_id.as_str()));
//! ```

mod collect;
mod keys;
mod messages;
mod span;
mod tree;
mod values;

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::Event;

/// The result of mapping one export request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MappedBatch {
    /// One event per accepted span, in request order.
    pub events: Vec<Event>,
    /// Every session the events belong to, in order of first appearance.
    pub sessions: Vec<SessionSeen>,
    /// Spans that could not be mapped, and why.
    pub rejected: Vec<RejectedSpan>,
}

/// A session seen in a batch: what the server needs to create it on first sight
/// or to extend its time range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSeen {
    /// The session id (also the session event's id).
    pub session_id: String,
    /// `honeyhive.session_name` if a span named it; for a session keyed by its
    /// trace, the name of the trace's root span.
    pub session_name: Option<String>,
    /// The first non-empty `source` of its events.
    pub source: Option<String>,
    /// The project a span named (`honeyhive.project`); the API key decides in the end.
    pub project: Option<String>,
    /// The union of its events' user properties (first value of a key wins).
    pub user_properties: Map<String, Value>,
    /// Earliest start time of its events in this batch, ms since the epoch.
    pub start_time: f64,
    /// Latest end time of its events in this batch, ms since the epoch.
    pub end_time: f64,
}

/// A span that could not become an event. The server answers OTLP
/// `partial_success` with the count of these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectedSpan {
    /// The span id as hex (whatever bytes were sent, possibly empty).
    pub span_id: String,
    /// Why, as a short stable phrase usable as a metric label.
    pub reason: String,
}

/// The event id of a span: a UUID made of `trace_id[0..8] ++ span_id[0..8]`.
///
/// Deterministic, so a retried export upserts instead of duplicating. Short
/// inputs are zero-padded (never panics).
///
/// ```
/// let id = honeyhive_model::mapping::event_id_for(&[0x11; 16], &[0x22; 8]);
/// assert_eq!(id, "11111111-1111-1111-2222-222222222222");
/// ```
pub fn event_id_for(trace_id: &[u8], span_id: &[u8]) -> String {
    let mut bytes = [0u8; 16];
    copy_prefix(&mut bytes[..8], trace_id);
    copy_prefix(&mut bytes[8..], span_id);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// The session id of a span naming no session: a UUID of its 16 trace-id bytes.
///
/// ```
/// let id = honeyhive_model::mapping::session_id_for_trace(&[0xab; 16]);
/// assert_eq!(id, "abababab-abab-abab-abab-abababababab");
/// ```
pub fn session_id_for_trace(trace_id: &[u8]) -> String {
    let mut bytes = [0u8; 16];
    copy_prefix(&mut bytes, trace_id);
    uuid::Uuid::from_bytes(bytes).to_string()
}

fn copy_prefix(target: &mut [u8], source: &[u8]) {
    let n = target.len().min(source.len());
    target[..n].copy_from_slice(&source[..n]);
}

/// Maps every span of an export request to an event (see the [module docs](self)).
pub fn map_request(req: &crate::otlp::ExportTraceServiceRequest) -> MappedBatch {
    let mut batch = MappedBatch::default();
    // Session id -> index in `batch.sessions`: a 500-span batch of one-trace
    // sessions must not cost a quadratic scan.
    let mut session_index: HashMap<String, usize> = HashMap::new();
    for resource_spans in &req.resource_spans {
        let resource_attributes = resource_spans
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                if let Some(reason) = invalid_ids(span) {
                    batch.rejected.push(RejectedSpan {
                        span_id: hex::encode(&span.span_id),
                        reason: reason.to_owned(),
                    });
                    continue;
                }
                let is_root = span.parent_span_id.is_empty();
                let parent = (!is_root).then(|| event_id_for(&span.trace_id, &span.parent_span_id));
                let mapped = span::map_span(
                    span,
                    resource_attributes,
                    event_id_for(&span.trace_id, &span.span_id),
                    parent,
                    || session_id_for_trace(&span.trace_id),
                );
                record_session(&mut batch.sessions, &mut session_index, &mapped, is_root);
                batch.events.push(mapped.event);
            }
        }
    }
    batch
}

fn invalid_ids(span: &opentelemetry_proto::tonic::trace::v1::Span) -> Option<&'static str> {
    if span.trace_id.len() != 16 || span.trace_id.iter().all(|b| *b == 0) {
        return Some("invalid trace id");
    }
    if span.span_id.len() != 8 || span.span_id.iter().all(|b| *b == 0) {
        return Some("invalid span id");
    }
    if !span.parent_span_id.is_empty() && span.parent_span_id.len() != 8 {
        return Some("invalid parent span id");
    }
    None
}

fn record_session(
    sessions: &mut Vec<SessionSeen>,
    index: &mut HashMap<String, usize>,
    mapped: &span::MappedSpan,
    is_root: bool,
) {
    let event = &mapped.event;
    let position = match index.get(&event.session_id) {
        Some(position) => *position,
        None => {
            index.insert(event.session_id.clone(), sessions.len());
            sessions.push(SessionSeen {
                session_id: event.session_id.clone(),
                start_time: event.start_time,
                end_time: event.end_time,
                ..SessionSeen::default()
            });
            sessions.len() - 1
        }
    };
    let session = &mut sessions[position];
    session.start_time = session.start_time.min(event.start_time);
    session.end_time = session.end_time.max(event.end_time);
    let root_name = (mapped.session_from_trace && is_root).then(|| event.event_name.clone());
    if session.session_name.is_none() {
        session.session_name = mapped.session_name.clone().or(root_name);
    }
    if session.source.is_none() && !event.source.is_empty() {
        session.source = Some(event.source.clone());
    }
    if session.project.is_none() {
        session.project = mapped.project.clone();
    }
    for (key, value) in &event.user_properties {
        if !session.user_properties.contains_key(key) {
            session.user_properties.insert(key.clone(), value.clone());
        }
    }
}
