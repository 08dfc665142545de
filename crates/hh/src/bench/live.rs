//! `hh bench live`: live push under load, against fresh `hh serve` processes.
//!
//! 1. Latency: N subscribers follow `GET /v1/events/stream` (or, with
//!    `--transport websocket`, a GraphQL subscription on `/graphql`) while OTLP
//!    requests arrive at a steady rate (open loop, paced per connection);
//!    each event's arrival at a subscriber is timed against its request's
//!    acknowledgement (sent after the commit, so "ack → subscriber" is the
//!    commit → subscriber delay plus or minus the ack's own trip) and against
//!    the request's send.
//! 2. Throughput: the same spans posted as fast as the server acknowledges
//!    them, with no subscriber and with N, alternating rounds on fresh servers
//!    so both see the same machine load; reported as acknowledged spans/s and
//!    spans per server CPU-second, side by side.
//!
//! `--follow share` gives each subscriber a filter matching its own share of
//! the requests (`metadata.shard`), as dashboards each watching their own view
//! would; `--follow all` makes every subscriber follow every event.

use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use honeyhive_model::attributes::{self as attr, Namespace};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use serde_json::json;

use super::{
    BENCH_KEY, TEXT_120, cpu_seconds, free_port, kv_str, machine, percentile, post_with_retry,
    spawn_server, stop_server, tempfile_dir, wait_ready,
};

/// What each subscriber follows.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Its own share of the requests (a `metadata.shard` filter).
    Share,
    /// Every event.
    All,
}

/// How each subscriber follows.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `GET /v1/events/stream`, server-sent events.
    Sse,
    /// A GraphQL subscription over WebSocket (`graphql-transport-ws` on `/graphql`).
    Websocket,
}

/// Options of `hh bench live`.
#[derive(Args, Debug, Clone)]
pub(crate) struct LiveArgs {
    /// Subscribers.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// What each subscriber follows.
    #[arg(long, value_enum, default_value = "share")]
    follow: Follow,
    /// How each subscriber follows.
    #[arg(long, value_enum, default_value = "sse")]
    transport: Transport,
    /// Steady ingest rate of the latency phase, spans/s.
    #[arg(long, default_value_t = 10_000)]
    rate: usize,
    /// Seconds of steady ingest.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Spans per request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent keep-alive ingest connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Spans per throughput round.
    #[arg(long, default_value_t = 100_000)]
    spans: usize,
    /// Throughput rounds (each: no subscriber, then N), alternating.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
}

/// One request: `batch` spans named `r<index>`, of one shard, in traces of 5.
fn build_request(index: usize, batch: usize, shards: usize) -> Vec<u8> {
    let shard = (index % shards.max(1)).to_string();
    let name = format!("r{index}");
    let spans = (0..batch)
        .map(|k| {
            let trace = (index * batch + k) / 5;
            let session = format!("{trace:032x}");
            Span {
                trace_id: (trace as u128 | 1 << 100).to_be_bytes().to_vec(),
                span_id: ((index * batch + k) as u64 + 1).to_be_bytes().to_vec(),
                name: name.clone(),
                kind: 1,
                start_time_unix_nano: 1_795_000_000_000_000_000 + (index * batch + k) as u64,
                end_time_unix_nano: 1_795_000_000_000_000_090 + (index * batch + k) as u64,
                attributes: vec![
                    kv_str(attr::SESSION_ID, &session),
                    kv_str(attr::EVENT_TYPE, if k % 5 == 1 { "model" } else { "tool" }),
                    kv_str(&Namespace::Inputs.key("prompt"), TEXT_120),
                    kv_str(attr::OUTPUTS_RESULT, TEXT_120),
                    kv_str(&Namespace::Metadata.key("shard"), &shard),
                ],
                ..Span::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv_str("service.name", "hh-bench-live")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

/// A fresh `hh serve` for one phase; its data dir goes when it is dropped.
struct Server {
    child: std::process::Child,
    base: String,
    data_dir: std::path::PathBuf,
    halted: bool,
}

impl Server {
    fn start() -> Result<Server> {
        let data_dir = tempfile_dir()?;
        let (http, grpc) = (free_port()?, free_port()?);
        let mut child = spawn_server(None, &data_dir, http, grpc)?;
        let base = format!("http://127.0.0.1:{http}");
        wait_ready(&base, &mut child)?;
        Ok(Server {
            child,
            base,
            data_dir,
            halted: false,
        })
    }

    fn metric(&self, name: &str) -> f64 {
        let agent = crate::client::agent(Some(Duration::from_secs(10)));
        let text = agent
            .get(&format!("{}/metrics", self.base))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} "))?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Waits until the subscribers were handed `expected` events (or missed
    /// them), up to a minute.
    fn wait_fanned_out(&self, expected: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let done = self.metric("hh_live_events_delivered_total")
                + self.metric("hh_live_events_missed_total");
            if done >= expected as f64 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGTERM): its streams end, and so do the subscribers.
    fn halt(&mut self) {
        if !std::mem::replace(&mut self.halted, true) {
            stop_server(&mut self.child);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.halt();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// What one subscriber read: (request index, µs since the bench's start) per event.
type Arrivals = Vec<(u32, u32)>;

/// The request index of an event's JSON, from its name `r<index>`.
fn request_of(data: &str) -> Option<u32> {
    let at = data.find("\"event_name\":\"r")? + "\"event_name\":\"r".len();
    let digits = data[at..].split('"').next()?;
    digits.parse().ok()
}

/// Follows the stream until the server closes it; counts itself in `ready`
/// once subscribed.
fn subscribe(base: &str, filter: Option<String>, t0: Instant, ready: &AtomicUsize) -> Arrivals {
    let mut url = format!("{base}/v1/events/stream");
    if let Some(filter) = filter {
        url.push_str(&format!(
            "?filters={}",
            crate::client::encode_query(&filter)
        ));
    }
    let agent = crate::client::agent(None);
    let Ok(response) = agent
        .get(&url)
        .header("Authorization", &format!("Bearer {BENCH_KEY}"))
        .call()
    else {
        ready.fetch_add(1, Ordering::SeqCst);
        return Vec::new();
    };
    let mut arrivals = Vec::new();
    for line in BufReader::new(response.into_body().into_reader()).lines() {
        let Ok(line) = line else { break };
        if line == "event: ready" {
            ready.fetch_add(1, Ordering::SeqCst);
        } else if let Some(data) = line.strip_prefix("data: ")
            && let Some(request) = request_of(data)
        {
            arrivals.push((request, t0.elapsed().as_micros() as u32));
        }
    }
    arrivals
}

/// What a subscriber asks for over WebSocket: each event's name is enough.
const SUBSCRIPTION: &str = "subscription($f: JSON) { events(filters: $f) { __typename \
    ... on LiveEvent { event { eventName } } } }";

/// Follows a GraphQL subscription until the server closes the socket; counts
/// itself in `ready` once subscribed.
fn subscribe_ws(base: &str, filter: Option<String>, t0: Instant, ready: &AtomicUsize) -> Arrivals {
    use tungstenite::Message;
    use tungstenite::client::IntoClientRequest;
    let mut arrivals = Vec::new();
    let url = format!("{}/graphql", base.replacen("http://", "ws://", 1));
    let socket = url.into_client_request().and_then(|mut request| {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            tungstenite::http::HeaderValue::from_static("graphql-transport-ws"),
        );
        tungstenite::connect(request)
    });
    let Ok((mut socket, _)) = socket else {
        ready.fetch_add(1, Ordering::SeqCst);
        return arrivals;
    };
    let filters: serde_json::Value = filter
        .and_then(|f| serde_json::from_str(&f).ok())
        .unwrap_or(serde_json::Value::Null);
    let opened = [
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {BENCH_KEY}")}}),
        json!({"type": "subscribe", "id": "1",
               "payload": {"query": SUBSCRIPTION, "variables": {"f": filters}}}),
    ]
    .into_iter()
    .all(|message| socket.send(Message::text(message.to_string())).is_ok());
    let mut counted = !opened;
    if counted {
        ready.fetch_add(1, Ordering::SeqCst);
    }
    while let Ok(message) = socket.read() {
        let Message::Text(text) = message else {
            continue;
        };
        let text = text.as_str();
        if let Some(request) = text
            .find("\"eventName\":\"r")
            .and_then(|at| text[at + "\"eventName\":\"r".len()..].split('"').next())
            .and_then(|digits| digits.parse().ok())
        {
            arrivals.push((request, t0.elapsed().as_micros() as u32));
        } else if !counted && text.contains("\"Ready\"") {
            counted = true;
            ready.fetch_add(1, Ordering::SeqCst);
        } else if text.contains("\"type\":\"ping\"") {
            let _ = socket.send(Message::text(json!({"type": "pong"}).to_string()));
        } else if text.contains("\"type\":\"error\"") || text.contains("\"type\":\"complete\"") {
            break;
        }
    }
    if !counted {
        ready.fetch_add(1, Ordering::SeqCst);
    }
    arrivals
}

/// Starts `n` subscribers and waits until each is subscribed.
fn start_subscribers<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    base: &'s str,
    n: usize,
    (follow, transport): (Follow, Transport),
    t0: Instant,
    ready: &'s AtomicUsize,
) -> Result<Vec<std::thread::ScopedJoinHandle<'s, Arrivals>>> {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let filter = (follow == Follow::Share).then(|| {
                json!([{"field": "metadata.shard", "operator": "is",
                        "value": i.to_string(), "type": "string"}])
                .to_string()
            });
            scope.spawn(move || match transport {
                Transport::Sse => subscribe(base, filter, t0, ready),
                Transport::Websocket => subscribe_ws(base, filter, t0, ready),
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready.load(Ordering::SeqCst) < n {
        if Instant::now() > deadline {
            bail!(
                "only {} of {n} subscribers ready",
                ready.load(Ordering::SeqCst)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(handles)
}

/// Events the subscribers should read for `requests` requests of `batch`.
fn expected_events(args: &LiveArgs, requests: usize) -> usize {
    let spans = requests * args.batch;
    match args.follow {
        Follow::Share => spans,
        Follow::All => spans * args.subscribers,
    }
}

/// Milliseconds of a µs sample list, p50 / p99 / max.
fn summary(mut micros: Vec<f64>) -> String {
    if micros.is_empty() {
        return "no samples".into();
    }
    micros.sort_by(f64::total_cmp);
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
        percentile(&micros, 0.50) / 1000.0,
        percentile(&micros, 0.99) / 1000.0,
        micros.last().copied().unwrap_or(0.0) / 1000.0,
        micros.len()
    )
}

/// Posts `bodies` over `connections` connections, paced to `interval` per
/// connection (`None`: as fast as acknowledged); stamps each request's send
/// and acknowledgement in µs since `t0`. Returns the wall time.
fn send(
    base: &str,
    bodies: &[Vec<u8>],
    connections: usize,
    interval: Option<Duration>,
    t0: Instant,
    stamps: &Stamps,
) -> Result<f64> {
    let failures = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for c in 0..connections {
            let failures = &failures;
            scope.spawn(move || {
                let agent = crate::client::agent(None);
                let mut next = interval.map(|i| started + i.mul_f64(c as f64 / connections as f64));
                for i in (c..bodies.len()).step_by(connections) {
                    if let Some(at) = next.as_mut() {
                        if let Some(wait) = at.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        *at += interval.unwrap_or_default();
                    }
                    stamps.sent[i].store(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
                    if post_with_retry(&agent, base, &bodies[i]).is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    stamps.acked[i].store(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("{failed} requests were not acknowledged");
    }
    Ok(started.elapsed().as_secs_f64())
}

/// When each request was sent and acknowledged, µs since the bench's start.
struct Stamps {
    sent: Vec<AtomicU64>,
    acked: Vec<AtomicU64>,
}

impl Stamps {
    fn new(requests: usize) -> Stamps {
        Stamps {
            sent: (0..requests).map(|_| AtomicU64::new(0)).collect(),
            acked: (0..requests).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// What one phase measured.
struct Phase {
    send_secs: f64,
    cpu_secs: f64,
    arrivals: Vec<Arrivals>,
    missed: f64,
}

/// One phase on a fresh server: `subscribers` follow, `bodies` are sent.
fn phase(
    args: &LiveArgs,
    subscribers: usize,
    bodies: &[Vec<u8>],
    interval: Option<Duration>,
    stamps: &Stamps,
    t0: Instant,
) -> Result<Phase> {
    let mut server = Server::start()?;
    let base = server.base.clone();
    let pid = server.child.id();
    let ready = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let how = (args.follow, args.transport);
        let followers = start_subscribers(scope, &base, subscribers, how, t0, &ready)?;
        let cpu_before = cpu_seconds(pid)?;
        let send_secs = send(&base, bodies, args.connections.max(1), interval, t0, stamps)?;
        let cpu_secs = cpu_seconds(pid)? - cpu_before;
        let expected = if subscribers == 0 {
            0
        } else {
            expected_events(args, bodies.len())
        };
        server.wait_fanned_out(expected);
        let missed = server.metric("hh_live_events_missed_total");
        // The buffers drain into the sockets; then the streams end with the server.
        std::thread::sleep(Duration::from_millis(500));
        server.halt();
        let arrivals = followers
            .into_iter()
            .map(|f| f.join().unwrap_or_default())
            .collect();
        Ok(Phase {
            send_secs,
            cpu_secs,
            arrivals,
            missed,
        })
    })
}

/// `hh bench live`.
pub(crate) fn live(args: LiveArgs) -> Result<()> {
    if args.batch == 0 || args.rate == 0 {
        bail!("--batch and --rate must be positive");
    }
    let shards = args.subscribers.max(1);
    let t0 = Instant::now();
    println!("hh bench live — {}", machine());

    // 1. Latency at a steady rate.
    let requests = (args.rate * args.seconds as usize).div_ceil(args.batch);
    let bodies: Vec<Vec<u8>> = (0..requests)
        .map(|i| build_request(i, args.batch, shards))
        .collect();
    let connections = args.connections.max(1);
    let interval =
        Duration::from_secs_f64(args.batch as f64 * connections as f64 / args.rate as f64);
    let stamps = Stamps::new(requests);
    let measured = phase(
        &args,
        args.subscribers,
        &bodies,
        Some(interval),
        &stamps,
        t0,
    )?;
    let (mut after_ack, mut after_send, mut early, mut read) = (Vec::new(), Vec::new(), 0, 0);
    for (request, at) in measured.arrivals.iter().flatten() {
        let at = f64::from(*at);
        let sent = stamps.sent[*request as usize].load(Ordering::Relaxed) as f64;
        let acked = stamps.acked[*request as usize].load(Ordering::Relaxed) as f64;
        after_send.push(at - sent);
        early += usize::from(at < acked);
        after_ack.push((at - acked).max(0.0));
        read += 1;
    }
    let spans = requests * args.batch;
    println!(
        "  latency: {} subscribers ({:?}, {:?}), {spans} spans in {requests} requests of {} over {connections} connections",
        args.subscribers, args.transport, args.follow, args.batch
    );
    println!(
        "  ingest rate                  {:.0} spans/s (asked {})",
        spans as f64 / measured.send_secs,
        args.rate
    );
    println!(
        "  events read / expected       {read} / {} (missed per /metrics: {:.0})",
        expected_events(&args, requests),
        measured.missed
    );
    println!("  ack → subscriber             {}", summary(after_ack));
    println!(
        "                               ({early} read before their request's ack arrived: counted as 0)"
    );
    println!("  send → subscriber            {}", summary(after_send));

    // 2. Throughput, none vs N subscribers, alternating on fresh servers.
    let requests = args.spans.div_ceil(args.batch);
    let bodies: Vec<Vec<u8>> = (0..requests)
        .map(|i| build_request(i, args.batch, shards))
        .collect();
    let stamps = Stamps::new(requests);
    let spans = (requests * args.batch) as f64;
    let mut rows: Vec<(usize, usize, f64, f64)> = Vec::new();
    for round in 1..=args.rounds.max(1) {
        for subscribers in [0, args.subscribers] {
            let measured = phase(&args, subscribers, &bodies, None, &stamps, t0)?;
            rows.push((
                round,
                subscribers,
                spans / measured.send_secs,
                spans / measured.cpu_secs.max(1e-9),
            ));
        }
    }
    println!(
        "  throughput: {spans} spans per round in requests of {} over {connections} connections",
        args.batch
    );
    println!("  round  subscribers  acknowledged spans/s  spans per server CPU-s");
    for (round, subscribers, rate, per_cpu) in &rows {
        println!("  {round:>5}  {subscribers:>11}  {rate:>20.0}  {per_cpu:>22.0}");
    }
    let median = |with: bool, pick: fn(&(usize, usize, f64, f64)) -> f64| {
        let mut values: Vec<f64> = rows
            .iter()
            .filter(|r| (r.1 > 0) == with)
            .map(pick)
            .collect();
        values.sort_by(f64::total_cmp);
        percentile(&values, 0.5)
    };
    let (none, with) = (median(false, |r| r.2), median(true, |r| r.2));
    let (none_cpu, with_cpu) = (median(false, |r| r.3), median(true, |r| r.3));
    println!(
        "  median                       {with:.0} vs {none:.0} spans/s = {:.3}×; per CPU-s {with_cpu:.0} vs {none_cpu:.0} = {:.3}×",
        with / none,
        with_cpu / none_cpu
    );
    Ok(())
}
