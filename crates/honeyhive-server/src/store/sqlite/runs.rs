//! Runs in SQLite: one JSON document per run, and the slim rows of a run's
//! events that run results read (sessions listed by the run or tagged with it).

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use honeyhive_model::filter::FilterSet;
use honeyhive_model::run::{Run, RunEvent};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::documents::{delete_row, from_doc, id_and_doc, to_doc};
use super::filter::{DefaultSqlColumns, filters_sql};
use super::params::{IDS_PER_STATEMENT, to_sql_value};
use super::rows::{event_type_at, json_text, map_from_text, row_failure};
use super::{SqliteStore, backend, read_error};
use crate::store::{
    Page, RunEventsQuery, RunPatch, RunQuery, RunStore, SortOrder, StoreError, StoreResult, Tenant,
};

/// Fewest sessions worth a read of their own in [`RunStore::run_events`].
const SESSIONS_PER_READ: usize = 1000;

/// Most reads one [`RunStore::run_events`] runs side by side.
const MAX_PARALLEL_READS: usize = 4;

pub(super) fn put_run(conn: &Connection, tenant: &Tenant, run: &Run) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO runs (org_id, project_id, run_id, name, status, dataset_id, created_at, updated_at, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (project_id, run_id) DO UPDATE SET name = excluded.name, status = excluded.status,
           dataset_id = excluded.dataset_id, updated_at = excluded.updated_at, doc = excluded.doc",
        params![
            tenant.org_id,
            tenant.project_id,
            run.run_id,
            run.name,
            run.status.as_str(),
            run.dataset_id,
            run.created_at,
            run.updated_at,
            to_doc(run)?
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn get_run(conn: &Connection, tenant: &Tenant, run_id: &str) -> StoreResult<Run> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM runs WHERE project_id = ?1 AND run_id = ?2",
            [&tenant.project_id, run_id],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    match doc {
        Some(doc) => from_doc(|| format!("run {run_id}"), "doc", &doc),
        None => Err(StoreError::NotFound(format!("run {run_id}"))),
    }
}

/// Applies `patch` to a stored run.
pub(super) fn update_run(
    conn: &Connection,
    tenant: &Tenant,
    run_id: &str,
    patch: &RunPatch,
) -> StoreResult<Run> {
    let mut run = get_run(conn, tenant, run_id)?;
    patch.apply_to(&mut run);
    put_run(conn, tenant, &run)?;
    Ok(run)
}

pub(super) fn list_runs(
    conn: &Connection,
    tenant: &Tenant,
    query: &RunQuery,
) -> StoreResult<Page<Run>> {
    let mut clause = String::from("project_id = ?");
    let mut params = vec![SqlValue::Text(tenant.project_id.clone())];
    if let Some(dataset_id) = &query.dataset_id {
        clause.push_str(" AND dataset_id = ?");
        params.push(SqlValue::Text(dataset_id.clone()));
    }
    if let Some(status) = &query.status {
        clause.push_str(" AND status = ?");
        params.push(SqlValue::Text(status.as_str().to_string()));
    }
    if let Some(name) = &query.name {
        clause.push_str(" AND instr(COALESCE(name, ''), ?) > 0");
        params.push(SqlValue::Text(name.clone()));
    }
    if let Some(min) = query.created_min {
        clause.push_str(" AND created_at >= ?");
        params.push(SqlValue::Real(min));
    }
    if let Some(max) = query.created_max {
        clause.push_str(" AND created_at <= ?");
        params.push(SqlValue::Real(max));
    }
    if !query.run_ids.is_empty() {
        clause.push_str(" AND run_id IN (");
        clause.push_str(&vec!["?"; query.run_ids.len()].join(","));
        clause.push(')');
        params.extend(query.run_ids.iter().map(|id| SqlValue::Text(id.clone())));
    }
    let total: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM runs WHERE {clause}"),
            rusqlite::params_from_iter(params.iter()),
            |r| r.get(0),
        )
        .map_err(backend)?;
    let order = match query.order {
        SortOrder::Ascending => "ASC",
        SortOrder::Descending => "DESC",
    };
    let limit = if query.limit == 0 {
        i64::MAX
    } else {
        i64::try_from(query.limit).unwrap_or(i64::MAX)
    };
    params.push(SqlValue::Integer(limit));
    params.push(SqlValue::Integer(
        i64::try_from(query.offset).unwrap_or(i64::MAX),
    ));
    let mut stmt = conn
        .prepare(&format!("SELECT run_id, doc FROM runs WHERE {clause} ORDER BY created_at {order}, run_id {order} LIMIT ? OFFSET ?"))
        .map_err(backend)?;
    let docs = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), id_and_doc)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    let items = docs
        .iter()
        .map(|(id, doc)| from_doc(|| format!("run {id}"), "doc", doc))
        .collect::<StoreResult<Vec<Run>>>()?;
    Ok(Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
    })
}

/// The columns [`run_event_from_row`] reads, in order.
const RUN_EVENT_COLUMNS: &str =
    "event_id, session_id, parent_id, event_type, event_name, start_time, error, metrics, metadata";

/// Just the key run results read from `metadata`; the rest is skipped unparsed.
#[derive(serde::Deserialize)]
struct DatapointTag {
    #[serde(default)]
    datapoint_id: Option<Value>,
}

fn datapoint_id_of(event_id: &str, metadata: &str) -> StoreResult<Option<String>> {
    // Most events of a run (every span but the session) carry no datapoint id.
    if !metadata.contains("datapoint_id") {
        return Ok(None);
    }
    match serde_json::from_str::<DatapointTag>(metadata) {
        Ok(DatapointTag {
            datapoint_id: Some(Value::String(id)),
        }) => Ok(Some(id)),
        Ok(_) => Ok(None),
        Err(e) => Err(StoreError::Corrupt {
            what: format!("event {event_id}"),
            field: "metadata",
            reason: e.to_string(),
        }),
    }
}

fn run_event_from_row(row: &Row<'_>) -> rusqlite::Result<RunEvent> {
    // Type, metrics and metadata are read in place: only what they hold is kept.
    let event_id: String = row.get(0)?;
    let what = || format!("event {event_id}");
    let metrics = json_text(row, 7, &what, "metrics")?;
    let metadata = json_text(row, 8, &what, "metadata")?;
    Ok(RunEvent {
        session_id: row.get(1)?,
        parent_id: row.get(2)?,
        event_type: event_type_at(row, 3, &what)?,
        event_name: row.get(4)?,
        start_time: row.get(5)?,
        error: row.get(6)?,
        metrics: if metrics == "{}" {
            Default::default()
        } else {
            map_from_text(metrics, what, "metrics").map_err(|e| row_failure(7, e))?
        },
        datapoint_id: datapoint_id_of(&event_id, metadata).map_err(|e| row_failure(8, e))?,
        event_id,
    })
}

/// Sessions with an event whose `metadata.run_id` is `run_id` (through the
/// partial index `events_by_run`).
fn sessions_tagged_with_run(
    conn: &Connection,
    tenant: &Tenant,
    run_id: &str,
) -> StoreResult<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT session_id FROM events WHERE project_id = ?1 AND run_id = ?2",
        )
        .map_err(backend)?;
    stmt.query_map([&tenant.project_id, run_id], |row| row.get(0))
        .map_err(backend)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(backend)
}

/// The sessions of a run's events, each once: those `query` lists, then those
/// tagged with its run id.
pub(super) fn run_sessions(
    conn: &Connection,
    tenant: &Tenant,
    query: &RunEventsQuery,
) -> StoreResult<Vec<String>> {
    let tagged = match &query.tagged_run_id {
        Some(run_id) => sessions_tagged_with_run(conn, tenant, run_id)?,
        None => Vec::new(),
    };
    let mut seen: HashSet<&str> = HashSet::with_capacity(query.session_ids.len() + tagged.len());
    let mut sessions = Vec::with_capacity(query.session_ids.len());
    for id in query.session_ids.iter().chain(&tagged) {
        if seen.insert(id) {
            sessions.push(id.clone());
        }
    }
    Ok(sessions)
}

/// The [`RunEvent`]s of `sessions` that match `filters`, at most `limit`:
/// grouped by session, each session's by start time, then event id.
pub(super) fn events_of_sessions(
    conn: &Connection,
    tenant: &Tenant,
    sessions: &[String],
    filters: &FilterSet,
    limit: u64,
) -> StoreResult<Vec<RunEvent>> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let cond = filters_sql(filters, &DefaultSqlColumns);
    let filter_params: Vec<SqlValue> = cond.params.into_iter().map(to_sql_value).collect();
    let mut events = Vec::new();
    for chunk in sessions.chunks(IDS_PER_STATEMENT) {
        if events.len() >= limit {
            break;
        }
        // Placeholders only; ids and filter values are bound. The planner walks
        // `events_by_session` for the ids, in id order, and sorts only events
        // that share a session and a start time by id.
        let sql = format!(
            "SELECT {RUN_EVENT_COLUMNS} FROM events \
             WHERE project_id = ? AND session_id IN ({}) AND ({}) \
             ORDER BY session_id, start_time, event_id",
            vec!["?"; chunk.len()].join(","),
            cond.sql
        );
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let params = std::iter::once(SqlValue::Text(tenant.project_id.clone()))
            .chain(chunk.iter().map(|id| SqlValue::Text(id.clone())))
            .chain(filter_params.iter().cloned());
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), run_event_from_row)
            .map_err(backend)?;
        for row in rows {
            events.push(row.map_err(read_error)?);
            if events.len() >= limit {
                break;
            }
        }
    }
    Ok(events)
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
            .read(move |conn| run_sessions(conn, &listing_tenant, &listing))
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
                    events_of_sessions(conn, &tenant, &sessions[from..to], &filters, limit)
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
        self.write(move |conn| put_run(conn, &tenant, &run)).await
    }

    async fn update_run(
        &self,
        tenant: &Tenant,
        run_id: &str,
        patch: &RunPatch,
    ) -> StoreResult<Run> {
        let (tenant, id, patch) = (tenant.clone(), run_id.to_string(), patch.clone());
        self.write(move |conn| update_run(conn, &tenant, &id, &patch))
            .await
    }

    async fn get_run(&self, tenant: &Tenant, run_id: &str) -> StoreResult<Run> {
        let (tenant, id) = (tenant.clone(), run_id.to_string());
        self.read(move |conn| get_run(conn, &tenant, &id)).await
    }

    async fn list_runs(&self, tenant: &Tenant, query: &RunQuery) -> StoreResult<Page<Run>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| list_runs(conn, &tenant, &query))
            .await
    }

    async fn delete_run(&self, tenant: &Tenant, run_id: &str) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), run_id.to_string());
        self.write(move |conn| delete_row(conn, &tenant, "runs", "run_id", &id))
            .await
    }
}
