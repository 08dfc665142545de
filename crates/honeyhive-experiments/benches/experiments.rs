//! Experiment runner benchmarks against an in-process `hh` server on 127.0.0.1.
//!
//! 1. Harness overhead per datapoint: a no-op function and evaluator at concurrency 1;
//!    the time between the first and the last datapoint completion divided by the
//!    datapoints in between, minus the function + evaluator time itself
//!    (target ≤ 50 µs).
//! 2. 10 000 datapoints whose function sleeps 20 ms, concurrency 64, sync and async;
//!    wall time of the whole `run()` including run creation, the final flush, run
//!    completion and the result query (target ≤ 4 s; floor 10 000 / 64 × 20 ms = 3.125 s).
//!    Each line also says when the last datapoint finished (the rest is draining the
//!    background session calls, the flush and the result), and `GET /result` of the
//!    sync run is timed on its own.
//!
//! `cargo bench -p honeyhive-experiments --bench experiments`; `HH_BENCH_SLEEP_DATAPOINTS` and
//! `HH_BENCH_OVERHEAD_DATAPOINTS` change the sizes.
// A test's failed expectation is its failure: unwrap, expect and panic say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use honeyhive_experiments::{
    Connection, Datapoint, EvaluationSummary, Progress, evaluate, evaluate_async, evaluator_fn,
};
use honeyhive_server::testing::TestServer;
use parking_lot::Mutex;
use serde_json::json;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn dataset(n: usize) -> Vec<Datapoint> {
    (0..n)
        .map(|i| {
            Datapoint::new(json!({"i": i, "question": "what is 2 + 2?"}))
                .ground_truth(json!({"answer": "4"}))
        })
        .collect()
}

/// The server's store counters (from `/metrics`): commits, committed write jobs,
/// commit seconds, checkpoints beside the writer, checkpoints on the writer.
fn store_counters(url: &str) -> [f64; 5] {
    let text = ureq::get(format!("{url}/metrics"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    [
        value("hh_store_commits_total"),
        value("hh_store_jobs_committed_total"),
        value("hh_store_commit_seconds_sum"),
        value("hh_store_checkpoints_total{thread=\"checkpointer\"}"),
        value("hh_store_checkpoints_total{thread=\"writer\"}"),
    ]
}

/// Commits since `before`: how many, write jobs grouped per commit, time per
/// commit, and the WAL checkpoints beside and on the writer.
fn commits_since(url: &str, before: [f64; 5]) -> String {
    let now = store_counters(url);
    let [commits, jobs, seconds, beside, on_writer] = std::array::from_fn(|i| now[i] - before[i]);
    format!(
        "{commits:.0} commits, {:.1} write jobs and {:.2} ms per commit, {beside:.0}+{on_writer:.0} checkpoints beside/on the writer",
        jobs / commits.max(1.0),
        seconds * 1000.0 / commits.max(1.0)
    )
}

/// A progress callback that keeps the time of the latest completion since
/// `started`, in µs: what the run spends after it is draining and summarizing.
fn last_completion(started: Instant) -> (Arc<AtomicU64>, impl Fn(&Progress) + Send + Sync) {
    let last = Arc::new(AtomicU64::new(0));
    let store = last.clone();
    (last, move |_: &Progress| {
        store.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    })
}

/// Median time of 5 `GET /v1/runs/{run_id}/result` calls, read to the end.
fn result_millis(url: &str, key: &str, run_id: &str) -> f64 {
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let body = ureq::get(format!("{url}/v1/runs/{run_id}/result"))
                .header("Authorization", format!("Bearer {key}"))
                .call()
                .expect("result")
                .body_mut()
                .with_config()
                .limit(1 << 30)
                .read_to_vec()
                .expect("result body");
            assert!(body.len() > 1000, "a result with every datapoint");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn check(summary: &EvaluationSummary, n: usize) {
    assert_eq!(summary.datapoints.len(), n);
    assert_eq!(summary.passed.len(), n, "every datapoint passes");
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(TestServer::start());
    let (url, key) = (server.base_url(), server.api_key.clone());
    println!(
        "experiments bench: {} cores, in-process server at {url}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // 1. Harness overhead.
    let n = env_usize("HH_BENCH_OVERHEAD_DATAPOINTS", 3000);
    let completions: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let seen = completions.clone();
    let started = Instant::now();
    let summary =
        evaluate(|dp: &Datapoint| Ok::<_, String>(json!({"answer": "4", "i": dp.inputs["i"]})))
            .connection(Connection::new(key.as_str(), url.as_str()).unwrap())
            .dataset(dataset(n))
            .evaluator(evaluator_fn("exact", |out, _, gt| {
                Ok(json!(Some(&out["answer"]) == gt.map(|g| &g["answer"])))
            }))
            .max_concurrency(1)
            .on_progress(move |_| seen.lock().push(Instant::now()))
            .run()
            .expect("overhead run");
    let wall = started.elapsed();
    check(&summary, n);
    let times = completions.lock();
    let loop_time = times[n - 1] - times[0];
    let user_time: Duration = summary.datapoints[1..].iter().map(|d| d.duration).sum();
    let per_dp = loop_time.as_secs_f64() / (n - 1) as f64;
    let user_per_dp = user_time.as_secs_f64() / (n - 1) as f64;
    println!(
        "harness overhead: {n} datapoints at concurrency 1: {:.1} µs/datapoint loop, of which function+evaluator {:.1} µs → overhead {:.1} µs (whole run incl. create/flush/complete/result: {:.2} s)",
        per_dp * 1e6,
        user_per_dp * 1e6,
        (per_dp - user_per_dp) * 1e6,
        wall.as_secs_f64()
    );

    // 2. 10 000 × 20 ms at concurrency 64.
    let n = env_usize("HH_BENCH_SLEEP_DATAPOINTS", 10_000);
    let floor = n as f64 / 64.0 * 0.020;
    let before = store_counters(&url);
    let started = Instant::now();
    let (last_done, seen) = last_completion(started);
    let summary = evaluate(|_dp: &Datapoint| {
        std::thread::sleep(Duration::from_millis(20));
        Ok::<_, String>(json!({"answer": "4"}))
    })
    .connection(Connection::new(key.as_str(), url.as_str()).unwrap())
    .dataset(dataset(n))
    .evaluator(evaluator_fn("exact", |out, _, gt| {
        Ok(json!(Some(&out["answer"]) == gt.map(|g| &g["answer"])))
    }))
    .max_concurrency(64)
    .on_progress(seen)
    .run()
    .expect("sleep run");
    check(&summary, n);
    println!(
        "sync  {n} × 20 ms sleep, concurrency 64: {:.2} s wall (floor {floor:.3} s), last datapoint done at {:.2} s; {}",
        started.elapsed().as_secs_f64(),
        last_done.load(Ordering::Relaxed) as f64 / 1e6,
        commits_since(&url, before)
    );
    println!(
        "GET /v1/runs/{{id}}/result of that run: {:.0} ms median of 5 (server answer and transfer, not parsed)",
        result_millis(&url, &key, &summary.run_id)
    );

    let before = store_counters(&url);
    let started = Instant::now();
    let (last_done, seen) = last_completion(started);
    let summary = evaluate_async(|_dp: Datapoint| async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok::<_, String>(json!({"answer": "4"}))
    })
    .connection(Connection::new(key.as_str(), url.as_str()).unwrap())
    .dataset(dataset(n))
    .evaluator(evaluator_fn("exact", |out, _, gt| {
        Ok(json!(Some(&out["answer"]) == gt.map(|g| &g["answer"])))
    }))
    .max_concurrency(64)
    .on_progress(seen)
    .run();
    // Awaited with no runtime around it, so the run brings its own (as a program
    // without tokio would).
    let summary = block_on_this_thread(summary).expect("async sleep run");
    check(&summary, n);
    println!(
        "async {n} × 20 ms sleep, concurrency 64: {:.2} s wall (floor {floor:.3} s), last datapoint done at {:.2} s; {}",
        started.elapsed().as_secs_f64(),
        last_done.load(Ordering::Relaxed) as f64 / 1e6,
        commits_since(&url, before)
    );

    runtime.block_on(server.stop());
}

/// Drives a future on the calling thread, with no runtime around it.
fn block_on_this_thread<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => return out,
            std::task::Poll::Pending => std::thread::park(),
        }
    }
}
