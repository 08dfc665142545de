//! Admission of requests with a body, before any handler runs: the key is
//! checked (401), the declared length (413), then the request takes its share
//! of the in-flight budget (429) for as long as its handler runs, that is until
//! its write committed. Its body is charged chunk by chunk as it arrives, and
//! the stages that decode it charge what decoding takes.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState, declared_length, discard_body, over_budget, too_large};
use crate::auth::{AuthError, bearer_token};
use crate::ingest::budget::{Budget, BudgetedBody, RequestBudget};
use crate::store::Tenant;

/// The tenant a request's `Authorization` header names (HTTP and gRPC alike).
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Tenant, ApiError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?;
    let key = value
        .to_str()
        .ok()
        .and_then(bearer_token)
        .ok_or(AuthError::NotBearer)?;
    Ok(state.keys.authenticate(state.store.as_ref(), key).await?)
}

/// Handlers take a `Tenant` argument to require a valid `Authorization: Bearer <key>`.
/// A request this layer already authenticated carries its tenant.
impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(tenant) = parts.extensions.get::<Tenant>() {
            return Ok(tenant.clone());
        }
        authenticate(state, &parts.headers).await
    }
}

/// Methods whose requests carry a body the handlers read.
fn carries_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// The admission layer of every route that reads a body (the API's, and
/// the GraphQL endpoint's).
pub(crate) async fn admit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !carries_body(req.method()) {
        return next.run(req).await;
    }
    let tenant = match authenticate(&state, req.headers()).await {
        Ok(tenant) => tenant,
        Err(e) => return e.into_response(),
    };
    let declared = declared_length(req.headers());
    let limit = state.config.max_body_bytes;
    if let Some(declared) = declared.filter(|n| *n > limit) {
        let answer = too_large(limit);
        // Drained so the client reads the 413 rather than a reset, up to a
        // bound: a body far past the limit only gets its connection closed.
        discard_body(req, declared.min(limit.saturating_mul(2).max(1 << 20))).await;
        return answer.into_response();
    }
    let prepaid = declared.unwrap_or(0);
    let permit = match Budget::try_acquire(&state.budget, prepaid) {
        Ok(permit) => permit,
        Err(refusal) => {
            let answer = over_budget(&state, refusal, prepaid);
            discard_body(req, limit).await;
            return answer.into_response();
        }
    };
    let budget = RequestBudget::new(permit);
    req.extensions_mut().insert(tenant);
    req.extensions_mut().insert(budget.clone());
    let body_budget = budget.clone();
    let req = req.map(|body| Body::new(BudgetedBody::new(body, body_budget, prepaid)));
    let response = next.run(req).await;
    // Held until here: handlers answer only after their write committed.
    drop(budget);
    response
}
