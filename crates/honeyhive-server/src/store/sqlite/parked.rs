//! How a parked enrichment (`PUT /events` for an event not stored yet) is
//! kept in `pending_enrichments.body`: its fields as one JSON object, each
//! within the depth bound.

use honeyhive_model::EventUpdate;
use honeyhive_model::limits::{MAX_JSON_DEPTH, bounded_object_text};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::rows::corrupt;
use crate::store::StoreResult;

/// A parked enrichment as [`enrichment_to_text`] stores it in
/// `pending_enrichments.body`.
#[derive(Deserialize)]
struct ParkedEnrichment {
    config: Map<String, Value>,
    inputs: Map<String, Value>,
    outputs: Map<String, Value>,
    metadata: Map<String, Value>,
    metrics: Map<String, Value>,
    feedback: Map<String, Value>,
    user_properties: Map<String, Value>,
    error: Option<String>,
    duration: Option<f64>,
    end_time: Option<f64>,
}

/// The parked body, kept within [`MAX_JSON_DEPTH`] from its root: each
/// field one level less, written without copying the fields.
pub(super) fn enrichment_to_text(e: &EventUpdate) -> String {
    let fields = [
        ("config", &e.config),
        ("inputs", &e.inputs),
        ("outputs", &e.outputs),
        ("metadata", &e.metadata),
        ("metrics", &e.metrics),
        ("feedback", &e.feedback),
        ("user_properties", &e.user_properties),
    ];
    let mut body = String::from("{");
    for (key, map) in fields {
        let text = bounded_object_text(map, MAX_JSON_DEPTH - 1);
        body.push_str(&format!("\"{key}\":{text},"));
    }
    let error = serde_json::json!(e.error);
    let (duration, end_time) = (serde_json::json!(e.duration), serde_json::json!(e.end_time));
    body.push_str(&format!(
        "\"error\":{error},\"duration\":{duration},\"end_time\":{end_time}}}"
    ));
    body
}

pub(super) fn enrichment_from_text(event_id: &str, text: &str) -> StoreResult<EventUpdate> {
    let parked: ParkedEnrichment = serde_json::from_str(text).map_err(|e| {
        corrupt(
            format!("pending enrichment of event {event_id}"),
            "body",
            e.to_string(),
        )
    })?;
    Ok(EventUpdate {
        event_id: event_id.to_string(),
        config: parked.config,
        inputs: parked.inputs,
        outputs: parked.outputs,
        metadata: parked.metadata,
        metrics: parked.metrics,
        feedback: parked.feedback,
        user_properties: parked.user_properties,
        error: parked.error,
        duration: parked.duration,
        end_time: parked.end_time,
    })
}
