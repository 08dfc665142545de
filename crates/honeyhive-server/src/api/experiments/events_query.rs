//! Event reads and deletes: `GET /events`, `POST /v1/events/export`,
//! `GET /v1/events/chart`, `GET|DELETE /v1/events/{id}`, `DELETE /v1/sessions/{id}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use honeyhive_model::filter::{FieldPath, format_datetime_ms};
use serde_json::{Map, Value, json};

use super::query::{
    parse_count, parse_date_range, parse_filters, parse_paging, project, qs_tree, string_list,
    string_param,
};
use super::run_result::Aggregation;
use crate::api::ingest_events::event_json;
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::store::{EventQuery, SortOrder, Tenant};

/// Most events a chart scans (charts aggregate in memory on this backend).
const MAX_CHART_EVENTS: u64 = 50_000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(get_events))
        .route("/v1/events/export", post(export_events))
        .route("/v1/events/chart", get(chart))
        .route(
            "/v1/events/{id}",
            get(events_by_session).delete(delete_event),
        )
        .route("/v1/sessions/{session_id}", delete(delete_session))
}

/// Builds the store query and projections from `GET /events` params or the export body.
fn event_query(params: &Map<String, Value>) -> Result<(EventQuery, Vec<String>, u64), ApiError> {
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
        ..EventQuery::default()
    };
    Ok((query, projections, page))
}

async fn run_event_query(
    state: &AppState,
    tenant: &Tenant,
    params: &Map<String, Value>,
) -> Result<Json<Value>, ApiError> {
    let (query, projections, _) = event_query(params)?;
    let page = state.store.query_events(tenant, &query).await?;
    let events: Vec<Value> = page
        .items
        .iter()
        .map(|e| project(&event_json(e, tenant), &projections))
        .collect();
    Ok(Json(json!({"events": events, "totalEvents": page.total})))
}

async fn get_events(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    run_event_query(&state, &tenant, &qs_tree(&pairs)).await
}

async fn export_events(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
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
    let (mut query, _, _) = event_query(&params)?;
    query.limit = MAX_CHART_EVENTS;
    query.offset = 0;
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
        other => Aggregation::parse(other).map_err(ApiError::bad_request)?,
    };
    let _ = parse_count(params.get("limit"), "limit")?;
    let page = state.store.query_events(&tenant, &query).await?;
    let mut buckets: BTreeMap<(i64, String), Vec<f64>> = BTreeMap::new();
    for event in &page.items {
        let bucket = (event.start_time / width).floor() as i64;
        let group = match &group_by {
            Some(path) => match path.value_in(event) {
                Some(Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => String::new(),
            },
            None => String::new(),
        };
        let entry = buckets.entry((bucket, group)).or_default();
        match &metric {
            Some(path) => {
                let value = match path.value_in(event) {
                    Some(Value::Number(n)) => n.as_f64(),
                    Some(Value::Bool(b)) => Some(if b { 1.0 } else { 0.0 }),
                    _ => None,
                };
                if let Some(v) = value {
                    entry.push(v);
                }
            }
            None => entry.push(1.0),
        }
    }
    let rows: Vec<Value> = buckets
        .into_iter()
        .map(|((bucket, group), values)| {
            let value = if metric.is_none() && aggregation == Aggregation::Average {
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
            if group_by.is_some() {
                row["group"] = Value::String(group);
            }
            row
        })
        .collect();
    Ok(Json(json!({"events": rows, "totalEvents": page.total})))
}

/// `GET /v1/events/{id}`: the session tree of session `id` (spec `GetEventsBySessionIdResponse`).
async fn events_by_session(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tree = state.store.session_tree(&tenant, &id).await?;
    Ok(Json(crate::api::sessions::tree_json(tree, &tenant)))
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

async fn delete_session(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if state.store.delete_session(&tenant, &id).await? > 0 {
        Ok(Json(json!({"success": true, "deleted": id})))
    } else {
        Err(ApiError::not_found(format!("session {id} not found")))
    }
}
