//! `GET /ui/sessions`: the project's sessions, newest first, paged, filtered
//! by source, name and errors; each row with its events, tokens and cost.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use honeyhive_model::Event;
use honeyhive_model::filter::{FilterSet, JsonRoot};
use honeyhive_model::rollup::{SessionRollup, rollup};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::signin::Viewer;
use super::view::{Page, cost, count, duration, error_page, listed, pager, time, url_encode};
use crate::api::ApiError;
use crate::store::{EventQuery, SortOrder};

/// Sessions on one page.
const PAGE_SIZE: u64 = 50;
/// Most events read to total a page's sessions; past it the totals show a dash.
const MAX_ROLLUP_EVENTS: u64 = 20_000;

#[derive(Deserialize, Default)]
pub(super) struct SessionsQuery {
    /// 1-based page number.
    page: Option<u64>,
    /// Only sessions whose name contains this.
    q: Option<String>,
    /// Only sessions of this source (`production`, `dev`, ...).
    source: Option<String>,
    /// Only sessions that failed.
    errors: Option<String>,
}

impl SessionsQuery {
    fn filters(&self) -> Result<FilterSet, ApiError> {
        let mut filters = vec![
            json!({"field": "event_type", "operator": "is", "value": "session", "type": "string"}),
        ];
        if let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            filters.push(json!({"field": "event_name", "operator": "contains", "value": q, "type": "string"}));
        }
        if let Some(source) = self
            .source
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            filters.push(
                json!({"field": "source", "operator": "is", "value": source, "type": "string"}),
            );
        }
        if self.errors.is_some() {
            filters.push(json!({"field": "error", "operator": "exists", "type": "string"}));
        }
        FilterSet::from_json(&Value::Array(filters))
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    fn params(&self) -> Vec<(&'static str, &str)> {
        [
            ("q", &self.q),
            ("source", &self.source),
            ("errors", &self.errors),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| (name, v))
        })
        .collect()
    }
}

pub(super) async fn page(
    State(state): State<Dashboard>,
    viewer: Viewer,
    Query(query): Query<SessionsQuery>,
) -> Response {
    match render(&state, &viewer, &query).await {
        Ok(page) => page,
        Err(e) => error_page(e),
    }
}

async fn render(
    state: &Dashboard,
    viewer: &Viewer,
    query: &SessionsQuery,
) -> Result<Response, ApiError> {
    let page_number = query.page.unwrap_or(1).max(1);
    let limits = state.config.read_limits();
    let sessions = state
        .store
        .query_events(
            &viewer.tenant,
            &EventQuery {
                filters: query.filters()?,
                limit: PAGE_SIZE,
                offset: (page_number - 1).saturating_mul(PAGE_SIZE),
                order: SortOrder::Descending,
                max_bytes: limits.max_bytes,
                json_fields: Some(vec![JsonRoot::Metadata]),
                exact_total: false,
                ..EventQuery::default()
            },
        )
        .await?;
    let totals = rollups(state, viewer, &sessions.items).await;
    let body = Page::signed_in("Sessions", viewer).render(html! {
        h1 { "Sessions" }
        form.filters method="get" action="/ui/sessions" {
            input type="search" name="q" placeholder="name contains" value=[query.q.as_deref()];
            input type="text" name="source" placeholder="source" value=[query.source.as_deref()];
            label { input type="checkbox" name="errors" value="1" checked[query.errors.is_some()]; " errors only" }
            button type="submit" { "Filter" }
        }
        p.count { (listed(page_number, PAGE_SIZE, sessions.items.len())) }
        table.sessions {
            thead { tr {
                th { "Name" } th { "Start" } th.num { "Duration" } th.num { "Events" }
                th.num { "Tokens" } th.num { "Cost" } th { "Source" } th { "Error" }
            } }
            tbody {
                @for session in &sessions.items {
                    @let total = totals.get(session.event_id.as_str());
                    tr {
                        td { a href=(format!("/ui/sessions/{}", url_encode(&session.session_id))) {
                            (if session.event_name.is_empty() { "(unnamed)" } else { &session.event_name })
                        } }
                        td { (time(session.start_time)) }
                        td.num { (duration(session.duration)) }
                        td.num { (total.map_or("—".into(), |t| count(t.num_events))) }
                        td.num { (total.map_or("—".into(), |t| count(t.total_tokens))) }
                        td.num { (total.map_or("—".into(), |t| cost(t.cost))) }
                        td { (session.source) }
                        td.error { (session.error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        @if sessions.items.is_empty() {
            p.empty { "No sessions yet. Point a client at this server (HH_API_URL) and they appear here." }
        }
        (pager("/ui/sessions", &query.params(), page_number, PAGE_SIZE, sessions.total))
    });
    Ok(body.into_response())
}

/// Each listed session's roll-up (events, tokens, cost), from the metadata of
/// its events; none when the page's sessions hold too many to read at once.
async fn rollups(
    state: &Dashboard,
    viewer: &Viewer,
    sessions: &[Event],
) -> HashMap<String, SessionRollup> {
    if sessions.is_empty() {
        return HashMap::new();
    }
    let query = EventQuery {
        session_ids: sessions.iter().map(|s| s.session_id.clone()).collect(),
        limit: MAX_ROLLUP_EVENTS,
        max_bytes: state.config.read_limits().max_bytes,
        json_fields: Some(vec![JsonRoot::Metadata]),
        ..EventQuery::default()
    };
    let Ok(events) = state.store.query_events(&viewer.tenant, &query).await else {
        return HashMap::new();
    };
    if events.total > MAX_ROLLUP_EVENTS {
        return HashMap::new();
    }
    let mut by_session: HashMap<&str, Vec<&Event>> = HashMap::new();
    for event in &events.items {
        by_session
            .entry(event.session_id.as_str())
            .or_default()
            .push(event);
    }
    sessions
        .iter()
        .map(|s| {
            let events = by_session
                .get(s.session_id.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            (s.event_id.clone(), rollup(events.iter().copied()))
        })
        .collect()
}
