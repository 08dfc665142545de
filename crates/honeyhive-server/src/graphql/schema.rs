//! The schema: its limits and the event queries (`events`, `sessions`,
//! `session`). Runs are in `runs.rs`, datasets in `datasets.rs`, the metric
//! time series in `metrics.rs`, the subscription in `subscription.rs`; what
//! every resolver reads from its context and what a read costs in `context.rs`.

use std::sync::Arc;

use async_graphql::{Context, EmptyMutation, ID, MergedObject, Object, Schema};
use honeyhive_model::filter::{FieldPath, Filter, FilterValue, JsonRoot, Operator};
use honeyhive_model::{ErrorCode, Event};
use serde_json::Value;

use super::context::{WHOLE_READ_COST, paged_cost, paging, params, scope};
use super::datasets::DatasetQueries;
use super::errors::Coded;
use super::metrics::MetricQueries;
use super::page::Paged;
use super::runs::RunQueries;
use super::subscription::SubscriptionRoot;
use super::types::{EventObject, SessionTree};
use crate::api::ApiError;
use crate::api::events::{event_query, read_events};
use crate::api::runs::blocking;
use crate::api::sessions::read_session_tree;
use crate::config::GraphqlLimits;
use crate::store::{EventQuery, SortOrder, apply_rollup};

/// The API's schema.
pub(crate) type ApiSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

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
