//! Runs, datasets, datapoints, named documents and projects: JSON documents keyed
//! by id within a project, plus the scalar columns queries need.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::super::{backend, now_ms};
use crate::store::{
    Datapoint, DatapointQuery, Dataset, DatasetQuery, Page, Project, Resource, ResourceKind, Run,
    RunQuery, SortOrder, StoreError, StoreResult, Tenant,
};

fn to_doc<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(backend)
}

fn from_doc<T: DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| backend(format!("corrupt document: {e}")))
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
        Some(doc) => from_doc(&doc),
        None => Err(StoreError::NotFound(format!("run {run_id}"))),
    }
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
        .prepare(&format!("SELECT doc FROM runs WHERE {clause} ORDER BY created_at {order}, run_id {order} LIMIT ? OFFSET ?"))
        .map_err(backend)?;
    let docs = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |row| {
            row.get::<_, String>(0)
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    let items = docs
        .iter()
        .map(|d| from_doc(d))
        .collect::<StoreResult<Vec<Run>>>()?;
    Ok(Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
    })
}

pub(super) fn put_dataset(
    conn: &Connection,
    tenant: &Tenant,
    dataset: &Dataset,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO datasets (org_id, project_id, dataset_id, name, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (project_id, dataset_id) DO UPDATE SET name = excluded.name, doc = excluded.doc",
        params![tenant.org_id, tenant.project_id, dataset.id, dataset.name, dataset.created_at, to_doc(dataset)?],
    )
    .map_err(backend)?;
    conn.execute(
        "DELETE FROM dataset_members WHERE project_id = ?1 AND dataset_id = ?2",
        [&tenant.project_id, &dataset.id],
    )
    .map_err(backend)?;
    let mut insert = conn
        .prepare_cached("INSERT INTO dataset_members (project_id, dataset_id, position, datapoint_id) VALUES (?1, ?2, ?3, ?4)")
        .map_err(backend)?;
    for (position, datapoint_id) in dataset.datapoint_ids.iter().enumerate() {
        insert
            .execute(params![
                tenant.project_id,
                dataset.id,
                position as i64,
                datapoint_id
            ])
            .map_err(backend)?;
    }
    Ok(())
}

pub(super) fn list_datasets(
    conn: &Connection,
    tenant: &Tenant,
    query: &DatasetQuery,
) -> StoreResult<Vec<Dataset>> {
    let mut stmt = conn
        .prepare(
            "SELECT doc FROM datasets WHERE project_id = ?1
               AND (?2 IS NULL OR dataset_id = ?2) AND (?3 IS NULL OR name = ?3)
             ORDER BY created_at, dataset_id",
        )
        .map_err(backend)?;
    let docs = stmt
        .query_map(
            params![tenant.project_id, query.dataset_id, query.name],
            |row| row.get::<_, String>(0),
        )
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    docs.iter().map(|d| from_doc(d)).collect()
}

pub(super) fn delete_dataset(
    conn: &Connection,
    tenant: &Tenant,
    dataset_id: &str,
) -> StoreResult<bool> {
    conn.execute(
        "DELETE FROM dataset_members WHERE project_id = ?1 AND dataset_id = ?2",
        [&tenant.project_id, dataset_id],
    )
    .map_err(backend)?;
    delete_row(conn, tenant, "datasets", "dataset_id", dataset_id)
}

pub(super) fn put_datapoints(
    conn: &Connection,
    tenant: &Tenant,
    datapoints: &[Datapoint],
) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO datapoints (org_id, project_id, datapoint_id, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (project_id, datapoint_id) DO UPDATE SET doc = excluded.doc",
        )
        .map_err(backend)?;
    for dp in datapoints {
        stmt.execute(params![
            tenant.org_id,
            tenant.project_id,
            dp.id,
            dp.created_at,
            to_doc(dp)?
        ])
        .map_err(backend)?;
    }
    Ok(())
}

fn datapoint_by_id(conn: &Connection, tenant: &Tenant, id: &str) -> StoreResult<Option<Datapoint>> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM datapoints WHERE project_id = ?1 AND datapoint_id = ?2",
            [&tenant.project_id, id],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    doc.map(|d| from_doc(&d)).transpose()
}

pub(super) fn list_datapoints(
    conn: &Connection,
    tenant: &Tenant,
    query: &DatapointQuery,
) -> StoreResult<Vec<Datapoint>> {
    let docs: Vec<String> = match query {
        DatapointQuery::Ids(ids) => {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(dp) = datapoint_by_id(conn, tenant, id)? {
                    out.push(dp);
                }
            }
            return Ok(out);
        }
        DatapointQuery::Dataset(dataset_id) => {
            let mut stmt = conn
                .prepare(
                    "SELECT d.doc FROM dataset_members m JOIN datapoints d
                       ON d.project_id = m.project_id AND d.datapoint_id = m.datapoint_id
                     WHERE m.project_id = ?1 AND m.dataset_id = ?2 ORDER BY m.position",
                )
                .map_err(backend)?;
            stmt.query_map([&tenant.project_id, dataset_id], |row| row.get(0))
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?
        }
        DatapointQuery::All => {
            let mut stmt = conn
                .prepare("SELECT doc FROM datapoints WHERE project_id = ?1 ORDER BY created_at, datapoint_id")
                .map_err(backend)?;
            stmt.query_map([&tenant.project_id], |row| row.get(0))
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?
        }
    };
    docs.iter().map(|d| from_doc(d)).collect()
}

/// Deletes a datapoint and removes it from every dataset that listed it.
pub(super) fn delete_datapoint(conn: &Connection, tenant: &Tenant, id: &str) -> StoreResult<bool> {
    let mut stmt = conn
        .prepare("SELECT DISTINCT dataset_id FROM dataset_members WHERE project_id = ?1 AND datapoint_id = ?2")
        .map_err(backend)?;
    let dataset_ids: Vec<String> = stmt
        .query_map([&tenant.project_id, id], |row| row.get(0))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    for dataset in list_datasets(conn, tenant, &DatasetQuery::default())?
        .into_iter()
        .filter(|d| dataset_ids.contains(&d.id))
    {
        let mut dataset = dataset;
        dataset.datapoint_ids.retain(|d| d != id);
        dataset.updated_at = now_ms();
        put_dataset(conn, tenant, &dataset)?;
    }
    delete_row(conn, tenant, "datapoints", "datapoint_id", id)
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
                id,
                name,
                body: from_doc::<Map<String, Value>>(&body)?,
                created_at,
                updated_at,
            })
        })
        .collect()
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

pub(super) fn list_projects(conn: &Connection, tenant: &Tenant) -> StoreResult<Vec<Project>> {
    let mut stmt = conn
        .prepare(
            "SELECT p.project_id, p.name, p.created_at, d.description, d.project_type
             FROM projects p LEFT JOIN project_details d ON d.project_id = p.project_id
             WHERE p.org_id = ?1 ORDER BY p.created_at, p.name",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([&tenant.org_id], |row| {
            Ok(Project {
                id: row.get(0)?,
                name: row.get(1)?,
                created_at: row.get(2)?,
                description: row.get(3)?,
                project_type: row.get(4)?,
            })
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    Ok(rows)
}

pub(super) fn put_project(conn: &Connection, tenant: &Tenant, p: &Project) -> StoreResult<()> {
    let clash: Option<String> = conn
        .query_row(
            "SELECT project_id FROM projects WHERE org_id = ?1 AND name = ?2",
            [&tenant.org_id, &p.name],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    if clash.as_deref().is_some_and(|id| id != p.id) {
        return Err(StoreError::Invalid(format!(
            "a project named {:?} already exists",
            p.name
        )));
    }
    let updated = conn
        .execute(
            "UPDATE projects SET name = ?3 WHERE org_id = ?1 AND project_id = ?2",
            params![tenant.org_id, p.id, p.name],
        )
        .map_err(backend)?;
    if updated == 0 {
        conn.execute(
            "INSERT INTO projects (org_id, project_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![tenant.org_id, p.id, p.name, p.created_at],
        )
        .map_err(backend)?;
    }
    conn.execute(
        "INSERT INTO project_details (project_id, description, project_type) VALUES (?1, ?2, ?3)
         ON CONFLICT (project_id) DO UPDATE SET description = excluded.description, project_type = excluded.project_type",
        params![p.id, p.description, p.project_type],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn delete_project(conn: &Connection, tenant: &Tenant, name: &str) -> StoreResult<bool> {
    if name == tenant.project_name {
        return Err(StoreError::Invalid(
            "a key cannot delete its own project".into(),
        ));
    }
    let id: Option<String> = conn
        .query_row(
            "SELECT project_id FROM projects WHERE org_id = ?1 AND name = ?2",
            [&tenant.org_id, name],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    let Some(id) = id else { return Ok(false) };
    conn.execute("DELETE FROM project_details WHERE project_id = ?1", [&id])
        .map_err(backend)?;
    conn.execute("DELETE FROM projects WHERE project_id = ?1", [&id])
        .map_err(backend)?;
    Ok(true)
}
