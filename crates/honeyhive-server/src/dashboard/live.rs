//! `GET /ui/live`: events appear as they commit, without a reload. The page's
//! one script (`live.js`, served by us) reads `GET /ui/live/stream`, the same
//! server-sent events as `GET /v1/events/stream` for the signed-in project,
//! and adds each event as a row through `textContent`, so nothing it shows
//! is parsed as markup.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::Dashboard;
use super::filters::{ListFilters, Offered};
use super::view::{Page, Viewer, error_page, url_encode};
use crate::api::live::stream_for;

/// `GET /ui/live`.
pub(super) async fn page(viewer: Viewer, Query(filters): Query<ListFilters>) -> Response {
    let filter_json = match filters.json() {
        Ok(json) => json,
        Err(e) => return error_page(e),
    };
    let stream = format!(
        "/ui/live/stream?filters={}",
        url_encode(&filter_json.to_string())
    );
    let controls = html! {
        button #pause type="button" { "Pause" }
        span #status role="status" { "connecting…" }
    };
    Page::signed_in("Live", &viewer)
        .with_script("/ui/assets/live.js")
        .render(html! {
            h1 { "Live" }
            (filters.form("/ui/live", Offered { event_type: true, source_and_errors: true }, controls))
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
