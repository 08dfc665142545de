//! Run results and comparisons over runs shaped to hit nested scans (many
//! datapoints, a distinct event name per step): exact answers, bounded reads
//! with a clear error past the bounds, and async workers that keep answering
//! `/healthz` while heavy comparisons run.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Answer, Harness};

const BASE_MS: f64 = 1_700_000_000_000.0;
/// Events per `POST /events/batch`.
const BATCH: usize = 1000;

/// How a seeded run records its datapoints. Datapoint `i`'s session holds a
/// session event (`eval-session`) and steps `step-{i}-{j}`: step 0 is a chain
/// carrying the metrics `accuracy` and `check-{i % 40}` (false when `i % 3 == 0`),
/// the others are tools. Every step has its own name, so a run has as many
/// distinct (name, type) pairs as steps.
struct Seed<'a> {
    run_id: &'a str,
    /// Datapoint indices, in the run's order.
    datapoints: Vec<usize>,
    steps: usize,
    accuracy: fn(usize) -> f64,
    /// `(i, j)`: step j of datapoint i is left out.
    skip: fn(usize, usize) -> bool,
    /// Datapoints whose step 1 is recorded twice (the later one never pairs).
    doubled: fn(usize) -> bool,
    /// A step name only this run has (on every datapoint, after the others).
    own_step: Option<&'a str>,
}

/// One seeded event, as the test expects it back.
#[derive(Debug, Clone)]
struct Seeded {
    id: String,
    datapoint: usize,
    name: String,
    kind: &'static str,
    start: f64,
}

fn session_id(run: &str, i: usize) -> String {
    format!("{run}-s{i}")
}

fn check_name(i: usize) -> String {
    format!("check-{}", i % 40)
}

impl Seed<'_> {
    /// The events of datapoint `i`'s session, in time order.
    fn events(&self, i: usize) -> Vec<Seeded> {
        let at = |offset: f64| BASE_MS + i as f64 * 100.0 + offset;
        let mut out = vec![Seeded {
            id: session_id(self.run_id, i),
            datapoint: i,
            name: "eval-session".into(),
            kind: "session",
            start: at(0.0),
        }];
        for j in 0..self.steps {
            if (self.skip)(i, j) {
                continue;
            }
            out.push(Seeded {
                id: format!("{}-{i}-{j}", self.run_id),
                datapoint: i,
                name: format!("step-{i}-{j}"),
                kind: if j == 0 { "chain" } else { "tool" },
                start: at(1.0 + j as f64 * 2.0),
            });
            if j == 1 && (self.doubled)(i) {
                out.push(Seeded {
                    id: format!("{}-{i}-1b", self.run_id),
                    datapoint: i,
                    name: format!("step-{i}-1"),
                    kind: "tool",
                    start: at(4.0),
                });
            }
        }
        if let Some(name) = self.own_step {
            out.push(Seeded {
                id: format!("{}-{i}-own", self.run_id),
                datapoint: i,
                name: name.into(),
                kind: "tool",
                start: at(90.0),
            });
        }
        out
    }

    fn wire(&self, e: &Seeded) -> Value {
        let session = session_id(self.run_id, e.datapoint);
        let mut event = json!({
            "event_id": e.id,
            "session_id": session,
            "event_type": e.kind,
            "event_name": e.name,
            "start_time": e.start,
            "end_time": e.start + 1.0,
            "inputs": {"question": format!("question {} of {}", e.datapoint, self.run_id)},
            "outputs": {"answer": format!("answer {}", e.id)},
        });
        if e.kind == "session" {
            event["metadata"] = json!({
                "run_id": self.run_id,
                "datapoint_id": format!("dp-{}", e.datapoint),
            });
        } else {
            event["parent_id"] = json!(session);
        }
        if e.name.ends_with("-0") && e.kind == "chain" {
            let i = e.datapoint;
            event["metrics"] = json!({
                "accuracy": (self.accuracy)(i),
                check_name(i): !i.is_multiple_of(3),
                "note": "an explanation, not a metric",
            });
        }
        event
    }

    /// Posts the run and its events; returns the events by datapoint.
    fn post(&self, h: &Harness) -> HashMap<usize, Vec<Seeded>> {
        let mut by_datapoint = HashMap::new();
        let mut wire = Vec::new();
        for &i in &self.datapoints {
            let events = self.events(i);
            wire.extend(events.iter().map(|e| self.wire(e)));
            by_datapoint.insert(i, events);
        }
        for chunk in wire.chunks(BATCH) {
            let answer = h.post_json("/events/batch", &json!({"events": chunk}));
            assert_eq!(answer.status, 200, "{}", text(&answer));
        }
        let run = json!({
            "run_id": self.run_id,
            "name": self.run_id,
            "status": "completed",
            "event_ids": self.datapoints.iter().map(|&i| session_id(self.run_id, i)).collect::<Vec<_>>(),
            "datapoint_ids": self.datapoints.iter().map(|i| format!("dp-{i}")).collect::<Vec<_>>(),
        });
        let answer = h.post_json("/v1/runs", &run);
        assert_eq!(answer.status, 200, "{}", text(&answer));
        by_datapoint
    }
}

fn text(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

fn get_ok(h: &Harness, path: &str) -> Value {
    let answer = h.get(path);
    assert_eq!(answer.status, 200, "GET {path}: {}", text(&answer));
    answer.json()
}

fn encode(v: &Value) -> String {
    let mut out = String::new();
    for b in v.to_string().bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn accuracy_a(i: usize) -> f64 {
    (i % 10) as f64 / 10.0
}

fn accuracy_b(i: usize) -> f64 {
    ((i + 3) % 10) as f64 / 10.0 * if i.is_multiple_of(4) { 0.0 } else { 1.0 }
}

/// Run A (new) over datapoints 0..n, run B (old) over the first `common` of them
/// in reverse order plus some of its own, with steps missing, doubled, and
/// a step name each run has alone.
fn seed_pair(
    h: &Harness,
    n: usize,
    common: usize,
    steps: usize,
) -> (
    Seed<'static>,
    Seed<'static>,
    [HashMap<usize, Vec<Seeded>>; 2],
) {
    let a = Seed {
        run_id: "run-a",
        datapoints: (0..n).collect(),
        steps,
        accuracy: accuracy_a,
        skip: |_, _| false,
        doubled: |_| false,
        own_step: Some("only-in-a"),
    };
    let mut b_datapoints: Vec<usize> = (0..common).rev().collect();
    b_datapoints.extend(n..n + 25);
    let b = Seed {
        run_id: "run-b",
        datapoints: b_datapoints,
        steps,
        accuracy: accuracy_b,
        skip: |i, j| i.is_multiple_of(5) && j == 2,
        doubled: |i| i.is_multiple_of(7),
        own_step: Some("only-in-b"),
    };
    let events_a = a.post(h);
    let events_b = b.post(h);
    (a, b, [events_a, events_b])
}

/// The pairs compare/events must answer, in order: run 1's datapoints in run
/// order, each session's events in time order (those `keep` admits), paired with
/// the earliest event of the same name and type in run 2's session.
fn expected_pairs(
    run_1: &Seed<'_>,
    events_1: &HashMap<usize, Vec<Seeded>>,
    events_2: &HashMap<usize, Vec<Seeded>>,
    keep: impl Fn(&Seeded) -> bool,
) -> Vec<(String, String, String)> {
    let mut pairs = Vec::new();
    for i in &run_1.datapoints {
        let Some(twins) = events_2.get(i) else {
            continue;
        };
        for e1 in events_1[i].iter().filter(|e| keep(e)) {
            let twin = twins
                .iter()
                .filter(|e2| e2.name == e1.name && e2.kind == e1.kind)
                .min_by(|x, y| x.start.total_cmp(&y.start).then(x.id.cmp(&y.id)));
            if let Some(e2) = twin {
                pairs.push((format!("dp-{i}"), e1.id.clone(), e2.id.clone()));
            }
        }
    }
    pairs
}

fn answered_pairs(body: &Value) -> Vec<(String, String, String)> {
    body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|p| {
            (
                p["datapoint_id"].as_str().expect("datapoint").to_string(),
                p["event_1"]["event_id"]
                    .as_str()
                    .expect("event 1")
                    .to_string(),
                p["event_2"]["event_id"]
                    .as_str()
                    .expect("event 2")
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn compare_events_pairs_every_common_datapoints_events_in_order_and_pages() {
    let h = Harness::start();
    let (a, _b, [events_a, events_b]) = seed_pair(&h, 600, 500, 3);
    let all = expected_pairs(&a, &events_a, &events_b, |_| true);
    // Sessions, step 0 and step 1 of every common datapoint; step 2 where run B has it.
    assert_eq!(all.len(), 500 * 4 - 100);

    let base = "/v1/runs/compare/events?run_id_1=run-a&run_id_2=run-b";
    let mut pages = Vec::new();
    for page in 1..=5 {
        let body = get_ok(&h, &format!("{base}&limit=500&page={page}"));
        assert_eq!(body["pagination"]["total"], all.len());
        assert_eq!(body["pagination"]["page"], page);
        pages.extend(answered_pairs(&body));
    }
    assert_eq!(pages, all, "every pair once, in run order then time order");

    let body = get_ok(&h, &format!("{base}&limit=3&page=2"));
    let first = &body["events"][0];
    let (dp, e1, e2) = &all[3];
    assert_eq!(first["datapoint_id"], dp.as_str());
    assert_eq!(first["event_1"]["event_id"], e1.as_str());
    assert_eq!(first["event_2"]["event_id"], e2.as_str());
    assert_eq!(
        first["event_2"]["outputs"]["answer"],
        format!("answer {e2}"),
        "whole events come back"
    );
    assert_eq!(
        first["event_1"]["outputs"]["answer"],
        format!("answer {e1}")
    );
    assert_eq!(
        first["event_1"]["inputs"]["question"],
        "question 1 of run-a"
    );

    // Narrowed by type, and by a filter run 1's events must pass.
    let tools = expected_pairs(&a, &events_a, &events_b, |e| e.kind == "tool");
    let body = get_ok(&h, &format!("{base}&event_type=tool&limit=5000"));
    assert_eq!(answered_pairs(&body), tools);
    let filter = json!([{"field": "metrics.accuracy", "operator": "greater than", "value": 0.65, "type": "number"}]);
    let scored = expected_pairs(&a, &events_a, &events_b, |e| {
        e.kind == "chain" && accuracy_a(e.datapoint) > 0.65
    });
    assert!(!scored.is_empty());
    let body = get_ok(&h, &format!("{base}&filter={}&limit=5000", encode(&filter)));
    assert_eq!(answered_pairs(&body), scored);
    let body = get_ok(&h, &format!("{base}&event_name=step-7-1"));
    assert_eq!(
        answered_pairs(&body),
        [("dp-7".into(), "run-a-7-1".into(), "run-b-7-1".into())],
        "of two twins the earlier pairs"
    );
}

#[test]
fn result_and_compare_with_are_exact_over_many_datapoints_and_event_names() {
    let h = Harness::start();
    let (_, b, _) = seed_pair(&h, 900, 700, 4);

    let result = get_ok(&h, "/v1/runs/run-a/result?aggregate_function=average");
    let mut details = vec![json!({"event_name": "eval-session", "event_type": "session"})];
    for i in 0..900 {
        details.push(json!({"event_name": format!("step-{i}-0"), "event_type": "chain"}));
        for j in 1..4 {
            details.push(json!({"event_name": format!("step-{i}-{j}"), "event_type": "tool"}));
        }
        if i == 0 {
            details.push(json!({"event_name": "only-in-a", "event_type": "tool"}));
        }
    }
    assert_eq!(result["event_details"], Value::Array(details));
    let names: Vec<&str> = result["metrics"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["metric_name"].as_str().expect("name"))
        .collect();
    let mut want = vec!["accuracy".to_string()];
    want.extend((0..40).map(check_name));
    assert_eq!(names, want);
    let accuracy = &result["metrics"]["details"][0];
    let mean = (0..900).map(accuracy_a).sum::<f64>() / 900.0;
    assert!((accuracy["aggregate"].as_f64().expect("aggregate") - mean).abs() < 1e-9);
    assert_eq!(accuracy["values"].as_array().map(Vec::len), Some(900));
    let check_7 = &result["metrics"]["details"][8];
    assert_eq!(check_7["metric_name"], "check-7");
    let dps = |pred: &dyn Fn(usize) -> bool| -> Vec<String> {
        (0..900)
            .filter(|&i| i % 40 == 7 && pred(i))
            .map(|i| format!("dp-{i}"))
            .collect()
    };
    assert_eq!(
        check_7["datapoints"]["passed"],
        json!(dps(&|i| !i.is_multiple_of(3)))
    );
    assert_eq!(
        check_7["datapoints"]["failed"],
        json!(dps(&|i| i.is_multiple_of(3)))
    );
    let failed: Vec<String> = (0..900usize)
        .filter(|&i| i.is_multiple_of(3))
        .map(|i| format!("dp-{i}"))
        .collect();
    assert_eq!(result["failed"], json!(failed));
    assert_eq!(result["datapoints"].as_array().map(Vec::len), Some(900));
    assert_eq!(result["datapoints"][899]["session_id"], "run-a-s899");

    let compare = get_ok(&h, "/v1/runs/run-a/compare-with/run-b");
    let common: Vec<String> = (0..700).map(|i| format!("dp-{i}")).collect();
    assert_eq!(compare["commonDatapoints"], json!(common));
    let accuracy = &compare["metrics"][0];
    assert_eq!(accuracy["metric_name"], "accuracy");
    let (mut improved, mut degraded, mut same) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..700 {
        let id = format!("dp-{i}");
        match accuracy_a(i).total_cmp(&accuracy_b(i)) {
            std::cmp::Ordering::Greater => improved.push(id),
            std::cmp::Ordering::Less => degraded.push(id),
            std::cmp::Ordering::Equal => same.push(id),
        }
    }
    assert_eq!(accuracy["improved"], json!(improved));
    assert_eq!(accuracy["degraded"], json!(degraded));
    assert_eq!(accuracy["same"], json!(same));
    let new_values: Vec<f64> = (0..700).map(accuracy_a).collect();
    assert_eq!(accuracy["new_values"], json!(new_values));
    let old_mean = b.datapoints.iter().map(|&i| accuracy_b(i)).sum::<f64>() / 725.0;
    assert!((accuracy["old_aggregate"].as_f64().expect("old") - old_mean).abs() < 1e-9);
    let presence: HashMap<String, String> = compare["event_details"]
        .as_array()
        .expect("event details")
        .iter()
        .map(|d| {
            (
                d["event_name"].as_str().expect("name").to_string(),
                d["presence"].as_str().expect("presence").to_string(),
            )
        })
        .collect();
    assert_eq!(presence["only-in-a"], "new");
    assert_eq!(presence["only-in-b"], "old");
    assert_eq!(presence["step-10-2"], "new", "run B skips step 2 of dp-10");
    assert_eq!(presence["step-11-2"], "both");
    assert_eq!(presence["step-899-0"], "new");
    assert_eq!(presence["step-905-0"], "old");
    let order: Vec<&str> = compare["event_details"]
        .as_array()
        .expect("event details")
        .iter()
        .map(|d| d["event_name"].as_str().expect("name"))
        .collect();
    assert_eq!(&order[..3], ["eval-session", "step-0-0", "step-0-1"]);
    assert_eq!(
        order.last(),
        Some(&"step-924-3"),
        "run B's own names close the list"
    );
    let distinct: HashSet<&str> = order.iter().copied().collect();
    assert_eq!(distinct.len(), order.len());
}

#[test]
fn run_metrics_lists_the_events_with_metrics_by_time_and_within_a_byte_budget() {
    let h = Harness::start_with(|cfg| cfg.max_read_bytes = 40_000);
    let seed = Seed {
        run_id: "run-m",
        datapoints: (0..40).rev().collect(),
        steps: 2,
        accuracy: accuracy_a,
        skip: |_, _| false,
        doubled: |_| false,
        own_step: None,
    };
    seed.post(&h);
    let body = get_ok(&h, "/v1/runs/run-m/metrics");
    let ids: Vec<&str> = body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_id"].as_str().expect("id"))
        .collect();
    let want: Vec<String> = (0..40).map(|i| format!("run-m-{i}-0")).collect();
    assert_eq!(ids, want, "only events with metrics, by start time");
    assert_eq!(body["events"][3]["metrics"]["accuracy"], 0.3);

    // Twice as many events with metrics hold more than the budget.
    let bigger = Seed {
        run_id: "run-big",
        datapoints: (0..400).collect(),
        ..seed
    };
    bigger.post(&h);
    let answer = h.get("/v1/runs/run-big/metrics");
    assert_eq!(answer.status, 422, "{}", text(&answer));
    assert_eq!(answer.json()["error"]["code"], "result_too_large");
}

#[test]
fn run_reads_past_their_event_bound_answer_422_and_schema_counts_all_runs() {
    let h = Harness::start_with(|cfg| cfg.max_run_events = 100);
    let seed = |run_id: &'static str, datapoints: usize| Seed {
        run_id,
        datapoints: (0..datapoints).collect(),
        steps: 3,
        accuracy: accuracy_a,
        skip: |_, _| false,
        doubled: |_| false,
        own_step: None,
    };
    // 15 datapoints × 4 events: each run alone is within the bound, both are not.
    seed("run-x", 15).post(&h);
    seed("run-y", 15).post(&h);
    let schema = get_ok(&h, "/v1/runs/run-x/schema");
    let fields = schema["fields"].as_array().expect("fields");
    assert_eq!(fields.len(), 30, "accuracy and check-i per step-i-0");
    assert_eq!(
        fields[0],
        json!({"name": "accuracy", "event_name": "step-0-0", "event_type": "chain", "type": "number", "field": "metrics.accuracy"})
    );
    assert_eq!(fields[1]["name"], "check-0");
    assert_eq!(fields[1]["type"], "boolean");
    let one = get_ok(&h, "/v1/runs/schema?evaluation_id=run-y");
    assert_eq!(one["fields"].as_array().map(Vec::len), Some(30));
    let all = h.get("/v1/runs/schema");
    assert_eq!(all.status, 422, "{}", text(&all));
    assert_eq!(all.json()["error"]["code"], "result_too_large");

    // 30 datapoints × 4 events: past the bound alone.
    seed("run-huge", 30).post(&h);
    for path in [
        "/v1/runs/run-huge/result",
        "/v1/runs/run-huge/compare-with/run-x",
        "/v1/runs/run-huge/metrics",
        "/v1/runs/run-huge/schema",
        "/v1/runs/compare/events?run_id_1=run-x&run_id_2=run-huge",
    ] {
        let answer = h.get(path);
        assert_eq!(answer.status, 422, "{path}: {}", text(&answer));
        let error = &answer.json()["error"];
        assert_eq!(error["code"], "result_too_large", "{path}");
        assert!(
            error["hint"].as_str().is_some_and(|s| !s.is_empty()),
            "{path}: {error}"
        );
    }
    assert_eq!(h.get("/v1/runs/run-x/result").status, 200);
    assert_eq!(h.get("/v1/runs/run-x/compare-with/run-y").status, 200);
}

/// GETs every path on a thread of its own and probes `/healthz` meanwhile, one
/// probe at a time, for at most `probe_for` or until one of them finishes.
/// Returns when all have answered: (probe completion times, their completion times).
fn probe_while_running(
    h: &Harness,
    paths: &[String],
    probe_for: Duration,
) -> (Vec<Instant>, Vec<Instant>) {
    std::thread::scope(|scope| {
        let heavy: Vec<_> = paths
            .iter()
            .map(|path| {
                scope.spawn(move || {
                    let answer = h.get(path);
                    let done = Instant::now();
                    assert_eq!(answer.status, 200, "{path}: {}", text(&answer));
                    done
                })
            })
            .collect();
        let started = Instant::now();
        let mut probes = Vec::new();
        while started.elapsed() < probe_for && !heavy.iter().any(|t| t.is_finished()) {
            let answer = h.send("GET", "/healthz", None, &[], &[]);
            assert_eq!(answer.status, 200);
            probes.push(Instant::now());
            std::thread::sleep(Duration::from_millis(10));
        }
        let heavy = heavy
            .into_iter()
            .map(|t| t.join().expect("heavy request"))
            .collect();
        (probes, heavy)
    })
}

/// With more heavy comparisons in flight (two `compare/events`, two
/// `compare-with` over 4 000 datapoints of 24 000 events per run) than the server
/// has async workers (the harness runtime has 2), `/healthz` keeps answering:
/// every probe is answered before any comparison finishes. Probes go on for
/// half the time one comparison takes alone (the four together take longer
/// than that even when computed in parallel), so on a server computing on its
/// async workers some probe waits until a comparison finishes.
#[test]
fn healthz_answers_before_heavy_comparisons_finish() {
    let h = Harness::start();
    seed_pair(&h, 4000, 4000, 4);
    let compare = "/v1/runs/compare/events?run_id_1=run-a&run_id_2=run-b&limit=10".to_string();
    let with = "/v1/runs/run-a/compare-with/run-b".to_string();
    let alone = [&compare, &with]
        .iter()
        .map(|path| {
            let started = Instant::now();
            get_ok(&h, path);
            started.elapsed()
        })
        .min()
        .expect("timed");
    let heavy = [compare.clone(), compare, with.clone(), with];
    let (probes, finished) = probe_while_running(&h, &heavy, alone / 2);
    assert!(!probes.is_empty());
    let first_finished = finished.iter().min().expect("finished");
    let last_probe = probes.iter().max().expect("probed");
    assert!(
        last_probe < first_finished,
        "a /healthz probe waited until a heavy request finished ({} probes)",
        probes.len()
    );
}
