//! The browser dashboard at `/`: pages rendered on the server (maud escapes
//! every value it interpolates), signed in with an API key or a one-time link,
//! scoped to the key's project like the REST API. Pages load nothing from
//! outside the server and run no script but the live page's own, which a
//! strict Content-Security-Policy enforces in the browser.
//!
//! ```text
//! /login ─ key or one-time link ─> signed cookie ─> /ui/sessions ─> /ui/sessions/{id}?event=…
//! ```

mod chart;
mod datasets;
mod events;
mod filters;
mod live;
mod monitoring;
mod runs;
mod session;
mod sessions;
mod signin;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

pub use signin::SignIn;
pub use view::Viewer;

use crate::api::AppState;

/// Sign-in forms are a few hundred bytes.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// Scripts (the live page's one, the GraphQL explorer's), styles, images,
/// streams and form targets only from this server; no inline script or
/// style, no frames.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

const APP_CSS: &str = include_str!("app.css");
const LIVE_JS: &str = include_str!("live.js");

/// What the dashboard's handlers share: the API's state (the store, keys,
/// limits) and the signing key.
#[derive(Clone)]
pub struct Dashboard {
    app: AppState,
    sign_in: Arc<SignIn>,
}

impl std::ops::Deref for Dashboard {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.app
    }
}

/// The dashboard's routes over `app`'s store, signed with `sign_in`; they sit
/// beside the API's (outside its bearer-key admission) and their answers carry
/// the security headers.
pub(crate) fn routes(app: AppState, sign_in: Arc<SignIn>) -> Router {
    let metrics = app.metrics.clone();
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/sessions") }))
        .route("/login", get(signin::page).post(signin::submit))
        .route("/logout", post(signin::sign_out))
        .route("/ui/sessions", get(sessions::page))
        .route("/ui/sessions/{session_id}", get(session::page))
        .route("/ui/events", get(events::page))
        .route("/ui/datasets", get(datasets::list))
        .route("/ui/datasets/{dataset_id}", get(datasets::dataset))
        .route("/ui/runs", get(runs::list))
        .route("/ui/runs/{run_id}", get(runs::run))
        .route("/ui/runs/{run_id}/compare", get(runs::compare))
        .route("/ui/monitoring", get(monitoring::page))
        .route("/ui/live", get(live::page))
        .route("/ui/live/stream", get(live::stream))
        .route("/ui/assets/app.css", get(stylesheet))
        .route("/ui/assets/live.js", get(live_script))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(move |req, next| {
            crate::metrics::track_request(metrics.clone(), req, next)
        }))
        .with_state(Dashboard { app, sign_in })
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        APP_CSS,
    )
}

async fn live_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        LIVE_JS,
    )
}

/// The headers of every page the server shows a browser: the
/// Content-Security-Policy above, no sniffing, no framing, no referrer, and
/// no caching unless the answer says otherwise.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
