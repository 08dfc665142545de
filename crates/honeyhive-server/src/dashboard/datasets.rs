//! `GET /ui/datasets` (the project's datasets) and `GET /ui/datasets/{id}`
//! (its datapoints: inputs, history, ground truth, the event it came from).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::Dashboard;
use super::filters::PageQuery;
use super::view::{Page, Viewer, error_page, json_block, pager, time, url_encode};
use crate::api::ApiError;
use crate::store::{DatapointQuery, DatapointSelection, DatasetQuery};

const PAGE_SIZE: u64 = 50;

/// `GET /ui/datasets`.
pub(super) async fn list(
    State(state): State<Dashboard>,
    viewer: Viewer,
    Query(query): Query<PageQuery>,
) -> Response {
    let page_number = query.number();
    let datasets = match state
        .store
        .list_datasets(
            &viewer.tenant,
            &DatasetQuery {
                limit: PAGE_SIZE,
                offset: (page_number - 1).saturating_mul(PAGE_SIZE),
                ..DatasetQuery::default()
            },
        )
        .await
    {
        Ok(datasets) => datasets,
        Err(e) => return error_page(e.into()),
    };
    Page::signed_in("Datasets", &viewer)
        .render(html! {
            h1 { "Datasets" }
            p.count { (datasets.total) " datasets" }
            table.datasets {
                thead { tr { th { "Name" } th.num { "Datapoints" } th { "Description" } th { "Created" } } }
                tbody {
                    @for dataset in &datasets.items {
                        tr {
                            td { a href=(format!("/ui/datasets/{}", url_encode(&dataset.id))) {
                                (if dataset.name.is_empty() { &dataset.id } else { &dataset.name })
                            } }
                            td.num { (dataset.datapoint_ids.len()) }
                            td { (dataset.description.as_deref().unwrap_or("")) }
                            td { (time(dataset.created_at)) }
                        }
                    }
                }
            }
            (pager("/ui/datasets", &[], page_number, PAGE_SIZE, datasets.total))
        })
        .into_response()
}

/// `GET /ui/datasets/{id}`.
pub(super) async fn dataset(
    State(state): State<Dashboard>,
    viewer: Viewer,
    Path(dataset_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    match dataset_page(&state, &viewer, &dataset_id, query.number()).await {
        Ok(page) => page,
        Err(e) => error_page(e),
    }
}

async fn dataset_page(
    state: &Dashboard,
    viewer: &Viewer,
    dataset_id: &str,
    page_number: u64,
) -> Result<Response, ApiError> {
    let found = state
        .store
        .list_datasets(
            &viewer.tenant,
            &DatasetQuery {
                dataset_id: Some(dataset_id.to_string()),
                limit: 1,
                ..DatasetQuery::default()
            },
        )
        .await?;
    let dataset = found.items.into_iter().next().ok_or_else(|| {
        ApiError::not_found(format!("dataset {dataset_id} not found")).with_hint("see /ui/datasets")
    })?;
    let datapoints = state
        .store
        .list_datapoints(
            &viewer.tenant,
            &DatapointQuery {
                selection: DatapointSelection::Dataset(dataset.id.clone()),
                limit: PAGE_SIZE,
                offset: (page_number - 1).saturating_mul(PAGE_SIZE),
            },
        )
        .await?;
    let title = if dataset.name.is_empty() {
        dataset.id.clone()
    } else {
        dataset.name.clone()
    };
    let base = format!("/ui/datasets/{}", url_encode(&dataset.id));
    Ok(Page::signed_in(&title, viewer)
        .render(html! {
            nav.crumbs { a href="/ui/datasets" { "Datasets" } " / " span { (title) } }
            h1 { (title) }
            @if let Some(description) = &dataset.description { p { (description) } }
            p.count { (datapoints.total) " datapoints" }
            ol.datapoints {
                @for datapoint in &datapoints.items {
                    li.datapoint {
                        h3 { code { (datapoint.id) } }
                        (json_block("Inputs", &datapoint.inputs))
                        (json_block("Ground truth", &datapoint.ground_truth))
                        @if !datapoint.history.is_empty() {
                            details.json {
                                summary { "History" }
                                pre { code { (serde_json::to_string_pretty(&datapoint.history).unwrap_or_default()) } }
                            }
                        }
                        (json_block("Metadata", &datapoint.metadata))
                        @if let Some(event) = &datapoint.linked_event { p.hint { "from event " code { (event) } } }
                    }
                }
            }
            (pager(&base, &[], page_number, PAGE_SIZE, datapoints.total))
        })
        .into_response())
}
