//! The schema: its limits, what every resolver reads from its context (the
//! tenant and the server's state), what a field costs, and the event queries
//! (`events`, `sessions`, `session`). Runs are in `runs.rs`, datasets in
//! `datasets.rs`, the subscription in `subscription.rs`.

use std::sync::Arc;

use async_graphql::{Context, EmptyMutation, ID, MergedObject, Object, Schema};
use honeyhive_model::filter::{FieldPath, Filter, FilterValue, JsonRoot, Operator};
use honeyhive_model::{ErrorCode, Event};
use serde_json::{Map, Value};

use super::datasets::DatasetQueries;
use super::errors::Coded;
use super::metrics::MetricQueries;
use super::runs::RunQueries;
use super::subscription::SubscriptionRoot;
use super::types::{EventObject, Paged, SessionTree};
use crate::api::events::{event_query, read_events};
use crate::api::query::{MAX_PAGE_SIZE, parse_paging};
use crate::api::runs::blocking;
use crate::api::sessions::read_session_tree;
use crate::api::{ApiError, AppState};
use crate::config::GraphqlLimits;
use crate::store::{EventQuery, SortOrder, Tenant, apply_rollup};

/// The API's schema.
pub(crate) type ApiSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

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

/// Most directives one field may carry.
const MAX_DIRECTIVES_PER_FIELD: usize = 8;

/// The schema with `limits`, its errors coded.
pub(crate) fn build(limits: GraphqlLimits) -> ApiSchema {
    Schema::build(QueryRoot::default(), EmptyMutation, SubscriptionRoot)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        // A field has no use for more directives than @skip and @include a few
        // times over; thousands of them would each be validated.
        .limit_directives(MAX_DIRECTIVES_PER_FIELD)
        .extension(Coded { limits })
        .finish()
}

/// Every query field.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub(crate) struct QueryRoot(EventQueries, RunQueries, DatasetQueries, MetricQueries);

/// `events`, `sessions` and `session`.
#[derive(Default)]
pub(super) struct EventQueries;

/// Arguments of an event list, as `GET /events` takes them.
struct ListArgs {
    filters: Option<Value>,
    date_range: Option<Value>,
    evaluation_id: Option<String>,
    limit: Option<u64>,
    page: Option<u64>,
}

/// The store query of an event list, read only as far as its selection
/// needs: the JSON documents the rows select, and an exact total only when
/// `total` is asked for.
fn list_query(ctx: &Context<'_>, args: ListArgs) -> Result<(EventQuery, u64), ApiError> {
    let (limit, _, _) = paging(args.limit, args.page)?;
    let params = params([
        ("filters", args.filters),
        ("dateRange", args.date_range),
        ("evaluation_id", args.evaluation_id.map(Value::from)),
        ("limit", Some(Value::from(limit))),
        ("page", args.page.map(Value::from)),
    ]);
    let (mut query, _, page) = event_query(&params)?;
    let selection = ctx.look_ahead();
    let items = selection.field("items");
    let wants = |field: &str| items.field(field).exists();
    let documents = [
        (JsonRoot::Inputs, wants("inputs")),
        (JsonRoot::Outputs, wants("outputs")),
        (
            JsonRoot::Config,
            wants("config") || wants("model") || wants("provider"),
        ),
        (
            JsonRoot::Metadata,
            ["metadata", "model", "provider", "tokens", "cost"]
                .iter()
                .any(|f| wants(f)),
        ),
        (JsonRoot::Metrics, wants("metrics")),
        (JsonRoot::Feedback, wants("feedback")),
        (JsonRoot::UserProperties, wants("userProperties")),
    ];
    query.json_fields = Some(
        documents
            .into_iter()
            .filter_map(|(root, wanted)| wanted.then_some(root))
            .collect(),
    );
    query.exact_total = selection.field("total").exists();
    Ok((query, page))
}

/// A page of events as the schema shows it.
async fn event_page(
    ctx: &Context<'_>,
    query: EventQuery,
    page: u64,
) -> Result<Paged<EventObject>, ApiError> {
    let scope = scope(ctx)?;
    let limit = query.limit;
    let read = read_events(&scope.state, &scope.tenant, query).await?;
    let items = read
        .items
        .into_iter()
        .map(|e| EventObject::Stored(Arc::new(e)))
        .collect();
    Ok(Paged::new(items, read.total, page, limit))
}

#[Object]
impl EventQueries {
    /// Events matching `filters`, oldest first: the filter objects of `GET
    /// /events` (`[{field, operator, value, type}]`, or that list as a JSON
    /// string), `dateRange` (`{"$gte": .., "$lte": ..}`), `evaluationId` (a
    /// run's events). `limit` defaults to 50, at most 7500.
    #[graphql(complexity = "paged_cost(limit, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        filters: Option<Value>,
        date_range: Option<Value>,
        evaluation_id: Option<String>,
        limit: Option<u64>,
        page: Option<u64>,
    ) -> async_graphql::Result<Paged<EventObject>> {
        let args = ListArgs {
            filters,
            date_range,
            evaluation_id,
            limit,
            page,
        };
        let (query, page) = list_query(ctx, args)?;
        Ok(event_page(ctx, query, page).await?)
    }

    /// Sessions (their session events) matching `filters`, newest first;
    /// arguments as `events`.
    #[graphql(complexity = "paged_cost(limit, child_complexity)")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        filters: Option<Value>,
        date_range: Option<Value>,
        evaluation_id: Option<String>,
        limit: Option<u64>,
        page: Option<u64>,
    ) -> async_graphql::Result<Paged<EventObject>> {
        let args = ListArgs {
            filters,
            date_range,
            evaluation_id,
            limit,
            page,
        };
        let (mut query, page) = list_query(ctx, args)?;
        query.filters.push(Filter {
            field: FieldPath::parse("event_type").map_err(ApiError::from)?,
            operator: Operator::Is,
            value: FilterValue::Text("session".into()),
        });
        query.order = SortOrder::Descending;
        Ok(event_page(ctx, query, page).await?)
    }

    /// The session `id` with its events, within the read limits of `GET
    /// /v1/sessions/{id}`; null when the project has no such session.
    #[graphql(complexity = "WHOLE_READ_COST + child_complexity")]
    async fn session(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<SessionTree>> {
        let scope = scope(ctx)?;
        let tree = match read_session_tree(&scope.state, &scope.tenant, &id).await {
            Ok(tree) => tree,
            Err(e) if e.code == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let tree = blocking(move || {
            let crate::store::SessionTree {
                mut session,
                events,
            } = tree;
            let rollup =
                honeyhive_model::rollup::rollup(std::iter::once::<&Event>(&session).chain(&events));
            apply_rollup(&mut session, &events);
            SessionTree::new(session, events, rollup)
        })
        .await?;
        Ok(Some(tree))
    }
}
