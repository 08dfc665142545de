//! Ingest: the in-flight budget, and turning OTLP requests and HoneyHive event
//! API bodies into store write batches (off the async request path).

pub mod budget;
pub mod events;
pub mod otlp;
