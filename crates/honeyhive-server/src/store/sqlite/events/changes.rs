//! What changed after a commit sequence number: the reads the live stream
//! resumes from (see `store/sqlite/changes.rs` for how numbers are taken).

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use super::count_events;
use crate::store::sqlite::filter::{DefaultSqlColumns, filters_sql};
use crate::store::sqlite::limits::ReadBudget;
use crate::store::sqlite::params::to_sql_value;
use crate::store::sqlite::rows::{EVENT_COLUMNS, event_from_row};
use crate::store::sqlite::{backend, read_error};
use crate::store::{
    Change, ChangeKind, ChangesPage, ChangesQuery, ReadError, ReadLimit, ReadResult, StoreResult,
    Tenant,
};

/// A sequence number as stored (an `INTEGER`).
fn stored(seq: u64) -> SqlValue {
    SqlValue::Integer(i64::try_from(seq).unwrap_or(i64::MAX))
}

/// The project's highest sequence number, 0 when none (one seek of `events_by_seq`).
pub(in crate::store::sqlite) fn last_seq(conn: &Connection, tenant: &Tenant) -> StoreResult<u64> {
    let last: Option<i64> = conn
        .prepare_cached("SELECT max(seq) FROM events WHERE project_id = ?1 AND seq IS NOT NULL")
        .and_then(|mut stmt| stmt.query_row([&tenant.project_id], |row| row.get(0)))
        .map_err(backend)?;
    Ok(last.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}

/// The WHERE clause (without `WHERE`) and parameters of `query`: a range of
/// `events_by_seq`, then the filters.
fn where_clause(tenant: &Tenant, query: &ChangesQuery) -> (String, Vec<SqlValue>) {
    let cond = filters_sql(&query.filters, &DefaultSqlColumns);
    let sql = format!(
        "project_id = ? AND seq IS NOT NULL AND seq > ? AND seq <= ? AND ({})",
        cond.sql
    );
    let mut params = vec![
        SqlValue::Text(tenant.project_id.clone()),
        stored(query.after),
        stored(query.up_to),
    ];
    params.extend(cond.params.into_iter().map(to_sql_value));
    (sql, params)
}

/// The events changed in `(query.after, query.up_to]` that match, in sequence
/// order; stops before the row that would pass `query.limit` or `query.max_bytes`.
pub(in crate::store::sqlite) fn changes_after(
    conn: &Connection,
    tenant: &Tenant,
    query: &ChangesQuery,
) -> ReadResult<ChangesPage> {
    let (clause, mut params) = where_clause(tenant, query);
    // One row past the limit says whether there is more.
    params.push(SqlValue::Integer(
        i64::try_from(query.limit.saturating_add(1)).unwrap_or(i64::MAX),
    ));
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, seq, created_seq FROM events WHERE {clause} ORDER BY seq LIMIT ?"
    );
    let mut stmt = conn.prepare(&sql).map_err(backend)?;
    let event_columns = stmt.column_count() - 2;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(backend)?;
    let mut budget = ReadBudget::new(query.limit, query.max_bytes);
    let mut page = ChangesPage::default();
    while let Some(row) = rows.next().map_err(backend)? {
        match budget.take_row(row, event_columns).map_err(backend)? {
            Ok(()) => {}
            Err(ReadLimit::Bytes(limit)) if page.items.is_empty() => {
                return Err(ReadError::TooLarge(ReadLimit::Bytes(limit)));
            }
            Err(_) => {
                page.more = true;
                break;
            }
        }
        let seq: i64 = row.get(event_columns).map_err(backend)?;
        let created: Option<i64> = row.get(event_columns + 1).map_err(backend)?;
        let seq = u64::try_from(seq).unwrap_or(0);
        let created_after = created
            .and_then(|c| u64::try_from(c).ok())
            .is_some_and(|c| c > query.after);
        page.items.push(Change {
            seq,
            kind: if created_after {
                ChangeKind::Created
            } else {
                ChangeKind::Updated
            },
            event: event_from_row(row).map_err(read_error)?,
        });
    }
    Ok(page)
}

/// How many events [`changes_after`] would read without its limits.
pub(in crate::store::sqlite) fn count_changes(
    conn: &Connection,
    tenant: &Tenant,
    query: &ChangesQuery,
) -> StoreResult<u64> {
    let (clause, params) = where_clause(tenant, query);
    count_events(conn, &clause, &params)
}
