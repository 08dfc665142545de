//! `GET /ui/live`: events appear as they commit, without a reload. The page's
//! one script (`live.js`, served by us) reads `GET /ui/live/stream`, the same
//! server-sent events as `GET /v1/events/stream` for the signed-in project,
//! and adds each event as a row through `textContent`, so nothing it shows
//! is parsed as markup.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use honeyhive_model::EventType;
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::signin::Viewer;
use super::view::{Page, error_page, url_encode};
use crate::api::live::stream_for;

#[derive(Deserialize, Default)]
pub(super) struct LiveQuery {
    /// Only events of this type.
    event_type: Option<String>,
    /// Only events whose name contains this.
    q: Option<String>,
}

impl LiveQuery {
    /// The stream's `filters` (the `GET /events` filter JSON).
    fn filters(&self) -> Value {
        let mut filters = Vec::new();
        if let Some(kind) = self.event_type.as_deref().and_then(EventType::parse) {
            filters.push(json!({"field": "event_type", "operator": "is", "value": kind.as_str(), "type": "string"}));
        }
        if let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            filters.push(json!({"field": "event_name", "operator": "contains", "value": q, "type": "string"}));
        }
        Value::Array(filters)
    }
}

/// `GET /ui/live`.
pub(super) async fn page(viewer: Viewer, Query(query): Query<LiveQuery>) -> Response {
    let stream = format!(
        "/ui/live/stream?filters={}",
        url_encode(&query.filters().to_string())
    );
    let selected = query.event_type.as_deref().unwrap_or("");
    Page::signed_in("Live", &viewer)
        .with_script("/ui/assets/live.js")
        .render(html! {
            h1 { "Live" }
            form.filters method="get" action="/ui/live" {
                select name="event_type" {
                    option value="" selected[selected.is_empty()] { "any type" }
                    @for kind in ["session", "chain", "model", "tool"] {
                        option value=(kind) selected[selected == kind] { (kind) }
                    }
                }
                input type="search" name="q" placeholder="name contains" value=[query.q.as_deref()];
                button type="submit" { "Filter" }
                button #pause type="button" { "Pause" }
                span #status role="status" { "connecting…" }
            }
            p #lagged.problem hidden { }
            table #live data-stream=(stream) data-state="connecting" {
                thead { tr {
                    th { "Time" } th { "Type" } th { "Name" } th.num { "Duration" }
                    th.num { "Tokens" } th { "Session" } th { "Error" }
                } }
                tbody {}
            }
            p.hint { "Newest first; the last 200 events stay on the page." }
        })
        .into_response()
}

/// `GET /ui/live/stream`: the project's stream, signed in by the cookie.
pub(super) async fn stream(
    State(state): State<Dashboard>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    match stream_for(&state, viewer.tenant, &headers, &pairs).await {
        Ok(stream) => stream,
        Err(e) => error_page(e),
    }
}
