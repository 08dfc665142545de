//! Experiment datasets from JSONL and CSV files and from the server.

use crate::support::{Server, app, capture_dataset, exact_match};
use honeyhive_experiments::{Connection, Datapoint, Dataset, evaluate, evaluator_fn, external_ids};
use serde_json::{Value, json};

#[test]
fn jsonl_datasets_get_the_same_ext_ids_as_the_same_rows_inline() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eval.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"inputs": {"question": "abc"}, "ground_truth": {"answer": "ABC"}}"#,
            "\n\n",
            r#"{"inputs": {"question": "hello"}, "ground_truth": {"answer": "HELLO!"}}"#,
            "\n",
            r#"{"inputs": {"question": "x"}, "ground_truth": {"answer": "X"}}"#,
            "\n",
        ),
    )
    .unwrap();
    let summary = server
        .connect(evaluate(app))
        .dataset(Dataset::jsonl(&path))
        .evaluator(evaluator_fn("exact_match", exact_match))
        .run()
        .expect("run");
    let (inline_dataset_id, inline_ids) = external_ids(&capture_dataset());
    assert_eq!(summary.dataset_id, inline_dataset_id);
    let ids: Vec<String> = summary
        .datapoints
        .iter()
        .map(|d| d.datapoint_id.clone())
        .collect();
    assert_eq!(ids, inline_ids);
    assert_eq!(
        summary.metric("exact_match").unwrap().values,
        [1.0, 0.0, 1.0]
    );
    assert_eq!(summary.datapoints[1].inputs, json!({"question": "hello"}));
}

#[test]
fn malformed_jsonl_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, "{\"inputs\": {}}\n[1, 2]\n").unwrap();
    let err = evaluate(app)
        .dataset(Dataset::jsonl(&path))
        .connection(Connection::new("k", "http://127.0.0.1:9").unwrap())
        .run()
        .unwrap_err();
    assert_eq!(err.code(), "HH-E303");
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn csv_datasets_map_columns_to_inputs_ground_truth_and_ids() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eval.csv");
    std::fs::write(
        &path,
        "id,question,ground_truth.answer,inputs.context\r\n\
         q1,abc,ABC,\"first, with a comma\"\r\n\
         q2,hello,HELLO!,\"multi\nline\"\r\n",
    )
    .unwrap();
    let summary = server
        .connect(evaluate(app))
        .dataset(Dataset::csv(&path))
        .evaluator(evaluator_fn("exact_match", exact_match))
        .run()
        .expect("run");
    assert!(summary.dataset_id.starts_with("EXT-"));
    assert_eq!(summary.passed, ["EXT-q1", "EXT-q2"]);
    let first = &summary.datapoints[0];
    assert_eq!(
        first.inputs,
        json!({"question": "abc", "context": "first, with a comma"})
    );
    assert_eq!(first.ground_truth, Some(json!({"answer": "ABC"})));
    assert_eq!(summary.datapoints[1].inputs["context"], "multi\nline");
    assert_eq!(summary.metric("exact_match").unwrap().values, [1.0, 0.0]);
}

#[test]
fn server_datasets_use_their_stored_datapoint_ids() {
    let server = Server::start();
    let created = server.post("/v1/datasets", &json!({"name": "qa"}));
    let dataset_id = created["result"]["insertedId"]
        .as_str()
        .expect("dataset id")
        .to_string();
    let added = server.post(
        &format!("/v1/datasets/{dataset_id}/datapoints"),
        &json!({
            "data": [
                {"question": "abc", "answer": "ABC"},
                {"question": "hello", "answer": "HELLO!"},
            ],
            "mapping": {"inputs": ["question"], "ground_truth": ["answer"]},
        }),
    );
    let stored_ids: Vec<String> = added["datapoint_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();

    let summary = server
        .connect(evaluate(app))
        .dataset(Dataset::server(dataset_id.as_str()))
        .evaluator(evaluator_fn("exact_match", exact_match))
        .run()
        .expect("run");
    assert_eq!(summary.dataset_id, dataset_id);
    let mut ids: Vec<String> = summary
        .datapoints
        .iter()
        .map(|d| d.datapoint_id.clone())
        .collect();
    ids.sort();
    let mut want = stored_ids.clone();
    want.sort();
    assert_eq!(ids, want);
    let hello = summary
        .datapoints
        .iter()
        .find(|d| d.inputs["question"] == "hello")
        .unwrap();
    assert_eq!(hello.metrics["exact_match"], 0.0);
    assert_eq!(summary.failed, Vec::<String>::new());

    // A stored dataset is linked by dataset_id, not as an offline (EXT-) dataset.
    let run = server.get(&format!("/v1/runs/{}", summary.run_id), &[]);
    let run = run.get("evaluation").unwrap_or(&run);
    assert_eq!(run["dataset_id"], json!(dataset_id));
    assert_eq!(run["metadata"].get("offline_dataset_id"), None);

    let err = server
        .connect(evaluate(app))
        .dataset(Dataset::server("no-such-dataset"))
        .run()
        .unwrap_err();
    assert!(matches!(err.code(), "HH-E306" | "HH-E308"), "{err}");
}

#[test]
fn datapoints_serialise_like_python_dicts() {
    let dp = Datapoint::new(json!({"q": 1}))
        .ground_truth(json!("a"))
        .id("x");
    let v: Value = serde_json::to_value(&dp).unwrap();
    assert_eq!(
        v,
        json!({"inputs": {"q": 1}, "ground_truth": "a", "id": "x"})
    );
    let back: Datapoint = serde_json::from_value(json!({"inputs": {}, "extra": 2})).unwrap();
    assert_eq!(back.extra["extra"], 2);
}
