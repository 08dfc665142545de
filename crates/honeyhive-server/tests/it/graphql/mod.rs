//! The GraphQL API over real HTTP and a real SQLite file: what queries read
//! of data ingested through the REST and OTLP endpoints, session trees, runs
//! and comparisons as the REST routes compute them, tenancy, keys, the
//! depth, cost and size limits with our error codes, and the explorer page.
//! Subscriptions over WebSocket are in `ws.rs`, the explorer in a real
//! browser in `browser.rs`, the metric time series in `metrics.rs`.

mod browser;
mod metrics;
mod ws;

use serde_json::{Value, json};

use crate::api_experiments::replay_evaluate;
use crate::common::{Answer, Harness};
use crate::live::{otlp, span};

/// Posts `query` with `variables` as `key`.
fn graphql_as(h: &Harness, key: &str, query: &str, variables: Value) -> Answer {
    h.post_json_as(
        key,
        "/graphql",
        &json!({"query": query, "variables": variables}),
    )
}

/// The `data` of a query that must succeed as the harness's key.
fn data(h: &Harness, query: &str, variables: Value) -> Value {
    let answer = graphql_as(h, &h.key(), query, variables);
    assert_eq!(answer.status, 200, "{}", text(&answer));
    let body = answer.json();
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

/// The errors of a query that must fail as the harness's key.
fn errors(h: &Harness, query: &str, variables: Value) -> Vec<Value> {
    let answer = graphql_as(h, &h.key(), query, variables);
    assert_eq!(answer.status, 200, "{}", text(&answer));
    let body = answer.json();
    body["errors"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no errors: {body}"))
}

fn text(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

/// Asserts every error carries `code` and a hint in its extensions.
fn assert_coded(errors: &[Value], code: &str) {
    assert!(!errors.is_empty());
    for error in errors {
        assert_eq!(error["extensions"]["code"], code, "{error}");
        assert!(error["extensions"]["hint"].is_string(), "{error}");
    }
}

/// Starts a session named `name` as `key`; returns its id.
fn start_session(h: &Harness, key: &str, name: &str) -> String {
    let started = h.post_json_as(
        key,
        "/session/start",
        &json!({"session": {"session_name": name, "source": "graphql-test"}}),
    );
    assert_eq!(started.status, 200, "{}", text(&started));
    started.json()["session_id"]
        .as_str()
        .expect("session id")
        .to_string()
}

/// Records an event as `key`; returns its id.
fn post_event(h: &Harness, key: &str, event: Value) -> String {
    let answer = h.post_json_as(key, "/events", &json!({ "event": event }));
    assert_eq!(answer.status, 200, "{}", text(&answer));
    answer.json()["event_id"]
        .as_str()
        .expect("event id")
        .to_string()
}

const MODELS_ONLY: &str =
    r#"[{"field": "event_type", "operator": "is", "value": "model", "type": "string"}]"#;

#[test]
fn queries_read_sessions_and_events_ingested_over_rest_and_otlp() {
    let h = Harness::start();
    let key = h.key();
    let spans = vec![
        span(1, "llm-call", "model", "otlp-session"),
        span(2, "lookup", "tool", "otlp-session"),
    ];
    let sent = h.post_json("/opentelemetry/v1/traces", &otlp(spans));
    assert_eq!(sent.status, 200, "{}", text(&sent));
    let rest_session = start_session(&h, &key, "rest-session");
    post_event(
        &h,
        &key,
        json!({
            "session_id": rest_session, "event_type": "model", "event_name": "answer",
            "config": {"model": "gpt-4o", "provider": "openai"},
            "inputs": {"question": "capital of France?"},
            "outputs": {"content": "Paris."},
            "metadata": {"prompt_tokens": 12, "completion_tokens": 3, "cost": 0.0021},
        }),
    );

    let sessions = data(
        &h,
        "{ sessions { total hasNextPage items { eventId sessionId eventType source } } }",
        json!({}),
    );
    let sessions = &sessions["sessions"];
    assert_eq!(sessions["total"], 2, "{sessions}");
    assert_eq!(sessions["hasNextPage"], false);
    let items = sessions["items"].as_array().expect("items");
    assert!(
        items.iter().all(|s| s["eventType"] == "SESSION"),
        "{items:?}"
    );
    assert!(
        items
            .iter()
            .any(|s| s["sessionId"] == rest_session.as_str())
    );
    // Newest first: the REST session started after the OTLP one.
    assert_eq!(items[0]["sessionId"], rest_session.as_str());

    let query = "query($f: JSON) { events(filters: $f, limit: 10) {
        total items { eventName eventType model provider tokens { prompt completion total }
                      cost inputs outputs metadata } } }";
    let events = data(&h, query, json!({"f": MODELS_ONLY}));
    let events = &events["events"];
    assert_eq!(events["total"], 2, "{events}");
    let items = events["items"].as_array().expect("items");
    let names: Vec<&str> = items
        .iter()
        .map(|e| e["eventName"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["llm-call", "answer"],
        "oldest first, as GET /events"
    );
    let answer = &items[1];
    assert_eq!(answer["model"], "gpt-4o");
    assert_eq!(answer["provider"], "openai");
    assert_eq!(
        answer["tokens"],
        json!({"prompt": 12, "completion": 3, "total": 15})
    );
    assert_eq!(answer["cost"], 0.0021);
    assert_eq!(answer["inputs"], json!({"question": "capital of France?"}));
    assert_eq!(answer["outputs"]["content"], "Paris.");

    // The same filter as a JSON array literal, paged: one per page.
    let paged = data(
        &h,
        r#"{ events(filters: [{field: "event_type", operator: "is", value: "tool"}], limit: 1, page: 1) {
            total page limit hasNextPage items { eventName } } }"#,
        json!({}),
    );
    assert_eq!(
        paged["events"],
        json!({"total": 1, "page": 1, "limit": 1, "hasNextPage": false,
               "items": [{"eventName": "lookup"}]})
    );
}

#[test]
fn a_session_reads_back_as_a_nested_tree_with_its_rollup() {
    let h = Harness::start();
    let key = h.key();
    let session = start_session(&h, &key, "tree");
    let agent = post_event(
        &h,
        &key,
        json!({"session_id": session, "event_type": "chain", "event_name": "agent",
               "start_time": 1000.0, "end_time": 5000.0}),
    );
    for (name, start) in [("plan", 2000.0), ("act", 3000.0)] {
        post_event(
            &h,
            &key,
            json!({"session_id": session, "parent_id": agent, "event_type": "model",
                   "event_name": name, "start_time": start, "end_time": start + 500.0,
                   "metadata": {"total_tokens": 10, "cost": 0.5}}),
        );
    }
    let tool = post_event(
        &h,
        &key,
        json!({"session_id": session, "event_type": "tool", "event_name": "search",
               "start_time": 6000.0, "end_time": 6100.0}),
    );

    let query = "query($id: ID!) { session(id: $id) {
        session { eventId eventName tokens { total } cost }
        rollup { numEvents numModelEvents totalTokens cost }
        children { event { eventId eventName parentId }
                   children { event { eventName eventType parentId } children { event { eventId } } } }
        events { eventName } } }";
    let tree = data(&h, query, json!({"id": session}));
    let tree = &tree["session"];
    assert_eq!(tree["session"]["eventId"], session.as_str());
    assert_eq!(tree["session"]["eventName"], "tree");
    assert_eq!(
        tree["rollup"],
        json!({"numEvents": 4, "numModelEvents": 2, "totalTokens": 20, "cost": 1.0})
    );
    // The session event shows its roll-up as GET /v1/sessions/{id} does.
    assert_eq!(tree["session"]["tokens"]["total"], 20);
    assert_eq!(tree["session"]["cost"], 1.0);
    let top = tree["children"].as_array().expect("children");
    let top_names: Vec<&Value> = top.iter().map(|c| &c["event"]["eventName"]).collect();
    assert_eq!(top_names, [&json!("agent"), &json!("search")]);
    assert_eq!(top[0]["event"]["eventId"], agent.as_str());
    assert_eq!(top[1]["event"]["eventId"], tool.as_str());
    assert_eq!(top[0]["event"]["parentId"], session.as_str());
    assert_eq!(
        top[0]["children"],
        json!([
            {"event": {"eventName": "plan", "eventType": "MODEL", "parentId": agent}, "children": []},
            {"event": {"eventName": "act", "eventType": "MODEL", "parentId": agent}, "children": []},
        ])
    );
    assert_eq!(top[1]["children"], json!([]));
    assert_eq!(tree["events"].as_array().expect("events").len(), 4);

    let none = data(
        &h,
        "{ session(id: \"no-such-session\") { session { eventId } } }",
        json!({}),
    );
    assert_eq!(none["session"], Value::Null);
}

#[test]
fn runs_results_and_comparisons_read_as_the_rest_routes_compute_them() {
    let h = Harness::start();
    let old = replay_evaluate(
        &h,
        "44444444-4444-4444-8444-444444444444",
        Some([0.0, 0.0, 1.0]),
    );
    let new = replay_evaluate(
        &h,
        "55555555-5555-4555-8555-555555555555",
        Some([1.0, 1.0, 1.0]),
    );

    let runs = data(
        &h,
        "{ runs { total items { runId status eventIds } } }",
        json!({}),
    );
    assert_eq!(runs["runs"]["total"], 2, "{runs}");
    let listed: Vec<&Value> = runs["runs"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| &r["runId"])
        .collect();
    assert_eq!(listed, [&json!(new), &json!(old)], "newest first");
    assert!(
        runs["runs"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|r| r["status"] == "COMPLETED")
    );

    let query = "query($id: ID!) { run(id: $id) { runId result(aggregation: \"average\") {
        aggregation success passed failed
        metrics { metricName aggregate values datapoints { passed failed } }
        datapoints { datapointId passed metrics { name value passed } }
        document } } }";
    let run = data(&h, query, json!({"id": new}));
    let result = &run["run"]["result"];
    let rest = h
        .get(&format!("/v1/runs/{new}/result?aggregate_function=average"))
        .json();
    assert_eq!(result["document"], rest, "the REST body, whole");
    assert_eq!(result["aggregation"], "average");
    assert_eq!(result["success"], rest["success"]);
    assert_eq!(result["passed"], rest["passed"]);
    assert_eq!(result["failed"], rest["failed"]);
    let exact = result["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metricName"] == "exact_match")
        .expect("exact_match")
        .clone();
    assert_eq!(exact["aggregate"], 1.0);
    assert_eq!(exact["values"], json!([1.0, 1.0, 1.0]));
    assert_eq!(
        result["datapoints"].as_array().expect("datapoints").len(),
        3
    );

    let query = "query($new: ID!, $old: ID!) { compareRuns(newRunId: $new, oldRunId: $old) {
        newRun { runId } oldRun { runId } commonDatapoints
        metrics { metricName oldAggregate newAggregate improvedCount sameCount improved } } }";
    let compared = data(&h, query, json!({"new": new, "old": old}));
    let compared = &compared["compareRuns"];
    assert_eq!(compared["newRun"]["runId"], new.as_str());
    assert_eq!(compared["oldRun"]["runId"], old.as_str());
    assert_eq!(
        compared["commonDatapoints"]
            .as_array()
            .expect("common")
            .len(),
        3
    );
    let exact = compared["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metricName"] == "exact_match")
        .expect("exact_match")
        .clone();
    assert!((exact["oldAggregate"].as_f64().expect("old") - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(exact["newAggregate"], 1.0);
    assert_eq!(exact["improvedCount"], 2);
    assert_eq!(exact["sameCount"], 1);
    assert_eq!(
        exact["improved"],
        json!(["EXT-c526555695cbd730", "EXT-10c83badc3bc68b3"])
    );

    let missing = errors(
        &h,
        "{ compareRuns(newRunId: \"nope\", oldRunId: \"nada\") { commonDatapoints } }",
        json!({}),
    );
    assert_coded(&missing, "not_found");
    let bad = errors(
        &h,
        "query($id: ID!) { run(id: $id) { result(aggregation: \"mode\") { success } } }",
        json!({"id": new}),
    );
    assert_eq!(bad[0]["extensions"]["code"], "bad_request", "{bad:?}");
    assert!(
        bad[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("average"))
    );
}

#[test]
fn a_key_sees_nothing_of_another_project() {
    let h = Harness::start();
    let key = h.key();
    let session = start_session(&h, &key, "mine");
    post_event(
        &h,
        &key,
        json!({"session_id": session, "event_type": "tool", "event_name": "private"}),
    );
    let run = replay_evaluate(&h, "66666666-6666-4666-8666-666666666666", None);
    let other = h.server().create_project_key("another-project");

    let query = "query($s: ID!, $r: ID!) {
        sessions { total items { eventId } }
        events { total items { eventId } }
        session(id: $s) { session { eventId } }
        run(id: $r) { runId }
        runs { total }
        datasets { total } }";
    let variables = json!({"s": session, "r": run});
    let theirs = graphql_as(&h, &other, query, variables.clone()).json();
    assert!(theirs.get("errors").is_none(), "{theirs}");
    assert_eq!(
        theirs["data"],
        json!({
            "sessions": {"total": 0, "items": []},
            "events": {"total": 0, "items": []},
            "session": null,
            "run": null,
            "runs": {"total": 0},
            "datasets": {"total": 0},
        })
    );
    let mine = data(&h, query, variables);
    assert_eq!(mine["session"]["session"]["eventId"], session.as_str());
    assert_eq!(mine["run"]["runId"], run.as_str());
    assert!(mine["events"]["total"].as_u64().expect("total") >= 2);
}

#[test]
fn no_key_or_an_unknown_one_is_a_401_as_in_rest() {
    let h = Harness::start();
    let body = br#"{"query": "{ sessions { total } }"}"#;
    let json_type = [("Content-Type", "application/json")];
    let missing = h.send("POST", "/graphql", None, &json_type, body);
    assert_eq!(missing.status, 401);
    let missing = missing.json();
    assert_eq!(missing["error"]["code"], "unauthenticated", "{missing}");
    assert!(missing["error"]["hint"].is_string());
    let unknown = h.send("POST", "/graphql", Some("hh_not_a_key"), &json_type, body);
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["error"]["code"], "unauthenticated");
    // As REST answers the same key.
    let rest = h.send("GET", "/events", Some("hh_not_a_key"), &[], &[]);
    assert_eq!(rest.status, 401);
    assert_eq!(rest.json()["error"], unknown.json()["error"]);
}

#[test]
fn queries_past_the_limits_or_malformed_get_our_codes() {
    let h = Harness::start();

    // Thirteen levels of fields: past the depth limit of 12.
    let mut deep = "event { eventId }".to_string();
    for _ in 0..11 {
        deep = format!("children {{ {deep} }}");
    }
    let too_deep = errors(
        &h,
        &format!("{{ session(id: \"s\") {{ {deep} }} }}"),
        json!({}),
    );
    assert_coded(&too_deep, "result_too_large");
    assert!(
        too_deep[0]["message"]
            .as_str()
            .expect("message")
            .contains("12")
    );

    // 7500 rows of three fields each: past the cost limit of 2000.
    let too_costly = errors(
        &h,
        "{ events(limit: 7500) { items { eventId eventName duration } } }",
        json!({}),
    );
    assert_coded(&too_costly, "result_too_large");
    assert!(
        too_costly[0]["message"]
            .as_str()
            .expect("message")
            .contains("2000")
    );
    // Each alias reads the store again, and is counted so.
    let aliases: String = (0..30)
        .map(|i| format!("a{i}: session(id: \"s\") {{ session {{ eventId }} }} "))
        .collect();
    assert_coded(
        &errors(&h, &format!("{{ {aliases} }}"), json!({})),
        "result_too_large",
    );
    // Introspection counts too, and a modest one passes.
    let types = data(&h, "{ __schema { types { name } } }", json!({}));
    assert!(types["__schema"]["types"].as_array().expect("types").len() > 10);

    let malformed = errors(&h, "{ sessions { total ", json!({}));
    assert_coded(&malformed, "bad_request");
    let unknown_field = errors(&h, "{ sessions { nope } }", json!({}));
    assert_coded(&unknown_field, "bad_request");
    assert!(
        unknown_field[0]["message"]
            .as_str()
            .expect("message")
            .contains("nope")
    );
    let bad_filter = errors(
        &h,
        "query($f: JSON) { events(filters: $f) { total } }",
        json!({"f": [{"field": "event_type", "operator": "resembles", "value": "x"}]}),
    );
    assert_coded(&bad_filter, "bad_request");
    // Brackets nested far past any real query never reach the parser.
    let bomb = format!("{}{}", "{a".repeat(20_000), "}".repeat(20_000));
    let bombed = errors(&h, &bomb, json!({}));
    assert_coded(&bombed, "bad_request");
    assert!(
        bombed[0]["message"]
            .as_str()
            .expect("message")
            .contains("nests")
    );
    assert_eq!(h.get("/healthz").status, 200, "the server is still up");

    // A body past the GraphQL limit (256 KiB) is refused as REST refuses one.
    let padding = "x".repeat(300 * 1024);
    let big = h.post_json(
        "/graphql",
        &json!({"query": format!("{{ sessions {{ total }} }} # {padding}")}),
    );
    assert_eq!(big.status, 413, "{}", text(&big));
    assert_eq!(big.json()["error"]["code"], "payload_too_large");
    let not_json = h.send(
        "POST",
        "/graphql",
        Some(&h.key()),
        &[("Content-Type", "application/json")],
        b"{ sessions { total } }",
    );
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.json()["error"]["code"], "bad_request");
}

#[test]
fn the_explorer_is_our_own_page_under_a_strict_policy() {
    let h = Harness::start();
    let page = h.send("GET", "/graphql", None, &[], &[]);
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let csp = page.header("content-security-policy").expect("a policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let html = text(&page);
    for part in [
        "<textarea id=\"query\"",
        "<textarea id=\"variables\"",
        "id=\"key\"",
        "<pre id=\"result\"",
    ] {
        assert!(html.contains(part), "{part} in {html}");
    }
    let script = h.send("GET", "/graphql/explorer.js", None, &[], &[]);
    assert_eq!(script.status, 200);
    assert!(
        script
            .header("content-type")
            .is_some_and(|t| t.contains("javascript"))
    );
    let script = text(&script);
    assert!(script.contains("sessionStorage") && script.contains("textContent"));
    let style = h.send("GET", "/graphql/explorer.css", None, &[], &[]);
    assert_eq!(style.status, 200);
    // Nothing is loaded from elsewhere, and no script or style is inline.
    for asset in [&html, &script, &text(&style)] {
        assert!(!asset.contains("http://") && !asset.contains("https://"));
    }
    assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains(" style="));

    // The explorer's own schema listing fits the depth and cost limits.
    let schema_query = script
        .split("const SCHEMA_QUERY = `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("the explorer's schema query");
    let schema = data(&h, schema_query, json!({}));
    let types = schema["__schema"]["types"].as_array().expect("types");
    for name in [
        "Event",
        "SessionTree",
        "Run",
        "RunResult",
        "LiveUpdate",
        "Lagged",
    ] {
        assert!(types.iter().any(|t| t["name"] == name), "{name}");
    }
}

#[test]
fn a_query_whose_fragments_multiply_is_refused_before_they_are_spread() {
    let h = Harness::start();
    let mut bomb = String::from("query { ...F0 }");
    for level in 0..9 {
        bomb.push_str(&format!(" fragment F{level} on Query {{"));
        for _ in 0..16 {
            bomb.push_str(&format!(" ...F{}", level + 1));
        }
        bomb.push_str(" }");
    }
    bomb.push_str(" fragment F9 on Query { __typename }");
    assert!(bomb.len() < 4096, "a small body");
    let refused = errors(&h, &bomb, json!({}));
    assert_coded(&refused, "result_too_large");
    assert!(
        refused[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("68719476736 fields")),
        "{refused:?}"
    );
    // The server answers the next query at once.
    let data = data(&h, "{ sessions { total } }", json!({}));
    assert_eq!(data["sessions"]["total"], 0);
}
