//! Normalizing chat messages of every convention to one shape.
//!
//! Every message becomes `{role, content, tool_calls?, tool_call_id?, name?,
//! finish_reason?}` and every tool call `{id?, name, arguments}`, whichever of
//! OpenAI-style, OTel `parts`, OpenInference `message.contents` /
//! `tool_call.function`, OpenLLMetry or Vercel AI shapes it arrived in.

use serde_json::{Map, Value};

use super::values::{is_present, lenient_json};

/// Normalizes a list of messages (a JSON array, a JSON string of one, or an
/// object keyed by index as left by sparse flattened keys).
pub(crate) fn normalize_list(value: Value) -> Vec<Value> {
    match lenient_json(value) {
        Value::Array(items) => items.into_iter().filter_map(normalize_message).collect(),
        Value::Object(obj) if obj.keys().all(|k| k.parse::<usize>().is_ok()) => {
            let mut indexed: Vec<(usize, Value)> = obj
                .into_iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
                .collect();
            indexed.sort_by_key(|(i, _)| *i);
            indexed
                .into_iter()
                .filter_map(|(_, v)| normalize_message(v))
                .collect()
        }
        Value::Object(obj) => normalize_message(Value::Object(obj)).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Normalizes one message; `None` if it carries nothing.
pub(crate) fn normalize_message(value: Value) -> Option<Value> {
    let Value::Object(mut obj) = lenient_json(value) else {
        return None;
    };
    // OpenInference nests everything under `message`.
    if let Some(Value::Object(inner)) = obj.remove("message") {
        obj = inner;
    }
    let mut out = Map::new();
    if let Some(role) = obj.remove("role").filter(is_present) {
        out.insert("role".into(), role);
    }
    let mut tool_calls: Vec<Value> = Vec::new();
    let mut content = obj.remove("content").filter(is_present);
    if content.is_none() {
        content = obj.remove("contents").filter(is_present);
    }
    if let Some(Value::Array(parts)) = obj.remove("parts") {
        let (text, calls, response_id, response) = split_parts(parts);
        tool_calls.extend(calls);
        if content.is_none() {
            content = text.or(response);
        }
        if let Some(id) = response_id {
            out.insert("tool_call_id".into(), id);
        }
    }
    if let Some(content) = content {
        out.insert("content".into(), flatten_content(content));
    }
    for key in ["tool_calls", "toolCalls"] {
        if let Some(calls) = obj.remove(key) {
            tool_calls.extend(normalize_tool_calls(calls));
        }
    }
    if let Some(call) = obj.remove("function_call").filter(is_present) {
        tool_calls.extend(normalize_tool_call(call));
    }
    if !tool_calls.is_empty() {
        out.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    for key in ["tool_call_id", "name", "finish_reason"] {
        if let Some(value) = obj.remove(key).filter(is_present) {
            out.entry(key).or_insert(value);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// OTel `parts`: text parts joined, tool calls, and a tool-call response.
fn split_parts(parts: Vec<Value>) -> (Option<Value>, Vec<Value>, Option<Value>, Option<Value>) {
    let mut texts: Vec<String> = Vec::new();
    let mut calls = Vec::new();
    let mut response_id = None;
    let mut response = None;
    for part in parts {
        let Value::Object(mut part) = part else {
            continue;
        };
        match part.get("type").and_then(Value::as_str) {
            Some("tool_call") => calls.extend(normalize_tool_call(Value::Object(part))),
            Some("tool_call_response") => {
                response_id = part.remove("id").filter(is_present);
                response = part.remove("response").or_else(|| part.remove("result"));
            }
            _ => {
                if let Some(Value::String(text)) =
                    part.remove("content").or_else(|| part.remove("text"))
                {
                    texts.push(text);
                }
            }
        }
    }
    let text = (!texts.is_empty()).then(|| Value::String(texts.join("\n")));
    (text, calls, response_id, response)
}

/// Content given as a list of text parts becomes one string; other lists stay.
fn flatten_content(content: Value) -> Value {
    let Value::Array(parts) = content else {
        return content;
    };
    let texts: Option<Vec<String>> = parts.iter().map(part_text).collect();
    match texts {
        Some(texts) if !texts.is_empty() => Value::String(texts.join("\n")),
        _ => Value::Array(parts),
    }
}

/// The text of a text part (`{type: text, text}`, OpenInference `message_content`), or `None`.
fn part_text(part: &Value) -> Option<String> {
    let part = part.get("message_content").unwrap_or(part);
    match part {
        Value::String(s) => Some(s.clone()),
        Value::Object(obj) => {
            let kind = obj.get("type").and_then(Value::as_str).unwrap_or("text");
            if kind != "text" {
                return None;
            }
            obj.get("text")
                .or_else(|| obj.get("content"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        }
        _ => None,
    }
}

pub(crate) fn normalize_tool_calls(calls: Value) -> Vec<Value> {
    match lenient_json(calls) {
        Value::Array(items) => items.into_iter().filter_map(normalize_tool_call).collect(),
        Value::Object(obj) if obj.keys().all(|k| k.parse::<usize>().is_ok()) => obj
            .into_iter()
            .filter_map(|(_, v)| normalize_tool_call(v))
            .collect(),
        other => normalize_tool_call(other).into_iter().collect(),
    }
}

/// One tool call as `{id?, name, arguments?}`.
fn normalize_tool_call(call: Value) -> Option<Value> {
    let Value::Object(mut obj) = call else {
        return None;
    };
    if let Some(Value::Object(inner)) = obj.remove("tool_call") {
        obj = inner;
    }
    let mut function = match obj.remove("function") {
        Some(Value::Object(f)) => f,
        _ => Map::new(),
    };
    let mut take = |keys: &[&str]| -> Option<Value> {
        keys.iter().find_map(|k| {
            function
                .remove(*k)
                .filter(is_present)
                .or_else(|| obj.remove(*k).filter(is_present))
        })
    };
    let id = take(&["id", "toolCallId", "tool_call_id"]);
    let name = take(&["name", "toolName", "tool_name"]);
    let arguments = take(&["arguments", "args", "input"]);
    let mut out = Map::new();
    if let Some(id) = id {
        out.insert("id".into(), id);
    }
    out.insert("name".into(), name?);
    if let Some(arguments) = arguments {
        out.insert("arguments".into(), arguments);
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn otel_parts_become_content_and_tool_calls() {
        let messages = normalize_list(json!([
            {"role": "user", "parts": [{"type": "text", "content": "weather?"}]},
            {"role": "assistant", "parts": [
                {"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}
            ]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rainy"}]}
        ]));
        assert_eq!(
            messages,
            vec![
                json!({"role": "user", "content": "weather?"}),
                json!({"role": "assistant", "tool_calls": [
                    {"id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}
                ]}),
                json!({"role": "tool", "tool_call_id": "c1", "content": "rainy"}),
            ]
        );
    }

    #[test]
    fn openai_and_vercel_shapes_normalize_the_same() {
        let openai = normalize_message(json!({
            "role": "assistant",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
        }));
        let vercel = normalize_message(json!({
            "role": "assistant",
            "toolCalls": [{"toolCallType": "function", "toolCallId": "c1", "toolName": "f", "args": "{}"}]
        }));
        let expected = json!({"role": "assistant", "tool_calls": [{"id": "c1", "name": "f", "arguments": "{}"}]});
        assert_eq!(openai, Some(expected.clone()));
        assert_eq!(vercel, Some(expected));
    }

    #[test]
    fn text_part_lists_are_joined_and_other_lists_kept() {
        let text = normalize_message(json!({"role": "user", "content": [
            {"type": "text", "text": "a"}, {"type": "text", "text": "b"}
        ]}));
        assert_eq!(text, Some(json!({"role": "user", "content": "a\nb"})));
        let image = json!([{"type": "image_url", "image_url": {"url": "x"}}]);
        let mixed = normalize_message(json!({"role": "user", "content": image.clone()}));
        assert_eq!(mixed, Some(json!({"role": "user", "content": image})));
        assert_eq!(normalize_message(json!("just text")), None);
        assert_eq!(normalize_message(json!({})), None);
    }
}
