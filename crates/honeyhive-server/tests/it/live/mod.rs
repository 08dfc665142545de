//! Live push over `GET /v1/events/stream`: what committed reaches the
//! subscribers of its project whose filters it matches, a resumed stream
//! misses and repeats nothing, bad requests are refused before the stream
//! starts, and a subscriber that does not read slows nobody.

mod sse;
mod stuck;

use serde_json::{Value, json};

use honeyhive_server::testing::TEST_PROJECT;

use crate::common::Harness;
use sse::{Message, encode, open};

const MODEL_FILTER: &str =
    r#"[{"field":"event_type","operator":"is","value":"model","type":"string"}]"#;

/// An OTLP/JSON span named `name` of `kind` in session `session`.
pub(crate) fn span(id: u64, name: &str, kind: &str, session: &str) -> Value {
    json!({
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": format!("{id:016x}"),
        "name": name,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [
            {"key": "honeyhive.session_id", "value": {"stringValue": session}},
            {"key": "honeyhive_event_type", "value": {"stringValue": kind}},
        ],
    })
}

pub(crate) fn otlp(spans: Vec<Value>) -> Value {
    json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
}

fn post_event(h: &Harness, key: &str, name: &str, session: &str) {
    let body = json!({"event": {
        "event_type": "tool", "event_name": name, "session_id": session,
        "inputs": {"q": name},
    }});
    let answer = h.post_json_as(key, "/events", &body);
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
}

fn names(messages: &[Message]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|m| (m.event.clone(), m.name()))
        .collect()
}

fn assert_ids_rise(messages: &[Message]) {
    let ids: Vec<u64> = messages.iter().map(|m| m.id.expect("an id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids rise: {ids:?}");
}

#[test]
fn a_subscriber_gets_what_otlp_committed_for_its_project_and_filter_only() {
    let h = Harness::start();
    let other_key = h.server().create_project_key("another-project");
    let everything = open(&h, &h.key(), "", None).expect("stream");
    let query = format!("filters={}", encode(MODEL_FILTER));
    let models = open(&h, &h.key(), &query, None).expect("filtered stream");
    let elsewhere = open(&h, &other_key, "", None).expect("other project's stream");
    for stream in [&everything, &models, &elsewhere] {
        stream.ready();
    }

    let spans = vec![
        span(1, "llm-call", "model", "live-session"),
        span(2, "lookup", "tool", "live-session"),
    ];
    let answer = h.post_json("/opentelemetry/v1/traces", &otlp(spans));
    assert_eq!(answer.status, 200);

    let first = everything.next();
    // Sent after the commit: what a subscriber reads, a query finds.
    let found = h.get(&format!(
        "/events?filters={}",
        encode(
            &json!([{"field": "event_id", "operator": "is",
            "value": first.json()["event_id"], "type": "id"}])
            .to_string()
        )
    ));
    assert_eq!(found.json()["totalEvents"], 1, "{first:?}");
    let mut got = vec![first];
    got.extend(everything.take(2));
    assert_ids_rise(&got);
    let mut seen = names(&got);
    seen.sort();
    let created = |name: &str| ("created".to_string(), name.to_string());
    // The session the spans name is created with them, named after the project.
    assert_eq!(
        seen,
        [
            created("llm-call"),
            created("lookup"),
            created(TEST_PROJECT)
        ]
    );
    let project_id = got[0].json()["project_id"].clone();
    assert!(got.iter().all(|m| m.json()["project_id"] == project_id));

    // The filtered stream skipped the tool span and the session: its next
    // model event follows the first directly.
    let later = otlp(vec![span(3, "llm-call-2", "model", "live-session")]);
    assert_eq!(h.post_json("/opentelemetry/v1/traces", &later).status, 200);
    assert_eq!(
        names(&models.take(2)),
        [created("llm-call"), created("llm-call-2")]
    );

    // The other project's stream saw none of it: its first event is its own.
    post_event(&h, &other_key, "theirs", "their-session");
    let theirs = elsewhere.next();
    assert_eq!(
        (theirs.event.as_str(), theirs.name().as_str()),
        ("created", "theirs")
    );
    assert_ne!(theirs.json()["project_id"], project_id);
}

#[test]
fn a_resumed_stream_gets_exactly_what_it_missed_then_live_events() {
    let mut h = Harness::start();
    let key = h.key();
    let first = open(&h, &key, "", None).expect("stream");
    first.ready();
    post_event(&h, &key, "a1", "resume-session");
    post_event(&h, &key, "a2", "resume-session");
    // a1, then its session (created with it), then a2.
    let read = first.take(3);
    assert_ids_rise(&read);
    let last = read[2].id.expect("id");
    assert_eq!(read[2].name(), "a2");
    drop(first);

    post_event(&h, &key, "b1", "resume-session");
    post_event(&h, &key, "b2", "resume-session");
    let a1 = read[0].json()["event_id"].clone();
    let update = json!({"event_id": a1, "metrics": {"score": 0.9}});
    assert_eq!(h.put_json("/events", &update).status, 200);

    let resumed = open(&h, &key, "", Some(last)).expect("resumed stream");
    assert_eq!(resumed.ready(), last, "ready repeats the client's cursor");
    let replayed = resumed.take(3);
    post_event(&h, &key, "c1", "resume-session");
    let live = resumed.next();
    let all: Vec<Message> = replayed.iter().cloned().chain([live]).collect();
    assert_ids_rise(&all);
    assert!(all[0].id > Some(last));
    let as_pair = |e: &str, n: &str| (e.to_string(), n.to_string());
    assert_eq!(
        names(&all),
        [
            as_pair("created", "b1"),
            as_pair("created", "b2"),
            as_pair("updated", "a1"),
            as_pair("created", "c1"),
        ]
    );
    assert_eq!(all[2].json()["metrics"]["score"], 0.9);

    // A cursor the store never handed out starts from now.
    let stranger = open(&h, &key, "", Some(u64::MAX)).expect("stream");
    let now = stranger.ready();
    assert_eq!(Some(now), all[3].id);

    // Shutting the server down ends open streams.
    h.restart();
    assert!(resumed.ends(), "the stream ends with the server");
}

#[test]
fn resuming_while_events_commit_neither_repeats_nor_skips_one() {
    const EVENTS: usize = 150;
    let h = Harness::start();
    let key = h.key();
    let mut stream = open(&h, &key, "", None).expect("stream");
    stream.ready();
    let names: Vec<String> = (0..EVENTS).map(|i| format!("e{i:03}")).collect();
    let mut seen: Vec<String> = Vec::new();
    let mut last = None;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for name in &names {
                post_event(&h, &key, name, "busy-session");
            }
        });
        // Reconnects every third message while the writes go on.
        let mut read = 0;
        while seen.len() < EVENTS {
            let message = stream.next();
            assert!(message.id > last, "{message:?} after {last:?}");
            last = message.id;
            if message.name().starts_with('e') {
                seen.push(message.name());
            }
            read += 1;
            if read % 3 == 0 {
                stream = open(&h, &key, "", last).expect("resumed stream");
                assert_eq!(Some(stream.ready()), last);
            }
        }
    });
    assert_eq!(seen, names, "each event once, in commit order");
}

#[test]
fn bad_stream_requests_are_refused_before_the_stream_starts() {
    let h = Harness::start_with(|cfg| cfg.live.max_subscribers_per_project = 1);
    let key = h.key();
    let assert_refused = |(status, body): (u16, Value), want: u16, code: &str| {
        assert_eq!(status, want, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["hint"].is_string(), "{body}");
    };
    let bad_filter = r#"[{"field":"event_type","operator":"resembles","value":"x"}]"#;
    let refused = open(&h, &key, &format!("filters={}", encode(bad_filter)), None);
    assert_refused(refused.err().expect("refused"), 400, "bad_request");
    let refused = open(&h, &key, "filters=not-json", None);
    assert_refused(refused.err().expect("refused"), 400, "bad_request");
    // A filter nested 2 000 deep is refused, not followed down.
    let deep = format!("{}{}", "[".repeat(2_000), "]".repeat(2_000));
    let refused = open(&h, &key, &format!("filters={}", encode(&deep)), None);
    assert_refused(refused.err().expect("refused"), 400, "bad_request");
    let deep_object = format!("[{}1{}]", "{\"a\":".repeat(2_000), "}".repeat(2_000));
    let refused = open(&h, &key, &format!("filters={}", encode(&deep_object)), None);
    assert_refused(refused.err().expect("refused"), 400, "bad_request");
    let bad_cursor = h.send(
        "GET",
        "/v1/events/stream",
        Some(&key),
        &[("Last-Event-ID", "yesterday")],
        &[],
    );
    assert_refused((bad_cursor.status, bad_cursor.json()), 400, "bad_request");
    let no_key = h.send("GET", "/v1/events/stream", None, &[], &[]);
    assert_refused((no_key.status, no_key.json()), 401, "unauthenticated");

    let _only = open(&h, &key, "", None).expect("the project's one subscriber");
    let second = open(&h, &key, "", None);
    assert_refused(second.err().expect("refused"), 429, "over_budget");
    let other_key = h.server().create_project_key("another-project");
    // Held open: a dropped stream's subscriber leaves once the server sees it go.
    let _other = open(&h, &other_key, "", None).expect("another project has its own subscribers");
    let metrics = String::from_utf8_lossy(&h.get("/metrics").body).to_string();
    assert!(metrics.contains("hh_live_subscribers 2\n"), "{metrics}");
    assert!(
        metrics.contains("hh_live_subscribers_refused_total 1\n"),
        "{metrics}"
    );
}
