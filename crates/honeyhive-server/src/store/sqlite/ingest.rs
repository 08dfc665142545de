//! The write batch in SQLite: events inserted once by id, sessions created on
//! first sight or widened, enrichments merged or parked until their event
//! arrives.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use honeyhive_model::limits::{MAX_JSON_DEPTH, bounded_object_text, object_depth};
use honeyhive_model::{Event, EventType, EventUpdate};
use rusqlite::{CachedStatement, Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::buckets::{BatchFigures, BucketDeltas};
use super::changes::{ChangeLog, Sequence, WriteJob};
use super::parked::{enrichment_from_text, enrichment_to_text};
use super::rows::load_event;
use super::{SqliteStore, backend};
use crate::clock::now_ms;
use crate::store::{
    Change, ChangeKind, IngestStore, SessionSighting, StoreError, StoreResult, StoreStats, Tenant,
    WriteBatch, WriteSummary,
};

// `run_id` mirrors `metadata.run_id` (see `run_id_of`) so a run's tagged
// sessions are an index lookup instead of a scan of the project's events.
const INSERT_IF_ABSENT: &str = "INSERT INTO events (org_id, project_id, event_id, session_id, \
    parent_id, event_type, event_name, source, start_time, end_time, duration, error, config, \
    inputs, outputs, metadata, metrics, feedback, user_properties, ingested_at, run_id, seq, \
    created_seq) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, \
    ?22, ?22) \
    ON CONFLICT (project_id, event_id) DO NOTHING";

// A merge (enrichment, repeated session start) rewrites only the columns it
// changed. Columns no index covers are set here; a NULL parameter keeps the
// stored value (`error` and `parent_id` are nullable, so each has its own
// "changed" flag). An UPDATE that names an indexed column rewrites that
// index's entry even when the value is the same, which made a full-row
// rewrite cost as much as four index inserts; the indexed columns have a
// statement each, below.
const UPDATE_UNINDEXED_FIELDS: &str = "UPDATE events SET \
    event_name = COALESCE(?3, event_name), source = COALESCE(?4, source), \
    end_time = COALESCE(?5, end_time), duration = COALESCE(?6, duration), \
    error = CASE WHEN ?7 THEN ?8 ELSE error END, \
    config = COALESCE(?9, config), inputs = COALESCE(?10, inputs), \
    outputs = COALESCE(?11, outputs), metadata = COALESCE(?12, metadata), \
    metrics = COALESCE(?13, metrics), feedback = COALESCE(?14, feedback), \
    user_properties = COALESCE(?15, user_properties), \
    parent_id = CASE WHEN ?16 THEN ?17 ELSE parent_id END \
    WHERE project_id = ?1 AND event_id = ?2";

// One statement per indexed column, run only when that column changed, so a
// change rewrites only the indexes that hold the column: `session_id` is in
// `events_by_session`, `start_time` in it and `events_by_time`, `event_type`
// in `events_by_time`, `run_id` in `events_by_run`. (A session first created
// from a span sighting and then started gains its run id: one index entry, not
// three.)
const UPDATE_SESSION_ID: &str =
    "UPDATE events SET session_id = ?3 WHERE project_id = ?1 AND event_id = ?2";

const UPDATE_START_TIME: &str =
    "UPDATE events SET start_time = ?3 WHERE project_id = ?1 AND event_id = ?2";

const UPDATE_EVENT_TYPE: &str =
    "UPDATE events SET event_type = ?3 WHERE project_id = ?1 AND event_id = ?2";

const UPDATE_RUN_ID: &str = "UPDATE events SET run_id = ?3 WHERE project_id = ?1 AND event_id = ?2";

// Every change takes the next number of the commit sequence (`events_by_seq`).
const UPDATE_SEQ: &str = "UPDATE events SET seq = ?3 WHERE project_id = ?1 AND event_id = ?2";

// A span widens its session's window. The end (and the duration) are in no
// index, so the common case, a later span, rewrites no index entry; the start
// moves, touching two indexes, only when a span began before the session.
const WIDEN_SESSION_END: &str = "UPDATE events SET end_time = ?3, duration = ?3 - start_time \
    WHERE project_id = ?1 AND event_id = ?2 AND ?3 > end_time";

const WIDEN_SESSION_START: &str = "UPDATE events SET start_time = ?3, duration = end_time - ?3 \
    WHERE project_id = ?1 AND event_id = ?2 AND ?3 > 0 AND (start_time <= 0 OR ?3 < start_time)";

/// The `run_id` column of an event: `metadata.run_id` when it is a string (the
/// only kind a run id filter matches), else NULL, which keeps the row out of
/// the partial index `events_by_run`.
fn run_id_of(e: &Event) -> Option<&str> {
    e.metadata.get("run_id").and_then(Value::as_str)
}

/// Batches with more events than this have their metric figures worked out
/// on the blocking pool (about a microsecond an event).
const FIGURES_INLINE_EVENTS: usize = 64;

/// SQLite stores NaN as NULL, which the NOT NULL time columns refuse; a
/// non-finite time from a client becomes 0 rather than failing the batch.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// A map as its JSON text, kept within [`MAX_JSON_DEPTH`] (deeper subtrees
/// become their JSON text) whatever path built it. Most maps of a span are
/// empty; those skip the serializer and the allocation.
fn map_to_text(map: &Map<String, Value>) -> Cow<'static, str> {
    if map.is_empty() {
        return Cow::Borrowed("{}");
    }
    if object_depth(map) > MAX_JSON_DEPTH {
        return Cow::Owned(bounded_object_text(map, MAX_JSON_DEPTH));
    }
    Cow::Owned(serde_json::to_string(map).unwrap_or_else(|_| "{}".to_string()))
}

/// Runs `stmt` (INSERT_IF_ABSENT) with the event's 22 parameters.
fn bind_event(
    stmt: &mut CachedStatement<'_>,
    tenant: &Tenant,
    e: &Event,
    seq: u64,
) -> StoreResult<usize> {
    stmt.execute(params![
        tenant.org_id,
        tenant.project_id,
        e.event_id,
        e.session_id,
        e.parent_id,
        e.event_type.as_str(),
        e.event_name,
        e.source,
        finite(e.start_time),
        finite(e.end_time),
        finite(e.duration),
        e.error,
        map_to_text(&e.config),
        map_to_text(&e.inputs),
        map_to_text(&e.outputs),
        map_to_text(&e.metadata),
        map_to_text(&e.metrics),
        map_to_text(&e.feedback),
        map_to_text(&e.user_properties),
        now_ms(),
        run_id_of(e),
        seq_value(seq),
    ])
    .map_err(backend)
}

/// A sequence number as SQLite stores it (numbers past `i64::MAX` are never reached).
fn seq_value(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Inserts `event` as change `seq` unless its id is already stored; true when inserted.
fn insert_if_absent(conn: &Connection, tenant: &Tenant, e: &Event, seq: u64) -> StoreResult<bool> {
    let mut stmt = conn.prepare_cached(INSERT_IF_ABSENT).map_err(backend)?;
    Ok(bind_event(&mut stmt, tenant, e, seq)? > 0)
}

/// Writes what a merge changed in a stored event: `before` as loaded, `after`
/// as merged. Unchanged columns (and their indexes) are left alone.
fn update_changed(
    conn: &Connection,
    tenant: &Tenant,
    before: &Event,
    after: &Event,
) -> StoreResult<()> {
    fn changed<'a, T: PartialEq>(before: &T, after: &'a T) -> Option<&'a T> {
        (before != after).then_some(after)
    }
    fn changed_map(before: &Map<String, Value>, after: &Map<String, Value>) -> Option<String> {
        changed(before, after).map(|m| map_to_text(m).into_owned())
    }
    let maps = [
        (&before.config, &after.config),
        (&before.inputs, &after.inputs),
        (&before.outputs, &after.outputs),
        (&before.metadata, &after.metadata),
        (&before.metrics, &after.metrics),
        (&before.feedback, &after.feedback),
        (&before.user_properties, &after.user_properties),
    ]
    .map(|(b, a)| changed_map(b, a));
    let error_changed = before.error != after.error;
    let parent_changed = before.parent_id != after.parent_id;
    conn.prepare_cached(UPDATE_UNINDEXED_FIELDS)
        .and_then(|mut stmt| {
            stmt.execute(params![
                tenant.project_id,
                after.event_id,
                changed(&before.event_name, &after.event_name),
                changed(&before.source, &after.source),
                changed(&before.end_time, &after.end_time)
                    .copied()
                    .map(finite),
                changed(&before.duration, &after.duration)
                    .copied()
                    .map(finite),
                error_changed,
                after.error,
                maps[0],
                maps[1],
                maps[2],
                maps[3],
                maps[4],
                maps[5],
                maps[6],
                parent_changed,
                after.parent_id,
            ])
        })
        .map_err(backend)?;
    let set_indexed = |sql: &str, value: &dyn rusqlite::ToSql| {
        conn.prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute(params![tenant.project_id, after.event_id, value]))
            .map(drop)
            .map_err(backend)
    };
    if before.session_id != after.session_id {
        set_indexed(UPDATE_SESSION_ID, &after.session_id)?;
    }
    if before.start_time != after.start_time {
        set_indexed(UPDATE_START_TIME, &finite(after.start_time))?;
    }
    if before.event_type != after.event_type {
        set_indexed(UPDATE_EVENT_TYPE, &after.event_type.as_str())?;
    }
    if run_id_of(before) != run_id_of(after) {
        set_indexed(UPDATE_RUN_ID, &run_id_of(after))?;
    }
    Ok(())
}

/// Loads the stored event `event_id`, merges into it with `merge` and writes
/// what changed, as the next change of the sequence (logged in `log`); a
/// merge that changes nothing writes nothing. False when no such event is stored.
fn merge_into_stored(
    conn: &Connection,
    tenant: &Tenant,
    event_id: &str,
    (sequence, log): (&Sequence, &mut ChangeLog),
    merge: impl FnOnce(&mut Event),
) -> StoreResult<bool> {
    let Some(before) = load_event(conn, tenant, event_id)? else {
        return Ok(false);
    };
    let mut after = before.clone();
    merge(&mut after);
    if after == before {
        return Ok(true);
    }
    update_changed(conn, tenant, &before, &after)?;
    log.buckets.changed(&before, &after);
    let seq = sequence.take();
    conn.prepare_cached(UPDATE_SEQ)
        .and_then(|mut stmt| stmt.execute(params![tenant.project_id, event_id, seq_value(seq)]))
        .map_err(backend)?;
    log.changed(Change {
        seq,
        kind: ChangeKind::Updated,
        event: after,
    });
    Ok(true)
}

/// Merges a later session event into the stored one: non-empty fields win,
/// objects merge key by key, the time window widens.
fn merge_session(stored: &mut Event, new: &Event) {
    if !new.event_name.is_empty() {
        stored.event_name = new.event_name.clone();
    }
    if !new.source.is_empty() {
        stored.source = new.source.clone();
    }
    for (into, from) in [
        (&mut stored.config, &new.config),
        (&mut stored.inputs, &new.inputs),
        (&mut stored.outputs, &new.outputs),
        (&mut stored.metadata, &new.metadata),
        (&mut stored.metrics, &new.metrics),
        (&mut stored.feedback, &new.feedback),
        (&mut stored.user_properties, &new.user_properties),
    ] {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
    if new.error.is_some() {
        stored.error = new.error.clone();
    }
    widen(stored, Some(new.start_time), Some(new.end_time));
}

fn widen(e: &mut Event, start: Option<f64>, end: Option<f64>) {
    if let Some(start) = start.filter(|s| *s > 0.0)
        && (e.start_time <= 0.0 || start < e.start_time)
    {
        e.start_time = start;
    }
    if let Some(end) = end.filter(|t| *t > e.end_time) {
        e.end_time = end;
    }
    if e.start_time > 0.0 && e.end_time >= e.start_time {
        e.duration = e.end_time - e.start_time;
    }
}

/// A brand-new session event for a session first seen in a span.
fn session_event_for(tenant: &Tenant, sighting: &SessionSighting) -> Event {
    let start = sighting.start_time.unwrap_or(0.0);
    let end = sighting.end_time.unwrap_or(start);
    Event {
        event_id: sighting.session_id.clone(),
        project_id: tenant.project_id.clone(),
        tenant: tenant.org_id.clone(),
        session_id: sighting.session_id.clone(),
        parent_id: None,
        event_type: EventType::Session,
        event_name: sighting
            .session_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| tenant.project_name.clone()),
        source: sighting.source.clone().unwrap_or_default(),
        start_time: start,
        end_time: end,
        duration: if end >= start { end - start } else { 0.0 },
        user_properties: sighting.user_properties.clone(),
        ..Event::default()
    }
}

/// Creates the session if unknown, else widens its time window. True if created.
fn apply_sighting(
    conn: &Connection,
    tenant: &Tenant,
    sighting: &SessionSighting,
    (sequence, log): (&Sequence, &mut ChangeLog),
) -> StoreResult<bool> {
    let session = session_event_for(tenant, sighting);
    let seq = sequence.take();
    if insert_if_absent(conn, tenant, &session, seq)? {
        log.changed(Change {
            seq,
            kind: ChangeKind::Created,
            event: session,
        });
        return Ok(true);
    }
    for (sql, time) in [
        (WIDEN_SESSION_START, sighting.start_time),
        (WIDEN_SESSION_END, sighting.end_time),
    ] {
        let Some(time) = time.map(finite) else {
            continue;
        };
        conn.prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.execute(params![tenant.project_id, sighting.session_id, time])
            })
            .map_err(backend)?;
    }
    Ok(false)
}

/// Merges into the stored event, or parks the enrichment until it arrives.
/// True when applied now.
fn apply_enrichment(
    conn: &Connection,
    tenant: &Tenant,
    en: &EventUpdate,
    changes: (&Sequence, &mut ChangeLog),
) -> StoreResult<bool> {
    if merge_into_stored(conn, tenant, &en.event_id, changes, |stored| {
        en.apply_to(stored)
    })? {
        return Ok(true);
    }
    let pending: Option<String> = conn
        .prepare_cached(
            "SELECT body FROM pending_enrichments WHERE project_id = ?1 AND event_id = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![tenant.project_id, en.event_id], |row| row.get(0))
        })
        .optional()
        .map_err(backend)?;
    let merged = match pending {
        Some(text) => {
            let mut earlier = enrichment_from_text(&en.event_id, &text)?;
            earlier.absorb(en.clone());
            earlier
        }
        None => en.clone(),
    };
    let body = enrichment_to_text(&merged);
    conn.prepare_cached(
        "INSERT INTO pending_enrichments (org_id, project_id, event_id, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (project_id, event_id) DO UPDATE SET body = excluded.body",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            tenant.org_id,
            tenant.project_id,
            merged.event_id,
            body,
            now_ms()
        ])
    })
    .map_err(backend)?;
    Ok(false)
}

/// Applies parked enrichments to events that just arrived.
fn apply_pending(
    conn: &Connection,
    tenant: &Tenant,
    arrived: &[String],
    (sequence, log): (&Sequence, &mut ChangeLog),
) -> StoreResult<u64> {
    let any: bool = conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM pending_enrichments WHERE project_id = ?1)")
        .and_then(|mut stmt| stmt.query_row([&tenant.project_id], |row| row.get(0)))
        .map_err(backend)?;
    if !any {
        return Ok(0);
    }
    let mut applied = 0;
    for event_id in arrived {
        let pending: Option<String> = conn
            .prepare_cached(
                "DELETE FROM pending_enrichments WHERE project_id = ?1 AND event_id = ?2 RETURNING body",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![tenant.project_id, event_id], |row| row.get(0))
            })
            .optional()
            .map_err(backend)?;
        if let Some(text) = pending {
            let enrichment = enrichment_from_text(event_id, &text)?;
            let changes = (sequence, &mut *log);
            if merge_into_stored(conn, tenant, event_id, changes, |stored| {
                enrichment.apply_to(stored)
            })? {
                applied += 1;
            }
        }
    }
    Ok(applied)
}

/// Applies a whole batch inside the caller's transaction, numbering each
/// change from `sequence`; what it changed comes back with the summary.
pub(crate) fn apply_batch(
    conn: &Connection,
    tenant: &Tenant,
    (batch, figures): (&WriteBatch, &BatchFigures),
    sequence: &Sequence,
) -> StoreResult<(WriteSummary, ChangeLog)> {
    let mut summary = WriteSummary::default();
    let mut log = ChangeLog::default();
    log.buckets = BucketDeltas::for_batch(figures);
    let mut arrived: Vec<String> = Vec::new();

    // Every session an event names must exist: add implicit sightings for the
    // ones the batch does not already announce, spanning their events' times.
    let announced: HashSet<&str> = batch
        .sessions
        .iter()
        .map(|s| s.session_id.as_str())
        .collect();
    let mut implicit: HashMap<&str, SessionSighting> = HashMap::new();
    for e in &batch.events {
        if e.event_type == EventType::Session
            || e.session_id.is_empty()
            || announced.contains(e.session_id.as_str())
        {
            continue;
        }
        let s = implicit
            .entry(e.session_id.as_str())
            .or_insert_with(|| SessionSighting {
                session_id: e.session_id.clone(),
                source: Some(e.source.clone()).filter(|s| !s.is_empty()),
                ..SessionSighting::default()
            });
        if e.start_time > 0.0 {
            s.start_time = Some(s.start_time.map_or(e.start_time, |t| t.min(e.start_time)));
        }
        if e.end_time > 0.0 {
            s.end_time = Some(s.end_time.map_or(e.end_time, |t| t.max(e.end_time)));
        }
    }

    for (index, e) in batch.events.iter().enumerate() {
        if e.event_id.is_empty() {
            return Err(StoreError::Invalid("event without event_id".into()));
        }
        if e.event_type == EventType::Session {
            let changes = (sequence, &mut log);
            if merge_into_stored(conn, tenant, &e.event_id, changes, |stored| {
                merge_session(stored, e)
            })? {
                summary.duplicates += 1;
            } else {
                let seq = sequence.take();
                if insert_if_absent(conn, tenant, e, seq)? {
                    log.stored(index, seq);
                }
                summary.inserted += 1;
                summary.sessions_created += 1;
                arrived.push(e.event_id.clone());
            }
        } else {
            let seq = sequence.take();
            if insert_if_absent(conn, tenant, e, seq)? {
                log.stored(index, seq);
                log.buckets.stored_at(figures, index);
                summary.inserted += 1;
                arrived.push(e.event_id.clone());
            } else {
                summary.duplicates += 1;
            }
        }
    }
    for sighting in batch.sessions.iter().chain(implicit.values()) {
        if sighting.session_id.is_empty() {
            continue;
        }
        if apply_sighting(conn, tenant, sighting, (sequence, &mut log))? {
            summary.sessions_created += 1;
            arrived.push(sighting.session_id.clone());
        }
    }
    summary.enriched += apply_pending(conn, tenant, &arrived, (sequence, &mut log))?;
    for en in &batch.enrichments {
        if en.event_id.is_empty() {
            return Err(StoreError::Invalid("enrichment without event_id".into()));
        }
        if apply_enrichment(conn, tenant, en, (sequence, &mut log))? {
            summary.enriched += 1;
        } else {
            summary.deferred += 1;
        }
    }
    Ok((summary, log))
}

#[async_trait]
impl IngestStore for SqliteStore {
    async fn write(&self, tenant: &Tenant, batch: WriteBatch) -> StoreResult<WriteSummary> {
        // Worked out here, not on the writer every write waits for; a large
        // batch on the blocking pool, not on an async worker.
        let (batch, figures) = if batch.events.len() > FIGURES_INLINE_EVENTS {
            tokio::task::spawn_blocking(move || {
                let figures = BatchFigures::of(&batch.events);
                (batch, figures)
            })
            .await
            .map_err(|_| backend("working out a batch's metric figures failed"))?
        } else {
            let figures = BatchFigures::of(&batch.events);
            (batch, figures)
        };
        let (answer, outcome) = tokio::sync::oneshot::channel();
        self.submit(Box::new(WriteJob {
            tenant: tenant.clone(),
            batch,
            figures,
            apply: apply_batch,
            sequence: self.sequence.clone(),
            outcome: None,
            answer,
        }))?;
        outcome
            .await
            .map_err(|_| backend("store writer stopped before committing"))?
    }

    async fn check_writable(&self) -> StoreResult<()> {
        SqliteStore::write(self, |conn| {
            conn.execute_batch("SELECT 1").map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn expire_pending_enrichments(&self, created_before: f64) -> StoreResult<u64> {
        SqliteStore::write(self, move |conn| {
            conn.prepare_cached("DELETE FROM pending_enrichments WHERE created_at < ?1")
                .and_then(|mut stmt| stmt.execute([created_before]))
                .map(|n| n as u64)
                .map_err(backend)
        })
        .await
    }

    fn stats(&self) -> StoreStats {
        self.writer_stats()
    }
}
