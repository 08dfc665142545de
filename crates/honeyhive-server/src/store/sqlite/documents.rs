//! Rows stored as one JSON document plus the scalar columns queries filter
//! and sort on: runs, datasets, datapoints and named documents (dataset
//! membership is a table of its own, so "datapoints by dataset" is an index
//! range scan).

use honeyhive_model::cost::json_cost;
use honeyhive_model::limits::{MAX_JSON_DEPTH, bound_depth, compact_json};
use rusqlite::Connection;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::backend;
use crate::store::{StoreError, StoreResult, Tenant};

/// A document's JSON text, kept within [`MAX_JSON_DEPTH`] from its root
/// (deeper subtrees become their JSON text), so that [`from_doc`] and SQLite's
/// JSON functions read it back whatever the API let in.
pub(super) fn to_doc<T: Serialize>(value: &T) -> StoreResult<String> {
    let text = serde_json::to_string(value).map_err(backend)?;
    let within = json_cost(text.as_bytes())
        .is_ok_and(|cost| usize::try_from(cost.depth).is_ok_and(|d| d <= MAX_JSON_DEPTH));
    if within {
        return Ok(text);
    }
    let mut doc = serde_json::to_value(value).map_err(backend)?;
    bound_depth(&mut doc, MAX_JSON_DEPTH);
    Ok(compact_json(&doc))
}

/// Reads a stored document back from column `field`; `what` names its row
/// (`run <id>`) in the error: a read error, never a default.
pub(super) fn from_doc<T: DeserializeOwned>(
    what: impl FnOnce() -> String,
    field: &'static str,
    text: &str,
) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what(),
        field,
        reason: e.to_string(),
    })
}

/// An `(id, doc)` row.
pub(super) fn id_and_doc(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((row.get(0)?, row.get(1)?))
}

/// Deletes the row of `table` whose `id_column` is `id` in the tenant's project.
/// `table` and `id_column` are fixed identifiers chosen by the caller, never input.
pub(super) fn delete_row(
    conn: &Connection,
    tenant: &Tenant,
    table: &'static str,
    id_column: &'static str,
    id: &str,
) -> StoreResult<bool> {
    let n = conn
        .execute(
            &format!("DELETE FROM {table} WHERE project_id = ?1 AND {id_column} = ?2"),
            [&tenant.project_id, id],
        )
        .map_err(backend)?;
    Ok(n > 0)
}
