//! Datapoints: `/v1/datapoints*`, and adding to or removing from a dataset.
//!
//! Membership changes (a datapoint created into a dataset, linked, unlinked,
//! removed) are one store call each: the store keeps the dataset's member list
//! and the datapoint's `linked_datasets` in step inside one transaction.
//!
//! `GET /v1/datapoints` answers in pages (`limit`, default 1000 and at most
//! 7500, and 1-based `page`) with a `pagination` object, except for an explicit
//! `datapoint_ids` list, answered whole up to [`MAX_LISTED_IDS`] ids: the
//! official Python client (honeyhive 1.7.0) sends id lists in chunks of 100 and
//! reads no paging.

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use honeyhive_model::ErrorCode;
use honeyhive_model::dataset::DatapointObject;
use honeyhive_model::filter::format_datetime_ms;
use serde_json::{Map, Value, json};

use super::{LIST_DATASETS_HINT, find_dataset};
use crate::api::error::hinted;
use crate::api::query::{
    MAX_PAGE_SIZE, list_field, map_field, object, pagination, parse_date_range, parse_filters,
    parse_paging, qs_tree, string_list, string_param, text_field,
};
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::store::{
    Datapoint, DatapointPatch, DatapointQuery, DatapointSelection, DatasetQuery, EventPayload,
    EventQuery, Tenant,
};

/// Most datapoints one request may create (rows of `data`, or events of a batch).
const MAX_BATCH: u64 = 7500;
/// Most ids a `GET /v1/datapoints?datapoint_ids=` list may name.
pub(super) const MAX_LISTED_IDS: usize = MAX_PAGE_SIZE as usize;
/// Most JSON text (`inputs`, `outputs`, `feedback`) one batch reads from its events.
const MAX_BATCH_EVENT_BYTES: u64 = 64 * 1024 * 1024;
const DATAPOINT_HINT: &str =
    "list datapoints with GET /v1/datapoints and datasets with GET /v1/datasets";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/datasets/{dataset_id}/datapoints", post(add_datapoints))
        .route(
            "/v1/datasets/{dataset_id}/datapoints/{datapoint_id}",
            delete(remove_datapoint),
        )
        .route(
            "/v1/datasets/{dataset_id}/{datapoint_id}",
            delete(remove_datapoint),
        )
        .route(
            "/v1/datapoints",
            get(list_datapoints).post(create_datapoint),
        )
        .route("/v1/datapoints/batch", post(batch_create_datapoints))
        .route(
            "/v1/datapoints/{id}",
            get(get_datapoint)
                .put(update_datapoint)
                .delete(delete_datapoint),
        )
}

/// The datapoint as the API answers it.
fn datapoint_object(d: &Datapoint) -> DatapointObject {
    DatapointObject {
        id: d.id.clone(),
        inputs: d.inputs.clone(),
        history: d.history.clone(),
        ground_truth: d.ground_truth.clone(),
        metadata: d.metadata.clone(),
        linked_event: d.linked_event.clone(),
        linked_datasets: d.linked_datasets.clone(),
        created_at: format_datetime_ms(d.created_at),
        updated_at: format_datetime_ms(d.updated_at),
    }
}

fn too_many(what: &str, limit: u64) -> ApiError {
    ApiError::bad_request(format!("more than {limit} {what} in one request"))
        .with_hint(format!("split the request into parts of at most {limit}"))
}

/// Picks `keys` of `row` into an object.
fn pick(row: &Map<String, Value>, keys: &[String]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| row.get(k).map(|v| (k.clone(), v.clone())))
        .collect()
}

/// A datapoint from one row and a `{inputs, ground_truth, history}` column mapping;
/// with no mapping, every column is an input.
fn datapoint_from_row(
    row: &Map<String, Value>,
    mapping: &Map<String, Value>,
    now: f64,
) -> Datapoint {
    let keys = |name: &str| string_list(mapping.get(name));
    let (inputs, ground_truth, history) = (keys("inputs"), keys("ground_truth"), keys("history"));
    let mapped = !(inputs.is_empty() && ground_truth.is_empty() && history.is_empty());
    Datapoint {
        id: new_id(),
        inputs: if mapped {
            pick(row, &inputs)
        } else {
            row.clone()
        },
        ground_truth: pick(row, &ground_truth),
        history: history
            .iter()
            .filter_map(|k| row.get(k))
            .flat_map(|v| match v {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            })
            .collect(),
        created_at: now,
        updated_at: now,
        ..Datapoint::default()
    }
}

/// `POST /v1/datasets/{id}/datapoints`: rows of `data` (mapped by `mapping`)
/// become datapoints appended to the dataset.
async fn add_datapoints(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(dataset_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let rows = match body.get("data") {
        Some(Value::Array(rows)) if !rows.is_empty() => rows,
        _ => {
            return Err(ApiError::bad_request(
                "`data` must be a non-empty array of objects",
            ));
        }
    };
    if rows.len() as u64 > MAX_BATCH {
        return Err(too_many("rows of `data`", MAX_BATCH));
    }
    let mapping = map_field(&body, "mapping")?.unwrap_or_default();
    let now = now_ms();
    let datapoints = rows
        .iter()
        .map(|row| {
            let object = row
                .as_object()
                .ok_or_else(|| ApiError::bad_request("each `data` row must be an object"))?;
            let mut dp = datapoint_from_row(object, &mapping, now);
            dp.linked_datasets = vec![dataset_id.clone()];
            Ok(dp)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    state
        .store
        .put_datapoints(&tenant, &datapoints)
        .await
        .map_err(|e| hinted(e, LIST_DATASETS_HINT))?;
    let ids: Vec<&str> = datapoints.iter().map(|d| d.id.as_str()).collect();
    Ok(Json(json!({"inserted": true, "datapoint_ids": ids})))
}

/// `DELETE /v1/datasets/{id}/datapoints/{datapoint_id}` (and the shorter alias).
async fn remove_datapoint(
    State(state): State<AppState>,
    tenant: Tenant,
    Path((dataset_id, datapoint_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let removed = state
        .store
        .remove_from_dataset(&tenant, &dataset_id, &datapoint_id)
        .await
        .map_err(|e| hinted(e, LIST_DATASETS_HINT))?;
    if !removed {
        return Err(ApiError::not_found(format!(
            "datapoint {datapoint_id} is not in dataset {dataset_id}"
        ))
        .with_hint(format!(
            "list its members with GET /v1/datapoints?dataset_id={dataset_id}"
        )));
    }
    Ok(Json(
        json!({"dereferenced": true, "message": format!("datapoint {datapoint_id} removed from dataset {dataset_id}")}),
    ))
}

async fn list_datapoints(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let ids = string_list(params.get("datapoint_ids"));
    let (query, page, limit) = if !ids.is_empty() {
        if ids.len() > MAX_LISTED_IDS {
            return Err(too_many("datapoint_ids", MAX_LISTED_IDS as u64));
        }
        let limit = ids.len() as u64;
        (
            DatapointQuery::whole(DatapointSelection::Ids(ids)),
            1,
            limit,
        )
    } else {
        let (limit, offset, page) = parse_paging(params.get("limit"), params.get("page"))?;
        let selection = if let Some(id) = string_param(params.get("dataset_id")) {
            DatapointSelection::Dataset(id)
        } else if let Some(name) = string_param(params.get("dataset_name")) {
            let query = DatasetQuery {
                name: Some(name.clone()),
                limit: 1,
                ..DatasetQuery::default()
            };
            match state
                .store
                .list_datasets(&tenant, &query)
                .await?
                .items
                .pop()
            {
                Some(d) => DatapointSelection::Dataset(d.id),
                None => {
                    return Err(ApiError::not_found(format!("dataset {name:?} not found"))
                        .with_hint(LIST_DATASETS_HINT));
                }
            }
        } else {
            DatapointSelection::All
        };
        let query = DatapointQuery {
            selection,
            limit,
            offset,
        };
        (query, page, limit)
    };
    let datapoints = state.store.list_datapoints(&tenant, &query).await?;
    Ok(Json(json!({
        "datapoints": datapoints.items.iter().map(datapoint_object).collect::<Vec<_>>(),
        "pagination": pagination(page, limit, datapoints.total),
    })))
}

async fn get_datapoint(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let query = DatapointQuery::whole(DatapointSelection::Ids(vec![id.clone()]));
    let dp = state
        .store
        .list_datapoints(&tenant, &query)
        .await?
        .items
        .pop()
        .ok_or_else(|| {
            ApiError::not_found(format!("datapoint {id} not found")).with_hint(DATAPOINT_HINT)
        })?;
    Ok(Json(json!({"datapoint": [datapoint_object(&dp)]})))
}

/// A create/update body as a patch: each field present replaces the stored one.
fn datapoint_patch(body: &Map<String, Value>) -> Result<DatapointPatch, ApiError> {
    let history = match body.get("history") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items.clone()),
        Some(_) => return Err(ApiError::bad_request("`history` must be an array")),
    };
    Ok(DatapointPatch {
        inputs: map_field(body, "inputs")?,
        ground_truth: map_field(body, "ground_truth")?,
        metadata: map_field(body, "metadata")?,
        history,
        linked_event: text_field(body, "linked_event")?,
        linked_datasets: list_field(body, "linked_datasets")?,
        updated_at: now_ms(),
    })
}

async fn create_datapoint(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let patch = datapoint_patch(&object(body)?)?;
    let mut dp = Datapoint {
        id: new_id(),
        created_at: patch.updated_at,
        ..Datapoint::default()
    };
    patch.apply_to(&mut dp);
    state
        .store
        .put_datapoints(&tenant, std::slice::from_ref(&dp))
        .await
        .map_err(|e| hinted(e, LIST_DATASETS_HINT))?;
    Ok(Json(
        json!({"inserted": true, "result": {"insertedIds": [dp.id]}}),
    ))
}

async fn update_datapoint(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let patch = datapoint_patch(&object(body)?)?;
    state
        .store
        .update_datapoint(&tenant, &id, &patch)
        .await
        .map_err(|e| hinted(e, DATAPOINT_HINT))?;
    Ok(Json(
        json!({"updated": true, "result": {"modifiedCount": 1}}),
    ))
}

async fn delete_datapoint(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if state.store.delete_datapoint(&tenant, &id).await? {
        Ok(Json(json!({"deleted": true})))
    } else {
        Err(ApiError::not_found(format!("datapoint {id} not found")).with_hint(DATAPOINT_HINT))
    }
}

/// The events a batch makes datapoints from: the listed ids (read in one go,
/// only the fields a datapoint takes), or those matching `filters` and `dateRange`.
async fn batch_sources(
    state: &AppState,
    tenant: &Tenant,
    body: &Map<String, Value>,
) -> Result<Vec<EventPayload>, ApiError> {
    let ids = list_field(body, "events")?.unwrap_or_default();
    if ids.len() as u64 > MAX_BATCH {
        return Err(too_many("event ids in `events`", MAX_BATCH));
    }
    if !ids.is_empty() {
        let read = state
            .store
            .event_payloads(tenant, &ids, MAX_BATCH_EVENT_BYTES)
            .await
            .map_err(|e| hinted(e, "list events with POST /v1/events/export"))?;
        if read.over_limit {
            return Err(ApiError::new(
                ErrorCode::ResultTooLarge,
                format!(
                    "the events hold more than {MAX_BATCH_EVENT_BYTES} bytes of inputs, outputs and feedback"
                ),
            )
            .with_hint("send fewer event ids per request"));
        }
        return Ok(read.items);
    }
    let (start_time_min, start_time_max) = parse_date_range(body.get("dateRange"))?;
    let query = EventQuery {
        filters: parse_filters(body.get("filters"))?,
        start_time_min,
        start_time_max,
        limit: MAX_BATCH,
        ..EventQuery::default()
    };
    let events = state.store.query_events(tenant, &query).await?.items;
    Ok(events
        .into_iter()
        .map(|e| EventPayload {
            event_id: e.event_id,
            inputs: e.inputs,
            outputs: e.outputs,
            feedback: e.feedback,
        })
        .collect())
}

/// `POST /v1/datapoints/batch`: datapoints made from stored events (by id, or by
/// filters + date range), optionally added to a dataset.
async fn batch_create_datapoints(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let dataset_id = text_field(&body, "dataset_id")?;
    let mapping = map_field(&body, "mapping")?.unwrap_or_default();
    if let Some(id) = &dataset_id {
        // Also checked by the write; asked first so a missing dataset costs no event read.
        find_dataset(&state, &tenant, id).await?;
    }
    let sources = batch_sources(&state, &tenant, &body).await?;
    let now = now_ms();
    let inputs_mapped = !string_list(mapping.get("inputs")).is_empty();
    let datapoints: Vec<Datapoint> = sources
        .into_iter()
        .map(|e| {
            let mut row = e.inputs.clone();
            for (k, v) in &e.outputs {
                row.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let mut dp = datapoint_from_row(&row, &mapping, now);
            if !inputs_mapped {
                dp.inputs = e.inputs;
            }
            if dp.ground_truth.is_empty() {
                dp.ground_truth = e
                    .feedback
                    .get("ground_truth")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
            }
            dp.linked_event = Some(e.event_id);
            dp.linked_datasets = dataset_id.iter().cloned().collect();
            dp
        })
        .collect();
    state
        .store
        .put_datapoints(&tenant, &datapoints)
        .await
        .map_err(|e| hinted(e, LIST_DATASETS_HINT))?;
    let ids: Vec<&str> = datapoints.iter().map(|d| d.id.as_str()).collect();
    Ok(Json(json!({"inserted": true, "insertedIds": ids})))
}
