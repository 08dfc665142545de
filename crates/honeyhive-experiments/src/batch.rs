//! Batch evaluation of existing traffic: select events on the server with a
//! HoneyHive filter (`GET /events`), score them with honeyhive-evals evaluators, and
//! write the scores back onto the events as `metrics` (`PUT /events`).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Map, Value, json};

use honeyhive_model::{EventType, EventUpdate};

use honeyhive_tracer::config::Connection;

use super::client::RestClient;
use super::evaluator::{error_text, eval_result_value, flatten_result};
use crate::error::{ConfigError, EventsError, RequestError};

/// Events fetched per `GET /events` page.
const PAGE_SIZE: usize = 500;

/// Which events to score: HoneyHive filters (`{field, operator, value, type}`) and
/// a start-time range, as `GET /events` takes them.
///
/// ```
/// use honeyhive_experiments::{EventFilter, EventType};
/// let filter = EventFilter::new()
///     .event_name("answer_question")
///     .event_type(EventType::Chain)
///     .metadata("env", "prod")
///     .since("2026-01-01T00:00:00Z")
///     .max_events(1000);
/// assert_eq!(filter.filters().len(), 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventFilter {
    filters: Vec<Value>,
    since: Option<Value>,
    until: Option<Value>,
    max_events: Option<usize>,
}

impl EventFilter {
    /// Every event (narrow it with the methods below).
    pub fn new() -> EventFilter {
        EventFilter::default()
    }

    /// Adds a raw HoneyHive filter, e.g. `("metrics.score", "greater than", json!(0.5))`.
    pub fn filter(
        mut self,
        field: impl Into<String>,
        operator: impl Into<String>,
        value: impl Into<Value>,
    ) -> Self {
        let value = value.into();
        let kind = match &value {
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            _ => "string",
        };
        self.filters.push(json!({
            "field": field.into(),
            "operator": operator.into(),
            "value": value,
            "type": kind,
        }));
        self
    }

    /// Only events with this name.
    pub fn event_name(self, name: impl Into<String>) -> Self {
        self.filter("event_name", "is", name.into())
    }

    /// Only events of this type.
    pub fn event_type(self, event_type: EventType) -> Self {
        self.filter("event_type", "is", event_type.as_str())
    }

    /// Only events whose `metadata.<key>` equals `value`.
    pub fn metadata(self, key: &str, value: impl Into<Value>) -> Self {
        self.filter(format!("metadata.{key}"), "is", value)
    }

    /// Only events starting at or after this time (ISO 8601 or epoch ms).
    pub fn since(mut self, at: impl Into<Value>) -> Self {
        self.since = Some(at.into());
        self
    }

    /// Only events starting at or before this time (ISO 8601 or epoch ms).
    pub fn until(mut self, at: impl Into<Value>) -> Self {
        self.until = Some(at.into());
        self
    }

    /// Scores at most this many events (default: all that match).
    pub fn max_events(mut self, max: usize) -> Self {
        self.max_events = Some(max);
        self
    }

    /// The filters as sent.
    pub fn filters(&self) -> &[Value] {
        &self.filters
    }

    fn date_range(&self) -> Option<String> {
        if self.since.is_none() && self.until.is_none() {
            return None;
        }
        let mut range = Map::new();
        if let Some(since) = &self.since {
            range.insert("$gte".into(), since.clone());
        }
        if let Some(until) = &self.until {
            range.insert("$lte".into(), until.clone());
        }
        Some(Value::Object(range).to_string())
    }
}

/// One scored event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventScore {
    /// The event.
    pub event_id: String,
    /// Its session.
    pub session_id: Option<String>,
    /// Its name.
    pub event_name: Option<String>,
    /// The metrics written (flattened like experiment metrics).
    pub metrics: Map<String, Value>,
    /// Evaluators that failed on this event, with their errors.
    pub evaluator_errors: BTreeMap<String, String>,
    /// Whether every evaluator with pass criteria passed.
    pub passed: bool,
    /// The write-back error, if the `PUT /events` failed.
    pub write_error: Option<String>,
}

/// The outcome of [`EvaluateEventsBuilder::run`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventsEvaluation {
    /// Every selected event, in server order.
    pub events: Vec<EventScore>,
    /// Whether scores were written back (false for a dry run).
    pub written: bool,
}

impl EventsEvaluation {
    /// Events whose scores were written (all of them but failed writes).
    pub fn written_count(&self) -> usize {
        if !self.written {
            return 0;
        }
        self.events
            .iter()
            .filter(|e| e.write_error.is_none() && !e.metrics.is_empty())
            .count()
    }

    /// Mean of a numeric metric over the events that have it.
    pub fn mean(&self, metric: &str) -> Option<f64> {
        let values: Vec<f64> = self
            .events
            .iter()
            .filter_map(|e| e.metrics.get(metric).and_then(metric_number))
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }
}

fn metric_number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        other => other.as_f64(),
    }
}

/// Configures a batch evaluation; made by [`evaluate_events`].
#[must_use]
pub struct EvaluateEventsBuilder {
    filter: EventFilter,
    evaluators: Vec<Box<dyn honeyhive_evals::Evaluator>>,
    connection: Option<Connection>,
    concurrency: usize,
    dry_run: bool,
}

impl std::fmt::Debug for EvaluateEventsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluateEventsBuilder")
            .field("filter", &self.filter)
            .field(
                "evaluators",
                &self.evaluators.iter().map(|e| e.name()).collect::<Vec<_>>(),
            )
            .field("concurrency", &self.concurrency)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// Scores events already on the server and writes the scores back as metrics.
///
/// Each event is scored with its `outputs` as the output, its `inputs`, the
/// `feedback.ground_truth` as ground truth, and the event itself as the traced
/// event (so latency/token/cost budgets work). Scores go onto the event with
/// `PUT /events {event_id, metrics}` under the same names an experiment would use;
/// a judge's LLM call is recorded as a `model` event under the scored event.
///
/// ```no_run
/// use honeyhive_experiments::{evaluate_events, EventFilter, EventType};
/// use honeyhive_evals::metrics::JsonValid;
///
/// let result = evaluate_events(EventFilter::new().event_type(EventType::Model).since("2026-01-01T00:00:00Z"))
///     .evaluator(JsonValid::new())
///     .run()?;
/// println!("scored {} events, json_valid = {:?}", result.events.len(), result.mean("json_valid"));
/// # Ok::<(), honeyhive_experiments::EventsError>(())
/// ```
pub fn evaluate_events(filter: EventFilter) -> EvaluateEventsBuilder {
    EvaluateEventsBuilder {
        filter,
        evaluators: Vec::new(),
        connection: None,
        concurrency: 4,
        dry_run: false,
    }
}

impl EvaluateEventsBuilder {
    /// Adds an evaluator (a concrete one, `Box<dyn Evaluator>` or `Arc<dyn Evaluator>`).
    pub fn evaluator(mut self, evaluator: impl honeyhive_evals::Evaluator + 'static) -> Self {
        self.evaluators.push(Box::new(evaluator));
        self
    }

    /// The server and key to call (default: [`Connection::from_env`]).
    pub fn connection(mut self, connection: Connection) -> Self {
        self.connection = Some(connection);
        self
    }

    /// Events scored at once (default 4; judges are I/O bound).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Scores without writing anything back.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Selects, scores and writes back. Fails as a whole only when the events
    /// cannot be read; failed evaluators and writes are reported per event.
    pub fn run(self) -> Result<EventsEvaluation, EventsError> {
        if self.evaluators.is_empty() {
            return Err(ConfigError::new("no evaluators given").into());
        }
        let connection = match &self.connection {
            Some(connection) => connection.clone(),
            None => Connection::from_env().map_err(ConfigError::from)?,
        };
        let client = RestClient::new(&connection, self.concurrency);
        let events = self.fetch(&client)?;
        let next = AtomicUsize::new(0);
        let slots: Mutex<Vec<Option<EventScore>>> = Mutex::new(vec![None; events.len()]);
        let workers = self.concurrency.min(events.len().max(1));
        std::thread::scope(|scope| -> Result<(), EventsError> {
            for index in 0..workers {
                let work = || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(event) = events.get(i) else { break };
                        let score = self.score_event(&client, event);
                        slots.lock()[i] = Some(score);
                    }
                };
                std::thread::Builder::new()
                    .name(format!("hh-eval-events-{index}"))
                    .spawn_scoped(scope, work)
                    .map_err(EventsError::Worker)?;
            }
            Ok(())
        })?;
        Ok(EventsEvaluation {
            events: slots.into_inner().into_iter().flatten().collect(),
            written: !self.dry_run,
        })
    }

    fn fetch(&self, client: &RestClient) -> Result<Vec<Value>, RequestError> {
        let filters = Value::Array(self.filter.filters.clone()).to_string();
        let date_range = self.filter.date_range();
        let max = self.filter.max_events.unwrap_or(usize::MAX);
        let mut events = Vec::new();
        let mut page = 1usize;
        while events.len() < max {
            let limit = PAGE_SIZE.min(max - events.len()).to_string();
            let page_text = page.to_string();
            let mut query = vec![
                ("filters", filters.as_str()),
                ("limit", limit.as_str()),
                ("page", page_text.as_str()),
            ];
            if let Some(range) = &date_range {
                query.push(("dateRange", range.as_str()));
            }
            let body = client.get("/events", &query)?;
            let batch = body
                .get("events")
                .and_then(Value::as_array)
                .ok_or_else(|| RequestError::bad_response("/events", "no events array"))?;
            let fetched = batch.len();
            events.extend(batch.iter().cloned());
            if fetched < PAGE_SIZE.min(max) || fetched == 0 {
                break;
            }
            page += 1;
        }
        events.truncate(max);
        Ok(events)
    }

    fn score_event(&self, client: &RestClient, event: &Value) -> EventScore {
        let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_string);
        let event_id = text("event_id").unwrap_or_default();
        let session_id = text("session_id");
        let null = Value::Null;
        let outputs = event.get("outputs").unwrap_or(&null);
        let inputs = event.get("inputs").unwrap_or(&null);
        let ground_truth = event
            .pointer("/feedback/ground_truth")
            .filter(|g| !g.is_null());
        let input = honeyhive_evals::EvalInput::new(outputs, inputs)
            .with_ground_truth(ground_truth)
            .with_event(Some(event));
        let mut metrics = Map::new();
        let mut evaluator_errors = BTreeMap::new();
        let mut passed = true;
        let mut judge_calls = Vec::new();
        for evaluator in &self.evaluators {
            let name = evaluator.name();
            match catch_unwind(AssertUnwindSafe(|| evaluator.score(&input))) {
                Ok(Ok(result)) => {
                    passed &= result.passed != Some(false);
                    flatten_result(name, &eval_result_value(&result), &mut metrics);
                    if let Some(call) = &result.judge_call {
                        judge_calls.push(call.to_model_event(name));
                    }
                }
                Ok(Err(e)) => {
                    evaluator_errors.insert(name.to_string(), error_text(e));
                }
                Err(_) => {
                    evaluator_errors.insert(name.to_string(), "the evaluator panicked".into());
                }
            }
        }
        let mut write_error = None;
        if !self.dry_run && !event_id.is_empty() && !metrics.is_empty() {
            let update = EventUpdate {
                event_id: event_id.clone(),
                metrics: metrics.clone(),
                ..EventUpdate::default()
            };
            if let Err(e) = client.put("/events", &update) {
                write_error = Some(e.to_string());
            }
            for mut call in judge_calls {
                if let Some(object) = call.as_object_mut() {
                    object.insert("parent_id".into(), json!(event_id));
                    if let Some(session) = &session_id {
                        object.insert("session_id".into(), json!(session));
                    }
                }
                if let Err(e) = client.post("/events", &json!({"event": call})) {
                    write_error.get_or_insert(e.to_string());
                }
            }
        }
        EventScore {
            event_id,
            session_id,
            event_name: text("event_name"),
            metrics,
            evaluator_errors,
            passed,
            write_error,
        }
    }
}
