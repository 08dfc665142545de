//! W3C `traceparent` and `baggage` propagation across services.
//!
//! The caller injects the current span as `traceparent` and the current HoneyHive
//! session as baggage `session_id=<id>`; the callee extracts both, so its spans join
//! the caller's trace *and* session.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use crate::tracer::{ScopedSession, Tracer};

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const BAGGAGE: &str = "baggage";

/// The current span as a W3C `traceparent` value, if a span is current.
///
/// ```
/// assert_eq!(honeyhive::propagation::traceparent(), None);
/// ```
pub fn traceparent() -> Option<String> {
    Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| {
            format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            )
        })
    })
}

/// Parse a W3C `traceparent` value into a remote span context.
///
/// ```
/// let sc = honeyhive::propagation::parse_traceparent(
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert!(sc.is_sampled() && sc.is_remote());
/// ```
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let flags = parts.next()?;
    if version.len() != 2
        || version == "ff"
        || trace_id.len() != 32
        || span_id.len() != 16
        || flags.len() != 2
    {
        return None;
    }
    if u8::from_str_radix(version, 16).is_err() || (version == "00" && parts.next().is_some()) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let sc = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    sc.is_valid().then_some(sc)
}

fn baggage_session_id(baggage: &str) -> Option<String> {
    baggage.split(',').find_map(|member| {
        let (kv, _properties) = member.split_once(';').unwrap_or((member, ""));
        let (key, value) = kv.split_once('=')?;
        (key.trim() == "session_id")
            .then(|| value.trim().to_owned())
            .filter(|v| !v.is_empty())
    })
}

impl Tracer {
    /// Write `traceparent` (+ `tracestate`) for the current span and baggage
    /// `session_id` for the current session into outgoing headers.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let tracer = honeyhive::Tracer::builder().test_mode(true).build().unwrap();
    /// let mut headers = HashMap::new();
    /// tracer.inject_context(&mut headers);
    /// assert_eq!(headers["baggage"], format!("session_id={}", tracer.session_id()));
    /// ```
    pub fn inject_context(&self, headers: &mut dyn Injector) {
        if let Some(value) = traceparent() {
            headers.set(TRACEPARENT, value);
            let state = Context::map_current(|cx| cx.span().span_context().trace_state().header());
            if !state.is_empty() {
                headers.set(TRACESTATE, state);
            }
        }
        headers.set(BAGGAGE, format!("session_id={}", self.current_session_id()));
    }

    /// Build a context from incoming headers: the remote span becomes the parent of
    /// spans started inside it, and a baggage `session_id` becomes their session.
    /// Attach it (`let _g = cx.attach();`) or pass it to `with_context`.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let tracer = honeyhive::Tracer::builder().test_mode(true).build().unwrap();
    /// let headers = HashMap::from([
    ///     ("traceparent".to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string()),
    ///     ("baggage".to_string(), "session_id=abc".to_string()),
    /// ]);
    /// let _guard = tracer.extract_context(&headers).attach();
    /// assert_eq!(tracer.current_session_id(), "abc");
    /// ```
    pub fn extract_context(&self, headers: &dyn Extractor) -> Context {
        let mut cx = Context::current();
        if let Some(mut sc) = headers.get(TRACEPARENT).and_then(parse_traceparent) {
            if let Some(state) = headers
                .get(TRACESTATE)
                .and_then(|s| s.parse::<TraceState>().ok())
            {
                sc = SpanContext::new(sc.trace_id(), sc.span_id(), sc.trace_flags(), true, state);
            }
            cx = cx.with_remote_span_context(sc);
        }
        if let Some(session_id) = headers.get(BAGGAGE).and_then(baggage_session_id) {
            cx = cx.with_value(ScopedSession::extracted(&session_id, self));
        }
        cx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_traceparents_are_rejected() {
        assert!(
            parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none()
        );
        assert!(
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7").is_none()
        );
        assert!(
            parse_traceparent("zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_none()
        );
        let sc =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert!(!sc.is_sampled());
    }

    #[test]
    fn baggage_session_is_found_among_other_members() {
        assert_eq!(
            baggage_session_id("a=1, session_id=xyz;p=1,b=2").as_deref(),
            Some("xyz")
        );
        assert_eq!(baggage_session_id("a=1"), None);
    }
}
