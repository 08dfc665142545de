//! HoneyHive SDK for Rust: trace LLM applications with near-zero overhead and export
//! OTLP to HoneyHive's hosted service or a self-hosted `hh` server.
//!
//! ```
//! use honeyhive::{Tracer, trace, Enrichment, enrich_span};
//!
//! #[trace(event_type = "tool")]
//! fn add(a: i64, b: i64) -> i64 {
//!     enrich_span(Enrichment::new().metrics(serde_json::json!({"score": 1.0})));
//!     a + b
//! }
//!
//! # fn main() -> Result<(), honeyhive::Error> {
//! // In production: Tracer::from_env()? with HH_API_KEY / HH_PROJECT set.
//! let tracer = Tracer::builder().project("demo").test_mode(true).build()?;
//! honeyhive::set_default_tracer(&tracer);
//! assert_eq!(add(1, 2), 3);
//! tracer.flush(std::time::Duration::from_secs(5))?;
//! # Ok(())
//! # }
//! ```
//!
//! # What a traced call records
//! A span named after the function (`Type.method` in an `impl` block) with the same
//! attributes the Python SDK sends: `honeyhive.session_id|project|source`,
//! `honeyhive_event_type`, `honeyhive_inputs.<arg>` (any `Serialize` argument; the type
//! name otherwise), `honeyhive_outputs.result`, `honeyhive_duration_ms`, and on
//! `Err`/panic `honeyhive_error`, `honeyhive_error_type` and status ERROR. Panics are
//! recorded and resumed, never swallowed.
//!
//! # Spans by hand, async and spawned tasks
//! [`Tracer::span`] starts a span ([`SpanGuard::none`] when the tracer does not
//! record); [`SpanGuard::in_scope`] runs code with it current, and
//! [`Instrument::instrument`] does the same for a future. A traced `async fn` keeps its
//! span current across `.await`. `tokio::spawn` starts tasks with an empty context:
//! wrap the future with [`Instrument::in_current_context`] (or
//! [`Session::instrument`]) to carry the span and session into it.
//!
//! ```
//! use honeyhive::{EventType, Instrument, Tracer};
//! # async fn demo() -> Result<(), honeyhive::Error> {
//! let tracer = Tracer::builder().test_mode(true).build()?;
//! let span = tracer.span("retrieve", EventType::Tool);
//! span.record_input("honeyhive_inputs.query", "capital of France");
//! let docs = async { vec!["Paris"] }.instrument(span).await;
//! # assert_eq!(docs.len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # OpenTelemetry interop
//! Spans live in the OpenTelemetry context (`opentelemetry::Context`): spans from
//! other OpenTelemetry instrumentation nest under ours and ours under theirs, and
//! `Context::current().span().set_attribute(..)` enriches a HoneyHive span.
//!
//! # Export pipeline
//! A bounded queue (byte cap) drained by one worker thread: batches by count, bytes
//! and time; OTLP/HTTP protobuf (default) or JSON, gzip; retries with exponential
//! backoff and jitter honouring `429`/`503` `Retry-After`; no retry on `400/401/403`;
//! a circuit breaker; an optional disk spool. No async runtime is needed. Every span
//! that does not arrive is counted by [`DropReason`](export::DropReason) in
//! [`FlushReport`](export::FlushReport) and [`Tracer::health`]. Its settings and
//! diagnostics are in [`export`]; the builder and sampling in [`config`].
//!
//! # Errors
//! Each function returns only the errors it can produce: [`BuildError`] from
//! [`TracerBuilder::build`](config::TracerBuilder::build) and [`Tracer::from_env`], [`FlushError`] from
//! [`Tracer::flush`] and [`Tracer::shutdown`], and the `experiments` module's own
//! types. Every one has a stable code and a hint, and all convert into [`Error`]
//! for callers that handle them alike.
//!
//! # Features
//! | feature   | default | what |
//! |-----------|---------|------|
//! | `tls`     | yes     | `https://` servers (rustls) |
//! | `tracing` | no      | `HoneyHiveLayer`: `tracing` spans (`#[tracing::instrument]`) as HoneyHive events |
//! | `experiments` | no  | [`experiments`]: `evaluate()`, `compare_runs`, `evaluate_events` |

mod error;

pub use error::{Error, Result};
pub use honeyhive_tracer::*;

#[cfg(feature = "experiments")]
#[doc(inline)]
pub use honeyhive_experiments as experiments;
