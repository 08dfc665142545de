//! Session trees: a session's events read within the read limits, and the
//! children of one event found without reading its session.
//!
//! Deleting a session deletes every event in it.

use std::collections::HashMap;

use async_trait::async_trait;
use honeyhive_model::{Event, EventType};
use rusqlite::{Connection, OptionalExtension, params};

use super::limits::ReadBudget;
use super::{EVENT_COLUMNS, SqliteStore, backend, event_from_row};
use crate::store::{
    ReadError, ReadLimits, ReadResult, SessionStore, SessionTree, StoreError, StoreResult, Tenant,
};

/// Fills `children_ids` from parent links. Events whose parent is not in the
/// set (top-level spans, or a parent span never exported) hang off the session.
pub(crate) fn link_tree(session_id: &str, events: &mut [Event]) {
    let index: HashMap<String, usize> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.event_id.clone(), i))
        .collect();
    let root = index.get(session_id).copied();
    let mut links: Vec<(usize, String)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if Some(i) == root {
            continue;
        }
        let parent = e
            .parent_id
            .as_ref()
            .and_then(|p| index.get(p).copied())
            .filter(|p| *p != i)
            .or(root);
        if let Some(p) = parent {
            links.push((p, e.event_id.clone()));
        }
    }
    for (parent, child) in links {
        events[parent].children_ids.push(child);
    }
}

/// Whether the session event of `session_id` is stored in this project.
fn session_exists(conn: &Connection, tenant: &Tenant, session_id: &str) -> ReadResult<bool> {
    let stored_type: Option<String> = conn
        .prepare_cached(
            "SELECT event_type FROM events WHERE project_id = ?1 AND event_id = ?2 AND session_id = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![tenant.project_id, session_id], |row| row.get(0))
                .optional()
        })
        .map_err(backend)?;
    Ok(stored_type.is_some_and(|t| EventType::parse(&t).unwrap_or_default() == EventType::Session))
}

/// The session `session_id` as a tree, its events by start time then id.
/// Stops at the first row past `limits` (rows, or bytes as stored) with
/// [`ReadError::TooLarge`], before decoding that row.
pub(crate) fn session_tree(
    conn: &Connection,
    tenant: &Tenant,
    session_id: &str,
    limits: ReadLimits,
) -> ReadResult<SessionTree> {
    let not_found = || ReadError::Store(StoreError::NotFound(format!("session {session_id}")));
    if !session_exists(conn, tenant, session_id)? {
        return Err(not_found());
    }
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ?1 AND session_id = ?2 \
         ORDER BY start_time, event_id"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let columns = stmt.column_count();
    let mut rows = stmt
        .query(params![tenant.project_id, session_id])
        .map_err(backend)?;
    let mut budget = ReadBudget::new(limits.max_events, limits.max_bytes);
    let mut events = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        budget
            .take_row(row, columns)
            .map_err(backend)?
            .map_err(ReadError::TooLarge)?;
        events.push(event_from_row(row).map_err(backend)?);
    }
    link_tree(session_id, &mut events);
    let position = events
        .iter()
        .position(|e| e.event_id == session_id && e.event_type == EventType::Session)
        .ok_or_else(not_found)?;
    let session = events.remove(position);
    Ok(SessionTree { session, events })
}

/// Children of the session event: every other event of the session whose
/// parent is missing, is itself, is the session, or is not in the session.
const CHILDREN_OF_SESSION: &str = "SELECT c.event_id FROM events c \
    WHERE c.project_id = ?1 AND c.session_id = ?2 AND c.event_id <> ?2 \
    AND (c.parent_id IS NULL OR c.parent_id = ?2 OR c.parent_id = c.event_id \
         OR NOT EXISTS (SELECT 1 FROM events p \
                        WHERE p.project_id = ?1 AND p.event_id = c.parent_id AND p.session_id = ?2)) \
    ORDER BY c.start_time, c.event_id";

/// Children of any other event: the events of its session that name it as parent.
const CHILDREN_OF_EVENT: &str = "SELECT event_id FROM events \
    WHERE project_id = ?1 AND session_id = ?2 AND parent_id = ?3 AND event_id <> ?3 \
    ORDER BY start_time, event_id";

/// The `children_ids` [`link_tree`] gives `event` in its session's tree,
/// found through the session index without reading the session's events.
pub(crate) fn children_of(
    conn: &Connection,
    tenant: &Tenant,
    event: &Event,
) -> StoreResult<Vec<String>> {
    let mut params = vec![tenant.project_id.as_str(), event.session_id.as_str()];
    let sql = if event.event_id == event.session_id {
        CHILDREN_OF_SESSION
    } else {
        params.push(event.event_id.as_str());
        CHILDREN_OF_EVENT
    };
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let ids = stmt
        .query_map(rusqlite::params_from_iter(params), |row| row.get(0))
        .map_err(backend)?;
    ids.collect::<Result<Vec<String>, _>>().map_err(backend)
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

#[async_trait]
impl SessionStore for SqliteStore {
    async fn session_tree(
        &self,
        tenant: &Tenant,
        session_id: &str,
        limits: ReadLimits,
    ) -> ReadResult<SessionTree> {
        let (tenant, id) = (tenant.clone(), session_id.to_string());
        self.read(move |conn| Ok(session_tree(conn, &tenant, &id, limits)))
            .await?
    }

    async fn delete_session(&self, tenant: &Tenant, session_id: &str) -> StoreResult<u64> {
        let (tenant, id) = (tenant.clone(), session_id.to_string());
        self.write(move |conn| delete_session(conn, &tenant, &id))
            .await
    }
}
