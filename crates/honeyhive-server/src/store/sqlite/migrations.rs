//! Versioned schema migrations.
//!
//! Core (ingest) migrations take versions 1..100; the experiments tables take
//! versions ≥ 100 and live in [`EXPERIMENT_MIGRATIONS`]. Applied
//! versions are recorded in `schema_migrations`; each migration runs in its own
//! transaction, in version order, exactly once. Never edit a shipped migration:
//! append a new one.

use rusqlite::Connection;

use super::backend;
use crate::store::StoreResult;

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Unique, increasing version number.
    pub version: u32,
    /// Short description, recorded with the version.
    pub name: &'static str,
    /// The SQL to run (may hold several statements).
    pub sql: &'static str,
}

/// The ingest side's schema.
pub(crate) const CORE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenancy and events",
        sql: r#"
CREATE TABLE orgs (
    org_id      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE projects (
    org_id      TEXT NOT NULL,
    project_id  TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    UNIQUE (org_id, name)
);
CREATE TABLE api_keys (
    key_hash    TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE events (
    org_id          TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    parent_id       TEXT,
    event_type      TEXT NOT NULL,
    event_name      TEXT NOT NULL,
    source          TEXT NOT NULL,
    start_time      REAL NOT NULL,
    end_time        REAL NOT NULL,
    duration        REAL NOT NULL,
    error           TEXT,
    config          TEXT NOT NULL,
    inputs          TEXT NOT NULL,
    outputs         TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    metrics         TEXT NOT NULL,
    feedback        TEXT NOT NULL,
    user_properties TEXT NOT NULL,
    ingested_at     REAL NOT NULL,
    PRIMARY KEY (project_id, event_id)
);
-- The session tree: every event of a session, in time order.
CREATE INDEX events_by_session ON events (project_id, session_id, start_time);
-- Time-range scans, optionally narrowed by event type (sessions list, charts).
CREATE INDEX events_by_time ON events (project_id, start_time);
CREATE INDEX events_by_type_time ON events (project_id, event_type, start_time);
-- Enrichments that arrived before their event; applied when it lands.
CREATE TABLE pending_enrichments (
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (project_id, event_id)
);
"#,
    },
    Migration {
        version: 2,
        name: "one time index for time ranges and type filters",
        // `events_by_type_time` could never serve a query: type filters are
        // rendered as `COALESCE(event_type = ?, 0)`, which no index matches,
        // yet it cost a b-tree insert per event. Putting `event_type` after `start_time` keeps time-range
        // scans and ordering as before and lets the type test (e.g. the
        // `totalEvents` count of a type-filtered `GET /events`) read the index
        // instead of every row.
        sql: r#"
DROP INDEX IF EXISTS events_by_type_time;
DROP INDEX IF EXISTS events_by_time;
CREATE INDEX events_by_time ON events (project_id, start_time, event_type);
"#,
    },
    Migration {
        version: 3,
        name: "parked enrichments by age, for their expiry",
        sql: r#"
CREATE INDEX pending_enrichments_by_age ON pending_enrichments (created_at);
"#,
    },
    Migration {
        version: 4,
        name: "commit sequence of events",
        // `seq` numbers an event's last change and `created_seq` its insert,
        // from one sequence the writer keeps (see `changes.rs`): "what changed
        // after N" is a range of `events_by_seq`, for the live stream's resume.
        // Rows stored before have neither and are left out of the index.
        sql: r#"
ALTER TABLE events ADD COLUMN seq INTEGER;
ALTER TABLE events ADD COLUMN created_seq INTEGER;
CREATE INDEX events_by_seq ON events (project_id, seq) WHERE seq IS NOT NULL;
"#,
    },
    Migration {
        version: 5,
        name: "streaming metric buckets",
        // One row per project, bucket width (ms), dimension ('' for the
        // total, 'model', 'source', 'event_name'), bucket start, event type
        // and dimension value; kept by the writer in each batch's transaction
        // (`buckets.rs`). Events stored before are counted once here; their
        // latency and scores are not recovered (a sketch cannot be built in SQL).
        sql: r#"
CREATE TABLE metric_buckets (
    project_id        TEXT NOT NULL,
    width             INTEGER NOT NULL,
    dimension         TEXT NOT NULL,
    bucket            INTEGER NOT NULL,
    event_type        TEXT NOT NULL,
    value             TEXT NOT NULL,
    org_id            TEXT NOT NULL,
    events            INTEGER NOT NULL,
    errors            INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens      INTEGER NOT NULL,
    cost              REAL NOT NULL,
    latency           BLOB,
    scores            TEXT,
    PRIMARY KEY (project_id, width, dimension, bucket, event_type, value)
) WITHOUT ROWID;
INSERT INTO metric_buckets
SELECT project_id, w.width, d.dimension,
       CAST(time_ms / w.width AS INTEGER) * w.width, event_type,
       CASE d.dimension WHEN '' THEN '' WHEN 'model' THEN model
            WHEN 'source' THEN source ELSE event_name END,
       max(org_id), count(*), sum(failed), sum(prompt), sum(completion),
       sum(CASE WHEN total IS NULL THEN prompt + completion ELSE total END),
       sum(cost), NULL, NULL
FROM (
    SELECT project_id, org_id, event_type, time_ms, source, event_name, failed, model,
           CASE WHEN p >= 0 THEN CAST(min(round(p), 1e15) AS INTEGER) ELSE 0 END AS prompt,
           CASE WHEN c >= 0 THEN CAST(min(round(c), 1e15) AS INTEGER) ELSE 0 END AS completion,
           CASE WHEN t >= 0 THEN CAST(min(round(t), 1e15) AS INTEGER) END AS total,
           CASE WHEN abs(cost_raw) <= 1e12 THEN cost_raw ELSE 0 END AS cost
    FROM (
        SELECT project_id, org_id, event_type,
               CASE WHEN start_time > 0 THEN start_time ELSE ingested_at END AS time_ms,
               substr(coalesce(source, ''), 1, 200) AS source,
               substr(coalesce(event_name, ''), 1, 200) AS event_name,
               coalesce(error, '') != '' AS failed,
               CASE WHEN NOT json_valid(config) THEN ''
                    WHEN json_type(config, '$.model') = 'text'
                        THEN substr(json_extract(config, '$.model'), 1, 200)
                    WHEN coalesce(json_type(config, '$.model'), 'null') = 'null' THEN ''
                    ELSE substr(config -> '$.model', 1, 200) END AS model,
               CASE WHEN json_valid(metadata)
                        AND json_type(metadata, '$.prompt_tokens') IN ('integer', 'real', 'text')
                    THEN CAST(json_extract(metadata, '$.prompt_tokens') AS REAL) END AS p,
               CASE WHEN json_valid(metadata)
                        AND json_type(metadata, '$.completion_tokens') IN ('integer', 'real', 'text')
                    THEN CAST(json_extract(metadata, '$.completion_tokens') AS REAL) END AS c,
               CASE WHEN json_valid(metadata)
                        AND json_type(metadata, '$.total_tokens') IN ('integer', 'real', 'text')
                    THEN CAST(json_extract(metadata, '$.total_tokens') AS REAL) END AS t,
               CASE WHEN json_valid(metadata)
                        AND json_type(metadata, '$.cost') IN ('integer', 'real', 'text')
                    THEN CAST(json_extract(metadata, '$.cost') AS REAL) ELSE 0 END AS cost_raw
        FROM events WHERE event_type != 'session'
    )
) AS e
CROSS JOIN (SELECT 60000 AS width UNION ALL SELECT 900000 UNION ALL SELECT 3600000) AS w
CROSS JOIN (SELECT '' AS dimension UNION ALL SELECT 'model' UNION ALL SELECT 'source'
            UNION ALL SELECT 'event_name') AS d
GROUP BY 1, 2, 3, 4, 5, 6;
"#,
    },
];

/// Experiments tables; versions ≥ 100 (core ingest uses 1..100).
pub(crate) const EXPERIMENT_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 100,
        name: "runs, datasets, datapoints, documents",
        sql: r#"
CREATE TABLE runs (
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    name        TEXT,
    status      TEXT NOT NULL,
    dataset_id  TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (project_id, run_id)
);
CREATE INDEX runs_by_created ON runs (project_id, created_at);
CREATE TABLE datasets (
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    dataset_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (project_id, dataset_id)
);
CREATE TABLE datapoints (
    org_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    datapoint_id TEXT NOT NULL,
    created_at   REAL NOT NULL,
    doc          TEXT NOT NULL,
    PRIMARY KEY (project_id, datapoint_id)
);
-- Datapoints by dataset, in membership order.
CREATE TABLE dataset_members (
    project_id   TEXT NOT NULL,
    dataset_id   TEXT NOT NULL,
    position     INTEGER NOT NULL,
    datapoint_id TEXT NOT NULL,
    PRIMARY KEY (project_id, dataset_id, position)
);
CREATE INDEX dataset_members_by_datapoint ON dataset_members (project_id, datapoint_id);
CREATE TABLE documents (
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (project_id, kind, doc_id)
);
CREATE TABLE project_details (
    project_id   TEXT PRIMARY KEY,
    description  TEXT,
    project_type TEXT
);
"#,
    },
    Migration {
        version: 101,
        name: "run id of events, indexed for a run's tagged sessions",
        // `GET /v1/runs/{id}/result` also takes sessions tagged with
        // `metadata.run_id`; found through the JSON that was a scan of every
        // event of the project. The writer fills `run_id` from the event's
        // metadata (a map lookup, no JSON parse) and the index is partial, so
        // traffic outside experiments adds no index entry. Existing rows are
        // backfilled once; `CASE` keeps a corrupt document from failing it.
        sql: r#"
ALTER TABLE events ADD COLUMN run_id TEXT;
UPDATE events SET run_id = json_extract(metadata, '$.run_id')
 WHERE CASE WHEN json_valid(metadata) THEN json_type(metadata, '$.run_id') = 'text' ELSE 0 END;
CREATE INDEX events_by_run ON events (project_id, run_id, session_id) WHERE run_id IS NOT NULL;
"#,
    },
];

/// Every migration, core and experiments, sorted by version; an error if two share a version.
pub(crate) fn all() -> StoreResult<Vec<Migration>> {
    let mut list: Vec<Migration> = CORE_MIGRATIONS
        .iter()
        .chain(EXPERIMENT_MIGRATIONS.iter())
        .copied()
        .collect();
    list.sort_by_key(|m| m.version);
    for pair in list.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(backend(format!(
                "two migrations share version {}",
                pair[0].version
            )));
        }
    }
    Ok(list)
}

/// Applies every migration not yet recorded in the database.
pub(crate) fn run(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)",
    )
    .map_err(backend)?;
    for migration in all()? {
        let tx = conn.transaction().map_err(backend)?;
        let applied: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
                [migration.version],
                |row| row.get(0),
            )
            .map_err(backend)?;
        if applied {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(|e| {
            backend(format!(
                "migration {} ({}): {e}",
                migration.version, migration.name
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![migration.version, migration.name, crate::clock::now_ms()],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_unique_and_core_stays_below_100() {
        let list = all().expect("no duplicate versions");
        assert!(!list.is_empty());
        assert!(CORE_MIGRATIONS.iter().all(|m| m.version < 100));
        assert!(
            super::EXPERIMENT_MIGRATIONS
                .iter()
                .all(|m| m.version >= 100)
        );
    }

    #[test]
    fn events_keep_one_time_index_that_covers_type_tests() {
        let mut conn = Connection::open_in_memory().expect("open");
        run(&mut conn).expect("migrate");
        let mut indexes: Vec<String> = conn
            .prepare(
                "SELECT name FROM pragma_index_list('events') WHERE origin = 'c' ORDER BY name",
            )
            .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
            .expect("index list");
        indexes.sort();
        // `events_by_run` is partial: only rows carrying a run id get an entry;
        // `events_by_seq` leaves out rows stored before the commit sequence.
        assert_eq!(
            indexes,
            [
                "events_by_run",
                "events_by_seq",
                "events_by_session",
                "events_by_time"
            ]
        );
        let mut partial: Vec<String> = conn
            .prepare("SELECT name FROM pragma_index_list('events') WHERE origin = 'c' AND partial")
            .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
            .expect("partial indexes");
        partial.sort();
        assert_eq!(partial, ["events_by_run", "events_by_seq"]);
        for query in [
            "SELECT max(seq) FROM events WHERE project_id = ?1 AND seq IS NOT NULL",
            "SELECT event_id FROM events WHERE project_id = ?1 AND seq IS NOT NULL \
             AND seq > 1 AND seq <= 9 ORDER BY seq",
        ] {
            let plan: String = conn
                .query_row(&format!("EXPLAIN QUERY PLAN {query}"), ["p"], |r| r.get(3))
                .expect("plan");
            assert!(plan.contains("events_by_seq"), "{query}: {plan}");
        }
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_index_info('events_by_time') ORDER BY seqno")
            .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
            .expect("index columns");
        assert_eq!(columns, ["project_id", "start_time", "event_type"]);
        // A type-filtered count reads the index, not the rows.
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT count(*) FROM events \
                 WHERE project_id = ?1 AND (NOT COALESCE(event_type = ?2, 0))",
                ["p", "session"],
                |r| r.get(3),
            )
            .expect("plan");
        assert!(plan.contains("COVERING INDEX"), "{plan}");
    }

    /// An in-memory database with the migrations below `version` applied and
    /// recorded, as a server of that age left it.
    fn migrated_below(version: u32) -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE schema_migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)",
        )
        .expect("migrations table");
        for m in all().expect("list").iter().filter(|m| m.version < version) {
            conn.execute_batch(m.sql).expect("older migration");
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?1, ?2, 0)",
                rusqlite::params![m.version, m.name],
            )
            .expect("record");
        }
        conn
    }

    #[test]
    fn run_id_backfill_tags_existing_rows_and_skips_corrupt_ones() {
        // Everything before the run id column, then rows as an older version
        // of the server would have stored them.
        let mut conn = migrated_below(101);
        for (id, metadata) in [
            ("tagged", r#"{"run_id":"r1","x":1}"#),
            ("numeric", r#"{"run_id":5}"#),
            ("corrupt", "{not json"),
            ("plain", "{}"),
        ] {
            conn.execute(
                "INSERT INTO events (org_id, project_id, event_id, session_id, parent_id, \
                 event_type, event_name, source, start_time, end_time, duration, error, config, \
                 inputs, outputs, metadata, metrics, feedback, user_properties, ingested_at) \
                 VALUES ('o','p',?1,?1,NULL,'session','n','s',0,0,0,NULL,\
                 '{}','{}','{}',?2,'{}','{}','{}',0)",
                [id, metadata],
            )
            .expect("old row");
        }
        run(&mut conn).expect("migrate");
        let tagged: Vec<(String, Option<String>)> = conn
            .prepare("SELECT event_id, run_id FROM events ORDER BY event_id")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .expect("rows");
        let expected = [
            ("corrupt", None),
            ("numeric", None),
            ("plain", None),
            ("tagged", Some("r1")),
        ]
        .map(|(id, run)| (id.to_string(), run.map(str::to_string)));
        assert_eq!(tagged, expected);
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT DISTINCT session_id FROM events \
                 WHERE project_id = ?1 AND run_id = ?2",
                ["p", "r1"],
                |r| r.get(3),
            )
            .expect("plan");
        assert!(plan.contains("events_by_run"), "{plan}");
    }

    #[test]
    fn metric_buckets_backfill_counts_stored_events() {
        let mut conn = migrated_below(5);
        // Minute 0 of 2026-01-01: two model calls (one failed, one with its
        // tokens as text and no total), a corrupt row, a session (not counted).
        for (id, kind, error, config, metadata, start) in [
            (
                "a",
                "model",
                None,
                r#"{"model":"gpt"}"#,
                r#"{"total_tokens":30,"cost":0.5}"#,
                1_767_225_600_000.0,
            ),
            (
                "b",
                "model",
                Some("boom"),
                r#"{"model":"gpt"}"#,
                r#"{"prompt_tokens":"7","completion_tokens":3}"#,
                1_767_225_630_000.0,
            ),
            (
                "c",
                "tool",
                None,
                "{not json",
                "{not json",
                1_767_225_640_000.0,
            ),
            (
                "d",
                "tool",
                None,
                r#"{"model":true}"#,
                r#"{"total_tokens":"1e19","cost":true}"#,
                1_767_225_650_000.0,
            ),
            (
                "s",
                "session",
                None,
                "{}",
                r#"{"total_tokens":999}"#,
                1_767_225_600_000.0,
            ),
        ] {
            conn.execute(
                "INSERT INTO events (org_id, project_id, event_id, session_id, parent_id, \
                 event_type, event_name, source, start_time, end_time, duration, error, config, \
                 inputs, outputs, metadata, metrics, feedback, user_properties, ingested_at) \
                 VALUES ('o','p',?1,'s',NULL,?2,'n','dev',?3,?3,0,?4,?5,'{}','{}',?6,'{}','{}','{}',0)",
                rusqlite::params![id, kind, start, error, config, metadata],
            )
            .expect("old row");
        }
        run(&mut conn).expect("migrate");
        let rows: Vec<(String, String, i64, i64, i64, f64)> = conn
            .prepare(
                "SELECT event_type, value, events, errors, total_tokens, cost FROM metric_buckets \
                 WHERE width = 60000 AND dimension = 'model' ORDER BY event_type, value",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect()
            })
            .expect("rows");
        assert_eq!(
            rows,
            [
                ("model".to_string(), "gpt".to_string(), 2, 1, 40, 0.5),
                ("tool".to_string(), String::new(), 1, 0, 0, 0.0),
                // A model that is not text is its JSON; a total past 10^15 is
                // capped (every count stays an integer); a boolean cost is none.
                (
                    "tool".to_string(),
                    "true".to_string(),
                    1,
                    0,
                    1_000_000_000_000_000,
                    0.0
                ),
            ]
        );
        let hourly: i64 = conn
            .query_row(
                "SELECT sum(events) FROM metric_buckets WHERE width = 3600000 AND dimension = '' \
                 AND bucket = 1767225600000",
                [],
                |r| r.get(0),
            )
            .expect("hourly");
        assert_eq!(hourly, 4);
        let not_integers: i64 = conn
            .query_row(
                "SELECT count(*) FROM metric_buckets WHERE typeof(total_tokens) != 'integer' \
                 OR typeof(prompt_tokens) != 'integer' OR typeof(completion_tokens) != 'integer'",
                [],
                |r| r.get(0),
            )
            .expect("types");
        assert_eq!(
            not_integers, 0,
            "token sums are integers, as the writer reads them"
        );
    }

    #[test]
    fn running_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().expect("open");
        run(&mut conn).expect("first run");
        run(&mut conn).expect("second run");
        let count: i64 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count as usize, all().expect("list").len());
    }
}
