//! Feature `tracing`: a [`tracing_subscriber::Layer`] that turns `tracing` spans (e.g.
//! from `#[tracing::instrument]`) into HoneyHive events.
//!
//! | `tracing`                                   | HoneyHive event                          |
//! |---------------------------------------------|------------------------------------------|
//! | span name                                   | event name (`honeyhive_event_name`)      |
//! | field `event_type` (`model`/`tool`/`chain`) | event type; default `tool`               |
//! | field `metadata.<key>`                      | `honeyhive_metadata.<key>`               |
//! | field `output` / `result`                   | `honeyhive_outputs.result`               |
//! | field `error`, or an `ERROR` event inside   | `honeyhive_error`, status ERROR          |
//! | any other field                             | `honeyhive_inputs.<field>`               |
//! | parent span (the `tracing` span tree)       | parent event                             |
//!
//! While a `tracing` span is entered its HoneyHive span is current in the
//! OpenTelemetry context, so `#[honeyhive::trace]` functions and other OpenTelemetry
//! instrumentation called inside nest under it; a `tracing` span opened inside a
//! traced function nests under that function's span and belongs to its session.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use honeyhive_model::EventType;
use honeyhive_model::attributes::{self as keys, Namespace};
use opentelemetry::{Context, ContextGuard};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

use crate::record::AttrValue;
use crate::span::{self, Recorder, SpanGuard};
use crate::tracer::{Tracer, TracerInner};

/// Which tracer a [`HoneyHiveLayer`] records into.
#[derive(Clone)]
enum Target {
    /// Holds the tracer's state, not a user handle: dropping the user's last
    /// [`Tracer`] still flushes.
    Fixed(Arc<TracerInner>),
    /// Whatever [`crate::set_default_tracer`] set when the span starts.
    Default,
}

/// A `tracing_subscriber` layer recording `tracing` spans as HoneyHive events.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let tracer = honeyhive::Tracer::builder().test_mode(true).build()?;
/// let subscriber = tracing_subscriber::registry().with(honeyhive::HoneyHiveLayer::new(&tracer));
/// tracing::subscriber::with_default(subscriber, || {
///     #[tracing::instrument(fields(event_type = "model"))]
///     fn call_llm(prompt: &str) -> usize { prompt.len() }
///     call_llm("hello");
/// });
/// # Ok::<(), honeyhive::Error>(())
/// ```
#[derive(Clone)]
pub struct HoneyHiveLayer {
    target: Target,
}

impl fmt::Debug for HoneyHiveLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HoneyHiveLayer").finish_non_exhaustive()
    }
}

impl HoneyHiveLayer {
    /// Record into `tracer` (its session, source and exporter).
    pub fn new(tracer: &Tracer) -> HoneyHiveLayer {
        HoneyHiveLayer {
            target: Target::Fixed(tracer.inner().clone()),
        }
    }

    /// Record into the default tracer current when each span starts (nothing when
    /// none is set).
    pub fn for_default_tracer() -> HoneyHiveLayer {
        HoneyHiveLayer {
            target: Target::Default,
        }
    }

    fn tracer(&self) -> Option<Arc<TracerInner>> {
        match &self.target {
            Target::Fixed(inner) => Some(inner.clone()),
            Target::Default => crate::default_tracer::default_tracer().map(|t| t.inner().clone()),
        }
    }
}

/// The HoneyHive span of a `tracing` span, kept in its extensions.
struct LayerSpan {
    guard: SpanGuard,
}

thread_local! {
    /// OpenTelemetry context guards of the `tracing` spans entered on this thread.
    static ENTERED: RefCell<Vec<(Id, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

fn is_entered_here(id: &Id) -> bool {
    ENTERED
        .try_with(|entered| {
            entered
                .borrow()
                .iter()
                .any(|(entered_id, _)| entered_id == id)
        })
        .unwrap_or(false)
}

/// The event type a field names by its exact wire name; `tool` for anything else.
fn event_type_of(value: &str) -> EventType {
    EventType::ALL
        .into_iter()
        .find(|event_type| event_type.as_str() == value)
        .unwrap_or(EventType::Tool)
}

/// Collects fields into attributes, the event type and an error.
#[derive(Default)]
struct FieldVisitor {
    event_type: Option<EventType>,
    attributes: Vec<(Cow<'static, str>, AttrValue)>,
    error: Option<String>,
    message: Option<String>,
}

impl FieldVisitor {
    fn key(field: &Field) -> Option<Cow<'static, str>> {
        let name = field.name();
        match name {
            "event_type" | "error" | "message" => None,
            "output" | "result" => Some(Cow::Borrowed(keys::OUTPUTS_RESULT)),
            _ => Some(Cow::Owned(match name.strip_prefix("metadata.") {
                Some(rest) => Namespace::Metadata.key(rest),
                None => Namespace::Inputs.key(name),
            })),
        }
    }

    fn push(&mut self, field: &Field, value: AttrValue) {
        if let Some(key) = Self::key(field) {
            self.attributes.push((key, value));
        }
    }

    fn text(&mut self, field: &Field, text: String) {
        match field.name() {
            "event_type" => self.event_type = Some(event_type_of(&text)),
            "error" => self.error = Some(text),
            "message" => self.message = Some(text),
            _ => self.push(field, AttrValue::Str(Cow::Owned(text))),
        }
    }
}

impl Visit for FieldVisitor {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, AttrValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(v) => self.push(field, AttrValue::Int(v)),
            Err(_) => self.text(field, value.to_string()),
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, AttrValue::Double(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, AttrValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "event_type" | "error" | "message" => self.text(field, value.to_owned()),
            _ => self.push(field, AttrValue::string(value)),
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }
}

impl FieldVisitor {
    fn apply(self, recorder: &mut Recorder<'_>) {
        for (key, value) in self.attributes {
            recorder.record_attribute(key, value);
        }
        if let Some(error) = self.error {
            recorder.record_error("error", &error);
        }
    }
}

impl<S> Layer<S> for HoneyHiveLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(tracer) = self.tracer() else {
            return;
        };
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let mut fields = FieldVisitor::default();
        attrs.record(&mut fields);
        // Parent: the nearest `tracing` ancestor we record. When that ancestor is
        // entered on this thread, the OpenTelemetry context is at least as specific (it
        // also holds #[trace] spans opened inside it), so the current context is used;
        // an ancestor not entered here (explicit parent, another thread) gives its own.
        let parent = span_ref.scope().skip(1).find_map(|ancestor| {
            ancestor
                .extensions()
                .get::<LayerSpan>()
                .map(|s| (ancestor.id(), s.guard.context().clone()))
        });
        let _parent = parent
            .filter(|(parent_id, _)| !is_entered_here(parent_id))
            .map(|(_, cx)| Context::attach(cx));
        let metadata = attrs.metadata();
        let event_type = fields.event_type.unwrap_or(EventType::Tool);
        let hint = fields.attributes.len() + 1;
        let guard = span::start(
            &tracer,
            Cow::Borrowed(metadata.name()),
            event_type,
            true,
            hint,
            |recorder| fields.apply(recorder),
        );
        if let Some(guard) = guard {
            span_ref.extensions_mut().insert(LayerSpan { guard });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let extensions = span_ref.extensions();
        if let Some(layer_span) = extensions.get::<LayerSpan>() {
            let mut fields = FieldVisitor::default();
            values.record(&mut fields);
            layer_span
                .guard
                .record_with(|recorder| fields.apply(recorder));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let mut fields = FieldVisitor::default();
        event.record(&mut fields);
        let is_error = *event.metadata().level() == Level::ERROR || fields.error.is_some();
        if !is_error {
            return;
        }
        let Some(span_ref) = ctx.event_span(event) else {
            return;
        };
        let extensions = span_ref.extensions();
        if let Some(layer_span) = extensions.get::<LayerSpan>() {
            let message = fields
                .error
                .or(fields.message)
                .unwrap_or_else(|| event.metadata().name().to_owned());
            layer_span.guard.record_error("error", &message);
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let extensions = span_ref.extensions();
        if let Some(layer_span) = extensions.get::<LayerSpan>() {
            let guard = layer_span.guard.context().clone().attach();
            let _ = ENTERED.try_with(|entered| entered.borrow_mut().push((id.clone(), guard)));
        }
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        let _ = ENTERED.try_with(|entered| {
            let mut entered = entered.borrow_mut();
            if let Some(pos) = entered.iter().rposition(|(entered_id, _)| entered_id == id) {
                let (_, guard) = entered.remove(pos);
                drop(entered);
                drop(guard);
            }
        });
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span_ref) = ctx.span(&id) else {
            return;
        };
        let layer_span = span_ref.extensions_mut().remove::<LayerSpan>();
        if let Some(layer_span) = layer_span {
            layer_span.guard.end();
        }
    }
}
