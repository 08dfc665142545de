//! Property tests: no input may panic the decoders or the mapping, and what we
//! encode as OTLP/JSON decodes back to the same request.

use honeyhive_model::mapping::map_request;
use honeyhive_model::otlp::{
    ExportTraceServiceRequest, decode_json, decode_protobuf, encode_json, gunzip,
};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use proptest::prelude::*;
use prost::Message;
use serde_json::Value;

/// Keys the mapping treats specially, so generated spans exercise every rule.
const KEYS: &[&str] = &[
    "honeyhive_event_type",
    "honeyhive_event_name",
    "honeyhive_inputs",
    "honeyhive_inputs.a",
    "honeyhive_inputs.a.b",
    "honeyhive_outputs.result.0",
    "honeyhive_outputs.result.1",
    "honeyhive_metrics.score",
    "honeyhive_metadata.cost",
    "honeyhive_duration_ms",
    "honeyhive_error",
    "honeyhive_error_type",
    "honeyhive.session_id",
    "session.id",
    "openinference.span.kind",
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.system",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.prompt.0.role",
    "gen_ai.prompt.0.content",
    "gen_ai.completion.0.tool_calls.0.name",
    "llm.input_messages.0.message.contents.0.message_content.text",
    "llm.output_messages.1.message.tool_calls.0.tool_call.function.name",
    "llm.tools.0.tool.json_schema",
    "llm.invocation_parameters",
    "input.value",
    "output.value",
    "ai.operationId",
    "ai.prompt",
    "ai.prompt.messages",
    "ai.response.toolCalls",
    "ai.response.msToFirstChunk",
    "user.id",
    "metadata",
];

fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"x\"}]}]".to_owned()),
        Just("{\"messages\":[{\"role\":\"user\",\"content\":[1,{\"type\":\"text\"}]}]}".to_owned()),
        Just("[{\"toolName\":\"t\",\"args\":{}}, 3, null]".to_owned()),
        Just("{\"0\":{\"x\":1}}".to_owned()),
        Just("[[[]]]".to_owned()),
        "[\\[\\]{}\":,0-9a-z]{0,24}",
        any::<String>(),
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    use any_value::Value as V;
    let leaf = prop_oneof![
        json_text().prop_map(V::StringValue),
        any::<bool>().prop_map(V::BoolValue),
        any::<i64>().prop_map(V::IntValue),
        // NaN never equals itself, so it stays out of the round-trip property.
        prop_oneof![
            any::<f64>().prop_filter("not NaN", |d| !d.is_nan()),
            Just(f64::INFINITY)
        ]
        .prop_map(V::DoubleValue),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(V::BytesValue),
        (0..100i32).prop_map(V::StringValueStrindex),
    ]
    .prop_map(|v| AnyValue { value: Some(v) });
    let leaf = prop_oneof![9 => leaf, 1 => Just(AnyValue { value: None })];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|values| AnyValue {
                value: Some(V::ArrayValue(ArrayValue { values }))
            }),
            proptest::collection::vec(key_value_with(inner), 0..4).prop_map(|values| AnyValue {
                value: Some(V::KvlistValue(KeyValueList { values }))
            }),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![3 => proptest::sample::select(KEYS).prop_map(str::to_owned), 1 => any::<String>()]
}

fn key_value_with(value: impl Strategy<Value = AnyValue>) -> impl Strategy<Value = KeyValue> {
    (key(), proptest::option::weighted(0.9, value)).prop_map(|(key, value)| KeyValue {
        key,
        value,
        key_strindex: 0,
    })
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec(key_value_with(any_value()), 0..12)
}

fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![1 => Just(Vec::new()), 6 => proptest::collection::vec(any::<u8>(), len)]
}

fn span_strategy() -> impl Strategy<Value = Span> {
    let event = (any::<u64>(), any::<String>(), attributes(), any::<u32>()).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| span::Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count,
        },
    );
    let link = (id(16), id(8), any::<String>(), attributes(), any::<u32>()).prop_map(
        |(trace_id, span_id, trace_state, attributes, flags)| span::Link {
            trace_id,
            span_id,
            trace_state,
            attributes,
            dropped_attributes_count: 0,
            flags,
        },
    );
    let status = proptest::option::of(
        (0..3i32, any::<String>()).prop_map(|(code, message)| Status { message, code }),
    );
    (
        (
            id(16),
            id(8),
            id(8),
            any::<String>(),
            0..6i32,
            any::<u64>(),
            any::<u64>(),
        ),
        (
            attributes(),
            proptest::collection::vec(event, 0..3),
            proptest::collection::vec(link, 0..2),
        ),
        (status, any::<u32>(), any::<u32>()),
    )
        .prop_map(
            |(
                (trace_id, span_id, parent, name, kind, start, end),
                (attributes, events, links),
                (status, flags, dropped),
            )| {
                Span {
                    trace_id,
                    span_id,
                    trace_state: String::new(),
                    parent_span_id: parent,
                    flags,
                    name,
                    kind,
                    start_time_unix_nano: start,
                    end_time_unix_nano: end,
                    attributes,
                    dropped_attributes_count: dropped,
                    events,
                    dropped_events_count: 0,
                    links,
                    dropped_links_count: dropped,
                    status,
                }
            },
        )
}

fn request_strategy() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let scope = (
        proptest::option::of((any::<String>(), attributes())),
        proptest::collection::vec(span_strategy(), 0..4),
    )
        .prop_map(|(scope, spans)| ScopeSpans {
            scope: scope.map(|(name, attributes)| InstrumentationScope {
                name,
                version: "1.0".into(),
                attributes,
                dropped_attributes_count: 0,
            }),
            spans,
            schema_url: String::new(),
        });
    let resource = (
        proptest::option::of(attributes()),
        proptest::collection::vec(scope, 0..3),
    )
        .prop_map(|(resource, scope_spans)| ResourceSpans {
            resource: resource.map(|attributes| Resource {
                attributes,
                ..Resource::default()
            }),
            scope_spans,
            schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
        });
    proptest::collection::vec(resource, 0..3)
        .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
}

/// JSON documents shaped like OTLP requests, with wrong types anywhere.
fn otlp_like_json() -> impl Strategy<Value = Value> {
    const FIELDS: &[&str] = &[
        "resourceSpans",
        "scopeSpans",
        "spans",
        "traceId",
        "spanId",
        "parentSpanId",
        "attributes",
        "key",
        "value",
        "stringValue",
        "intValue",
        "doubleValue",
        "arrayValue",
        "kvlistValue",
        "bytesValue",
        "values",
        "kind",
        "status",
        "code",
        "events",
        "links",
        "startTimeUnixNano",
        "resource",
        "scope",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[0-9a-fA-F]{0,32}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(FIELDS), inner), 0..6).prop_map(
                |entries| Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect()
                )
            ),
        ]
    })
}

fn total_spans(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

fn assert_maps_every_span(request: &ExportTraceServiceRequest) {
    let batch = map_request(request);
    assert_eq!(
        batch.events.len() + batch.rejected.len(),
        total_spans(request)
    );
    for event in &batch.events {
        assert!(!event.session_id.is_empty());
        assert!(event.parent_id.is_some());
        assert!(event.duration >= 0.0 && event.end_time >= event.start_time);
        assert!(
            batch
                .sessions
                .iter()
                .any(|s| s.session_id == event.session_id)
        );
        // Every mapped event must be storable as JSON.
        serde_json::to_vec(event).expect("event serializes");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_json(&bytes);
        if let Ok(request) = decode_protobuf(&bytes) {
            assert_maps_every_span(&request);
        }
        let _ = gunzip(&bytes, 4096);
        let mut gzip_looking = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        gzip_looking.extend_from_slice(&bytes);
        let _ = gunzip(&gzip_looking, 4096);
    }

    #[test]
    fn otlp_shaped_json_never_panics_and_every_span_is_accounted_for(doc in otlp_like_json()) {
        let body = serde_json::to_vec(&Value::Object([("resourceSpans".to_owned(), doc.clone())].into_iter().collect())).unwrap();
        if let Ok(request) = decode_json(&body) {
            assert_maps_every_span(&request);
        }
        if let Ok(request) = decode_json(&serde_json::to_vec(&doc).unwrap()) {
            assert_maps_every_span(&request);
        }
    }

    #[test]
    fn encode_json_round_trips_through_decode_json(request in request_strategy()) {
        let decoded = decode_json(&encode_json(&request)).expect("our own encoding decodes");
        prop_assert_eq!(&decoded, &request);
        assert_maps_every_span(&request);
        prop_assert_eq!(decode_protobuf(&request.encode_to_vec()).unwrap(), request);
    }
}

/// Where the mapping rebuilds nested JSON from a dotted key: every prefix of
/// `mapping/keys.rs` (`NAMESPACES` and the `FLAT_*` lists), extended to a place
/// that keeps arbitrary JSON.
struct Namespace {
    /// The key up to the generated segments.
    key_prefix: &'static str,
    /// Segments of `key_prefix` that are part of the rebuilt tree's path (and
    /// so count towards the segment cap).
    tree_segments: usize,
    /// The event field the value lands in, and the path to it there.
    field: &'static str,
    landing: &'static [&'static str],
    /// Whether a value that is JSON text is parsed (HoneyHive namespaces) or
    /// kept as a string (message contents and tool schemas).
    parses_json: bool,
}

const fn namespace(
    key_prefix: &'static str,
    tree_segments: usize,
    field: &'static str,
    landing: &'static [&'static str],
    parses_json: bool,
) -> Namespace {
    Namespace {
        key_prefix,
        tree_segments,
        field,
        landing,
        parses_json,
    }
}

const FLATTENED_NAMESPACES: &[Namespace] = &[
    namespace("honeyhive_inputs.", 0, "inputs", &[], true),
    namespace("honeyhive_outputs.", 0, "outputs", &[], true),
    namespace("honeyhive_config.", 0, "config", &[], true),
    namespace("honeyhive_metadata.", 0, "metadata", &[], true),
    namespace("honeyhive_metrics.", 0, "metrics", &[], true),
    namespace("honeyhive_feedback.", 0, "feedback", &[], true),
    namespace(
        "honeyhive_user_properties.",
        0,
        "user_properties",
        &[],
        true,
    ),
    namespace(
        "gen_ai.prompt.0.content.",
        2,
        "inputs",
        &["chat_history", "0", "content"],
        false,
    ),
    namespace(
        "gen_ai.completion.0.content.",
        2,
        "outputs",
        &["content"],
        false,
    ),
    namespace(
        "llm.input_messages.0.message.content.",
        3,
        "inputs",
        &["chat_history", "0", "content"],
        false,
    ),
    namespace(
        "llm.output_messages.0.message.content.",
        3,
        "outputs",
        &["content"],
        false,
    ),
    namespace(
        "llm.tools.0.tool.json_schema.",
        3,
        "config",
        &["tools", "0"],
        false,
    ),
    namespace(
        "llm.request.functions.0.",
        1,
        "config",
        &["tools", "0"],
        false,
    ),
];

const MARKER: &str = "marker-5f1c";

/// `depth` nested objects or arrays around [`MARKER`], as JSON text; the
/// marker itself at depth 0.
fn nested_json_text(depth: usize, arrays: bool) -> String {
    if depth == 0 {
        return MARKER.to_owned();
    }
    let (open, close) = if arrays { ("[", "]") } else { ("{\"k\":", "}") };
    format!("{}\"{MARKER}\"{}", open.repeat(depth), close.repeat(depth))
}

fn one_attribute_request(key: String, value: String) -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: vec![0x5b; 16],
        span_id: vec![0xee; 8],
        name: "deep".into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        attributes: vec![KeyValue {
            key,
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value)),
            }),
            key_strindex: 0,
        }],
        ..Span::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// Follows `path` through objects (by key) and arrays (by index).
fn walk<'v>(mut value: &'v Value, path: &[String]) -> Option<&'v Value> {
    for key in path {
        value = match value {
            Value::Object(map) => map.get(key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn keys_of_any_depth_under_every_flattened_namespace_are_kept_within_the_depth_bound(
        namespace_index in 0..FLATTENED_NAMESPACES.len(),
        segment_count in prop_oneof![1..=40usize, 1..=4000usize],
        numeric_segments in any::<bool>(),
        value_depth in prop_oneof![Just(0usize), 1..=130usize],
        arrays in any::<bool>(),
    ) {
        use honeyhive_model::limits::{MAX_JSON_DEPTH, MAX_KEY_SEGMENTS, json_depth, object_depth};
        let ns = &FLATTENED_NAMESPACES[namespace_index];
        // Numeric segments become arrays; message contents made of a list are
        // joined into text, so only the HoneyHive namespaces get them.
        let numeric = numeric_segments && ns.parses_json;
        let segments: Vec<String> = (0..segment_count)
            .map(|i| if numeric { "0".to_owned() } else { format!("s{i}") })
            .collect();
        let text = nested_json_text(value_depth, arrays);
        let key = format!("{}{}", ns.key_prefix, segments.join("."));

        let batch = map_request(&one_attribute_request(key, text.clone()));
        prop_assert_eq!(batch.events.len(), 1);
        let event = serde_json::to_value(&batch.events[0]).expect("event serializes");
        for field in ["config", "inputs", "outputs", "metadata", "metrics", "feedback", "user_properties"] {
            let map = event[field].as_object().expect("an object field");
            prop_assert!(object_depth(map) <= MAX_JSON_DEPTH, "{} is {} deep", field, object_depth(map));
        }

        // Past the cap, the rest of the key is one literal key.
        let nested = MAX_KEY_SEGMENTS - ns.tree_segments;
        let mut path: Vec<String> = ns.landing.iter().map(|s| (*s).to_owned()).collect();
        if segment_count <= nested {
            path.extend(segments.iter().cloned());
        } else {
            path.extend(segments[..nested - 1].iter().cloned());
            path.push(segments[nested - 1..].join("."));
        }
        let landed = walk(&event[ns.field], &path);
        prop_assert!(landed.is_some(), "nothing at {}.{:?}", ns.field, path);
        let landed = landed.expect("checked");

        let parsed = serde_json::from_str::<Value>(&text).ok().filter(|_| value_depth > 0);
        match parsed {
            Some(parsed) if ns.parses_json => {
                if path.len() + value_depth <= MAX_JSON_DEPTH {
                    prop_assert_eq!(landed, &parsed);
                } else {
                    // Too deep for the bound: the deep rest is kept as text.
                    prop_assert_eq!(json_depth(landed), MAX_JSON_DEPTH - path.len());
                    prop_assert!(serde_json::to_string(landed).expect("text").contains(MARKER));
                }
            }
            _ => prop_assert_eq!(landed, &Value::String(text)),
        }
    }
}
