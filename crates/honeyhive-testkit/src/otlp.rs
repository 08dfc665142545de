//! Looking into what an OTLP client sent, and sending the way exporters do.
//!
//! ```
//! use honeyhive_testkit::otlp::{attr, str_attr};
//! use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
//! use opentelemetry_proto::tonic::trace::v1::Span;
//!
//! let span = Span {
//!     attributes: vec![KeyValue {
//!         key: "honeyhive_event_type".into(),
//!         value: Some(AnyValue { value: Some(Value::StringValue("tool".into())) }),
//!         ..KeyValue::default()
//!     }],
//!     ..Span::default()
//! };
//! assert_eq!(str_attr(&span, "honeyhive_event_type"), Some("tool"));
//! assert!(attr(&span, "honeyhive_inputs.x").is_none());
//! ```

use std::io::Write;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;

/// The value of the span's attribute `key`, if it has one.
pub fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()
}

/// The span's attribute `key`, if it is a string.
pub fn str_attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key) {
        Some(Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// `bytes` gzipped, as an exporter sends a body with `content-encoding: gzip` (at the
/// best compression, so a bomb of zeros stays small on the wire).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}
