//! Datasets, datapoints and the membership between them.
//!
//! Membership is kept in three places that must agree: the dataset document's
//! `datapoint_ids`, the `dataset_members` rows (datapoints by dataset is an index
//! range scan) and each datapoint document's `linked_datasets`. Every function
//! here that changes one side changes the others in the caller's transaction
//! (one writer job), so concurrent requests never undo each other's changes.

use std::collections::{BTreeMap, HashSet};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};

use async_trait::async_trait;

use super::documents::{delete_row, from_doc, id_and_doc, to_doc};
use super::{SqliteStore, backend};
use crate::clock::now_ms;
use crate::store::{
    Datapoint, DatapointPatch, DatapointQuery, DatapointSelection, Dataset, DatasetPatch,
    DatasetQuery, DatasetStore, Page, StoreError, StoreResult, Tenant, dedup_ids,
};

/// `limit` as SQLite's LIMIT (0: no limit).
fn sql_limit(limit: u64) -> i64 {
    if limit == 0 {
        -1
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    }
}

fn sql_offset(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

fn load_dataset(conn: &Connection, tenant: &Tenant, id: &str) -> StoreResult<Option<Dataset>> {
    let doc: Option<String> = conn
        .prepare_cached("SELECT doc FROM datasets WHERE project_id = ?1 AND dataset_id = ?2")
        .and_then(|mut stmt| {
            stmt.query_row([&tenant.project_id, id], |row| row.get(0))
                .optional()
        })
        .map_err(backend)?;
    doc.map(|d| from_doc(|| format!("dataset {id}"), "doc", &d))
        .transpose()
}

fn save_dataset_doc(conn: &Connection, tenant: &Tenant, dataset: &Dataset) -> StoreResult<()> {
    let doc = to_doc(dataset)?;
    conn.prepare_cached(
        "INSERT INTO datasets (org_id, project_id, dataset_id, name, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (project_id, dataset_id) DO UPDATE SET name = excluded.name, doc = excluded.doc",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            tenant.org_id,
            tenant.project_id,
            dataset.id,
            dataset.name,
            dataset.created_at,
            doc
        ])
    })
    .map_err(backend)?;
    Ok(())
}

/// Replaces the member rows of `dataset_id` with `ids`, in order.
fn write_members(
    conn: &Connection,
    tenant: &Tenant,
    dataset_id: &str,
    ids: &[String],
) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM dataset_members WHERE project_id = ?1 AND dataset_id = ?2")
        .and_then(|mut stmt| stmt.execute([&tenant.project_id, dataset_id]))
        .map_err(backend)?;
    append_member_rows(conn, tenant, dataset_id, ids)
}

/// Appends member rows for `ids` after the last one of `dataset_id`.
fn append_member_rows(
    conn: &Connection,
    tenant: &Tenant,
    dataset_id: &str,
    ids: &[String],
) -> StoreResult<()> {
    let next: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(MAX(position) + 1, 0) FROM dataset_members WHERE project_id = ?1 AND dataset_id = ?2",
        )
        .and_then(|mut stmt| stmt.query_row([&tenant.project_id, dataset_id], |row| row.get(0)))
        .map_err(backend)?;
    let mut insert = conn
        .prepare_cached("INSERT INTO dataset_members (project_id, dataset_id, position, datapoint_id) VALUES (?1, ?2, ?3, ?4)")
        .map_err(backend)?;
    for (position, datapoint_id) in (next..).zip(ids) {
        insert
            .execute(params![
                tenant.project_id,
                dataset_id,
                position,
                datapoint_id
            ])
            .map_err(backend)?;
    }
    Ok(())
}

fn load_datapoint(conn: &Connection, tenant: &Tenant, id: &str) -> StoreResult<Option<Datapoint>> {
    let doc: Option<String> = conn
        .prepare_cached("SELECT doc FROM datapoints WHERE project_id = ?1 AND datapoint_id = ?2")
        .and_then(|mut stmt| {
            stmt.query_row([&tenant.project_id, id], |row| row.get(0))
                .optional()
        })
        .map_err(backend)?;
    doc.map(|d| from_doc(|| format!("datapoint {id}"), "doc", &d))
        .transpose()
}

fn save_datapoint_doc(conn: &Connection, tenant: &Tenant, dp: &Datapoint) -> StoreResult<()> {
    let doc = to_doc(dp)?;
    conn.prepare_cached(
        "INSERT INTO datapoints (org_id, project_id, datapoint_id, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (project_id, datapoint_id) DO UPDATE SET doc = excluded.doc",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            tenant.org_id,
            tenant.project_id,
            dp.id,
            dp.created_at,
            doc
        ])
    })
    .map_err(backend)?;
    Ok(())
}

/// Datapoints joining and leaving datasets, gathered from datapoint changes and
/// applied to the datasets once each (a batch of thousands joining one dataset
/// rewrites its document once, not once per datapoint).
#[derive(Default)]
struct MembershipChanges {
    joins: BTreeMap<String, Vec<String>>,
    leaves: BTreeMap<String, HashSet<String>>,
}

impl MembershipChanges {
    /// Notes datapoint `id` going from the datasets `before` to `after`.
    fn note(&mut self, id: &str, before: &[String], after: &[String]) {
        for dataset in after.iter().filter(|d| !before.contains(d)) {
            self.joins
                .entry(dataset.clone())
                .or_default()
                .push(id.to_string());
        }
        for dataset in before.iter().filter(|d| !after.contains(d)) {
            self.leaves
                .entry(dataset.clone())
                .or_default()
                .insert(id.to_string());
        }
    }

    /// Applies the changes to the datasets; `NotFound` for a dataset joined
    /// that is not in the project (a dataset left may be gone already).
    fn apply(self, conn: &Connection, tenant: &Tenant, updated_at: f64) -> StoreResult<()> {
        for (dataset_id, leaving) in self.leaves {
            let Some(mut dataset) = load_dataset(conn, tenant, &dataset_id)? else {
                continue;
            };
            let before = dataset.datapoint_ids.len();
            dataset.datapoint_ids.retain(|id| !leaving.contains(id));
            if dataset.datapoint_ids.len() != before {
                dataset.updated_at = updated_at;
                save_dataset_doc(conn, tenant, &dataset)?;
                write_members(conn, tenant, &dataset.id, &dataset.datapoint_ids)?;
            }
        }
        for (dataset_id, joining) in self.joins {
            let mut dataset = load_dataset(conn, tenant, &dataset_id)?
                .ok_or_else(|| StoreError::NotFound(format!("dataset {dataset_id}")))?;
            let present: HashSet<&String> = dataset.datapoint_ids.iter().collect();
            let added: Vec<String> = joining
                .into_iter()
                .filter(|id| !present.contains(id))
                .collect();
            if added.is_empty() {
                continue;
            }
            dataset.datapoint_ids.extend(added.iter().cloned());
            dataset.updated_at = updated_at;
            save_dataset_doc(conn, tenant, &dataset)?;
            append_member_rows(conn, tenant, &dataset.id, &added)?;
        }
        Ok(())
    }
}

/// Stores `new` (replacing `old`, if any) and keeps the `linked_datasets` of the
/// datapoints that joined or left in step.
fn store_dataset(
    conn: &Connection,
    tenant: &Tenant,
    old: Option<&Dataset>,
    new: &Dataset,
) -> StoreResult<()> {
    save_dataset_doc(conn, tenant, new)?;
    let old_ids: &[String] = old.map_or(&[], |d| &d.datapoint_ids);
    if old_ids == new.datapoint_ids.as_slice() {
        return Ok(());
    }
    write_members(conn, tenant, &new.id, &new.datapoint_ids)?;
    let (before, after): (HashSet<&String>, HashSet<&String>) =
        (old_ids.iter().collect(), new.datapoint_ids.iter().collect());
    for id in after.difference(&before) {
        if let Some(mut dp) = load_datapoint(conn, tenant, id)?
            && !dp.linked_datasets.contains(&new.id)
        {
            dp.linked_datasets.push(new.id.clone());
            save_datapoint_doc(conn, tenant, &dp)?;
        }
    }
    for id in before.difference(&after) {
        if let Some(mut dp) = load_datapoint(conn, tenant, id)?
            && dp.linked_datasets.contains(&new.id)
        {
            dp.linked_datasets.retain(|d| *d != new.id);
            save_datapoint_doc(conn, tenant, &dp)?;
        }
    }
    Ok(())
}

pub(super) fn put_dataset(
    conn: &Connection,
    tenant: &Tenant,
    dataset: &Dataset,
) -> StoreResult<()> {
    let old = load_dataset(conn, tenant, &dataset.id)?;
    let mut new = dataset.clone();
    dedup_ids(&mut new.datapoint_ids);
    store_dataset(conn, tenant, old.as_ref(), &new)
}

pub(super) fn update_dataset(
    conn: &Connection,
    tenant: &Tenant,
    dataset_id: &str,
    patch: &DatasetPatch,
) -> StoreResult<Dataset> {
    let old = load_dataset(conn, tenant, dataset_id)?
        .ok_or_else(|| StoreError::NotFound(format!("dataset {dataset_id}")))?;
    let mut new = old.clone();
    patch.apply_to(&mut new);
    store_dataset(conn, tenant, Some(&old), &new)?;
    Ok(new)
}

pub(super) fn list_datasets(
    conn: &Connection,
    tenant: &Tenant,
    query: &DatasetQuery,
) -> StoreResult<Page<Dataset>> {
    const MATCHES: &str = "FROM datasets WHERE project_id = ?1
        AND (?2 IS NULL OR dataset_id = ?2) AND (?3 IS NULL OR name = ?3)";
    let total: i64 = conn
        .query_row(
            &format!("SELECT count(*) {MATCHES}"),
            params![tenant.project_id, query.dataset_id, query.name],
            |row| row.get(0),
        )
        .map_err(backend)?;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT dataset_id, doc {MATCHES} ORDER BY created_at, dataset_id LIMIT ?4 OFFSET ?5"
        ))
        .map_err(backend)?;
    let docs = stmt
        .query_map(
            params![
                tenant.project_id,
                query.dataset_id,
                query.name,
                sql_limit(query.limit),
                sql_offset(query.offset)
            ],
            id_and_doc,
        )
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    Ok(Page {
        items: docs
            .iter()
            .map(|(id, doc)| from_doc(|| format!("dataset {id}"), "doc", doc))
            .collect::<StoreResult<_>>()?,
        total: u64::try_from(total).unwrap_or(0),
    })
}

/// Deletes a dataset and unlinks its members from it.
pub(super) fn delete_dataset(
    conn: &Connection,
    tenant: &Tenant,
    dataset_id: &str,
) -> StoreResult<bool> {
    let Some(old) = load_dataset(conn, tenant, dataset_id)? else {
        return Ok(false);
    };
    let emptied = Dataset {
        datapoint_ids: Vec::new(),
        ..old.clone()
    };
    store_dataset(conn, tenant, Some(&old), &emptied)?;
    delete_row(conn, tenant, "datasets", "dataset_id", dataset_id)
}

pub(super) fn put_datapoints(
    conn: &Connection,
    tenant: &Tenant,
    datapoints: &[Datapoint],
) -> StoreResult<()> {
    let mut changes = MembershipChanges::default();
    let mut updated_at = 0.0_f64;
    for dp in datapoints {
        let old = load_datapoint(conn, tenant, &dp.id)?;
        let mut new = dp.clone();
        dedup_ids(&mut new.linked_datasets);
        let before: &[String] = old.as_ref().map_or(&[], |o| &o.linked_datasets);
        changes.note(&new.id, before, &new.linked_datasets);
        save_datapoint_doc(conn, tenant, &new)?;
        updated_at = updated_at.max(new.updated_at);
    }
    changes.apply(conn, tenant, updated_at)
}

pub(super) fn update_datapoint(
    conn: &Connection,
    tenant: &Tenant,
    datapoint_id: &str,
    patch: &DatapointPatch,
) -> StoreResult<Datapoint> {
    let old = load_datapoint(conn, tenant, datapoint_id)?
        .ok_or_else(|| StoreError::NotFound(format!("datapoint {datapoint_id}")))?;
    let mut new = old.clone();
    patch.apply_to(&mut new);
    let mut changes = MembershipChanges::default();
    changes.note(&new.id, &old.linked_datasets, &new.linked_datasets);
    save_datapoint_doc(conn, tenant, &new)?;
    changes.apply(conn, tenant, new.updated_at)?;
    Ok(new)
}

/// Removes `datapoint_id` from `dataset_id` on both sides; false if it was not a member.
pub(super) fn remove_from_dataset(
    conn: &Connection,
    tenant: &Tenant,
    dataset_id: &str,
    datapoint_id: &str,
    updated_at: f64,
) -> StoreResult<bool> {
    let old = load_dataset(conn, tenant, dataset_id)?
        .ok_or_else(|| StoreError::NotFound(format!("dataset {dataset_id}")))?;
    if !old.datapoint_ids.iter().any(|id| id == datapoint_id) {
        return Ok(false);
    }
    let mut new = old.clone();
    new.datapoint_ids.retain(|id| id != datapoint_id);
    new.updated_at = updated_at;
    store_dataset(conn, tenant, Some(&old), &new)?;
    Ok(true)
}

pub(super) fn list_datapoints(
    conn: &Connection,
    tenant: &Tenant,
    query: &DatapointQuery,
) -> StoreResult<Page<Datapoint>> {
    let (from, key) = match &query.selection {
        // One statement for any number of ids: they go in as one JSON array.
        DatapointSelection::Ids(ids) => (
            "FROM json_each(?2) j JOIN datapoints d
               ON d.project_id = ?1 AND d.datapoint_id = j.value ORDER BY j.key",
            SqlValue::Text(serde_json::to_string(ids).map_err(backend)?),
        ),
        DatapointSelection::Dataset(dataset_id) => (
            "FROM dataset_members m JOIN datapoints d
               ON d.project_id = m.project_id AND d.datapoint_id = m.datapoint_id
             WHERE m.project_id = ?1 AND m.dataset_id = ?2 ORDER BY m.position",
            SqlValue::Text(dataset_id.clone()),
        ),
        DatapointSelection::All => (
            "FROM datapoints d WHERE d.project_id = ?1 AND ?2 IS NULL
             ORDER BY d.created_at, d.datapoint_id",
            SqlValue::Null,
        ),
    };
    let total: i64 = conn
        .query_row(
            &format!("SELECT count(*) {from}"),
            params![tenant.project_id, key],
            |row| row.get(0),
        )
        .map_err(backend)?;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT d.datapoint_id, d.doc {from} LIMIT ?3 OFFSET ?4"
        ))
        .map_err(backend)?;
    let docs = stmt
        .query_map(
            params![
                tenant.project_id,
                key,
                sql_limit(query.limit),
                sql_offset(query.offset)
            ],
            id_and_doc,
        )
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    Ok(Page {
        items: docs
            .iter()
            .map(|(id, doc)| from_doc(|| format!("datapoint {id}"), "doc", doc))
            .collect::<StoreResult<_>>()?,
        total: u64::try_from(total).unwrap_or(0),
    })
}

/// Deletes a datapoint and removes it from every dataset that listed it.
pub(super) fn delete_datapoint(
    conn: &Connection,
    tenant: &Tenant,
    id: &str,
    updated_at: f64,
) -> StoreResult<bool> {
    let Some(old) = load_datapoint(conn, tenant, id)? else {
        return Ok(false);
    };
    // The member rows are the index of who lists it; `linked_datasets` says the same.
    let mut datasets: Vec<String> = conn
        .prepare_cached(
            "SELECT DISTINCT dataset_id FROM dataset_members WHERE project_id = ?1 AND datapoint_id = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_map([&tenant.project_id, id], |row| row.get(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(backend)?;
    datasets.extend(old.linked_datasets.iter().cloned());
    dedup_ids(&mut datasets);
    let mut changes = MembershipChanges::default();
    changes.note(id, &datasets, &[]);
    changes.apply(conn, tenant, updated_at)?;
    delete_row(conn, tenant, "datapoints", "datapoint_id", id)
}

#[async_trait]
impl DatasetStore for SqliteStore {
    async fn put_dataset(&self, tenant: &Tenant, dataset: &Dataset) -> StoreResult<()> {
        let (tenant, dataset) = (tenant.clone(), dataset.clone());
        self.write(move |conn| put_dataset(conn, &tenant, &dataset))
            .await
    }

    async fn update_dataset(
        &self,
        tenant: &Tenant,
        dataset_id: &str,
        patch: &DatasetPatch,
    ) -> StoreResult<Dataset> {
        let (tenant, id, patch) = (tenant.clone(), dataset_id.to_string(), patch.clone());
        self.write(move |conn| update_dataset(conn, &tenant, &id, &patch))
            .await
    }

    async fn list_datasets(
        &self,
        tenant: &Tenant,
        query: &DatasetQuery,
    ) -> StoreResult<Page<Dataset>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| list_datasets(conn, &tenant, &query))
            .await
    }

    async fn delete_dataset(&self, tenant: &Tenant, dataset_id: &str) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), dataset_id.to_string());
        self.write(move |conn| delete_dataset(conn, &tenant, &id))
            .await
    }

    async fn put_datapoints(&self, tenant: &Tenant, datapoints: &[Datapoint]) -> StoreResult<()> {
        let (tenant, datapoints) = (tenant.clone(), datapoints.to_vec());
        self.write(move |conn| put_datapoints(conn, &tenant, &datapoints))
            .await
    }

    async fn update_datapoint(
        &self,
        tenant: &Tenant,
        datapoint_id: &str,
        patch: &DatapointPatch,
    ) -> StoreResult<Datapoint> {
        let (tenant, id, patch) = (tenant.clone(), datapoint_id.to_string(), patch.clone());
        self.write(move |conn| update_datapoint(conn, &tenant, &id, &patch))
            .await
    }

    async fn remove_from_dataset(
        &self,
        tenant: &Tenant,
        dataset_id: &str,
        datapoint_id: &str,
    ) -> StoreResult<bool> {
        let (tenant, dataset, datapoint) = (
            tenant.clone(),
            dataset_id.to_string(),
            datapoint_id.to_string(),
        );
        // Taken once, so a job run twice writes the same row twice.
        let at = now_ms();
        self.write(move |conn| remove_from_dataset(conn, &tenant, &dataset, &datapoint, at))
            .await
    }

    async fn list_datapoints(
        &self,
        tenant: &Tenant,
        query: &DatapointQuery,
    ) -> StoreResult<Page<Datapoint>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| list_datapoints(conn, &tenant, &query))
            .await
    }

    async fn delete_datapoint(&self, tenant: &Tenant, datapoint_id: &str) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), datapoint_id.to_string());
        let at = now_ms();
        self.write(move |conn| delete_datapoint(conn, &tenant, &id, at))
            .await
    }
}
