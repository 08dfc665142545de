//! The memory estimates of `honeyhive_model::cost` against the heap that
//! decoding really takes, measured by a counting allocator, for the shapes that
//! cost the most per byte. The allocator's peak is process-wide, so the test runs in
//! a process of its own, where nothing else allocates while it measures.

use honeyhive_model::cost::{Format, json_cost, memory_estimate, protobuf_trace_cost};
use honeyhive_model::mapping::map_request;
use honeyhive_model::otlp::{decode_json, decode_protobuf};
use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};
use prost::Message;
use rusty_fork::rusty_fork_test;
use serde_json::{Value, json};

#[global_allocator]
static HEAP: &PeakMemAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Values per shape: enough that per-value costs dominate fixed ones.
const N: usize = 100_000;
/// The counter sees requested bytes; malloc adds a header to every block.
const ALLOCATOR_OVERHEAD: f64 = 1.15;

/// Heap allocated by `work` at its peak, beyond what was live before it.
fn peak_of(work: impl FnOnce()) -> usize {
    HEAP.reset_peak_memory();
    work();
    HEAP.get_peak_memory()
}

fn otlp_json_with_attribute(value: Value) -> Vec<u8> {
    let span = json!({
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "s", "startTimeUnixNano": "1000", "endTimeUnixNano": "2000",
        "attributes": [{"key": "honeyhive_metadata.blob", "value": value}],
    });
    serde_json::to_vec(&json!({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}))
        .expect("encode")
}

fn check(format: Format, shape: &str, len: usize, values: u64, peak: usize) {
    let estimate = memory_estimate(format, len, values);
    println!(
        "{format:?} {shape}: {len} bytes, {values} values, peak {peak} B, estimate {estimate} B"
    );
    assert!(
        estimate as f64 >= peak as f64 * ALLOCATOR_OVERHEAD,
        "{format:?} {shape}: estimate {estimate} B under the measured peak {peak} B"
    );
}

rusty_fork_test! {
    #[test]
    fn estimates_cover_the_peak_heap_of_decoding() {
        let json_shapes: Vec<(&str, Value)> = vec![
            ("numbers", json!(vec![0; N])),
            ("empty objects", json!(vec![json!({}); N])),
            ("empty strings", json!(vec![""; N])),
            ("one-key objects", json!(vec![json!({"a": 0}); N])),
            (
                "many keys",
                Value::Object((0..N).map(|i| (i.to_string(), json!(0))).collect()),
            ),
            ("nested pairs", json!(vec![json!([[0, 0]]); N / 4])),
        ];
        for (shape, value) in &json_shapes {
            let body = serde_json::to_vec(value).expect("encode");
            let cost = json_cost(&body).expect("scan");
            let peak = peak_of(|| drop(serde_json::from_slice::<Value>(&body).expect("parse")));
            check(Format::Json, shape, body.len(), cost.values, peak);
        }

        let attribute_shapes: Vec<(&str, Value)> = vec![
            ("bare numbers", json!(vec![0; N])),
            ("bare empty objects", json!(vec![json!({}); N])),
            ("bare empty arrays", json!(vec![json!([]); N])),
            (
                "typed ints",
                json!({"arrayValue": {"values": vec![json!({"intValue": "0"}); N]}}),
            ),
            (
                "kvlist",
                json!({"kvlistValue": {"values": (0..N)
                .map(|i| json!({"key": i.to_string(), "value": {"intValue": 0}}))
                .collect::<Vec<_>>()}}),
            ),
        ];
        // Realistic spans: LLM calls with a few string attributes each.
        let llm_spans: Vec<Value> = (0..10_000)
            .map(|i| {
                json!({
                    "traceId": format!("{:032x}", i / 5 + 1), "spanId": format!("{:016x}", i + 1),
                    "name": "chat", "startTimeUnixNano": "1700000000000000000",
                    "endTimeUnixNano": "1700000001000000000",
                    "attributes": [
                        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                        {"key": "honeyhive_inputs.prompt", "value": {"stringValue": "q".repeat(200)}},
                        {"key": "honeyhive_outputs.answer", "value": {"stringValue": "a".repeat(200)}},
                        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "120"}},
                    ],
                })
            })
            .collect();
        let body =
            serde_json::to_vec(&json!({"resourceSpans": [{"scopeSpans": [{"spans": llm_spans}]}]}))
                .expect("encode");
        let cost = json_cost(&body).expect("scan");
        let peak = peak_of(|| drop(map_request(&decode_json(&body).expect("decode"))));
        check(Format::OtlpJson, "llm spans", body.len(), cost.values, peak);
        let proto = decode_json(&body).expect("decode").encode_to_vec();
        let cost = protobuf_trace_cost(&proto).expect("scan");
        let peak = peak_of(|| drop(map_request(&decode_protobuf(&proto).expect("decode"))));
        check(
            Format::OtlpProtobuf,
            "llm spans",
            proto.len(),
            cost.values,
            peak,
        );

        for (shape, value) in attribute_shapes {
            let body = otlp_json_with_attribute(value);
            let cost = json_cost(&body).expect("scan");
            let peak = peak_of(|| {
                let request = decode_json(&body).expect("decode");
                drop(map_request(&request));
            });
            check(Format::OtlpJson, shape, body.len(), cost.values, peak);

            let proto = decode_json(&body).expect("decode").encode_to_vec();
            let cost = protobuf_trace_cost(&proto).expect("scan");
            let peak = peak_of(|| {
                let request = decode_protobuf(&proto).expect("decode");
                drop(map_request(&request));
            });
            check(Format::OtlpProtobuf, shape, proto.len(), cost.values, peak);
        }
    }
}
