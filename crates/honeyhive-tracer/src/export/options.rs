//! The export pipeline's settings: the OTLP protocol, batching, retries, the breaker.

use std::time::Duration;

/// OTLP/HTTP body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `application/x-protobuf` (default).
    #[default]
    HttpProtobuf,
    /// `application/json`, the OTLP protobuf-JSON mapping.
    HttpJson,
}

impl Protocol {
    pub(crate) fn parse(value: &str) -> Option<Protocol> {
        match value.trim() {
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            "http/json" => Some(Protocol::HttpJson),
            _ => None,
        }
    }
}

/// Retry policy for failed exports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per batch including the first (at least 1).
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with full jitter.
    pub initial_backoff: Duration,
    /// Upper bound of one backoff and of an honoured `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Circuit breaker policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerPolicy {
    /// Consecutive failed requests that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before a half-open probe.
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failure_threshold: 5,
            open_for: Duration::from_secs(15),
        }
    }
}

/// Export pipeline tuning; the defaults suit most programs.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// Byte cap of spans waiting in memory; past it spans are dropped as `queue_full`.
    pub max_queue_bytes: usize,
    /// Spans per request.
    pub max_batch_spans: usize,
    /// Approximate bytes per request.
    pub max_batch_bytes: usize,
    /// How long a partial batch may wait.
    pub scheduled_delay: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// gzip request bodies.
    pub gzip: bool,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Circuit breaker policy.
    pub breaker: BreakerPolicy,
    /// Deadline for the flush done when the last handle is dropped.
    pub drop_flush_timeout: Duration,
    /// Byte cap of the disk spool; past it batches are dropped as `spool_full`.
    pub max_spool_bytes: u64,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            max_queue_bytes: 32 * 1024 * 1024,
            max_batch_spans: 512,
            max_batch_bytes: 4 * 1024 * 1024,
            scheduled_delay: Duration::from_millis(1000),
            request_timeout: Duration::from_secs(10),
            gzip: true,
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            drop_flush_timeout: Duration::from_secs(5),
            max_spool_bytes: 512 * 1024 * 1024,
        }
    }
}
