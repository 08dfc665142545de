//! `GET /events`-style queries and event/session deletes over the core `events` table.

use std::collections::HashSet;

use honeyhive_model::Event;
use honeyhive_model::filter::{DefaultSqlColumns, FilterSet, JsonRoot, SqlParam};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row};
use serde_json::Value;

use super::super::events::{event_type_at, json_text, map_from_text, row_failure};
use super::super::limits::ReadBudget;
use super::super::{EVENT_COLUMNS, backend, event_from_row, read_error};
use crate::store::{
    EventQuery, Page, ReadError, ReadResult, RunEvent, RunEventsQuery, SortOrder, StoreError,
    StoreResult, Tenant,
};

/// Most session ids one query may name (keeps the statement's parameter count bounded).
const MAX_SESSION_IDS: usize = 10_000;

pub(super) fn to_sql_value(p: SqlParam) -> SqlValue {
    match p {
        SqlParam::Text(s) => SqlValue::Text(s),
        SqlParam::Real(f) => SqlValue::Real(f),
        SqlParam::Integer(i) => SqlValue::Integer(i),
    }
}

/// The WHERE clause (without `WHERE`) and its parameters for `query`.
pub(super) fn where_clause(tenant: &Tenant, query: &EventQuery) -> (String, Vec<SqlValue>) {
    let mut sql = String::from("project_id = ?");
    let mut params = vec![SqlValue::Text(tenant.project_id.clone())];
    if let Some(min) = query.start_time_min {
        sql.push_str(" AND start_time >= ?");
        params.push(SqlValue::Real(min));
    }
    if let Some(max) = query.start_time_max {
        sql.push_str(" AND start_time <= ?");
        params.push(SqlValue::Real(max));
    }
    if !query.session_ids.is_empty() {
        let ids = &query.session_ids[..query.session_ids.len().min(MAX_SESSION_IDS)];
        // One bound placeholder per id; nothing from the request enters the SQL text.
        sql.push_str(" AND session_id IN (");
        sql.push_str(&vec!["?"; ids.len()].join(","));
        sql.push(')');
        params.extend(ids.iter().map(|id| SqlValue::Text(id.clone())));
    }
    let cond = query.filters.to_sql(&DefaultSqlColumns);
    sql.push_str(" AND (");
    sql.push_str(&cond.sql);
    sql.push(')');
    params.extend(cond.params.into_iter().map(to_sql_value));
    (sql, params)
}

/// [`EVENT_COLUMNS`] with the JSON objects `json_fields` leaves out read as
/// `'{}'`: same positions for [`event_from_row`], none of their text loaded.
fn event_columns(json_fields: Option<&[JsonRoot]>) -> String {
    let Some(wanted) = json_fields else {
        return EVENT_COLUMNS.to_string();
    };
    EVENT_COLUMNS
        .split(',')
        .map(str::trim)
        .map(|column| {
            let left_out = JsonRoot::ALL
                .iter()
                .any(|root| root.as_str() == column && !wanted.contains(root));
            if left_out { "'{}'" } else { column }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many matching events `clause` counts.
pub(super) fn count_events(
    conn: &Connection,
    clause: &str,
    params: &[SqlValue],
) -> StoreResult<u64> {
    let total: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM events WHERE {clause}"),
            rusqlite::params_from_iter(params.iter()),
            |row| row.get(0),
        )
        .map_err(backend)?;
    Ok(u64::try_from(total).unwrap_or(0))
}

/// A page of events; stops at the first row that would take the page past
/// `query.max_bytes` of stored text, before decoding it.
pub(super) fn query_events(
    conn: &Connection,
    tenant: &Tenant,
    query: &EventQuery,
) -> ReadResult<Page<Event>> {
    let (clause, params) = where_clause(tenant, query);
    let total = count_events(conn, &clause, &params)?;
    let order = match query.order {
        SortOrder::Ascending => "ASC",
        SortOrder::Descending => "DESC",
    };
    let mut page_params = params;
    page_params.push(SqlValue::Integer(
        i64::try_from(query.limit).unwrap_or(i64::MAX),
    ));
    page_params.push(SqlValue::Integer(
        i64::try_from(query.offset).unwrap_or(i64::MAX),
    ));
    let columns = event_columns(query.json_fields.as_deref());
    let sql = format!(
        "SELECT {columns} FROM events WHERE {clause} \
         ORDER BY start_time {order}, event_id {order} LIMIT ? OFFSET ?"
    );
    let mut stmt = conn.prepare(&sql).map_err(backend)?;
    let column_count = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(page_params.iter()))
        .map_err(backend)?;
    let mut budget = ReadBudget::new(query.limit, query.max_bytes);
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        budget
            .take_row(row, column_count)
            .map_err(backend)?
            .map_err(ReadError::TooLarge)?;
        items.push(event_from_row(row).map_err(read_error)?);
    }
    Ok(Page { items, total })
}

/// Session ids bound per statement of [`run_events`]: one statement per chunk
/// keeps the parameter count bounded however many sessions a run has.
const RUN_SESSION_CHUNK: usize = 500;

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
    let cond = filters.to_sql(&DefaultSqlColumns);
    let filter_params: Vec<SqlValue> = cond.params.into_iter().map(to_sql_value).collect();
    let mut events = Vec::new();
    for chunk in sessions.chunks(RUN_SESSION_CHUNK) {
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

/// Whole events by id (see [`crate::store::EventStore::events_by_ids`]):
/// each row's stored size counts against `max_bytes` before it is decoded.
pub(super) fn events_by_ids(
    conn: &Connection,
    tenant: &Tenant,
    ids: &[String],
    max_bytes: u64,
) -> ReadResult<Vec<Event>> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(ids.len());
    let unique: Vec<&String> = ids.iter().filter(|id| seen.insert(id.as_str())).collect();
    let mut budget = ReadBudget::new(u64::MAX, max_bytes);
    let mut events = Vec::with_capacity(unique.len());
    for chunk in unique.chunks(RUN_SESSION_CHUNK) {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ? AND event_id IN ({})",
            vec!["?"; chunk.len()].join(",")
        );
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let column_count = stmt.column_count();
        let params = std::iter::once(SqlValue::Text(tenant.project_id.clone()))
            .chain(chunk.iter().map(|id| SqlValue::Text((*id).clone())));
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            budget
                .take_row(row, column_count)
                .map_err(backend)?
                .map_err(ReadError::TooLarge)?;
            events.push(event_from_row(row).map_err(read_error)?);
        }
    }
    events.sort_by(|a, b| {
        a.start_time
            .total_cmp(&b.start_time)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    Ok(events)
}

pub(super) fn delete_event(
    conn: &Connection,
    tenant: &Tenant,
    event_id: &str,
) -> StoreResult<bool> {
    let n = conn
        .execute(
            "DELETE FROM events WHERE project_id = ?1 AND event_id = ?2",
            [&tenant.project_id, event_id],
        )
        .map_err(backend)?;
    Ok(n > 0)
}

pub(super) fn delete_session(
    conn: &Connection,
    tenant: &Tenant,
    session_id: &str,
) -> StoreResult<u64> {
    let n = conn
        .execute(
            "DELETE FROM events WHERE project_id = ?1 AND (session_id = ?2 OR event_id = ?2)",
            [&tenant.project_id, session_id],
        )
        .map_err(backend)?;
    Ok(n as u64)
}
