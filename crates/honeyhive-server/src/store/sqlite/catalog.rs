//! Keys, projects and named documents (metric definitions, configurations)
//! in SQLite. Each `update_*` reads, patches and writes in the caller's
//! transaction (one writer job).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::documents::{from_doc, to_doc};
use super::{SqliteStore, backend, keys};
use crate::store::{
    CatalogStore, Project, ProjectPatch, Resource, ResourceKind, ResourcePatch, StoreError,
    StoreResult, Tenant,
};

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

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn put_api_key(&self, key_hash: &str, project_name: &str) -> StoreResult<Tenant> {
        let (hash, name) = (key_hash.to_string(), project_name.to_string());
        self.write(move |conn| keys::put_api_key(conn, &hash, &name))
            .await
    }

    async fn tenant_for_key(&self, key_hash: &str) -> StoreResult<Option<Tenant>> {
        let hash = key_hash.to_string();
        self.read(move |conn| keys::tenant_for_key(conn, &hash))
            .await
    }

    async fn put_resource(&self, tenant: &Tenant, resource: &Resource) -> StoreResult<()> {
        let (tenant, resource) = (tenant.clone(), resource.clone());
        self.write(move |conn| put_resource(conn, &tenant, &resource))
            .await
    }

    async fn update_resource(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
        patch: &ResourcePatch,
    ) -> StoreResult<Resource> {
        let (tenant, id, patch) = (tenant.clone(), id.to_string(), patch.clone());
        self.write(move |conn| update_resource(conn, &tenant, kind, &id, &patch))
            .await
    }

    async fn list_resources(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
    ) -> StoreResult<Vec<Resource>> {
        let tenant = tenant.clone();
        self.read(move |conn| list_resources(conn, &tenant, kind))
            .await
    }

    async fn delete_resource(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), id.to_string());
        self.write(move |conn| delete_resource(conn, &tenant, kind, &id))
            .await
    }

    async fn get_project(&self, tenant: &Tenant) -> StoreResult<Project> {
        let tenant = tenant.clone();
        self.read(move |conn| get_project(conn, &tenant)).await
    }

    async fn update_project(&self, tenant: &Tenant, patch: &ProjectPatch) -> StoreResult<Project> {
        let (tenant, patch) = (tenant.clone(), patch.clone());
        self.write(move |conn| update_project(conn, &tenant, &patch))
            .await
    }
}
