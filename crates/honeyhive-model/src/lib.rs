//! The data model shared by the honeyhive SDK and the platform.
//!
//! - [`Event`]: the one row shape every span, session and REST call becomes;
//!   [`EventUpdate`]: a partial update of one (`PUT /events`).
//! - [`attributes`]: the span attribute keys HoneyHive writes and reads.
//! - [`dataset`]: datasets and datapoints as the REST API answers them.
//! - [`event_api`]: HoneyHive event API bodies (`/session/start`, `POST` and
//!   `PUT /events`) to events and updates.
//! - [`otlp`]: decoding OTLP trace requests (protobuf, lenient JSON, gzip).
//! - [`mapping`]: OTLP spans to events for every convention the platform reads.
//! - [`rollup`]: session roll-ups (event counts, tokens, cost, feedback).
//! - [`run`]: experiment runs.
//! - [`run_result`]: run results and run comparisons, computed from a run's events.
//! - [`price`]: the model price table behind computed costs.
//! - [`cost`]: what decoding a body will cost in memory, read off its bytes first.
//! - [`limits`]: the depth bounds every stored JSON document keeps.
//! - [`ErrorCode`]: the platform's closed error set; [`ErrorCoded`]: what an
//!   error a client is answered with tells about itself; [`ModelError`]: this
//!   crate's errors.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `full` | yes | everything but [`attributes`] and [`EventType`]: events, runs, datasets, OTLP decoding, the mapping, filters, run results, error codes (and `serde_json`, `prost`, the generated OTLP types, `flate2`, ...) |
//!
//! Without `full` the crate is the attribute keys and [`EventType`] on `serde`
//! alone: what the SDK's tracer and `#[trace]` macro spell spans with, without
//! linking the platform's decoding and mapping.

pub mod attributes;
mod event_type;
pub use event_type::EventType;

#[cfg(feature = "full")]
pub mod cost;
#[cfg(feature = "full")]
pub mod dataset;
#[cfg(feature = "full")]
mod error;
#[cfg(feature = "full")]
mod error_code;
#[cfg(feature = "full")]
mod event;
#[cfg(feature = "full")]
pub mod event_api;
#[cfg(feature = "full")]
pub mod filter;
#[cfg(feature = "full")]
pub mod limits;
#[cfg(feature = "full")]
pub mod mapping;
#[cfg(feature = "full")]
pub mod otlp;
#[cfg(feature = "full")]
pub mod price;
#[cfg(feature = "full")]
pub mod rollup;
#[cfg(feature = "full")]
pub mod run;
#[cfg(feature = "full")]
pub mod run_result;

#[cfg(feature = "full")]
pub use error::ModelError;
#[cfg(feature = "full")]
pub use error_code::{ErrorCode, ErrorCoded};
#[cfg(feature = "full")]
pub use event::{Event, EventUpdate};
