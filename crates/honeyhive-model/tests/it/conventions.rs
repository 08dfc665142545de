//! One test per span convention: OTel gen_ai (current and deprecated names),
//! OpenLLMetry, OpenInference, Vercel AI, and the rules that tie them together.

use crate::common;

use crate::common::{map_one, request, span};
use honeyhive_model::EventType;
use honeyhive_model::mapping::{event_id_for, map_request, session_id_for_trace};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{Status, span::Event as SpanEvent};
use serde_json::{Value, json};

fn obj(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap()
}

fn assert_close(actual: &Value, expected: f64) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {actual}"));
    assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
}

#[test]
fn otel_gen_ai_current_names() {
    let event = map_one(
        "chat gpt-4o",
        json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-2024-08-06",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.max_tokens": 100,
            "gen_ai.conversation.id": "conv-1",
            "gen_ai.system_instructions": "[{\"type\": \"text\", \"content\": \"Be brief.\"}]",
            "gen_ai.input.messages": "[{\"role\": \"user\", \"parts\": [{\"type\": \"text\", \"content\": \"Weather in Paris?\"}]}]",
            "gen_ai.output.messages": "[{\"role\": \"assistant\", \"parts\": [{\"type\": \"tool_call\", \"id\": \"call_1\", \"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}], \"finish_reason\": \"tool_call\"}]",
            "gen_ai.response.finish_reasons": ["tool_call"],
            "gen_ai.response.id": "chatcmpl-1",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 200,
            "gen_ai.usage.cache_read.input_tokens": 400,
            "http.route": "/chat"
        }),
    );
    assert_eq!(event.event_type, EventType::Model);
    assert_eq!(event.event_name, "chat gpt-4o");
    assert_eq!(event.session_id, "conv-1");
    assert_eq!(event.parent_id.as_deref(), Some("conv-1"));
    assert_eq!(
        event.config,
        obj(
            json!({"model": "gpt-4o-2024-08-06", "provider": "openai", "temperature": 0.2, "max_tokens": 100})
        )
    );
    assert_eq!(
        event.inputs["chat_history"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"}
        ])
    );
    assert_eq!(event.outputs["role"], "assistant");
    assert_eq!(
        event.outputs["tool_calls"],
        json!([{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}])
    );
    assert_eq!(event.outputs["finish_reason"], "tool_call");
    assert_eq!(event.metadata["prompt_tokens"], 1000);
    assert_eq!(event.metadata["completion_tokens"], 200);
    assert_eq!(event.metadata["total_tokens"], 1200);
    assert_eq!(event.metadata["cache_read_tokens"], 400);
    assert_eq!(event.metadata["finish_reason"], "tool_call");
    assert_eq!(event.metadata["response_id"], "chatcmpl-1");
    // gpt-4o: 600 uncached x $2.50 + 400 cached x $1.25 + 200 out x $10 per 1M.
    assert_close(
        &event.metadata["cost"],
        (600.0 * 2.5 + 400.0 * 1.25 + 200.0 * 10.0) / 1e6,
    );
    // Unknown attributes are kept under their full key.
    assert_eq!(event.metadata["http.route"], "/chat");
    assert!(
        !event.metadata.contains_key("gen_ai.usage.input_tokens"),
        "consumed keys are not copied"
    );
}

#[test]
fn otel_gen_ai_deprecated_names() {
    let event = map_one(
        "anthropic.chat",
        json!({
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-20250514",
            "gen_ai.usage.prompt_tokens": 10,
            "gen_ai.usage.completion_tokens": 5,
            "gen_ai.usage.reasoning_tokens": 2
        }),
    );
    // No operation name: a named model makes it a model event.
    assert_eq!(event.event_type, EventType::Model);
    assert_eq!(event.config["provider"], "anthropic");
    assert_eq!(event.config["model"], "claude-sonnet-4-20250514");
    assert_eq!(event.metadata["total_tokens"], 15);
    assert_eq!(event.metadata["reasoning_tokens"], 2);
    assert_close(&event.metadata["cost"], (10.0 * 3.0 + 5.0 * 15.0) / 1e6);
}

#[test]
fn otel_gen_ai_tool_and_agent_operations() {
    let tool = map_one(
        "execute_tool get_weather",
        json!({
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.arguments": "{\"city\": \"Paris\"}",
            "gen_ai.tool.call.result": "rainy"
        }),
    );
    assert_eq!(tool.event_type, EventType::Tool);
    assert_eq!(tool.config["tool_name"], "get_weather");
    assert_eq!(tool.metadata["tool_call_id"], "call_1");
    assert_eq!(tool.inputs, obj(json!({"city": "Paris"})));
    assert_eq!(tool.outputs, obj(json!({"result": "rainy"})));

    let agent = map_one(
        "invoke_agent",
        json!({"gen_ai.operation.name": "invoke_agent"}),
    );
    assert_eq!(agent.event_type, EventType::Chain);
    let embeddings = map_one("embeddings", json!({"gen_ai.operation.name": "embeddings"}));
    assert_eq!(embeddings.event_type, EventType::Model);
}

#[test]
fn openllmetry_flattened_prompts_and_completions() {
    let event = map_one(
        "openai.chat",
        json!({
            "llm.request.type": "chat",
            "gen_ai.system": "OpenAI",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "You are terse.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "2+2?",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "4",
            "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.completion.0.tool_calls.0.id": "t1",
            "gen_ai.completion.0.tool_calls.0.name": "calc",
            "gen_ai.completion.0.tool_calls.0.arguments": "{\"x\": 2}",
            "gen_ai.usage.prompt_tokens": 20,
            "gen_ai.usage.completion_tokens": 1,
            "llm.usage.total_tokens": 21,
            "gen_ai.usage.cache_read_input_tokens": 5,
            "traceloop.association.properties.session_id": "s-openllmetry",
            "traceloop.association.properties.user_id": "u9",
            "traceloop.association.properties.tenant": "acme"
        }),
    );
    assert_eq!(event.event_type, EventType::Model);
    assert_eq!(event.session_id, "s-openllmetry");
    assert_eq!(
        event.inputs["chat_history"],
        json!([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "2+2?"}])
    );
    assert_eq!(event.outputs["content"], "4");
    assert_eq!(event.outputs["finish_reason"], "stop");
    assert_eq!(
        event.outputs["tool_calls"],
        json!([{"id": "t1", "name": "calc", "arguments": "{\"x\": 2}"}])
    );
    assert_eq!(event.metadata["total_tokens"], 21);
    assert_eq!(event.metadata["cache_read_tokens"], 5);
    assert_eq!(event.metadata["tenant"], "acme");
    assert_eq!(event.user_properties, obj(json!({"user_id": "u9"})));
    // gpt-4o-mini: 15 uncached x 0.15 + 5 cached x 0.075 + 1 out x 0.60 per 1M.
    assert_close(
        &event.metadata["cost"],
        (15.0 * 0.15 + 5.0 * 0.075 + 0.6) / 1e6,
    );
}

#[test]
fn openllmetry_workflow_and_task_spans() {
    let workflow = map_one(
        "joke.workflow",
        json!({
            "traceloop.span.kind": "workflow",
            "traceloop.entity.input": "{\"args\": [1], \"kwargs\": {\"topic\": \"cats\"}}",
            "traceloop.entity.output": "{\"joke\": \"meow\"}"
        }),
    );
    assert_eq!(workflow.event_type, EventType::Chain);
    assert_eq!(
        workflow.inputs,
        obj(json!({"args": [1], "kwargs": {"topic": "cats"}}))
    );
    assert_eq!(workflow.outputs, obj(json!({"joke": "meow"})));
    let task = map_one(
        "step.task",
        json!({"traceloop.span.kind": "task", "traceloop.entity.output": "done"}),
    );
    assert_eq!(task.event_type, EventType::Tool);
    assert_eq!(task.outputs, obj(json!({"output": "done"})));
}

#[test]
fn openinference_llm_span() {
    let event = map_one(
        "ChatCompletion",
        json!({
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "llm.provider": "openai",
            "llm.invocation_parameters": "{\"temperature\": 0.5, \"max_tokens\": 64}",
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "Be kind.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.contents.0.message_content.type": "text",
            "llm.input_messages.1.message.contents.0.message_content.text": "Hello",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "Hi!",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "c9",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "wave",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{}",
            "llm.tools.0.tool.json_schema": "{\"type\": \"function\", \"function\": {\"name\": \"wave\"}}",
            "llm.token_count.prompt": 12,
            "llm.token_count.completion": 3,
            "llm.token_count.total": 15,
            "input.value": "{\"messages\": []}",
            "input.mime_type": "application/json",
            "output.value": "{\"choices\": []}",
            "session.id": "oi-session",
            "user.id": "oi-user",
            "metadata": "{\"env\": \"prod\"}",
            "tag.tags": ["a", "b"]
        }),
    );
    assert_eq!(event.event_type, EventType::Model);
    assert_eq!(event.session_id, "oi-session");
    assert_eq!(event.config["model"], "gpt-4o-mini");
    assert_eq!(event.config["provider"], "openai");
    assert_eq!(event.config["temperature"], 0.5);
    assert_eq!(event.config["max_tokens"], 64);
    assert_eq!(
        event.config["tools"],
        json!([{"type": "function", "function": {"name": "wave"}}])
    );
    assert_eq!(
        event.inputs,
        obj(json!({"chat_history": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Hello"}
        ]}))
    );
    assert_eq!(event.outputs["role"], "assistant");
    assert_eq!(event.outputs["content"], "Hi!");
    assert_eq!(
        event.outputs["tool_calls"],
        json!([{"id": "c9", "name": "wave", "arguments": "{}"}])
    );
    assert!(
        !event.outputs.contains_key("choices"),
        "raw output.value repeats the messages"
    );
    assert_eq!(event.metadata["prompt_tokens"], 12);
    assert_eq!(event.metadata["completion_tokens"], 3);
    assert_eq!(event.metadata["total_tokens"], 15);
    assert_eq!(event.metadata["env"], "prod");
    assert_eq!(event.metadata["tags"], json!(["a", "b"]));
    assert_eq!(event.user_properties, obj(json!({"user_id": "oi-user"})));
    assert!(event.metadata["cost"].as_f64().unwrap() > 0.0);
}

#[test]
fn openinference_chain_tool_and_retriever_spans() {
    let chain = map_one(
        "RAG",
        json!({
            "openinference.span.kind": "CHAIN",
            "input.value": "{\"question\": \"why?\"}",
            "output.value": "because"
        }),
    );
    assert_eq!(chain.event_type, EventType::Chain);
    assert_eq!(chain.inputs, obj(json!({"question": "why?"})));
    assert_eq!(chain.outputs, obj(json!({"output": "because"})));
    let retriever = map_one(
        "retrieve",
        json!({"openinference.span.kind": "RETRIEVER", "input.value": "why?"}),
    );
    assert_eq!(retriever.event_type, EventType::Tool);
    assert_eq!(retriever.inputs, obj(json!({"input": "why?"})));
    let tool = map_one(
        "search",
        json!({"openinference.span.kind": "TOOL", "tool.name": "search"}),
    );
    assert_eq!(tool.event_type, EventType::Tool);
    assert_eq!(tool.config["tool_name"], "search");
    let agent = map_one("agent", json!({"openinference.span.kind": "AGENT"}));
    assert_eq!(agent.event_type, EventType::Chain);
}

#[test]
fn vercel_ai_sdk_spans() {
    let call = map_one(
        "ai.generateText.doGenerate",
        json!({
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.id": "gpt-4o",
            "ai.model.provider": "openai.chat",
            "ai.settings.maxTokens": 50,
            "ai.prompt.messages": "[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Hi\"}]}]",
            "ai.response.text": "Hello!",
            "ai.response.finishReason": "stop",
            "ai.usage.promptTokens": 8,
            "ai.usage.completionTokens": 2,
            "ai.response.msToFirstChunk": 123.5,
            "ai.telemetry.metadata.sessionId": "v-session",
            "ai.telemetry.metadata.userId": "v-user",
            "ai.telemetry.metadata.feature": "greeting"
        }),
    );
    assert_eq!(call.event_type, EventType::Model);
    assert_eq!(call.session_id, "v-session");
    assert_eq!(call.config["model"], "gpt-4o");
    assert_eq!(call.config["provider"], "openai.chat");
    assert_eq!(call.config["maxTokens"], 50);
    assert_eq!(
        call.inputs["chat_history"],
        json!([{"role": "user", "content": "Hi"}])
    );
    assert_eq!(
        call.outputs,
        obj(json!({"role": "assistant", "content": "Hello!"}))
    );
    assert_eq!(call.metadata["finish_reason"], "stop");
    assert_eq!(call.metadata["total_tokens"], 10);
    assert_eq!(call.metadata["feature"], "greeting");
    assert_eq!(call.metrics["ttft_ms"], 123.5);
    assert_eq!(call.user_properties, obj(json!({"user_id": "v-user"})));

    let outer = map_one(
        "ai.generateText",
        json!({"ai.operationId": "ai.generateText", "ai.model.id": "gpt-4o", "ai.prompt": "{\"system\": \"Be nice\", \"prompt\": \"Hi\"}"}),
    );
    assert_eq!(outer.event_type, EventType::Chain);
    assert_eq!(
        outer.inputs["chat_history"],
        json!([{"role": "system", "content": "Be nice"}, {"role": "user", "content": "Hi"}])
    );

    let tool = map_one(
        "ai.toolCall",
        json!({"ai.operationId": "ai.toolCall", "ai.toolCall.name": "weather", "ai.toolCall.id": "tc1",
               "ai.toolCall.args": "{\"city\": \"Oslo\"}", "ai.toolCall.result": "{\"temp\": 3}"}),
    );
    assert_eq!(tool.event_type, EventType::Tool);
    assert_eq!(tool.config["tool_name"], "weather");
    assert_eq!(tool.inputs, obj(json!({"city": "Oslo"})));
    assert_eq!(tool.outputs, obj(json!({"temp": 3})));
}

#[test]
fn honeyhive_attributes_win_over_conventions() {
    let event = map_one(
        "call",
        json!({
            "honeyhive_event_type": "tool",
            "openinference.span.kind": "LLM",
            "honeyhive_config.model": "my-model",
            "gen_ai.request.model": "gpt-4o",
            "honeyhive_metadata.cost": 1.5,
            "gen_ai.usage.input_tokens": 100,
            "honeyhive_event_name": "custom name",
            "honeyhive_inputs": "{\"a\": {\"b\": 1}}",
            "honeyhive_outputs": "not an object"
        }),
    );
    assert_eq!(event.event_type, EventType::Tool);
    assert_eq!(event.event_name, "custom name");
    assert_eq!(event.config["model"], "my-model");
    assert_eq!(event.metadata["cost"], 1.5);
    // The un-dotted namespace form is a JSON object merged in as is.
    assert_eq!(event.inputs, obj(json!({"a": {"b": 1}})));
    // ... and when it is not an object, it is kept rather than dropped.
    assert_eq!(event.metadata["honeyhive_outputs"], "not an object");
}

#[test]
fn a_span_with_no_conventions_is_a_tool_event_keeping_its_attributes() {
    let event = map_one(
        "GET /users",
        json!({"http.method": "GET", "http.status_code": 200}),
    );
    assert_eq!(event.event_type, EventType::Tool);
    assert_eq!(event.event_name, "GET /users");
    assert_eq!(
        event.metadata,
        obj(json!({"http.method": "GET", "http.status_code": 200}))
    );
    assert_eq!(event.duration, 1000.0);
    assert_eq!(event.start_time, 1_700_000_000_000.0);
    assert_eq!(event.end_time, 1_700_000_001_000.0);
    assert!(event.inputs.is_empty() && event.outputs.is_empty() && event.error.is_none());
}

#[test]
fn spans_naming_no_session_get_one_session_per_trace() {
    let root = span("pipeline", json!({"service": "x"}));
    let mut child = span("step", json!({}));
    child.span_id = vec![9; 8];
    child.parent_span_id = root.span_id.clone();
    let batch = map_request(&request(vec![child, root.clone()]));
    let session = session_id_for_trace(&root.trace_id);
    assert_eq!(batch.events.len(), 2);
    assert!(batch.events.iter().all(|e| e.session_id == session));
    assert_eq!(
        batch.events[0].parent_id,
        Some(event_id_for(&root.trace_id, &root.span_id))
    );
    assert_eq!(batch.events[1].parent_id.as_deref(), Some(session.as_str()));
    assert_eq!(batch.sessions.len(), 1);
    // The trace's root span names the session.
    assert_eq!(batch.sessions[0].session_name.as_deref(), Some("pipeline"));
}

#[test]
fn resource_attributes_name_the_session_and_source_when_spans_do_not() {
    let req = common::request_with_resource(
        json!({"honeyhive.session_id": "res-session", "deployment.environment.name": "production"}),
        vec![span("work", json!({}))],
    );
    let batch = map_request(&req);
    assert_eq!(batch.events[0].session_id, "res-session");
    assert_eq!(batch.events[0].source, "production");
    assert_eq!(batch.sessions[0].source.as_deref(), Some("production"));
}

#[test]
fn errors_come_from_status_or_exception_events() {
    let mut failing = span("db.query", json!({}));
    failing.status = Some(Status {
        code: 2,
        message: String::new(),
    });
    let attribute = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: Some(common::any(&json!(value))),
        key_strindex: 0,
    };
    failing.events.push(SpanEvent {
        name: "exception".into(),
        attributes: vec![
            attribute("exception.type", "TimeoutError"),
            attribute("exception.message", "took too long"),
        ],
        ..SpanEvent::default()
    });
    let batch = map_request(&request(vec![failing.clone()]));
    assert_eq!(
        batch.events[0].error.as_deref(),
        Some("TimeoutError: took too long")
    );

    failing.status = Some(Status {
        code: 1,
        message: "fine".into(),
    });
    assert_eq!(map_request(&request(vec![failing])).events[0].error, None);
}

#[test]
fn first_token_event_gives_ttft() {
    let mut streamed = span("stream", json!({"openinference.span.kind": "LLM"}));
    streamed.events.push(SpanEvent {
        name: "First Token Stream Event".into(),
        time_unix_nano: streamed.start_time_unix_nano + 250_000_000,
        ..SpanEvent::default()
    });
    let batch = map_request(&request(vec![streamed]));
    assert_eq!(batch.events[0].metrics["ttft_ms"], 250.0);
}

#[test]
fn legacy_gen_ai_content_events_give_messages() {
    let mut legacy = span("chat", json!({"gen_ai.operation.name": "chat"}));
    let event = |name: &str, key: &str, json_text: &str| SpanEvent {
        name: name.into(),
        attributes: vec![KeyValue {
            key: key.into(),
            value: Some(common::any(&json!(json_text))),
            key_strindex: 0,
        }],
        ..SpanEvent::default()
    };
    legacy.events.push(event(
        "gen_ai.content.prompt",
        "gen_ai.prompt",
        "[{\"role\": \"user\", \"content\": \"hi\"}]",
    ));
    legacy.events.push(event(
        "gen_ai.content.completion",
        "gen_ai.completion",
        "[{\"role\": \"assistant\", \"content\": \"hey\"}]",
    ));
    let mapped = &map_request(&request(vec![legacy])).events[0];
    assert_eq!(
        mapped.inputs["chat_history"],
        json!([{"role": "user", "content": "hi"}])
    );
    assert_eq!(
        mapped.outputs,
        obj(json!({"role": "assistant", "content": "hey"}))
    );
}

#[test]
fn bad_ids_reject_only_that_span() {
    let good = span("good", json!({}));
    let mut short_trace = span("short trace", json!({}));
    short_trace.trace_id = vec![1; 8];
    let mut zero_span = span("zero span", json!({}));
    zero_span.span_id = vec![0; 8];
    let mut bad_parent = span("bad parent", json!({}));
    bad_parent.span_id = vec![7; 8];
    bad_parent.parent_span_id = vec![1; 3];
    let batch = map_request(&request(vec![short_trace, good, zero_span, bad_parent]));
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.events[0].event_name, "good");
    let reasons: Vec<&str> = batch.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "invalid trace id",
            "invalid span id",
            "invalid parent span id"
        ]
    );
    assert_eq!(batch.rejected[2].span_id, "0707070707070707");
}
