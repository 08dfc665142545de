//! Reads are bounded by bytes as well as rows: a page of events, an export, a
//! chart and a session tree past the configured read limits answer 422
//! `result_too_large` with a hint; under them they answer the data. Charts
//! read three small values per event and answer what they always did; the
//! children of one event come from its session without reading the session.

use honeyhive_server::store::sqlite::SqliteStore;
use honeyhive_server::store::{
    CatalogStore, EventStore, IngestStore, ReadLimits, SessionSighting, SessionStore, SessionTree,
    Tenant, WriteBatch,
};
use honeyhive_server::testing::TempDir;
use honeyhive_server::{ServerConfig, SyncMode};
use serde_json::{Value, json};

use crate::common::{Answer, Harness};

/// A small read limit for these tests: 64 KiB of stored text per answer.
const SMALL_READ_BYTES: usize = 64 * 1024;
/// Stored text of one "big" event's inputs: 4 000 bytes, so 16 of them pass
/// [`SMALL_READ_BYTES`] and 10 do not.
const BIG_TEXT: usize = 4_000;

fn small_reads(cfg: &mut ServerConfig) {
    cfg.max_read_bytes = SMALL_READ_BYTES;
    cfg.max_session_events = 25;
}

/// Percent-encodes a query parameter value.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn filters(list: Value) -> String {
    encode(&list.to_string())
}

fn not_sessions() -> String {
    filters(
        json!([{"field": "event_type", "operator": "is not", "value": "session", "type": "string"}]),
    )
}

fn post_events(h: &Harness, events: Vec<Value>) {
    let answer = h.post_json("/events/batch", &json!({ "events": events }));
    assert_eq!(answer.status, 200, "{}", preview(&answer));
}

/// `count` tool events `{prefix}-NN` in `session`, one ms apart from `start`,
/// each with `text_len` bytes of text in `inputs.text` (parents: the session).
fn events(session: &str, prefix: &str, count: usize, start: f64, text_len: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            json!({
                "event_type": "tool",
                "event_id": format!("{prefix}-{i:02}"),
                "event_name": "step",
                "session_id": session,
                "start_time": start + i as f64,
                "end_time": start + i as f64 + 0.5,
                "inputs": {"text": "x".repeat(text_len)},
                "metadata": {"i": i},
            })
        })
        .collect()
}

/// Asserts a 422 `result_too_large` answer; returns its hint.
fn too_large(answer: &Answer) -> String {
    assert_eq!(answer.status, 422, "{}", preview(answer));
    let body = answer.json();
    assert_eq!(body["error"]["code"], "result_too_large", "{body}");
    let hint = body["error"]["hint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !hint.is_empty(),
        "a hint says what to ask for instead: {body}"
    );
    hint
}

fn ok(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{}", preview(answer));
    answer.json()
}

/// The start of an answer's body, for assertion messages.
fn preview(answer: &Answer) -> String {
    let text = String::from_utf8_lossy(&answer.body);
    text.chars().take(400).collect()
}

fn ids(events: &Value) -> Vec<String> {
    events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_id"].as_str().expect("event_id").to_string())
        .collect()
}

#[test]
fn a_page_or_export_past_the_byte_limit_is_refused_and_smaller_pages_answer() {
    let h = Harness::start_with(small_reads);
    post_events(&h, events("s-big", "e", 30, 1_000.0, BIG_TEXT));
    let only_events = not_sessions();

    let hint = too_large(&h.get(&format!("/events?limit=30&filters={only_events}")));
    assert!(hint.contains("limit"), "{hint}");
    let export = json!({"limit": 30, "filters": [
        {"field": "event_type", "operator": "is not", "value": "session", "type": "string"}
    ]});
    let hint = too_large(&h.post_json("/v1/events/export", &export));
    assert!(hint.contains("limit"), "{hint}");

    let page = ok(&h.get(&format!("/events?limit=10&page=2&filters={only_events}")));
    assert_eq!(page["totalEvents"], 30);
    let expected: Vec<String> = (10..20).map(|i| format!("e-{i:02}")).collect();
    assert_eq!(ids(&page["events"]), expected);
    for event in page["events"].as_array().expect("events") {
        assert_eq!(
            event["inputs"]["text"].as_str().map(str::len),
            Some(BIG_TEXT)
        );
        assert_eq!(event["session_id"], "s-big");
    }
    let mut export = export;
    export["limit"] = json!(10);
    export["page"] = json!(3);
    let page = ok(&h.post_json("/v1/events/export", &export));
    let expected: Vec<String> = (20..30).map(|i| format!("e-{i:02}")).collect();
    assert_eq!(ids(&page["events"]), expected);

    // Projections read only the objects they name: the whole page fits.
    let projections = encode(r#"["event_id","metadata.i"]"#);
    let page = ok(&h.get(&format!(
        "/events?limit=30&filters={only_events}&projections={projections}"
    )));
    let events = page["events"].as_array().expect("events");
    assert_eq!(events.len(), 30);
    for (i, event) in events.iter().enumerate() {
        assert_eq!(
            event,
            &json!({"event_id": format!("e-{i:02}"), "metadata": {"i": i}})
        );
    }
}

#[test]
fn session_trees_past_their_limits_are_refused_with_a_paging_hint() {
    let h = Harness::start_with(small_reads);
    // 31 events with the session: past 25 events, few bytes.
    post_events(&h, events("s-rows", "r", 30, 1_000.0, 10));
    // 11 events: under 25, but past 64 KiB.
    post_events(&h, events("s-bytes", "b", 10, 1_000.0, 2 * BIG_TEXT));
    // 5 events in a small nested tree: under both.
    post_events(
        &h,
        vec![
            json!({"event_type": "chain", "event_id": "root", "session_id": "s-ok",
                   "start_time": 10.0, "end_time": 20.0, "inputs": {"q": "hi"}}),
            json!({"event_type": "model", "event_id": "call", "session_id": "s-ok",
                   "parent_id": "root", "start_time": 11.0, "end_time": 12.0,
                   "metadata": {"total_tokens": 7}}),
            json!({"event_type": "tool", "event_id": "lookup", "session_id": "s-ok",
                   "parent_id": "call", "start_time": 11.5, "end_time": 11.6}),
            json!({"event_type": "tool", "event_id": "lost", "session_id": "s-ok",
                   "parent_id": "never-exported", "start_time": 13.0, "end_time": 14.0}),
        ],
    );

    for route in ["/v1/sessions", "/v1/events"] {
        for session in ["s-rows", "s-bytes"] {
            let hint = too_large(&h.get(&format!("{route}/{session}")));
            assert!(
                hint.contains("GET /events")
                    && hint.contains("session_id")
                    && hint.contains(session),
                "{route}/{session}: {hint}"
            );
        }
        assert_eq!(h.get(&format!("{route}/no-such-session")).status, 404);

        let tree = ok(&h.get(&format!("{route}/s-ok")));
        assert_eq!(tree["event_id"], "s-ok");
        assert_eq!(tree["event_type"], "session");
        assert_eq!(tree["children_ids"], json!(["root", "lost"]));
        assert_eq!(tree["metadata"]["num_events"], 4);
        assert_eq!(tree["metadata"]["total_tokens"], 7);
        let root = &tree["children"][0];
        assert_eq!(root["event_id"], "root");
        assert_eq!(root["inputs"], json!({"q": "hi"}));
        assert_eq!(root["children"][0]["event_id"], "call");
        assert_eq!(root["children"][0]["children"][0]["event_id"], "lookup");
        assert_eq!(root["children"][0]["children"][0]["children"], json!([]));
        assert_eq!(tree["children"][1]["event_id"], "lost");
    }

    // The hint's way: the session's events, page by page.
    let by_session = filters(
        json!([{"field": "session_id", "operator": "is", "value": "s-rows", "type": "id"}]),
    );
    let mut seen = Vec::new();
    for page in 1..=4 {
        let answer = ok(&h.get(&format!(
            "/events?filters={by_session}&limit=10&page={page}"
        )));
        assert_eq!(answer["totalEvents"], 31);
        seen.extend(ids(&answer["events"]));
    }
    assert_eq!(seen.len(), 31);
    assert!(seen.contains(&"s-rows".to_string()) && seen.contains(&"r-29".to_string()));
}

/// Hour-aligned start of the chart fixture (ms).
const HOUR: f64 = 3_600_000.0;
const T0: f64 = 472_222.0 * HOUR;

/// The chart fixture: `(id, name, start offset, score, tier)`.
fn chart_fixture(h: &Harness) {
    let rows: [(&str, &str, f64, Value, Value); 10] = [
        ("a", "alpha", 1_000.0, json!(1.0), json!("gold")),
        ("b", "alpha", 2_000.0, json!(3), json!(2)),
        ("c", "beta", 3_000.0, json!(0.5), json!(true)),
        ("d", "alpha", 4_000.0, json!(true), Value::Null),
        ("e", "beta", 5_000.0, json!("high"), json!("gold")),
        ("f", "alpha", 6_000.0, Value::Null, json!({"k": [1, 2]})),
        ("g", "alpha", HOUR + 1_000.0, json!(2.0), json!("gold")),
        ("h", "beta", HOUR + 2_000.0, json!(4.0), json!(2)),
        ("i", "beta", HOUR + 3_000.0, json!(6.0), json!("gold")),
        ("j", "gamma", HOUR + 4_000.0, json!("n/a"), json!("gold")),
    ];
    let events = rows
        .iter()
        .map(|(id, name, offset, score, tier)| {
            let mut metrics = json!({});
            if !score.is_null() {
                metrics["score"] = score.clone();
            }
            let mut metadata = json!({});
            if !tier.is_null() {
                metadata["tier"] = tier.clone();
            }
            json!({
                "event_type": if *name == "beta" { "model" } else { "tool" },
                "event_id": id,
                "event_name": name,
                "session_id": "chart-session",
                "start_time": T0 + offset,
                "duration": offset / 1_000.0,
                "metrics": metrics,
                "metadata": metadata,
            })
        })
        .collect();
    post_events(h, events);
}

/// `GET /v1/events/chart` over the fixture's events (the session left out).
fn chart(h: &Harness, params: &str) -> Value {
    let answer = ok(&h.get(&format!(
        "/v1/events/chart?bucket=hour&filters={}&{params}",
        not_sessions()
    )));
    assert_eq!(answer["totalEvents"], 10, "{answer}");
    answer
}

/// `(bucket index from T0, group, value, count)` of each chart row.
fn points(answer: &Value) -> Vec<(i64, String, Option<f64>, u64)> {
    answer["events"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            let start = row["bucket_start"].as_f64().expect("bucket_start");
            (
                ((start - T0) / HOUR) as i64,
                row["group"].as_str().unwrap_or("-").to_string(),
                row["value"].as_f64(),
                row["count"].as_u64().expect("count"),
            )
        })
        .collect()
}

fn assert_points(answer: &Value, expected: &[(i64, &str, Option<f64>, u64)]) {
    let got = points(answer);
    assert_eq!(got.len(), expected.len(), "{answer}");
    for (got, want) in got.iter().zip(expected) {
        assert_eq!(
            (got.0, got.1.as_str(), got.3),
            (want.0, want.1, want.3),
            "{answer}"
        );
        match (got.2, want.2) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{a} != {b}: {answer}"),
            (a, b) => assert_eq!(a, b, "{answer}"),
        }
    }
}

#[test]
fn charts_answer_the_hand_computed_values() {
    let h = Harness::start();
    chart_fixture(&h);

    // No metric: events per bucket.
    assert_points(
        &chart(&h, ""),
        &[(0, "-", Some(6.0), 6), (1, "-", Some(4.0), 4)],
    );
    // Scores: numbers, and booleans as 1/0; strings and missing scores add nothing.
    // Hour 0 holds 1, 3, 0.5, 1 (a, b, c, d); hour 1 holds 2, 4, 6.
    let score = "metric=metrics.score";
    assert_points(
        &chart(&h, &format!("{score}&aggregation=average")),
        &[(0, "-", Some(5.5 / 4.0), 4), (1, "-", Some(4.0), 3)],
    );
    assert_points(
        &chart(&h, &format!("{score}&aggregation=min")),
        &[(0, "-", Some(0.5), 4), (1, "-", Some(2.0), 3)],
    );
    assert_points(
        &chart(&h, &format!("{score}&aggregation=max")),
        &[(0, "-", Some(3.0), 4), (1, "-", Some(6.0), 3)],
    );
    assert_points(
        &chart(&h, &format!("{score}&aggregation=count")),
        &[(0, "-", Some(4.0), 4), (1, "-", Some(3.0), 3)],
    );
    // Sorted hour 0: 0.5, 1, 1, 3. p50: rank 1.5 → 1; p90: rank 2.7 → 1 + 0.7 × 2.
    assert_points(
        &chart(&h, &format!("{score}&aggregation=p50")),
        &[(0, "-", Some(1.0), 4), (1, "-", Some(4.0), 3)],
    );
    assert_points(
        &chart(&h, &format!("{score}&aggregation=p90")),
        &[(0, "-", Some(2.4), 4), (1, "-", Some(5.6), 3)],
    );
    // Grouped by name; gamma's only score is a string: a group with no values.
    assert_points(
        &chart(&h, &format!("{score}&aggregation=sum&groupBy=event_name")),
        &[
            (0, "alpha", Some(5.0), 3),
            (0, "beta", Some(0.5), 1),
            (1, "alpha", Some(2.0), 1),
            (1, "beta", Some(10.0), 2),
            (1, "gamma", None, 0),
        ],
    );
    // Grouped by a JSON field of mixed types: strings as is, other values as
    // JSON, absent as "".
    assert_points(
        &chart(&h, "groupBy=metadata.tier"),
        &[
            (0, "", Some(1.0), 1),
            (0, "2", Some(1.0), 1),
            (0, "gold", Some(2.0), 2),
            (0, "true", Some(1.0), 1),
            (0, "{\"k\":[1,2]}", Some(1.0), 1),
            (1, "2", Some(1.0), 1),
            (1, "gold", Some(3.0), 3),
        ],
    );
    // Columns: the event type as a group, the duration as a metric.
    assert_points(
        &chart(&h, "groupBy=event_type&metric=duration&aggregation=max"),
        &[
            (0, "model", Some(5.0), 2),
            (0, "tool", Some(6.0), 4),
            (1, "model", Some(3600.0 + 3.0), 2),
            (1, "tool", Some(3600.0 + 4.0), 2),
        ],
    );
}

#[test]
fn a_chart_past_the_byte_limit_is_refused_and_a_slim_one_answers() {
    let h = Harness::start_with(small_reads);
    post_events(&h, events("s-chart", "c", 30, 1_000.0, BIG_TEXT));
    let only_events = not_sessions();
    let hint = too_large(&h.get(&format!(
        "/v1/events/chart?bucket=hour&groupBy=inputs&filters={only_events}"
    )));
    assert!(hint.contains("group by a smaller field"), "{hint}");
    // The same events, grouped by a small field: only that field is read.
    let answer = ok(&h.get(&format!(
        "/v1/events/chart?bucket=hour&groupBy=event_name&metric=metadata.i&aggregation=sum&filters={only_events}"
    )));
    assert_eq!(answer["totalEvents"], 30);
    let rows = answer["events"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{answer}");
    assert_eq!(rows[0]["group"], "step");
    assert_eq!(rows[0]["count"], 30);
    assert_eq!(rows[0]["value"], (0..30).sum::<i32>() as f64);
}

/// A store of its own, for the one read no route shows whole (`get_event`).
struct Store {
    store: SqliteStore,
    tenant: Tenant,
    _dir: TempDir,
}

impl Store {
    fn open(rt: &tokio::runtime::Runtime) -> Store {
        let dir = TempDir::new();
        let store = SqliteStore::open(dir.path(), SyncMode::Normal).expect("store");
        let tenant = rt.block_on(store.put_api_key("hash", "p")).expect("tenant");
        Store {
            store,
            tenant,
            _dir: dir,
        }
    }
}

fn span(id: &str, session: &str, parent: Option<&str>, start: f64) -> honeyhive_model::Event {
    honeyhive_model::Event {
        event_id: id.into(),
        session_id: session.into(),
        parent_id: parent.map(str::to_string),
        event_type: honeyhive_model::EventType::Tool,
        start_time: start,
        end_time: start + 1.0,
        ..Default::default()
    }
}

/// Every node of a tree: the session event first.
fn nodes(tree: &SessionTree) -> Vec<&honeyhive_model::Event> {
    std::iter::once(&tree.session).chain(&tree.events).collect()
}

#[test]
fn get_event_children_follow_the_session_tree() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let s = Store::open(&rt);
    let batch = WriteBatch {
        events: vec![
            span("root", "s", Some("s"), 10.0),
            span("child", "s", Some("root"), 11.0),
            span("grandchild", "s", Some("child"), 12.0),
            span("sibling", "s", Some("root"), 11.5),
            span("orphan", "s", Some("never-exported"), 13.0),
            span("own-parent", "s", Some("own-parent"), 14.0),
            span("top", "s", None, 9.0),
            // In another session, naming a parent of this one: not its child.
            span("elsewhere", "s2", Some("root"), 15.0),
        ],
        sessions: vec![SessionSighting {
            session_id: "s".into(),
            start_time: Some(9.0),
            ..SessionSighting::default()
        }],
        ..WriteBatch::default()
    };
    rt.block_on(s.store.write(&s.tenant, batch)).expect("write");
    let children = |id: &str| {
        rt.block_on(s.store.get_event(&s.tenant, id))
            .expect("get")
            .children_ids
    };
    assert_eq!(children("s"), ["top", "root", "orphan", "own-parent"]);
    assert_eq!(children("root"), ["child", "sibling"]);
    assert_eq!(children("child"), ["grandchild"]);
    assert!(children("grandchild").is_empty());
    assert!(children("orphan").is_empty());
    assert!(children("own-parent").is_empty());
    assert_eq!(children("s2"), ["elsewhere"]);

    // Random forests: every event's children as in its session's tree.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for round in 0..5 {
        let session = format!("random-{round}");
        let count = 20 + next(30);
        let ids: Vec<String> = (0..count).map(|i| format!("{session}-{i}")).collect();
        let events = (0..count)
            .map(|i| {
                let parent = match next(5) {
                    0 => None,
                    1 => Some("missing".to_string()),
                    2 => Some(session.clone()),
                    _ => Some(ids[next(count)].clone()),
                };
                span(&ids[i], &session, parent.as_deref(), next(8) as f64)
            })
            .collect();
        rt.block_on(s.store.write(
            &s.tenant,
            WriteBatch {
                events,
                ..WriteBatch::default()
            },
        ))
        .expect("write");
        let tree = rt
            .block_on(
                s.store
                    .session_tree(&s.tenant, &session, ReadLimits::default()),
            )
            .expect("tree");
        for node in nodes(&tree) {
            assert_eq!(
                children(&node.event_id),
                node.children_ids,
                "{}",
                node.event_id
            );
        }
    }
}
