//! A page of a list, named per row type in the schema.

use async_graphql::{OutputType, SimpleObject};

/// One page of a list.
#[derive(SimpleObject)]
#[graphql(concrete(name = "EventPage", params(super::types::EventObject)))]
#[graphql(concrete(name = "RunPage", params(super::run_node::RunNode)))]
#[graphql(concrete(name = "DatasetPage", params(super::dataset_objects::DatasetObject)))]
#[graphql(concrete(
    name = "DatapointPage",
    params(super::dataset_objects::DatapointObject)
))]
pub(super) struct Paged<T: OutputType> {
    /// The rows of this page.
    pub(super) items: Vec<T>,
    /// How many rows match in all.
    pub(super) total: u64,
    /// This page's number (from 1).
    pub(super) page: u64,
    /// Rows per page.
    pub(super) limit: u64,
    /// Whether a page follows this one.
    pub(super) has_next_page: bool,
}

impl<T: OutputType> Paged<T> {
    /// Page `page` of `limit` rows, `total` matching in all.
    pub(super) fn new(items: Vec<T>, total: u64, page: u64, limit: u64) -> Paged<T> {
        let shown = page.saturating_sub(1).saturating_mul(limit) + items.len() as u64;
        Paged {
            has_next_page: total > shown,
            items,
            total,
            page,
            limit,
        }
    }
}
