//! `hh bench ingest`: a load generator for the ingest path; `hh bench events`
//! (below) and `hh bench runs` ([`runs`](mod@runs)) share its server plumbing.
//!
//! Starts a fresh `hh serve` child process on free ports with a temporary data
//! directory, posts pre-built OTLP protobuf batches (5-span LLM-like traces,
//! ~120-char inputs/outputs) over N keep-alive connections, then measures
//! acknowledged spans/s, the time until all are queryable, the server's
//! CPU-seconds (from `/proc/<pid>/stat`), its RSS, and DB bytes per span.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use honeyhive_model::EventType;
use honeyhive_model::attributes::{self as attr, Namespace};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use prost::Message as _;

mod live;
mod runs;

pub(crate) use live::{LiveArgs, live};
pub(crate) use runs::{RunsArgs, runs};

/// Options of `hh bench ingest`.
#[derive(Args, Debug, Clone)]
pub(crate) struct IngestArgs {
    /// Total spans to send (rounded up to whole requests).
    #[arg(long, default_value_t = 200_000)]
    spans: usize,
    /// Spans per request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Session-tree fetches (`GET /v1/sessions/{id}`) timed after the ingest, for p50/p99.
    #[arg(long, default_value_t = 1000)]
    tree_samples: usize,
    /// Keep the data directory (printed) instead of deleting it.
    #[arg(long)]
    keep_data: bool,
}

const BENCH_KEY: &str = "hh-bench-key-0123456789abcdef";
const TEXT_120: &str = "Summarise the customer's last three support tickets and propose a next step that keeps the refund policy intact, politely.";

pub(crate) fn ingest(args: IngestArgs) -> Result<()> {
    if args.batch == 0 || !args.batch.is_multiple_of(5) {
        bail!("--batch must be a positive multiple of 5 (traces have 5 spans)");
    }
    let requests = args.spans.div_ceil(args.batch);
    let total_spans = requests * args.batch;
    eprintln!(
        "building {requests} requests of {} spans ({total_spans} spans)...",
        args.batch
    );
    let bodies: Vec<Vec<u8>> = (0..requests)
        .map(|i| build_request(i, args.batch))
        .collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();

    let data_dir = tempfile_dir()?;
    let http_port = free_port()?;
    let grpc_port = free_port()?;
    let mut server = spawn_server(None, &data_dir, http_port, grpc_port)?;
    let base = format!("http://127.0.0.1:{http_port}");
    wait_ready(&base, &mut server)?;
    let pid = server.id();
    let idle_rss_kb = rss_kb(pid)?;
    let cpu_before = cpu_seconds(pid)?;

    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.connections.max(1) {
            scope.spawn(|| {
                let agent = crate::client::agent(None);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    if post_with_retry(&agent, &base, body).is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let acked_at = Instant::now();
    let send_secs = acked_at.duration_since(started).as_secs_f64();
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("{failed} requests were not acknowledged");
    }

    let agent = crate::client::agent(None);
    let queryable_after = loop {
        let count = count_events(&agent, &base)?;
        if count >= total_spans as u64 {
            break acked_at.elapsed();
        }
        if acked_at.elapsed() > Duration::from_secs(120) {
            bail!("only {count} of {total_spans} spans queryable after 120 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let cpu_used = cpu_seconds(pid)? - cpu_before;
    let loaded_rss_kb = rss_kb(pid)?;
    let tree_latencies = time_tree_fetches(&agent, &base, total_spans / 5, args.tree_samples)?;
    stop_server(&mut server);
    let db_bytes = dir_size(&data_dir);

    println!("hh bench ingest — {}", machine());
    println!(
        "  spans sent (acknowledged)    {total_spans} in {requests} requests of {} over {} connections",
        args.batch, args.connections
    );
    println!(
        "  request bytes (protobuf)     {:.1} MiB",
        bytes as f64 / 1048576.0
    );
    println!("  wall time to acknowledge     {send_secs:.2} s");
    println!(
        "  acknowledged spans/s         {:.0}",
        total_spans as f64 / send_secs
    );
    println!(
        "  queryable after last ack     {:.1} ms",
        queryable_after.as_secs_f64() * 1000.0
    );
    println!("  server CPU-seconds           {cpu_used:.2} s");
    println!(
        "  spans per server CPU-second  {:.0}",
        total_spans as f64 / cpu_used.max(1e-9)
    );
    println!(
        "  server RSS idle / loaded     {:.1} MB / {:.1} MB",
        idle_rss_kb as f64 / 1024.0,
        loaded_rss_kb as f64 / 1024.0
    );
    println!(
        "  data dir bytes per span      {:.0} B",
        db_bytes as f64 / total_spans as f64
    );
    if !tree_latencies.is_empty() {
        println!(
            "  session tree fetch           p50 {:.2} ms, p99 {:.2} ms ({} samples, {} spans stored)",
            percentile(&tree_latencies, 0.50),
            percentile(&tree_latencies, 0.99),
            tree_latencies.len(),
            total_spans
        );
    }
    if args.keep_data {
        println!("  data dir                     {}", data_dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    Ok(())
}

fn post_with_retry(agent: &ureq::Agent, base: &str, body: &[u8]) -> Result<()> {
    for attempt in 0..50u32 {
        let resp = agent
            .post(&format!("{base}/opentelemetry/v1/traces"))
            .header("Authorization", &format!("Bearer {BENCH_KEY}"))
            .header("Content-Type", "application/x-protobuf")
            .config()
            .http_status_as_error(false)
            .build()
            .send(body);
        match resp {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if r.status() == 429 || r.status() == 503 => {
                std::thread::sleep(Duration::from_millis(10 * u64::from(attempt + 1)));
            }
            Ok(r) => bail!("server answered {}", r.status()),
            Err(e) => bail!("request failed: {e}"),
        }
    }
    bail!("server stayed over budget")
}

fn count_events(agent: &ureq::Agent, base: &str) -> Result<u64> {
    let filters =
        r#"[{"field":"event_type","operator":"is not","value":"session","type":"string"}]"#;
    let mut resp = agent
        .get(&format!("{base}/events"))
        .query("filters", filters)
        .query("limit", "1")
        .header("Authorization", &format!("Bearer {BENCH_KEY}"))
        .call()
        .context("querying GET /events")?;
    let body: serde_json::Value = resp
        .body_mut()
        .read_json()
        .context("decoding GET /events")?;
    Ok(body["totalEvents"].as_u64().unwrap_or(0))
}

/// Times `GET /v1/sessions/{id}` for `samples` sessions spread over all `sessions`; sorted ms.
fn time_tree_fetches(
    agent: &ureq::Agent,
    base: &str,
    sessions: usize,
    samples: usize,
) -> Result<Vec<f64>> {
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples.min(sessions) {
        let trace_no = (i * (sessions / samples.max(1)).max(1)) as u128;
        let started = Instant::now();
        let mut resp = agent
            .get(&format!("{base}/v1/sessions/{}", session_id_of(trace_no)))
            .header("Authorization", &format!("Bearer {BENCH_KEY}"))
            .call()
            .context("GET /v1/sessions/{id}")?;
        let tree: serde_json::Value = resp.body_mut().read_json()?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        let children = tree["children"].as_array().map(Vec::len).unwrap_or(0);
        if children == 0 {
            bail!(
                "session {} came back without its events",
                session_id_of(trace_no)
            );
        }
    }
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(idx).copied().unwrap_or(0.0)
}

fn session_id_of(trace_no: u128) -> String {
    format!("{trace_no:032x}")
}

/// One request: `batch / 5` traces of a chain → model, retriever tool, model, tool.
fn build_request(request_index: usize, batch: usize) -> Vec<u8> {
    let mut spans = Vec::with_capacity(batch);
    let base_ns: u64 = 1_795_000_000_000_000_000 + request_index as u64 * 1_000_000_000;
    for t in 0..batch / 5 {
        let trace_no = (request_index * batch / 5 + t) as u128;
        let trace_id = (trace_no.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835) | 1)
            .to_be_bytes()
            .to_vec();
        let span_id = |k: u64| {
            ((trace_no as u64) << 8 | (k + 1))
                .wrapping_mul(0x2545_F491_4F6C_DD1D)
                .to_be_bytes()
                .to_vec()
        };
        let start = base_ns + t as u64 * 1000;
        for k in 0..5u64 {
            let (name, kind, model) = match k {
                0 => ("agent.run", EventType::Chain, false),
                1 => ("openai.chat", EventType::Model, true),
                2 => ("retrieve_docs", EventType::Tool, false),
                3 => ("anthropic.messages", EventType::Model, true),
                _ => ("send_reply", EventType::Tool, false),
            };
            let mut attributes = vec![
                kv_str(attr::SESSION_ID, &session_id_of(trace_no)),
                kv_str(attr::SOURCE, "bench"),
                kv_str(attr::EVENT_TYPE, kind.as_str()),
                kv_str(&Namespace::Inputs.key("prompt"), TEXT_120),
                kv_str(attr::OUTPUTS_RESULT, TEXT_120),
            ];
            if model {
                attributes.push(kv_str(
                    "gen_ai.request.model",
                    if k == 1 {
                        "gpt-4o-mini"
                    } else {
                        "claude-3-5-haiku-latest"
                    },
                ));
                attributes.push(kv_int("gen_ai.usage.input_tokens", 120 + k as i64));
                attributes.push(kv_int("gen_ai.usage.output_tokens", 48));
            }
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: span_id(k),
                parent_span_id: if k == 0 { Vec::new() } else { span_id(0) },
                name: name.to_string(),
                kind: 1,
                start_time_unix_nano: start + k * 100,
                end_time_unix_nano: start + k * 100 + 90,
                attributes,
                status: Some(Status {
                    code: status::StatusCode::Ok as i32,
                    message: String::new(),
                }),
                ..Span::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv_str("service.name", "hh-bench")],
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

fn kv_str(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..KeyValue::default()
    }
}

fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

/// Set to another `hh` binary to benchmark its server with this client
/// (before/after comparisons with the same load generator).
const SERVER_EXE_ENV: &str = "HH_BENCH_SERVER_EXE";

/// Starts `hh serve` from `exe`, else from [`SERVER_EXE_ENV`], else this binary.
fn spawn_server(
    exe: Option<&Path>,
    data_dir: &Path,
    http_port: u16,
    grpc_port: u16,
) -> Result<Child> {
    let exe = match (exe, std::env::var_os(SERVER_EXE_ENV)) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(path)) => PathBuf::from(path),
        (None, None) => std::env::current_exe().context("locating the hh binary")?,
    };
    Command::new(exe)
        .arg("serve")
        .arg("--data")
        .arg(data_dir)
        .arg("--addr")
        .arg(format!("127.0.0.1:{http_port}"))
        .arg("--grpc-addr")
        .arg(format!("127.0.0.1:{grpc_port}"))
        .env("HH_API_KEY", BENCH_KEY)
        .env("HH_PROJECT", "bench")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting hh serve")
}

fn wait_ready(base: &str, server: &mut Child) -> Result<()> {
    let agent = crate::client::agent(None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = server.try_wait()? {
            bail!("hh serve exited early: {status}");
        }
        if agent.get(&format!("{base}/readyz")).call().is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("hh serve was not ready after 30 s")
}

fn stop_server(server: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = server.kill();
    let _ = server.wait();
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "hh-bench-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading /proc/<pid>/stat")?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let hz = clock_ticks_per_second();
    Ok((ticks(11) + ticks(12)) / hz)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn machine() -> String {
    let mut cpu = String::new();
    if let Ok(mut f) = std::fs::File::open("/proc/cpuinfo") {
        let _ = f.read_to_string(&mut cpu);
    }
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores, {model}")
}

/// Options of `hh bench events`.
#[derive(Args, Debug, Clone)]
pub(crate) struct EventsArgs {
    /// Sessions to start; each is then enriched once with `PUT /events`.
    #[arg(long, default_value_t = 5_000)]
    sessions: usize,
    /// Concurrent keep-alive connections (the experiment runner's workers).
    #[arg(long, default_value_t = 16)]
    connections: usize,
}

/// `hh bench events`: the HoneyHive event API's small requests, as `evaluate()`
/// sends them — `POST /session/start` then `PUT /events` on the session, over
/// N concurrent connections — reporting requests/s, server CPU per request and
/// how many requests each commit grouped.
pub(crate) fn events(args: EventsArgs) -> Result<()> {
    let data_dir = tempfile_dir()?;
    let http_port = free_port()?;
    let grpc_port = free_port()?;
    let mut server = spawn_server(None, &data_dir, http_port, grpc_port)?;
    let base = format!("http://127.0.0.1:{http_port}");
    wait_ready(&base, &mut server)?;
    let pid = server.id();
    let agent = crate::client::agent(None);
    let (commits_before, jobs_before) = commit_counters(&agent, &base)?;
    let cpu_before = cpu_seconds(pid)?;
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.connections.max(1) {
            scope.spawn(|| {
                let agent = crate::client::agent(None);
                while next.fetch_add(1, Ordering::Relaxed) < args.sessions {
                    if start_and_enrich(&agent, &base).is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let cpu_used = cpu_seconds(pid)? - cpu_before;
    let (commits_after, jobs_after) = commit_counters(&agent, &base)?;
    stop_server(&mut server);
    let _ = std::fs::remove_dir_all(&data_dir);
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("{failed} sessions failed");
    }
    let requests = (args.sessions * 2) as f64;
    let commits = (commits_after - commits_before).max(1.0);
    println!("hh bench events — {}", machine());
    println!(
        "  requests                     {requests:.0} ({} × session/start + PUT /events) over {} connections",
        args.sessions, args.connections
    );
    println!("  wall time                    {secs:.2} s");
    println!("  requests/s                   {:.0}", requests / secs);
    println!("  server CPU-seconds           {cpu_used:.2} s");
    println!(
        "  server CPU per request       {:.0} µs",
        cpu_used / requests * 1e6
    );
    println!(
        "  commits                      {commits:.0} ({:.1} writes per commit)",
        (jobs_after - jobs_before) / commits
    );
    Ok(())
}

fn start_and_enrich(agent: &ureq::Agent, base: &str) -> Result<()> {
    let started: serde_json::Value = agent
        .post(&format!("{base}/session/start"))
        .header("Authorization", &format!("Bearer {BENCH_KEY}"))
        .send_json(serde_json::json!({"session": {
            "project": "bench", "session_name": "bench", "source": "bench",
            "inputs": {"question": TEXT_120},
        }}))?
        .body_mut()
        .read_json()?;
    let session_id = started["session_id"]
        .as_str()
        .context("session/start answered without session_id")?;
    agent
        .put(&format!("{base}/events"))
        .header("Authorization", &format!("Bearer {BENCH_KEY}"))
        .send_json(serde_json::json!({
            "event_id": session_id, "outputs": {"answer": TEXT_120},
            "metrics": {"accuracy": 1.0},
        }))?
        .body_mut()
        // Reading the answer hands the connection back to the agent for reuse.
        .read_to_string()?;
    Ok(())
}

/// `hh_store_commits_total` and `hh_store_jobs_committed_total` from `/metrics`.
fn commit_counters(agent: &ureq::Agent, base: &str) -> Result<(f64, f64)> {
    let text = agent
        .get(&format!("{base}/metrics"))
        .call()?
        .body_mut()
        .read_to_string()?;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((
        value("hh_store_commits_total "),
        value("hh_store_jobs_committed_total "),
    ))
}
