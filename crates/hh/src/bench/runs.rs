//! `hh bench runs`: run results and comparisons against a fresh `hh serve`.
//!
//! Seeds two runs of N events each over HTTP (the same datapoints, comparable
//! events: a session, an `app` chain carrying the metrics, an `llm` model call,
//! a tool named after its datapoint and a `format` tool per datapoint), then
//! times `GET /v1/runs/compare/events`, `/v1/runs/{id}/result`,
//! `/v1/runs/{new}/compare-with/{old}` and `/v1/runs/schema` (median of several),
//! first one at a time, then with several clients at once, probing `/healthz`
//! every 5 ms all along and reporting its latency. `--server-bin` runs another `hh`
//! binary's server under the same load, for before/after comparisons.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use honeyhive_model::EventType;
use honeyhive_model::run::{RunStatus, RunUpdate};
use serde_json::{Value, json};

use super::{
    BENCH_KEY, free_port, machine, percentile, spawn_server, stop_server, tempfile_dir, wait_ready,
};

/// Options of `hh bench runs`.
#[derive(Args, Debug, Clone)]
pub(crate) struct RunsArgs {
    /// Events per run (5 per datapoint, rounded up).
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Timed requests per route, one at a time (the median is reported).
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// Clients sending the routes at once in the contended phase.
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Rounds of all routes each client sends in the contended phase.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// The `hh` binary whose `serve` to measure (default: this one).
    #[arg(long = "server-bin")]
    server_bin: Option<PathBuf>,
    /// Write each route's answer here (`<route>.json`), to compare two servers' answers.
    #[arg(long = "dump-dir")]
    dump_dir: Option<PathBuf>,
}

const EVENTS_PER_DATAPOINT: usize = 5;
const RUN_A: &str = "bench-run-a";
const RUN_B: &str = "bench-run-b";
/// Events per `POST /events/batch`.
const SEED_BATCH: usize = 1000;
const SEED_CONNECTIONS: usize = 4;
const BASE_MS: f64 = 1_790_000_000_000.0;

/// The routes timed, by label.
fn routes() -> [(&'static str, String); 4] {
    [
        (
            "compare/events",
            format!("/v1/runs/compare/events?run_id_1={RUN_A}&run_id_2={RUN_B}"),
        ),
        ("result", format!("/v1/runs/{RUN_A}/result")),
        (
            "compare-with",
            format!("/v1/runs/{RUN_A}/compare-with/{RUN_B}"),
        ),
        ("runs/schema", "/v1/runs/schema".to_string()),
    ]
}

pub(crate) fn runs(args: RunsArgs) -> Result<()> {
    let datapoints = args.events.div_ceil(EVENTS_PER_DATAPOINT).max(1);
    let data_dir = tempfile_dir()?;
    let http_port = free_port()?;
    let grpc_port = free_port()?;
    let mut server = spawn_server(args.server_bin.as_deref(), &data_dir, http_port, grpc_port)?;
    let base = format!("http://127.0.0.1:{http_port}");
    let outcome = wait_ready(&base, &mut server).and_then(|()| measure(&args, &base, datapoints));
    let peak_rss_kb = peak_rss_kb(server.id());
    stop_server(&mut server);
    let _ = std::fs::remove_dir_all(&data_dir);
    let report = outcome?;

    let server_bin = match &args.server_bin {
        Some(path) => path.display().to_string(),
        None => "this hh".to_string(),
    };
    println!("hh bench runs — {}", machine());
    println!(
        "  server                       {server_bin}, two runs of {} events ({datapoints} datapoints of {EVENTS_PER_DATAPOINT})",
        datapoints * EVENTS_PER_DATAPOINT
    );
    println!("  seeding over HTTP            {:.1} s", report.seed_secs);
    println!("  one at a time ({} samples each):", args.samples);
    for (label, ms, detail) in &report.alone {
        println!("    {label:<26} median {ms:>9.1} ms  {detail}");
    }
    print_healthz("    /healthz meanwhile", &report.healthz_alone);
    println!(
        "  {} clients at once, {} rounds of every route: wall {:.1} s",
        args.clients, args.rounds, report.contended_secs
    );
    print_healthz("    /healthz meanwhile", &report.healthz_contended);
    if let Some(kb) = peak_rss_kb {
        println!(
            "  server peak RSS              {:.1} MB",
            kb as f64 / 1024.0
        );
    }
    Ok(())
}

fn print_healthz(label: &str, sorted_ms: &[f64]) {
    if sorted_ms.is_empty() {
        println!("{label:<30} no samples");
        return;
    }
    println!(
        "{label:<30} p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} probes, one per 5 ms)",
        percentile(sorted_ms, 0.50),
        percentile(sorted_ms, 0.99),
        sorted_ms.last().copied().unwrap_or(0.0),
        sorted_ms.len()
    );
}

struct Report {
    seed_secs: f64,
    /// (route, median ms, what the answer held).
    alone: Vec<(&'static str, f64, String)>,
    healthz_alone: Vec<f64>,
    contended_secs: f64,
    healthz_contended: Vec<f64>,
}

fn measure(args: &RunsArgs, base: &str, datapoints: usize) -> Result<Report> {
    let seeding = Instant::now();
    seed(base, RUN_A, datapoints, |i| (i % 10) as f64 / 10.0)?;
    seed(base, RUN_B, datapoints, |i| ((i + 3) % 10) as f64 / 10.0)?;
    let seed_secs = seeding.elapsed().as_secs_f64();

    let agent = new_agent();
    // One untimed pass warms the page cache and checks every route answers.
    for (label, path) in routes() {
        let body = get_body(&agent, base, &path).with_context(|| format!("warming {label}"))?;
        if let Some(dir) = &args.dump_dir {
            std::fs::create_dir_all(dir)?;
            let file = dir.join(format!("{}.json", label.replace('/', "-")));
            std::fs::write(&file, body).with_context(|| format!("writing {}", file.display()))?;
        }
    }

    let (alone, healthz_alone) = with_healthz_probes(base, || {
        let mut medians = Vec::new();
        for (label, path) in routes() {
            let mut times = Vec::with_capacity(args.samples);
            let mut detail = String::new();
            for _ in 0..args.samples.max(1) {
                let started = Instant::now();
                let body = get_json(&agent, base, &path)?;
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                detail = describe(label, &body);
            }
            times.sort_by(f64::total_cmp);
            medians.push((label, percentile(&times, 0.5), detail));
        }
        Ok(medians)
    })?;

    let contended_started = Instant::now();
    let ((), healthz_contended) = with_healthz_probes(base, || {
        let failures = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for client in 0..args.clients.max(1) {
                let failures = &failures;
                scope.spawn(move || {
                    let agent = new_agent();
                    let routes = routes();
                    for round in 0..args.rounds.max(1) {
                        for k in 0..routes.len() {
                            // Clients start on different routes.
                            let (_, path) = &routes[(k + client + round) % routes.len()];
                            if get_json(&agent, base, path).is_err() {
                                failures.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                });
            }
        });
        match failures.load(Ordering::Relaxed) {
            0 => Ok(()),
            n => bail!("{n} requests of the contended phase failed"),
        }
    })?;
    let contended_secs = contended_started.elapsed().as_secs_f64();
    Ok(Report {
        seed_secs,
        alone,
        healthz_alone,
        contended_secs,
        healthz_contended,
    })
}

fn new_agent() -> ureq::Agent {
    crate::client::agent(Some(Duration::from_secs(1800)))
}

/// How often `/healthz` is probed.
const PROBE_INTERVAL: Duration = Duration::from_millis(5);

/// Runs `work` while a thread probes `/healthz` every [`PROBE_INTERVAL`], one
/// request at a time; returns its result and the latencies in ms, sorted.
///
/// A probe that takes longer than the interval delays the next ones; the
/// probes that would have been sent meanwhile are counted as waiting until it
/// answered (HdrHistogram's correction for coordinated omission), so a stall
/// of the server weighs by its length, not as one slow sample.
fn with_healthz_probes<T>(base: &str, work: impl FnOnce() -> Result<T>) -> Result<(T, Vec<f64>)> {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let prober = scope.spawn(|| {
            let agent = new_agent();
            let interval_ms = PROBE_INTERVAL.as_secs_f64() * 1000.0;
            let mut latencies = Vec::new();
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                }
                let started = Instant::now();
                match agent.get(&format!("{base}/healthz")).call() {
                    Ok(mut r) => {
                        let _ = r.body_mut().read_to_string();
                        let ms = started.elapsed().as_secs_f64() * 1000.0;
                        latencies.push(ms);
                        let mut missed = ms - interval_ms;
                        while missed >= interval_ms {
                            latencies.push(missed);
                            missed -= interval_ms;
                        }
                    }
                    Err(e) => eprintln!("healthz probe failed: {e}"),
                }
                next = (next + PROBE_INTERVAL).max(started);
            }
            latencies
        });
        let outcome = work();
        stop.store(true, Ordering::Relaxed);
        let mut latencies = prober.join().unwrap_or_default();
        latencies.sort_by(f64::total_cmp);
        outcome.map(|value| (value, latencies))
    })
}

fn get_json(agent: &ureq::Agent, base: &str, path: &str) -> Result<Value> {
    let body = get_body(agent, base, path)?;
    serde_json::from_str(&body).with_context(|| format!("decoding GET {path}"))
}

/// The body of a successful GET, as sent.
fn get_body(agent: &ureq::Agent, base: &str, path: &str) -> Result<String> {
    let mut response = agent
        .get(&format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {BENCH_KEY}"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .with_context(|| format!("GET {path}"))?;
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .with_context(|| format!("reading GET {path}"))?;
    if !status.is_success() {
        bail!("GET {path} answered {status}: {body}");
    }
    Ok(body)
}

/// What an answer held, to show the servers answered alike.
fn describe(label: &str, body: &Value) -> String {
    let len = |v: &Value| v.as_array().map_or(0, Vec::len);
    match label {
        "compare/events" => format!(
            "{} pairs of {} matched",
            len(&body["events"]),
            body["pagination"]["total"]
        ),
        "result" => format!(
            "{} datapoints, {} event names",
            len(&body["datapoints"]),
            len(&body["event_details"])
        ),
        "compare-with" => format!("{} common datapoints", len(&body["commonDatapoints"])),
        _ => format!("{} fields", len(&body["fields"])),
    }
}

/// Datapoint `i`'s events in run `run`: a session, the `app` chain with the
/// metrics, an `llm` model call, a tool named after the datapoint, `format`.
fn datapoint_events(run: &str, i: usize, accuracy: f64) -> Vec<Value> {
    let session = format!("{run}-s{i}");
    let start = BASE_MS + i as f64 * 100.0;
    let step = |k: usize, kind: EventType, name: String| {
        json!({
            "event_id": format!("{run}-{i}-{k}"),
            "session_id": session,
            "parent_id": session,
            "event_type": kind,
            "event_name": name,
            "start_time": start + k as f64,
            "end_time": start + k as f64 + 0.5,
            "inputs": {"question": format!("question {i}")},
            "outputs": {"answer": format!("answer {i} of {run}")},
        })
    };
    let mut app = step(1, EventType::Chain, "app".to_string());
    app["metrics"] = json!({
        "accuracy": accuracy,
        "relevance": (i % 7) as f64 / 7.0,
        "grounded": !i.is_multiple_of(3),
    });
    vec![
        json!({
            "event_id": session,
            "session_id": session,
            "event_type": EventType::Session,
            "event_name": "bench-eval",
            "start_time": start,
            "end_time": start + 10.0,
            "metadata": {"run_id": run, "datapoint_id": format!("dp-{i}")},
        }),
        app,
        step(2, EventType::Model, "llm".to_string()),
        step(3, EventType::Tool, format!("lookup-{i}")),
        step(4, EventType::Tool, "format".to_string()),
    ]
}

/// Posts run `run`'s events over a few connections, then the run itself.
fn seed(base: &str, run: &str, datapoints: usize, accuracy: fn(usize) -> f64) -> Result<()> {
    let per_batch = SEED_BATCH / EVENTS_PER_DATAPOINT;
    let batches = datapoints.div_ceil(per_batch);
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..SEED_CONNECTIONS {
            scope.spawn(|| {
                let agent = new_agent();
                loop {
                    let batch = next.fetch_add(1, Ordering::Relaxed);
                    if batch >= batches {
                        break;
                    }
                    let from = batch * per_batch;
                    let to = (from + per_batch).min(datapoints);
                    let events: Vec<Value> = (from..to)
                        .flat_map(|i| datapoint_events(run, i, accuracy(i)))
                        .collect();
                    let sent = agent
                        .post(&format!("{base}/events/batch"))
                        .header("Authorization", &format!("Bearer {BENCH_KEY}"))
                        .send_json(json!({"events": events}));
                    if sent.is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    if failures.load(Ordering::Relaxed) > 0 {
        bail!("seeding {run}: some event batches were refused");
    }
    let sessions: Vec<String> = (0..datapoints).map(|i| format!("{run}-s{i}")).collect();
    let datapoint_ids: Vec<String> = (0..datapoints).map(|i| format!("dp-{i}")).collect();
    new_agent()
        .post(&format!("{base}/v1/runs"))
        .header("Authorization", &format!("Bearer {BENCH_KEY}"))
        .send_json(RunUpdate {
            run_id: Some(run.to_string()),
            name: Some(run.to_string()),
            status: Some(RunStatus::Completed),
            event_ids: Some(sessions),
            datapoint_ids: Some(datapoint_ids),
            ..RunUpdate::default()
        })
        .with_context(|| format!("creating run {run}"))?;
    Ok(())
}

/// The peak resident set of a process (`VmHWM`), in KiB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}
