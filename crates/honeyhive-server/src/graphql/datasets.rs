//! Datasets and their datapoints: `datasets` and `datapoints`. Times are ms
//! since the epoch.

use async_graphql::{Context, ID, Object, SimpleObject};
use serde_json::Value;

use super::schema::{paged_cost, paging, scope};
use super::types::Paged;
use crate::api::ApiError;
use crate::store::{Datapoint, DatapointQuery, DatapointSelection, Dataset, DatasetQuery};

/// A named, ordered list of datapoints.
#[derive(SimpleObject)]
#[graphql(name = "Dataset")]
pub(super) struct DatasetObject {
    /// The dataset's id.
    id: String,
    /// Its name.
    name: String,
    /// Free text.
    description: Option<String>,
    /// Its datapoints, in order.
    datapoint_ids: Vec<String>,
    /// Free-form metadata.
    metadata: Value,
    /// Created, ms since the epoch.
    created_at: f64,
    /// Last updated, ms since the epoch.
    updated_at: f64,
}

impl From<Dataset> for DatasetObject {
    fn from(d: Dataset) -> DatasetObject {
        DatasetObject {
            id: d.id,
            name: d.name,
            description: d.description,
            datapoint_ids: d.datapoint_ids,
            metadata: Value::Object(d.metadata),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// One input to evaluate with, and what it should give.
#[derive(SimpleObject)]
#[graphql(name = "Datapoint")]
pub(super) struct DatapointObject {
    /// The datapoint's id.
    id: String,
    /// Inputs to the function under test.
    inputs: Value,
    /// Chat history.
    history: Vec<Value>,
    /// Expected outputs.
    ground_truth: Value,
    /// Free-form metadata.
    metadata: Value,
    /// The event it was made from.
    linked_event: Option<String>,
    /// The datasets it belongs to.
    linked_datasets: Vec<String>,
    /// Created, ms since the epoch.
    created_at: f64,
    /// Last updated, ms since the epoch.
    updated_at: f64,
}

impl From<Datapoint> for DatapointObject {
    fn from(d: Datapoint) -> DatapointObject {
        DatapointObject {
            id: d.id,
            inputs: Value::Object(d.inputs),
            history: d.history,
            ground_truth: Value::Object(d.ground_truth),
            metadata: Value::Object(d.metadata),
            linked_event: d.linked_event,
            linked_datasets: d.linked_datasets,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// `datasets` and `datapoints`.
#[derive(Default)]
pub(super) struct DatasetQueries;

#[Object]
impl DatasetQueries {
    /// The project's datasets, oldest first, optionally only those named
    /// `name`. `limit` defaults to 50.
    #[graphql(complexity = "paged_cost(limit, child_complexity)")]
    async fn datasets(
        &self,
        ctx: &Context<'_>,
        name: Option<String>,
        limit: Option<u64>,
        page: Option<u64>,
    ) -> async_graphql::Result<Paged<DatasetObject>> {
        let scope = scope(ctx)?;
        let (limit, offset, page) = paging(limit, page)?;
        let query = DatasetQuery {
            name,
            limit,
            offset,
            ..DatasetQuery::default()
        };
        let datasets = scope
            .state
            .store
            .list_datasets(&scope.tenant, &query)
            .await
            .map_err(ApiError::from)?;
        let items = datasets.items.into_iter().map(Into::into).collect();
        Ok(Paged::new(items, datasets.total, page, limit))
    }

    /// The datapoints of dataset `datasetId`, in its order (none when the
    /// project has no such dataset). `limit` defaults to 50.
    #[graphql(complexity = "paged_cost(limit, child_complexity)")]
    async fn datapoints(
        &self,
        ctx: &Context<'_>,
        dataset_id: ID,
        limit: Option<u64>,
        page: Option<u64>,
    ) -> async_graphql::Result<Paged<DatapointObject>> {
        let scope = scope(ctx)?;
        let (limit, offset, page) = paging(limit, page)?;
        let query = DatapointQuery {
            selection: DatapointSelection::Dataset(dataset_id.to_string()),
            limit,
            offset,
        };
        let datapoints = scope
            .state
            .store
            .list_datapoints(&scope.tenant, &query)
            .await
            .map_err(ApiError::from)?;
        let items = datapoints.items.into_iter().map(Into::into).collect();
        Ok(Paged::new(items, datapoints.total, page, limit))
    }
}
