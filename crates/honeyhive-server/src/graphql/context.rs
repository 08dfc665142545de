//! What every resolver reads from its context (the tenant and the server's
//! state), what a read costs, and the paging and parameters the REST
//! routes' parsers take.

use async_graphql::Context;
use honeyhive_model::ErrorCode;
use serde_json::{Map, Value};

use crate::api::query::{MAX_PAGE_SIZE, parse_paging};
use crate::api::{ApiError, AppState};
use crate::store::Tenant;

/// Who a request acts for and the server it reads: every resolver's context.
pub(crate) struct Scope {
    pub(crate) state: AppState,
    pub(crate) tenant: Tenant,
}

/// The request's [`Scope`].
pub(super) fn scope<'a>(ctx: &Context<'a>) -> Result<&'a Scope, ApiError> {
    ctx.data::<Scope>()
        .map_err(|_| ApiError::new(ErrorCode::Internal, "graphql request without a tenant"))
}

/// Rows on a page when a query does not say (`GET /events` shows 1000: here
/// a page's cost grows with its rows).
pub(super) const DEFAULT_PAGE_SIZE: u64 = 50;
/// What a field that reads a page of the store costs, besides its rows.
pub(super) const READ_COST: usize = 50;
/// What a read whose size the query does not choose costs: a session tree,
/// a run's result.
pub(super) const WHOLE_READ_COST: usize = 250;

/// The rows a page of `limit` holds (the default when none, at most the
/// largest page `GET /events` answers).
fn page_rows(limit: Option<u64>) -> usize {
    let rows = limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    usize::try_from(rows).unwrap_or(usize::MAX)
}

/// The cost of a page of `limit` rows whose selection costs `child` each.
pub(super) fn paged_cost(limit: Option<u64>, child: usize) -> usize {
    READ_COST.saturating_add(page_rows(limit).saturating_mul(child))
}

/// `(limit, offset, page)` as `GET /events` reads them, with the GraphQL default page size.
pub(super) fn paging(limit: Option<u64>, page: Option<u64>) -> Result<(u64, u64, u64), ApiError> {
    parse_paging(
        Some(&Value::from(limit.unwrap_or(DEFAULT_PAGE_SIZE))),
        page.map(Value::from).as_ref(),
    )
}

/// The REST parameters `values` name (absent ones left out), for the REST
/// API's own parsers.
pub(super) fn params<const N: usize>(values: [(&str, Option<Value>); N]) -> Map<String, Value> {
    values
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key.to_string(), v)))
        .collect()
}
