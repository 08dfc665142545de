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

/// Most points one series may have.
pub const MAX_POINTS: i64 = 10_000;

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
        p.events += o.events;
        p.errors += o.errors;
        p.prompt_tokens += o.prompt_tokens;
        p.completion_tokens += o.completion_tokens;
        p.total_tokens += o.total_tokens;
        p.cost += o.cost;
        for (name, score) in o.scores {
            let into = p.scores.entry(name).or_default();
            into.sum += score.sum;
            into.count += score.count;
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
    let steps = (query.end_ms - start + query.step_ms - 1).div_euclid(query.step_ms);
    if !(1..=MAX_POINTS).contains(&steps) {
        return Err(StoreError::Invalid(format!(
            "the range holds {steps} steps; it must hold 1 to {MAX_POINTS}"
        )));
    }
    Ok((start, steps as usize))
}

fn read(conn: &Connection, tenant: &Tenant, query: &TimeseriesQuery) -> StoreResult<Timeseries> {
    let (start, steps) = check(query)?;
    let end = start + query.step_ms * steps as i64;
    let mut sql = String::from(
        "SELECT bucket, value, events, errors, prompt_tokens, completion_tokens, total_tokens, \
         cost, latency, scores FROM metric_buckets WHERE project_id = ?1 AND width = ?2 \
         AND dimension = ?3 AND bucket >= ?4 AND bucket < ?5",
    );
    let mut params = vec![
        SqlValue::Text(tenant.project_id.clone()),
        SqlValue::Integer(bucket_width(query.step_ms)),
        SqlValue::Text(query.group_by.map_or("", |d| d.as_str()).to_string()),
        SqlValue::Integer(start),
        SqlValue::Integer(end),
    ];
    if let Some(event_type) = query.event_type {
        sql.push_str(" AND event_type = ?6");
        params.push(SqlValue::Text(event_type.as_str().to_string()));
    }
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(backend)?;
    let mut groups: HashMap<String, Vec<Sum>> = HashMap::new();
    while let Some(row) = rows.next().map_err(backend)? {
        let bucket: i64 = row.get(0).map_err(backend)?;
        let value = row
            .get_ref(1)
            .and_then(|v| v.as_str().map_err(Into::into))
            .map_err(backend)?;
        let count = |i: usize| -> StoreResult<u64> {
            let n: i64 = row.get(i).map_err(backend)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let latency: Option<Vec<u8>> = row.get(8).map_err(backend)?;
        let scores: Option<String> = row.get(9).map_err(backend)?;
        let sum = Sum {
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
        };
        let step = ((bucket - start) / query.step_ms) as usize;
        if !groups.contains_key(value) {
            let empty = (0..steps).map(|_| Sum::default()).collect();
            groups.insert(value.to_string(), empty);
        }
        let Some(points) = groups.get_mut(value) else {
            continue;
        };
        if let Some(point) = points.get_mut(step) {
            point.absorb(sum);
        }
    }
    Ok(Timeseries {
        start_ms: start,
        step_ms: query.step_ms,
        series: rank(groups, query.max_groups.max(1), steps),
    })
}

/// The groups with the most events first, those past `max_groups` (counting
/// the "(other)" series they are summed into) folded together.
fn rank(groups: HashMap<String, Vec<Sum>>, max_groups: usize, steps: usize) -> Vec<Series> {
    let mut ranked: Vec<(u64, String, Vec<Sum>)> = groups
        .into_iter()
        .map(|(group, sums)| (sums.iter().map(|s| s.point.events).sum(), group, sums))
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let keep = if ranked.len() > max_groups {
        max_groups.saturating_sub(1)
    } else {
        ranked.len()
    };
    let rest = ranked.split_off(keep);
    let mut series: Vec<Series> = ranked
        .into_iter()
        .map(|(_, group, sums)| Series {
            group,
            points: sums.into_iter().map(Sum::finish).collect(),
        })
        .collect();
    if !rest.is_empty() {
        let mut other: Vec<Sum> = (0..steps).map(|_| Sum::default()).collect();
        for (_, _, sums) in rest {
            for (into, sum) in other.iter_mut().zip(sums) {
                into.absorb(sum);
            }
        }
        series.push(Series {
            group: OTHER_GROUP.to_string(),
            points: other.into_iter().map(Sum::finish).collect(),
        });
    }
    series
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
