//! Enriching the current span ([`enrich_span`]) or session ([`crate::Tracer::enrich_session`]).

use honeyhive_model::attributes::{self as keys, Namespace};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use serde::Serialize;

use crate::attributes;
use crate::record::AttrValue;

/// What to add to a span or session. Each field takes any `Serialize` value (usually a
/// `serde_json::json!` object); objects are flattened into dotted attribute keys.
///
/// ```
/// use honeyhive::Enrichment;
/// use serde_json::json;
///
/// let e = Enrichment::new().metadata(json!({"kind": "leaf"})).metrics(json!({"score": 1.0}));
/// honeyhive::enrich_span(e); // no current span: nothing happens
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct Enrichment {
    pub(crate) metadata: Option<serde_json::Value>,
    pub(crate) metrics: Option<serde_json::Value>,
    pub(crate) feedback: Option<serde_json::Value>,
    pub(crate) inputs: Option<serde_json::Value>,
    pub(crate) outputs: Option<serde_json::Value>,
    pub(crate) config: Option<serde_json::Value>,
    pub(crate) user_properties: Option<serde_json::Value>,
    pub(crate) error: Option<String>,
}

macro_rules! field {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name<T: Serialize>(mut self, value: T) -> Self {
            self.$name = serde_json::to_value(value).ok().filter(|v| !v.is_null());
            self
        }
    };
}

impl Enrichment {
    /// An empty enrichment.
    pub fn new() -> Enrichment {
        Enrichment::default()
    }

    field!(
        /// `honeyhive_metadata.*`
        metadata
    );
    field!(
        /// `honeyhive_metrics.*`
        metrics
    );
    field!(
        /// `honeyhive_feedback.*`
        feedback
    );
    field!(
        /// `honeyhive_inputs.*`
        inputs
    );
    field!(
        /// `honeyhive_outputs.*`
        outputs
    );
    field!(
        /// `honeyhive_config.*`
        config
    );
    field!(
        /// `honeyhive_user_properties.*`
        user_properties
    );

    /// `honeyhive_error` (and status ERROR on a span).
    pub fn error(mut self, message: impl Into<String>) -> Self {
        self.error = Some(message.into());
        self
    }

    fn namespaces(&self) -> [(Namespace, &Option<serde_json::Value>); 7] {
        [
            (Namespace::Metadata, &self.metadata),
            (Namespace::Metrics, &self.metrics),
            (Namespace::Feedback, &self.feedback),
            (Namespace::Inputs, &self.inputs),
            (Namespace::Outputs, &self.outputs),
            (Namespace::Config, &self.config),
            (Namespace::UserProperties, &self.user_properties),
        ]
    }

    /// The span attributes this enrichment sets.
    pub(crate) fn to_attributes(&self) -> Vec<KeyValue> {
        let mut flat = Vec::new();
        for (namespace, value) in self.namespaces() {
            if let Some(value) = value {
                attributes::flatten_json(&mut flat, namespace.prefix(), value);
            }
        }
        let mut out: Vec<KeyValue> = flat
            .into_iter()
            .map(|(key, value)| {
                let key = opentelemetry::Key::from(key.into_owned());
                match value {
                    AttrValue::Bool(b) => KeyValue::new(key, b),
                    AttrValue::Int(i) => KeyValue::new(key, i),
                    AttrValue::Double(f) => KeyValue::new(key, f),
                    AttrValue::Str(s) => KeyValue::new(key, s.into_owned()),
                    AttrValue::Short(s) => KeyValue::new(key, s.as_str().to_owned()),
                }
            })
            .collect();
        if let Some(error) = &self.error {
            out.push(KeyValue::new(keys::ERROR, error.clone()));
        }
        out
    }

    /// The `PUT /events` body for a session.
    pub(crate) fn into_event_update(self, session_id: &str) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert(
            "event_id".into(),
            serde_json::Value::String(session_id.to_owned()),
        );
        for (namespace, value) in [
            (Namespace::Metadata, self.metadata),
            (Namespace::Feedback, self.feedback),
            (Namespace::Metrics, self.metrics),
            (Namespace::Inputs, self.inputs),
            (Namespace::Outputs, self.outputs),
            (Namespace::Config, self.config),
            (Namespace::UserProperties, self.user_properties),
        ] {
            if let Some(value) = value {
                body.insert(namespace.field().into(), value);
            }
        }
        if let Some(error) = self.error {
            body.insert("error".into(), serde_json::Value::String(error));
        }
        serde_json::Value::Object(body)
    }
}

/// Enrich the current span (ours, or any OpenTelemetry span that is current).
/// Does nothing when no span is current.
///
/// ```
/// use honeyhive::{enrich_span, Enrichment};
/// enrich_span(Enrichment::new().feedback(serde_json::json!({"liked": true})));
/// ```
pub fn enrich_span(enrichment: Enrichment) {
    let attributes = enrichment.to_attributes();
    Context::map_current(|cx| {
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        span.set_attributes(attributes);
        if let Some(error) = &enrichment.error {
            span.set_status(Status::error(error.clone()));
        }
    });
}
