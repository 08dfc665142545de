//! Ingest: the in-flight budget, OTLP and event API bodies to write batches,
//! and writing them in bounded parts.

pub mod budget;
pub mod commit;
pub mod fields;
pub mod otlp;
