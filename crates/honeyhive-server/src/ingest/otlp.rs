//! OTLP trace requests → store write batches. Pure and blocking: callers run
//! it on the blocking pool (`spawn_blocking`), never on the async request path.

use std::collections::BTreeMap;

use std::io::Read;

use honeyhive_model::cost::{DecodeCost, Format, json_cost, protobuf_trace_cost};
use honeyhive_model::mapping::{MappedBatch, RejectedSpan, SessionSeen, map_request};
use honeyhive_model::otlp::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse, decode_json,
    decode_protobuf,
};
use honeyhive_model::{ErrorCode, ErrorCoded, ModelError};
use prost::Message;

use crate::ingest::budget::{Refusal, RequestBudget};
use crate::ingest::fields::oversized_field;
use crate::store::{SessionSighting, WriteBatch};

/// The body encodings of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (protobuf-JSON mapping).
    Json,
}

impl OtlpEncoding {
    /// The encoding a `Content-Type` names, if any (parameters ignored).
    ///
    /// ```
    /// use honeyhive_server::ingest::otlp::OtlpEncoding;
    /// assert_eq!(OtlpEncoding::from_content_type("application/json; charset=utf-8"), Some(OtlpEncoding::Json));
    /// assert_eq!(OtlpEncoding::from_content_type("text/html"), None);
    /// ```
    pub fn from_content_type(content_type: &str) -> Option<OtlpEncoding> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/x-protobuf"
            | "application/protobuf"
            | "application/vnd.google.protobuf" => Some(OtlpEncoding::Protobuf),
            "application/json" => Some(OtlpEncoding::Json),
            _ => None,
        }
    }

    /// Low-cardinality metric label: `json` or `protobuf`.
    pub fn label(self) -> &'static str {
        match self {
            OtlpEncoding::Json => "json",
            OtlpEncoding::Protobuf => "protobuf",
        }
    }

    /// The `Content-Type` to answer with.
    pub fn content_type(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "application/x-protobuf",
            OtlpEncoding::Json => "application/json",
        }
    }
}

/// A mapped request, ready to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreparedBatch {
    /// What to write.
    pub batch: WriteBatch,
    /// Spans in the request.
    pub spans_received: u64,
    /// Spans that could not be mapped.
    pub rejected: Vec<RejectedSpan>,
}

impl PreparedBatch {
    /// Rejected spans counted by reason (for metrics).
    pub fn rejected_by_reason(&self) -> BTreeMap<&str, u64> {
        let mut counts = BTreeMap::new();
        for r in &self.rejected {
            *counts.entry(r.reason.as_str()).or_insert(0) += 1;
        }
        counts
    }

    /// The OTLP answer: `partial_success` set when spans were rejected.
    pub fn response(&self) -> ExportTraceServiceResponse {
        if self.rejected.is_empty() {
            return ExportTraceServiceResponse::default();
        }
        let reasons: Vec<String> = self
            .rejected_by_reason()
            .into_iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: self.rejected.len() as i64,
                error_message: format!("rejected spans: {}", reasons.join(", ")),
            }),
        }
    }
}

/// Decodes an OTLP body (already decompressed).
pub fn decode(raw: &[u8], encoding: OtlpEncoding) -> Result<ExportTraceServiceRequest, ModelError> {
    match encoding {
        OtlpEncoding::Protobuf => decode_protobuf(raw),
        OtlpEncoding::Json => decode_json(raw),
    }
}

/// What decoding an OTLP body (already decompressed) will take, read off its
/// bytes before any of it is decoded. A body the scan cannot read is refused
/// as [`decode`] refuses an undecodable one.
///
/// ```
/// use honeyhive_model::{ErrorCode, ErrorCoded};
/// use honeyhive_server::ingest::otlp::{OtlpEncoding, measure};
/// let (_, cost) = measure(br#"{"resourceSpans": []}"#, OtlpEncoding::Json).unwrap();
/// assert!(cost.values > 0);
/// let deep = "[".repeat(200);
/// let refused = measure(deep.as_bytes(), OtlpEncoding::Json).unwrap_err();
/// assert_eq!(refused.code(), ErrorCode::BadRequest);
/// assert_eq!(refused.hint(), Some("send an OTLP ExportTraceServiceRequest"));
/// ```
pub fn measure(raw: &[u8], encoding: OtlpEncoding) -> Result<(Format, DecodeCost), ModelError> {
    match encoding {
        OtlpEncoding::Json => json_cost(raw)
            .map(|cost| (Format::OtlpJson, cost))
            .map_err(|e| ModelError::Json(e.to_string())),
        OtlpEncoding::Protobuf => protobuf_trace_cost(raw)
            .map(|cost| (Format::OtlpProtobuf, cost))
            .map_err(|e| ModelError::Protobuf(e.to_string())),
    }
}

/// Why a gzip body could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// Not a gzip stream.
    #[error("invalid gzip body: {0}")]
    Gzip(String),
    /// Inflates past `limit` bytes.
    #[error("decompressed body exceeds {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: usize,
    },
    /// The inflated bytes do not fit the request's budget.
    #[error("decompressed body does not fit the in-flight memory budget")]
    OverBudget(Refusal),
}

/// A body that is not gzip is a bad request; one that inflates past the limit
/// or the budget is too large (a server answers a budget refusal with its
/// budget's own figures and retry delay, see [`Refusal`]).
impl ErrorCoded for InflateError {
    fn code(&self) -> ErrorCode {
        match self {
            InflateError::Gzip(_) => ErrorCode::BadRequest,
            InflateError::TooLarge { .. } => ErrorCode::PayloadTooLarge,
            InflateError::OverBudget(refusal) => refusal.code(),
        }
    }

    fn hint(&self) -> Option<&str> {
        match self {
            InflateError::Gzip(_) => None,
            InflateError::TooLarge { .. } => Some("send smaller batches"),
            InflateError::OverBudget(refusal) => Some(refusal.hint()),
        }
    }
}

/// Inflates a gzip body (concatenated members read as one stream), charging
/// its memory to `budget` before it is allocated, and refusing to pass
/// `max_len` bytes.
///
/// The size the gzip trailer states sizes the buffer when it is within the
/// limit; a body that inflates past it grows the buffer by doubling, each
/// growth charged with the old buffer it copies from, which is given back once
/// freed.
///
/// ```
/// use std::io::Write;
/// use std::sync::Arc;
/// use honeyhive_server::ingest::budget::{Budget, RequestBudget};
/// use honeyhive_server::ingest::otlp::inflate;
/// let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
/// gz.write_all(&[b'a'; 100_000]).unwrap();
/// let body = gz.finish().unwrap();
/// let budget = RequestBudget::new(Budget::try_acquire(&Arc::new(Budget::new(1 << 20, 1)), 0).unwrap());
/// assert_eq!(inflate(&body, 100_000, &budget).unwrap().len(), 100_000);
/// assert!(budget.charged() >= 100_000);
/// assert!(inflate(&body, 99_999, &budget).is_err());
/// ```
pub fn inflate(
    body: &[u8],
    max_len: usize,
    budget: &RequestBudget,
) -> Result<Vec<u8>, InflateError> {
    const STEP: usize = 256 * 1024;
    let stated = body
        .len()
        .checked_sub(4)
        .and_then(|at| body.get(at..))
        .and_then(|tail| <[u8; 4]>::try_from(tail).ok())
        .map(|tail| u32::from_le_bytes(tail) as usize)
        .filter(|&n| n <= max_len);
    // One byte past the stated size tells a lying trailer from the end.
    let initial = stated
        .map_or(STEP, |n| n + 1)
        .min(max_len.saturating_add(1));
    budget.try_grow(initial).map_err(InflateError::OverBudget)?;
    let mut out: Vec<u8> = Vec::with_capacity(initial);
    let mut decoder = flate2::read::MultiGzDecoder::new(body);
    loop {
        if out.len() == out.capacity() {
            let old = out.capacity();
            let new = (old * 2)
                .max(old + STEP)
                .min(max_len.saturating_add(1).max(old + 1));
            // The copy holds the old buffer and the new one at once.
            budget.try_grow(new).map_err(InflateError::OverBudget)?;
            out.reserve_exact(new - out.len());
            budget.release(old);
        }
        let start = out.len();
        let room = out.capacity() - start;
        out.resize(start + room.min(STEP), 0);
        let n = decoder
            .read(&mut out[start..])
            .map_err(|e| InflateError::Gzip(e.to_string()))?;
        out.truncate(start + n);
        if out.len() > max_len {
            return Err(InflateError::TooLarge { limit: max_len });
        }
        if n == 0 {
            return Ok(out);
        }
    }
}

/// Spans in a decoded request.
pub fn span_count(request: &ExportTraceServiceRequest) -> u64 {
    request
        .resource_spans
        .iter()
        .flat_map(|r| r.scope_spans.iter())
        .map(|s| s.spans.len() as u64)
        .sum()
}

/// Maps a decoded request to a write batch; spans with a field over
/// `max_field_bytes` are rejected (`field_too_large`).
pub fn prepare(request: &ExportTraceServiceRequest, max_field_bytes: usize) -> PreparedBatch {
    let spans_received = span_count(request);
    let MappedBatch {
        mut events,
        sessions,
        mut rejected,
    } = map_request(request);
    events.retain(|event| match oversized_field(event, max_field_bytes) {
        Some(_) => {
            // An event id is a UUID of the trace id's first 8 bytes and the span id.
            let hex: String = event.event_id.chars().filter(|c| *c != '-').collect();
            rejected.push(RejectedSpan {
                span_id: hex.get(16..).unwrap_or_default().to_string(),
                reason: "field_too_large".to_string(),
            });
            false
        }
        None => true,
    });
    PreparedBatch {
        batch: WriteBatch {
            events,
            sessions: sessions.into_iter().map(sighting).collect(),
            enrichments: Vec::new(),
        },
        spans_received,
        rejected,
    }
}

fn sighting(seen: SessionSeen) -> SessionSighting {
    SessionSighting {
        session_id: seen.session_id,
        session_name: seen.session_name,
        source: seen.source,
        user_properties: seen.user_properties,
        start_time: (seen.start_time > 0.0).then_some(seen.start_time),
        end_time: (seen.end_time > 0.0).then_some(seen.end_time),
    }
}

/// Encodes an OTLP response in `encoding`.
pub fn encode_response(response: &ExportTraceServiceResponse, encoding: OtlpEncoding) -> Vec<u8> {
    match encoding {
        OtlpEncoding::Protobuf => response.encode_to_vec(),
        OtlpEncoding::Json => {
            // Protobuf-JSON mapping: camelCase, int64 as a string, empty when unset.
            let value = match &response.partial_success {
                Some(p) => serde_json::json!({"partialSuccess": {
                    "rejectedSpans": p.rejected_spans.to_string(),
                    "errorMessage": p.error_message,
                }}),
                None => serde_json::json!({}),
            };
            value.to_string().into_bytes()
        }
    }
}
