//! The GraphQL API at `/graphql` (async-graphql), beside the REST API and
//! scoped the same way: every resolver reads the store for the project of
//! the request's key, through the REST routes' own functions.
//!
//! ```text
//! POST /graphql         a query: admission (key → 401, length → 413, budget → 429)
//!                       ─> body ≤ graphql.max_body_bytes ─> parse (nesting checked first)
//!                       ─> depth and cost limits ─> resolvers ─> JSON on the blocking pool
//! GET  /graphql         upgrade: WebSocket, `graphql-transport-ws` (subscriptions), ws/
//!                       otherwise: the explorer page (our own HTML and script, served here)
//! ```
//!
//! | file | what |
//! |---|---|
//! | `schema.rs` | the schema, its limits, `events`, `sessions`, `session` |
//! | `context.rs` | what every resolver reads from its context, what a read costs, paging |
//! | `types.rs`, `page.rs` | `Event`, the session tree; a page of any list |
//! | `runs.rs` | `runs`, `run`, `compareRuns`; `run_node.rs` a run with its result and a comparison, `results.rs` their parts |
//! | `datasets.rs` | `datasets`, `datapoints`; `dataset_objects.rs` their types |
//! | `metrics.rs` | `metricTimeseries`: the streaming metric buckets |
//! | `subscription.rs` | `subscription { events }` over the live hub |
//! | `ws/` | the `graphql-transport-ws` protocol (`messages.rs`: what it sends and reads) |
//! | `errors.rs` | our error codes in every error's `extensions` |
//! | `size.rs` | fields a query selects once its fragments are spread (refused past the cost limit first) |

mod context;
mod dataset_objects;
mod datasets;
mod errors;
mod metrics;
mod page;
mod results;
mod run_node;
mod runs;
mod schema;
mod size;
mod subscription;
mod types;
mod ws;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;

use crate::api::admission::{admit, authenticate};
use crate::api::{
    ApiError, AppState, declared_length, discard_body, json_answer, json_body, too_large,
};
use crate::store::Tenant;
use context::Scope;
use schema::ApiSchema;

const EXPLORER_HTML: &str = include_str!("explorer.html");
const EXPLORER_JS: &str = include_str!("explorer.js");
const EXPLORER_CSS: &str = include_str!("explorer.css");

/// What the GraphQL handlers share: the API's state, the schema, and the
/// server's stop signal (open WebSockets close on it).
#[derive(Clone)]
pub(crate) struct Graphql {
    state: AppState,
    schema: ApiSchema,
    stopped: watch::Receiver<bool>,
}

/// The GraphQL routes over `state`, with the API's admission and request
/// metrics; WebSockets close when `stopped` turns true.
pub(crate) fn routes(state: AppState, stopped: watch::Receiver<bool>) -> Router {
    let metrics = state.metrics.clone();
    let graphql = Graphql {
        schema: schema::build(state.config.graphql),
        state: state.clone(),
        stopped,
    };
    Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .route("/graphql/explorer.js", get(script))
        .route("/graphql/explorer.css", get(stylesheet))
        .layer(axum::middleware::map_response(
            crate::dashboard::security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(state, admit))
        .layer(axum::middleware::from_fn(move |req, next| {
            crate::metrics::track_request(metrics.clone(), req, next)
        }))
        .with_state(graphql)
}

/// The request's tenant: admitted already (a POST), or from its
/// `Authorization` header.
async fn tenant(state: &AppState, parts: &Parts) -> Result<Tenant, ApiError> {
    match parts.extensions.get::<Tenant>() {
        Some(tenant) => Ok(tenant.clone()),
        None => authenticate(state, &parts.headers).await,
    }
}

/// `POST /graphql`: one query (`{"query", "operationName", "variables"}`),
/// answered `{"data", "errors"}`.
async fn post_graphql(State(graphql): State<Graphql>, req: Request) -> Result<Response, ApiError> {
    let state = &graphql.state;
    let (parts, body) = req.into_parts();
    let tenant = tenant(state, &parts).await?;
    let req = Request::from_parts(parts, body);
    let limit = state.config.graphql.max_body_bytes;
    if declared_length(req.headers()).is_some_and(|n| n > limit) {
        // Drained, up to a bound, so the client reads the 413 rather than a reset.
        discard_body(req, limit.saturating_mul(4)).await;
        return Err(too_large(limit)
            .with_hint("send a shorter query; large values belong in the REST API's bodies"));
    }
    let request: async_graphql::Request = json_body(state, req, limit).await?;
    let request = request.data(Scope {
        state: state.clone(),
        tenant,
    });
    let response = graphql.schema.execute(request).await;
    json_answer(move || serde_json::to_vec(&response)).await
}

/// `GET /graphql`: a WebSocket when the request asks to upgrade, else the
/// explorer page.
async fn get_graphql(
    State(graphql): State<Graphql>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: HeaderMap,
) -> Response {
    let asks_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !asks_upgrade {
        return explorer();
    }
    match upgrade {
        Ok(upgrade) => ws::upgrade(graphql, upgrade, &headers)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(rejection) => ApiError::bad_request(format!(
            "not a websocket handshake: {}",
            rejection.body_text()
        ))
        .with_hint("open a WebSocket with the graphql-transport-ws subprotocol, or POST queries")
        .into_response(),
    }
}

fn explorer() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        EXPLORER_HTML,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        EXPLORER_JS,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        EXPLORER_CSS,
    )
        .into_response()
}
