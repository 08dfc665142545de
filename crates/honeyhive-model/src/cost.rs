//! What decoding a body will cost, read off its bytes before decoding it.
//!
//! A tree of `serde_json::Value`s or prost messages takes far more memory than
//! the bytes it came from: `[0,0,0,...]` spends two bytes per element on the
//! wire and over a hundred once parsed. A server that charges only the body's
//! length against its memory budget can be made to allocate forty times that.
//! These scans count the values a body holds without allocating, so the
//! server can charge the decoded size up front and refuse what does not fit.
//!
//! ```
//! use honeyhive_model::cost::{json_cost, memory_estimate, Format};
//! let cost = json_cost(br#"{"a": [1, 2, 3], "b": {"c": null}}"#).unwrap();
//! assert_eq!(cost.depth, 2);
//! assert!(cost.values >= 8);
//! assert!(memory_estimate(Format::Json, 34, cost.values) > 34);
//! ```

/// What a scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeCost {
    /// Values the body holds (JSON values and object keys; protobuf fields),
    /// an upper bound on the nodes decoding allocates.
    pub values: u64,
    /// Deepest nesting seen (1 for a flat object or message).
    pub depth: u32,
    /// OTLP spans in the body (protobuf scans only; 0 for JSON).
    pub spans: u64,
    /// Bytes of the longest JSON string, escapes included (JSON scans only).
    pub longest_string: u64,
}

/// Why a scan stopped before the end of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// Nested deeper than `limit` levels.
    #[error("nested deeper than {limit} levels")]
    TooDeep {
        /// The deepest nesting allowed.
        limit: u32,
    },
    /// The protobuf framing is broken (a length past the end, a bad varint).
    #[error("malformed protobuf framing")]
    Malformed,
}

/// Deepest JSON nesting a body may have: serde_json refuses more than 128
/// anyway, so a deeper body is refused before any parsing is paid for.
pub const MAX_JSON_NESTING: u32 = 128;
/// Deepest protobuf nesting a body may have (prost's own recursion limit).
pub const MAX_PROTOBUF_NESTING: u32 = 100;

/// How a body is decoded, which decides what each value costs in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON document parsed into `serde_json::Value`s (the REST API).
    Json,
    /// An OTLP/JSON trace request: parsed into `Value`s, turned into prost
    /// messages, then mapped to events.
    OtlpJson,
    /// An OTLP protobuf trace request: decoded into prost messages, then mapped
    /// to events.
    OtlpProtobuf,
}

impl Format {
    /// Bytes of memory decoding may hold per counted value at its peak,
    /// allocator overhead and vector slack included. Checked against a counting
    /// allocator in this crate's tests for the worst shapes of each format.
    fn bytes_per_value(self) -> u64 {
        match self {
            Format::Json => 224,
            Format::OtlpJson => 256,
            Format::OtlpProtobuf => 160,
        }
    }
}

/// An upper bound on the memory that decoding a body of `len` bytes holding
/// `values` values takes at its peak, the body itself included.
///
/// ```
/// use honeyhive_model::cost::{memory_estimate, Format};
/// assert!(memory_estimate(Format::OtlpProtobuf, 1000, 100) >= 1000);
/// ```
pub fn memory_estimate(format: Format, len: usize, values: u64) -> u64 {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    // Strings are copied out of the body: count its bytes twice.
    len.saturating_mul(2)
        .saturating_add(values.saturating_mul(format.bytes_per_value()))
}

/// Counts the values of a JSON document and its depth, without parsing it.
///
/// Only the structure is read (brackets, commas and colons outside strings);
/// whether the document is valid JSON is the parser's business. Fails when it
/// nests deeper than [`MAX_JSON_NESTING`].
///
/// ```
/// use honeyhive_model::cost::json_cost;
/// assert_eq!(json_cost(b"[0,0,0]").unwrap().values, 4);
/// assert!(json_cost(&[b'['; 200]).is_err());
/// ```
pub fn json_cost(body: &[u8]) -> Result<DecodeCost, ScanError> {
    // Every value but the first follows a `[`, `,` or `:`, and every `{` starts
    // an object: counting those bounds the values (and object keys) from above.
    let mut cost = DecodeCost {
        values: 1,
        ..DecodeCost::default()
    };
    let mut depth: u32 = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut string_start = 0usize;
    for (at, &byte) in body.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
                let len = (at - string_start) as u64;
                cost.longest_string = cost.longest_string.max(len);
            }
            continue;
        }
        match byte {
            b'"' => {
                in_string = true;
                string_start = at + 1;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_NESTING {
                    return Err(ScanError::TooDeep {
                        limit: MAX_JSON_NESTING,
                    });
                }
                cost.depth = cost.depth.max(depth);
                cost.values += 1;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' | b':' => cost.values += 1,
            _ => {}
        }
    }
    Ok(cost)
}

/// Counts the fields of an OTLP `ExportTraceServiceRequest` in protobuf form,
/// its nesting and its spans, without decoding it.
///
/// ```
/// use honeyhive_model::cost::protobuf_trace_cost;
/// use honeyhive_model::otlp::ExportTraceServiceRequest;
/// use prost::Message;
/// let bytes = ExportTraceServiceRequest::default().encode_to_vec();
/// assert_eq!(protobuf_trace_cost(&bytes).unwrap().spans, 0);
/// assert!(protobuf_trace_cost(&[0x0a, 0x05]).is_err());
/// ```
pub fn protobuf_trace_cost(body: &[u8]) -> Result<DecodeCost, ScanError> {
    let mut cost = DecodeCost::default();
    scan_message(body, Message::Request, 1, &mut cost)?;
    Ok(cost)
}

/// The messages of the OTLP trace schema whose fields nest further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    Request,
    ResourceSpans,
    Resource,
    ScopeSpans,
    Scope,
    Span,
    SpanEvent,
    SpanLink,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

impl Message {
    /// The message type of field `number`, when that field is a nested message
    /// the scan must enter (strings, bytes and unknown fields are skipped).
    fn child(self, number: u64) -> Option<Message> {
        use Message::*;
        match (self, number) {
            (Request, 1) => Some(ResourceSpans),
            (ResourceSpans, 1) => Some(Resource),
            (ResourceSpans, 2) => Some(ScopeSpans),
            (Resource, 1) | (Scope, 3) | (Span, 9) | (SpanEvent, 3) | (SpanLink, 4) => {
                Some(KeyValue)
            }
            (ScopeSpans, 1) => Some(Scope),
            (ScopeSpans, 2) => Some(Span),
            (Span, 11) => Some(SpanEvent),
            (Span, 13) => Some(SpanLink),
            (KeyValue, 2) | (ArrayValue, 1) => Some(AnyValue),
            (AnyValue, 5) => Some(ArrayValue),
            (AnyValue, 6) => Some(KeyValueList),
            (KeyValueList, 1) => Some(KeyValue),
            _ => None,
        }
    }
}

fn scan_message(
    mut body: &[u8],
    message: Message,
    depth: u32,
    cost: &mut DecodeCost,
) -> Result<(), ScanError> {
    if depth > MAX_PROTOBUF_NESTING {
        return Err(ScanError::TooDeep {
            limit: MAX_PROTOBUF_NESTING,
        });
    }
    cost.depth = cost.depth.max(depth);
    if message == Message::Span {
        cost.spans += 1;
    }
    while !body.is_empty() {
        let key = read_varint(&mut body)?;
        let (number, wire_type) = (key >> 3, key & 0x7);
        cost.values += 1;
        match wire_type {
            0 => {
                read_varint(&mut body)?;
            }
            1 => body = body.get(8..).ok_or(ScanError::Malformed)?,
            5 => body = body.get(4..).ok_or(ScanError::Malformed)?,
            2 => {
                let len =
                    usize::try_from(read_varint(&mut body)?).map_err(|_| ScanError::Malformed)?;
                if len > body.len() {
                    return Err(ScanError::Malformed);
                }
                let (field, rest) = body.split_at(len);
                if let Some(child) = message.child(number) {
                    scan_message(field, child, depth + 1, cost)?;
                }
                body = rest;
            }
            _ => return Err(ScanError::Malformed),
        }
    }
    Ok(())
}

fn read_varint(body: &mut &[u8]) -> Result<u64, ScanError> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = body.split_first().ok_or(ScanError::Malformed)?;
        *body = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ScanError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_counted_from_above_and_strings_are_opaque() {
        assert_eq!(json_cost(b"{}").unwrap().values, 2);
        let cost = json_cost(br#"{"a":1,"b":[true,null]}"#).unwrap();
        // object, 2 keys, 1, array, true, null = 7; the count may only be higher.
        assert!(cost.values >= 7 && cost.values <= 8, "{cost:?}");
        assert_eq!(cost.depth, 2);
        let quoted = json_cost(br#"["[{,:\"]}"]"#).unwrap();
        assert_eq!(quoted.depth, 1);
        assert_eq!(quoted.values, 2);
        assert_eq!(quoted.longest_string, 8);
    }

    #[test]
    fn json_nesting_past_the_limit_is_refused() {
        let deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert_eq!(json_cost(deep.as_bytes()).unwrap().depth, 128);
        let deeper = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert_eq!(
            json_cost(deeper.as_bytes()),
            Err(ScanError::TooDeep { limit: 128 })
        );
    }

    #[test]
    fn protobuf_fields_and_spans_are_counted() {
        use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        use prost::Message as _;

        let array = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue::default(); 1000],
            })),
        };
        let span = Span {
            name: "s".into(),
            attributes: vec![KeyValue {
                key: "k".into(),
                value: Some(array),
                ..KeyValue::default()
            }],
            ..Span::default()
        };
        let request = crate::otlp::ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span; 3],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let cost = protobuf_trace_cost(&request.encode_to_vec()).unwrap();
        assert_eq!(cost.spans, 3);
        assert!(cost.values > 3000, "{cost:?}");
        assert_eq!(cost.depth, 8);
    }

    #[test]
    fn broken_protobuf_framing_is_refused() {
        assert_eq!(
            protobuf_trace_cost(&[0x0a, 0x7f, 0x00]),
            Err(ScanError::Malformed)
        );
        assert_eq!(protobuf_trace_cost(&[0xff; 11]), Err(ScanError::Malformed));
    }
}
