//! When to try a failed call again: exponential backoff with equal jitter, and the
//! server's `Retry-After` when it sent one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ureq::http::HeaderMap;

/// Delays between attempts of one call: attempt `n` (1-based) waits a random time in
/// `[b/2, b]` with `b = initial * 2^(n-1)`, capped at `max`; a `Retry-After` from the
/// server replaces that delay (also capped at `max`).
///
/// The jitter keeps many clients that failed together from retrying together.
///
/// ```
/// use std::time::Duration;
/// use honeyhive_transport::Backoff;
///
/// let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// let third = backoff.delay(3, None);
/// assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
/// assert_eq!(backoff.delay(1, Some(Duration::from_secs(2))), Duration::from_secs(2));
/// assert_eq!(backoff.delay(1, Some(Duration::from_secs(60))), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter_state: u64,
}

impl Backoff {
    /// Delays starting at `initial`, never longer than `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        // Distinct per instance even when two are made in the same nanosecond.
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let instance = INSTANCES.fetch_add(1, Ordering::Relaxed);
        Backoff {
            initial,
            max,
            jitter_state: splitmix64(now ^ instance.rotate_left(40)) | 1,
        }
    }

    /// The longest delay this backoff returns.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// How long to wait after failed attempt `attempt` (1-based); `retry_after` is the
    /// server's `Retry-After`, if it sent one.
    pub fn delay(&mut self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(hinted) = retry_after {
            return hinted.min(self.max);
        }
        let base = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max);
        base.mul_f64(0.5 + self.next_fraction() / 2.0)
    }

    /// A pseudo-random fraction in `[0, 1)` (xorshift; jitter needs no more).
    fn next_fraction(&mut self) -> f64 {
        self.jitter_state ^= self.jitter_state << 13;
        self.jitter_state ^= self.jitter_state >> 7;
        self.jitter_state ^= self.jitter_state << 17;
        (self.jitter_state % 1000) as f64 / 1000.0
    }
}

/// Spreads nearby seeds over the whole state space.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The delay a `Retry-After` header asks for, in seconds (`Retry-After: 2`, or
/// fractional: `0.5`). The HTTP-date form is not read: HoneyHive servers send seconds.
///
/// ```
/// use std::time::Duration;
/// let mut headers = ureq::http::HeaderMap::new();
/// assert_eq!(honeyhive_transport::retry_after(&headers), None);
/// headers.insert("retry-after", "2".parse().unwrap());
/// assert_eq!(honeyhive_transport::retry_after(&headers), Some(Duration::from_secs(2)));
/// ```
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: f64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// Whether an answer with this status is worth another attempt: the server is busy,
/// over its budget or failed (`408`, `429`, `5xx`). Everything else would fail again.
///
/// ```
/// assert!(honeyhive_transport::is_retryable_status(429));
/// assert!(honeyhive_transport::is_retryable_status(503));
/// assert!(!honeyhive_transport::is_retryable_status(401));
/// ```
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_equal_jitter_and_stay_under_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        for _ in 0..200 {
            for (attempt, full) in [
                (1, 100),
                (2, 200),
                (3, 400),
                (4, 800),
                (5, 1000),
                (40, 1000),
            ] {
                let delay = backoff.delay(attempt, None);
                let full = Duration::from_millis(full);
                assert!(
                    delay >= full / 2 && delay <= full,
                    "attempt {attempt}: {delay:?}"
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_the_delays() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let delays: std::collections::HashSet<Duration> =
            (0..50).map(|_| backoff.delay(1, None)).collect();
        assert!(delays.len() > 10, "{delays:?}");
    }

    #[test]
    fn retry_after_wins_within_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        assert_eq!(backoff.delay(5, Some(Duration::ZERO)), Duration::ZERO);
        assert_eq!(
            backoff.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            backoff.delay(1, Some(Duration::from_secs(300))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_ignores_the_rest() {
        let read = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", value.parse().unwrap());
            retry_after(&headers)
        };
        assert_eq!(read("1"), Some(Duration::from_secs(1)));
        assert_eq!(read(" 0.25 "), Some(Duration::from_millis(250)));
        assert_eq!(read("-1"), None);
        assert_eq!(read("NaN"), None);
        assert_eq!(read("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
