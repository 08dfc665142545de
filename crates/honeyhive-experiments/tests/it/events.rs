//! `honeyhive_experiments::evaluate_events` against a real in-process server:
//! time-range and metadata selection, scores written back, judge calls traced.

use crate::support::Server;
use honeyhive_experiments::evals::judge::{LlmJudge, Rubric};
use honeyhive_experiments::evals::metrics::{EventBudget, JsonValid};
use honeyhive_experiments::evals::{EndpointConfig, Evaluator};
use honeyhive_experiments::{Connection, EventFilter, evaluate_events};
use honeyhive_testkit::http::{Reply, Request, ScriptedServer};
use serde_json::{Value, json};

fn judge_reply(request: &Request) -> Reply {
    let body = request.json();
    let polite = body["messages"].to_string().contains("please");
    let content = if polite {
        r#"{"category": "polite", "explanation": "says please"}"#
    } else {
        r#"{"category": "rude", "explanation": "no courtesy"}"#
    };
    Reply::json(
        200,
        &json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
        }),
    )
}

/// A local OpenAI-compatible judge.
fn start_judge() -> ScriptedServer {
    ScriptedServer::start(judge_reply)
}

#[test]
fn selected_events_get_metrics_and_judge_calls_nest_under_them() {
    let server = Server::start();
    let judge = start_judge();
    let judge_url = format!("{}/v1", judge.url());
    let session_id = "6d1f0c3a-1b7e-4d5c-9a8b-000000000001";
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0);
    let reply = |text: &str, env: &str, start_time: f64| {
        json!({"event": {
            "event_type": "model",
            "event_name": "reply",
            "session_id": session_id,
            "inputs": {"message": "hi"},
            "outputs": {"text": text},
            "metadata": {"env": env},
            "start_time": start_time,
            "duration": 250.0,
        }})
    };
    let polite =
        server.post("/events", &reply("please hold on", "prod", now_ms))["event_id"].clone();
    let rude = server.post("/events", &reply("go away", "prod", now_ms))["event_id"].clone();
    let old = server.post("/events", &reply("please", "prod", 1_000.0))["event_id"].clone();
    let staging = server.post("/events", &reply("please", "staging", now_ms))["event_id"].clone();

    let tone = LlmJudge::new(
        "tone",
        Rubric::categories("Is the reply polite?", ["polite", "rude"])
            .passing_categories(["polite"]),
        EndpointConfig::new(&judge_url, "judge-model"),
    );
    let filter = EventFilter::new()
        .event_name("reply")
        .metadata("env", "prod")
        .since("2020-01-01T00:00:00Z");
    let result = evaluate_events(filter)
        .evaluator(tone)
        .evaluator(Box::new(EventBudget::latency_ms(100.0)) as Box<dyn Evaluator>)
        .evaluator(JsonValid::new())
        .connection(Connection::new(server.key.as_str(), server.url.as_str()).unwrap())
        .run()
        .expect("evaluate events");

    let ids: Vec<&str> = result.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&polite.as_str().unwrap()) && ids.contains(&rude.as_str().unwrap()));
    assert_eq!(result.written_count(), 2);
    // 250 ms is over the 100 ms budget on both; outputs are objects, so valid JSON.
    assert_eq!(result.mean("latency_ms"), Some(250.0));
    assert_eq!(result.mean("latency_ms_passed"), Some(0.0));
    assert_eq!(result.mean("json_valid"), Some(1.0));

    let events = server.session_events(session_id);
    let stored = |id: &Value| {
        events
            .iter()
            .find(|e| &e["event_id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {events:#?}"))
            .clone()
    };
    assert_eq!(stored(&polite)["metrics"]["tone"], "polite");
    assert_eq!(stored(&polite)["metrics"]["tone_passed"], true);
    assert_eq!(stored(&rude)["metrics"]["tone"], "rude");
    assert_eq!(stored(&rude)["metrics"]["tone_explanation"], "no courtesy");
    assert!(
        stored(&old)["metrics"].get("tone").is_none(),
        "outside the time range"
    );
    assert!(
        stored(&staging)["metrics"].get("tone").is_none(),
        "other metadata"
    );

    let judge_calls: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_name"] == "judge:tone")
        .collect();
    assert_eq!(judge_calls.len(), 2, "{events:#?}");
    assert!(judge_calls.iter().any(|c| c["parent_id"] == polite));
    assert!(judge_calls.iter().all(|c| c["event_type"] == "model"));
}
