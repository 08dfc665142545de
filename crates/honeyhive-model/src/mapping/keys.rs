//! The attribute keys each convention uses for each fact, in precedence order.
//!
//! First non-empty wins, HoneyHive's own attributes first. Every key listed here
//! is "known": it is consumed by the mapping and not copied to `metadata` raw.

use std::collections::HashSet;
use std::sync::LazyLock;

use crate::attributes as hh;

pub(crate) const SESSION_ID: &[&str] = &[
    hh::SESSION_ID,
    hh::SESSION_ID_UNDERSCORE,
    hh::TRACELOOP_SESSION_ID,
    "session.id",
    "gen_ai.conversation.id",
    "ai.telemetry.metadata.sessionId",
];
pub(crate) const SESSION_NAME: &[&str] = &[
    hh::SESSION_NAME,
    hh::SESSION_NAME_UNDERSCORE,
    hh::TRACELOOP_SESSION_NAME,
];
pub(crate) const PROJECT: &[&str] = &[hh::PROJECT, hh::PROJECT_UNDERSCORE, hh::TRACELOOP_PROJECT];
pub(crate) const SOURCE: &[&str] = &[hh::SOURCE, hh::SOURCE_UNDERSCORE, hh::TRACELOOP_SOURCE];
/// Resource attributes that name the source when no span attribute does.
pub(crate) const RESOURCE_SOURCE: &[&str] =
    &["deployment.environment.name", "deployment.environment"];
pub(crate) const USER_ID: &[&str] = &[
    hh::USER_ID,
    hh::USER_ID_DOTTED,
    hh::TRACELOOP_USER_ID,
    "user.id",
    "enduser.id",
    "ai.telemetry.metadata.userId",
];

pub(crate) const EVENT_TYPE: &str = hh::EVENT_TYPE;
pub(crate) const EVENT_NAME: &str = hh::EVENT_NAME;
pub(crate) const DURATION_MS: &str = hh::DURATION_MS;
pub(crate) const ERROR: &str = hh::ERROR;
pub(crate) const ERROR_TYPE: &str = hh::ERROR_TYPE;
pub(crate) const OPENINFERENCE_KIND: &str = "openinference.span.kind";
pub(crate) const GEN_AI_OPERATION: &str = "gen_ai.operation.name";
pub(crate) const TRACELOOP_KIND: &str = "traceloop.span.kind";
pub(crate) const VERCEL_OPERATION: &str = "ai.operationId";

pub(crate) const REQUEST_MODEL: &[&str] =
    &["gen_ai.request.model", "llm.model_name", "ai.model.id"];
pub(crate) const RESPONSE_MODEL: &[&str] = &[
    "gen_ai.response.model",
    "llm.response.model",
    "ai.response.model",
];
pub(crate) const PROVIDER: &[&str] = &[
    "gen_ai.provider.name",
    "gen_ai.system",
    "llm.provider",
    "llm.system",
    "ai.model.provider",
];
pub(crate) const INVOCATION_PARAMETERS: &str = "llm.invocation_parameters";
pub(crate) const TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
pub(crate) const TOOL_NAME: &[&str] = &["gen_ai.tool.name", "tool.name", "ai.toolCall.name"];
pub(crate) const TOOL_DESCRIPTION: &[&str] = &["gen_ai.tool.description", "tool.description"];
pub(crate) const TOOL_PARAMETERS: &[&str] = &["tool.parameters"];
pub(crate) const TOOL_CALL_ID: &[&str] = &["gen_ai.tool.call.id", "ai.toolCall.id", "tool_call.id"];
pub(crate) const TOOL_ARGUMENTS: &[&str] = &["gen_ai.tool.call.arguments", "ai.toolCall.args"];
pub(crate) const TOOL_RESULT: &[&str] = &["gen_ai.tool.call.result", "ai.toolCall.result"];

pub(crate) const INPUT_MESSAGES: &str = "gen_ai.input.messages";
pub(crate) const SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
pub(crate) const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// Legacy `gen_ai.content.prompt` / `.completion` span-event attributes (JSON messages).
pub(crate) const LEGACY_PROMPT: &str = "gen_ai.prompt";
pub(crate) const LEGACY_COMPLETION: &str = "gen_ai.completion";
pub(crate) const VERCEL_PROMPT: &str = "ai.prompt";
pub(crate) const VERCEL_PROMPT_MESSAGES: &str = "ai.prompt.messages";
pub(crate) const VERCEL_RESPONSE_TEXT: &str = "ai.response.text";
pub(crate) const VERCEL_RESPONSE_OBJECT: &str = "ai.response.object";
pub(crate) const VERCEL_RESPONSE_TOOL_CALLS: &str = "ai.response.toolCalls";
pub(crate) const INPUT_VALUE: &[&str] = &["input.value", "traceloop.entity.input"];
pub(crate) const OUTPUT_VALUE: &[&str] = &["output.value", "traceloop.entity.output"];
pub(crate) const FINISH_REASON: &[&str] =
    &["gen_ai.response.finish_reasons", "ai.response.finishReason"];
pub(crate) const RESPONSE_ID: &[&str] = &["gen_ai.response.id", "ai.response.id"];

pub(crate) const PROMPT_TOKENS: &[&str] = &[
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "ai.usage.promptTokens",
    "ai.usage.inputTokens",
];
pub(crate) const COMPLETION_TOKENS: &[&str] = &[
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "ai.usage.completionTokens",
    "ai.usage.outputTokens",
];
pub(crate) const TOTAL_TOKENS: &[&str] = &[
    "gen_ai.usage.total_tokens",
    "llm.usage.total_tokens",
    "llm.token_count.total",
    "ai.usage.totalTokens",
];
pub(crate) const CACHE_READ_TOKENS: &[&str] = &[
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
    "ai.usage.cachedInputTokens",
];
pub(crate) const CACHE_WRITE_TOKENS: &[&str] = &[
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
];
pub(crate) const REASONING_TOKENS: &[&str] = &[
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "llm.token_count.completion_details.reasoning",
    "ai.usage.reasoningTokens",
];
pub(crate) const COST: &[&str] = &["gen_ai.usage.cost", "llm.cost.total"];
/// Time to first token, in milliseconds.
pub(crate) const TTFT_MS: &[&str] = &["ai.response.msToFirstChunk", "ai.stream.msToFirstChunk"];
/// Time to first token, in seconds.
pub(crate) const TTFT_SECONDS: &[&str] = &[
    "gen_ai.server.time_to_first_token",
    "gen_ai.response.time_to_first_chunk",
];
/// OpenInference's free-form metadata (a JSON object string) and tags.
pub(crate) const OPENINFERENCE_METADATA: &str = "metadata";
pub(crate) const OPENINFERENCE_TAGS: &str = "tag.tags";

/// Keys whose meaning is fully captured elsewhere, consumed without being stored.
pub(crate) const IGNORED: &[&str] = &["input.mime_type", "output.mime_type", "llm.request.type"];

/// Span-event names that mark the first streamed token (TTFT = event time - start).
pub(crate) const FIRST_TOKEN_EVENTS: &[&str] = &[
    "First Token Stream Event",
    "ai.stream.firstChunk",
    "gen_ai.first_token",
];
/// Span events whose attributes are read like span attributes (span attributes win).
pub(crate) const CONTENT_EVENTS: &[&str] = &[
    "gen_ai.content.prompt",
    "gen_ai.content.completion",
    "gen_ai.client.inference.operation.details",
];

/// Flattened prefixes: `<prefix>N.<field>` lists rebuilt as arrays.
pub(crate) const FLAT_PROMPTS: &str = "gen_ai.prompt.";
pub(crate) const FLAT_COMPLETIONS: &str = "gen_ai.completion.";
pub(crate) const FLAT_OI_INPUT: &str = "llm.input_messages.";
pub(crate) const FLAT_OI_OUTPUT: &str = "llm.output_messages.";
pub(crate) const FLAT_OI_TOOLS: &str = "llm.tools.";
pub(crate) const FLAT_LLM_FUNCTIONS: &str = "llm.request.functions.";
/// Prefixes whose remainder is a config key.
pub(crate) const CONFIG_PREFIXES: &[&str] = &["gen_ai.request.", "ai.settings."];
/// Prefixes whose remainder is a metadata key.
pub(crate) const METADATA_PREFIXES: &[&str] =
    &[hh::TRACELOOP_ASSOCIATION_PREFIX, "ai.telemetry.metadata."];

/// Every exact key the mapping consumes.
pub(crate) static KNOWN: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    let lists: &[&[&'static str]] = &[
        SESSION_ID,
        SESSION_NAME,
        PROJECT,
        SOURCE,
        USER_ID,
        REQUEST_MODEL,
        RESPONSE_MODEL,
        PROVIDER,
        TOOL_NAME,
        TOOL_DESCRIPTION,
        TOOL_PARAMETERS,
        TOOL_CALL_ID,
        TOOL_ARGUMENTS,
        TOOL_RESULT,
        INPUT_VALUE,
        OUTPUT_VALUE,
        FINISH_REASON,
        RESPONSE_ID,
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
        TOTAL_TOKENS,
        CACHE_READ_TOKENS,
        CACHE_WRITE_TOKENS,
        REASONING_TOKENS,
        COST,
        TTFT_MS,
        TTFT_SECONDS,
        IGNORED,
    ];
    let singles = [
        EVENT_TYPE,
        EVENT_NAME,
        DURATION_MS,
        ERROR,
        ERROR_TYPE,
        OPENINFERENCE_KIND,
        GEN_AI_OPERATION,
        TRACELOOP_KIND,
        VERCEL_OPERATION,
        INVOCATION_PARAMETERS,
        TOOL_DEFINITIONS,
        INPUT_MESSAGES,
        SYSTEM_INSTRUCTIONS,
        OUTPUT_MESSAGES,
        LEGACY_PROMPT,
        LEGACY_COMPLETION,
        VERCEL_PROMPT,
        VERCEL_PROMPT_MESSAGES,
        VERCEL_RESPONSE_TEXT,
        VERCEL_RESPONSE_OBJECT,
        VERCEL_RESPONSE_TOOL_CALLS,
        OPENINFERENCE_METADATA,
        OPENINFERENCE_TAGS,
    ];
    lists
        .iter()
        .flat_map(|l| l.iter().copied())
        .chain(singles)
        .collect()
});
