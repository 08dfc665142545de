//! Datasets: `/v1/datasets*` (the datapoint routes are in `datapoints.rs`).
//!
//! Every change is one store call: the body is validated into a patch first,
//! and the store applies it in one transaction, so concurrent requests never
//! undo each other. Listings come in pages (`limit`, 1-based `page`, and a
//! `pagination` object in the answer), like `GET /v1/runs`.

mod datapoints;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use honeyhive_model::dataset::DatasetObject;
use honeyhive_model::filter::format_datetime_ms;
use serde_json::{Map, Value, json};

use crate::api::error::hinted;
use crate::api::query::{
    list_field, map_field, object, pagination, parse_paging, qs_tree, string_param, text_field,
};
use crate::api::{ApiError, AppState, JsonBody, QueryParams};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::store::{Dataset, DatasetPatch, DatasetQuery, Tenant};

/// Hint for a dataset id that is not in the project.
pub(super) const LIST_DATASETS_HINT: &str = "list datasets with GET /v1/datasets";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(datapoints::routes())
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
}

/// The dataset as the API answers it.
fn dataset_object(d: &Dataset) -> DatasetObject {
    DatasetObject {
        id: d.id.clone(),
        name: d.name.clone(),
        description: d.description.clone(),
        datapoints: d.datapoint_ids.clone(),
        metadata: d.metadata.clone(),
        created_at: format_datetime_ms(d.created_at),
        updated_at: format_datetime_ms(d.updated_at),
    }
}

/// The dataset `id`, or a 404 with a hint.
pub(super) async fn find_dataset(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
) -> Result<Dataset, ApiError> {
    let query = DatasetQuery {
        dataset_id: Some(id.to_string()),
        limit: 1,
        ..DatasetQuery::default()
    };
    state
        .store
        .list_datasets(tenant, &query)
        .await?
        .items
        .into_iter()
        .next()
        .ok_or_else(|| {
            ApiError::not_found(format!("dataset {id} not found")).with_hint(LIST_DATASETS_HINT)
        })
}

async fn list_datasets(
    State(state): State<AppState>,
    tenant: Tenant,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = qs_tree(&pairs);
    let (limit, offset, page) = parse_paging(params.get("limit"), params.get("page"))?;
    let query = DatasetQuery {
        dataset_id: string_param(params.get("dataset_id")),
        name: string_param(params.get("name")),
        limit,
        offset,
    };
    let datasets = state.store.list_datasets(&tenant, &query).await?;
    Ok(Json(json!({
        "datasets": datasets.items.iter().map(dataset_object).collect::<Vec<_>>(),
        "pagination": pagination(page, limit, datasets.total),
    })))
}

async fn get_dataset(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let dataset = find_dataset(&state, &tenant, &id).await?;
    Ok(Json(
        json!({"datasets": [dataset_object(&dataset)], "dataset": dataset_object(&dataset)}),
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

/// A dataset update body as a patch: `name`, `description` and `datapoints`
/// replace, `metadata` merges key by key.
fn dataset_patch(body: &Map<String, Value>) -> Result<DatasetPatch, ApiError> {
    Ok(DatasetPatch {
        name: text_field(body, "name")?,
        description: text_field(body, "description")?,
        datapoint_ids: list_field(body, "datapoints")?,
        metadata: map_field(body, "metadata")?.unwrap_or_default(),
        updated_at: now_ms(),
    })
}

async fn apply_dataset_update(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Json<Value>, ApiError> {
    let patch = dataset_patch(body)?;
    let dataset = state
        .store
        .update_dataset(tenant, id, &patch)
        .await
        .map_err(|e| hinted(e, LIST_DATASETS_HINT))?;
    Ok(Json(json!({"result": dataset_object(&dataset)})))
}

async fn update_dataset_legacy(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let id = text_field(&body, "dataset_id")?
        .ok_or_else(|| ApiError::bad_request("`dataset_id` is required"))?;
    apply_dataset_update(&state, &tenant, &id, &body).await
}

async fn update_dataset(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    apply_dataset_update(&state, &tenant, &id, &object(body)?).await
}

async fn remove_dataset(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
) -> Result<Json<Value>, ApiError> {
    if state.store.delete_dataset(tenant, id).await? {
        Ok(Json(json!({"result": {"id": id}})))
    } else {
        Err(ApiError::not_found(format!("dataset {id} not found")).with_hint(LIST_DATASETS_HINT))
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
