//! The bytes an experiment sends, against the official Python SDK's capture of the
//! same experiment (`02_evaluate_inline_dataset.json`): the run's create and complete
//! bodies and the sessions' `PUT /events`, key for key and in the same order, once
//! the ids minted on each side are swapped.

use honeyhive_experiments::{Connection, evaluate, evaluator_fn};
use honeyhive_testkit::fixtures::Fixture;
use honeyhive_testkit::http::{Reply, Request, ScriptedServer};
use serde_json::{Value, json};

use crate::support::{app, capture_dataset, exact_match, length_check};

/// The capture's request to `method path` (the first one when there are several).
fn captured(requests: &[Value], method: &str, path_prefix: &str) -> Vec<Value> {
    requests
        .iter()
        .filter(|r| r["method"] == method && r["path"].as_str().unwrap().starts_with(path_prefix))
        .map(|r| r["body"].clone())
        .collect()
}

fn text(request: &Request) -> String {
    String::from_utf8(request.body.clone()).expect("utf-8 body")
}

#[test]
fn run_and_session_bodies_are_the_python_clients_byte_for_byte() {
    let server = ScriptedServer::start(|request: &Request| match request.path.as_str() {
        "/session/start" => Reply::json(200, &json!({"session_id": "s"})),
        _ => Reply::json(200, &json!({})),
    });
    let summary = evaluate(app)
        .connection(Connection::new("k", server.url()).unwrap())
        .name("wire-capture-exp")
        .dataset(capture_dataset())
        .evaluator(evaluator_fn("exact_match", exact_match))
        .evaluator(evaluator_fn("length_check", length_check))
        .max_concurrency(2)
        .run()
        .expect("run");
    let python = Fixture::EvaluateInlineDataset.requests();

    // The create body; Python also sends the git state of the caller's checkout.
    let mut python_create = captured(&python, "POST", "/v1/runs").remove(0);
    python_create["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("git");
    let python_run_id = python_create["run_id"].as_str().unwrap().to_string();
    let create = &server.requests_to("/v1/runs")[0];
    assert_eq!(
        text(create).replace(&summary.run_id, &python_run_id),
        python_create.to_string()
    );

    // Each session's update, matched to Python's by its ground truth, with
    // Python's session id for ours.
    let python_updates = captured(&python, "PUT", "/events");
    let mut python_session_of = Vec::new();
    for datapoint in &summary.datapoints {
        let python_update = python_updates
            .iter()
            .find(|u| Some(&u["feedback"]["ground_truth"]) == datapoint.ground_truth.as_ref())
            .expect("the capture updates every datapoint's session");
        let python_session = python_update["event_id"].as_str().unwrap().to_string();
        let ours = server
            .requests_to("/events")
            .into_iter()
            .find(|r| r.method == "PUT" && r.json()["event_id"] == datapoint.session_id)
            .expect("the session's update");
        assert_eq!(
            text(&ours).replace(&datapoint.session_id, &python_session),
            python_update.to_string()
        );
        python_session_of.push((datapoint.session_id.clone(), python_session));
    }

    // The completion, its event ids in dataset order.
    let python_complete = captured(&python, "PUT", "/v1/runs/").remove(0);
    let complete = server
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT" && r.path == format!("/v1/runs/{}", summary.run_id))
        .expect("the completion");
    let mut ours = text(&complete);
    for (session, python_session) in &python_session_of {
        ours = ours.replace(session, python_session);
    }
    assert_eq!(ours, python_complete.to_string());
}
