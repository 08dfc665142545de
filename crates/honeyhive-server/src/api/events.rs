//! Event reads and deletes: `GET /events`, `POST /v1/events/export`,
//! `GET /v1/events/chart`, `GET|DELETE /v1/events/{id}`. Events are written
//! through [`super::ingest`].

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use honeyhive_model::Event;
use honeyhive_model::filter::{FieldPath, JsonRoot, format_datetime_ms};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::answer::{event_json, json_answer};
use super::error::read_error;
use super::query::{
    parse_count, parse_date_range, parse_filters, parse_paging, project, qs_tree, string_list,
    string_param,
};
use super::sessions::session_tree_answer;
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::store::{ChartBucket, ChartQuery, EventQuery, Page, SortOrder, Tenant};
use honeyhive_model::run::Aggregation;

/// Most events a chart reads (the oldest that match).
const MAX_CHART_EVENTS: u64 = 50_000;

/// What to do when a page of events is past the read limit.
const PAGE_HINT: &str = "ask for a smaller page (a lower limit, then the next pages), \
    or only the fields you need with projections";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(get_events))
        .route("/v1/events/export", post(export_events))
        .route("/v1/events/chart", get(chart))
        .route(
            "/v1/events/{id}",
            get(events_by_session).delete(delete_event),
        )
}

/// Builds the store query and projections from `GET /events` params or the
/// export body (`filters`, `evaluation_id`, `dateRange`, `limit`, `page`,
/// `projections`); also what the GraphQL event lists read their arguments with.
pub(crate) fn event_query(
    params: &Map<String, Value>,
) -> Result<(EventQuery, Vec<String>, u64), ApiError> {
    let mut filters = parse_filters(params.get("filters"))?;
    if let Some(run_id) = string_param(params.get("evaluation_id")) {
        filters.push(honeyhive_model::filter::Filter {
            field: FieldPath::parse("metadata.run_id")?,
            operator: honeyhive_model::filter::Operator::Is,
            value: honeyhive_model::filter::FilterValue::Text(run_id),
        });
    }
    let (start_time_min, start_time_max) = parse_date_range(params.get("dateRange"))?;
    let (limit, offset, page) = parse_paging(params.get("limit"), params.get("page"))?;
    let projections = string_list(params.get("projections"));
    let query = EventQuery {
        filters,
        start_time_min,
        start_time_max,
        limit,
        offset,
        order: SortOrder::Ascending,
        json_fields: projected_json_fields(&projections),
        ..EventQuery::default()
    };
    Ok((query, projections, page))
}

/// The JSON objects `projections` reach into (`None` without projections:
/// all). A projected event shows nothing of the others, so they are not read.
fn projected_json_fields(projections: &[String]) -> Option<Vec<JsonRoot>> {
    if projections.is_empty() {
        return None;
    }
    let heads: Vec<&str> = projections
        .iter()
        .map(|p| p.split('.').next().unwrap_or_default())
        .collect();
    Some(
        JsonRoot::ALL
            .into_iter()
            .filter(|root| heads.contains(&root.as_str()))
            .collect(),
    )
}

/// A page of `query` within the configured read limit; past it 422 with how
/// to ask for less.
pub(crate) async fn read_events(
    state: &AppState,
    tenant: &Tenant,
    mut query: EventQuery,
) -> Result<Page<Event>, ApiError> {
    query.max_bytes = state.config.read_limits().max_bytes;
    state
        .store
        .query_events(tenant, &query)
        .await
        .map_err(|e| read_error(e, PAGE_HINT))
}

async fn run_event_query(
    state: &AppState,
    tenant: &Tenant,
    params: &Map<String, Value>,
) -> Result<Response, ApiError> {
    let (query, projections, _) = event_query(params)?;
    let page = read_events(state, tenant, query).await?;
    let tenant = tenant.clone();
    json_answer(move || {
        serde_json::to_vec(&EventsAnswer {
            events: &page.items,
            tenant: &tenant,
            projections: &projections,
            total: page.total,
        })
    })
    .await
}

/// `{"events": [...], "totalEvents": n}`, each event as the API shows it
/// (projected when asked), built one event at a time while serializing.
struct EventsAnswer<'a> {
    events: &'a [Event],
    tenant: &'a Tenant,
    projections: &'a [String],
    total: u64,
}

impl Serialize for EventsAnswer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Events<'b>(&'b EventsAnswer<'b>);
        impl Serialize for Events<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let answer = self.0;
                let mut seq = serializer.serialize_seq(Some(answer.events.len()))?;
                for event in answer.events {
                    let full = event_json(event, answer.tenant);
                    if answer.projections.is_empty() {
                        seq.serialize_element(&full)?;
                    } else {
                        seq.serialize_element(&project(&full, answer.projections))?;
                    }
                }
                seq.end()
            }
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("events", &Events(self))?;
        map.serialize_entry("totalEvents", &self.total)?;
        map.end()
    }
}

async fn get_events(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    run_event_query(&state, &tenant, &qs_tree(&pairs)).await
}

async fn export_events(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(params) = body else {
        return Err(ApiError::bad_request("export body must be a json object")
            .with_hint("send {\"filters\": [...], \"limit\": 1000, \"page\": 1}"));
    };
    run_event_query(&state, &tenant, &params).await
}

/// Bucket width in ms for a chart `bucket` name; months are 30 days.
fn bucket_ms(name: Option<&str>) -> Result<f64, ApiError> {
    Ok(match name.unwrap_or("hour") {
        "minute" | "minutes" | "1m" => 60_000.0,
        "hour" | "hours" | "1h" => 3_600_000.0,
        "day" | "days" | "1d" => 86_400_000.0,
        "week" | "weeks" | "1w" => 7.0 * 86_400_000.0,
        "month" | "months" | "1M" => 30.0 * 86_400_000.0,
        other => {
            return Err(ApiError::bad_request(format!("unknown bucket {other:?}"))
                .with_hint("use minute, hour, day, week or month"));
        }
    })
}

/// `GET /v1/events/chart`: events bucketed by start time (and optionally grouped by a
/// field), with `metric` aggregated per bucket (`count` of events when no metric).
async fn chart(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let (mut events, _, _) = event_query(&params)?;
    events.limit = MAX_CHART_EVENTS;
    events.offset = 0;
    events.max_bytes = state.config.read_limits().max_bytes;
    let width = bucket_ms(string_param(params.get("bucket")).as_deref())?;
    let metric = string_param(params.get("metric"))
        .map(|m| FieldPath::parse(&m))
        .transpose()?;
    let group_by = string_param(params.get("groupBy"))
        .map(|g| FieldPath::parse(&g))
        .transpose()?;
    let aggregation = match string_param(params.get("aggregation")).as_deref() {
        Some("p50") => Aggregation::Median,
        Some("p75") => {
            return Err(ApiError::bad_request("aggregation p75 is not supported")
                .with_hint("use p50, p90, p95 or p99"));
        }
        other => Aggregation::parse(other)?,
    };
    let _ = parse_count(params.get("limit"), "limit")?;
    let query = ChartQuery {
        events,
        bucket_ms: width,
        group_by,
        metric,
    };
    let chart = state.store.chart(&tenant, &query).await.map_err(|e| {
        read_error(
            e,
            "chart fewer events (a shorter dateRange, more filters) or group by a smaller field",
        )
    })?;
    let rows: Vec<Value> = chart
        .buckets
        .into_iter()
        .map(
            |ChartBucket {
                 bucket,
                 group,
                 values,
             }| {
                let value = if query.metric.is_none() && aggregation == Aggregation::Average {
                    Some(values.len() as f64)
                } else {
                    aggregation.apply(&values)
                };
                let mut row = json!({
                    "bucket": format_datetime_ms(bucket as f64 * width),
                    "bucket_start": bucket as f64 * width,
                    "value": value,
                    "count": values.len(),
                });
                if query.group_by.is_some() {
                    row["group"] = Value::String(group);
                }
                row
            },
        )
        .collect();
    Ok(Json(json!({"events": rows, "totalEvents": chart.total})))
}

/// `GET /v1/events/{id}`: the session tree of session `id` (spec `GetEventsBySessionIdResponse`).
async fn events_by_session(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    session_tree_answer(&state, &tenant, &id).await
}

async fn delete_event(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if state.store.delete_event(&tenant, &id).await? {
        Ok(Json(json!({"success": true, "deleted": id})))
    } else {
        Err(ApiError::not_found(format!("event {id} not found"))
            .with_hint("find event ids with GET /events"))
    }
}
