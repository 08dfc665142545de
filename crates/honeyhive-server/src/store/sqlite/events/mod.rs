//! Event reads and deletes: `GET /events`-style queries (filters pushed down
//! to SQL), events by id, charts, the parts of events datapoints are made from.

mod changes;
mod chart;
mod payloads;

use std::collections::HashSet;

use async_trait::async_trait;
use honeyhive_model::Event;
use honeyhive_model::filter::JsonRoot;
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use super::filter::{DefaultSqlColumns, filters_sql};
use super::limits::ReadBudget;
use super::params::{IDS_PER_STATEMENT, to_sql_value};
use super::rows::{EVENT_COLUMNS, event_from_row, load_event};
use super::{SqliteStore, backend, read_error, sessions};
use crate::store::{
    ChangesPage, ChangesQuery, Chart, ChartQuery, EventPayloads, EventQuery, EventStore, Page,
    ReadError, ReadResult, SortOrder, StoreError, StoreResult, Tenant,
};

/// Most session ids one query may name (keeps the statement's parameter count bounded).
const MAX_SESSION_IDS: usize = 10_000;

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
    let cond = filters_sql(&query.filters, &DefaultSqlColumns);
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
    let exact_total = if query.exact_total {
        Some(count_events(conn, &clause, &params)?)
    } else {
        None
    };
    let order = match query.order {
        SortOrder::Ascending => "ASC",
        SortOrder::Descending => "DESC",
    };
    // Events of named sessions are few: find them through events_by_session
    // and sort them, rather than walk the project's time index in order and
    // test every row (`+` keeps the planner from ordering by that index).
    let sort_key = if query.session_ids.is_empty() {
        "start_time"
    } else {
        "+start_time"
    };
    // One row past the page tells whether there is more, when not counting.
    let read_limit = query.limit.saturating_add(u64::from(exact_total.is_none()));
    let mut page_params = params;
    page_params.push(SqlValue::Integer(
        i64::try_from(read_limit).unwrap_or(i64::MAX),
    ));
    page_params.push(SqlValue::Integer(
        i64::try_from(query.offset).unwrap_or(i64::MAX),
    ));
    let columns = event_columns(query.json_fields.as_deref());
    let sql = format!(
        "SELECT {columns} FROM events WHERE {clause} \
         ORDER BY {sort_key} {order}, event_id {order} LIMIT ? OFFSET ?"
    );
    let mut stmt = conn.prepare(&sql).map_err(backend)?;
    let column_count = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(page_params.iter()))
        .map_err(backend)?;
    let mut budget = ReadBudget::new(query.limit, query.max_bytes);
    let mut items = Vec::new();
    let mut more = false;
    while let Some(row) = rows.next().map_err(backend)? {
        if items.len() as u64 == query.limit {
            more = true;
            break;
        }
        budget
            .take_row(row, column_count)
            .map_err(backend)?
            .map_err(ReadError::TooLarge)?;
        items.push(event_from_row(row).map_err(read_error)?);
    }
    let total = exact_total.unwrap_or_else(|| query.offset + items.len() as u64 + u64::from(more));
    Ok(Page { items, total })
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
    for chunk in unique.chunks(IDS_PER_STATEMENT) {
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

#[async_trait]
impl EventStore for SqliteStore {
    async fn get_event(&self, tenant: &Tenant, event_id: &str) -> StoreResult<Event> {
        let (tenant, id) = (tenant.clone(), event_id.to_string());
        self.read(move |conn| {
            let mut event = load_event(conn, &tenant, &id)?
                .ok_or_else(|| StoreError::NotFound(format!("event {id}")))?;
            event.children_ids = sessions::children_of(conn, &tenant, &event)?;
            Ok(event)
        })
        .await
    }

    async fn query_events(&self, tenant: &Tenant, query: &EventQuery) -> ReadResult<Page<Event>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| Ok(query_events(conn, &tenant, &query)))
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
        self.read(move |conn| Ok(events_by_ids(conn, &tenant, &ids, max_bytes)))
            .await?
    }

    async fn delete_event(&self, tenant: &Tenant, event_id: &str) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), event_id.to_string());
        self.write(move |conn| delete_event(conn, &tenant, &id))
            .await
    }

    async fn event_payloads(
        &self,
        tenant: &Tenant,
        event_ids: &[String],
        max_bytes: u64,
    ) -> StoreResult<EventPayloads> {
        let (tenant, ids) = (tenant.clone(), event_ids.to_vec());
        self.read(move |conn| payloads::event_payloads(conn, &tenant, &ids, max_bytes))
            .await
    }

    async fn last_seq(&self, tenant: &Tenant) -> StoreResult<u64> {
        let tenant = tenant.clone();
        self.read(move |conn| changes::last_seq(conn, &tenant))
            .await
    }

    async fn changes_after(
        &self,
        tenant: &Tenant,
        query: &ChangesQuery,
    ) -> ReadResult<ChangesPage> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| Ok(changes::changes_after(conn, &tenant, &query)))
            .await?
    }

    async fn count_changes(&self, tenant: &Tenant, query: &ChangesQuery) -> StoreResult<u64> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| changes::count_changes(conn, &tenant, &query))
            .await
    }
}
