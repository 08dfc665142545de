//! Datasets and datapoints: `/v1/datasets*` and `/v1/datapoints*`.

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use honeyhive_model::filter::format_datetime_ms;
use serde_json::{Map, Value, json};

use super::query::{parse_date_range, parse_filters, qs_tree, string_list, string_param};
use super::{new_id, now_ms};
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::store::{Datapoint, DatapointQuery, Dataset, DatasetQuery, EventQuery, Tenant};

/// Most datapoints one batch request may create.
const MAX_BATCH: u64 = 7500;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/datasets",
            get(list_datasets)
                .post(create_dataset)
                .put(update_dataset_legacy)
                .delete(delete_dataset_legacy),
        )
        .route(
            "/v1/datasets/{dataset_id}",
            get(get_dataset).put(update_dataset).delete(delete_dataset),
        )
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

fn dataset_json(d: &Dataset) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "datapoints": d.datapoint_ids,
        "metadata": d.metadata,
        "created_at": format_datetime_ms(d.created_at),
        "updated_at": format_datetime_ms(d.updated_at),
    })
}

fn datapoint_json(d: &Datapoint) -> Value {
    json!({
        "id": d.id,
        "inputs": d.inputs,
        "history": d.history,
        "ground_truth": d.ground_truth,
        "metadata": d.metadata,
        "linked_event": d.linked_event,
        "linked_datasets": d.linked_datasets,
        "created_at": format_datetime_ms(d.created_at),
        "updated_at": format_datetime_ms(d.updated_at),
    })
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request("body must be a json object")),
    }
}

fn map_field(body: &Map<String, Value>, key: &str) -> Result<Option<Map<String, Value>>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(ApiError::bad_request(format!("`{key}` must be an object"))),
    }
}

fn list_field(body: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i.as_str() {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => Err(ApiError::bad_request(format!(
                    "`{key}` must be an array of non-empty strings"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::bad_request(format!(
            "`{key}` must be an array of strings"
        ))),
    }
}

fn text_field(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("`{key}` must be a string"))),
    }
}

async fn find_dataset(state: &AppState, tenant: &Tenant, id: &str) -> Result<Dataset, ApiError> {
    let query = DatasetQuery {
        dataset_id: Some(id.to_string()),
        name: None,
    };
    state
        .store
        .list_datasets(tenant, &query)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            ApiError::not_found(format!("dataset {id} not found"))
                .with_hint("list datasets with GET /v1/datasets")
        })
}

async fn list_datasets(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let query = DatasetQuery {
        dataset_id: string_param(params.get("dataset_id")),
        name: string_param(params.get("name")),
    };
    let datasets = state.store.list_datasets(&tenant, &query).await?;
    Ok(Json(
        json!({"datasets": datasets.iter().map(dataset_json).collect::<Vec<_>>()}),
    ))
}

async fn get_dataset(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let dataset = find_dataset(&state, &tenant, &id).await?;
    Ok(Json(
        json!({"datasets": [dataset_json(&dataset)], "dataset": dataset_json(&dataset)}),
    ))
}

async fn create_dataset(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let now = now_ms();
    let dataset = Dataset {
        id: new_id(),
        name: text_field(&body, "name")?.unwrap_or_else(|| "Untitled Dataset".to_string()),
        description: text_field(&body, "description")?,
        datapoint_ids: list_field(&body, "datapoints")?.unwrap_or_default(),
        metadata: map_field(&body, "metadata")?.unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    state.store.put_dataset(&tenant, &dataset).await?;
    Ok(Json(
        json!({"inserted": true, "result": {"insertedId": dataset.id}}),
    ))
}

async fn apply_dataset_update(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Dataset, ApiError> {
    let mut dataset = find_dataset(state, tenant, id).await?;
    if let Some(name) = text_field(body, "name")? {
        dataset.name = name;
    }
    if let Some(description) = text_field(body, "description")? {
        dataset.description = Some(description);
    }
    if let Some(ids) = list_field(body, "datapoints")? {
        dataset.datapoint_ids = ids;
    }
    if let Some(metadata) = map_field(body, "metadata")? {
        dataset.metadata.extend(metadata);
    }
    dataset.updated_at = now_ms();
    state.store.put_dataset(tenant, &dataset).await?;
    Ok(dataset)
}

async fn update_dataset_legacy(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let id = text_field(&body, "dataset_id")?
        .ok_or_else(|| ApiError::bad_request("`dataset_id` is required"))?;
    let dataset = apply_dataset_update(&state, &tenant, &id, &body).await?;
    Ok(Json(json!({"result": dataset_json(&dataset)})))
}

async fn update_dataset(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let dataset = apply_dataset_update(&state, &tenant, &id, &object(body)?).await?;
    Ok(Json(json!({"result": dataset_json(&dataset)})))
}

async fn remove_dataset(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
) -> Result<Json<Value>, ApiError> {
    if state.store.delete_dataset(tenant, id).await? {
        Ok(Json(json!({"result": {"id": id}})))
    } else {
        Err(ApiError::not_found(format!("dataset {id} not found")))
    }
}

async fn delete_dataset_legacy(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let id = string_param(params.get("dataset_id"))
        .ok_or_else(|| ApiError::bad_request("query parameter dataset_id is required"))?;
    remove_dataset(&state, &tenant, &id).await
}

async fn delete_dataset(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    remove_dataset(&state, &tenant, &id).await
}

/// Picks `keys` of `row` into an object (all of `row` when `keys` is empty and `all_if_empty`).
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

/// Stores `datapoints` and appends them to `dataset` (if any), in one call each.
async fn add_to_dataset(
    state: &AppState,
    tenant: &Tenant,
    dataset: Option<Dataset>,
    mut datapoints: Vec<Datapoint>,
) -> Result<Vec<String>, ApiError> {
    if let Some(d) = &dataset {
        for dp in &mut datapoints {
            if !dp.linked_datasets.contains(&d.id) {
                dp.linked_datasets.push(d.id.clone());
            }
        }
    }
    state.store.put_datapoints(tenant, &datapoints).await?;
    let ids: Vec<String> = datapoints.iter().map(|d| d.id.clone()).collect();
    if let Some(mut d) = dataset {
        d.datapoint_ids.extend(ids.iter().cloned());
        d.updated_at = now_ms();
        state.store.put_dataset(tenant, &d).await?;
    }
    Ok(ids)
}

async fn add_datapoints(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(dataset_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let dataset = find_dataset(&state, &tenant, &dataset_id).await?;
    let Some(Value::Array(rows)) = body.get("data") else {
        return Err(ApiError::bad_request(
            "`data` must be a non-empty array of objects",
        ));
    };
    let mapping = map_field(&body, "mapping")?.unwrap_or_default();
    let now = now_ms();
    let datapoints = rows
        .iter()
        .map(|row| {
            row.as_object()
                .map(|r| datapoint_from_row(r, &mapping, now))
                .ok_or_else(|| ApiError::bad_request("each `data` row must be an object"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if datapoints.is_empty() {
        return Err(ApiError::bad_request(
            "`data` must be a non-empty array of objects",
        ));
    }
    let ids = add_to_dataset(&state, &tenant, Some(dataset), datapoints).await?;
    Ok(Json(json!({"inserted": true, "datapoint_ids": ids})))
}

async fn remove_datapoint(
    State(state): State<AppState>,
    tenant: Tenant,
    Path((dataset_id, datapoint_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let mut dataset = find_dataset(&state, &tenant, &dataset_id).await?;
    let before = dataset.datapoint_ids.len();
    dataset.datapoint_ids.retain(|id| *id != datapoint_id);
    if dataset.datapoint_ids.len() == before {
        return Err(ApiError::not_found(format!(
            "datapoint {datapoint_id} is not in dataset {dataset_id}"
        )));
    }
    dataset.updated_at = now_ms();
    state.store.put_dataset(&tenant, &dataset).await?;
    if let Some(mut dp) = state
        .store
        .list_datapoints(&tenant, &DatapointQuery::Ids(vec![datapoint_id.clone()]))
        .await?
        .pop()
    {
        dp.linked_datasets.retain(|d| *d != dataset_id);
        state.store.put_datapoints(&tenant, &[dp]).await?;
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
    let query = if !ids.is_empty() {
        DatapointQuery::Ids(ids)
    } else if let Some(id) = string_param(params.get("dataset_id")) {
        DatapointQuery::Dataset(id)
    } else if let Some(name) = string_param(params.get("dataset_name")) {
        let found = state
            .store
            .list_datasets(
                &tenant,
                &DatasetQuery {
                    dataset_id: None,
                    name: Some(name.clone()),
                },
            )
            .await?;
        match found.into_iter().next() {
            Some(d) => DatapointQuery::Dataset(d.id),
            None => return Err(ApiError::not_found(format!("dataset {name:?} not found"))),
        }
    } else {
        DatapointQuery::All
    };
    let datapoints = state.store.list_datapoints(&tenant, &query).await?;
    Ok(Json(
        json!({"datapoints": datapoints.iter().map(datapoint_json).collect::<Vec<_>>()}),
    ))
}

async fn load_datapoint(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
) -> Result<Datapoint, ApiError> {
    state
        .store
        .list_datapoints(tenant, &DatapointQuery::Ids(vec![id.to_string()]))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(format!("datapoint {id} not found")))
}

async fn get_datapoint(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let dp = load_datapoint(&state, &tenant, &id).await?;
    Ok(Json(json!({"datapoint": [datapoint_json(&dp)]})))
}

/// Fills a datapoint from a create/update body; `linked_datasets` is returned
/// separately because membership changes touch the datasets too.
fn apply_datapoint_body(
    dp: &mut Datapoint,
    body: &Map<String, Value>,
) -> Result<Option<Vec<String>>, ApiError> {
    if let Some(inputs) = map_field(body, "inputs")? {
        dp.inputs = inputs;
    }
    if let Some(gt) = map_field(body, "ground_truth")? {
        dp.ground_truth = gt;
    }
    if let Some(metadata) = map_field(body, "metadata")? {
        dp.metadata = metadata;
    }
    match body.get("history") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => dp.history = items.clone(),
        Some(_) => return Err(ApiError::bad_request("`history` must be an array")),
    }
    if let Some(linked) = text_field(body, "linked_event")? {
        dp.linked_event = Some(linked);
    }
    list_field(body, "linked_datasets")
}

async fn create_datapoint(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let now = now_ms();
    let mut dp = Datapoint {
        id: new_id(),
        created_at: now,
        updated_at: now,
        ..Datapoint::default()
    };
    let linked = apply_datapoint_body(&mut dp, &body)?.unwrap_or_default();
    let mut datasets = Vec::new();
    for id in &linked {
        datasets.push(find_dataset(&state, &tenant, id).await?);
    }
    dp.linked_datasets = linked;
    state
        .store
        .put_datapoints(&tenant, std::slice::from_ref(&dp))
        .await?;
    for mut d in datasets {
        d.datapoint_ids.push(dp.id.clone());
        d.updated_at = now;
        state.store.put_dataset(&tenant, &d).await?;
    }
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
    let body = object(body)?;
    let mut dp = load_datapoint(&state, &tenant, &id).await?;
    if let Some(linked) = apply_datapoint_body(&mut dp, &body)? {
        for added in linked.iter().filter(|d| !dp.linked_datasets.contains(d)) {
            let mut d = find_dataset(&state, &tenant, added).await?;
            d.datapoint_ids.push(id.clone());
            state.store.put_dataset(&tenant, &d).await?;
        }
        for removed in dp.linked_datasets.iter().filter(|d| !linked.contains(d)) {
            if let Ok(mut d) = find_dataset(&state, &tenant, removed).await {
                d.datapoint_ids.retain(|x| *x != id);
                state.store.put_dataset(&tenant, &d).await?;
            }
        }
        dp.linked_datasets = linked;
    }
    dp.updated_at = now_ms();
    state.store.put_datapoints(&tenant, &[dp]).await?;
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
        Err(ApiError::not_found(format!("datapoint {id} not found")))
    }
}

/// `POST /v1/datapoints/batch`: datapoints made from stored events (by id, or by
/// filters + date range), optionally added to a dataset.
async fn batch_create_datapoints(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let dataset = match text_field(&body, "dataset_id")? {
        Some(id) => Some(find_dataset(&state, &tenant, &id).await?),
        None => None,
    };
    let ids = list_field(&body, "events")?.unwrap_or_default();
    let mut events = Vec::new();
    if !ids.is_empty() {
        for id in &ids {
            events.push(state.store.get_event(&tenant, id).await?);
        }
    } else {
        let (start_time_min, start_time_max) = parse_date_range(body.get("dateRange"))?;
        let query = EventQuery {
            filters: parse_filters(body.get("filters"))?,
            start_time_min,
            start_time_max,
            limit: MAX_BATCH,
            ..EventQuery::default()
        };
        events = state.store.query_events(&tenant, &query).await?.items;
    }
    let mapping = map_field(&body, "mapping")?.unwrap_or_default();
    let now = now_ms();
    let datapoints: Vec<Datapoint> = events
        .iter()
        .map(|e| {
            let mut row = e.inputs.clone();
            for (k, v) in &e.outputs {
                row.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let mut dp = datapoint_from_row(&row, &mapping, now);
            if string_list(mapping.get("inputs")).is_empty() {
                dp.inputs = e.inputs.clone();
            }
            if dp.ground_truth.is_empty() {
                dp.ground_truth = e
                    .feedback
                    .get("ground_truth")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
            }
            dp.linked_event = Some(e.event_id.clone());
            dp
        })
        .collect();
    let inserted = add_to_dataset(&state, &tenant, dataset, datapoints).await?;
    Ok(Json(json!({"inserted": true, "insertedIds": inserted})))
}
