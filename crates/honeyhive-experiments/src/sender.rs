//! Background senders for the per-datapoint REST calls (`POST /session/start`,
//! `PUT /events`), so the datapoint's own path never waits on the network.
//!
//! Each datapoint's calls go to one lane (a FIFO queue and a keep-alive
//! connection), so a session's start always precedes its update. All lanes run
//! as tasks on one thread with a current-thread runtime, on hyper's HTTP/1.1
//! client: one thread woken for many ready sockets, instead of a blocked thread
//! per connection woken for each answer; a blocking client spends more on
//! switching threads than on the calls.
//!
//! A call the server was too busy for, or that did not get through, is tried
//! again after the shared backoff (or the server's `Retry-After`); the calls are
//! idempotent (client-minted ids).
//!
//! Before the run is completed the lanes are
//! drained, so the server has every session when it computes the result.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use honeyhive_transport::Backoff;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::client::RestClient;
use crate::Error;
use crate::error::ConfigError;

/// How long one call may take, connecting included (as the blocking client).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Attempts per call; the retries wait [`INITIAL_BACKOFF`], doubling, at most
/// [`MAX_BACKOFF`] each, so a call gives up within a few seconds.
const MAX_ATTEMPTS: u32 = 5;
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One queued REST call, its JSON body already encoded by the datapoint's thread.
struct Call {
    method: &'static str,
    path: &'static str,
    body: Vec<u8>,
}

/// What went wrong in the background, reported in the summary.
#[derive(Debug, Default)]
pub(crate) struct SendStats {
    pub(crate) failed: AtomicU64,
    pub(crate) first_error: Mutex<Option<String>>,
}

impl SendStats {
    fn record(&self, error: impl FnOnce() -> String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.first_error.lock().get_or_insert_with(error);
    }
}

pub(crate) struct Lanes {
    lanes: Vec<UnboundedSender<Call>>,
    thread: Option<JoinHandle<()>>,
    pub(crate) stats: Arc<SendStats>,
}

impl Lanes {
    /// Starts `count` lanes to the server of `client`.
    pub(crate) fn start(client: &RestClient, count: usize) -> crate::Result<Lanes> {
        let target = Arc::new(Target::new(client)?);
        let stats = Arc::new(SendStats::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Worker)?;
        let (lanes, receivers): (Vec<_>, Vec<_>) = (0..count.max(1))
            .map(|_| unbounded_channel::<Call>())
            .unzip();
        let lane_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("hh-experiment-send".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut lanes = tokio::task::JoinSet::new();
                    for calls in receivers {
                        lanes.spawn(lane(calls, target.clone(), lane_stats.clone()));
                    }
                    while lanes.join_next().await.is_some() {}
                });
                // Every call is answered; a host lookup still running must not hold us.
                runtime.shutdown_background();
            })
            .map_err(Error::Worker)?;
        Ok(Lanes {
            lanes,
            thread: Some(thread),
            stats,
        })
    }

    /// Queues a JSON call on the lane of datapoint `index`.
    pub(crate) fn send(
        &self,
        index: usize,
        method: &'static str,
        path: &'static str,
        body: &impl Serialize,
    ) {
        let body = match serde_json::to_vec(body) {
            Ok(body) => body,
            Err(e) => {
                self.stats
                    .record(|| format!("{method} {path}: encoding the body: {e}"));
                return;
            }
        };
        let lane = &self.lanes[index % self.lanes.len()];
        if lane.send(Call { method, path, body }).is_err() {
            self.stats
                .record(|| format!("{method} {path}: the sender thread is gone"));
        }
    }

    /// Sends everything queued and stops the lanes.
    pub(crate) fn finish(mut self) -> Arc<SendStats> {
        self.lanes.clear();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            self.stats.record(|| "the sender thread panicked".into());
        }
        self.stats.clone()
    }
}

/// Where the lanes connect, and the headers every call carries.
struct Target {
    host: String,
    port: u16,
    /// The base URL's path, prefixed to each call's path.
    prefix: String,
    authority: String,
    authorization: String,
    /// Only for an https target.
    #[cfg(feature = "tls")]
    tls_config: Option<Arc<rustls::ClientConfig>>,
}

impl Target {
    fn new(client: &RestClient) -> Result<Target, ConfigError> {
        let base = client.base_url();
        let invalid = |reason: &str| ConfigError::new(format!("server url {base:?}: {reason}"));
        let uri: http::Uri = base.parse().map_err(|_| invalid("not a URL"))?;
        let tls = uri.scheme_str() == Some("https");
        let host = uri.host().ok_or_else(|| invalid("no host"))?;
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        #[cfg(not(feature = "tls"))]
        if tls {
            return Err(invalid("https needs the SDK's `tls` feature"));
        }
        Ok(Target {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            prefix: uri.path().trim_end_matches('/').to_string(),
            authority: authority.to_string(),
            authorization: client.authorization().to_string(),
            #[cfg(feature = "tls")]
            tls_config: tls.then(tls_config).transpose().map_err(|e| invalid(&e))?,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.authority))?;
        let _ = tcp.set_nodelay(true);
        #[cfg(feature = "tls")]
        if let Some(tls_config) = &self.tls_config {
            let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                .map_err(|e| format!("{}: {e}", self.host))?;
            let stream = tokio_rustls::TlsConnector::from(tls_config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {}: {e}", self.authority))?;
            return handshake(stream).await;
        }
        handshake(tcp).await
    }
}

/// rustls with the webpki roots, as the blocking client's.
#[cfg(feature = "tls")]
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Why one attempt of a call failed.
struct Failure {
    reason: String,
    /// The call did not get through, or the server answered that it could not take it now.
    retryable: bool,
    /// The server's `Retry-After`.
    retry_after: Option<Duration>,
}

impl Failure {
    /// The call did not get through (connecting, TLS, a closed connection).
    fn transport(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            retryable: true,
            retry_after: None,
        }
    }
}

/// Sends a lane's calls in order over one connection, reconnecting after a failure
/// and trying a call again while it is retryable.
async fn lane(mut calls: UnboundedReceiver<Call>, target: Arc<Target>, stats: Arc<SendStats>) {
    let mut connection = None;
    let mut backoff = Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF);
    while let Some(Call { method, path, body }) = calls.recv().await {
        let body = Bytes::from(body);
        for attempt in 1..=MAX_ATTEMPTS {
            let call = send(&mut connection, &target, method, path, body.clone());
            let failure = match tokio::time::timeout(CALL_TIMEOUT, call).await {
                Ok(Ok(())) => break,
                Ok(Err(failure)) => failure,
                // The server may still be working on it: waiting again could hold the
                // run for minutes.
                Err(_) => Failure {
                    reason: format!("no answer in {CALL_TIMEOUT:?}"),
                    retryable: false,
                    retry_after: None,
                },
            };
            connection = None;
            if !failure.retryable || attempt == MAX_ATTEMPTS {
                stats.record(|| format!("{method} {path} failed: {}", failure.reason));
                break;
            }
            tokio::time::sleep(backoff.delay(attempt, failure.retry_after)).await;
        }
    }
}

/// One call; the answer's body is read (so the connection is reused) but not kept.
async fn send(
    connection: &mut Option<SendRequest<Full<Bytes>>>,
    target: &Target,
    method: &'static str,
    path: &'static str,
    body: Bytes,
) -> Result<(), Failure> {
    let sender = match connection {
        Some(sender) if !sender.is_closed() => sender,
        _ => connection.insert(target.connect().await.map_err(Failure::transport)?),
    };
    sender
        .ready()
        .await
        .map_err(|e| Failure::transport(e.to_string()))?;
    let timestamp = honeyhive_transport::client_timestamp();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", target.prefix))
        .header(http::header::HOST, &target.authority)
        .header(http::header::USER_AGENT, honeyhive_transport::USER_AGENT)
        .header(http::header::CONTENT_TYPE, "application/json");
    for (name, value) in honeyhive_transport::rest_headers(&target.authorization, &timestamp) {
        request = request.header(name, value);
    }
    let request = request.body(Full::new(body)).map_err(|e| Failure {
        reason: format!("building the request: {e}"),
        retryable: false,
        retry_after: None,
    })?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| Failure::transport(e.to_string()))?;
    let status = response.status().as_u16();
    let retry_after = honeyhive_transport::retry_after(response.headers());
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::transport(format!("reading the answer: {e}")))?
        .to_bytes();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let snippet: String = String::from_utf8_lossy(&body).chars().take(500).collect();
    Err(Failure {
        reason: format!("http status {status}: {snippet}"),
        retryable: honeyhive_transport::is_retryable_status(status),
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use honeyhive_testkit::http::{Reply, Request, ScriptedServer};
    use serde_json::{Value, json};

    use super::*;

    /// A server answering every request with `status` and `answer`.
    fn connection(key: &str, url: &str) -> honeyhive_tracer::config::Connection {
        honeyhive_tracer::config::Connection::new(key, url).expect("a connection")
    }

    fn server(status: u16, answer: &'static str) -> ScriptedServer {
        ScriptedServer::start(move |_| Reply::text(status, answer))
    }

    fn body(request: &Request) -> Value {
        serde_json::from_slice(&request.body).unwrap_or(Value::Null)
    }

    #[cfg(feature = "tls")]
    #[test]
    fn an_https_target_gets_its_port_path_and_tls_setup() {
        let client = RestClient::new(&connection("the-key", "https://api.example.com/base/"), 1);
        let target = Target::new(&client).expect("https target");
        assert_eq!(
            (target.host.as_str(), target.port, target.prefix.as_str()),
            ("api.example.com", 443, "/base")
        );
        let tls = target.tls_config.expect("tls for https");
        assert_eq!(tls.alpn_protocols, [b"http/1.1".to_vec()]);
        let plain =
            Target::new(&RestClient::new(&connection("k", "http://[::1]:8080"), 1)).expect("http");
        assert_eq!((plain.host.as_str(), plain.port), ("::1", 8080));
        assert!(plain.tls_config.is_none());
    }

    fn start(url: &str, count: usize) -> Lanes {
        Lanes::start(&RestClient::new(&connection("the-key", url), 4), count).expect("lanes")
    }

    #[test]
    fn each_lane_keeps_its_order_and_connection_and_sends_the_python_headers() {
        let server = server(200, "{}");
        let lanes = start(&server.url(), 2);
        for i in 0..10 {
            lanes.send(i, "POST", "/session/start", &json!({"i": i, "call": 0}));
        }
        for i in 0..10 {
            lanes.send(i, "PUT", "/events", &json!({"i": i, "call": 1}));
        }
        let stats = lanes.finish();
        assert_eq!(stats.failed.load(Ordering::Relaxed), 0);
        let seen = server.requests();
        assert_eq!(seen.len(), 20);
        for i in 0..10 {
            let calls: Vec<&Request> = seen.iter().filter(|r| body(r)["i"] == i).collect();
            assert_eq!(calls.len(), 2);
            assert_eq!(body(calls[0])["call"], 0, "the start comes first");
            assert_eq!(
                (calls[0].method.as_str(), calls[0].path.as_str()),
                ("POST", "/session/start")
            );
            assert_eq!(
                (calls[1].method.as_str(), calls[1].path.as_str()),
                ("PUT", "/events")
            );
            assert_eq!(calls[0].peer, calls[1].peer, "one lane, one connection");
        }
        let connections: std::collections::HashSet<_> = seen.iter().map(|r| r.peer).collect();
        assert_eq!(connections.len(), 2);
        for (header, value) in [
            ("authorization", "Bearer the-key"),
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("hh-client-language", "rust"),
            ("hh-client-package", "honeyhive"),
            ("hh-client-timestamp", ""),
            ("user-agent", "honeyhive-rust/"),
        ] {
            let sent = seen[0]
                .header(header)
                .unwrap_or_else(|| panic!("no {header}"));
            assert!(sent.starts_with(value), "{header}: {sent}");
        }
    }

    #[test]
    fn rejected_calls_are_counted_with_the_first_error_and_not_retried() {
        let server = server(400, "nope");
        let lanes = start(&server.url(), 2);
        for i in 0..3 {
            lanes.send(i, "POST", "/session/start", &json!({"i": i}));
        }
        let stats = lanes.finish();
        assert_eq!(server.requests().len(), 3);
        assert_eq!(stats.failed.load(Ordering::Relaxed), 3);
        let error = stats.first_error.lock().clone().unwrap_or_default();
        assert_eq!(
            error, "POST /session/start failed: http status 400: nope",
            "{error}"
        );
    }

    #[test]
    fn busy_answers_are_retried_in_order_after_the_delay_the_server_asks() {
        let server = server(200, "{}");
        server.script(
            "/session/start",
            [
                Reply::text(503, "busy").header("retry-after", "0"),
                Reply::text(429, "over budget").header("retry-after", "0"),
            ],
        );
        let lanes = start(&server.url(), 1);
        lanes.send(0, "POST", "/session/start", &json!({"call": 0}));
        lanes.send(0, "PUT", "/events", &json!({"call": 1}));
        let stats = lanes.finish();
        assert_eq!(stats.failed.load(Ordering::Relaxed), 0);
        let calls: Vec<Value> = server
            .requests()
            .iter()
            .map(|r| body(r)["call"].clone())
            .collect();
        assert_eq!(calls, [json!(0), json!(0), json!(0), json!(1)]);
    }

    #[test]
    fn a_call_that_keeps_failing_is_given_up_after_the_last_attempt() {
        let server = server(500, "down");
        let lanes = start(&server.url(), 1);
        lanes.send(0, "PUT", "/events", &json!({}));
        let stats = lanes.finish();
        assert_eq!(server.requests().len(), MAX_ATTEMPTS as usize);
        assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
        let error = stats.first_error.lock().clone().unwrap_or_default();
        assert_eq!(
            error, "PUT /events failed: http status 500: down",
            "{error}"
        );

        // Nothing listening: each call fails to connect, none is lost silently.
        let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", closed.local_addr().expect("addr"));
        drop(closed);
        let lanes = start(&url, 1);
        lanes.send(0, "PUT", "/events", &json!({}));
        lanes.send(0, "PUT", "/events", &json!({}));
        let stats = lanes.finish();
        assert_eq!(stats.failed.load(Ordering::Relaxed), 2);
        let error = stats.first_error.lock().clone().unwrap_or_default();
        assert!(
            error.starts_with("PUT /events failed: connecting to 127.0.0.1:"),
            "{error}"
        );
    }
}
