//! The experiments side of the SQLite backend: event queries and deletes, runs,
//! datasets, datapoints, named documents (metrics, configurations) and projects.
//!
//! Runs, datasets, datapoints and documents are stored as one JSON document per
//! row plus the scalar columns the queries filter and sort on; dataset membership
//! is a separate table so "datapoints by dataset" is an index range scan.

mod catalog;
mod chart;
mod datasets;
mod event_payloads;
mod event_queries;

use std::sync::Arc;

use async_trait::async_trait;
use honeyhive_model::Event;

use super::events::load_event;
use super::migrations::Migration;
use super::{SqliteStore, keys, now_ms, tree};
use crate::store::{
    CatalogStore, Chart, ChartQuery, Datapoint, DatapointPatch, DatapointQuery, Dataset,
    DatasetPatch, DatasetQuery, DatasetStore, EventPayloads, EventQuery, EventStore, Page, Project,
    ProjectPatch, ReadLimits, ReadResult, Resource, ResourceKind, ResourcePatch, Run, RunEvent,
    RunEventsQuery, RunPatch, RunQuery, RunStore, SessionStore, SessionTree, StoreError,
    StoreResult, Tenant,
};

/// Fewest sessions worth a read of their own in [`RunStore::run_events`].
const SESSIONS_PER_READ: usize = 1000;
/// Most reads one [`RunStore::run_events`] runs side by side.
const MAX_PARALLEL_READS: usize = 4;

/// Experiments tables; versions ≥ 100 (core ingest uses 1..100).
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 100,
        name: "runs, datasets, datapoints, documents",
        sql: r#"
CREATE TABLE runs (
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    name        TEXT,
    status      TEXT NOT NULL,
    dataset_id  TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (project_id, run_id)
);
CREATE INDEX runs_by_created ON runs (project_id, created_at);
CREATE TABLE datasets (
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    dataset_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (project_id, dataset_id)
);
CREATE TABLE datapoints (
    org_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    datapoint_id TEXT NOT NULL,
    created_at   REAL NOT NULL,
    doc          TEXT NOT NULL,
    PRIMARY KEY (project_id, datapoint_id)
);
-- Datapoints by dataset, in membership order.
CREATE TABLE dataset_members (
    project_id   TEXT NOT NULL,
    dataset_id   TEXT NOT NULL,
    position     INTEGER NOT NULL,
    datapoint_id TEXT NOT NULL,
    PRIMARY KEY (project_id, dataset_id, position)
);
CREATE INDEX dataset_members_by_datapoint ON dataset_members (project_id, datapoint_id);
CREATE TABLE documents (
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (project_id, kind, doc_id)
);
CREATE TABLE project_details (
    project_id   TEXT PRIMARY KEY,
    description  TEXT,
    project_type TEXT
);
"#,
    },
    Migration {
        version: 101,
        name: "run id of events, indexed for a run's tagged sessions",
        // `GET /v1/runs/{id}/result` also takes sessions tagged with
        // `metadata.run_id`; found through the JSON that was a scan of every
        // event of the project. The writer fills `run_id` from the event's
        // metadata (a map lookup, no JSON parse) and the index is partial, so
        // traffic outside experiments adds no index entry. Existing rows are
        // backfilled once; `CASE` keeps a corrupt document from failing it.
        sql: r#"
ALTER TABLE events ADD COLUMN run_id TEXT;
UPDATE events SET run_id = json_extract(metadata, '$.run_id')
 WHERE CASE WHEN json_valid(metadata) THEN json_type(metadata, '$.run_id') = 'text' ELSE 0 END;
CREATE INDEX events_by_run ON events (project_id, run_id, session_id) WHERE run_id IS NOT NULL;
"#,
    },
];

#[async_trait]
impl EventStore for SqliteStore {
    async fn get_event(&self, tenant: &Tenant, event_id: &str) -> StoreResult<Event> {
        let (tenant, id) = (tenant.clone(), event_id.to_string());
        self.read(move |conn| {
            let mut event = load_event(conn, &tenant, &id)?
                .ok_or_else(|| StoreError::NotFound(format!("event {id}")))?;
            event.children_ids = tree::children_of(conn, &tenant, &event)?;
            Ok(event)
        })
        .await
    }

    async fn query_events(&self, tenant: &Tenant, query: &EventQuery) -> ReadResult<Page<Event>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| Ok(event_queries::query_events(conn, &tenant, &query)))
            .await?
    }

    async fn chart(&self, tenant: &Tenant, query: &ChartQuery) -> ReadResult<Chart> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| Ok(chart::chart(conn, &tenant, &query)))
            .await?
    }

    async fn events_by_ids(
        &self,
        tenant: &Tenant,
        ids: Vec<String>,
        max_bytes: u64,
    ) -> ReadResult<Vec<Event>> {
        let tenant = tenant.clone();
        self.read(move |conn| Ok(event_queries::events_by_ids(conn, &tenant, &ids, max_bytes)))
            .await?
    }

    async fn delete_event(&self, tenant: &Tenant, event_id: &str) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), event_id.to_string());
        self.write(move |conn| event_queries::delete_event(conn, &tenant, &id))
            .await
    }

    async fn event_payloads(
        &self,
        tenant: &Tenant,
        event_ids: &[String],
        max_bytes: u64,
    ) -> StoreResult<EventPayloads> {
        let (tenant, ids) = (tenant.clone(), event_ids.to_vec());
        self.read(move |conn| event_payloads::event_payloads(conn, &tenant, &ids, max_bytes))
            .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn session_tree(
        &self,
        tenant: &Tenant,
        session_id: &str,
        limits: ReadLimits,
    ) -> ReadResult<SessionTree> {
        let (tenant, id) = (tenant.clone(), session_id.to_string());
        self.read(move |conn| Ok(tree::session_tree(conn, &tenant, &id, limits)))
            .await?
    }

    async fn delete_session(&self, tenant: &Tenant, session_id: &str) -> StoreResult<u64> {
        let (tenant, id) = (tenant.clone(), session_id.to_string());
        self.write(move |conn| event_queries::delete_session(conn, &tenant, &id))
            .await
    }
}

#[async_trait]
impl RunStore for SqliteStore {
    async fn run_events(
        &self,
        tenant: &Tenant,
        query: &RunEventsQuery,
    ) -> StoreResult<Vec<RunEvent>> {
        let (listing_tenant, listing) = (tenant.clone(), query.clone());
        let sessions = self
            .read(move |conn| event_queries::run_sessions(conn, &listing_tenant, &listing))
            .await?;
        // A big run's sessions are read in parts, side by side: GET /result of a
        // 10 000-datapoint run waited on this one read for most of its time.
        let parts = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(MAX_PARALLEL_READS)
            .min(sessions.len().div_ceil(SESSIONS_PER_READ))
            .max(1);
        let per_part = sessions.len().div_ceil(parts).max(1);
        let sessions = Arc::new(sessions);
        let reads: Vec<_> = (0..parts)
            .map(|part| {
                let (sessions, tenant) = (sessions.clone(), tenant.clone());
                let (filters, limit) = (query.filters.clone(), query.limit);
                self.spawn_read(move |conn| {
                    let from = (part * per_part).min(sessions.len());
                    let to = (from + per_part).min(sessions.len());
                    event_queries::events_of_sessions(
                        conn,
                        &tenant,
                        &sessions[from..to],
                        &filters,
                        limit,
                    )
                })
            })
            .collect();
        let mut events = Vec::new();
        for read in reads {
            events.extend(read.await?);
        }
        events.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
        Ok(events)
    }

    async fn put_run(&self, tenant: &Tenant, run: &Run) -> StoreResult<()> {
        let (tenant, run) = (tenant.clone(), run.clone());
        self.write(move |conn| catalog::put_run(conn, &tenant, &run))
            .await
    }

    async fn update_run(
        &self,
        tenant: &Tenant,
        run_id: &str,
        patch: &RunPatch,
    ) -> StoreResult<Run> {
        let (tenant, id, patch) = (tenant.clone(), run_id.to_string(), patch.clone());
        self.write(move |conn| catalog::update_run(conn, &tenant, &id, &patch))
            .await
    }

    async fn get_run(&self, tenant: &Tenant, run_id: &str) -> StoreResult<Run> {
        let (tenant, id) = (tenant.clone(), run_id.to_string());
        self.read(move |conn| catalog::get_run(conn, &tenant, &id))
            .await
    }

    async fn list_runs(&self, tenant: &Tenant, query: &RunQuery) -> StoreResult<Page<Run>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| catalog::list_runs(conn, &tenant, &query))
            .await
    }

    async fn delete_run(&self, tenant: &Tenant, run_id: &str) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), run_id.to_string());
        self.write(move |conn| catalog::delete_row(conn, &tenant, "runs", "run_id", &id))
            .await
    }
}

#[async_trait]
impl DatasetStore for SqliteStore {
    async fn put_dataset(&self, tenant: &Tenant, dataset: &Dataset) -> StoreResult<()> {
        let (tenant, dataset) = (tenant.clone(), dataset.clone());
        self.write(move |conn| datasets::put_dataset(conn, &tenant, &dataset))
            .await
    }

    async fn update_dataset(
        &self,
        tenant: &Tenant,
        dataset_id: &str,
        patch: &DatasetPatch,
    ) -> StoreResult<Dataset> {
        let (tenant, id, patch) = (tenant.clone(), dataset_id.to_string(), patch.clone());
        self.write(move |conn| datasets::update_dataset(conn, &tenant, &id, &patch))
            .await
    }

    async fn list_datasets(
        &self,
        tenant: &Tenant,
        query: &DatasetQuery,
    ) -> StoreResult<Page<Dataset>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| datasets::list_datasets(conn, &tenant, &query))
            .await
    }

    async fn delete_dataset(&self, tenant: &Tenant, dataset_id: &str) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), dataset_id.to_string());
        self.write(move |conn| datasets::delete_dataset(conn, &tenant, &id))
            .await
    }

    async fn put_datapoints(&self, tenant: &Tenant, datapoints: &[Datapoint]) -> StoreResult<()> {
        let (tenant, datapoints) = (tenant.clone(), datapoints.to_vec());
        self.write(move |conn| datasets::put_datapoints(conn, &tenant, &datapoints))
            .await
    }

    async fn update_datapoint(
        &self,
        tenant: &Tenant,
        datapoint_id: &str,
        patch: &DatapointPatch,
    ) -> StoreResult<Datapoint> {
        let (tenant, id, patch) = (tenant.clone(), datapoint_id.to_string(), patch.clone());
        self.write(move |conn| datasets::update_datapoint(conn, &tenant, &id, &patch))
            .await
    }

    async fn remove_from_dataset(
        &self,
        tenant: &Tenant,
        dataset_id: &str,
        datapoint_id: &str,
    ) -> StoreResult<bool> {
        let (tenant, dataset, datapoint) = (
            tenant.clone(),
            dataset_id.to_string(),
            datapoint_id.to_string(),
        );
        // Taken once, so a job run twice writes the same row twice.
        let at = now_ms();
        self.write(move |conn| {
            datasets::remove_from_dataset(conn, &tenant, &dataset, &datapoint, at)
        })
        .await
    }

    async fn list_datapoints(
        &self,
        tenant: &Tenant,
        query: &DatapointQuery,
    ) -> StoreResult<Page<Datapoint>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| datasets::list_datapoints(conn, &tenant, &query))
            .await
    }

    async fn delete_datapoint(&self, tenant: &Tenant, datapoint_id: &str) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), datapoint_id.to_string());
        let at = now_ms();
        self.write(move |conn| datasets::delete_datapoint(conn, &tenant, &id, at))
            .await
    }
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn put_api_key(&self, key_hash: &str, project_name: &str) -> StoreResult<Tenant> {
        let (hash, name) = (key_hash.to_string(), project_name.to_string());
        self.write(move |conn| keys::put_api_key(conn, &hash, &name))
            .await
    }

    async fn tenant_for_key(&self, key_hash: &str) -> StoreResult<Option<Tenant>> {
        let hash = key_hash.to_string();
        self.read(move |conn| keys::tenant_for_key(conn, &hash))
            .await
    }

    async fn put_resource(&self, tenant: &Tenant, resource: &Resource) -> StoreResult<()> {
        let (tenant, resource) = (tenant.clone(), resource.clone());
        self.write(move |conn| catalog::put_resource(conn, &tenant, &resource))
            .await
    }

    async fn update_resource(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
        patch: &ResourcePatch,
    ) -> StoreResult<Resource> {
        let (tenant, id, patch) = (tenant.clone(), id.to_string(), patch.clone());
        self.write(move |conn| catalog::update_resource(conn, &tenant, kind, &id, &patch))
            .await
    }

    async fn list_resources(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
    ) -> StoreResult<Vec<Resource>> {
        let tenant = tenant.clone();
        self.read(move |conn| catalog::list_resources(conn, &tenant, kind))
            .await
    }

    async fn delete_resource(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), id.to_string());
        self.write(move |conn| catalog::delete_resource(conn, &tenant, kind, &id))
            .await
    }

    async fn get_project(&self, tenant: &Tenant) -> StoreResult<Project> {
        let tenant = tenant.clone();
        self.read(move |conn| catalog::get_project(conn, &tenant))
            .await
    }

    async fn update_project(&self, tenant: &Tenant, patch: &ProjectPatch) -> StoreResult<Project> {
        let (tenant, patch) = (tenant.clone(), patch.clone());
        self.write(move |conn| catalog::update_project(conn, &tenant, &patch))
            .await
    }
}
