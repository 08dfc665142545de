//! Hostile and careless clients against a real server: each module holds the
//! tests of one hardening concern (see SECURITY.md for the limits they check).

mod budget;
mod connections;
mod deep_json;
mod fairness;
mod ops;
mod reads;
mod runs;
mod updates;
