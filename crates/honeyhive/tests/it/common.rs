//! A real local HTTP server for the SDK's tests: records every request and replies
//! from a script (statuses, `Retry-After`, slow responses); can be stopped and
//! restarted on the same port to simulate connection-refused outages.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Ok,
    Status {
        status: u16,
        retry_after: Option<u64>,
        body: String,
    },
    Slow(Duration),
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Status {
            status,
            retry_after: None,
            body: String::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    /// Decompressed body.
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }

    pub fn otlp(&self) -> ExportTraceServiceRequest {
        match self.headers.get("content-type").map(String::as_str) {
            Some("application/json") => {
                honeyhive_model::otlp::decode_json(&self.body).expect("otlp json")
            }
            _ => honeyhive_model::otlp::decode_protobuf(&self.body).expect("otlp protobuf"),
        }
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    /// Replies for trace exports, consumed in order; `Ok` when empty.
    trace_script: Mutex<VecDeque<Reply>>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn handle(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut header_map = HashMap::new();
    for (name, value) in &headers {
        header_map.insert(
            name.as_str().to_ascii_lowercase(),
            value.to_str().unwrap_or("").to_owned(),
        );
    }
    let body = if header_map.get("content-encoding").map(String::as_str) == Some("gzip") {
        honeyhive_model::otlp::gunzip(&body, 64 << 20).expect("gzip body")
    } else {
        body.to_vec()
    };
    let path = uri.path().to_owned();
    let is_traces = path == "/opentelemetry/v1/traces";
    let reply = if is_traces {
        state
            .trace_script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Reply::Ok)
    } else {
        Reply::Ok
    };
    if let Reply::Slow(delay) = &reply {
        tokio::time::sleep(*delay).await;
    }
    let accepted = matches!(reply, Reply::Ok | Reply::Slow(_));
    state.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        headers: header_map,
        body: if accepted || !is_traces {
            body
        } else {
            Vec::new()
        },
    });
    match reply {
        Reply::Status { status, retry_after, body } => {
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            if let Some(seconds) = retry_after {
                response.headers_mut().insert("retry-after", seconds.to_string().parse().unwrap());
            }
            response
        }
        _ if path == "/session/start" => axum::Json(serde_json::json!({
            "event_id": "e", "session_id": "s", "org_id": "o", "workspace_id": "w", "project_id": "p"
        }))
        .into_response(),
        _ => axum::Json(serde_json::json!({"success": true})).into_response(),
    }
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_on("127.0.0.1:0".parse().unwrap(), Arc::new(State::default()))
    }

    fn start_on(addr: SocketAddr, state: Arc<State>) -> TestServer {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .expect("bind test server");
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        });
        TestServer {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop listening (clients get connection refused) but keep the records.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Listen again on the same port with the same records.
    pub fn restart(&mut self) {
        self.stop();
        let again = Self::start_on(self.addr, self.state.clone());
        let mut again = std::mem::ManuallyDrop::new(again);
        self.stop = again.stop.take();
        self.thread = again.thread.take();
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.trace_script.lock().unwrap().extend(replies);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Every span in accepted trace exports, in arrival order.
    pub fn spans(&self) -> Vec<Span> {
        self.requests_to("/opentelemetry/v1/traces")
            .iter()
            .filter(|r| !r.body.is_empty())
            .flat_map(|r| r.otlp().resource_spans)
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A builder pointed at `server` with short, test-friendly export settings.
pub fn builder(url: &str) -> honeyhive::TracerBuilder {
    honeyhive::Tracer::builder()
        .ignore_env()
        .api_key("test-key")
        .project("test-project")
        .source("test")
        .session_name("tests")
        .server_url(url)
        .export(fast_export())
}

pub fn fast_export() -> honeyhive::ExportOptions {
    honeyhive::ExportOptions {
        scheduled_delay: Duration::from_millis(20),
        request_timeout: Duration::from_secs(2),
        retry: honeyhive::RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
        },
        breaker: honeyhive::BreakerPolicy {
            failure_threshold: 3,
            open_for: Duration::from_millis(100),
        },
        ..Default::default()
    }
}

/// String form of an attribute value's type, as in the OTLP JSON mapping.
pub fn value_type(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> &'static str {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match &value.value {
        Some(Value::StringValue(_)) => "stringValue",
        Some(Value::IntValue(_)) => "intValue",
        Some(Value::DoubleValue(_)) => "doubleValue",
        Some(Value::BoolValue(_)) => "boolValue",
        Some(Value::ArrayValue(_)) => "arrayValue",
        Some(Value::KvlistValue(_)) => "kvlistValue",
        _ => "other",
    }
}

pub fn attr<'a>(
    span: &'a Span,
    key: &str,
) -> Option<&'a opentelemetry_proto::tonic::common::v1::any_value::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

pub fn str_attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key) {
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}
