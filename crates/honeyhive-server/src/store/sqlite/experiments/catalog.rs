//! Runs, named documents and projects: JSON documents keyed by id within a
//! project, plus the scalar columns queries need. Each `update_*` reads,
//! patches and writes in the caller's transaction (one writer job).

use honeyhive_model::cost::json_cost;
use honeyhive_model::limits::{MAX_JSON_DEPTH, bound_depth, compact_json};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::super::backend;
use crate::store::{
    Page, Project, ProjectPatch, Resource, ResourceKind, ResourcePatch, Run, RunPatch, RunQuery,
    SortOrder, StoreError, StoreResult, Tenant,
};

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
            run.status,
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
        params.push(SqlValue::Text(status.clone()));
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

pub(super) fn put_resource(conn: &Connection, tenant: &Tenant, r: &Resource) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO documents (org_id, project_id, kind, doc_id, name, created_at, updated_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (project_id, kind, doc_id) DO UPDATE SET name = excluded.name,
           updated_at = excluded.updated_at, body = excluded.body",
        params![
            tenant.org_id,
            tenant.project_id,
            r.kind.as_str(),
            r.id,
            r.name,
            r.created_at,
            r.updated_at,
            to_doc(&r.body)?
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn list_resources(
    conn: &Connection,
    tenant: &Tenant,
    kind: ResourceKind,
) -> StoreResult<Vec<Resource>> {
    let mut stmt = conn
        .prepare(
            "SELECT doc_id, name, created_at, updated_at, body FROM documents
             WHERE project_id = ?1 AND kind = ?2 ORDER BY created_at, doc_id",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([&tenant.project_id, kind.as_str()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, f64>(2)?,
                row.get::<_, f64>(3)?,
                row.get::<_, String>(4)?,
            ))
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter()
        .map(|(id, name, created_at, updated_at, body)| {
            Ok(Resource {
                kind,
                body: from_doc::<Map<String, Value>>(
                    || format!("{} {id}", kind.as_str()),
                    "body",
                    &body,
                )?,
                id,
                name,
                created_at,
                updated_at,
            })
        })
        .collect()
}

/// One stored document.
fn get_resource(
    conn: &Connection,
    tenant: &Tenant,
    kind: ResourceKind,
    id: &str,
) -> StoreResult<Resource> {
    let row = conn
        .query_row(
            "SELECT name, created_at, updated_at, body FROM documents
             WHERE project_id = ?1 AND kind = ?2 AND doc_id = ?3",
            [&tenant.project_id, kind.as_str(), id],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, f64>(1)?,
                    row.get::<_, f64>(2)?,
                    row.get::<_, String>(3)?,
                ))
            },
        )
        .optional()
        .map_err(backend)?;
    let Some((name, created_at, updated_at, body)) = row else {
        return Err(StoreError::NotFound(format!("{} {id}", kind.as_str())));
    };
    Ok(Resource {
        kind,
        id: id.to_string(),
        name,
        body: from_doc(|| format!("{} {id}", kind.as_str()), "body", &body)?,
        created_at,
        updated_at,
    })
}

/// Applies `patch` to a stored document.
pub(super) fn update_resource(
    conn: &Connection,
    tenant: &Tenant,
    kind: ResourceKind,
    id: &str,
    patch: &ResourcePatch,
) -> StoreResult<Resource> {
    let mut resource = get_resource(conn, tenant, kind, id)?;
    patch.apply_to(&mut resource);
    put_resource(conn, tenant, &resource)?;
    Ok(resource)
}

pub(super) fn delete_resource(
    conn: &Connection,
    tenant: &Tenant,
    kind: ResourceKind,
    id: &str,
) -> StoreResult<bool> {
    let n = conn
        .execute(
            "DELETE FROM documents WHERE project_id = ?1 AND kind = ?2 AND doc_id = ?3",
            [&tenant.project_id, kind.as_str(), id],
        )
        .map_err(backend)?;
    Ok(n > 0)
}

/// The tenant's own project.
pub(super) fn get_project(conn: &Connection, tenant: &Tenant) -> StoreResult<Project> {
    conn.query_row(
        "SELECT p.project_id, p.name, p.created_at, d.description, d.project_type
         FROM projects p LEFT JOIN project_details d ON d.project_id = p.project_id
         WHERE p.org_id = ?1 AND p.project_id = ?2",
        [&tenant.org_id, &tenant.project_id],
        |row| {
            Ok(Project {
                id: row.get(0)?,
                name: row.get(1)?,
                created_at: row.get(2)?,
                description: row.get(3)?,
                project_type: row.get(4)?,
            })
        },
    )
    .optional()
    .map_err(backend)?
    .ok_or_else(|| StoreError::NotFound(format!("project {}", tenant.project_name)))
}

/// Applies `patch` to the tenant's own project (never its name).
pub(super) fn update_project(
    conn: &Connection,
    tenant: &Tenant,
    patch: &ProjectPatch,
) -> StoreResult<Project> {
    let mut project = get_project(conn, tenant)?;
    patch.apply_to(&mut project);
    conn.execute(
        "INSERT INTO project_details (project_id, description, project_type) VALUES (?1, ?2, ?3)
         ON CONFLICT (project_id) DO UPDATE SET description = excluded.description, project_type = excluded.project_type",
        params![project.id, project.description, project.project_type],
    )
    .map_err(backend)?;
    Ok(project)
}
