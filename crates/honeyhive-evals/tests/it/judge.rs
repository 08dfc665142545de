//! LLM-as-judge and embedding similarity against a local OpenAI-compatible test
//! server (the testkit's scripted server) that answers with scripted responses,
//! including malformed verdicts, server errors and rate limits.

use std::collections::HashSet;
use std::time::Duration;

use honeyhive_evals::judge::{LlmJudge, Rubric};
use honeyhive_evals::metrics::EmbeddingSimilarity;
use honeyhive_evals::{EndpointConfig, EvalError, EvalInput, EvalValue, Evaluator};
use honeyhive_testkit::http::{Reply, Request, ScriptedServer};
use serde_json::{Value, json};

const CHAT: &str = "/v1/chat/completions";
const EMBEDDINGS: &str = "/v1/embeddings";

/// An OpenAI-compatible endpoint answering `path` from `replies`, then with a 500.
struct TestServer(ScriptedServer);

impl TestServer {
    fn start(replies: Vec<Reply>) -> Self {
        TestServer::start_at(CHAT, replies)
    }

    fn start_at(path: &str, replies: Vec<Reply>) -> Self {
        let server =
            ScriptedServer::start(|_| Reply::json(500, &json!({"error": "script exhausted"})));
        server.script(path, replies);
        TestServer(server)
    }

    fn endpoint(&self) -> EndpointConfig {
        EndpointConfig::new(format!("{}/v1", self.0.url()), "judge-model")
            .api_key("test-key")
            .retries(3, Duration::from_millis(1))
    }

    fn requests(&self) -> Vec<Request> {
        self.0.requests()
    }

    fn connections(&self) -> usize {
        let peers: HashSet<_> = self.requests().iter().map(|r| r.peer).collect();
        peers.len()
    }
}

fn chat(content: &str) -> Reply {
    Reply::json(
        200,
        &json!({
            "id": "chatcmpl-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 15, "total_tokens": 135}
        }),
    )
}

fn five_point() -> Rubric {
    Rubric::numeric("Is the answer correct and complete?", 1.0, 5.0).passing_at(4.0)
}

#[test]
fn json_verdict_scores_passes_and_reports_the_call() {
    let server = TestServer::start(vec![chat(
        r#"{"score": 4, "explanation": "Correct but terse."}"#,
    )]);
    let judge = LlmJudge::new(
        "correctness",
        five_point().with_ground_truth(),
        server.endpoint(),
    );
    let (out, inp, truth) = (
        json!("Paris"),
        json!({"question": "Capital of France?"}),
        json!("Paris is the capital."),
    );
    let result = judge
        .score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth)))
        .unwrap();

    assert_eq!(result.value, EvalValue::Number(4.0));
    assert_eq!(result.passed, Some(true));
    assert_eq!(result.explanation.as_deref(), Some("Correct but terse."));
    let call = result.judge_call.expect("judge call recorded");
    assert_eq!((call.model.as_str(), call.attempts), ("judge-model", 1));
    assert_eq!(
        (
            call.prompt_tokens,
            call.completion_tokens,
            call.total_tokens
        ),
        (Some(120), Some(15), Some(135))
    );
    assert_eq!(
        call.to_model_event("correctness")["outputs"]["content"],
        json!(r#"{"score": 4, "explanation": "Correct but terse."}"#)
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let (path, auth, body) = (
        &requests[0].path,
        requests[0].header("authorization"),
        requests[0].json(),
    );
    assert_eq!(path, CHAT);
    assert_eq!(auth, Some("Bearer test-key"));
    assert_eq!(body["model"], "judge-model");
    assert_eq!(body["temperature"], 0);
    let prompt = body["messages"][1]["content"].as_str().unwrap();
    assert!(
        prompt.contains("Capital of France?") && prompt.contains("Paris is the capital."),
        "{prompt}"
    );
    assert_eq!(body["messages"], Value::from(call.messages));
}

#[test]
fn calls_to_one_endpoint_reuse_one_connection() {
    let server = TestServer::start(vec![
        chat("Score: 5/5"),
        chat("Score: 4/5"),
        chat("Score: 3/5"),
    ]);
    let judge = LlmJudge::new("quality", five_point(), server.endpoint());
    // A second judge holds its own copy of the endpoint, as each evaluator does.
    let other = LlmJudge::new("again", five_point(), server.endpoint());
    let (out, inp) = (json!("x"), json!({}));
    for judge in [&judge, &judge, &other] {
        judge.score(&EvalInput::new(&out, &inp)).unwrap();
    }
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.connections(), 1);
}

#[test]
fn malformed_verdicts_are_retried_until_one_parses() {
    let server = TestServer::start(vec![
        chat("I think this answer is pretty good overall."),
        chat("{\"score\": 9}"),
        chat(
            "Here is my evaluation:\n```json\n{\"rating\": 2, \"reasoning\": \"misses the point\"}\n```",
        ),
    ]);
    let judge = LlmJudge::new("quality", five_point(), server.endpoint());
    let (out, inp) = (json!("42"), json!({}));
    let result = judge.score(&EvalInput::new(&out, &inp)).unwrap();
    assert_eq!(result.value, EvalValue::Number(2.0));
    assert_eq!(result.passed, Some(false));
    assert_eq!(result.explanation.as_deref(), Some("misses the point"));
    assert_eq!(result.judge_call.unwrap().attempts, 3);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn server_errors_and_rate_limits_are_retried() {
    let server = TestServer::start(vec![
        Reply::json(500, &json!({"error": "overloaded"})),
        Reply::json(429, &json!({"error": "slow down"})).header("retry-after", "0"),
        Reply::text(200, "not json at all"),
        chat("Score: 5/5"),
    ]);
    let judge = LlmJudge::new("quality", five_point(), server.endpoint());
    let (out, inp) = (json!("x"), json!({}));
    let result = judge.score(&EvalInput::new(&out, &inp)).unwrap();
    assert_eq!(result.value, EvalValue::Number(5.0));
    assert_eq!(result.judge_call.unwrap().attempts, 4);
}

#[test]
fn persistent_garbage_fails_with_the_raw_answer() {
    let server = TestServer::start(vec![
        chat("no idea"),
        chat("no idea"),
        chat("no idea"),
        chat("still no idea"),
    ]);
    let judge = LlmJudge::new("quality", five_point(), server.endpoint());
    let (out, inp) = (json!("x"), json!({}));
    let err = judge.score(&EvalInput::new(&out, &inp)).unwrap_err();
    assert_eq!(
        err,
        EvalError::UnparseableVerdict {
            raw: "still no idea".into()
        }
    );
    assert_eq!(server.requests().len(), 4, "one attempt plus three retries");
}

#[test]
fn client_errors_are_not_retried() {
    let server = TestServer::start(vec![Reply::json(401, &json!({"error": "bad key"}))]);
    let judge = LlmJudge::new("quality", five_point(), server.endpoint());
    let (out, inp) = (json!("x"), json!({}));
    let err = judge.score(&EvalInput::new(&out, &inp)).unwrap_err();
    assert!(
        matches!(&err, EvalError::Endpoint { attempts: 1, message, .. } if message.contains("401")),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn category_rubric_resolves_passing_categories() {
    let server = TestServer::start(vec![
        chat("Verdict: incorrect. The capital is Paris."),
        chat("{\"category\": \"Correct\"}"),
    ]);
    let rubric = Rubric::categories("Is the answer factually correct?", ["correct", "incorrect"])
        .passing_categories(["correct"]);
    let judge = LlmJudge::new("factual", rubric, server.endpoint());
    let (out, inp) = (json!("Lyon"), json!({}));
    let first = judge.score(&EvalInput::new(&out, &inp)).unwrap();
    assert_eq!(first.value, EvalValue::Category("incorrect".into()));
    assert_eq!(first.passed, Some(false));
    let second = judge.score(&EvalInput::new(&out, &inp)).unwrap();
    assert_eq!(second.value, EvalValue::Category("correct".into()));
    assert_eq!(second.passed, Some(true));
    let prompt = server.requests()[0].json()["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(prompt.contains("[\"correct\",\"incorrect\"]"), "{prompt}");
}

#[test]
fn missing_ground_truth_is_rejected_before_any_call() {
    let server = TestServer::start(vec![]);
    let judge = LlmJudge::new(
        "faithful",
        five_point().with_ground_truth(),
        server.endpoint(),
    );
    let (out, inp) = (json!("x"), json!({}));
    assert_eq!(
        judge.score(&EvalInput::new(&out, &inp)),
        Err(EvalError::MissingGroundTruth("faithful".into()))
    );
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn async_judge_runs_inside_a_single_threaded_runtime() {
    // On a current-thread runtime a blocking call inside the future would deadlock
    // against a server on the same runtime; the server has its own runtime here,
    // and the judge's HTTP call runs on a helper thread.
    let server = TestServer::start(vec![chat("{\"score\": 3}")]);
    let judge: Box<dyn Evaluator> =
        Box::new(LlmJudge::new("quality", five_point(), server.endpoint()));
    let (out, inp) = (json!("x"), json!({}));
    let result = judge.score_async(EvalInput::new(&out, &inp)).await.unwrap();
    assert_eq!(result.value, EvalValue::Number(3.0));
    assert_eq!(result.passed, Some(false));
}

#[test]
fn embedding_similarity_is_the_cosine_of_returned_vectors() {
    let server = TestServer::start_at(
        EMBEDDINGS,
        vec![Reply::json(
            200,
            &json!({"data": [
            {"index": 1, "embedding": [1.0, 1.0, 0.0]},
            {"index": 0, "embedding": [1.0, 0.0, 0.0]}
        ], "usage": {"prompt_tokens": 4, "total_tokens": 4}}),
        )],
    );
    let eval = EmbeddingSimilarity::new(server.endpoint()).threshold(0.8);
    let (out, inp, truth) = (json!("a feline"), json!({}), json!("a cat"));
    let result = eval
        .score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth)))
        .unwrap();
    let cosine = result.value.as_f64().unwrap();
    assert!(
        (cosine - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12,
        "{cosine}"
    );
    assert_eq!(result.passed, Some(false));
    let request = &server.requests()[0];
    assert_eq!(request.path, EMBEDDINGS);
    assert_eq!(request.json()["input"], json!(["a feline", "a cat"]));
}
