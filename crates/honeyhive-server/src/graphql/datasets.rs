//! Datasets and their datapoints: `datasets` and `datapoints`. Times are ms
//! since the epoch.

use async_graphql::{Context, ID, Object};

use super::context::{paged_cost, paging, scope};
use super::dataset_objects::{DatapointObject, DatasetObject};
use super::page::Paged;
use crate::api::ApiError;
use crate::store::{DatapointQuery, DatapointSelection, DatasetQuery};

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
