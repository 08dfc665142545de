//! `GET /events`-style queries and event/session deletes over the core `events` table.

use honeyhive_model::Event;
use honeyhive_model::filter::{DefaultSqlColumns, SqlParam};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use super::super::{EVENT_COLUMNS, backend, event_from_row};
use crate::store::{EventQuery, Page, SortOrder, StoreResult, Tenant};

/// Most session ids one query may name (keeps the statement's parameter count bounded).
const MAX_SESSION_IDS: usize = 10_000;

fn to_sql_value(p: SqlParam) -> SqlValue {
    match p {
        SqlParam::Text(s) => SqlValue::Text(s),
        SqlParam::Real(f) => SqlValue::Real(f),
        SqlParam::Integer(i) => SqlValue::Integer(i),
    }
}

/// The WHERE clause (without `WHERE`) and its parameters for `query`.
fn where_clause(tenant: &Tenant, query: &EventQuery) -> (String, Vec<SqlValue>) {
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

pub(super) fn query_events(
    conn: &Connection,
    tenant: &Tenant,
    query: &EventQuery,
) -> StoreResult<Page<Event>> {
    let (clause, params) = where_clause(tenant, query);
    let total: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM events WHERE {clause}"),
            rusqlite::params_from_iter(params.iter()),
            |row| row.get(0),
        )
        .map_err(backend)?;
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
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE {clause} \
         ORDER BY start_time {order}, event_id {order} LIMIT ? OFFSET ?"
    );
    let mut stmt = conn.prepare(&sql).map_err(backend)?;
    let items = stmt
        .query_map(
            rusqlite::params_from_iter(page_params.iter()),
            event_from_row,
        )
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    Ok(Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
    })
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
