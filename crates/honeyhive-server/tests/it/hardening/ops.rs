//! The operator's surface: `/metrics` is not public, `/readyz` cannot be used
//! to flood the writer, keys are read one way and checked, parked enrichments
//! expire.

use std::time::{Duration, Instant};

use honeyhive_server::testing::TempDir;
use honeyhive_server::{Server, ServerConfig};
use serde_json::json;

use crate::common::Harness;

fn metric(h: &Harness, series: &str) -> Option<f64> {
    let text = String::from_utf8_lossy(&h.get("/metrics").body).into_owned();
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[test]
fn metrics_need_the_configured_token() {
    let h = Harness::start_with(|c| c.metrics_token = Some("metrics-token-0123456789".into()));
    let none = h.send("GET", "/metrics", None, &[], &[]);
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["error"]["code"], "unauthenticated");
    let project_key = h.get("/metrics");
    assert_eq!(
        project_key.status, 401,
        "a project key is not the metrics token"
    );
    let right = h.send(
        "GET",
        "/metrics",
        Some("metrics-token-0123456789"),
        &[],
        &[],
    );
    assert_eq!(right.status, 200);
    assert!(String::from_utf8_lossy(&right.body).contains("hh_spans_received_total"));
}

#[test]
fn readyz_probes_the_writer_once_however_often_it_is_asked() {
    let h = Harness::start();
    let committed = |h: &Harness| metric(h, "hh_store_jobs_committed_total").expect("series");
    assert_eq!(h.get("/readyz").status, 200);
    let before = committed(&h);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let askers: Vec<_> = (0..40)
            .map(|_| scope.spawn(|| h.get("/readyz").status))
            .collect();
        askers
            .into_iter()
            .map(|a| a.join().expect("asker"))
            .collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let probes = committed(&h) - before;
    assert!(
        probes <= 5.0,
        "40 concurrent /readyz ran {probes} writer jobs"
    );
}

#[test]
fn only_bearer_keys_are_read() {
    let h = Harness::start();
    let bare = h.send(
        "GET",
        "/v1/runs",
        None,
        &[("Authorization", h.key().as_str())],
        &[],
    );
    assert_eq!(bare.status, 401);
    let body = bare.json();
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap_or("")
            .contains("Bearer"),
        "{body}"
    );
    let lower = h.send(
        "GET",
        "/v1/runs",
        None,
        &[("Authorization", format!("bearer {}", h.key()).as_str())],
        &[],
    );
    assert_eq!(lower.status, 200, "the scheme is case-insensitive");
}

#[test]
fn weak_bootstrap_keys_and_long_project_names_are_refused() {
    let dir = TempDir::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (key, project) in [
        ("short", "p"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "p"),
        ("hh_0123456789abcdef0123456789abcdef", &*"p".repeat(201)),
    ] {
        let config = ServerConfig {
            data_dir: dir.path().to_path_buf(),
            http_addr: ([127, 0, 0, 1], 0).into(),
            grpc_addr: None,
            bootstrap_key: Some((key.to_string(), project.to_string())),
            ..ServerConfig::default()
        };
        let started = rt.block_on(Server::start(config));
        assert!(
            started.is_err(),
            "{key:?} / {} chars started",
            project.len()
        );
    }
    assert!(honeyhive_server::create_api_key(dir.path(), &"p".repeat(201)).is_err());
    assert!(honeyhive_server::create_api_key(dir.path(), &"p".repeat(200)).is_ok());
}

#[test]
fn an_enrichment_whose_event_never_arrives_expires_and_is_counted() {
    let h = Harness::start_with(|c| c.pending_enrichment_ttl = Duration::from_millis(300));
    let parked = h.put_json(
        "/events",
        &json!({"event_id": "never-0001", "metadata": {"late": true}}),
    );
    assert_eq!(parked.status, 200);
    assert_eq!(parked.json()["applied"], false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(&h, "hh_enrichments_expired_total").unwrap_or(0.0) < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the parked enrichment never expired"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The event arriving now is stored as sent: the expired enrichment is gone.
    let created = h.post_json(
        "/events",
        &json!({"event": {"event_id": "never-0001", "event_type": "tool", "session_id": "s-late"}}),
    );
    assert_eq!(created.status, 200);
    let tree = h.get("/v1/sessions/s-late").json();
    let event = &tree["children"][0];
    assert_eq!(event["event_id"], "never-0001");
    assert!(event["metadata"].get("late").is_none(), "{event}");
}
