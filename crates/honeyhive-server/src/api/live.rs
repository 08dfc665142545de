//! `GET /v1/events/stream`: committed events as server-sent events, for
//! scripts, `curl -N` and `hh tail`.
//!
//! ```text
//! event: ready            id: <cursor>  data: {"cursor":<cursor>}
//! event: created|updated  id: <seq>     data: <the event, as GET /events shows it>
//! event: lagged                         data: {"missed":<n>,"hint":"..."}
//! : keep-alive                          (a comment, while nothing else is sent)
//! ```
//!
//! `filters` is the filter JSON of `GET /events` (also `evaluation_id`); a bad
//! one is answered 400 before the stream starts. A client that reconnects
//! with `Last-Event-ID: <the last id it read>` first gets, from the store,
//! what committed after it (at most [`MAX_REPLAY_EVENTS`](crate::live::MAX_REPLAY_EVENTS)),
//! then live events, with no gap and no repeat. A "lagged" notice stands
//! where events were missed; reconnecting with the last id reads them back.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use honeyhive_model::filter::{FieldPath, Filter, FilterSet, FilterValue, Operator};
use serde_json::{Map, Value, json};

use super::query::{parse_filters, qs_tree, string_param};
use crate::api::{ApiError, AppState, QueryParams};
use crate::live::{Follow, FollowMessage};
use crate::store::Tenant;

/// Longest silence on a stream: a keep-alive comment is sent after it (or
/// after half the connection idle timeout, if that is shorter).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Most messages one write of a stream carries.
const MESSAGES_PER_WRITE: usize = 64;

/// What a client told it lagged can do.
const LAG_HINT: &str = "this client read too slowly and missed events; reconnect with \
    Last-Event-ID set to the last id read to get them from the store";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/events/stream", get(stream))
}

/// The stream's filters: `filters` as `GET /events` reads them, and
/// `evaluation_id` as a `metadata.run_id` filter (the GraphQL subscription's
/// too).
pub(crate) fn stream_filters(params: &Map<String, Value>) -> Result<FilterSet, ApiError> {
    let mut filters = parse_filters(params.get("filters"))?;
    if let Some(run_id) = string_param(params.get("evaluation_id")) {
        filters.push(Filter {
            field: FieldPath::parse("metadata.run_id")?,
            operator: Operator::Is,
            value: FilterValue::Text(run_id),
        });
    }
    Ok(filters)
}

/// The cursor of `Last-Event-ID`, if the client sent one.
fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        ApiError::bad_request(format!(
            "last-event-id {text:?} is not an id this stream sent"
        ))
        .with_hint("send the id of the last event read, or no Last-Event-ID to start from now")
    })
}

/// One message as a server-sent event's text.
fn sse_text(message: &FollowMessage) -> String {
    let (event, id, data) = match message {
        FollowMessage::Ready { cursor } => (
            "ready",
            Some(*cursor),
            json!({ "cursor": cursor }).to_string(),
        ),
        FollowMessage::Event(event) => (
            event.kind.as_str(),
            Some(event.seq),
            event.json().to_string(),
        ),
        FollowMessage::Lagged { missed } => (
            "lagged",
            None,
            json!({ "missed": missed, "hint": LAG_HINT }).to_string(),
        ),
    };
    let mut text = format!("event: {event}\n");
    if let Some(id) = id {
        text.push_str(&format!("id: {id}\n"));
    }
    for line in data.split('\n') {
        text.push_str("data: ");
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    text
}

async fn stream(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    stream_for(&state, tenant, &headers, &pairs).await
}

/// `tenant`'s stream for a request with `headers` and query `pairs`: what
/// `GET /v1/events/stream` answers, and the dashboard's live page reads.
pub(crate) async fn stream_for(
    state: &AppState,
    tenant: Tenant,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<Response, ApiError> {
    let filters = stream_filters(&qs_tree(pairs))?;
    let resume_after = last_event_id(headers)?;
    let max_read_bytes = state.config.read_limits().max_bytes;
    let follow = Follow::start(
        &state.live,
        state.store.clone(),
        tenant,
        filters,
        resume_after,
        max_read_bytes,
    )
    .await?;
    // The messages already waiting go out in one write: with many
    // subscribers, a write (a system call) per event cost more than the event.
    let messages = futures_util::stream::unfold(follow, |mut follow| async move {
        let message = follow.next().await?;
        Some((message, follow))
    })
    .ready_chunks(MESSAGES_PER_WRITE);
    let silence = KEEP_ALIVE.min(state.config.idle_timeout / 2);
    let frames = futures_util::stream::unfold(Box::pin(messages), move |mut messages| async move {
        // `next` only polls the stream, which keeps its own state: dropping it
        // at the timeout loses nothing.
        let text = match tokio::time::timeout(silence, messages.next()).await {
            Ok(Some(chunk)) => chunk.iter().map(sse_text).collect::<String>(),
            Ok(None) => return None,
            Err(_) => ": keep-alive\n\n".to_string(),
        };
        Some((Ok::<_, Infallible>(Bytes::from(text)), messages))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(frames),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_message_is_one_server_sent_event() {
        assert_eq!(
            sse_text(&FollowMessage::Ready { cursor: 7 }),
            "event: ready\nid: 7\ndata: {\"cursor\":7}\n\n"
        );
        let lagged = sse_text(&FollowMessage::Lagged { missed: 3 });
        assert!(
            lagged.starts_with("event: lagged\ndata: {\"missed\":3,"),
            "{lagged}"
        );
        assert!(
            lagged.ends_with("\n\n") && !lagged.contains("id:"),
            "{lagged}"
        );
    }
}
