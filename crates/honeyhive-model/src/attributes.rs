//! The span attribute keys HoneyHive writes and reads: one spelling for the
//! SDK that records them, the `#[trace]` macro, the `tracing` layer, and the
//! mapping ([`crate::mapping`]) that turns them back into events.
//!
//! Three families, as the official Python SDK (1.7.0) sends them:
//!
//! - **The session a span belongs to**, on every span, dotted
//!   ([`SESSION_ID`], [`PROJECT`], [`SOURCE`]) and mirrored under
//!   `traceloop.association.properties.*` ([`TRACELOOP_SESSION_ID`], ...).
//!   The mapping also reads the underscore spellings ([`SESSION_ID_UNDERSCORE`], ...)
//!   some SDK versions write.
//! - **The event's own facts**, underscored: [`EVENT_TYPE`] (`model`, `tool`,
//!   `chain`), [`EVENT_NAME`], [`DURATION_MS`], [`ERROR`], [`ERROR_TYPE`].
//! - **The event's JSON fields**, one [`Namespace`] each: `honeyhive_inputs.*`,
//!   `honeyhive_outputs.*`, ... A dotted key is a path into the field
//!   (`honeyhive_outputs.result.completion` is `outputs.result.completion`); a
//!   value may be a JSON text, which the mapping parses.
//!
//! ```
//! use honeyhive_model::attributes::{self, Namespace};
//! assert_eq!(attributes::EVENT_TYPE, "honeyhive_event_type");
//! assert_eq!(Namespace::Inputs.key("question"), "honeyhive_inputs.question");
//! assert_eq!(
//!     Namespace::parse_key("honeyhive_outputs.result"),
//!     Some((Namespace::Outputs, Some("result")))
//! );
//! ```

/// The session id (`honeyhive.session_id`).
pub const SESSION_ID: &str = "honeyhive.session_id";
/// The session id as some SDK versions spell it (read, not written).
pub const SESSION_ID_UNDERSCORE: &str = "honeyhive_session_id";
/// The session id, mirrored for OpenLLMetry (Traceloop) readers.
pub const TRACELOOP_SESSION_ID: &str = "traceloop.association.properties.session_id";

/// The name of a session the span starts (`honeyhive.session_name`).
pub const SESSION_NAME: &str = "honeyhive.session_name";
/// The session name, underscored (read, not written).
pub const SESSION_NAME_UNDERSCORE: &str = "honeyhive_session_name";
/// The session name, mirrored for OpenLLMetry (Traceloop) readers.
pub const TRACELOOP_SESSION_NAME: &str = "traceloop.association.properties.session_name";

/// The project the span is for (`honeyhive.project`); the server's API key decides in the end.
pub const PROJECT: &str = "honeyhive.project";
/// The project, underscored (read, not written).
pub const PROJECT_UNDERSCORE: &str = "honeyhive_project";
/// The project, mirrored for OpenLLMetry (Traceloop) readers.
pub const TRACELOOP_PROJECT: &str = "traceloop.association.properties.project";

/// Where the span comes from: `dev`, `production`, `evaluation`, ... (`honeyhive.source`).
pub const SOURCE: &str = "honeyhive.source";
/// The source, underscored (read, not written).
pub const SOURCE_UNDERSCORE: &str = "honeyhive_source";
/// The source, mirrored for OpenLLMetry (Traceloop) readers.
pub const TRACELOOP_SOURCE: &str = "traceloop.association.properties.source";

/// The end user's id (`honeyhive_user_id`), stored as `user_properties.user_id`.
pub const USER_ID: &str = "honeyhive_user_id";
/// The end user's id, dotted (read, not written).
pub const USER_ID_DOTTED: &str = "honeyhive.user_id";
/// The end user's id, mirrored for OpenLLMetry (Traceloop) readers.
pub const TRACELOOP_USER_ID: &str = "traceloop.association.properties.user_id";

/// The event type: `model`, `tool` or `chain` ([`crate::EventType::as_str`]).
pub const EVENT_TYPE: &str = "honeyhive_event_type";
/// The event name, when it differs from the span name.
pub const EVENT_NAME: &str = "honeyhive_event_name";
/// The event type again, under `metadata`, as the Python SDK mirrors it.
pub const METADATA_EVENT_TYPE: &str = "honeyhive_metadata.event_type";
/// The event name again, under `metadata`, as the Python SDK mirrors it.
pub const METADATA_EVENT_NAME: &str = "honeyhive_metadata.event_name";
/// The duration in milliseconds (a double), when it should not be read off the span's times.
pub const DURATION_MS: &str = "honeyhive_duration_ms";
/// The error message of a failed step.
pub const ERROR: &str = "honeyhive_error";
/// The error's type (`ValueError`, ...), prefixed to the stored message.
pub const ERROR_TYPE: &str = "honeyhive_error_type";
/// A traced function's return value: `outputs.result`.
pub const OUTPUTS_RESULT: &str = "honeyhive_outputs.result";
/// The `#[trace(config = ..)]` object as the Python decorator also records it
/// (besides [`Namespace::Config`]); the mapping keeps it in `metadata` under
/// its own key, as any attribute no rule reads.
pub const SPAN_CONFIG: &str = "honeyhive_span_config";

/// The prefix every OpenLLMetry association property shares; the mapping
/// files what follows it under `metadata`.
pub const TRACELOOP_ASSOCIATION_PREFIX: &str = "traceloop.association.properties.";

/// An event JSON field written as span attributes: `<prefix>.<path>` sets the
/// value at `path` in the field, and the bare prefix holds a whole JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// `honeyhive_inputs` → `inputs`.
    Inputs,
    /// `honeyhive_outputs` → `outputs`.
    Outputs,
    /// `honeyhive_config` → `config`.
    Config,
    /// `honeyhive_metadata` → `metadata`.
    Metadata,
    /// `honeyhive_metrics` → `metrics`.
    Metrics,
    /// `honeyhive_feedback` → `feedback`.
    Feedback,
    /// `honeyhive_user_properties` → `user_properties`.
    UserProperties,
}

impl Namespace {
    /// Every namespace.
    pub const ALL: [Namespace; 7] = [
        Namespace::Inputs,
        Namespace::Outputs,
        Namespace::Config,
        Namespace::Metadata,
        Namespace::Metrics,
        Namespace::Feedback,
        Namespace::UserProperties,
    ];

    /// The attribute prefix: `honeyhive_inputs`, `honeyhive_outputs`, ...
    ///
    /// ```
    /// use honeyhive_model::attributes::Namespace;
    /// assert_eq!(Namespace::UserProperties.prefix(), "honeyhive_user_properties");
    /// ```
    pub const fn prefix(self) -> &'static str {
        match self {
            Namespace::Inputs => "honeyhive_inputs",
            Namespace::Outputs => "honeyhive_outputs",
            Namespace::Config => "honeyhive_config",
            Namespace::Metadata => "honeyhive_metadata",
            Namespace::Metrics => "honeyhive_metrics",
            Namespace::Feedback => "honeyhive_feedback",
            Namespace::UserProperties => "honeyhive_user_properties",
        }
    }

    /// The event field it fills: `inputs`, `outputs`, ... (as [`crate::Event::json_fields`] names them).
    ///
    /// ```
    /// use honeyhive_model::attributes::Namespace;
    /// assert_eq!(Namespace::Metrics.field(), "metrics");
    /// ```
    pub const fn field(self) -> &'static str {
        match self {
            Namespace::Inputs => "inputs",
            Namespace::Outputs => "outputs",
            Namespace::Config => "config",
            Namespace::Metadata => "metadata",
            Namespace::Metrics => "metrics",
            Namespace::Feedback => "feedback",
            Namespace::UserProperties => "user_properties",
        }
    }

    /// The attribute key of `path` in this namespace: `<prefix>.<path>`.
    pub fn key(self, path: &str) -> String {
        let prefix = self.prefix();
        let mut key = String::with_capacity(prefix.len() + 1 + path.len());
        key.push_str(prefix);
        key.push('.');
        key.push_str(path);
        key
    }

    /// The namespace of an attribute key, and the path in it after the dot
    /// (`None` for the bare prefix, which holds a whole object); `None` for a
    /// key in no namespace.
    ///
    /// ```
    /// use honeyhive_model::attributes::Namespace;
    /// assert_eq!(Namespace::parse_key("honeyhive_metrics"), Some((Namespace::Metrics, None)));
    /// assert_eq!(Namespace::parse_key("honeyhive_metrics.score"), Some((Namespace::Metrics, Some("score"))));
    /// assert_eq!(Namespace::parse_key("honeyhive_metricsx"), None);
    /// assert_eq!(Namespace::parse_key("gen_ai.system"), None);
    /// ```
    pub fn parse_key(key: &str) -> Option<(Namespace, Option<&str>)> {
        Namespace::ALL.into_iter().find_map(|namespace| {
            let rest = key.strip_prefix(namespace.prefix())?;
            if rest.is_empty() {
                Some((namespace, None))
            } else {
                rest.strip_prefix('.').map(|path| (namespace, Some(path)))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_round_trip_through_their_keys() {
        for namespace in Namespace::ALL {
            let key = namespace.key("a.b");
            assert_eq!(Namespace::parse_key(&key), Some((namespace, Some("a.b"))));
            assert_eq!(
                Namespace::parse_key(namespace.prefix()),
                Some((namespace, None))
            );
            assert_eq!(
                namespace.prefix(),
                format!("honeyhive_{}", namespace.field())
            );
        }
    }

    #[test]
    fn mirrors_share_the_association_prefix() {
        for key in [
            TRACELOOP_SESSION_ID,
            TRACELOOP_SESSION_NAME,
            TRACELOOP_PROJECT,
            TRACELOOP_SOURCE,
            TRACELOOP_USER_ID,
        ] {
            assert!(key.starts_with(TRACELOOP_ASSOCIATION_PREFIX), "{key}");
        }
    }
}
