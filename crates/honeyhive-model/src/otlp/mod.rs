//! Decoding and encoding OTLP trace export requests.
//!
//! Three wire forms reach the platform: OTLP/HTTP protobuf, OTLP/HTTP JSON
//! (the protobuf-JSON mapping, as the HoneyHive Python SDK sends by default) and
//! OTLP/gRPC (already decoded by tonic). Bodies may be gzip-compressed.
//!
//! [`decode_json`] is deliberately lenient, because real exporters disagree on the
//! details of the JSON mapping:
//!
//! | what                 | accepted                                                       |
//! |----------------------|----------------------------------------------------------------|
//! | trace / span ids     | hex (any case) or base64 (standard or URL-safe)                |
//! | int64 / uint64       | JSON numbers or decimal strings                                |
//! | enums                | numbers, full names (`SPAN_KIND_SERVER`) or short (`server`)   |
//! | keys                 | camelCase or snake_case; `null` is the same as missing         |
//! | `doubleValue`        | number or string, including `"NaN"`, `"Infinity"`              |
//! | attribute values     | `AnyValue` objects, or bare JSON scalars / arrays / objects    |
//!
//! A structurally broken *span* never fails the request: its undecodable ids are
//! replaced by a one-byte marker so that [`crate::mapping::map_request`] rejects
//! just that span (answered as OTLP `partial_success`), while the rest map.
//!
//! ```
//! use honeyhive_model::otlp;
//! let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
//!     "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
//!     "name":"hello","kind":"SPAN_KIND_INTERNAL","startTimeUnixNano":"1000000"}]}]}]}"#;
//! let request = otlp::decode_json(body).unwrap();
//! let span = &request.resource_spans[0].scope_spans[0].spans[0];
//! assert_eq!(span.name, "hello");
//! assert_eq!(span.start_time_unix_nano, 1_000_000);
//! // What we encode, we decode back unchanged.
//! assert_eq!(otlp::decode_json(&otlp::encode_json(&request)).unwrap(), request);
//! ```

mod json_decode;
mod json_encode;

use std::io::Read;

use prost::Message;

use crate::ModelError;

pub use json_decode::decode_json;
pub use json_encode::encode_json;
pub use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

/// Decodes an OTLP/HTTP protobuf body (already decompressed).
///
/// ```
/// use honeyhive_model::otlp::{decode_protobuf, ExportTraceServiceRequest};
/// use prost::Message;
/// let bytes = ExportTraceServiceRequest::default().encode_to_vec();
/// assert_eq!(decode_protobuf(&bytes).unwrap(), ExportTraceServiceRequest::default());
/// assert!(decode_protobuf(&[0xff, 0xff, 0xff]).is_err());
/// ```
pub fn decode_protobuf(body: &[u8]) -> Result<ExportTraceServiceRequest, ModelError> {
    ExportTraceServiceRequest::decode(body).map_err(|e| ModelError::Protobuf(e.to_string()))
}

/// Decompresses a gzip body, refusing to produce more than `max_len` bytes.
///
/// Reading stops as soon as the limit is crossed, so a gzip bomb costs at most
/// `max_len + 1` bytes of memory and yields [`ModelError::TooLarge`].
/// Concatenated gzip members are read as one stream (as `gzip` produces them).
///
/// ```
/// use std::io::Write;
/// let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
/// gz.write_all(&[b'a'; 1000]).unwrap();
/// let body = gz.finish().unwrap();
/// assert_eq!(honeyhive_model::otlp::gunzip(&body, 1000).unwrap().len(), 1000);
/// assert!(honeyhive_model::otlp::gunzip(&body, 999).is_err());
/// ```
pub fn gunzip(body: &[u8], max_len: usize) -> Result<Vec<u8>, ModelError> {
    let limit = u64::try_from(max_len).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max_len).min(1 << 20));
    flate2::read::MultiGzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| ModelError::Gzip(e.to_string()))?;
    if out.len() > max_len {
        return Err(ModelError::TooLarge { limit: max_len });
    }
    Ok(out)
}
