//! End to end: `#[trace]` in the Rust SDK → OTLP → a real `hh serve` → the stored
//! session tree read back through the REST API.

use std::sync::OnceLock;
use std::time::Duration;

use crate::common::{ServerProcess, TEST_KEY};
use honeyhive::{Enrichment, Tracer, enrich_span, trace};
use honeyhive_testkit::sessions::tree_nodes;
use serde_json::{Value, json};

#[derive(Debug)]
struct LookupError;

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no such order 9")
    }
}

impl std::error::Error for LookupError {}

fn tracer_for(server: &ServerProcess, session_name: &str) -> Tracer {
    Tracer::builder()
        .api_key(TEST_KEY)
        .project("e2e")
        .server_url(server.base_url())
        .session_name(session_name)
        .source("e2e-test")
        .ignore_env()
        .build()
        .expect("tracer")
}

fn get(server: &ServerProcess, path: &str) -> Value {
    ureq::get(&format!("{}{path}", server.base_url()))
        .header("Authorization", &format!("Bearer {TEST_KEY}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .body_mut()
        .read_json()
        .expect("json body")
}

fn by_name<'a>(events: &[&'a Value], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .copied()
        .filter(|e| e["event_name"] == name)
        .collect()
}

/// Traced fn items cannot capture locals, so each test's tracer lives in a static.
static TREE_TRACER: OnceLock<Tracer> = OnceLock::new();
static REQUEST_TRACER: OnceLock<Tracer> = OnceLock::new();

#[test]
fn traced_calls_arrive_as_a_session_tree() {
    let data = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start(data.path(), "e2e");
    let tracer = TREE_TRACER.get_or_init(|| tracer_for(&server, "e2e-session"));

    #[trace(event_type = "tool", tracer = TREE_TRACER.get().expect("tracer"))]
    fn add(a: i64, b: i64) -> i64 {
        enrich_span(
            Enrichment::new()
                .metrics(json!({"score": 1.0}))
                .metadata(json!({"kind": "leaf"})),
        );
        a + b
    }

    #[trace(event_type = "tool", tracer = TREE_TRACER.get().expect("tracer"))]
    fn lookup(order: u32) -> Result<String, LookupError> {
        if order == 9 {
            Err(LookupError)
        } else {
            Ok(format!("order {order}"))
        }
    }

    #[trace(event_type = "chain", name = "pipeline", tracer = TREE_TRACER.get().expect("tracer"))]
    fn pipeline(x: i64) -> i64 {
        let _ = lookup(9);
        add(x, 1) + add(x, 2)
    }

    #[trace(event_type = "model", tracer = TREE_TRACER.get().expect("tracer"))]
    async fn complete(prompt: String) -> Value {
        enrich_span(
            Enrichment::new()
                .config(json!({"model": "gpt-4o-mini"}))
                .metadata(json!({"prompt_tokens": 10, "completion_tokens": 5})),
        );
        tokio::task::yield_now().await;
        json!({"completion": prompt.to_uppercase()})
    }

    assert_eq!(pipeline(2), 7);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    assert_eq!(
        rt.block_on(complete("hi".into())),
        json!({"completion": "HI"})
    );
    tracer.enrich_session(
        Enrichment::new()
            .metadata(json!({"run": "e2e"}))
            .feedback(json!({"rating": 5})),
    );
    let report = tracer.flush(Duration::from_secs(20)).expect("flush");
    assert_eq!(report.dropped.total(), 0, "nothing dropped: {report:?}");
    assert_eq!(report.spans_sent, 5);

    let tree = get(&server, &format!("/v1/sessions/{}", tracer.session_id()));
    assert_eq!(tree["event_type"], "session");
    assert_eq!(tree["event_name"], "e2e-session");
    assert_eq!(tree["source"], "e2e-test");
    assert_eq!(tree["metadata"]["run"], "e2e");
    assert_eq!(tree["feedback"]["rating"], 5);
    assert_eq!(tree["metadata"]["num_events"], 5);
    assert_eq!(tree["metadata"]["num_model_events"], 1);
    assert_eq!(tree["metadata"]["total_tokens"], 15);

    let events = tree_nodes(&tree);
    let pipeline_ev = by_name(&events, "pipeline");
    assert_eq!(pipeline_ev.len(), 1);
    let pipeline_ev = pipeline_ev[0];
    assert_eq!(pipeline_ev["event_type"], "chain");
    assert_eq!(pipeline_ev["parent_id"], tracer.session_id());
    assert_eq!(pipeline_ev["inputs"]["x"], 2);
    assert_eq!(pipeline_ev["outputs"]["result"], 7);

    let adds = by_name(&events, "add");
    assert_eq!(adds.len(), 2);
    for a in &adds {
        assert_eq!(a["parent_id"], pipeline_ev["event_id"]);
        assert_eq!(a["metrics"]["score"], 1.0);
        assert_eq!(a["metadata"]["kind"], "leaf");
    }
    let mut results: Vec<i64> = adds
        .iter()
        .map(|a| a["outputs"]["result"].as_i64().expect("int"))
        .collect();
    results.sort_unstable();
    assert_eq!(results, [3, 4]);

    let failed = by_name(&events, "lookup");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["parent_id"], pipeline_ev["event_id"]);
    assert!(
        failed[0]["error"]
            .as_str()
            .expect("error text")
            .contains("no such order 9"),
        "{}",
        failed[0]
    );

    let model = by_name(&events, "complete");
    assert_eq!(model.len(), 1);
    assert_eq!(model[0]["event_type"], "model");
    assert_eq!(model[0]["inputs"]["prompt"], "hi");
    assert_eq!(model[0]["outputs"]["result"]["completion"], "HI");
    assert_eq!(model[0]["config"]["model"], "gpt-4o-mini");
    assert!(
        model[0]["metadata"]["cost"]
            .as_f64()
            .expect("cost from the price table")
            > 0.0
    );

    assert!(server.terminate().success());
}

#[test]
fn concurrent_request_sessions_do_not_mix() {
    let data = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start(data.path(), "e2e");
    let tracer = REQUEST_TRACER.get_or_init(|| tracer_for(&server, "server-app"));

    #[trace(event_type = "tool", tracer = REQUEST_TRACER.get().expect("tracer"))]
    fn handle(request: usize) -> usize {
        std::thread::sleep(Duration::from_millis(2));
        request * 10
    }

    let sessions: Vec<(usize, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|request| {
                scope.spawn(move || {
                    let session = tracer.new_session(&format!("request-{request}"));
                    session.in_scope(|| {
                        for _ in 0..3 {
                            handle(request);
                        }
                    });
                    (request, session.session_id().to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("request thread"))
            .collect()
    });
    let report = tracer.flush(Duration::from_secs(20)).expect("flush");
    assert_eq!(report.spans_sent, 24);

    for (request, session_id) in sessions {
        let tree = get(&server, &format!("/v1/sessions/{session_id}"));
        assert_eq!(tree["event_name"], format!("request-{request}"));
        let events = tree_nodes(&tree);
        let handled = by_name(&events, "handle");
        assert_eq!(
            handled.len(),
            3,
            "session {request} holds exactly its own 3 calls"
        );
        for e in handled {
            assert_eq!(
                e["inputs"]["request"], request,
                "no call from another request"
            );
            assert_eq!(e["session_id"], session_id.as_str());
        }
    }
    assert!(server.terminate().success());
}
