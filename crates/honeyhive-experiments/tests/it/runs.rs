//! `honeyhive_experiments` end to end against a real in-process server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Server, app, capture_dataset, exact_match, length_check};
use honeyhive_experiments::{
    Aggregation, Connection, Datapoint, ExperimentsClient, Progress, RunStatus, evaluate,
    evaluate_async, evaluator_fn,
};
use parking_lot::Mutex;
use serde_json::{Value, json};

const CAPTURE_DATASET_ID: &str = "EXT-9151de35db353598";
const CAPTURE_IDS: [&str; 3] = [
    "EXT-c526555695cbd730",
    "EXT-10c83badc3bc68b3",
    "EXT-f8e1295600e97630",
];

#[test]
fn inline_dataset_runs_end_to_end_with_the_python_wire_shape() {
    let server = Server::start();
    let progress: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let seen = progress.clone();
    let summary = server
        .connect(evaluate(app))
        .name("rust-exp")
        .dataset(capture_dataset())
        .evaluator(evaluator_fn("exact_match", exact_match))
        .evaluator(evaluator_fn("length_check", length_check))
        .evaluator(evaluator_fn("is_exact", |out, _, gt| {
            Ok(json!(Some(&out["answer"]) == gt.map(|g| &g["answer"])))
        }))
        .max_concurrency(2)
        .on_progress(move |p| seen.lock().push(p.clone()))
        .run()
        .expect("run");

    // Ids exactly as the Python SDK computed them for this dataset.
    assert_eq!(summary.dataset_id, CAPTURE_DATASET_ID);
    let ids: Vec<&str> = summary
        .datapoints
        .iter()
        .map(|d| d.datapoint_id.as_str())
        .collect();
    assert_eq!(ids, CAPTURE_IDS);

    // Booleans must be true to pass: "hello" → "HELLO" misses "HELLO!" (is_exact
    // false), and "X" is not long enough (length_check_long_enough false).
    assert_eq!(summary.status, Some(RunStatus::Completed));
    assert!(!summary.success);
    assert_eq!(summary.passed, [CAPTURE_IDS[0]]);
    assert_eq!(summary.failed, [CAPTURE_IDS[1], CAPTURE_IDS[2]]);
    assert_eq!(
        summary
            .datapoints
            .iter()
            .map(|d| d.passed)
            .collect::<Vec<_>>(),
        [true, false, false]
    );
    let exact = summary.metric("exact_match").expect("exact_match");
    assert!((exact.aggregate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(exact.values, [1.0, 0.0, 1.0]);
    assert_eq!(summary.metric("length_check").unwrap().aggregate, Some(3.0));
    assert_eq!(
        summary.metric("length_check_long_enough").unwrap().values,
        [1.0, 1.0, 0.0]
    );
    assert!(
        summary.metric("length_check_explanation").is_none(),
        "strings are not metrics"
    );

    // Local per-datapoint view: outputs and flattened metrics like Python's.
    let second = &summary.datapoints[1];
    assert_eq!(second.outputs, Some(json!({"answer": "HELLO"})));
    assert_eq!(
        Value::Object(second.metrics.clone()),
        json!({"exact_match": 0.0, "length_check": 5, "length_check_explanation": "answer length",
               "length_check_long_enough": true, "is_exact": false})
    );
    assert!(second.error.is_none() && second.evaluator_errors.is_empty());

    // The stored session: evaluation source, inputs, run metadata, outputs and
    // ground truth from PUT /events, and the chain span with the scores.
    let events = server.session_events(&second.session_id);
    let session = events
        .iter()
        .find(|e| e["event_type"] == "session")
        .expect("session");
    assert_eq!(session["source"], "evaluation");
    assert_eq!(session["event_name"], "rust-exp");
    assert_eq!(session["inputs"], json!({"question": "hello"}));
    assert_eq!(session["metadata"]["run_id"], json!(summary.run_id));
    assert_eq!(session["metadata"]["dataset_id"], CAPTURE_DATASET_ID);
    assert_eq!(session["metadata"]["datapoint_id"], CAPTURE_IDS[1]);
    assert_eq!(session["outputs"], json!({"answer": "HELLO"}));
    assert_eq!(
        session["feedback"]["ground_truth"],
        json!({"answer": "HELLO!"})
    );
    let chain = events
        .iter()
        .find(|e| e["event_type"] == "chain")
        .expect("chain span");
    assert_eq!(chain["event_name"], "app");
    assert_eq!(chain["metrics"]["exact_match"], 0.0);
    assert_eq!(chain["metrics"]["length_check"], 5);
    assert_eq!(chain["outputs"]["result"]["answer"], "HELLO");
    assert_eq!(chain["metadata"]["datapoint_id"], CAPTURE_IDS[1]);

    // The run: completed, linked to the sessions in dataset order, EXT- dataset in metadata.
    let run = server.get(&format!("/v1/runs/{}", summary.run_id), &[]);
    let run = run.get("evaluation").unwrap_or(&run);
    assert_eq!(run["status"], "completed");
    assert_eq!(run["metadata"]["offline_dataset_id"], CAPTURE_DATASET_ID);
    assert_eq!(
        run["event_ids"],
        json!(
            summary
                .datapoints
                .iter()
                .map(|d| &d.session_id)
                .collect::<Vec<_>>()
        )
    );
    assert_eq!(run["configuration"]["function"], "app");
    assert_eq!(
        run["configuration"]["evaluators"],
        json!(["exact_match", "length_check", "is_exact"])
    );

    let progress = progress.lock();
    assert_eq!(progress.len(), 3);
    assert_eq!(progress.iter().map(|p| p.completed).max(), Some(3));
    assert!(progress.iter().all(|p| p.total == 3 && p.failed == 0));
}

#[test]
fn aggregate_functions_are_passed_to_the_server() {
    let server = Server::start();
    let run = |aggregate| {
        server
            .connect(evaluate(app))
            .dataset(capture_dataset())
            .evaluator(evaluator_fn("length_check", length_check))
            .aggregate(aggregate)
            .run()
            .expect("run")
    };
    // length scores are 3, 5, 1.
    let expect = [
        (Aggregation::Sum, 9.0),
        (Aggregation::Min, 1.0),
        (Aggregation::Max, 5.0),
        (Aggregation::Median, 3.0),
        (Aggregation::P90, 4.6),
    ];
    for (aggregate, want) in expect {
        let summary = run(aggregate);
        let got = summary.metric("length_check").unwrap().aggregate.unwrap();
        assert!((got - want).abs() < 1e-9, "{aggregate:?}: {got} != {want}");
        assert_eq!(summary.aggregate_function, aggregate);
        assert_eq!(
            summary.raw_result_json()["metrics"]["aggregation_function"],
            aggregate.as_str()
        );
    }
}

#[test]
fn failing_and_panicking_datapoints_and_evaluators_are_recorded_and_the_run_completes() {
    let server = Server::start();
    let dataset = vec![
        Datapoint::new(json!({"mode": "ok"})).id("ok"),
        Datapoint::new(json!({"mode": "error"})).id("error"),
        Datapoint::new(json!({"mode": "panic"})).id("panic"),
        Datapoint::new(json!({"mode": "bad-eval"})).id("bad-eval"),
    ];
    let summary = server
        .connect(evaluate(|dp: &Datapoint| {
            match dp.inputs["mode"].as_str() {
                Some("error") => Err("upstream timed out".to_string()),
                Some("panic") => panic!("index out of range"),
                Some(mode) => Ok(json!({"mode": mode})),
                None => Err("no mode".to_string()),
            }
        }))
        .function_name("flaky")
        .dataset(dataset)
        .evaluator(evaluator_fn("always_one", |_, _, _| Ok(json!(1))))
        .evaluator(evaluator_fn("picky", |out, _, _| {
            if out["mode"] == "bad-eval" {
                Err("cannot score this".into())
            } else {
                Ok(json!(0.5))
            }
        }))
        .evaluator(evaluator_fn("explodes", |out, _, _| {
            if out["mode"] == "bad-eval" {
                panic!("evaluator bug");
            }
            Ok(json!(true))
        }))
        .max_concurrency(4)
        .run()
        .expect("the run completes despite failures");

    assert_eq!(summary.status, Some(RunStatus::Completed));
    let by_id = |id: &str| summary.datapoint(&format!("EXT-{id}")).expect(id);
    assert_eq!(by_id("error").error.as_deref(), Some("upstream timed out"));
    assert_eq!(
        by_id("panic").error.as_deref(),
        Some("panic: index out of range")
    );
    assert!(by_id("error").outputs.is_none() && by_id("error").metrics.is_empty());
    let bad = by_id("bad-eval");
    assert!(bad.error.is_none());
    assert_eq!(bad.evaluator_errors["picky"], "cannot score this");
    assert_eq!(bad.evaluator_errors["explodes"], "panic: evaluator bug");
    assert_eq!(Value::Object(bad.metrics.clone()), json!({"always_one": 1}));
    assert!(by_id("ok").evaluator_errors.is_empty());

    // Function failures fail the datapoint on the server; evaluator failures only
    // drop that evaluator's metric.
    assert_eq!(summary.failed, ["EXT-error", "EXT-panic"]);
    assert_eq!(summary.passed, ["EXT-ok", "EXT-bad-eval"]);
    let raw_result = summary.raw_result_json();
    let result_dps = raw_result["datapoints"].as_array().unwrap();
    let errored = result_dps
        .iter()
        .find(|d| d["datapoint_id"] == "EXT-panic")
        .unwrap();
    assert!(
        errored["error"]
            .as_str()
            .unwrap()
            .contains("index out of range")
    );
    let picky = summary.metric("picky").unwrap();
    assert_eq!(
        picky.values,
        [0.5],
        "only the ok datapoint has a picky score"
    );

    let chain = server
        .session_events(&by_id("error").session_id)
        .into_iter()
        .find(|e| e["event_type"] == "chain")
        .expect("chain span of the failed datapoint");
    assert_eq!(chain["event_name"], "flaky");
    assert!(
        chain["error"]
            .as_str()
            .is_some_and(|e| e.ends_with("upstream timed out")),
        "{chain}"
    );
}

#[test]
fn compare_runs_reports_per_metric_changes_over_common_datapoints() {
    let server = Server::start();
    let old = server
        .connect(evaluate(app))
        .dataset(capture_dataset())
        .evaluator(evaluator_fn("exact_match", exact_match))
        .run()
        .expect("old run");
    let new = server
        .connect(evaluate(|dp: &Datapoint| {
            Ok::<_, String>(json!({"answer": dp.ground_truth.as_ref().unwrap()["answer"]}))
        }))
        .dataset(capture_dataset())
        .evaluator(evaluator_fn("exact_match", exact_match))
        .run()
        .expect("new run");
    let client =
        ExperimentsClient::new(&Connection::new(server.key.as_str(), server.url.as_str()).unwrap());
    let diff = client
        .compare_runs(&new.run_id, &old.run_id, Aggregation::Average)
        .expect("compare");
    assert_eq!(diff.common_datapoints, CAPTURE_IDS);
    let exact = diff.metric("exact_match").expect("exact_match compared");
    assert!((exact.old_aggregate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(exact.new_aggregate, Some(1.0));
    assert!((exact.difference.unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert!((exact.percentage_change.unwrap() - 50.0).abs() < 1e-9);
    assert_eq!(exact.improved, [CAPTURE_IDS[1]]);
    assert_eq!(exact.same, [CAPTURE_IDS[0], CAPTURE_IDS[2]]);
    assert!(exact.degraded.is_empty());
}

/// Datapoints in flight, and the most seen at once.
#[derive(Clone, Default)]
struct InFlight(Arc<(AtomicUsize, AtomicUsize)>);

impl InFlight {
    fn enter(&self) -> usize {
        let now = self.0.0.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.1.fetch_max(now, Ordering::SeqCst);
        now
    }

    fn leave(&self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }

    fn peak(&self) -> usize {
        self.0.1.load(Ordering::SeqCst)
    }

    /// Whether a datapoint should keep its slot: until `n` ran together, for at
    /// most 10 s since `entered` (so a broken runner fails the test's peak
    /// assertion instead of hanging).
    fn waiting_for(&self, n: usize, entered: Instant) -> bool {
        self.peak() < n && entered.elapsed() < Duration::from_secs(10)
    }
}

#[test]
fn no_more_than_max_concurrency_datapoints_run_at_once() {
    let server = Server::start();
    let in_flight = InFlight::default();
    let slots = in_flight.clone();
    let dataset: Vec<Datapoint> = (0..12).map(|i| Datapoint::new(json!({"i": i}))).collect();
    let summary = server
        .connect(evaluate(move |_dp: &Datapoint| {
            let (now, entered) = (slots.enter(), Instant::now());
            while slots.waiting_for(3, entered) {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(5));
            slots.leave();
            Ok::<_, String>(json!(now))
        }))
        .dataset(dataset)
        .max_concurrency(3)
        .run()
        .expect("run");
    assert_eq!(in_flight.peak(), 3);
    assert_eq!(summary.datapoints.len(), 12);
    assert_eq!(summary.passed.len(), 12);
}

#[test]
fn async_runs_keep_max_concurrency_datapoints_in_flight_and_record_panics() {
    let server = Server::start();
    let in_flight = InFlight::default();
    let slots = in_flight.clone();
    let mut dataset: Vec<Datapoint> = (0..19).map(|i| Datapoint::new(json!({"i": i}))).collect();
    dataset.push(Datapoint::new(json!({"mode": "panic"})).id("panic"));
    let summary = server
        .connect(evaluate_async(move |dp: Datapoint| {
            let slots = slots.clone();
            async move {
                let (now, entered) = (slots.enter(), Instant::now());
                while slots.waiting_for(5, entered) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                slots.leave();
                if dp.inputs["mode"] == "panic" {
                    panic!("async bug");
                }
                Ok::<_, String>(json!(now))
            }
        }))
        .dataset(dataset)
        .max_concurrency(5)
        .run();
    let summary = server.runtime.block_on(summary).expect("run");
    assert_eq!(in_flight.peak(), 5);
    assert_eq!(summary.datapoints.len(), 20);
    assert_eq!(summary.passed.len(), 19);
    assert_eq!(summary.failed, ["EXT-panic"]);
    assert_eq!(
        summary.datapoints[19].error.as_deref(),
        Some("panic: async bug")
    );
}

#[test]
fn async_functions_run_without_a_host_runtime() {
    let server = Server::start();
    // Awaited without a tokio runtime; tokio::time needs one, the run brings it.
    let run = server
        .connect(evaluate_async(|dp: Datapoint| async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            if dp.inputs["question"] == "x" {
                return Err("too short".to_string());
            }
            Ok(json!({"answer": dp.inputs["question"].as_str().unwrap_or("").to_uppercase()}))
        }))
        .dataset(capture_dataset())
        .evaluator(evaluator_fn("exact_match", exact_match))
        .max_concurrency(3)
        .run();
    let summary = block_on_this_thread(run).expect("run");
    assert_eq!(summary.passed, [CAPTURE_IDS[0], CAPTURE_IDS[1]]);
    assert_eq!(summary.failed, [CAPTURE_IDS[2]]);
    assert_eq!(summary.datapoints[2].error.as_deref(), Some("too short"));
    assert_eq!(summary.metric("exact_match").unwrap().values, [1.0, 0.0]);
}

#[test]
fn async_functions_use_the_callers_multi_thread_runtime() {
    let server = Server::start();
    let url = server.url.clone();
    let key = server.key.clone();
    // Awaited on a worker of the caller's runtime, which the run does not block.
    let summary = server.runtime.block_on(async move {
        tokio::spawn(
            evaluate_async(|dp: Datapoint| async move {
                tokio::task::yield_now().await;
                Ok::<_, String>(
                    json!({"answer": dp.inputs["question"].as_str().unwrap_or("").to_uppercase()}),
                )
            })
            .connection(Connection::new(key, url).unwrap())
            .dataset(capture_dataset())
            .evaluator(evaluator_fn("exact_match", exact_match))
            .run(),
        )
        .await
        .expect("join")
        .expect("run")
    });
    assert_eq!(summary.passed.len(), 3);
}

#[test]
fn an_unreachable_server_fails_the_run_with_a_clear_error() {
    let err = evaluate(app)
        .dataset(capture_dataset())
        .connection(Connection::new("k", "http://127.0.0.1:9").unwrap())
        .run()
        .unwrap_err();
    assert_eq!(err.code(), "HH-E306");
    assert!(err.to_string().contains("/v1/runs"), "{err}");
    let err = evaluate(app)
        .dataset(capture_dataset())
        .connection(Connection::new("k", "http://127.0.0.1:9").unwrap())
        .max_concurrency(0)
        .run()
        .unwrap_err();
    assert_eq!(err.code(), "HH-E304");
    let err = evaluate(app).run().unwrap_err();
    assert_eq!(err.code(), "HH-E301");
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
