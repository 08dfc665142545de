//! `GET /ui/events`: every event of the project, newest first, paged, with
//! the filters of the sessions page plus the event type.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use honeyhive_model::EventType;
use honeyhive_model::filter::{FilterSet, JsonRoot};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::signin::Viewer;
use super::view::{
    Page, cost, count, duration, error_page, listed, number, pager, time, url_encode,
};
use crate::api::ApiError;
use crate::store::{EventQuery, SortOrder};

const PAGE_SIZE: u64 = 100;

#[derive(Deserialize, Default)]
pub(super) struct EventsQuery {
    page: Option<u64>,
    event_type: Option<String>,
    q: Option<String>,
    source: Option<String>,
    errors: Option<String>,
}

impl EventsQuery {
    fn filters(&self) -> Result<FilterSet, ApiError> {
        let mut filters = Vec::new();
        if let Some(kind) = self.event_type.as_deref().filter(|k| !k.is_empty()) {
            let kind = EventType::parse(kind).ok_or_else(|| {
                ApiError::bad_request(format!("{kind:?} is not an event type"))
                    .with_hint("pick session, chain, model or tool")
            })?;
            filters.push(json!({"field": "event_type", "operator": "is", "value": kind.as_str(), "type": "string"}));
        }
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
            ("event_type", &self.event_type),
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

/// `GET /ui/events`.
pub(super) async fn page(
    State(state): State<Dashboard>,
    viewer: Viewer,
    Query(query): Query<EventsQuery>,
) -> Response {
    match render(&state, &viewer, &query).await {
        Ok(page) => page,
        Err(e) => error_page(e),
    }
}

async fn render(
    state: &Dashboard,
    viewer: &Viewer,
    query: &EventsQuery,
) -> Result<Response, ApiError> {
    let page_number = query.page.unwrap_or(1).max(1);
    let events = state
        .store
        .query_events(
            &viewer.tenant,
            &EventQuery {
                filters: query.filters()?,
                limit: PAGE_SIZE,
                offset: (page_number - 1).saturating_mul(PAGE_SIZE),
                order: SortOrder::Descending,
                max_bytes: state.config.read_limits().max_bytes,
                json_fields: Some(vec![JsonRoot::Metadata]),
                exact_total: false,
                ..EventQuery::default()
            },
        )
        .await?;
    let selected = query.event_type.as_deref().unwrap_or("");
    Ok(Page::signed_in("Events", viewer)
        .render(html! {
            h1 { "Events" }
            form.filters method="get" action="/ui/events" {
                select name="event_type" {
                    option value="" selected[selected.is_empty()] { "any type" }
                    @for kind in ["session", "chain", "model", "tool"] {
                        option value=(kind) selected[selected == kind] { (kind) }
                    }
                }
                input type="search" name="q" placeholder="name contains" value=[query.q.as_deref()];
                input type="text" name="source" placeholder="source" value=[query.source.as_deref()];
                label { input type="checkbox" name="errors" value="1" checked[query.errors.is_some()]; " errors only" }
                button type="submit" { "Filter" }
            }
            p.count { (listed(page_number, PAGE_SIZE, events.items.len())) }
            table.events {
                thead { tr {
                    th { "Start" } th { "Type" } th { "Name" } th.num { "Duration" }
                    th.num { "Tokens" } th.num { "Cost" } th { "Error" }
                } }
                tbody {
                    @for event in &events.items {
                        @let meta = &event.metadata;
                        @let tokens = number(meta, "total_tokens").unwrap_or_else(|| {
                            number(meta, "prompt_tokens").unwrap_or(0.0) + number(meta, "completion_tokens").unwrap_or(0.0)
                        });
                        tr.failed[event.error.is_some()] {
                            td { (time(event.start_time)) }
                            td { span class=(format!("type type-{}", event.event_type.as_str())) { (event.event_type.as_str()) } }
                            td { a href=(format!("/ui/sessions/{}?event={}", url_encode(&event.session_id), url_encode(&event.event_id))) {
                                (if event.event_name.is_empty() { "(unnamed)" } else { &event.event_name })
                            } }
                            td.num { (duration(event.duration)) }
                            td.num { (count(tokens.max(0.0) as u64)) }
                            td.num { (cost(number(meta, "cost").unwrap_or(0.0))) }
                            td.error { (event.error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            (pager("/ui/events", &query.params(), page_number, PAGE_SIZE, events.total))
        })
        .into_response())
}
