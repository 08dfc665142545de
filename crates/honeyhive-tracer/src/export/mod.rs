//! The export pipeline: a bounded in-memory queue drained by one worker thread that
//! batches, encodes (OTLP protobuf or JSON), gzips and sends spans over a pooled
//! blocking HTTP client, with retries, a circuit breaker and an optional disk spool.
//!
//! The host's threads only ever do a few atomic operations and a channel send per
//! span; the worker never runs on them. Every span that does not reach the server is
//! counted under a [`DropReason`].
//!
//! Settings: [`ExportOptions`] (with [`RetryPolicy`], [`BreakerPolicy`]) and the
//! OTLP [`Protocol`], given to [`TracerBuilder`](crate::config::TracerBuilder).
//! Diagnostics: [`Health`] (from `Tracer::health`), [`FlushReport`] (from
//! `Tracer::flush`), [`DropCounts`] by [`DropReason`], [`BreakerState`].
//!
//! ```
//! use honeyhive::export::{BreakerState, ExportOptions};
//! let tracer = honeyhive::Tracer::builder()
//!     .test_mode(true)
//!     .export(ExportOptions { gzip: false, ..ExportOptions::default() })
//!     .build()?;
//! assert_eq!(tracer.health().breaker, BreakerState::Closed);
//! # Ok::<(), honeyhive::BuildError>(())
//! ```

mod breaker;
mod encode;
mod http;
mod options;
mod spool;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

pub use breaker::BreakerState;
pub use options::{BreakerPolicy, ExportOptions, Protocol, RetryPolicy};

use crate::config::ResolvedConfig;
use crate::error::{BuildError, FlushError};
use crate::record::{SessionInfo, SpanRecord};

/// How many emptied records the worker keeps for producers to reuse (about 0.5 KB
/// each): enough to cover one batch, small next to the queue's byte cap.
const RECYCLED_RECORDS: usize = 512;

/// Why a span did not reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The in-memory queue was at its byte cap.
    QueueFull,
    /// The server answered 4xx (bad request, unauthorized, forbidden, too large).
    RejectedByServer,
    /// Not sampled (head sampling).
    SampledOut,
    /// Retries were exhausted and no spool is configured.
    RetriesExhausted,
    /// The disk spool was at its byte cap or unwritable.
    SpoolFull,
    /// Ended after the tracer was shut down.
    Shutdown,
    /// Could not be encoded.
    EncodeFailed,
}

impl DropReason {
    const ALL: [DropReason; 7] = [
        DropReason::QueueFull,
        DropReason::RejectedByServer,
        DropReason::SampledOut,
        DropReason::RetriesExhausted,
        DropReason::SpoolFull,
        DropReason::Shutdown,
        DropReason::EncodeFailed,
    ];

    /// Stable snake_case label (`queue_full`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::RejectedByServer => "rejected_by_server",
            DropReason::SampledOut => "sampled_out",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::SpoolFull => "spool_full",
            DropReason::Shutdown => "shutdown",
            DropReason::EncodeFailed => "encode_failed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Dropped span counts per reason (cumulative since the tracer started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// See [`DropReason::QueueFull`].
    pub queue_full: u64,
    /// See [`DropReason::RejectedByServer`].
    pub rejected_by_server: u64,
    /// See [`DropReason::SampledOut`].
    pub sampled_out: u64,
    /// See [`DropReason::RetriesExhausted`].
    pub retries_exhausted: u64,
    /// See [`DropReason::SpoolFull`].
    pub spool_full: u64,
    /// See [`DropReason::Shutdown`].
    pub shutdown: u64,
    /// See [`DropReason::EncodeFailed`].
    pub encode_failed: u64,
}

impl DropCounts {
    /// All drops.
    pub fn total(&self) -> u64 {
        self.queue_full
            + self.rejected_by_server
            + self.sampled_out
            + self.retries_exhausted
            + self.spool_full
            + self.shutdown
            + self.encode_failed
    }

    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::QueueFull => self.queue_full,
            DropReason::RejectedByServer => self.rejected_by_server,
            DropReason::SampledOut => self.sampled_out,
            DropReason::RetriesExhausted => self.retries_exhausted,
            DropReason::SpoolFull => self.spool_full,
            DropReason::Shutdown => self.shutdown,
            DropReason::EncodeFailed => self.encode_failed,
        }
    }
}

/// What a flush achieved (counts are cumulative since the tracer started).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlushReport {
    /// Spans the server accepted.
    pub spans_sent: u64,
    /// Spans dropped, by reason.
    pub dropped: DropCounts,
    /// Spans still in memory (queued or in flight).
    pub pending: u64,
    /// Spans waiting in the disk spool.
    pub spooled: u64,
    /// Breaker state at the end of the flush.
    pub breaker: BreakerState,
}

/// A snapshot of the pipeline's health; see [`crate::Tracer::health`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// Circuit breaker state.
    pub breaker: BreakerState,
    /// Breaker transitions so far.
    pub breaker_transitions: u64,
    /// Whether the tracer's `POST /session/start` succeeded.
    pub session_started: bool,
    /// Spans recorded and handed to the pipeline.
    pub spans_recorded: u64,
    /// Spans the server accepted.
    pub spans_sent: u64,
    /// Spans in memory (queued or in flight).
    pub pending: u64,
    /// Bytes of spans queued in memory.
    pub queued_bytes: u64,
    /// Spans in the disk spool.
    pub spooled: u64,
    /// Dropped spans by reason.
    pub dropped: DropCounts,
    /// HTTP requests made (including retries).
    pub requests: u64,
    /// Retried requests.
    pub retries: u64,
    /// The last export error, if any.
    pub last_error: Option<String>,
}

/// Counters shared by producers, the worker and readers.
#[derive(Default)]
pub(crate) struct Stats {
    recorded: AtomicU64,
    sent: AtomicU64,
    /// Spans between `push` and a final outcome (queue + worker's hands).
    pending: AtomicU64,
    queued_bytes: AtomicU64,
    spooled: AtomicU64,
    dropped: [AtomicU64; 7],
    breaker: AtomicU8,
    breaker_transitions: AtomicU64,
    session_started: AtomicBool,
    requests: AtomicU64,
    retries: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Stats {
    pub(crate) fn drop_spans(&self, reason: DropReason, n: u64) {
        self.dropped[reason.index()].fetch_add(n, Ordering::Relaxed);
    }

    fn drop_counts(&self) -> DropCounts {
        let get = |r: DropReason| self.dropped[r.index()].load(Ordering::Relaxed);
        let mut counts = DropCounts::default();
        for reason in DropReason::ALL {
            let n = get(reason);
            match reason {
                DropReason::QueueFull => counts.queue_full = n,
                DropReason::RejectedByServer => counts.rejected_by_server = n,
                DropReason::SampledOut => counts.sampled_out = n,
                DropReason::RetriesExhausted => counts.retries_exhausted = n,
                DropReason::SpoolFull => counts.spool_full = n,
                DropReason::Shutdown => counts.shutdown = n,
                DropReason::EncodeFailed => counts.encode_failed = n,
            }
        }
        counts
    }

    pub(crate) fn set_error(&self, message: String) {
        *self.last_error.lock() = Some(message);
    }
}

/// Messages to the worker other than spans.
pub(crate) enum Control {
    /// A JSON call to make in order (session start, event update).
    Call(worker::JsonCall),
    /// Export everything and reply.
    Flush {
        deadline: Instant,
        reply: Sender<FlushReport>,
    },
    /// Flush, then stop the worker.
    Shutdown {
        deadline: Instant,
        reply: Sender<FlushReport>,
    },
}

impl Control {
    pub(crate) fn session_start(
        config: &ResolvedConfig,
        session_name: &str,
        session_id: &str,
    ) -> Control {
        let mut session = serde_json::Map::new();
        session.insert("session_name".into(), session_name.into());
        session.insert("source".into(), config.source.clone().into());
        if let Some(project) = &config.project {
            session.insert("project".into(), project.clone().into());
        }
        session.insert("session_id".into(), session_id.into());
        Control::Call(worker::JsonCall {
            method: "POST",
            path: "/session/start",
            body: serde_json::json!({ "session": session }),
            is_session_start: true,
        })
    }

    pub(crate) fn update_event(body: serde_json::Value) -> Control {
        Control::Call(worker::JsonCall {
            method: "PUT",
            path: "/events",
            body,
            is_session_start: false,
        })
    }
}

/// The producer side of the pipeline.
pub(crate) struct Pipeline {
    spans: Sender<(Box<SpanRecord>, usize)>,
    /// Emptied records coming back from the worker (see [`SpanRecord::clear_for_reuse`]).
    recycled: Receiver<Box<SpanRecord>>,
    control: Sender<Control>,
    wake: Sender<()>,
    stats: Arc<Stats>,
    max_queue_bytes: u64,
    wake_every: u64,
    closed: AtomicBool,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Pipeline {
    pub(crate) fn start(config: &ResolvedConfig) -> Result<Pipeline, BuildError> {
        let (spans_tx, spans_rx) = crossbeam_channel::unbounded();
        let (control_tx, control_rx) = crossbeam_channel::unbounded();
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
        let (recycle_tx, recycle_rx) = crossbeam_channel::bounded(RECYCLED_RECORDS);
        let stats = Arc::new(Stats::default());
        let worker = worker::Worker::new(
            config,
            worker::Queues {
                spans: spans_rx,
                control: control_rx,
                wake: wake_rx,
                recycle: recycle_tx,
            },
            stats.clone(),
        )?;
        let handle = std::thread::Builder::new()
            .name("honeyhive-export".into())
            .spawn(move || worker.run())
            .map_err(BuildError::WorkerStart)?;
        Ok(Pipeline {
            spans: spans_tx,
            recycled: recycle_rx,
            control: control_tx,
            wake: wake_tx,
            stats,
            max_queue_bytes: config.export.max_queue_bytes as u64,
            wake_every: if config.disable_batch {
                1
            } else {
                config.export.max_batch_spans.max(1) as u64
            },
            closed: AtomicBool::new(false),
            worker: Mutex::new(Some(handle)),
        })
    }

    /// An empty record for a new span: one the worker recycled, or a new one.
    pub(crate) fn blank_record(
        &self,
        session: Arc<SessionInfo>,
        attributes: usize,
    ) -> Box<SpanRecord> {
        match self.recycled.try_recv() {
            Ok(mut record) => {
                record.session = session;
                record.attributes.reserve(attributes);
                record
            }
            Err(_) => SpanRecord::blank(session, attributes),
        }
    }

    /// Hand a finished span to the worker; never blocks, drops (counted) at the byte cap.
    pub(crate) fn push(&self, record: Box<SpanRecord>) {
        self.stats.recorded.fetch_add(1, Ordering::Relaxed);
        if self.closed.load(Ordering::Relaxed) {
            self.stats.drop_spans(DropReason::Shutdown, 1);
            return;
        }
        let bytes = record.approx_bytes();
        let before = self
            .stats
            .queued_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        if before + bytes as u64 > self.max_queue_bytes {
            self.stats
                .queued_bytes
                .fetch_sub(bytes as u64, Ordering::Relaxed);
            self.stats.drop_spans(DropReason::QueueFull, 1);
            return;
        }
        let pending = self.stats.pending.fetch_add(1, Ordering::Relaxed) + 1;
        if self.spans.send((record, bytes)).is_err() {
            self.stats
                .queued_bytes
                .fetch_sub(bytes as u64, Ordering::Relaxed);
            self.stats.pending.fetch_sub(1, Ordering::Relaxed);
            self.stats.drop_spans(DropReason::Shutdown, 1);
            return;
        }
        // Wake the worker only when a batch is ready; otherwise its timer picks spans up.
        if pending.is_multiple_of(self.wake_every) {
            let _ = self.wake.try_send(());
        }
    }

    pub(crate) fn count_drop(&self, reason: DropReason, n: u64) {
        self.stats.drop_spans(reason, n);
    }

    pub(crate) fn control(&self, message: Control) {
        let _ = self.control.send(message);
    }

    pub(crate) fn flush(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(FlushError::ShutDown);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        let deadline = Instant::now() + timeout;
        if self
            .control
            .send(Control::Flush { deadline, reply })
            .is_err()
        {
            return Err(FlushError::ShutDown);
        }
        self.await_report(&answer, timeout)
    }

    fn await_report(
        &self,
        answer: &Receiver<FlushReport>,
        timeout: Duration,
    ) -> Result<FlushReport, FlushError> {
        match answer.recv_timeout(timeout + Duration::from_millis(50)) {
            Ok(report) if report.pending == 0 => Ok(report),
            Ok(report) => Err(FlushError::Timeout {
                timeout,
                pending: report.pending,
            }),
            Err(_) => Err(FlushError::Timeout {
                timeout,
                pending: self.stats.pending.load(Ordering::Relaxed),
            }),
        }
    }

    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Err(FlushError::ShutDown);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        let deadline = Instant::now() + timeout;
        if self
            .control
            .send(Control::Shutdown { deadline, reply })
            .is_err()
        {
            return Err(FlushError::ShutDown);
        }
        let result = self.await_report(&answer, timeout);
        if let Some(handle) = self.worker.lock().take() {
            if result.is_ok() || handle.is_finished() {
                let _ = handle.join();
            } else {
                handle.thread().unpark();
            }
        }
        result
    }

    pub(crate) fn health(&self) -> Health {
        let s = &self.stats;
        Health {
            breaker: BreakerState::from_u8(s.breaker.load(Ordering::Relaxed)),
            breaker_transitions: s.breaker_transitions.load(Ordering::Relaxed),
            session_started: s.session_started.load(Ordering::Relaxed),
            spans_recorded: s.recorded.load(Ordering::Relaxed),
            spans_sent: s.sent.load(Ordering::Relaxed),
            pending: s.pending.load(Ordering::Relaxed),
            queued_bytes: s.queued_bytes.load(Ordering::Relaxed),
            spooled: s.spooled.load(Ordering::Relaxed),
            dropped: s.drop_counts(),
            requests: s.requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            last_error: s.last_error.lock().clone(),
        }
    }
}

impl Stats {
    pub(crate) fn report(&self) -> FlushReport {
        FlushReport {
            spans_sent: self.sent.load(Ordering::Relaxed),
            dropped: self.drop_counts(),
            pending: self.pending.load(Ordering::Relaxed),
            spooled: self.spooled.load(Ordering::Relaxed),
            breaker: BreakerState::from_u8(self.breaker.load(Ordering::Relaxed)),
        }
    }
}
