//! Streaming metric buckets, read: the rows of a range folded into one point
//! per step and group, latency sketches merged (see [`crate::store::TimeseriesStore`]).

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use sketches_ddsketch::DDSketch;

use super::buckets::{decode_scores, decode_sketch};
use super::{SqliteStore, backend};
use crate::store::{
    BUCKET_WIDTHS_MS, OTHER_GROUP, Point, ScoreSum, Series, StoreError, StoreResult, Tenant,
    Timeseries, TimeseriesQuery, TimeseriesStore,
};

/// Most steps a store read covers, whoever asks: a bound on its memory
/// (`GET /v1/metrics/timeseries` asks for at most 1 500).
const MAX_STEPS: i64 = 10_000;

/// A point being summed, its sketch merged.
#[derive(Default)]
struct Sum {
    point: Point,
    latency: Option<DDSketch>,
}

impl Sum {
    fn absorb(&mut self, other: Sum) {
        let p = &mut self.point;
        let o = other.point;
        p.events = p.events.saturating_add(o.events);
        p.errors = p.errors.saturating_add(o.errors);
        p.prompt_tokens = p.prompt_tokens.saturating_add(o.prompt_tokens);
        p.completion_tokens = p.completion_tokens.saturating_add(o.completion_tokens);
        p.total_tokens = p.total_tokens.saturating_add(o.total_tokens);
        p.cost += o.cost;
        for (name, score) in o.scores {
            let into = p.scores.entry(name).or_default();
            into.sum += score.sum;
            into.count = into.count.saturating_add(score.count);
        }
        self.merge_latency(other.latency);
    }

    fn merge_latency(&mut self, sketch: Option<DDSketch>) {
        match (&mut self.latency, sketch) {
            // Every sketch has the default configuration, so the merge cannot refuse.
            (Some(into), Some(new)) => drop(into.merge(&new)),
            (into @ None, new) => *into = new,
            (Some(_), None) => {}
        }
    }

    fn finish(mut self) -> Point {
        self.point.latency_ms = self.latency.filter(|s| s.count() > 0).and_then(|s| {
            let q = |q: f64| s.quantile(q).ok().flatten();
            Some([q(0.5)?, q(0.95)?, q(0.99)?])
        });
        self.point
    }
}

/// The width of the buckets a query reads: the widest that divides its step.
fn bucket_width(step_ms: i64) -> i64 {
    BUCKET_WIDTHS_MS
        .into_iter()
        .rev()
        .find(|width| step_ms % width == 0)
        .unwrap_or(BUCKET_WIDTHS_MS[0])
}

fn check(query: &TimeseriesQuery) -> StoreResult<(i64, usize)> {
    let minute = BUCKET_WIDTHS_MS[0];
    if query.step_ms <= 0 || query.step_ms % minute != 0 {
        return Err(StoreError::Invalid(format!(
            "step {} ms is not a whole number of minutes",
            query.step_ms
        )));
    }
    let start = query.start_ms.div_euclid(query.step_ms) * query.step_ms;
    let steps = query
        .end_ms
        .checked_sub(start)
        .and_then(|span| span.checked_add(query.step_ms - 1))
        .map_or(i64::MAX, |span| span.div_euclid(query.step_ms));
    if !(1..=MAX_STEPS).contains(&steps) || start.checked_add(query.step_ms * steps).is_none() {
        return Err(StoreError::Invalid(format!(
            "the range holds {steps} steps; it must hold 1 to {MAX_STEPS}"
        )));
    }
    Ok((start, steps as usize))
}

/// The groups a read keeps, the most events first: at most `max_groups`,
/// one fewer when more exist (their place goes to "(other)").
fn ranked_groups(
    conn: &Connection,
    filter: &str,
    params: &[SqlValue],
    max_groups: usize,
) -> StoreResult<(Vec<String>, bool)> {
    let sql = format!(
        "SELECT value, sum(events) AS n FROM metric_buckets WHERE {filter} \
         GROUP BY value ORDER BY n DESC, value LIMIT {}",
        max_groups + 1
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let mut groups: Vec<String> = stmt
        .query_map(rusqlite::params_from_iter(params), |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(backend)?;
    let more = groups.len() > max_groups;
    if more {
        groups.truncate(max_groups - 1);
    }
    Ok((groups, more))
}

/// One bucket row as a [`Sum`].
fn row_sum(row: &rusqlite::Row<'_>) -> StoreResult<Sum> {
    let count = |i: usize| -> StoreResult<u64> {
        let n: i64 = row.get(i).map_err(backend)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let latency: Option<Vec<u8>> = row.get(8).map_err(backend)?;
    let scores: Option<String> = row.get(9).map_err(backend)?;
    Ok(Sum {
        point: crate::store::Point {
            events: count(2)?,
            errors: count(3)?,
            prompt_tokens: count(4)?,
            completion_tokens: count(5)?,
            total_tokens: count(6)?,
            cost: row.get(7).map_err(backend)?,
            latency_ms: None,
            scores: scores
                .as_deref()
                .map(decode_scores)
                .unwrap_or_default()
                .into_iter()
                .map(|(name, (sum, count))| {
                    let count = u64::try_from(count).unwrap_or(0);
                    (name, ScoreSum { sum, count })
                })
                .collect(),
        },
        latency: latency.as_deref().and_then(decode_sketch),
    })
}

/// Reads the series: first which groups are kept (by their events in the
/// range), then every row folded into its group's points or into
/// "(other)", so memory holds at most `max_groups` series however many
/// values the range has.
fn read(conn: &Connection, tenant: &Tenant, query: &TimeseriesQuery) -> StoreResult<Timeseries> {
    let (start, steps) = check(query)?;
    let end = start + query.step_ms * steps as i64;
    let mut filter = String::from(
        "project_id = ?1 AND width = ?2 AND dimension = ?3 AND bucket >= ?4 AND bucket < ?5",
    );
    let mut params = vec![
        SqlValue::Text(tenant.project_id.clone()),
        SqlValue::Integer(bucket_width(query.step_ms)),
        SqlValue::Text(query.group_by.map_or("", |d| d.as_str()).to_string()),
        SqlValue::Integer(start),
        SqlValue::Integer(end),
    ];
    if let Some(event_type) = query.event_type {
        filter.push_str(" AND event_type = ?6");
        params.push(SqlValue::Text(event_type.as_str().to_string()));
    }
    // Both statements read one snapshot, so the groups ranked are the groups read.
    conn.execute_batch("BEGIN").map_err(backend)?;
    let read = read_in_snapshot(conn, &filter, &params, (start, steps), query);
    let _ = conn.execute_batch("COMMIT");
    read
}

fn read_in_snapshot(
    conn: &Connection,
    filter: &str,
    params: &[SqlValue],
    (start, steps): (i64, usize),
    query: &TimeseriesQuery,
) -> StoreResult<Timeseries> {
    let max_groups = query.max_groups.max(1);
    let (kept, more) = ranked_groups(conn, filter, params, max_groups)?;
    let places: HashMap<&str, usize> = kept
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect();
    let empty = || (0..steps).map(|_| Sum::default()).collect::<Vec<Sum>>();
    let mut series: Vec<Vec<Sum>> = kept.iter().map(|_| empty()).collect();
    let mut other: Option<Vec<Sum>> = more.then(empty);
    let sql = format!(
        "SELECT bucket, value, events, errors, prompt_tokens, completion_tokens, total_tokens, \
         cost, latency, scores FROM metric_buckets WHERE {filter}"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(backend)?;
    while let Some(row) = rows.next().map_err(backend)? {
        let bucket: i64 = row.get(0).map_err(backend)?;
        let value = row
            .get_ref(1)
            .and_then(|v| v.as_str().map_err(Into::into))
            .map_err(backend)?;
        let points = match places.get(value) {
            Some(place) => &mut series[*place],
            None => other.get_or_insert_with(empty),
        };
        let step = ((bucket - start) / query.step_ms) as usize;
        if let Some(point) = points.get_mut(step) {
            point.absorb(row_sum(row)?);
        }
    }
    let mut out: Vec<Series> = kept
        .into_iter()
        .zip(series)
        .map(|(group, sums)| Series {
            group,
            points: sums.into_iter().map(Sum::finish).collect(),
        })
        .collect();
    if let Some(sums) = other {
        out.push(Series {
            group: OTHER_GROUP.to_string(),
            points: sums.into_iter().map(Sum::finish).collect(),
        });
    }
    Ok(Timeseries {
        start_ms: start,
        step_ms: query.step_ms,
        series: out,
    })
}

#[async_trait]
impl TimeseriesStore for SqliteStore {
    async fn timeseries(
        &self,
        tenant: &Tenant,
        query: &TimeseriesQuery,
    ) -> StoreResult<Timeseries> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.read(move |conn| read(conn, &tenant, &query)).await
    }
}
