//! Bounds on what one read may load.

/// Default for [`ReadLimits::max_bytes`]: 64 MiB of stored text per answer.
pub const DEFAULT_MAX_READ_BYTES: u64 = 64 * 1024 * 1024;

/// Default for [`ReadLimits::max_events`]: 20 000 events per session tree.
pub const DEFAULT_MAX_SESSION_EVENTS: u64 = 20_000;

/// Bounds on what one read may load, checked row by row while reading.
///
/// ```
/// use honeyhive_server::store::ReadLimits;
/// let limits = ReadLimits::default();
/// assert_eq!(limits.max_bytes, 64 * 1024 * 1024);
/// assert_eq!(limits.max_events, 20_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most bytes of stored text (ids, names, JSON documents) one answer loads.
    pub max_bytes: u64,
    /// Most events one answer holds.
    pub max_events: u64,
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits {
            max_bytes: DEFAULT_MAX_READ_BYTES,
            max_events: DEFAULT_MAX_SESSION_EVENTS,
        }
    }
}
