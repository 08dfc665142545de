//! `GET /ui/sessions/{session_id}`: the session's event tree beside a
//! waterfall of its timeline, and the selected event (`?event=<id>`) in full:
//! chat messages as a conversation, everything else as folding JSON.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use honeyhive_model::{Event, EventType};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Dashboard;
use super::view::{
    Page, Viewer, cost, count, duration, error_page, json_block, number, time, url_encode,
};
use crate::api::ApiError;
use crate::store::{SessionTree, apply_rollup};

/// Deep enough for any real trace; bad data with a cycle stops here.
const MAX_DEPTH: usize = 64;
/// The waterfall's drawing width, in SVG units.
const WATERFALL_WIDTH: f64 = 600.0;
const ROW_HEIGHT: f64 = 22.0;

#[derive(Deserialize)]
pub(super) struct SessionQuery {
    /// The selected event.
    event: Option<String>,
}

pub(super) async fn page(
    State(state): State<Dashboard>,
    viewer: Viewer,
    Path(session_id): Path<String>,
    Query(query): Query<SessionQuery>,
) -> Response {
    match state
        .store
        .session_tree(&viewer.tenant, &session_id, state.config.read_limits())
        .await
    {
        Ok(tree) => render(&viewer, tree, query.event.as_deref()).into_response(),
        Err(e) => error_page(ApiError::from(e)),
    }
}

/// The events in tree order (depth-first, children by start time), with depth.
fn tree_order(tree: &SessionTree) -> Vec<(&Event, usize)> {
    let by_id: HashMap<&str, &Event> = std::iter::once(&tree.session)
        .chain(&tree.events)
        .map(|e| (e.event_id.as_str(), e))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut stack = vec![(&tree.session, 0usize)];
    while let Some((event, depth)) = stack.pop() {
        if !seen.insert(event.event_id.as_str()) {
            continue;
        }
        out.push((event, depth));
        if depth >= MAX_DEPTH {
            continue;
        }
        let mut children: Vec<&Event> = event
            .children_ids
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).copied())
            .collect();
        children.sort_by(|a, b| a.start_time.total_cmp(&b.start_time));
        stack.extend(children.into_iter().rev().map(|c| (c, depth + 1)));
    }
    // Events whose parent is missing still show, at the top level.
    for event in &tree.events {
        if !seen.contains(event.event_id.as_str()) {
            seen.insert(event.event_id.as_str());
            out.push((event, 1));
        }
    }
    out
}

fn render(viewer: &Viewer, mut tree: SessionTree, selected: Option<&str>) -> impl IntoResponse {
    apply_rollup(&mut tree.session, &tree.events);
    let rows = tree_order(&tree);
    let session = &tree.session;
    let title = if session.event_name.is_empty() {
        "Session"
    } else {
        session.event_name.as_str()
    };
    let selected = selected
        .and_then(|id| rows.iter().find(|(e, _)| e.event_id == id).map(|(e, _)| *e))
        .unwrap_or(session);
    let base = format!("/ui/sessions/{}", url_encode(&session.session_id));
    let meta = &session.metadata;
    Page::signed_in(title, viewer).render(html! {
        nav.crumbs { a href="/ui/sessions" { "Sessions" } " / " span { (title) } }
        h1 { (title) }
        dl.facts {
            dt { "Start" } dd { (time(session.start_time)) }
            dt { "Duration" } dd { (duration(session.duration)) }
            dt { "Events" } dd { (count(number(meta, "num_events").unwrap_or(0.0) as u64)) }
            dt { "Tokens" } dd { (count(number(meta, "total_tokens").unwrap_or(0.0) as u64)) }
            dt { "Cost" } dd { (cost(number(meta, "cost").unwrap_or(0.0))) }
            dt { "Source" } dd { (session.source) }
        }
        div.session {
            section.tree aria-label="events" {
                (waterfall(&rows, session, &base, selected))
            }
            section.detail aria-label="selected event" {
                (detail(selected))
            }
        }
    })
}

/// One row per event: its name (indented by depth, linking to its detail)
/// and its bar on the session's timeline, drawn in SVG so no style attribute
/// is needed under the page's Content-Security-Policy.
fn waterfall(rows: &[(&Event, usize)], session: &Event, base: &str, selected: &Event) -> Markup {
    let start = rows
        .iter()
        .map(|(e, _)| e.start_time)
        .fold(session.start_time, f64::min);
    let end = rows
        .iter()
        .map(|(e, _)| e.end_time.max(e.start_time + e.duration.max(0.0)))
        .fold(session.end_time, f64::max);
    let span = (end - start).max(1.0);
    html! {
        table.waterfall {
            thead { tr { th { "Event" } th { "Type" } th.num { "Duration" } th.timeline { "Timeline" } } }
            tbody {
                @for (event, depth) in rows {
                    @let link = format!("{base}?event={}", url_encode(&event.event_id));
                    tr.selected[event.event_id == selected.event_id] .failed[event.error.is_some()] {
                        td.name {
                            span.indent { ("\u{2003}".repeat(*depth)) }
                            a href=(link) { (if event.event_name.is_empty() { "(unnamed)" } else { &event.event_name }) }
                        }
                        td { span class=(format!("type type-{}", event.event_type.as_str())) { (event.event_type.as_str()) } }
                        td.num { (duration(event.duration)) }
                        td.timeline {
                            @let x = (event.start_time - start) / span * WATERFALL_WIDTH;
                            @let w = (event.duration.max(0.0) / span * WATERFALL_WIDTH).max(2.0);
                            svg viewBox=(format!("0 0 {WATERFALL_WIDTH} {ROW_HEIGHT}")) preserveAspectRatio="none" role="img"
                                aria-label=(format!("starts at +{}", duration(event.start_time - start))) {
                                rect class=(format!("bar type-{}", event.event_type.as_str()))
                                    x=(format!("{x:.1}")) y="5" width=(format!("{w:.1}")) height="12" rx="2" {}
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The selected event in full.
fn detail(event: &Event) -> Markup {
    let meta = &event.metadata;
    html! {
        h2 { (if event.event_name.is_empty() { "(unnamed)" } else { &event.event_name }) }
        dl.facts {
            dt { "Type" } dd { (event.event_type.as_str()) }
            dt { "Start" } dd { (time(event.start_time)) }
            dt { "Duration" } dd { (duration(event.duration)) }
            @if event.event_type == EventType::Model {
                @for (label, key) in [("Model", "model"), ("Provider", "provider")] {
                    @if let Some(value) = text(&event.config, key).or_else(|| text(meta, key)) {
                        dt { (label) } dd { (value) }
                    }
                }
                dt { "Tokens" } dd {
                    (count(number(meta, "prompt_tokens").unwrap_or(0.0) as u64)) " in, "
                    (count(number(meta, "completion_tokens").unwrap_or(0.0) as u64)) " out"
                }
                dt { "Cost" } dd { (cost(number(meta, "cost").unwrap_or(0.0))) }
                @if let Some(ttft) = number(meta, "time_to_first_token").or_else(|| number(meta, "ttft")) {
                    dt { "TTFT" } dd { (duration(ttft)) }
                }
            }
        }
        @if let Some(error) = &event.error {
            section.failure { h3 { "Error" } pre { (error) } }
        }
        @if let Some(messages) = chat(&event.inputs) {
            section.chat { h3 { "Input messages" } (conversation(messages)) }
        } @else {
            (json_block("Inputs", &event.inputs))
        }
        @if let Some(messages) = chat(&event.outputs) {
            section.chat { h3 { "Output messages" } (conversation(messages)) }
        } @else {
            (json_block("Outputs", &event.outputs))
        }
        (json_block("Config", &event.config))
        (json_block("Metadata", &event.metadata))
        (json_block("Metrics", &event.metrics))
        (json_block("Feedback", &event.feedback))
        (json_block("User properties", &event.user_properties))
    }
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// The chat messages in `map`: `chat_history` or `messages` (inputs), or a
/// single `role` + `content` (an output message).
fn chat(map: &Map<String, Value>) -> Option<Vec<&Map<String, Value>>> {
    let is_message = |m: &Map<String, Value>| m.contains_key("role");
    for key in ["chat_history", "messages"] {
        if let Some(Value::Array(items)) = map.get(key) {
            let messages: Vec<_> = items.iter().filter_map(Value::as_object).collect();
            if !messages.is_empty() && messages.iter().all(|m| is_message(m)) {
                return Some(messages);
            }
        }
    }
    is_message(map).then(|| vec![map])
}

/// Messages as a conversation: role, content, tool calls and their results.
fn conversation(messages: Vec<&Map<String, Value>>) -> Markup {
    html! {
        ol.conversation {
            @for message in messages {
                @let role = text(message, "role").unwrap_or("message");
                li class=(format!("message role-{}", role.chars().filter(char::is_ascii_alphanumeric).collect::<String>())) {
                    span.role { (role) }
                    @match message.get("content") {
                        Some(Value::String(content)) => { div.content { (content) } }
                        Some(Value::Null) | None => {}
                        Some(other) => { pre.content { (serde_json::to_string_pretty(other).unwrap_or_default()) } }
                    }
                    @if let Some(calls) = message.get("tool_calls").filter(|c| !c.is_null()) {
                        details.tool-calls open {
                            summary { "tool calls" }
                            pre { (serde_json::to_string_pretty(calls).unwrap_or_default()) }
                        }
                    }
                    @if let Some(id) = text(message, "tool_call_id") {
                        p.tool-result { "result of " code { (id) } }
                    }
                }
            }
        }
    }
}
