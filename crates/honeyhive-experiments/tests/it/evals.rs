//! honeyhive-evals evaluators (built-ins and an LLM judge) inside `evaluate()`,
//! against a real in-process server and a local OpenAI-compatible judge that
//! answers from the request content (so concurrency cannot reorder verdicts).

use std::sync::Arc;

use crate::support::Server;
use honeyhive_experiments::evals::judge::{LlmJudge, Rubric};
use honeyhive_experiments::evals::metrics::{EventBudget, TokenF1};
use honeyhive_experiments::evals::{
    EndpointConfig, Evaluator, EvaluatorExt, PassCriteria, builtin,
};
use honeyhive_experiments::{Datapoint, evaluate};
use honeyhive_testkit::http::{Reply, Request, ScriptedServer};
use serde_json::{Map, Value, json};

/// Judge replies: a 5 for Paris, a 2 for anything else, and a malformed verdict
/// for outputs saying "garbage".
fn judge_reply(request: &Request) -> Reply {
    let body = request.json();
    let prompt = body["messages"].to_string();
    let content = if prompt.contains("garbage") {
        "I cannot decide.".to_string()
    } else if prompt.contains("Paris") {
        r#"{"score": 5, "explanation": "names the capital"}"#.to_string()
    } else {
        r#"{"score": 2, "explanation": "wrong city"}"#.to_string()
    };
    Reply::json(
        200,
        &json!({
            "id": "chatcmpl-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}
        }),
    )
}

/// A local OpenAI-compatible judge.
fn start_judge() -> ScriptedServer {
    ScriptedServer::start(judge_reply)
}

fn dataset() -> Vec<Datapoint> {
    vec![
        Datapoint::new(json!({"country": "France"})).ground_truth(json!("Paris")),
        Datapoint::new(json!({"country": "Spain"})).ground_truth(json!("Madrid")),
        Datapoint::new(json!({"country": "Nowhere"})).ground_truth(json!("None")),
    ]
}

fn capital(dp: &Datapoint) -> Result<Value, String> {
    Ok(json!(match dp.inputs["country"].as_str() {
        Some("France") => "Paris",
        Some("Spain") => "Barcelona",
        _ => "garbage",
    }))
}

#[test]
fn evals_evaluators_score_record_passed_and_trace_judge_calls() {
    let server = Server::start();
    let judge = start_judge();
    let judge_url = format!("{}/v1", judge.url());
    let judge = LlmJudge::new(
        "correctness",
        Rubric::numeric("Is the answer the capital?", 1.0, 5.0)
            .with_ground_truth()
            .passing_at(4.0),
        EndpointConfig::new(&judge_url, "judge-model")
            .retries(1, std::time::Duration::from_millis(1)),
    );
    let exact: Box<dyn Evaluator> = builtin("exact_match", &Map::new()).expect("builtin");
    let shared_f1: Arc<dyn Evaluator> =
        Arc::new(TokenF1::new().passing(PassCriteria::AtLeast(0.5)));
    let summary = server
        .connect(evaluate(capital))
        .name("capitals")
        .dataset(dataset())
        .evaluator(exact)
        .evaluator(shared_f1)
        .evaluator(judge)
        // Every function call takes far less than a minute: reads the traced event.
        .evaluator(EventBudget::latency_ms(60_000.0))
        .max_concurrency(3)
        .run()
        .expect("run");

    let by_country = |c: &str| {
        summary
            .datapoints
            .iter()
            .find(|d| d.inputs["country"] == c)
            .expect("datapoint")
    };
    let france = by_country("France");
    assert_eq!(france.metrics["exact_match"], json!(1.0));
    assert_eq!(france.metrics["token_f1"], json!(1.0));
    assert_eq!(france.metrics["token_f1_passed"], json!(true));
    assert_eq!(france.metrics["correctness"], json!(5.0));
    assert_eq!(
        france.metrics["correctness_explanation"],
        json!("names the capital")
    );
    assert_eq!(france.metrics["correctness_passed"], json!(true));
    assert!(
        france.metrics["latency_ms"]
            .as_f64()
            .is_some_and(|ms| ms >= 0.0),
        "{:?}",
        france.metrics
    );
    assert_eq!(france.metrics["latency_ms_passed"], json!(true));
    assert!(
        france.evaluator_errors.is_empty(),
        "{:?}",
        france.evaluator_errors
    );
    assert!(france.passed);

    let spain = by_country("Spain");
    assert_eq!(spain.metrics["exact_match"], json!(0.0));
    assert_eq!(spain.metrics["correctness"], json!(2.0));
    assert_eq!(spain.metrics["correctness_passed"], json!(false));
    assert!(
        !spain.passed,
        "a failed pass criterion fails the datapoint on the server"
    );

    // A malformed verdict is that evaluator's failure only.
    let nowhere = by_country("Nowhere");
    assert!(nowhere.evaluator_errors.contains_key("correctness"));
    assert!(!nowhere.metrics.contains_key("correctness"));
    assert!(nowhere.metrics.contains_key("token_f1"));
    assert!(nowhere.error.is_none());

    // The judge's call is a model event in the datapoint's session, under the chain span.
    let events = server.session_events(&france.session_id);
    let chain = events
        .iter()
        .find(|e| e["event_type"] == "chain")
        .expect("chain span");
    let model = events
        .iter()
        .find(|e| e["event_type"] == "model")
        .unwrap_or_else(|| panic!("no model event in {events:#?}"));
    assert_eq!(model["event_name"], "judge:correctness");
    assert_eq!(model["parent_id"], chain["event_id"]);
    assert_eq!(model["config"]["model"], "judge-model");
    assert_eq!(model["metadata"]["total_tokens"], 49);
    assert!(
        model["outputs"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("names the capital"))
    );
    assert_eq!(chain["metrics"]["correctness"], json!(5.0));

    // Server aggregates include the evals' metrics.
    let f1 = summary.metric("token_f1").expect("token_f1 aggregate");
    let mean = summary
        .datapoints
        .iter()
        .filter_map(|d| d.metrics["token_f1"].as_f64())
        .sum::<f64>()
        / 3.0;
    assert!(
        (f1.aggregate.unwrap_or(f64::NAN) - mean).abs() < 1e-9,
        "{f1:?}"
    );
}
