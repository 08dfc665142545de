//! The server's one id generator, for every row it creates (runs, datasets,
//! datapoints, documents, projects, events and sessions posted without one).

/// A fresh random id: a UUIDv4 in its hyphenated form, as the official client
/// sends and expects ids.
///
/// ```
/// let id = honeyhive_server::ids::new_id();
/// assert_eq!(id.len(), 36);
/// assert_ne!(id, honeyhive_server::ids::new_id());
/// ```
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
