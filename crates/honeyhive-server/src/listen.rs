//! Accepting and serving connections under bounds: a cap on open connections
//! shared by every listener, a deadline for a request's headers, and an idle
//! timeout, so that clients without a key cannot hold the server's sockets.
//!
//! Past the cap a connection is answered `503` with `Retry-After` and closed at
//! once, rather than left in the kernel's backlog where the client would only
//! see a timeout.

use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::error::ServerError;
use crate::metrics::{CloseReason, Metrics};

/// How long a connection that was asked to close may take to finish the
/// request it is answering before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(30);
/// Most streams one HTTP/2 connection may have open at once.
const MAX_STREAMS_PER_CONNECTION: u32 = 128;
/// Shortest period of a connection's timeout checks.
const MIN_CHECK_PERIOD: Duration = Duration::from_millis(10);
/// Pause after `accept` fails (out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The connection bounds every listener applies (see [`crate::ServerConfig`]).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionLimits {
    /// Longest wait for a request's headers, counted from the connection's
    /// start or the end of its previous answer.
    pub header_read_timeout: Duration,
    /// A connection that moved no bytes for this long is closed.
    pub idle_timeout: Duration,
}

/// Open connections across all listeners, bounded.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionGate {
    slots: Arc<Semaphore>,
    capacity: usize,
}

impl ConnectionGate {
    pub(crate) fn new(capacity: usize) -> ConnectionGate {
        let capacity = capacity.clamp(1, Semaphore::MAX_PERMITS);
        ConnectionGate {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// The most connections open at once.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Waits until every connection closed, or `deadline` passed.
    async fn drained(&self, deadline: Duration) {
        let all = u32::try_from(self.capacity).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(deadline, self.slots.acquire_many(all)).await;
    }
}

/// What a listener needs besides its socket and router.
#[derive(Clone)]
pub(crate) struct Listening {
    pub limits: ConnectionLimits,
    pub gate: ConnectionGate,
    pub metrics: Arc<Metrics>,
    pub stopped: watch::Receiver<bool>,
    /// Only HTTP/2 (gRPC); otherwise HTTP/1.1 and HTTP/2 by prior knowledge.
    pub http2_only: bool,
}

/// Serves `router` on `listener` until `stopped` turns true, then lets open
/// connections finish their requests.
pub(crate) fn spawn(
    listener: TcpListener,
    router: Router,
    listening: Listening,
) -> JoinHandle<Result<(), ServerError>> {
    tokio::spawn(async move {
        let builder = Arc::new(builder(&listening));
        let mut stopped = listening.stopped.clone();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stopped.wait_for(|s| *s) => break,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: the connections already open keep
                    // being served; new ones wait in the backlog meanwhile.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            match listening.gate.try_enter() {
                Some(slot) => {
                    let connection = Connection {
                        builder: builder.clone(),
                        router: router.clone(),
                        listening: listening.clone(),
                        peer,
                    };
                    tokio::spawn(connection.serve(stream, slot));
                }
                None => {
                    listening.metrics.connection_refused();
                    tokio::spawn(refuse(stream));
                }
            }
        }
        drop(listener);
        listening.gate.drained(CLOSE_GRACE).await;
        Ok(())
    })
}

fn builder(listening: &Listening) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(listening.limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION);
    if listening.http2_only {
        builder.http2_only()
    } else {
        builder
    }
}

/// One accepted connection, served while it holds its slot of the gate.
struct Connection {
    builder: Arc<Builder<TokioExecutor>>,
    router: Router,
    listening: Listening,
    peer: SocketAddr,
}

impl Connection {
    async fn serve(self, stream: TcpStream, slot: OwnedSemaphorePermit) {
        let metrics = self.listening.metrics.clone();
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Tracked {
            inner: stream,
            activity: activity.clone(),
            _open: Open::new(slot, metrics.clone()),
        });
        let (router, peer, requests) = (self.router, self.peer, activity.clone());
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            requests.request_started();
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req)
        });
        let limits = &self.listening.limits;
        let mut stopped = self.listening.stopped.clone();
        // With upgrades: a WebSocket (GraphQL subscriptions) takes the socket
        // over when its answer is sent, and this loop ends while the socket
        // lives on with its slot (see `Open`).
        let conn = self.builder.serve_connection_with_upgrades(io, service);
        let mut conn = pin!(conn);
        let mut closing_since: Option<Instant> = None;
        let period =
            (limits.idle_timeout.min(limits.header_read_timeout) / 4).max(MIN_CHECK_PERIOD);
        let mut check = tokio::time::interval(period);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = conn.as_mut() => break,
                _ = stopped.wait_for(|s| *s), if closing_since.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    closing_since = Some(Instant::now());
                }
                _ = check.tick() => {
                    if let Some(since) = closing_since {
                        if since.elapsed() >= CLOSE_GRACE {
                            break;
                        }
                    } else if let Some(reason) = activity.should_close(limits) {
                        metrics.connection_timed_out(reason);
                        conn.as_mut().graceful_shutdown();
                        closing_since = Some(Instant::now());
                    }
                }
            }
        }
    }
}

/// A connection's slot of the gate and its place in the open-connections
/// gauge, held by its socket: an upgraded connection keeps both after the
/// HTTP exchange that upgraded it ended, until its socket closes.
struct Open {
    _slot: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Open {
    fn new(slot: OwnedSemaphorePermit, metrics: Arc<Metrics>) -> Open {
        metrics.connection_opened();
        Open {
            _slot: slot,
            metrics,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.metrics.connection_closed();
    }
}

/// When a connection last moved bytes, and whether it ever sent a request.
struct Activity {
    opened: Instant,
    last_ms: AtomicU64,
    requests: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn should_close(&self, limits: &ConnectionLimits) -> Option<CloseReason> {
        let age = self.opened.elapsed();
        // HTTP/1 heads after the first are timed by hyper itself; the first
        // also covers the protocol sniffing and HTTP/2's handshake.
        if self.requests.load(Ordering::Relaxed) == 0 && age >= limits.header_read_timeout {
            return Some(CloseReason::NoRequest);
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        (age.saturating_sub(last) >= limits.idle_timeout).then_some(CloseReason::Idle)
    }
}

/// A socket that records when it last moved bytes.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    _open: Open,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The answer to a connection past the cap.
fn refusal() -> Vec<u8> {
    let body = serde_json::json!({"error": {
        "code": honeyhive_model::ErrorCode::Unavailable.as_str(),
        "message": "server is at its connection limit",
        "hint": "retry after the delay in Retry-After; reuse connections instead of opening many",
    }})
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a connection past the cap and closes it; gives up after a second,
/// so refusals cannot pile up.
async fn refuse(mut stream: TcpStream) {
    let answer = async {
        // Reading what already arrived first keeps the close from resetting
        // the connection before the client sees the answer.
        let mut scratch = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(100), async {
            use tokio::io::AsyncReadExt;
            let _ = stream.read(&mut scratch).await;
        })
        .await;
        let _ = stream.write_all(&refusal()).await;
        let _ = stream.shutdown().await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}
