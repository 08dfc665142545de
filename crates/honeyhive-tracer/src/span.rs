//! The recording path: starting a span, making it current in the OpenTelemetry
//! [`Context`], recording inputs/outputs/errors, and handing it to the pipeline.
//!
//! A HoneyHive span lives in the `opentelemetry` context as [`ContextSpan`], a type
//! implementing [`opentelemetry::trace::Span`]. Other OpenTelemetry instrumentation
//! therefore sees it as the parent of its own spans, and
//! `Context::current().span().set_attribute(..)` enriches it. Conversely our spans
//! take their parent from whatever span is current, ours or not.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use honeyhive_model::EventType;
use honeyhive_model::attributes as keys;
use opentelemetry::trace::{
    SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use parking_lot::Mutex;
use serde::Serialize;

use crate::attributes;
use crate::export::{DropReason, Pipeline};
use crate::record::{AttrValue, SpanEvent, SpanRecord, SpanStatus, ids, now_unix_nano};
use crate::tracer::{ScopedSession, TracerInner};

/// Static description of a traced function, emitted once per call site by `#[trace]`.
#[doc(hidden)]
#[derive(Debug)]
pub struct SpanMeta {
    /// Span and event name.
    pub name: &'static str,
    /// `Model`, `Tool` or `Chain`.
    pub event_type: EventType,
    /// Whether the name was given explicitly (then `honeyhive_event_name` is set, as in Python).
    pub explicit_name: bool,
    /// How many attributes a call usually records (captured inputs, options, output):
    /// the attribute list is allocated once at the right size.
    pub attributes_hint: usize,
}

/// Attributes every span stores besides the macro's: the duration (the event type
/// and name are added at encode time).
const BASE_ATTRIBUTES: usize = 1;

/// State shared by the context's span handle and the guard that ends the span.
pub(crate) struct SpanShared {
    /// Set once the record has been taken: the guard's drop, the context's last
    /// reference and `is_recording` check it without taking the lock or the clock.
    ended: AtomicBool,
    /// Boxed so that ending the span moves a pointer, not the record, through the
    /// queue; the box comes back from the worker for reuse.
    record: Mutex<Option<Box<SpanRecord>>>,
    pipeline: Arc<Pipeline>,
}

impl SpanShared {
    fn new(record: Option<Box<SpanRecord>>, pipeline: Arc<Pipeline>) -> SpanShared {
        SpanShared {
            ended: AtomicBool::new(record.is_none()),
            record: Mutex::new(record),
            pipeline,
        }
    }

    pub(crate) fn with_record<R>(&self, f: impl FnOnce(&mut SpanRecord) -> R) -> Option<R> {
        self.record.lock().as_deref_mut().map(f)
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// End the span now unless it already ended.
    pub(crate) fn end_now(&self) {
        if !self.is_ended() {
            self.end_at(now_unix_nano());
        }
    }

    /// End the span once; later calls do nothing.
    pub(crate) fn end_at(&self, end_unix_nano: u64) {
        self.end_with(|_| {}, || end_unix_nano);
    }

    /// Take the record (once), let `last` record into it, stamp the end time and hand
    /// it to the pipeline. The lock is held only to take the record out: once taken,
    /// nobody else can reach it. (`honeyhive_duration_ms` is added by the worker.)
    fn end_with(&self, last: impl FnOnce(&mut SpanRecord), end_unix_nano: impl FnOnce() -> u64) {
        let Some(mut record) = self.record.lock().take() else {
            return;
        };
        self.ended.store(true, Ordering::Release);
        last(&mut record);
        record.end_unix_nano = end_unix_nano().max(record.start_unix_nano);
        if !record.sampled && !matches!(record.status, SpanStatus::Error(_)) {
            self.pipeline.count_drop(DropReason::SampledOut, 1);
            return;
        }
        self.pipeline.push(record);
    }
}

impl Drop for SpanShared {
    fn drop(&mut self) {
        // A span whose guard was leaked through the context still gets exported.
        self.end_now();
    }
}

/// The span as the OpenTelemetry context holds it.
pub(crate) struct ContextSpan {
    shared: Arc<SpanShared>,
    span_context: SpanContext,
}

impl std::fmt::Debug for ContextSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextSpan")
            .field("span_context", &self.span_context)
            .finish()
    }
}

impl opentelemetry::trace::Span for ContextSpan {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: std::time::SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        let time_unix_nano = timestamp
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let name = name.into();
        self.shared.with_record(|record| {
            record.events.push(SpanEvent {
                name,
                time_unix_nano,
                attributes: attributes
                    .into_iter()
                    .map(|kv| {
                        (
                            Cow::Owned(kv.key.as_str().to_owned()),
                            AttrValue::from_otel(kv.value),
                        )
                    })
                    .collect(),
            })
        });
    }

    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }

    fn is_recording(&self) -> bool {
        !self.shared.is_ended()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        let key = Cow::Owned(attribute.key.as_str().to_owned());
        let value = AttrValue::from_otel(attribute.value);
        self.shared.with_record(|record| record.set(key, value));
    }

    fn set_status(&mut self, status: Status) {
        self.shared.with_record(|record| {
            record.status = match status {
                Status::Unset => SpanStatus::Unset,
                Status::Ok => SpanStatus::Ok,
                Status::Error { description } => SpanStatus::Error(description.into_owned()),
            }
        });
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        let name = new_name.into();
        self.shared.with_record(|record| record.name = name);
    }

    fn add_link(&mut self, _span_context: SpanContext, _attributes: Vec<KeyValue>) {
        // Links are not part of the HoneyHive event model; ignored on purpose.
    }

    fn end_with_timestamp(&mut self, timestamp: std::time::SystemTime) {
        let nanos = timestamp
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        self.shared.end_at(nanos);
    }
}

/// A started span, owned by the code `#[trace]` generates (or by [`crate::Tracer::span`]).
///
/// Dropping the guard ends the span, so cancelled futures still export theirs. A
/// tracer that does not record hands out [`SpanGuard::none`]: the same calls work on
/// it and record nothing.
///
/// ```
/// use honeyhive::{EventType, Tracer};
/// let tracer = Tracer::builder().test_mode(true).build()?;
/// let span = tracer.span("step", EventType::Chain);
/// assert!(span.is_none(), "a test-mode tracer records nothing");
/// span.record_output(&42);
/// assert_eq!(span.in_scope(|| 1 + 1), 2);
/// # Ok::<(), honeyhive::BuildError>(())
/// ```
pub struct SpanGuard {
    /// `None` for a span that records nothing.
    shared: Option<Arc<SpanShared>>,
    cx: Context,
}

impl std::fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanGuard")
            .field("none", &self.shared.is_none())
            .finish_non_exhaustive()
    }
}

pub(crate) fn start(
    inner: &TracerInner,
    name: Cow<'static, str>,
    event_type: EventType,
    explicit_name: bool,
    attributes_hint: usize,
    init: impl FnOnce(&mut Recorder<'_>),
) -> Option<SpanGuard> {
    let pipeline = inner.pipeline.as_ref()?;
    let (parent, scoped_session) = Context::map_current(|cx| {
        let current = cx.span();
        let parent_cx = current.span_context();
        let parent = parent_cx.is_valid().then(|| {
            (
                parent_cx.trace_id(),
                parent_cx.span_id(),
                parent_cx.is_sampled(),
                parent_cx.trace_state().clone(),
            )
        });
        let session = cx
            .get::<ScopedSession>()
            .filter(|scoped| scoped.applies_to(inner.id))
            .map(|scoped| scoped.info.clone());
        (parent, session)
    });

    let (trace_id, parent_span_id, sampled, trace_state) = match parent {
        Some((trace_id, span_id, parent_sampled, state)) => (
            trace_id.to_bytes(),
            Some(span_id.to_bytes()),
            parent_sampled,
            state,
        ),
        None => {
            let trace_id = ids::trace_id();
            let sampled = inner.sampler.sample_root(&trace_id);
            (trace_id, None, sampled, TraceState::NONE)
        }
    };
    if !sampled && !inner.sampler.keep_errors {
        pipeline.count_drop(DropReason::SampledOut, 1);
        // Keep the (unsampled) trace context current so children follow the decision.
        let span_context = SpanContext::new(
            TraceId::from_bytes(trace_id),
            SpanId::from_bytes(ids::span_id()),
            TraceFlags::default(),
            false,
            trace_state,
        );
        let shared = Arc::new(SpanShared::new(None, pipeline.clone()));
        let cx = Context::current().with_remote_span_context(span_context);
        return Some(SpanGuard {
            shared: Some(shared),
            cx,
        });
    }

    let span_id = ids::span_id();
    let mut record = pipeline.blank_record(
        scoped_session.unwrap_or_else(|| inner.session.clone()),
        BASE_ATTRIBUTES + attributes_hint,
    );
    record.event_type = event_type;
    record.event_name = explicit_name.then(|| name.clone());
    record.trace_id = trace_id;
    record.span_id = span_id;
    record.parent_span_id = parent_span_id;
    record.name = name;
    record.start_unix_nano = now_unix_nano();
    record.end_unix_nano = 0;
    record.sampled = sampled;
    // Inputs and options are recorded before the span is shared: no lock needed.
    init(&mut Recorder {
        record: &mut record,
    });
    let shared = Arc::new(SpanShared::new(Some(record), pipeline.clone()));
    let span_context = SpanContext::new(
        TraceId::from_bytes(trace_id),
        SpanId::from_bytes(span_id),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
        false,
        trace_state,
    );
    let cx = Context::current_with_span(ContextSpan {
        shared: shared.clone(),
        span_context,
    });
    Some(SpanGuard {
        shared: Some(shared),
        cx,
    })
}

impl SpanGuard {
    /// A span that records nothing (as `tracing`'s `Span::none()`): what a tracer
    /// that does not record hands out. Its context is the one current when it was
    /// made, so code run in its scope keeps its parent span and session.
    pub fn none() -> SpanGuard {
        SpanGuard {
            shared: None,
            cx: Context::current(),
        }
    }

    /// Whether this is [`SpanGuard::none`], a span that records nothing.
    pub fn is_none(&self) -> bool {
        self.shared.is_none()
    }

    /// The context in which this span is current (for `with_context` / `attach`).
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Record an input argument under `key` (`honeyhive_inputs.<arg>`).
    pub fn record_input<T: Serialize + ?Sized>(&self, key: &'static str, value: &T) {
        self.record_with(|r| r.record_input(key, value));
    }

    /// Record a value flattened under `prefix` (outputs, metadata, config, ...).
    pub fn record_flattened<T: Serialize + ?Sized>(&self, prefix: &'static str, value: &T) {
        self.record_with(|r| r.record_flattened(prefix, value));
    }

    /// Record a plain string attribute.
    pub fn record_str(&self, key: &'static str, value: &'static str) {
        self.record_with(|r| r.record_str(key, value));
    }

    /// Record the function's return value as `honeyhive_outputs.result`.
    pub fn record_output<T: Serialize + ?Sized>(&self, value: &T) {
        self.record_with(|r| r.record_output(value));
    }

    /// Mark the span as failed: `honeyhive_error`, `honeyhive_error_type`, status ERROR
    /// and an `exception` event, as the Python SDK records them.
    pub fn record_error(&self, error_type: &str, message: &str) {
        self.record_with(|r| r.record_error(error_type, message));
    }

    /// Record through a [`Recorder`] (one lock for any number of attributes).
    #[doc(hidden)]
    pub fn record_with(&self, f: impl FnOnce(&mut Recorder<'_>)) {
        if let Some(shared) = &self.shared {
            shared.with_record(|record| f(&mut Recorder { record }));
        }
    }

    /// Record the last attributes (the output) and end the span, under one lock.
    #[doc(hidden)]
    pub fn finish_with(&self, f: impl FnOnce(&mut Recorder<'_>)) {
        if let Some(shared) = self.shared.as_ref().filter(|shared| !shared.is_ended()) {
            shared.end_with(|record| f(&mut Recorder { record }), now_unix_nano);
        }
    }

    /// Runs `body` with this span current (as [`Session::in_scope`](crate::Session::in_scope)
    /// does with a session); a panic is recorded on the span, which then ends, and
    /// resumed. For a future, see [`Instrument`](crate::Instrument).
    pub fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        let attached = self.cx.clone().attach();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        drop(attached);
        match result {
            Ok(value) => value,
            Err(payload) => {
                self.record_panic(payload.as_ref());
                self.end();
                std::panic::resume_unwind(payload)
            }
        }
    }

    pub(crate) fn record_panic(&self, payload: &(dyn std::any::Any + Send)) {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-string payload".to_owned());
        self.record_error("panic", &message);
    }

    /// End the span now (also happens on drop).
    pub fn end(&self) {
        if let Some(shared) = &self.shared {
            shared.end_now();
        }
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        self.end();
    }
}

/// Writes attributes into a span's record: handed to `#[trace]`'s generated code
/// while the span is not yet shared (inputs) or under its lock (output).
#[doc(hidden)]
pub struct Recorder<'a> {
    record: &'a mut SpanRecord,
}

impl std::fmt::Debug for Recorder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder<'_> {
    /// Record an input argument under `key` (`honeyhive_inputs.<arg>`).
    pub fn record_input<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) {
        attributes::push_input(&mut self.record.attributes, Cow::Borrowed(key), value);
    }

    /// Record a value flattened under `prefix` (outputs, metadata, config, ...).
    pub fn record_flattened<T: Serialize + ?Sized>(&mut self, prefix: &'static str, value: &T) {
        attributes::push_flattened(&mut self.record.attributes, Cow::Borrowed(prefix), value);
    }

    #[cfg(feature = "tracing")]
    pub(crate) fn record_attribute(&mut self, key: crate::record::AttrKey, value: AttrValue) {
        self.record.set(key, value);
    }

    /// Record a plain string attribute.
    pub fn record_str(&mut self, key: &'static str, value: &'static str) {
        self.record
            .set(Cow::Borrowed(key), AttrValue::Str(Cow::Borrowed(value)));
    }

    /// Record the function's return value as `honeyhive_outputs.result`.
    pub fn record_output<T: Serialize + ?Sized>(&mut self, value: &T) {
        self.record_flattened(keys::OUTPUTS_RESULT, value);
    }

    /// Mark the span as failed (see [`SpanGuard::record_error`]).
    pub fn record_error(&mut self, error_type: &str, message: &str) {
        let now = now_unix_nano();
        let record = &mut *self.record;
        record.set(Cow::Borrowed(keys::ERROR), AttrValue::string(message));
        record.set(
            Cow::Borrowed(keys::ERROR_TYPE),
            AttrValue::string(error_type),
        );
        record.status = SpanStatus::Error(format!("{error_type}: {message}"));
        record.events.push(SpanEvent {
            name: Cow::Borrowed("exception"),
            time_unix_nano: now,
            attributes: vec![
                (
                    Cow::Borrowed("exception.type"),
                    AttrValue::string(error_type),
                ),
                (
                    Cow::Borrowed("exception.message"),
                    AttrValue::string(message),
                ),
                (
                    Cow::Borrowed("exception.escaped"),
                    AttrValue::Str(Cow::Borrowed("False")),
                ),
            ],
        });
    }
}
