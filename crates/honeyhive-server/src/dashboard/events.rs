//! `GET /ui/events`: every event of the project, newest first, paged, with
//! the filters of the sessions page plus the event type.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use honeyhive_model::filter::JsonRoot;
use maud::html;

use super::Dashboard;
use super::filters::{ListFilters, Offered, PageQuery};
use super::view::{
    Page, Viewer, cost, count, duration, error_page, listed, number, pager, time, url_encode,
};
use crate::api::ApiError;
use crate::store::{EventQuery, SortOrder};

const PAGE_SIZE: u64 = 100;

/// `GET /ui/events`.
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
    let events = state
        .store
        .query_events(
            &viewer.tenant,
            &EventQuery {
                filters: filters.filter_set(&[])?,
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
    Ok(Page::signed_in("Events", viewer)
        .render(html! {
            h1 { "Events" }
            (filters.form("/ui/events", Offered { event_type: true, source_and_errors: true }, html! {}))
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
            (pager("/ui/events", &filters.params(), page_number, PAGE_SIZE, events.total))
        })
        .into_response())
}
