//! `GET /ui/sessions`: the project's sessions, newest first, paged, filtered
//! by name, source and errors; each row with its events, tokens and cost.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use honeyhive_model::Event;
use honeyhive_model::filter::JsonRoot;
use honeyhive_model::rollup::{SessionRollup, rollup};
use maud::html;
use serde_json::json;

use super::Dashboard;
use super::filters::{ListFilters, Offered, PageQuery};
use super::view::{
    Page, Viewer, cost, count, duration, error_page, listed, pager, time, url_encode,
};
use crate::api::ApiError;
use crate::store::{EventQuery, ReadError, SortOrder};

/// Sessions on one page.
const PAGE_SIZE: u64 = 50;
/// Most events read to total a page's sessions; past it the totals show a dash.
const MAX_ROLLUP_EVENTS: u64 = 20_000;

pub(super) async fn page(
    State(state): State<Dashboard>,
    viewer: Viewer,
    Query(page): Query<PageQuery>,
    Query(filters): Query<ListFilters>,
) -> Response {
    match render(&state, &viewer, page.number(), &filters).await {
        Ok(page) => page,
        Err(e) => error_page(e),
    }
}

async fn render(
    state: &Dashboard,
    viewer: &Viewer,
    page_number: u64,
    filters: &ListFilters,
) -> Result<Response, ApiError> {
    let limits = state.config.read_limits();
    let sessions = state
        .store
        .query_events(
            &viewer.tenant,
            &EventQuery {
                filters: filters.filter_set(&[json!(
                    {"field": "event_type", "operator": "is", "value": "session", "type": "string"}
                )])?,
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
    let rolled_up = rollups(state, viewer, &sessions.items).await?;
    let totals = rolled_up.as_ref();
    let body = Page::signed_in("Sessions", viewer).render(html! {
        h1 { "Sessions" }
        (filters.form("/ui/sessions", Offered { event_type: false, source_and_errors: true }, html! {}))
        p.count { (listed(page_number, PAGE_SIZE, sessions.items.len())) }
        table.sessions {
            thead { tr {
                th { "Name" } th { "Start" } th.num { "Duration" } th.num { "Events" }
                th.num { "Tokens" } th.num { "Cost" } th { "Source" } th { "Error" }
            } }
            tbody {
                @for session in &sessions.items {
                    @let total = totals.and_then(|t| t.get(session.event_id.as_str()));
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
        @if rolled_up.is_none() {
            p.hint { "Events, tokens and cost are not shown: this page's sessions hold more than "
                (MAX_ROLLUP_EVENTS) " events or more than the read limit's bytes." }
        }
        @if sessions.items.is_empty() {
            p.empty { "No sessions yet. Point a client at this server (HH_API_URL) and they appear here." }
        }
        (pager("/ui/sessions", &filters.params(), page_number, PAGE_SIZE, sessions.total))
    });
    Ok(body.into_response())
}

/// Each listed session's roll-up (events, tokens, cost), from the metadata of
/// its events; `None` when the page's sessions hold too many to read at once.
/// A store that fails is the page's error, not a row of dashes.
async fn rollups(
    state: &Dashboard,
    viewer: &Viewer,
    sessions: &[Event],
) -> Result<Option<HashMap<String, SessionRollup>>, ApiError> {
    if sessions.is_empty() {
        return Ok(Some(HashMap::new()));
    }
    let query = EventQuery {
        session_ids: sessions.iter().map(|s| s.session_id.clone()).collect(),
        limit: MAX_ROLLUP_EVENTS,
        max_bytes: state.config.read_limits().max_bytes,
        json_fields: Some(vec![JsonRoot::Metadata]),
        ..EventQuery::default()
    };
    let events = match state.store.query_events(&viewer.tenant, &query).await {
        Ok(events) if events.total <= MAX_ROLLUP_EVENTS => events,
        Ok(_) | Err(ReadError::TooLarge(_)) => return Ok(None),
        Err(ReadError::Store(e)) => return Err(e.into()),
    };
    let mut by_session: HashMap<&str, Vec<&Event>> = HashMap::new();
    for event in &events.items {
        by_session
            .entry(event.session_id.as_str())
            .or_default()
            .push(event);
    }
    let totals = sessions
        .iter()
        .map(|s| {
            let events = by_session
                .get(s.session_id.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            (s.event_id.clone(), rollup(events.iter().copied()))
        })
        .collect();
    Ok(Some(totals))
}
