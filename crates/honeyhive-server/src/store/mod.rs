//! Storage behind one trait per resource, [`Store`] being all of them: the
//! embedded SQLite backend now, ClickHouse next.
//!
//! Nothing here may assume SQLite: ids are strings, times are f64 ms since the
//! epoch, JSON documents are `serde_json` values, and every call names the
//! project it acts for (tenancy is in every signature).
//!
//! The write side has one entry point, [`IngestStore::write`], taking a
//! [`WriteBatch`] (events, session sightings, enrichments) that a backend
//! applies atomically and durably before returning: a caller that gets `Ok`
//! may acknowledge its client. Every event a write stores or changes takes
//! the next number of the commit sequence, and a backend hands each durable
//! commit to its [`CommitFeed`] (the live feed) in commit order.
//!
//! ## Updates
//!
//! A read in one store call and a write in another loses every write that lands
//! in between, so each update route hands the store a patch instead: the store
//! reads the row, applies the patch and writes it back in one transaction
//! (SQLite: one writer job). The API validates a request body into a patch
//! before the store call, so applying one cannot fail on input; `apply_to` is
//! the one rule every backend applies to the stored row. A patch carries its
//! own `updated_at`, so applying it twice to the same row gives the same row.
//!
//! ## Where things are
//!
//! | module | what |
//! |---|---|
//! | `ingest` | [`IngestStore`]: write batches, parked enrichments, the writer's health |
//! | `events` | [`EventStore`]: event queries (`GET /events`), exports, charts, deletes, changes after a sequence number |
//! | `changes` | the commit sequence: [`Change`], [`CommitFeed`] (where a backend sends what it committed) |
//! | `sessions` | [`SessionStore`]: session trees and roll-ups |
//! | `runs` | [`RunStore`]: runs and the events run results read |
//! | `datasets` | [`DatasetStore`]: datasets, datapoints, membership |
//! | `catalog` | [`CatalogStore`]: keys, projects, metric definitions, configurations |
//! | `timeseries` | [`TimeseriesStore`]: streaming metric buckets (monitoring charts) |
//! | [`sqlite`] | the embedded backend |

mod catalog;
mod changes;
mod datasets;
mod error;
mod events;
mod ingest;
mod limits;
mod runs;
mod sessions;
pub mod sqlite;
#[cfg(any(test, feature = "test-util"))]
#[doc(hidden)]
pub mod suite;
mod timeseries;

pub use catalog::{CatalogStore, Project, ProjectPatch, Resource, ResourceKind, ResourcePatch};
pub use changes::{Change, ChangeKind, ChangesPage, ChangesQuery, CommitFeed, Committed};
pub use datasets::{
    Datapoint, DatapointPatch, DatapointQuery, DatapointSelection, Dataset, DatasetPatch,
    DatasetQuery, DatasetStore, dedup_ids,
};
pub use error::{ReadError, ReadLimit, ReadResult, StoreError, StoreResult};
pub use events::{
    Chart, ChartBucket, ChartQuery, EventPayload, EventPayloads, EventQuery, EventStore,
};
pub use ingest::{IngestStore, SessionSighting, StoreStats, WriteBatch, WriteSummary};
pub use limits::{DEFAULT_MAX_READ_BYTES, DEFAULT_MAX_SESSION_EVENTS, ReadLimits};
pub use runs::{RunEventsQuery, RunPatch, RunQuery, RunStore};
pub use sessions::{SessionStore, SessionTree, apply_rollup};
pub use timeseries::{
    BUCKET_WIDTHS_MS, Dimension, OTHER_GROUP, Point, ScoreSum, Series, Timeseries, TimeseriesQuery,
    TimeseriesStore,
};

use serde_json::{Map, Value};

/// Who a request acts for, resolved from its API key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant {
    /// The org (tenant) id.
    pub org_id: String,
    /// The project id (an API key maps to exactly one project).
    pub project_id: String,
    /// The project's name.
    pub project_name: String,
}

/// The full storage interface the server needs; one behaviour suite tests every backend.
pub trait Store:
    IngestStore
    + EventStore
    + SessionStore
    + RunStore
    + DatasetStore
    + CatalogStore
    + TimeseriesStore
    + 'static
{
}

impl<T> Store for T where
    T: IngestStore
        + EventStore
        + SessionStore
        + RunStore
        + DatasetStore
        + CatalogStore
        + TimeseriesStore
        + 'static
{
}

/// A page of rows and the count of all rows matching (ignoring paging).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// How many rows match in total.
    pub total: u64,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Oldest first.
    #[default]
    Ascending,
    /// Newest first.
    Descending,
}

fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        into.insert(k.clone(), v.clone());
    }
}
