//! The tracing SDK behind the `honeyhive` crate: `Tracer` (builder + env), sessions,
//! enrichment, context propagation, the export pipeline and the `tracing` layer.
//!
//! Applications depend on `honeyhive`, which re-exports everything here (and the
//! `#[trace]` macro expands to `::honeyhive` paths); see its documentation.

mod attributes;
mod config;
mod default_tracer;
mod enrich;
mod error;
mod export;
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

pub use config::{DEFAULT_SERVER_URL, Sampling, TracerBuilder};
pub use default_tracer::{clear_default_tracer, default_tracer, set_default_tracer};
pub use enrich::{Enrichment, enrich_span};
pub use error::{BuildError, FlushError};
pub use export::{
    BreakerPolicy, BreakerState, DropCounts, DropReason, ExportOptions, FlushReport, Health,
    Protocol, RetryPolicy,
};
pub use honeyhive_macros::trace;
pub use honeyhive_model::EventType;
pub use instrument::{Instrumented, with_current_context};
#[cfg(feature = "tracing")]
pub use layer::HoneyHiveLayer;
pub use span::SpanGuard;
pub use tracer::{Session, Tracer, current_session_id, new_session_id};
