//! Streaming metric buckets, written: what a write batch adds to each bucket,
//! summed in memory while the batch applies; the writer sums a group's
//! batches per project and writes each bucket once, in the group's
//! transaction, before it commits (see [`crate::store::TimeseriesStore`]).

use std::collections::{BTreeMap, HashMap};

use honeyhive_model::rollup::usage;
use honeyhive_model::{Event, EventType};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sketches_ddsketch::{Config, DDSketch};

use super::backend;
use crate::clock::now_ms;
use crate::store::{BUCKET_WIDTHS_MS, StoreResult, Tenant};

/// Longest dimension value kept; longer ones are cut (on a character boundary).
pub(crate) const MAX_VALUE_CHARS: usize = 200;

/// Most evaluator scores one event adds (the first, in the order it holds them).
const MAX_SCORES_PER_EVENT: usize = 32;

/// Longest score name kept; longer names are not charted.
const MAX_SCORE_NAME_CHARS: usize = 100;

/// The dimension column of every bucket an event adds to: `""` is the total
/// over all values.
const DIMENSIONS: [&str; 4] = ["", "model", "source", "event_name"];

/// A new, empty latency sketch.
pub(crate) fn new_sketch() -> DDSketch {
    DDSketch::new(Config::defaults())
}

/// A sketch as stored: its fields in postcard (serde, varint integers), whose
/// decoder reads the bins as one vector; the crate's own binary format re-adds
/// them one by one, and a chart decodes a sketch per bucket it reads.
pub(crate) fn encode_sketch(sketch: &DDSketch) -> Vec<u8> {
    postcard::to_stdvec(sketch).unwrap_or_default()
}

/// A stored sketch; a blob that does not decode counts as empty, so one
/// corrupt row costs its latency, not the chart.
pub(crate) fn decode_sketch(bytes: &[u8]) -> Option<DDSketch> {
    postcard::from_bytes(bytes).ok()
}

/// Score sums as stored: `{"name": [sum, count], ...}`.
pub(crate) fn decode_scores(text: &str) -> BTreeMap<String, (f64, i64)> {
    serde_json::from_str::<BTreeMap<String, (f64, i64)>>(text).unwrap_or_default()
}

/// One bucket row's key (the project is the batch's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct BucketKey {
    width: i64,
    dimension: usize,
    bucket: i64,
    event_type: EventType,
    /// The dimension value's place in [`BucketDeltas::values`]; `None` for the total.
    value: Option<u32>,
}

/// What a batch adds to one bucket, or to one [`Combination`]. Counters may
/// go down: an enrichment moves an event's figures by the difference.
#[derive(Default)]
struct Delta {
    events: i64,
    errors: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    total_tokens: i64,
    cost: f64,
    latency: Option<DDSketch>,
    scores: BTreeMap<String, (f64, i64)>,
}

impl Delta {
    /// Adds one event's `figure`, `sign` times; its latency too when asked.
    fn add(&mut self, figure: &EventFigure, sign: i64, with_latency: bool) {
        self.events += sign;
        if figure.error {
            self.errors += sign;
        }
        for (into, tokens) in [
            &mut self.prompt_tokens,
            &mut self.completion_tokens,
            &mut self.total_tokens,
        ]
        .into_iter()
        .zip(figure.tokens)
        {
            *into = into.saturating_add(sign.saturating_mul(tokens));
        }
        self.cost += sign as f64 * figure.cost;
        for (name, value) in &figure.scores {
            let sum = match self.scores.get_mut(name.as_str()) {
                Some(sum) => sum,
                None => self.scores.entry(name.clone()).or_default(),
            };
            sum.0 += sign as f64 * value;
            sum.1 += sign;
        }
        if let Some(ms) = figure.latency.filter(|_| with_latency) {
            self.latency.get_or_insert_with(new_sketch).add(ms);
        }
    }

    /// Whether adding it changes nothing (an enrichment that moved no figure).
    fn is_empty(&self) -> bool {
        self.events == 0
            && self.errors == 0
            && self.prompt_tokens == 0
            && self.completion_tokens == 0
            && self.total_tokens == 0
            && self.cost == 0.0
            && self.latency.is_none()
            && self
                .scores
                .values()
                .all(|(sum, count)| *sum == 0.0 && *count == 0)
    }

    fn absorb(&mut self, other: &Delta) {
        self.events += other.events;
        self.errors += other.errors;
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.total_tokens = self.total_tokens.saturating_add(other.total_tokens);
        self.cost += other.cost;
        if let Some(sketch) = &other.latency {
            match &mut self.latency {
                // Every sketch has the default configuration, so the merge cannot refuse.
                Some(into) => drop(into.merge(sketch)),
                None => self.latency = Some(sketch.clone()),
            }
        }
        for (name, (sum, count)) in &other.scores {
            let into = self.scores.entry(name.clone()).or_default();
            into.0 += sum;
            into.1 += count;
        }
    }
}

/// The minute, type and dimension values events share: a batch's events are
/// summed per combination first (few per batch), then each combination is
/// added to its buckets (two widths, four dimensions) once, when written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Combination {
    minute: i64,
    event_type: EventType,
    /// Model, source and event name, as places in [`BucketDeltas::values`].
    values: [u32; 3],
}

/// `text` cut to [`MAX_VALUE_CHARS`] characters (on a character boundary).
fn cut(text: &str) -> &str {
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Largest cost or score one event adds, in magnitude: sums of what clients
/// send stay finite (SQLite would store a NaN sum as NULL and refuse the row).
const MAX_FIGURE: f64 = 1e12;

/// Most evaluator metric names one bucket row keeps: the first ones seen.
const MAX_SCORE_NAMES_PER_ROW: usize = 64;

fn score(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64().filter(|x| x.abs() <= MAX_FIGURE),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// An event's latency: its duration, when it has one (an event stored with
/// only a start has 0 until it ends).
fn latency_of(e: &Event) -> Option<f64> {
    (e.duration.is_finite() && e.duration > 0.0).then_some(e.duration)
}

/// An event's model: `config.model` as text, `""` without one.
fn model_of(e: &Event) -> std::borrow::Cow<'_, str> {
    match e.config.get("model") {
        Some(Value::String(model)) => std::borrow::Cow::Borrowed(cut(model)),
        Some(Value::Null) | None => std::borrow::Cow::Borrowed(""),
        Some(other) => std::borrow::Cow::Owned(cut(&other.to_string()).to_string()),
    }
}

/// The minute an event counts in: its start, or now when it has none.
fn minute_of(e: &Event) -> i64 {
    let ms = if e.start_time.is_finite() && e.start_time > 0.0 {
        e.start_time as i64
    } else {
        now_ms() as i64
    };
    ms.div_euclid(BUCKET_WIDTHS_MS[0]) * BUCKET_WIDTHS_MS[0]
}

/// What one event adds to its combination's buckets.
#[derive(Debug, Clone, PartialEq)]
struct EventFigure {
    error: bool,
    /// Prompt, completion and total tokens.
    tokens: [i64; 3],
    cost: f64,
    /// Its duration, ms, when it has one.
    latency: Option<f64>,
    /// Evaluator scores by metric name.
    scores: Vec<(String, f64)>,
}

/// What each event of a write batch would add to the buckets, worked out
/// before the batch reaches the writer (the one thread every write waits
/// for), which then adds the figures of the events it stored.
#[derive(Debug, Default)]
pub(crate) struct BatchFigures {
    values: Vec<String>,
    /// By the event's place in the batch; `None` for sessions.
    events: Vec<Option<(Combination, EventFigure)>>,
}

impl BatchFigures {
    /// The figures of `events`, in order.
    pub(crate) fn of(events: &[Event]) -> BatchFigures {
        let mut interned = BucketDeltas::default();
        let events = events
            .iter()
            .map(|e| (e.event_type != EventType::Session).then(|| interned.figure(e)))
            .collect();
        BatchFigures {
            values: interned.values,
            events,
        }
    }
}

/// What a write batch adds to the buckets, written by [`BucketDeltas::write`].
#[derive(Default)]
pub(crate) struct BucketDeltas {
    /// Dimension values, each once, and where each is.
    values: Vec<String>,
    places: HashMap<String, u32>,
    /// The places found last, newest first.
    recent: [u32; RECENT_PLACES],
    combinations: HashMap<Combination, Delta>,
}

/// Places [`BucketDeltas::place`] compares before it hashes.
const RECENT_PLACES: usize = 8;

impl std::fmt::Debug for BucketDeltas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketDeltas")
            .field("combinations", &self.combinations.len())
            .finish()
    }
}

impl BucketDeltas {
    /// Empty deltas whose values are those of `figures`, so the figures'
    /// combinations can be added as they are.
    pub(crate) fn for_batch(figures: &BatchFigures) -> BucketDeltas {
        let values = figures.values.clone();
        let places = values
            .iter()
            .enumerate()
            .map(|(place, value)| (value.clone(), u32::try_from(place).unwrap_or(u32::MAX)))
            .collect();
        BucketDeltas {
            values,
            places,
            ..BucketDeltas::default()
        }
    }

    /// Event `index` of the batch `figures` was worked out for was stored.
    pub(crate) fn stored_at(&mut self, figures: &BatchFigures, index: usize) {
        if let Some((combination, figure)) = figures.events.get(index).and_then(Option::as_ref) {
            self.combinations
                .entry(*combination)
                .or_default()
                .add(figure, 1, true);
        }
    }

    /// A stored event changed from `before` to `after`: its counters move by
    /// the difference. Its latency is the first duration it had: one stored
    /// without a duration (a start, then an update with the end) adds it when
    /// it gets one.
    pub(crate) fn changed(&mut self, before: &Event, after: &Event) {
        if before.event_type == EventType::Session || after.event_type == EventType::Session {
            return;
        }
        let first_duration = latency_of(before).is_none() && latency_of(after).is_some();
        self.add(before, -1, false);
        self.add(after, 1, first_duration);
    }

    /// Where `value` is in [`Self::values`], added if new. A batch names few
    /// values over and over: the last few places are compared first, which
    /// spares the writer a hash of every event's model, source and name.
    fn place(&mut self, value: &str) -> u32 {
        let recent = self.recent.iter().copied().find(|place| {
            self.values
                .get(*place as usize)
                .is_some_and(|known| known == value)
        });
        let place = match recent.or_else(|| self.places.get(value).copied()) {
            Some(place) => place,
            None => {
                let place = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
                self.values.push(value.to_string());
                self.places.insert(value.to_string(), place);
                place
            }
        };
        if recent.is_none() {
            self.recent.rotate_right(1);
            self.recent[0] = place;
        }
        place
    }

    /// An event's combination and figures, its values placed in [`Self::values`].
    fn figure(&mut self, e: &Event) -> (Combination, EventFigure) {
        let combination = Combination {
            minute: minute_of(e),
            event_type: e.event_type,
            values: [
                self.place(&model_of(e)),
                self.place(cut(&e.source)),
                self.place(cut(&e.event_name)),
            ],
        };
        let usage = usage(e);
        let as_i64 = |n: Option<u64>| i64::try_from(n.unwrap_or(0)).unwrap_or(i64::MAX);
        let figure = EventFigure {
            error: e.error.as_deref().is_some_and(|err| !err.is_empty()),
            tokens: [
                as_i64(usage.prompt_tokens),
                as_i64(usage.completion_tokens),
                as_i64(usage.total_tokens),
            ],
            cost: usage.cost.filter(|c| c.abs() <= MAX_FIGURE).unwrap_or(0.0),
            latency: latency_of(e),
            scores: e
                .metrics
                .iter()
                .filter(|(name, _)| name.chars().count() <= MAX_SCORE_NAME_CHARS)
                .filter_map(|(name, value)| Some((name.clone(), score(value)?)))
                .take(MAX_SCORES_PER_EVENT)
                .collect(),
        };
        (combination, figure)
    }

    fn add(&mut self, e: &Event, sign: i64, with_latency: bool) {
        let (combination, figure) = self.figure(e);
        self.combinations
            .entry(combination)
            .or_default()
            .add(&figure, sign, with_latency);
    }

    /// Adds `other`'s deltas (another batch of the same project) to these.
    pub(crate) fn absorb(&mut self, other: BucketDeltas) {
        for (combination, delta) in other.combinations {
            let [model, source, name] = combination
                .values
                .map(|place| other.values.get(place as usize));
            let values =
                [model, source, name].map(|value| self.place(value.map_or("", String::as_str)));
            self.combinations
                .entry(Combination {
                    values,
                    ..combination
                })
                .or_default()
                .absorb(&delta);
        }
    }

    /// Adds every bucket's delta to its stored row, in the caller's transaction.
    pub(crate) fn write(self, conn: &Connection, tenant: &Tenant) -> StoreResult<()> {
        let mut rows: HashMap<BucketKey, Delta> = HashMap::new();
        for (combination, delta) in &self.combinations {
            if delta.is_empty() {
                continue;
            }
            for width in BUCKET_WIDTHS_MS {
                let bucket = combination.minute.div_euclid(width) * width;
                for (dimension, value) in std::iter::once(None)
                    .chain(combination.values.map(Some))
                    .enumerate()
                {
                    let key = BucketKey {
                        width,
                        dimension,
                        bucket,
                        event_type: combination.event_type,
                        value,
                    };
                    rows.entry(key).or_default().absorb(delta);
                }
            }
        }
        for (key, delta) in rows {
            let value = key
                .value
                .and_then(|place| self.values.get(place as usize))
                .map_or("", String::as_str);
            write_one(conn, tenant, &key, value, delta)?;
        }
        Ok(())
    }
}

const READ_ROW: &str = "SELECT events, errors, prompt_tokens, completion_tokens, total_tokens, \
    cost, latency, scores FROM metric_buckets WHERE project_id = ?1 AND width = ?2 \
    AND dimension = ?3 AND bucket = ?4 AND event_type = ?5 AND value = ?6";

const INSERT_ROW: &str = "INSERT INTO metric_buckets (project_id, width, dimension, \
    bucket, event_type, value, org_id, events, errors, prompt_tokens, completion_tokens, \
    total_tokens, cost, latency, scores) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

// A row that exists is updated in place (a REPLACE would delete and re-insert it).
const UPDATE_ROW: &str = "UPDATE metric_buckets SET org_id = ?7, events = ?8, errors = ?9, \
    prompt_tokens = ?10, completion_tokens = ?11, total_tokens = ?12, cost = ?13, \
    latency = ?14, scores = ?15 WHERE project_id = ?1 AND width = ?2 AND dimension = ?3 \
    AND bucket = ?4 AND event_type = ?5 AND value = ?6";

type StoredRow = (
    i64,
    i64,
    i64,
    i64,
    i64,
    f64,
    Option<Vec<u8>>,
    Option<String>,
);

fn write_one(
    conn: &Connection,
    tenant: &Tenant,
    key: &BucketKey,
    value: &str,
    delta: Delta,
) -> StoreResult<()> {
    let stored: Option<StoredRow> = conn
        .prepare_cached(READ_ROW)
        .and_then(|mut stmt| {
            stmt.query_row(
                params![
                    tenant.project_id,
                    key.width,
                    DIMENSIONS[key.dimension],
                    key.bucket,
                    key.event_type.as_str(),
                    value
                ],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                    ))
                },
            )
            .optional()
        })
        .map_err(backend)?;
    let sql = if stored.is_some() {
        UPDATE_ROW
    } else {
        INSERT_ROW
    };
    let (events, errors, prompt, completion, total, cost, latency, scores) =
        stored.unwrap_or_default();
    let latency = match (latency.as_deref().and_then(decode_sketch), delta.latency) {
        (Some(mut stored), Some(new)) => {
            // Both use the default configuration, so the merge cannot refuse.
            let _ = stored.merge(&new);
            Some(stored)
        }
        (stored, new) => stored.or(new),
    };
    let mut score_sums = scores.as_deref().map(decode_scores).unwrap_or_default();
    for (name, (sum, count)) in delta.scores {
        if !score_sums.contains_key(&name) && score_sums.len() >= MAX_SCORE_NAMES_PER_ROW {
            continue;
        }
        let into = score_sums.entry(name).or_default();
        into.0 += sum;
        into.1 += count;
    }
    score_sums.retain(|_, (sum, count)| *count > 0 && sum.is_finite());
    let scores = (!score_sums.is_empty())
        .then(|| serde_json::to_string(&score_sums).unwrap_or_else(|_| "{}".into()));
    conn.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.execute(params![
                tenant.project_id,
                key.width,
                DIMENSIONS[key.dimension],
                key.bucket,
                key.event_type.as_str(),
                value,
                tenant.org_id,
                (events + delta.events).max(0),
                (errors + delta.errors).max(0),
                prompt.saturating_add(delta.prompt_tokens).max(0),
                completion.saturating_add(delta.completion_tokens).max(0),
                total.saturating_add(delta.total_tokens).max(0),
                Some(cost + delta.cost)
                    .filter(|c| c.is_finite())
                    .unwrap_or(cost),
                latency.as_ref().map(encode_sketch),
                scores,
            ])
        })
        .map(drop)
        .map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_sketch_merges_with_a_new_one() {
        let mut first = new_sketch();
        for ms in 1..=100 {
            first.add(f64::from(ms));
        }
        let mut stored = decode_sketch(&encode_sketch(&first)).expect("decodes");
        let mut second = new_sketch();
        second.add(1000.0);
        stored.merge(&second).expect("same configuration");
        assert_eq!(stored.count(), 101);
        let p50 = stored.quantile(0.5).expect("in range").expect("not empty");
        assert!((p50 - 51.0).abs() <= 1.0, "p50 {p50}");
        assert_eq!(stored.max(), Some(1000.0));
    }

    #[test]
    fn each_value_has_one_place_however_it_is_found() {
        let mut deltas = BucketDeltas::default();
        let names: Vec<String> = (0..20).map(|i| format!("name-{i}")).collect();
        let first: Vec<u32> = names.iter().map(|n| deltas.place(n)).collect();
        for round in 0..3 {
            for (name, place) in names.iter().zip(&first).rev() {
                assert_eq!(deltas.place(name), *place, "round {round}: {name}");
            }
        }
        assert_eq!(deltas.values.len(), 20);
        assert_eq!(deltas.place(""), 20, "the empty value is a value too");
    }

    #[test]
    fn a_value_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_VALUE_CHARS + 5);
        assert_eq!(cut(&long).chars().count(), MAX_VALUE_CHARS);
        assert_eq!(cut("gpt-4o"), "gpt-4o");
    }
}
