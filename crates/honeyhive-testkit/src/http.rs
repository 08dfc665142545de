//! A scripted HTTP server on a free loopback port, standing in for a service a client
//! under test calls (an OpenAI-compatible judge, an app's HTTP endpoint, the HoneyHive
//! API): it records every request and answers each from a script of replies for its
//! path, or, past the script, from a responder function.
//!
//! It runs on a thread and a runtime of its own, so blocking tests and async tests
//! (on a current-thread runtime too) call it alike; dropping it stops it.
//!
//! ```no_run
//! use honeyhive_testkit::http::{Reply, ScriptedServer};
//! use serde_json::json;
//!
//! let server = ScriptedServer::start(|_| Reply::json(200, &json!({"ok": true})));
//! server.script("/v1/chat/completions", [
//!     Reply::json(429, &json!({"error": "slow down"})).header("retry-after", "0"),
//!     Reply::text(500, "overloaded"),
//! ]);
//! // ... point the client under test at server.url() ...
//! let requests = server.requests_to("/v1/chat/completions");
//! assert_eq!(requests[0].header("authorization"), Some("Bearer test-key"));
//! ```

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

/// How the server answers one request.
#[derive(Clone, Debug)]
pub struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    delay: Duration,
}

impl Reply {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap_or_else(|e| panic!("status {status}: {e}")),
            headers: HeaderMap::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// `status` with `body` as JSON.
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply {
            body: body.to_string().into_bytes(),
            ..Reply::status(status)
        }
        .header("content-type", "application/json")
    }

    /// `status` with `body` as it is (a malformed answer, a plain-text error).
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            body: body.into().into_bytes(),
            ..Reply::status(status)
        }
    }

    /// The reply with one more header (`retry-after`, ...).
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        let name = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|e| panic!("header name {name:?}: {e}"));
        let value =
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("header value {value:?}: {e}"));
        self.headers.append(name, value);
        self
    }

    /// The reply, sent `delay` after the request arrived (a slow server).
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, if any, without the `?`.
    pub query: Option<String>,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, inflated when it came with `content-encoding: gzip`.
    pub body: Vec<u8>,
    /// The client's address: one per connection.
    pub peer: SocketAddr,
    /// The status it was answered with.
    pub status: u16,
}

impl Request {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; fails the test when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: body is not json ({e}): {}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

type Responder = dyn Fn(&Request) -> Reply + Send + Sync;

struct Shared {
    requests: Mutex<Vec<Request>>,
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    responder: Box<Responder>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that failed while holding the lock has already failed; the records stay
    // readable for the others.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The server; see the [module docs](self).
pub struct ScriptedServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ScriptedServer {
    /// Starts on a free loopback port; requests the script does not cover are answered
    /// by `responder`.
    pub fn start(responder: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> ScriptedServer {
        let shared = Arc::new(Shared {
            requests: Mutex::default(),
            scripts: Mutex::default(),
            responder: Box::new(responder),
        });
        ScriptedServer::listen("127.0.0.1:0".parse().expect("an address"), shared)
    }

    fn listen(addr: SocketAddr, shared: Arc<Shared>) -> ScriptedServer {
        // Bound here, with std, so a caller inside an async runtime never blocks on one.
        let listener =
            std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        listener
            .set_nonblocking(true)
            .expect("a nonblocking listener");
        let addr = listener.local_addr().expect("the bound address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared))
            .into_make_service_with_connect_info::<SocketAddr>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the server's runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        ScriptedServer {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues `replies` for the next requests to `path`, in order, after any queued
    /// before; the responder answers once they are used up.
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.scripts)
            .entry(path.to_string())
            .or_default()
            .extend(replies);
    }

    /// Every request so far, in the order they were answered.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// The requests to `path` so far.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Stops listening: clients get connection refused. The records are kept.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Listens again on the same port, with the same records, script and responder
    /// (an outage that ends).
    pub fn restart(&mut self) {
        self.stop();
        let mut again = ScriptedServer::listen(self.addr, Arc::clone(&self.shared));
        self.stop = again.stop.take();
        self.thread = again.thread.take();
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let gzipped = headers
        .iter()
        .any(|(k, v)| k == "content-encoding" && v.eq_ignore_ascii_case("gzip"));
    let mut request = Request {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers,
        body: if gzipped {
            gunzip(&body)
        } else {
            body.to_vec()
        },
        peer,
        status: 0,
    };
    let scripted = lock(&shared.scripts)
        .get_mut(&request.path)
        .and_then(VecDeque::pop_front);
    let reply = scripted.unwrap_or_else(|| (shared.responder)(&request));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    request.status = reply.status.as_u16();
    lock(&shared.requests).push(request);
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    response
}

/// The inflated body, or the bytes as they came when they do not inflate (the test
/// then sees what the client sent).
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match flate2::read::GzDecoder::new(bytes).read_to_end(&mut out) {
        Ok(_) => out,
        Err(_) => bytes.to_vec(),
    }
}
