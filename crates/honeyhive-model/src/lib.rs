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

pub mod attributes;
pub mod cost;
pub mod dataset;
mod error;
mod error_code;
mod event;
pub mod event_api;
mod event_type;
pub mod filter;
pub mod limits;
pub mod mapping;
pub mod otlp;
pub mod price;
pub mod rollup;
pub mod run;
pub mod run_result;

pub use error::ModelError;
pub use error_code::{ErrorCode, ErrorCoded};
pub use event::{Event, EventUpdate};
pub use event_type::EventType;
