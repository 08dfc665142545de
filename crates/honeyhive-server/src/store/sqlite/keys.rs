//! Orgs, projects and API keys.

use rusqlite::{Connection, OptionalExtension, params};

use super::backend;
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::store::{StoreResult, Tenant};

/// The org every project belongs to until multi-org admin exists.
pub(crate) const DEFAULT_ORG_ID: &str = "org_default";

/// The project named `name` in the default org, created if missing.
pub(crate) fn ensure_project(conn: &Connection, name: &str) -> StoreResult<Tenant> {
    conn.execute(
        "INSERT INTO orgs (org_id, name, created_at) VALUES (?1, 'default', ?2)
         ON CONFLICT (org_id) DO NOTHING",
        params![DEFAULT_ORG_ID, now_ms()],
    )
    .map_err(backend)?;
    let existing: Option<String> = conn
        .query_row(
            "SELECT project_id FROM projects WHERE org_id = ?1 AND name = ?2",
            params![DEFAULT_ORG_ID, name],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    let project_id = match existing {
        Some(id) => id,
        None => {
            let id = new_id();
            conn.execute(
                "INSERT INTO projects (org_id, project_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![DEFAULT_ORG_ID, id, name, now_ms()],
            )
            .map_err(backend)?;
            id
        }
    };
    Ok(Tenant {
        org_id: DEFAULT_ORG_ID.to_string(),
        project_id,
        project_name: name.to_string(),
    })
}

/// Records `key_hash` for the project `project_name` (created if missing).
/// A hash already bound to another project is re-bound to this one, so the
/// bootstrap key follows `HH_PROJECT`.
pub(crate) fn put_api_key(
    conn: &Connection,
    key_hash: &str,
    project_name: &str,
) -> StoreResult<Tenant> {
    let tenant = ensure_project(conn, project_name)?;
    conn.execute(
        "INSERT INTO api_keys (key_hash, org_id, project_id, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key_hash) DO UPDATE SET org_id = excluded.org_id, project_id = excluded.project_id",
        params![key_hash, tenant.org_id, tenant.project_id, now_ms()],
    )
    .map_err(backend)?;
    Ok(tenant)
}

/// The tenant a key hash maps to.
pub(crate) fn tenant_for_key(conn: &Connection, key_hash: &str) -> StoreResult<Option<Tenant>> {
    conn.query_row(
        "SELECT k.org_id, k.project_id, p.name FROM api_keys k
         JOIN projects p ON p.project_id = k.project_id
         WHERE k.key_hash = ?1",
        [key_hash],
        |row| {
            Ok(Tenant {
                org_id: row.get(0)?,
                project_id: row.get(1)?,
                project_name: row.get(2)?,
            })
        },
    )
    .optional()
    .map_err(backend)
}
