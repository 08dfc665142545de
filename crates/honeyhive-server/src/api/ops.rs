//! Ops endpoints: liveness, readiness, metrics, the OpenAPI document.
//!
//! `/metrics` shows figures across tenants, so it is not public: it answers a
//! bearer token (`metrics_token`) when one is configured, and otherwise only
//! clients on a loopback address. `/readyz` probes the store's writer at most
//! once a second, however often it is asked.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use honeyhive_model::ErrorCode;
use serde_json::json;

use super::{ApiError, AppState};
use crate::auth::{bearer_token, hash_key};
use crate::store::Store;

/// The REST spec this server implements.
const OPENAPI_JSON: &str = include_str!("../../openapi.json");
/// How long one readiness probe's outcome answers `/readyz`.
const READINESS_TTL: Duration = Duration::from_secs(1);

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The last readiness probe and when it ran; concurrent askers wait for one probe.
#[derive(Debug, Default)]
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, Result<(), ApiError>)>>,
}

impl Readiness {
    async fn check(&self, store: &dyn Store) -> Result<(), ApiError> {
        let mut last = self.last.lock().await;
        if let Some((at, outcome)) = last.as_ref()
            && at.elapsed() < READINESS_TTL
        {
            return outcome.clone();
        }
        let outcome = store.check_writable().await.map_err(ApiError::from);
        *last = Some((Instant::now(), outcome.clone()));
        outcome
    }
}

async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state.readiness.check(state.store.as_ref()).await?;
    Ok(Json(json!({"status": "ready"})))
}

/// Whether a `/metrics` request may see the figures.
fn may_read_metrics(state: &AppState, req: &Request) -> Result<(), ApiError> {
    match &state.config.metrics_token {
        Some(token) => {
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token);
            // Compared as hashes, so the time taken says nothing about the token.
            if given.is_some_and(|given| hash_key(given) == hash_key(token)) {
                Ok(())
            } else {
                Err(ApiError::new(ErrorCode::Unauthenticated, "missing or wrong metrics token")
                    .with_hint("send `Authorization: Bearer <metrics token>` (the server's HH_METRICS_TOKEN)"))
            }
        }
        None => {
            let loopback = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "metrics are served to loopback clients only",
                )
                .with_hint("set HH_METRICS_TOKEN on the server and send it as a bearer token"))
            }
        }
    }
}

async fn metrics(
    State(state): State<AppState>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    may_read_metrics(&state, &req)?;
    let body = state.metrics.render(
        state.store.stats(),
        state.live.stats(),
        state.budget.inflight_bytes(),
        state.budget.inflight_requests(),
    );
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    ))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}
