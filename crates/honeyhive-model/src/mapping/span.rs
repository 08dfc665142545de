//! One span to one event: collect attributes in a single pass, then resolve facts.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};
use serde_json::{Map, Value};

use super::collect::Collected;
use super::keys as k;
use super::messages::{normalize_list, normalize_message, normalize_tool_calls};
use super::tree::Tree;
use super::values::{
    any_to_json, as_f64, as_text, as_u64, insert_missing, is_present, lenient_json, merge_payload,
};
use crate::attributes::Namespace;
use crate::{Event, EventType, price};

/// What one span contributes to a batch, besides its event.
pub(crate) struct MappedSpan {
    pub(crate) event: Event,
    pub(crate) session_name: Option<String>,
    pub(crate) project: Option<String>,
    /// The session id was derived from the trace id (no convention named one).
    pub(crate) session_from_trace: bool,
}

/// Maps one span (whose ids were already validated) to its event.
pub(crate) fn map_span(
    span: &Span,
    resource_attributes: &[KeyValue],
    event_id: String,
    parent_span_event_id: Option<String>,
    trace_session_id: impl FnOnce() -> String,
) -> MappedSpan {
    let mut c = Collected::default();
    for kv in &span.attributes {
        c.add(
            &kv.key,
            kv.value.as_ref().map(any_to_json).unwrap_or(Value::Null),
        );
    }
    for event in &span.events {
        if k::CONTENT_EVENTS.contains(&event.name.as_str()) {
            for kv in &event.attributes {
                c.add(
                    &kv.key,
                    kv.value.as_ref().map(any_to_json).unwrap_or(Value::Null),
                );
            }
        }
    }
    let resource_text = |keys: &[&str]| -> Option<String> {
        keys.iter().find_map(|key| {
            resource_attributes
                .iter()
                .find(|kv| kv.key == *key)
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| as_text(&any_to_json(v)))
        })
    };

    let explicit_session = c
        .text(k::SESSION_ID)
        .or_else(|| resource_text(k::SESSION_ID));
    let session_from_trace = explicit_session.is_none();
    let session_id = explicit_session.unwrap_or_else(trace_session_id);
    let project = c.text(k::PROJECT).or_else(|| resource_text(k::PROJECT));
    let source = c
        .text(k::SOURCE)
        .or_else(|| resource_text(k::SOURCE))
        .or_else(|| resource_text(k::RESOURCE_SOURCE))
        .unwrap_or_default();
    let session_name = c.text(k::SESSION_NAME);

    let start_time = nanos_to_ms(span.start_time_unix_nano);
    let end_time = nanos_to_ms(span.end_time_unix_nano).max(start_time);
    let duration = c
        .one(k::DURATION_MS)
        .and_then(as_f64)
        .filter(|d| *d >= 0.0)
        // From the nanos: at epoch scale an f64 of milliseconds keeps only ~0.2 µs.
        .unwrap_or_else(|| {
            nanos_to_ms(
                span.end_time_unix_nano
                    .saturating_sub(span.start_time_unix_nano),
            )
        });

    let mut config = c.take_namespace(Namespace::Config);
    let mut inputs = c.take_namespace(Namespace::Inputs);
    let mut outputs = c.take_namespace(Namespace::Outputs);
    let mut metadata = c.take_namespace(Namespace::Metadata);
    let mut metrics = c.take_namespace(Namespace::Metrics);
    let feedback = c.take_namespace(Namespace::Feedback);
    let mut user_properties = c.take_namespace(Namespace::UserProperties);

    fill_config(&mut c, &mut config, &mut metadata);
    fill_inputs(&mut c, &mut inputs);
    fill_outputs(&mut c, &mut outputs);
    fill_metadata(&mut c, &mut metadata);
    fill_ttft(&c, span, &mut metrics);
    if let Some(user_id) = c.text(k::USER_ID) {
        insert_missing(&mut user_properties, "user_id", Value::String(user_id));
    }
    fill_cost(&config, &mut metadata);

    let event_type = event_type(&c, &config);
    let event_name = c
        .text(&[k::EVENT_NAME])
        .or_else(|| (!span.name.is_empty()).then(|| span.name.clone()))
        .unwrap_or_else(|| "unknown".to_owned());
    let error = error_message(&c, span);

    let mut event = Event {
        event_id,
        project_id: String::new(),
        tenant: String::new(),
        parent_id: Some(parent_span_event_id.unwrap_or_else(|| session_id.clone())),
        session_id,
        children_ids: Vec::new(),
        event_type,
        event_name,
        source,
        config,
        inputs,
        outputs,
        error,
        start_time,
        end_time,
        duration,
        metadata,
        metrics,
        feedback,
        user_properties,
    };
    // Attribute values that are JSON text nest below the (capped) key path.
    event.bound_json_depth();
    MappedSpan {
        event,
        session_name,
        project,
        session_from_trace,
    }
}

/// Nanoseconds to milliseconds, without losing the sub-millisecond part to rounding.
pub(crate) fn nanos_to_ms(nanos: u64) -> f64 {
    (nanos / 1_000_000) as f64 + (nanos % 1_000_000) as f64 / 1_000_000.0
}

fn fill_config(
    c: &mut Collected,
    config: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
) {
    let request_model = c.text(k::REQUEST_MODEL);
    let response_model = c.text(k::RESPONSE_MODEL);
    if let (Some(request), Some(response)) = (&request_model, &response_model)
        && request != response
    {
        insert_missing(metadata, "response_model", Value::String(response.clone()));
    }
    if let Some(model) = request_model.or(response_model) {
        insert_missing(config, "model", Value::String(model));
    }
    if let Some(provider) = c.text(k::PROVIDER) {
        insert_missing(config, "provider", Value::String(provider));
    }
    if let Some(Value::Object(params)) = c.one(k::INVOCATION_PARAMETERS).cloned().map(lenient_json)
    {
        for (key, value) in params {
            insert_missing(config, &key, value);
        }
    }
    for (key, value) in std::mem::take(&mut c.config_extra).into_map() {
        insert_missing(config, &key, value);
    }
    let tools = c
        .one(k::TOOL_DEFINITIONS)
        .cloned()
        .map(lenient_json)
        .or_else(|| tree_value(&mut c.oi_tools).map(openinference_tools))
        .or_else(|| tree_value(&mut c.llm_functions));
    if let Some(tools) = tools {
        insert_missing(config, "tools", tools);
    }
    let tool_facts: [(&str, &[&str]); 3] = [
        ("tool_name", k::TOOL_NAME),
        ("tool_description", k::TOOL_DESCRIPTION),
        ("tool_parameters", k::TOOL_PARAMETERS),
    ];
    for (name, keys) in tool_facts {
        if let Some(value) = c.get(keys) {
            insert_missing(config, name, lenient_json(value.clone()));
        }
    }
}

/// OpenInference `llm.tools.N.tool.json_schema` (a JSON string) to a list of schemas.
fn openinference_tools(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(mut obj) => match obj.remove("tool") {
                        Some(Value::Object(mut tool)) => tool
                            .remove("json_schema")
                            .map(lenient_json)
                            .unwrap_or(Value::Object(tool)),
                        Some(other) => other,
                        None => Value::Object(obj),
                    },
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

fn tree_value(tree: &mut Tree) -> Option<Value> {
    (!tree.is_empty()).then(|| std::mem::take(tree).into_value())
}

fn fill_inputs(c: &mut Collected, inputs: &mut Map<String, Value>) {
    let chat_history = chat_history(c);
    let has_chat = !chat_history.is_empty();
    if has_chat {
        insert_missing(inputs, "chat_history", Value::Array(chat_history));
    }
    if let Some(arguments) = c.get(k::TOOL_ARGUMENTS) {
        merge_payload(inputs, "arguments", arguments.clone());
    }
    // With chat messages present, `input.value` is the raw request repeating them.
    if !has_chat && let Some(input) = c.get(k::INPUT_VALUE) {
        merge_payload(inputs, "input", input.clone());
    }
}

fn chat_history(c: &mut Collected) -> Vec<Value> {
    if let Some(messages) = c.one(k::INPUT_MESSAGES).cloned() {
        let mut history = system_messages(c.one(k::SYSTEM_INSTRUCTIONS).cloned());
        history.extend(normalize_list(messages));
        if !history.is_empty() {
            return history;
        }
    }
    for tree in [&mut c.prompts, &mut c.oi_input] {
        if let Some(value) = tree_value(tree) {
            let history = normalize_list(value);
            if !history.is_empty() {
                return history;
            }
        }
    }
    if let Some(messages) = c.one(k::VERCEL_PROMPT_MESSAGES).cloned() {
        let history = normalize_list(messages);
        if !history.is_empty() {
            return history;
        }
    }
    if let Some(prompt) = c.one(k::VERCEL_PROMPT).cloned() {
        let history = vercel_prompt(prompt);
        if !history.is_empty() {
            return history;
        }
    }
    c.one(k::LEGACY_PROMPT)
        .cloned()
        .map(normalize_list)
        .unwrap_or_default()
}

/// `gen_ai.system_instructions`: a string or a list of parts, as one system message.
fn system_messages(instructions: Option<Value>) -> Vec<Value> {
    let Some(instructions) = instructions else {
        return Vec::new();
    };
    let message = match lenient_json(instructions) {
        Value::Array(parts) => {
            normalize_message(serde_json::json!({"role": "system", "parts": parts}))
        }
        other => normalize_message(serde_json::json!({"role": "system", "content": other})),
    };
    message.into_iter().collect()
}

/// Vercel AI's `ai.prompt`: `{system?, prompt?, messages?}` as a JSON string.
fn vercel_prompt(prompt: Value) -> Vec<Value> {
    let Value::Object(mut prompt) = lenient_json(prompt) else {
        return Vec::new();
    };
    let mut history = Vec::new();
    if let Some(system) = prompt.remove("system").filter(is_present) {
        history.extend(normalize_message(
            serde_json::json!({"role": "system", "content": system}),
        ));
    }
    if let Some(messages) = prompt.remove("messages") {
        history.extend(normalize_list(messages));
    } else if let Some(text) = prompt.remove("prompt").filter(is_present) {
        history.extend(normalize_message(
            serde_json::json!({"role": "user", "content": text}),
        ));
    }
    history
}

fn fill_outputs(c: &mut Collected, outputs: &mut Map<String, Value>) {
    let choices = completion_choices(c);
    let has_completion = !choices.is_empty();
    if let Some(Value::Object(first)) = choices.first() {
        for (key, value) in first {
            insert_missing(outputs, key, value.clone());
        }
    }
    if choices.len() > 1 {
        insert_missing(outputs, "choices", Value::Array(choices));
    }
    if let Some(result) = c.get(k::TOOL_RESULT) {
        merge_payload(outputs, "result", result.clone());
    }
    if !has_completion && let Some(output) = c.get(k::OUTPUT_VALUE) {
        merge_payload(outputs, "output", output.clone());
    }
}

fn completion_choices(c: &mut Collected) -> Vec<Value> {
    if let Some(messages) = c.one(k::OUTPUT_MESSAGES).cloned() {
        let choices = normalize_list(messages);
        if !choices.is_empty() {
            return choices;
        }
    }
    for tree in [&mut c.completions, &mut c.oi_output] {
        if let Some(value) = tree_value(tree) {
            let choices = normalize_list(value);
            if !choices.is_empty() {
                return choices;
            }
        }
    }
    let text = c
        .one(k::VERCEL_RESPONSE_TEXT)
        .or_else(|| c.one(k::VERCEL_RESPONSE_OBJECT));
    let tool_calls = c
        .one(k::VERCEL_RESPONSE_TOOL_CALLS)
        .cloned()
        .map(normalize_tool_calls);
    if text.is_some() || tool_calls.as_ref().is_some_and(|calls| !calls.is_empty()) {
        let mut message = Map::new();
        message.insert("role".into(), Value::String("assistant".into()));
        if let Some(text) = text {
            message.insert("content".into(), lenient_json(text.clone()));
        }
        if let Some(calls) = tool_calls.filter(|calls| !calls.is_empty()) {
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        return vec![Value::Object(message)];
    }
    c.one(k::LEGACY_COMPLETION)
        .cloned()
        .map(normalize_list)
        .unwrap_or_default()
}

fn fill_metadata(c: &mut Collected, metadata: &mut Map<String, Value>) {
    let token_facts: [(&str, &[&str]); 6] = [
        ("prompt_tokens", k::PROMPT_TOKENS),
        ("completion_tokens", k::COMPLETION_TOKENS),
        ("total_tokens", k::TOTAL_TOKENS),
        ("cache_read_tokens", k::CACHE_READ_TOKENS),
        ("cache_write_tokens", k::CACHE_WRITE_TOKENS),
        ("reasoning_tokens", k::REASONING_TOKENS),
    ];
    for (name, keys) in token_facts {
        if let Some(count) = c.get(keys).and_then(as_u64) {
            insert_missing(metadata, name, count.into());
        }
    }
    let prompt = metadata.get("prompt_tokens").and_then(as_u64);
    let completion = metadata.get("completion_tokens").and_then(as_u64);
    if prompt.is_some() || completion.is_some() {
        let total = prompt.unwrap_or(0).saturating_add(completion.unwrap_or(0));
        insert_missing(metadata, "total_tokens", total.into());
    }
    if let Some(cost) = c.get(k::COST).and_then(as_f64) {
        insert_missing(metadata, "cost", cost.into());
    }
    if let Some(reason) = c.get(k::FINISH_REASON) {
        let reason = match lenient_json(reason.clone()) {
            Value::Array(mut reasons) if reasons.len() == 1 => reasons.remove(0),
            other => other,
        };
        insert_missing(metadata, "finish_reason", reason);
    }
    let id_facts: [(&str, &[&str]); 2] = [
        ("response_id", k::RESPONSE_ID),
        ("tool_call_id", k::TOOL_CALL_ID),
    ];
    for (name, keys) in id_facts {
        if let Some(id) = c.text(keys) {
            insert_missing(metadata, name, Value::String(id));
        }
    }
    if let Some(extra) = c.one(k::OPENINFERENCE_METADATA).cloned() {
        merge_payload(metadata, k::OPENINFERENCE_METADATA, extra);
    }
    if let Some(tags) = c.one(k::OPENINFERENCE_TAGS) {
        insert_missing(metadata, "tags", lenient_json(tags.clone()));
    }
    for (key, value) in std::mem::take(&mut c.metadata_extra).into_map() {
        insert_missing(metadata, &key, value);
    }
    for (key, value) in std::mem::take(&mut c.unknown) {
        insert_missing(metadata, &key, value);
    }
}

fn fill_ttft(c: &Collected, span: &Span, metrics: &mut Map<String, Value>) {
    let from_attributes = c
        .get(k::TTFT_MS)
        .and_then(as_f64)
        .or_else(|| c.get(k::TTFT_SECONDS).and_then(as_f64).map(|s| s * 1000.0));
    let from_event = || {
        span.events
            .iter()
            .find(|e| k::FIRST_TOKEN_EVENTS.contains(&e.name.as_str()))
            .filter(|e| {
                e.time_unix_nano >= span.start_time_unix_nano && span.start_time_unix_nano > 0
            })
            .map(|e| nanos_to_ms(e.time_unix_nano - span.start_time_unix_nano))
    };
    if let Some(ttft) = from_attributes.or_else(from_event) {
        insert_missing(metrics, "ttft_ms", ttft.into());
    }
}

/// Prices the call from the token counts when the span carried no cost.
fn fill_cost(config: &Map<String, Value>, metadata: &mut Map<String, Value>) {
    if metadata.contains_key("cost") {
        return;
    }
    let Some(model) = config.get("model").and_then(Value::as_str) else {
        return;
    };
    let count = |key: &str| metadata.get(key).and_then(as_u64);
    let (prompt, completion) = (count("prompt_tokens"), count("completion_tokens"));
    if prompt.is_none() && completion.is_none() {
        return;
    }
    let cached = count("cache_read_tokens").unwrap_or(0);
    if let Some(cost) = price::cost_usd(model, prompt.unwrap_or(0), completion.unwrap_or(0), cached)
    {
        metadata.insert("cost".into(), cost.into());
    }
}

/// The event type, by the precedence in DESIGN.md ("first non-empty wins").
fn event_type(c: &Collected, config: &Map<String, Value>) -> EventType {
    let lower = |key: &str| c.text(&[key]).map(|s| s.trim().to_ascii_lowercase());
    if let Some(kind) = lower(k::EVENT_TYPE) {
        match kind.as_str() {
            "model" | "llm" => return EventType::Model,
            // Only the platform creates session events; a span claiming to be one
            // would break the tree (its children point at its span-derived id).
            "chain" | "session" => return EventType::Chain,
            "tool" => return EventType::Tool,
            _ => {}
        }
    }
    if let Some(kind) = lower(k::OPENINFERENCE_KIND) {
        match kind.as_str() {
            "llm" => return EventType::Model,
            "chain" | "agent" => return EventType::Chain,
            "tool" | "retriever" | "embedding" | "reranker" | "guardrail" | "evaluator" => {
                return EventType::Tool;
            }
            _ => {}
        }
    }
    if let Some(operation) = lower(k::GEN_AI_OPERATION) {
        match operation.as_str() {
            "chat" | "text_completion" | "generate_content" | "embeddings" => {
                return EventType::Model;
            }
            "invoke_agent" | "create_agent" | "invoke_workflow" => return EventType::Chain,
            "execute_tool" | "retrieval" => return EventType::Tool,
            _ => {}
        }
    }
    if let Some(kind) = lower(k::TRACELOOP_KIND) {
        match kind.as_str() {
            "llm" => return EventType::Model,
            "workflow" | "agent" => return EventType::Chain,
            "task" | "tool" => return EventType::Tool,
            _ => {}
        }
    }
    if let Some(operation) = lower(k::VERCEL_OPERATION) {
        if operation == "ai.toolcall" {
            return EventType::Tool;
        }
        if [".dogenerate", ".dostream", ".doembed"]
            .iter()
            .any(|s| operation.ends_with(s))
        {
            return EventType::Model;
        }
        if operation.starts_with("ai.") {
            return EventType::Chain;
        }
    }
    if config.get("model").is_some_and(is_present) {
        return EventType::Model;
    }
    EventType::Tool
}

/// `honeyhive_error` (prefixed with its type), else the status message of an
/// `ERROR` status, else its exception event, else a generic message.
fn error_message(c: &Collected, span: &Span) -> Option<String> {
    if let Some(message) = c.text(&[k::ERROR]) {
        return Some(match c.text(&[k::ERROR_TYPE]) {
            Some(kind) if !message.starts_with(&kind) => format!("{kind}: {message}"),
            _ => message,
        });
    }
    let status = span.status.as_ref()?;
    if status.code != StatusCode::Error as i32 {
        return None;
    }
    if !status.message.trim().is_empty() {
        return Some(status.message.clone());
    }
    let exception = span.events.iter().find(|e| e.name == "exception").map(|e| {
        let attribute = |key: &str| {
            e.attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| as_text(&any_to_json(v)))
        };
        match (attribute("exception.type"), attribute("exception.message")) {
            (Some(kind), Some(message)) => format!("{kind}: {message}"),
            (Some(only), None) | (None, Some(only)) => only,
            (None, None) => "error".to_owned(),
        }
    });
    Some(exception.unwrap_or_else(|| "error".to_owned()))
}
