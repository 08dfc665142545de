//! The experiments REST API over real HTTP and a real SQLite file: runs with
//! results and comparisons (replaying the Python client's evaluate() capture),
//! datasets and datapoints, `GET /events` filters and paging, tenancy, errors.

use crate::common::Harness;
use honeyhive_testkit::fixtures::Fixture;
use serde_json::{Value, json};

/// The session ids fixture 02's spans name, in the order of its `/session/start` calls.
const FIXTURE_SESSIONS: [&str; 3] = [
    "981d965c-7448-4a88-8c7e-bd294364c059",
    "f2c82c7a-e73d-427b-9fb4-3e3f88b096fe",
    "01560443-6a26-4698-bacf-db755d7ad772",
];

/// Replays fixture 02 (evaluate() over 3 inline datapoints) except the final GET,
/// under a new run id, with the session ids our server hands out, and optionally
/// with other exact_match scores; returns the run id.
pub(crate) fn replay_evaluate(h: &Harness, run_id: &str, exact_match: Option<[f64; 3]>) -> String {
    let requests = Fixture::EvaluateInlineDataset.requests();
    let original_run = requests[0]["body"]["run_id"]
        .as_str()
        .expect("run id")
        .to_string();
    let mut sessions: Vec<(String, String)> = Vec::new();
    for request in &requests {
        let method = request["method"].as_str().unwrap_or("");
        if method == "GET" {
            continue;
        }
        let mut text = request.to_string().replace(&original_run, run_id);
        for (from, to) in &sessions {
            text = text.replace(from.as_str(), to);
        }
        let mut request: Value = serde_json::from_str(&text).expect("json");
        // Span ids decide event ids: salt them so two replays are two sets of events.
        for rs in request["body"]["resourceSpans"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            for ss in rs["scopeSpans"].as_array_mut().into_iter().flatten() {
                for span in ss["spans"].as_array_mut().into_iter().flatten() {
                    for key in ["spanId", "parentSpanId", "traceId"] {
                        if let Some(id) = span[key].as_str() {
                            span[key] = json!(format!("{}{}", &run_id[..1], &id[1..]));
                        }
                    }
                }
            }
        }
        if let Some(scores) = exact_match {
            for rs in request["body"]["resourceSpans"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                for ss in rs["scopeSpans"].as_array_mut().into_iter().flatten() {
                    for span in ss["spans"].as_array_mut().into_iter().flatten() {
                        let session = span["attributes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|a| a["key"] == "honeyhive.session_id")
                            .and_then(|a| a["value"]["stringValue"].as_str())
                            .map(str::to_string);
                        let index = sessions
                            .iter()
                            .position(|(_, to)| Some(to) == session.as_ref());
                        for attr in span["attributes"].as_array_mut().into_iter().flatten() {
                            if attr["key"] == "honeyhive_metrics.exact_match"
                                && let Some(i) = index
                            {
                                attr["value"] = json!({"doubleValue": scores[i]});
                            }
                        }
                    }
                }
            }
        }
        let answer = h.replay(&request);
        assert_eq!(
            answer.status,
            200,
            "{method} {}: {}",
            request["path"],
            String::from_utf8_lossy(&answer.body)
        );
        if request["path"] == "/session/start" {
            let given = answer.json()["session_id"]
                .as_str()
                .expect("session id")
                .to_string();
            sessions.push((FIXTURE_SESSIONS[sessions.len()].to_string(), given));
        }
    }
    run_id.to_string()
}

#[test]
fn evaluate_flow_result_has_exact_aggregates_and_pass_fail_lists() {
    let h = Harness::start();
    let run_id = replay_evaluate(&h, "11111111-1111-4111-8111-111111111111", None);
    let answer = h.get(&format!(
        "/v1/runs/{run_id}/result?aggregate_function=average"
    ));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let result = answer.json();
    assert_eq!(result["status"], "completed");
    assert_eq!(result["run_id"], run_id.as_str());
    // Datapoint 3 ("x") has length_check_long_enough = false.
    assert_eq!(
        result["passed"],
        json!(["EXT-c526555695cbd730", "EXT-10c83badc3bc68b3"])
    );
    assert_eq!(result["failed"], json!(["EXT-f8e1295600e97630"]));
    assert_eq!(result["success"], false);
    let details = result["metrics"]["details"].as_array().expect("details");
    let by_name = |name: &str| {
        details
            .iter()
            .find(|d| d["metric_name"] == name)
            .unwrap_or_else(|| panic!("{name} in {details:?}"))
    };
    let exact = by_name("exact_match");
    assert!((exact["aggregate"].as_f64().expect("number") - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(exact["values"], json!([1.0, 0.0, 1.0]));
    assert_eq!(exact["event_name"], "app");
    assert_eq!(by_name("length_check")["aggregate"], json!(3.0));
    assert!(
        details
            .iter()
            .all(|d| d["metric_name"] != "length_check_explanation")
    );
    let datapoints = result["datapoints"].as_array().expect("datapoints");
    assert_eq!(datapoints.len(), 3);
    assert!(
        datapoints
            .iter()
            .all(|d| d["metrics"].as_array().is_some_and(|m| m.len() == 3)),
        "{datapoints:?}"
    );
    assert_eq!(result["run_object"]["run_id"], run_id.as_str());
    assert_eq!(result["run_object"]["scope_type"], "project");

    let sum = h
        .get(&format!("/v1/runs/{run_id}/result?aggregate_function=sum"))
        .json();
    let sum_details = sum["metrics"]["details"].as_array().expect("details");
    assert_eq!(
        sum_details
            .iter()
            .find(|d| d["metric_name"] == "length_check")
            .expect("length")["aggregate"],
        json!(9.0)
    );
    let bad = h.get(&format!("/v1/runs/{run_id}/result?aggregate_function=mode"));
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["code"], "bad_request");
}

#[test]
fn compare_with_reports_per_metric_deltas_over_common_datapoints() {
    let h = Harness::start();
    let old = replay_evaluate(
        &h,
        "22222222-2222-4222-8222-222222222222",
        Some([0.0, 0.0, 1.0]),
    );
    let new = replay_evaluate(
        &h,
        "33333333-3333-4333-8333-333333333333",
        Some([1.0, 1.0, 1.0]),
    );
    let answer = h.get(&format!(
        "/v1/runs/{new}/compare-with/{old}?aggregate_function=average"
    ));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let cmp = answer.json();
    assert_eq!(cmp["commonDatapoints"].as_array().expect("common").len(), 3);
    let exact = cmp["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric_name"] == "exact_match")
        .expect("exact")
        .clone();
    assert!((exact["old_aggregate"].as_f64().expect("old") - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(exact["new_aggregate"], json!(1.0));
    assert_eq!(exact["improved_count"], json!(2));
    assert_eq!(exact["same_count"], json!(1));
    assert_eq!(
        exact["improved"],
        json!(["EXT-c526555695cbd730", "EXT-10c83badc3bc68b3"])
    );
    assert_eq!(cmp["new_run"]["run_id"], new.as_str());
    assert_eq!(cmp["old_run"]["run_id"], old.as_str());
}

#[test]
fn runs_crud_and_listing() {
    let h = Harness::start();
    let created = h.post_json(
        "/v1/runs",
        &json!({"name": "r", "metadata": {"a": 1}, "datapoint_ids": ["d1"]}),
    );
    assert_eq!(created.status, 200);
    let run_id = created.json()["run_id"].as_str().expect("id").to_string();
    let updated = h.put_json(
        &format!("/v1/runs/{run_id}"),
        &json!({"status": "completed", "metadata": {"b": 2}, "event_ids": ["s1"]}),
    );
    assert_eq!(updated.status, 200);
    let run = h.get(&format!("/v1/runs/{run_id}")).json()["evaluation"].clone();
    assert_eq!(run["status"], "completed");
    assert_eq!(run["metadata"], json!({"a": 1, "b": 2}));
    assert_eq!(run["event_ids"], json!(["s1"]));
    let list = h.get("/v1/runs?status=completed").json();
    assert_eq!(list["evaluations"].as_array().expect("list").len(), 1);
    assert_eq!(list["pagination"]["total"], json!(1));
    let unknown = h.get("/v1/runs?status=done");
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.json()["error"]["message"],
        "unknown run status \"done\""
    );
    assert_eq!(
        h.put_json(&format!("/v1/runs/{run_id}"), &json!({"status": "done"}))
            .status,
        400
    );
    assert_eq!(
        h.send(
            "DELETE",
            &format!("/v1/runs/{run_id}"),
            Some(&h.key()),
            &[],
            &[]
        )
        .json()["deleted"],
        true
    );
    let missing = h.get(&format!("/v1/runs/{run_id}"));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "not_found");
}

#[test]
fn datasets_and_datapoints_crud() {
    let h = Harness::start();
    let ds = h
        .post_json(
            "/v1/datasets",
            &json!({"name": "qa", "description": "questions"}),
        )
        .json();
    let dataset_id = ds["result"]["insertedId"].as_str().expect("id").to_string();
    let added = h
        .post_json(
            &format!("/v1/datasets/{dataset_id}/datapoints"),
            &json!({"data": [{"q": "a", "answer": "A"}, {"q": "b", "answer": "B"}], "mapping": {"inputs": ["q"], "ground_truth": ["answer"], "history": []}}),
        )
        .json();
    let ids: Vec<String> = added["datapoint_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("s").to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let created = h.post_json("/v1/datapoints", &json!({"inputs": {"q": "c"}, "ground_truth": {"answer": "C"}, "linked_datasets": [dataset_id]})).json();
    let third = created["result"]["insertedIds"][0]
        .as_str()
        .expect("id")
        .to_string();

    let listed = h.get("/v1/datasets?name=qa").json();
    assert_eq!(
        listed["datasets"][0]["datapoints"],
        json!([ids[0], ids[1], third])
    );
    let by_dataset = h
        .get(&format!("/v1/datapoints?dataset_id={dataset_id}"))
        .json();
    let inputs: Vec<Value> = by_dataset["datapoints"]
        .as_array()
        .expect("dps")
        .iter()
        .map(|d| d["inputs"]["q"].clone())
        .collect();
    assert_eq!(inputs, [json!("a"), json!("b"), json!("c")]);
    assert_eq!(
        by_dataset["datapoints"][0]["ground_truth"],
        json!({"answer": "A"})
    );

    assert_eq!(
        h.put_json(
            &format!("/v1/datapoints/{third}"),
            &json!({"inputs": {"q": "c2"}})
        )
        .json()["updated"],
        true
    );
    assert_eq!(
        h.get(&format!("/v1/datapoints/{third}")).json()["datapoint"][0]["inputs"]["q"],
        "c2"
    );
    let removed = h.send(
        "DELETE",
        &format!("/v1/datasets/{dataset_id}/datapoints/{}", ids[0]),
        Some(&h.key()),
        &[],
        &[],
    );
    assert_eq!(removed.json()["dereferenced"], true);
    assert_eq!(
        h.send(
            "DELETE",
            &format!("/v1/datapoints/{}", ids[1]),
            Some(&h.key()),
            &[],
            &[]
        )
        .json()["deleted"],
        true
    );
    assert_eq!(
        h.get(&format!("/v1/datasets?dataset_id={dataset_id}"))
            .json()["datasets"][0]["datapoints"],
        json!([third])
    );
    let renamed = h.put_json(
        "/v1/datasets",
        &json!({"dataset_id": dataset_id, "name": "qa2"}),
    );
    assert_eq!(renamed.json()["result"]["name"], "qa2");
    let deleted = h.send(
        "DELETE",
        &format!("/v1/datasets?dataset_id={dataset_id}"),
        Some(&h.key()),
        &[],
        &[],
    );
    assert_eq!(deleted.json()["result"]["id"], dataset_id.as_str());
    assert_eq!(h.get("/v1/datasets").json()["datasets"], json!([]));
}

fn post_events(h: &Harness, key: &str, count: usize) {
    let events: Vec<Value> = (0..count)
        .map(|i| {
            json!({
                "project": "p",
                "event_type": if i % 2 == 0 { "model" } else { "tool" },
                "event_name": format!("step-{i}"),
                "session_id": "sess-1",
                "start_time": 1_700_000_000_000.0 + i as f64 * 1000.0,
                "end_time": 1_700_000_000_500.0 + i as f64 * 1000.0,
                "inputs": {"i": i},
                "metrics": {"score": i as f64 / 10.0},
                "metadata": {"tag": if i < 3 { "low" } else { "high" }},
            })
        })
        .collect();
    let answer = h.post_json_as(key, "/events/batch", &json!({"events": events}));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
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

#[test]
fn get_events_filters_pages_projects_and_isolates_tenants() {
    let h = Harness::start();
    post_events(&h, &h.key(), 8);
    let filters = json!([
        {"field": "event_type", "operator": "is", "value": "model", "type": "string"},
        {"field": "metrics.score", "operator": "greater than", "value": 0.1, "type": "number"},
    ]);
    let page1 = h
        .get(&format!(
            "/events?filters={}&limit=2&page=1",
            encode(&filters)
        ))
        .json();
    assert_eq!(page1["totalEvents"], json!(3), "{page1}");
    let names: Vec<&str> = page1["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["step-2", "step-4"]);
    let page2 = h
        .get(&format!(
            "/events?filters={}&limit=2&page=2",
            encode(&filters)
        ))
        .json();
    assert_eq!(page2["events"][0]["event_name"], "step-6");

    // qs-style nested filters and projections, as other clients send them.
    let qs = "/events?filters[0][field]=metadata.tag&filters[0][operator]=is&filters[0][value]=low&filters[0][type]=string&projections[]=event_name&projections[]=metadata.tag";
    let low = h.get(qs).json();
    assert_eq!(low["totalEvents"], json!(3));
    assert_eq!(
        low["events"][0],
        json!({"event_name": "step-0", "metadata": {"tag": "low"}})
    );

    let export = h.post_json("/v1/events/export", &json!({"filters": [{"field": "event_name", "operator": "contains", "value": "step-7", "type": "string"}], "limit": 10})).json();
    assert_eq!(export["totalEvents"], json!(1));

    let ranged = h.post_json("/v1/events/export", &json!({"filters": [], "dateRange": {"$gte": "2023-11-14T22:13:22Z", "$lte": "2023-11-14T22:13:24Z"}})).json();
    assert_eq!(
        ranged["totalEvents"],
        json!(3),
        "inclusive bounds: {ranged}"
    );

    let chart = h
        .get("/v1/events/chart?bucket=minute&metric=metrics.score&aggregation=max")
        .json();
    let total: u64 = chart["events"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(total, 8);

    let other = h.server().create_project_key("other-project");
    let foreign = h.get_as(&other, "/events").json();
    assert_eq!(foreign["totalEvents"], json!(0));
    assert_eq!(
        h.get_as(&other, "/v1/runs").json()["evaluations"],
        json!([])
    );
    let run = h.post_json("/v1/runs", &json!({"name": "mine"})).json();
    let run_id = run["run_id"].as_str().expect("id");
    assert_eq!(h.get_as(&other, &format!("/v1/runs/{run_id}")).status, 404);
    let ds = h.post_json("/v1/datasets", &json!({"name": "mine"})).json();
    assert_eq!(ds["inserted"], true);
    assert_eq!(
        h.get_as(&other, "/v1/datasets").json()["datasets"],
        json!([])
    );
}

#[test]
fn bad_filters_are_400_with_a_clear_code() {
    let h = Harness::start();
    for filters in [
        json!([{"field": "no_such_field", "operator": "is", "value": "x", "type": "string"}]),
        json!([{"field": "event_type", "operator": "resembles", "value": "x", "type": "string"}]),
        json!([{"field": "metrics.score", "operator": "greater than", "value": "high", "type": "number"}]),
        json!("not a filter"),
    ] {
        let answer = h.post_json("/v1/events/export", &json!({"filters": filters}));
        assert_eq!(answer.status, 400, "{filters}");
        let body = answer.json();
        assert_eq!(body["error"]["code"], "bad_request");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .starts_with("invalid filter"),
            "{body}"
        );
        assert!(body["error"]["hint"].is_string());
    }
    assert_eq!(h.get("/events?filters=%5B%7B").status, 400);
    assert_eq!(h.get("/events?limit=abc").status, 400);
}

#[test]
fn delete_event_and_session() {
    let h = Harness::start();
    post_events(&h, &h.key(), 3);
    let events = h.post_json("/v1/events/export", &json!({"filters": [{"field": "event_name", "operator": "is", "value": "step-1", "type": "string"}]})).json();
    let id = events["events"][0]["event_id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        h.send(
            "DELETE",
            &format!("/v1/events/{id}"),
            Some(&h.key()),
            &[],
            &[]
        )
        .json(),
        json!({"success": true, "deleted": id})
    );
    assert_eq!(
        h.send(
            "DELETE",
            &format!("/v1/events/{id}"),
            Some(&h.key()),
            &[],
            &[]
        )
        .status,
        404
    );
    assert_eq!(
        h.send("DELETE", "/v1/sessions/sess-1", Some(&h.key()), &[], &[])
            .json()["success"],
        true
    );
    assert_eq!(
        h.post_json("/v1/events/export", &json!({"filters": []}))
            .json()["totalEvents"],
        json!(0)
    );
}

#[test]
fn metrics_configurations_and_projects() {
    let h = Harness::start();
    let m = h.post_json("/v1/metrics", &json!({"name": "accuracy", "type": "PYTHON", "criteria": "x", "threshold": {"min": 0.5}})).json();
    let metric_id = m["metric_id"].as_str().expect("id").to_string();
    assert_eq!(
        h.put_json("/v1/metrics", &json!({"id": metric_id, "description": "d"}))
            .json()["updated"],
        true
    );
    let listed = h.get("/v1/metrics").json();
    assert_eq!(listed["metrics"][0]["description"], "d");
    assert_eq!(listed["metrics"][0]["threshold"], json!({"min": 0.5}));
    assert_eq!(
        h.send(
            "DELETE",
            &format!("/v1/metrics?metric_id={metric_id}"),
            Some(&h.key()),
            &[],
            &[]
        )
        .json()["deleted"],
        true
    );
    assert_eq!(
        h.post_json("/v1/metrics/run_metric", &json!({})).status,
        400
    );

    let c = h.post_json("/v1/configurations", &json!({"name": "gpt", "provider": "openai", "parameters": {"call_type": "chat", "model": "gpt-4o"}, "env": ["dev"]})).json();
    let config_id = c["insertedId"].as_str().expect("id").to_string();
    assert_eq!(
        h.get("/v1/configurations?env=dev").json()["configurations"][0]["parameters"]["model"],
        "gpt-4o"
    );
    assert_eq!(
        h.get("/v1/configurations?env=prod").json()["configurations"],
        json!([])
    );
    assert_eq!(
        h.put_json(
            &format!("/v1/configurations/{config_id}"),
            &json!({"name": "gpt2"})
        )
        .json()["matchedCount"],
        json!(1)
    );
    assert_eq!(
        h.send(
            "DELETE",
            &format!("/v1/configurations/{config_id}"),
            Some(&h.key()),
            &[],
            &[]
        )
        .json()["deletedCount"],
        json!(1)
    );

    // A key manages its own project only (hardening::updates has the rest).
    let project = honeyhive_server::testing::TEST_PROJECT;
    assert_eq!(
        h.post_json(
            "/v1/projects",
            &json!({"name": "side", "type": "evaluation"}),
        )
        .status,
        403
    );
    let names: Vec<String> = h
        .get("/v1/projects")
        .json()
        .as_array()
        .expect("projects")
        .iter()
        .map(|p| p["name"].as_str().expect("n").to_string())
        .collect();
    assert_eq!(names, [project]);
    assert_eq!(
        h.put_json(
            "/v1/projects",
            &json!({"name": project, "description": "mine", "type": "evaluation"})
        )
        .json()["description"],
        "mine"
    );
    assert_eq!(
        h.send(
            "DELETE",
            &format!("/v1/projects?name={project}"),
            Some(&h.key()),
            &[],
            &[]
        )
        .status,
        403
    );
}
