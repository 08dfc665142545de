//! No acknowledged write is lost under concurrency, no key manages another
//! project, and the catalog listings are bounded.
//!
//! Each concurrency case sends 24 requests at once, each adding (or removing) a
//! distinct item, expects every one answered 2xx, then checks that every
//! acknowledged change is there.

use std::sync::Barrier;

use serde_json::{Value, json};

use crate::common::{Answer, Harness};

/// Requests sent at once per case.
const CONCURRENT: usize = 24;

/// Runs `request(i)` for `i in 0..n` on `n` threads released together.
fn concurrently<F>(n: usize, request: F) -> Vec<Answer>
where
    F: Fn(usize) -> Answer + Sync,
{
    let start = Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (start, request) = (&start, &request);
                scope.spawn(move || {
                    start.wait();
                    request(i)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("request thread"))
            .collect()
    })
}

fn assert_all_ok(answers: &[Answer]) {
    for (i, a) in answers.iter().enumerate() {
        assert!(
            (200..300).contains(&a.status),
            "request {i} answered {}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
    }
}

fn send_json(h: &Harness, key: &str, method: &str, path: &str, body: &Value) -> Answer {
    let bytes = serde_json::to_vec(body).expect("json");
    h.send(
        method,
        path,
        Some(key),
        &[("Content-Type", "application/json")],
        &bytes,
    )
}

fn delete_as(h: &Harness, key: &str, path: &str) -> Answer {
    h.send("DELETE", path, Some(key), &[], &[])
}

fn ok_json(answer: Answer) -> Value {
    assert!(
        (200..300).contains(&answer.status),
        "answered {}: {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

fn new_dataset(h: &Harness, name: &str) -> String {
    let created = ok_json(h.post_json("/v1/datasets", &json!({"name": name})));
    created["result"]["insertedId"]
        .as_str()
        .expect("dataset id")
        .to_string()
}

fn dataset(h: &Harness, id: &str) -> Value {
    let listed = ok_json(h.get(&format!("/v1/datasets?dataset_id={id}")));
    listed["datasets"][0].clone()
}

fn dataset_members(h: &Harness, id: &str) -> Vec<String> {
    strings(&dataset(h, id)["datapoints"])
}

fn datapoint(h: &Harness, id: &str) -> Value {
    ok_json(h.get(&format!("/v1/datapoints/{id}")))["datapoint"][0].clone()
}

fn new_datapoint(h: &Harness, body: &Value) -> String {
    let created = ok_json(h.post_json("/v1/datapoints", body));
    created["result"]["insertedIds"][0]
        .as_str()
        .expect("datapoint id")
        .to_string()
}

/// `dataset` lists every one of `ids` (in any order) and each of them links back to it.
fn assert_members(h: &Harness, dataset_id: &str, ids: &[String]) {
    let members = dataset_members(h, dataset_id);
    let missing: Vec<&String> = ids.iter().filter(|id| !members.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged datapoints missing from the dataset",
        missing.len(),
        ids.len()
    );
    assert_eq!(members.len(), ids.len(), "no extra members: {members:?}");
    for id in ids {
        let linked = strings(&datapoint(h, id)["linked_datasets"]);
        assert_eq!(linked, [dataset_id], "datapoint {id} links its dataset");
    }
}

/// Every key `{prefix}{i}` for i in 0..CONCURRENT is in `object` with value i.
fn assert_keys(object: &Value, prefix: &str) {
    let missing: Vec<usize> = (0..CONCURRENT)
        .filter(|i| object[format!("{prefix}{i}")] != json!(i))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {CONCURRENT} acknowledged keys missing: {missing:?} in {object}",
        missing.len()
    );
}

#[test]
fn concurrent_adds_to_one_dataset_all_land() {
    let h = Harness::start();
    let ds = new_dataset(&h, "adds");
    let answers = concurrently(CONCURRENT, |i| {
        h.post_json(
            &format!("/v1/datasets/{ds}/datapoints"),
            &json!({"data": [{"q": i}]}),
        )
    });
    assert_all_ok(&answers);
    let ids: Vec<String> = answers
        .iter()
        .flat_map(|a| strings(&a.json()["datapoint_ids"]))
        .collect();
    assert_eq!(ids.len(), CONCURRENT);
    assert_members(&h, &ds, &ids);
}

#[test]
fn concurrent_datapoint_creations_linked_to_one_dataset_all_land() {
    let h = Harness::start();
    let ds = new_dataset(&h, "creations");
    let answers = concurrently(CONCURRENT, |i| {
        h.post_json(
            "/v1/datapoints",
            &json!({"inputs": {"i": i}, "linked_datasets": [ds]}),
        )
    });
    assert_all_ok(&answers);
    let ids: Vec<String> = answers
        .iter()
        .map(|a| {
            a.json()["result"]["insertedIds"][0]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    assert_members(&h, &ds, &ids);
}

#[test]
fn concurrent_membership_updates_of_datapoints_all_land() {
    let h = Harness::start();
    let ds = new_dataset(&h, "links");
    let ids: Vec<String> = (0..CONCURRENT)
        .map(|i| new_datapoint(&h, &json!({"inputs": {"i": i}})))
        .collect();
    let answers = concurrently(CONCURRENT, |i| {
        h.put_json(
            &format!("/v1/datapoints/{}", ids[i]),
            &json!({"linked_datasets": [ds]}),
        )
    });
    assert_all_ok(&answers);
    assert_members(&h, &ds, &ids);
}

#[test]
fn concurrent_batch_creations_from_events_all_land() {
    let h = Harness::start();
    let ds = new_dataset(&h, "from-events");
    let events: Vec<Value> = (0..CONCURRENT)
        .map(|i| json!({"event_type": "model", "event_name": format!("e{i}"), "inputs": {"i": i}}))
        .collect();
    let posted = ok_json(h.post_json("/events/batch", &json!({"events": events})));
    let event_ids = strings(&posted["event_ids"]);
    let answers = concurrently(CONCURRENT, |i| {
        h.post_json(
            "/v1/datapoints/batch",
            &json!({"dataset_id": ds, "events": [event_ids[i]]}),
        )
    });
    assert_all_ok(&answers);
    let ids: Vec<String> = answers
        .iter()
        .flat_map(|a| strings(&a.json()["insertedIds"]))
        .collect();
    assert_eq!(ids.len(), CONCURRENT);
    assert_members(&h, &ds, &ids);
}

#[test]
fn concurrent_removals_from_one_dataset_all_stick() {
    let h = Harness::start();
    let ds = new_dataset(&h, "removals");
    let rows: Vec<Value> = (0..2 * CONCURRENT).map(|i| json!({"q": i})).collect();
    let added = ok_json(h.post_json(
        &format!("/v1/datasets/{ds}/datapoints"),
        &json!({"data": rows}),
    ));
    let ids = strings(&added["datapoint_ids"]);
    // Every other datapoint goes, half through each route.
    let answers = concurrently(CONCURRENT, |i| {
        let id = &ids[2 * i];
        let path = if i % 2 == 0 {
            format!("/v1/datasets/{ds}/datapoints/{id}")
        } else {
            format!("/v1/datasets/{ds}/{id}")
        };
        delete_as(&h, &h.key(), &path)
    });
    assert_all_ok(&answers);
    let kept: Vec<String> = ids.iter().skip(1).step_by(2).cloned().collect();
    assert_eq!(dataset_members(&h, &ds), kept, "removed ones stay removed");
    for removed in ids.iter().step_by(2) {
        assert_eq!(
            datapoint(&h, removed)["linked_datasets"],
            json!([]),
            "a removed datapoint no longer links the dataset"
        );
    }
}

#[test]
fn concurrent_run_metadata_merges_all_land() {
    let h = Harness::start();
    let run = ok_json(h.post_json("/v1/runs", &json!({"name": "r"})));
    let run_id = run["run_id"].as_str().expect("run id").to_string();
    let answers = concurrently(CONCURRENT, |i| {
        h.put_json(
            &format!("/v1/runs/{run_id}"),
            &json!({"metadata": {format!("k{i}"): i}}),
        )
    });
    assert_all_ok(&answers);
    let stored = ok_json(h.get(&format!("/v1/runs/{run_id}")));
    assert_keys(&stored["evaluation"]["metadata"], "k");
}

fn find_by_id(list: &Value, id: &str) -> Value {
    list.as_array()
        .expect("list")
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not listed in {list}"))
}

#[test]
fn concurrent_metric_updates_all_land_on_both_routes() {
    let h = Harness::start();
    let created = ok_json(h.post_json("/v1/metrics", &json!({"name": "m"})));
    let id = created["metric_id"]
        .as_str()
        .expect("metric id")
        .to_string();
    let answers = concurrently(CONCURRENT, |i| {
        if i % 2 == 0 {
            h.put_json(&format!("/v1/metrics/{id}"), &json!({format!("f{i}"): i}))
        } else {
            h.put_json("/v1/metrics", &json!({"id": id, format!("f{i}"): i}))
        }
    });
    assert_all_ok(&answers);
    let listed = ok_json(h.get("/v1/metrics"));
    assert_keys(&find_by_id(&listed["metrics"], &id), "f");
}

#[test]
fn concurrent_configuration_updates_all_land() {
    let h = Harness::start();
    let created = ok_json(h.post_json(
        "/v1/configurations",
        &json!({"name": "c", "provider": "openai", "parameters": {"model": "m"}}),
    ));
    let id = created["insertedId"].as_str().expect("id").to_string();
    let answers = concurrently(CONCURRENT, |i| {
        h.put_json(
            &format!("/v1/configurations/{id}"),
            &json!({format!("f{i}"): i}),
        )
    });
    assert_all_ok(&answers);
    let listed = ok_json(h.get("/v1/configurations"));
    assert_keys(&find_by_id(&listed["configurations"], &id), "f");
}

#[test]
fn concurrent_dataset_metadata_merges_all_land_on_both_routes() {
    let h = Harness::start();
    let ds = new_dataset(&h, "meta");
    let answers = concurrently(CONCURRENT, |i| {
        let metadata = json!({format!("k{i}"): i});
        if i % 2 == 0 {
            h.put_json(
                &format!("/v1/datasets/{ds}"),
                &json!({"metadata": metadata}),
            )
        } else {
            h.put_json(
                "/v1/datasets",
                &json!({"dataset_id": ds, "metadata": metadata}),
            )
        }
    });
    assert_all_ok(&answers);
    assert_keys(&dataset(&h, &ds)["metadata"], "k");
}

#[test]
fn concurrent_project_updates_keep_every_field() {
    let h = Harness::start();
    let project = honeyhive_server::testing::TEST_PROJECT;
    for round in 0..3 {
        let description = format!("round {round}");
        let kind = ["completion", "evaluation"][round % 2];
        let answers = concurrently(CONCURRENT, |i| {
            let body = if i % 2 == 0 {
                json!({"name": project, "description": description})
            } else {
                json!({"name": project, "type": kind})
            };
            h.put_json("/v1/projects", &body)
        });
        assert_all_ok(&answers);
        let listed = ok_json(h.get("/v1/projects"));
        let own = listed
            .as_array()
            .expect("projects")
            .iter()
            .find(|p| p["name"] == project)
            .cloned()
            .expect("own project listed");
        assert_eq!(own["description"], description.as_str(), "round {round}");
        assert_eq!(own["type"], kind, "round {round}");
    }
}

fn project_names(answer: Answer) -> Vec<String> {
    ok_json(answer)
        .as_array()
        .expect("projects")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect()
}

#[test]
fn a_key_cannot_see_rename_or_delete_another_project() {
    let mut h = Harness::start();
    let project_a = honeyhive_server::testing::TEST_PROJECT;
    let key_b = h.server().create_project_key("project-b");
    let ds_a = new_dataset(&h, "kept");
    let id_a = ok_json(h.get("/v1/projects"))[0]["id"].clone();

    assert_eq!(
        project_names(h.get_as(&key_b, "/v1/projects")),
        ["project-b"]
    );
    assert_eq!(
        project_names(h.get_as(&key_b, &format!("/v1/projects?name={project_a}"))),
        Vec::<String>::new()
    );
    let rename = send_json(
        &h,
        &key_b,
        "PUT",
        "/v1/projects",
        &json!({"name": project_a, "new_name": "taken", "description": "mine"}),
    );
    assert_eq!(rename.status, 404, "another project is not there for B");
    let delete = delete_as(&h, &key_b, &format!("/v1/projects?name={project_a}"));
    assert_eq!(delete.status, 404);
    assert_eq!(
        delete_as(&h, &key_b, "/v1/projects?name=never-existed").status,
        404,
        "the same answer whether the project exists or not"
    );
    let create = h.post_json_as(&key_b, "/v1/projects", &json!({"name": project_a}));
    assert_eq!(create.status, 403);
    assert!(
        create.json()["error"]["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("hh keys create --project")),
        "{}",
        create.json()
    );

    h.restart();
    let listed = ok_json(h.get("/v1/projects"));
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["name"], project_a);
    assert_eq!(
        listed[0]["id"], id_a,
        "the same project, not a re-created one"
    );
    assert_eq!(listed[0]["description"], Value::Null, "B changed nothing");
    assert_eq!(
        dataset(&h, &ds_a)["name"],
        "kept",
        "A's key still reads A's data"
    );
}

#[test]
fn a_key_cannot_rename_or_delete_its_own_project() {
    let h = Harness::start();
    let project = honeyhive_server::testing::TEST_PROJECT;
    let rename = h.put_json(
        "/v1/projects",
        &json!({"name": project, "new_name": "elsewhere"}),
    );
    assert_eq!(rename.status, 403);
    assert!(rename.json()["error"]["hint"].is_string());
    let delete = delete_as(&h, &h.key(), &format!("/v1/projects?name={project}"));
    assert_eq!(delete.status, 403);
    assert!(delete.json()["error"]["hint"].is_string());

    let updated = ok_json(h.put_json(
        "/v1/projects",
        &json!({"name": project, "new_name": project, "description": "d", "type": "evaluation"}),
    ));
    assert_eq!(updated["name"], project);
    assert_eq!(updated["description"], "d");
    let again = ok_json(h.post_json("/v1/projects", &json!({"name": project})));
    assert_eq!(
        again["id"], updated["id"],
        "creating the own project answers it"
    );
    assert_eq!(again["description"], "d");
    assert_eq!(project_names(h.get("/v1/projects")), [project]);
}

#[test]
fn datasets_and_datapoints_list_in_pages() {
    let h = Harness::start();
    for i in 0..5 {
        new_dataset(&h, &format!("ds{i}"));
    }
    let page = ok_json(h.get("/v1/datasets?limit=2&page=3"));
    assert_eq!(page["datasets"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["datasets"][0]["name"], "ds4");
    assert_eq!(page["pagination"]["total"], 5);
    assert_eq!(page["pagination"]["total_pages"], 3);
    assert_eq!(page["pagination"]["has_next"], false);
    assert_eq!(page["pagination"]["has_prev"], true);

    let ds = new_dataset(&h, "big");
    let rows: Vec<Value> = (0..1200).map(|i| json!({"q": i})).collect();
    let added = ok_json(h.post_json(
        &format!("/v1/datasets/{ds}/datapoints"),
        &json!({"data": rows}),
    ));
    let ids = strings(&added["datapoint_ids"]);

    let first = ok_json(h.get(&format!("/v1/datapoints?dataset_id={ds}")));
    assert_eq!(
        first["datapoints"].as_array().map(Vec::len),
        Some(1000),
        "a default page"
    );
    assert_eq!(first["pagination"]["total"], 1200);
    assert_eq!(first["pagination"]["has_next"], true);
    let last = ok_json(h.get(&format!("/v1/datapoints?dataset_id={ds}&limit=500&page=3")));
    let qs: Vec<Value> = last["datapoints"]
        .as_array()
        .expect("datapoints")
        .iter()
        .map(|d| d["inputs"]["q"].clone())
        .collect();
    assert_eq!(qs, (1000..1200).map(|i| json!(i)).collect::<Vec<_>>());
    let everything = ok_json(h.get("/v1/datapoints?limit=7500"));
    assert_eq!(
        everything["datapoints"].as_array().map(Vec::len),
        Some(1200)
    );

    // An explicit id list is answered whole, past the default page size.
    let all = ok_json(h.get(&format!("/v1/datapoints?datapoint_ids={}", ids.join(","))));
    let listed: Vec<String> = all["datapoints"]
        .as_array()
        .expect("datapoints")
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(listed, ids);
}

#[test]
fn an_id_list_past_the_cap_is_refused_with_a_hint() {
    let h = Harness::start();
    let ids: Vec<String> = (0..7501).map(|i| format!("x{i}")).collect();
    let answer = h.get(&format!("/v1/datapoints?datapoint_ids={}", ids.join(",")));
    assert_eq!(
        answer.status,
        400,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(answer.json()["error"]["hint"].is_string());

    let batch = h.post_json("/v1/datapoints/batch", &json!({"events": ids}));
    assert_eq!(
        batch.status,
        400,
        "{}",
        String::from_utf8_lossy(&batch.body)
    );
    assert!(
        batch.json()["error"]["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("7500")),
        "{}",
        batch.json()
    );
}

#[test]
fn batch_from_event_ids_keeps_their_order_and_fields() {
    let h = Harness::start();
    let events: Vec<Value> = (0..3)
        .map(|i| {
            json!({
                "event_type": "model",
                "event_name": format!("e{i}"),
                "session_id": "one-session",
                "inputs": {"q": i},
                "outputs": {"a": i * 10},
                "feedback": {"ground_truth": {"a": i}},
            })
        })
        .collect();
    let posted = ok_json(h.post_json("/events/batch", &json!({"events": events})));
    let mut event_ids = strings(&posted["event_ids"]);
    event_ids.reverse();
    let made = ok_json(h.post_json("/v1/datapoints/batch", &json!({"events": event_ids})));
    let ids = strings(&made["insertedIds"]);
    assert_eq!(ids.len(), 3);
    for (n, id) in ids.iter().enumerate() {
        let dp = datapoint(&h, id);
        let i = 2 - n;
        assert_eq!(dp["linked_event"], event_ids[n].as_str());
        assert_eq!(dp["inputs"], json!({"q": i}));
        assert_eq!(dp["ground_truth"], json!({"a": i}));
    }
    let missing = h.post_json(
        "/v1/datapoints/batch",
        &json!({"events": [event_ids[0], "no-such-event"]}),
    );
    assert_eq!(missing.status, 404);
    assert!(
        missing.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-event"))
    );
}
