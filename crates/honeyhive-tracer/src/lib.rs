//! The tracing SDK behind the `honeyhive` crate: `Tracer` (builder + env), sessions,
//! enrichment, context propagation, the export pipeline and the `tracing` layer.
//!
//! Applications depend on `honeyhive`, which re-exports everything here (and the
//! `#[trace]` macro expands to `::honeyhive` paths); see its documentation.

//! The crate root holds what tracing code names; settings and diagnostics live in
//! modules: [`config`] (the builder, sampling), [`export`] (the pipeline's settings,
//! its health and drop counts), [`propagation`] (trace context across processes).

mod attributes;
pub mod config;
mod default_tracer;
mod enrich;
mod error;
pub mod export;
mod instrument;
#[cfg(feature = "tracing")]
mod layer;
mod log;
pub mod propagation;
mod record;
mod span;
mod tracer;

#[doc(hidden)]
pub mod __private;

pub use default_tracer::{clear_default_tracer, default_tracer, set_default_tracer};
pub use enrich::{Enrichment, enrich_span};
pub use error::{BuildError, FlushError};
pub use honeyhive_macros::trace;
pub use honeyhive_model::EventType;
pub use instrument::{Instrument, Instrumented};
#[cfg(feature = "tracing")]
pub use layer::HoneyHiveLayer;
pub use span::SpanGuard;
pub use tracer::{Session, Tracer, new_session_id};
