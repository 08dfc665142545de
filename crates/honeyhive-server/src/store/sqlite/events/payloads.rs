//! The parts of events that `POST /v1/datapoints/batch` makes datapoints from,
//! read for a whole id list in one statement: only `inputs`, `outputs` and
//! `feedback`, never the session tree around each event.

use rusqlite::{Connection, params};
use serde_json::{Map, Value};

use super::super::rows::{json_text, map_from_text};
use super::super::{backend, read_error};
use crate::store::{EventPayload, EventPayloads, StoreError, StoreResult, Tenant};

pub(super) fn event_payloads(
    conn: &Connection,
    tenant: &Tenant,
    event_ids: &[String],
    max_bytes: u64,
) -> StoreResult<EventPayloads> {
    let ids = serde_json::to_string(event_ids).map_err(backend)?;
    // The ids go in as one JSON array; a missing event comes back as NULLs.
    // The length column comes first so an over-limit row is never copied out.
    let mut stmt = conn
        .prepare_cached(
            "SELECT j.value, e.event_id IS NOT NULL,
                    length(e.inputs) + length(e.outputs) + length(e.feedback),
                    e.inputs, e.outputs, e.feedback
             FROM json_each(?2) j
             LEFT JOIN events e ON e.project_id = ?1 AND e.event_id = j.value
             ORDER BY j.key",
        )
        .map_err(backend)?;
    let mut rows = stmt
        .query(params![tenant.project_id, ids])
        .map_err(backend)?;
    let mut payloads = EventPayloads::default();
    let mut bytes: u64 = 0;
    while let Some(row) = rows.next().map_err(backend)? {
        let event_id: String = row.get(0).map_err(backend)?;
        let found: bool = row.get(1).map_err(backend)?;
        if !found {
            return Err(StoreError::NotFound(format!("event {event_id}")));
        }
        let length: i64 = row.get(2).map_err(backend)?;
        bytes = bytes.saturating_add(u64::try_from(length).unwrap_or(0));
        if bytes > max_bytes {
            payloads.over_limit = true;
            break;
        }
        let what = || format!("event {event_id}");
        let map = |column: usize, field: &'static str| -> StoreResult<Map<String, Value>> {
            let text = json_text(row, column, &what, field).map_err(read_error)?;
            map_from_text(text, what, field)
        };
        payloads.items.push(EventPayload {
            inputs: map(3, "inputs")?,
            outputs: map(4, "outputs")?,
            feedback: map(5, "feedback")?,
            event_id,
        });
    }
    Ok(payloads)
}
