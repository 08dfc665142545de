//! The `events` row codec: the columns read, and rows decoded into events
//! (a stored document that does not read back is corrupt data, never empty).

use honeyhive_model::{Event, EventType};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

use super::{backend, read_error};
use crate::store::{StoreError, StoreResult, Tenant};

/// The `events` columns [`event_from_row`] reads, in order; use as
/// `SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ?`.
pub(crate) const EVENT_COLUMNS: &str = "org_id, project_id, event_id, session_id, parent_id, \
    event_type, event_name, source, start_time, end_time, duration, error, config, inputs, \
    outputs, metadata, metrics, feedback, user_properties";

/// A stored JSON object column read back. Anything but an object is an error
/// (a read error is never an empty object); `what` names the row.
pub(crate) fn map_from_text(
    text: &str,
    what: impl FnOnce() -> String,
    field: &'static str,
) -> StoreResult<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(corrupt(
            what(),
            field,
            format!("{} is not an object", kind(&other)),
        )),
        Err(e) => Err(corrupt(what(), field, e.to_string())),
    }
}

pub(super) fn corrupt(what: String, field: &'static str, reason: String) -> StoreError {
    StoreError::Corrupt {
        what,
        field,
        reason,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A stored-data error of a row's column `index`, carried through rusqlite's
/// row errors; [`super::read_error`] turns it back into the [`StoreError`].
pub(crate) fn row_failure(index: usize, e: StoreError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e))
}

/// The text of column `index` of the row of `what` (a non-text value is
/// corrupt data, not an empty document).
pub(crate) fn json_text<'r>(
    row: &'r Row<'_>,
    index: usize,
    what: &dyn Fn() -> String,
    field: &'static str,
) -> rusqlite::Result<&'r str> {
    row.get_ref(index)?
        .as_str()
        .map_err(|e| row_failure(index, corrupt(what(), field, e.to_string())))
}

/// The stored `event_type` at column `index` (an unknown name is corrupt
/// data, not the default type).
pub(crate) fn event_type_at(
    row: &Row<'_>,
    index: usize,
    what: &dyn Fn() -> String,
) -> rusqlite::Result<EventType> {
    let name = json_text(row, index, what, "event_type")?;
    EventType::parse(name).ok_or_else(|| {
        let reason = format!("unknown event type {name:?}");
        row_failure(index, corrupt(what(), "event_type", reason))
    })
}

/// Decodes a row selected with [`EVENT_COLUMNS`] (children_ids left empty).
///
/// A JSON column that does not read back fails the row with a
/// [`StoreError::Corrupt`] naming the event and column; map the row error with
/// [`super::read_error`] to get it back.
pub(crate) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let event_id: String = row.get(2)?;
    let what = || format!("event {event_id}");
    let json = |index: usize, field: &'static str| -> rusqlite::Result<Map<String, Value>> {
        map_from_text(json_text(row, index, &what, field)?, what, field)
            .map_err(|e| row_failure(index, e))
    };
    Ok(Event {
        tenant: row.get(0)?,
        project_id: row.get(1)?,
        session_id: row.get(3)?,
        parent_id: row.get(4)?,
        children_ids: Vec::new(),
        event_type: event_type_at(row, 5, &what)?,
        event_name: row.get(6)?,
        source: row.get(7)?,
        start_time: row.get(8)?,
        end_time: row.get(9)?,
        duration: row.get(10)?,
        error: row.get(11)?,
        config: json(12, "config")?,
        inputs: json(13, "inputs")?,
        outputs: json(14, "outputs")?,
        metadata: json(15, "metadata")?,
        metrics: json(16, "metrics")?,
        feedback: json(17, "feedback")?,
        user_properties: json(18, "user_properties")?,
        event_id,
    })
}

/// One stored event, without children.
pub(crate) fn load_event(
    conn: &Connection,
    tenant: &Tenant,
    event_id: &str,
) -> StoreResult<Option<Event>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ?1 AND event_id = ?2");
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    stmt.query_row(params![tenant.project_id, event_id], event_from_row)
        .optional()
        .map_err(read_error)
}
