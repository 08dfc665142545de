//! Prometheus text exposition, hand-written: a few counters, gauges and one
//! latency histogram per route. Recorded per request or batch, never per span.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;

use crate::live::LiveStats;
use crate::store::StoreStats;

/// Upper bounds (seconds) of the request latency buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, slot) in LATENCY_BUCKETS.iter().zip(self.buckets.iter_mut()) {
            if seconds <= *bound {
                *slot += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// Why an open connection was closed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// No complete request head within the header timeout of opening.
    NoRequest,
    /// No bytes in either direction for the idle timeout.
    Idle,
}

impl CloseReason {
    pub(crate) fn label(self) -> &'static str {
        match self {
            CloseReason::NoRequest => "no_request",
            CloseReason::Idle => "idle",
        }
    }
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    spans_received: AtomicU64,
    spans_stored: AtomicU64,
    spans_duplicate: AtomicU64,
    events_received: AtomicU64,
    rejected: Mutex<BTreeMap<String, u64>>,
    over_budget: AtomicU64,
    otlp_requests: Mutex<BTreeMap<&'static str, u64>>,
    connections_open: AtomicU64,
    connections_refused: AtomicU64,
    connections_closed_no_request: AtomicU64,
    connections_closed_idle: AtomicU64,
    enrichments_expired: AtomicU64,
    /// Route template → status class (1 for `1xx` … 5 for `5xx`) → histogram.
    /// Nested so that recording borrows the route and allocates only on a
    /// route's first request.
    latency: Mutex<BTreeMap<String, BTreeMap<u16, Histogram>>>,
}

impl Metrics {
    /// Counts spans in an accepted batch.
    pub fn spans(&self, received: u64, stored: u64, duplicate: u64) {
        self.spans_received.fetch_add(received, Ordering::Relaxed);
        self.spans_stored.fetch_add(stored, Ordering::Relaxed);
        self.spans_duplicate.fetch_add(duplicate, Ordering::Relaxed);
    }

    /// Counts events received through the HoneyHive event API.
    pub fn events(&self, received: u64) {
        self.events_received.fetch_add(received, Ordering::Relaxed);
    }

    /// Counts `count` spans rejected for `reason` (low-cardinality label).
    pub fn rejected(&self, reason: &str, count: u64) {
        if count == 0 {
            return;
        }
        *self.rejected.lock().entry(reason.to_string()).or_default() += count;
    }

    /// Counts one accepted OTLP export by transport encoding (`json`, `protobuf`, `grpc`).
    pub fn otlp_request(&self, encoding: &'static str) {
        *self.otlp_requests.lock().entry(encoding).or_default() += 1;
    }

    /// Counts a request turned away for the in-flight budget.
    pub fn over_budget(&self) {
        self.over_budget.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection accepted and served.
    pub(crate) fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a served connection gone.
    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a connection answered 503 at the connection cap.
    pub(crate) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection the server closed for its timeouts.
    pub(crate) fn connection_timed_out(&self, reason: CloseReason) {
        let counter = match reason {
            CloseReason::NoRequest => &self.connections_closed_no_request,
            CloseReason::Idle => &self.connections_closed_idle,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts enrichments dropped after waiting too long for their event.
    pub fn enrichments_expired(&self, count: u64) {
        self.enrichments_expired.fetch_add(count, Ordering::Relaxed);
    }

    /// Connections refused at the cap so far.
    pub fn connections_refused(&self) -> u64 {
        self.connections_refused.load(Ordering::Relaxed)
    }

    /// Records one request's latency.
    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        let class = status / 100;
        let mut latency = self.latency.lock();
        if !latency.contains_key(route) {
            latency.insert(route.to_string(), BTreeMap::new());
        }
        if let Some(by_class) = latency.get_mut(route) {
            by_class.entry(class).or_default().observe(seconds);
        }
    }

    /// Total spans stored so far.
    pub fn spans_stored(&self) -> u64 {
        self.spans_stored.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(
        &self,
        store: StoreStats,
        live: LiveStats,
        inflight_bytes: usize,
        inflight_requests: usize,
    ) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, value: f64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "hh_spans_received_total",
            "Spans received over OTLP.",
            self.spans_received.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "hh_spans_stored_total",
            "Spans newly stored (committed).",
            self.spans_stored.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "hh_spans_duplicate_total",
            "Spans already stored (retried exports), not stored again.",
            self.spans_duplicate.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "hh_events_received_total",
            "Events received over the HoneyHive event API.",
            self.events_received.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP hh_spans_rejected_total Spans rejected, by reason.\n# TYPE hh_spans_rejected_total counter"
        );
        for (reason, count) in self.rejected.lock().iter() {
            let _ = writeln!(
                out,
                "hh_spans_rejected_total{{reason=\"{}\"}} {count}",
                escape(reason)
            );
        }
        let _ = writeln!(
            out,
            "# HELP hh_otlp_requests_total OTLP export requests accepted, by encoding.\n# TYPE hh_otlp_requests_total counter"
        );
        for (encoding, count) in self.otlp_requests.lock().iter() {
            let _ = writeln!(
                out,
                "hh_otlp_requests_total{{encoding=\"{encoding}\"}} {count}"
            );
        }
        counter(
            &mut out,
            "hh_requests_over_budget_total",
            "Requests answered 429 for the in-flight budget.",
            self.over_budget.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "hh_connections_open",
            "Client connections open, both listeners.",
            self.connections_open.load(Ordering::Relaxed) as f64,
        );
        counter(
            &mut out,
            "hh_connections_refused_total",
            "Connections answered 503 at the connection cap.",
            self.connections_refused.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP hh_connections_timed_out_total Connections the server closed, by reason.\n# TYPE hh_connections_timed_out_total counter\n\
             hh_connections_timed_out_total{{reason=\"{}\"}} {}\nhh_connections_timed_out_total{{reason=\"{}\"}} {}",
            CloseReason::NoRequest.label(),
            self.connections_closed_no_request.load(Ordering::Relaxed),
            CloseReason::Idle.label(),
            self.connections_closed_idle.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "hh_enrichments_expired_total",
            "Enrichments dropped after waiting longer than pending_enrichment_ttl for their event.",
            self.enrichments_expired.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "hh_inflight_bytes",
            "Memory charged to requests being read, decoded or waiting for a commit.",
            inflight_bytes as f64,
        );
        gauge(
            &mut out,
            "hh_inflight_requests",
            "Requests with a body being read, decoded or waiting for a commit.",
            inflight_requests as f64,
        );
        gauge(
            &mut out,
            "hh_store_queue_depth",
            "Write jobs waiting for the store writer.",
            store.queue_depth as f64,
        );
        counter(
            &mut out,
            "hh_store_commits_total",
            "Store commits (each may group many requests).",
            store.commits,
        );
        counter(
            &mut out,
            "hh_store_jobs_committed_total",
            "Write jobs committed.",
            store.jobs_committed,
        );
        let _ = writeln!(
            out,
            "# HELP hh_store_commit_seconds Time spent in store commits.\n# TYPE hh_store_commit_seconds summary"
        );
        let _ = writeln!(
            out,
            "hh_store_commit_seconds_sum {}\nhh_store_commit_seconds_count {}",
            store.commit_seconds_sum, store.commits
        );
        gauge(
            &mut out,
            "hh_store_wal_pages",
            "Pages in the store's write-ahead log after the last commit.",
            store.wal_pages as f64,
        );
        let _ = writeln!(
            out,
            "# HELP hh_store_checkpoints_total WAL checkpoints, by the thread that ran them.\n# TYPE hh_store_checkpoints_total counter"
        );
        let _ = writeln!(
            out,
            "hh_store_checkpoints_total{{thread=\"checkpointer\"}} {}\nhh_store_checkpoints_total{{thread=\"writer\"}} {}",
            store.checkpoints_background, store.checkpoints_on_writer
        );
        let _ = writeln!(
            out,
            "# HELP hh_store_checkpoint_seconds_total Time spent in WAL checkpoints.\n# TYPE hh_store_checkpoint_seconds_total counter\nhh_store_checkpoint_seconds_total {}",
            store.checkpoint_seconds_sum
        );
        let _ = writeln!(
            out,
            "# HELP hh_store_wal_shrinks_total Times an idle store cut its grown write-ahead log file back.\n# TYPE hh_store_wal_shrinks_total counter\nhh_store_wal_shrinks_total {}",
            store.wal_shrinks
        );
        let _ = writeln!(
            out,
            "# HELP hh_store_metric_bucket_failures_total Commits whose metric buckets of a project could not be written (the events were stored).\n# TYPE hh_store_metric_bucket_failures_total counter\nhh_store_metric_bucket_failures_total {}",
            store.metric_bucket_failures
        );
        gauge(
            &mut out,
            "hh_live_subscribers",
            "Live subscribers following events (GET /v1/events/stream).",
            live.subscribers as f64,
        );
        counter(
            &mut out,
            "hh_live_subscribers_refused_total",
            "Live subscribers refused for the subscriber limits.",
            live.refused,
        );
        counter(
            &mut out,
            "hh_live_events_delivered_total",
            "Committed events put in a live subscriber's buffer (one per subscriber).",
            live.delivered,
        );
        counter(
            &mut out,
            "hh_live_events_missed_total",
            "Committed events a live subscriber missed: its buffer was full (it read too slowly), or the fan-out fell behind.",
            live.missed,
        );
        counter(
            &mut out,
            "hh_live_lag_notices_total",
            "\"lagged, N missed\" notices read by live subscribers.",
            live.lag_notices,
        );
        let _ = writeln!(
            out,
            "# HELP hh_http_request_duration_seconds HTTP request latency by route and status class.\n# TYPE hh_http_request_duration_seconds histogram"
        );
        let latency = self.latency.lock();
        let series = latency
            .iter()
            .flat_map(|(route, by_class)| by_class.iter().map(move |(class, h)| (route, class, h)));
        for (route, class, h) in series {
            let labels = format!("route=\"{}\",status=\"{class}xx\"", escape(route));
            for (bound, count) in LATENCY_BUCKETS.iter().zip(h.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "hh_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "hh_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "hh_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "hh_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: times every request under its route template (not its raw
/// path, which would explode label cardinality).
pub(crate) async fn track_request(metrics: Arc<Metrics>, req: Request, next: Next) -> Response {
    // `MatchedPath` is a shared string: cloning it does not copy the template.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.observe_request(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
