//! The server's one clock: times are stored and compared as milliseconds
//! since the Unix epoch, as HoneyHive stores them.

/// Milliseconds since the Unix epoch, now (0 if the system clock is set
/// before the epoch).
///
/// ```
/// assert!(honeyhive_server::clock::now_ms() > 1.7e12);
/// ```
pub fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}
