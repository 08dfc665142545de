//! The export worker: owns its thread, drains the queue, batches, sends with retries
//! behind the circuit breaker, spools during outages and answers flushes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use honeyhive_transport::Backoff;

use super::RetryPolicy;
use super::breaker::Breaker;
use super::encode::Encoder;
use super::http::{HttpClient, Outcome};
use super::spool::Spool;
use super::{Control, DropReason, FlushReport, Stats};
use crate::config::ResolvedConfig;
use crate::error::BuildError;
use crate::log::{debug_verbose, warn_once};
use crate::record::SpanRecord;

/// A JSON REST call made by the worker, in order.
pub(crate) struct JsonCall {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(crate) body: serde_json::Value,
    pub(crate) is_session_start: bool,
}

/// An encoded batch waiting to be sent.
struct Encoded {
    body: Vec<u8>,
    spans: u64,
}

enum Sent {
    Delivered,
    Rejected,
    /// The breaker is open: nothing was (or will now be) attempted.
    Blocked,
    /// `max_attempts` used up.
    Exhausted,
}

/// The worker's ends of the pipeline's channels.
pub(crate) struct Queues {
    pub(crate) spans: Receiver<(Box<SpanRecord>, usize)>,
    pub(crate) control: Receiver<Control>,
    pub(crate) wake: Receiver<()>,
    /// Emptied records go back to producers through here (dropped when it is full).
    pub(crate) recycle: Sender<Box<SpanRecord>>,
}

pub(crate) struct Worker {
    spans_rx: Receiver<(Box<SpanRecord>, usize)>,
    control_rx: Receiver<Control>,
    wake_rx: Receiver<()>,
    recycle_tx: Sender<Box<SpanRecord>>,
    stats: Arc<Stats>,
    http: HttpClient,
    encoder: Encoder,
    breaker: Breaker,
    retry: RetryPolicy,
    spool: Option<Spool>,
    calls: VecDeque<JsonCall>,
    call_failures: u32,
    next_call_at: Option<Instant>,
    /// Boxed on purpose: the boxes go back to producers for reuse (see `recycle_batch`).
    #[allow(clippy::vec_box)]
    batch: Vec<Box<SpanRecord>>,
    batch_bytes: usize,
    held: Option<Encoded>,
    max_batch_spans: usize,
    max_batch_bytes: usize,
    scheduled_delay: Duration,
    disable_batch: bool,
    discard_batches: bool,
    flushes: Vec<(Instant, Sender<FlushReport>)>,
    shutdown: Option<(Instant, Sender<FlushReport>)>,
    backoff: Backoff,
}

impl Worker {
    pub(crate) fn new(
        config: &ResolvedConfig,
        queues: Queues,
        stats: Arc<Stats>,
    ) -> Result<Worker, BuildError> {
        let spool =
            match &config.spool_dir {
                None => None,
                Some(dir) => Some(Spool::open(dir, config).map_err(|source| {
                    BuildError::SpoolUnavailable {
                        path: dir.clone(),
                        source,
                    }
                })?),
            };
        if let Some(spool) = &spool {
            stats.spooled.store(spool.spans(), Ordering::Relaxed);
        }
        Ok(Worker {
            spans_rx: queues.spans,
            control_rx: queues.control,
            wake_rx: queues.wake,
            recycle_tx: queues.recycle,
            http: HttpClient::new(config),
            encoder: Encoder::new(config),
            breaker: Breaker::new(config.export.breaker, stats.clone()),
            stats,
            retry: config.export.retry,
            spool,
            calls: VecDeque::new(),
            call_failures: 0,
            next_call_at: None,
            batch: Vec::new(),
            batch_bytes: 0,
            held: None,
            max_batch_spans: if config.disable_batch {
                1
            } else {
                config.export.max_batch_spans.max(1)
            },
            max_batch_bytes: config.export.max_batch_bytes.max(1024),
            scheduled_delay: config.export.scheduled_delay.max(Duration::from_millis(1)),
            disable_batch: config.disable_batch,
            discard_batches: config.discard_batches,
            flushes: Vec::new(),
            shutdown: None,
            backoff: Backoff::new(
                config.export.retry.initial_backoff,
                config.export.retry.max_backoff,
            ),
        })
    }

    pub(crate) fn run(mut self) {
        loop {
            let timeout = self.next_timeout();
            let mut timer_fired = false;
            crossbeam_channel::select! {
                recv(self.control_rx) -> message => match message {
                    Ok(message) => self.on_control(message),
                    Err(_) => {
                        // Every producer is gone: finish what is queued, then stop.
                        if self.shutdown.is_none() {
                            let (reply, _) = crossbeam_channel::bounded(1);
                            self.shutdown = Some((Instant::now() + Duration::from_secs(5), reply));
                        }
                    }
                },
                recv(self.wake_rx) -> _ => {},
                default(timeout) => timer_fired = true,
            }
            while let Ok(message) = self.control_rx.try_recv() {
                self.on_control(message);
            }
            let force = timer_fired
                || self.disable_batch
                || !self.flushes.is_empty()
                || self.shutdown.is_some();
            let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step(force)));
            if step.is_err() {
                warn_once!(
                    "HH-E299",
                    "internal error in the export worker; the current batch was dropped"
                );
                let lost = self.batch.len() as u64;
                self.recycle_batch();
                self.settle(DropReason::EncodeFailed, lost);
            }
            self.answer_flushes();
            if self.finish_shutdown_if_due() {
                return;
            }
        }
    }

    fn on_control(&mut self, message: Control) {
        match message {
            Control::Call(call) => self.calls.push_back(call),
            Control::Flush { deadline, reply } => self.flushes.push((deadline, reply)),
            Control::Shutdown { deadline, reply } => self.shutdown = Some((deadline, reply)),
        }
    }

    fn next_timeout(&self) -> Duration {
        let now = Instant::now();
        if !self.flushes.is_empty() || self.shutdown.is_some() {
            // Working towards a deadline: poll, but do not spin while the breaker is open.
            return match self.breaker.reopens_in(now) {
                Some(wait) => wait.clamp(Duration::from_millis(1), Duration::from_millis(20)),
                None => Duration::from_millis(1),
            };
        }
        let mut timeout = self.scheduled_delay;
        if let Some(wait) = self.breaker.reopens_in(now) {
            timeout = timeout.min(wait.max(Duration::from_millis(1)));
        }
        if let Some(at) = self.next_call_at {
            timeout = timeout.min(
                at.saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            );
        }
        timeout
    }

    fn step(&mut self, force: bool) {
        self.send_calls();
        if !self.replay_backlog() {
            if self.spool.is_some() {
                self.spill_queue_to_spool();
            }
            return;
        }
        self.collect_and_ship(force);
    }

    /// Mark `n` spans as finished with a drop.
    fn settle(&self, reason: DropReason, n: u64) {
        if n > 0 {
            self.stats.drop_spans(reason, n);
            self.stats.pending.fetch_sub(n, Ordering::Relaxed);
        }
    }

    fn delivered(&self, n: u64) {
        self.stats.sent.fetch_add(n, Ordering::Relaxed);
        self.stats.pending.fetch_sub(n, Ordering::Relaxed);
    }

    fn send_calls(&mut self) {
        if self.discard_batches {
            self.calls.clear();
            return;
        }
        while let Some(call) = self.calls.front() {
            let now = Instant::now();
            if self.next_call_at.is_some_and(|at| now < at) || !self.breaker.allow(now) {
                return;
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            match self.http.json_call(call.method, call.path, &call.body) {
                Outcome::Success => {
                    self.breaker.on_success();
                    if call.is_session_start {
                        self.stats.session_started.store(true, Ordering::Relaxed);
                    }
                    self.calls.pop_front();
                    self.call_failures = 0;
                    self.next_call_at = None;
                }
                Outcome::Rejected {
                    status,
                    server_code,
                } => {
                    self.breaker.on_success();
                    self.note_rejection(status, server_code.as_deref(), call.path);
                    self.calls.pop_front();
                }
                Outcome::Retryable {
                    reason,
                    retry_after,
                } => {
                    self.breaker.on_failure(Instant::now());
                    self.stats
                        .set_error(format!("{} {}: {reason}", call.method, call.path));
                    self.call_failures += 1;
                    if self.call_failures >= self.retry.max_attempts.max(1) * 4 {
                        warn_once!(
                            "HH-E204",
                            path = call.path,
                            "giving up on a session call after repeated failures"
                        );
                        self.calls.pop_front();
                        self.call_failures = 0;
                    }
                    let wait = self.backoff.delay(self.call_failures.max(1), retry_after);
                    self.next_call_at = Some(Instant::now() + wait);
                    return;
                }
            }
        }
    }

    fn note_rejection(&self, status: u16, server_code: Option<&str>, path: &str) {
        let message = format!(
            "{path} rejected with status {status} (server code {})",
            server_code.unwrap_or("none")
        );
        self.stats.set_error(message);
        if status == 401 || status == 403 {
            warn_once!(
                "HH-E201",
                status,
                server_code = server_code.unwrap_or("none"),
                "the server rejected the api key; spans are dropped (check HH_API_KEY)"
            );
        } else {
            warn_once!(
                "HH-E205",
                status,
                server_code = server_code.unwrap_or("none"),
                path,
                "the server rejected a request; not retried"
            );
        }
    }

    /// Send the held batch and the spool, oldest first. `false` when blocked.
    fn replay_backlog(&mut self) -> bool {
        if let Some(held) = self.held.take() {
            match self.send_with_retry(&held.body) {
                Sent::Delivered => self.delivered(held.spans),
                Sent::Rejected => self.settle(DropReason::RejectedByServer, held.spans),
                Sent::Exhausted => self.settle(DropReason::RetriesExhausted, held.spans),
                Sent::Blocked => {
                    self.held = Some(held);
                    return false;
                }
            }
        }
        loop {
            let Some(spool) = &self.spool else {
                return true;
            };
            let Some((batch, body)) = spool.front() else {
                return true;
            };
            let spans = batch.spans;
            let body = match body {
                Ok(body) => body,
                Err(error) => {
                    warn_once!("HH-E206", %error, "an unreadable spool file was skipped");
                    self.stats.drop_spans(DropReason::EncodeFailed, spans);
                    self.unspool(spans);
                    continue;
                }
            };
            match self.send_with_retry(&body) {
                Sent::Delivered => {
                    self.stats.sent.fetch_add(spans, Ordering::Relaxed);
                    self.unspool(spans);
                }
                Sent::Rejected => {
                    self.stats.drop_spans(DropReason::RejectedByServer, spans);
                    self.unspool(spans);
                }
                Sent::Blocked | Sent::Exhausted => return false,
            }
        }
    }

    fn unspool(&mut self, spans: u64) {
        if let Some(spool) = &mut self.spool {
            spool.pop_front();
        }
        let _ = self
            .stats
            .spooled
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(spans))
            });
    }

    /// Pull spans from the queue into the batch; true when the batch is full.
    fn fill_batch(&mut self) -> bool {
        // The byte counter is shared with every producer: update it once per batch.
        let mut dequeued_bytes = 0u64;
        let mut full = true;
        while self.batch.len() < self.max_batch_spans && self.batch_bytes < self.max_batch_bytes {
            match self.spans_rx.try_recv() {
                Ok((mut record, bytes)) => {
                    record.set_duration();
                    dequeued_bytes += bytes as u64;
                    self.batch.push(record);
                    self.batch_bytes += bytes;
                }
                Err(_) => {
                    full = false;
                    break;
                }
            }
        }
        if dequeued_bytes > 0 {
            self.stats
                .queued_bytes
                .fetch_sub(dequeued_bytes, Ordering::Relaxed);
        }
        full
    }

    /// Empty the batch, handing its records back to producers for reuse.
    fn recycle_batch(&mut self) {
        for mut record in self.batch.drain(..) {
            if record.clear_for_reuse() {
                // A full pool means producers have enough; this one is freed.
                let _ = self.recycle_tx.try_send(record);
            }
        }
        self.batch_bytes = 0;
    }

    fn take_encoded_batch(&mut self) -> Encoded {
        let body = self.encoder.encode(&self.batch);
        let spans = self.batch.len() as u64;
        self.recycle_batch();
        Encoded { body, spans }
    }

    fn collect_and_ship(&mut self, ship_partial: bool) {
        loop {
            let full = self.fill_batch();
            if self.batch.is_empty() || !(full || ship_partial) {
                return;
            }
            if self.discard_batches {
                let spans = self.batch.len() as u64;
                self.recycle_batch();
                self.delivered(spans);
                continue;
            }
            let encoded = self.take_encoded_batch();
            debug_verbose!(
                spans = encoded.spans,
                bytes = encoded.body.len(),
                "exporting a batch"
            );
            match self.send_with_retry(&encoded.body) {
                Sent::Delivered => self.delivered(encoded.spans),
                Sent::Rejected => self.settle(DropReason::RejectedByServer, encoded.spans),
                Sent::Exhausted if self.spool.is_none() => {
                    self.settle(DropReason::RetriesExhausted, encoded.spans)
                }
                Sent::Exhausted | Sent::Blocked => {
                    if self.spool.is_some() {
                        self.spool_encoded(encoded);
                    } else {
                        // Hold it for the half-open probe; the queue buffers the rest.
                        self.held = Some(encoded);
                    }
                    return;
                }
            }
        }
    }

    fn spool_encoded(&mut self, encoded: Encoded) {
        let Some(spool) = &mut self.spool else { return };
        match spool.append(&encoded.body, encoded.spans) {
            Ok(true) => {
                self.stats
                    .spooled
                    .fetch_add(encoded.spans, Ordering::Relaxed);
                self.stats
                    .pending
                    .fetch_sub(encoded.spans, Ordering::Relaxed);
            }
            Ok(false) => self.settle(DropReason::SpoolFull, encoded.spans),
            Err(error) => {
                warn_once!("HH-E207", %error, "could not write to the spool; spans dropped");
                self.settle(DropReason::SpoolFull, encoded.spans);
            }
        }
    }

    fn spill_queue_to_spool(&mut self) {
        if let Some(held) = self.held.take() {
            self.spool_encoded(held);
        }
        loop {
            self.fill_batch();
            if self.batch.is_empty() {
                return;
            }
            let encoded = self.take_encoded_batch();
            self.spool_encoded(encoded);
        }
    }

    fn send_with_retry(&mut self, body: &[u8]) -> Sent {
        let mut attempt: u32 = 0;
        loop {
            if !self.breaker.allow(Instant::now()) {
                return Sent::Blocked;
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            if attempt > 0 {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
            }
            match self.http.post_traces(self.encoder.protocol(), body) {
                Outcome::Success => {
                    self.breaker.on_success();
                    return Sent::Delivered;
                }
                Outcome::Rejected {
                    status,
                    server_code,
                } => {
                    self.breaker.on_success();
                    self.note_rejection(status, server_code.as_deref(), "/opentelemetry/v1/traces");
                    return Sent::Rejected;
                }
                Outcome::Retryable {
                    reason,
                    retry_after,
                } => {
                    self.breaker.on_failure(Instant::now());
                    self.stats.set_error(format!("export failed: {reason}"));
                    debug_verbose!(%reason, attempt, "export attempt failed");
                    attempt += 1;
                    if attempt >= self.retry.max_attempts.max(1) {
                        return Sent::Exhausted;
                    }
                    if self.breaker.is_open() {
                        return Sent::Blocked;
                    }
                    let wait = self.backoff.delay(attempt, retry_after);
                    self.sleep_within_deadlines(wait);
                }
            }
        }
    }

    fn sleep_within_deadlines(&mut self, wait: Duration) {
        let now = Instant::now();
        let earliest = self
            .flushes
            .iter()
            .map(|(d, _)| *d)
            .chain(self.shutdown.as_ref().map(|(d, _)| *d))
            .min();
        let wait = match earliest {
            Some(deadline) => wait.min(deadline.saturating_duration_since(now)),
            None => wait,
        };
        std::thread::sleep(wait);
        self.answer_flushes();
    }

    fn flush_complete(&self) -> bool {
        self.stats.pending.load(Ordering::Relaxed) == 0
            && self.held.is_none()
            && (self.calls.is_empty() || self.breaker.is_open())
    }

    fn answer_flushes(&mut self) {
        if self.flushes.is_empty() {
            return;
        }
        let now = Instant::now();
        let complete = self.flush_complete();
        let stats = &self.stats;
        self.flushes.retain(|(deadline, reply)| {
            if complete || now >= *deadline {
                let _ = reply.try_send(stats.report());
                false
            } else {
                true
            }
        });
    }

    fn finish_shutdown_if_due(&mut self) -> bool {
        let Some((deadline, _)) = &self.shutdown else {
            return false;
        };
        if !self.flush_complete() && Instant::now() < *deadline {
            return false;
        }
        // Account for everything that could not be delivered in time.
        if let Some(held) = self.held.take() {
            if self.spool.is_some() {
                self.spool_encoded(held);
            } else {
                self.settle(DropReason::Shutdown, held.spans);
            }
        }
        let lost = self.batch.len() as u64;
        self.batch.clear();
        self.settle(DropReason::Shutdown, lost);
        while let Ok((_, bytes)) = self.spans_rx.try_recv() {
            self.stats
                .queued_bytes
                .fetch_sub(bytes as u64, Ordering::Relaxed);
            self.settle(DropReason::Shutdown, 1);
        }
        if let Some((_, reply)) = self.shutdown.take() {
            let _ = reply.try_send(self.stats.report());
        }
        for (_, reply) in self.flushes.drain(..) {
            let _ = reply.try_send(self.stats.report());
        }
        true
    }
}
