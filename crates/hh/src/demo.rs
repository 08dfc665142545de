//! `hh demo`: the newcomer's first command.
//!
//! Starts the platform on the embedded store, bootstraps a key, and drives a
//! simulated support agent through the Rust SDK (sessions with chain, model and
//! tool events, token counts, one failing tool call; no external LLM needed).
//! Then runs a small experiment (an FAQ bot scored with exact match and token F1)
//! through `honeyhive::experiments::evaluate`, prints what was stored and where to
//! look, and serves until Ctrl-C.

use std::time::Duration;

use anyhow::{Context, Result};
use honeyhive::experiments::{Connection, Datapoint, evaluate};
use honeyhive::{Enrichment, Tracer, enrich_span, trace};
use honeyhive_evals::builtin;
use serde_json::{Value, json};

use crate::ServeArgs;
use crate::serve;

const DEMO_KEY: &str = "hh-demo-key-local-only";
const DEMO_PROJECT: &str = "demo";

/// What the simulated agent answers, keyed by the user's question.
const QUESTIONS: [(&str, &str); 3] = [
    ("Where is my order #1042?", "1042"),
    ("Can I return a damaged kettle?", "2077"),
    ("Cancel order #9999 please", "9999"),
];

/// The simulated order service's failure, so one tool call in the demo errors.
#[derive(Debug)]
struct OrderError;

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("order service timed out after 2000 ms")
    }
}

impl std::error::Error for OrderError {}

#[trace(event_type = "model", name = "plan_step")]
fn plan(question: &str) -> String {
    enrich_span(
        Enrichment::new()
            .config(json!({"model": "gpt-4o-mini", "provider": "openai", "temperature": 0.2}))
            .metadata(json!({"prompt_tokens": 182, "completion_tokens": 24, "total_tokens": 206})),
    );
    format!("look up the order, then answer: {question}")
}

#[trace(event_type = "tool")]
fn search_kb(query: &str) -> Vec<String> {
    let _ = query;
    vec![
        "Returns are free within 30 days.".into(),
        "Orders ship in 2 days.".into(),
    ]
}

#[trace(event_type = "tool")]
fn lookup_order(order_id: &str) -> Result<Value, OrderError> {
    if order_id == "9999" {
        return Err(OrderError);
    }
    Ok(json!({"order_id": order_id, "status": "shipped", "eta_days": 2}))
}

#[trace(event_type = "model", name = "write_answer")]
fn answer(question: &str, facts: &[String]) -> String {
    enrich_span(
        Enrichment::new()
            .config(json!({"model": "claude-3-5-haiku-latest", "provider": "anthropic"}))
            .metadata(json!({"prompt_tokens": 410, "completion_tokens": 96, "total_tokens": 506}))
            .metrics(json!({"helpfulness": 0.9})),
    );
    format!(
        "{} ({} facts considered)",
        question.trim_end_matches('?'),
        facts.len()
    )
}

#[trace(event_type = "chain")]
fn support_agent(question: &str, order_id: &str) -> String {
    let _plan = plan(question);
    let mut facts = search_kb(question);
    match lookup_order(order_id) {
        Ok(order) => facts.push(order.to_string()),
        Err(e) => facts.push(format!("order lookup failed: {e}")),
    }
    answer(question, &facts)
}

/// The demo experiment's dataset: FAQ questions and the expected replies.
const FAQ: [(&str, &str); 4] = [
    ("How long does shipping take?", "Orders ship in 2 days."),
    ("Are returns free?", "Returns are free within 30 days."),
    ("Do you ship abroad?", "We ship to 40 countries."),
    (
        "Can I pay by invoice?",
        "Invoices are available for business accounts.",
    ),
];

/// The function under test in the demo experiment: a keyword FAQ bot that gets
/// three of four questions exactly right and paraphrases the last one.
fn faq_bot(dp: &Datapoint) -> Result<Value, String> {
    let question = dp.inputs["question"].as_str().unwrap_or_default();
    let reply = if question.contains("shipping") {
        "Orders ship in 2 days."
    } else if question.contains("returns") {
        "Returns are free within 30 days."
    } else if question.contains("abroad") {
        "We ship to 40 countries."
    } else {
        "Business accounts can pay by invoice."
    };
    Ok(json!(reply))
}

/// Runs a small experiment through `honeyhive::experiments::evaluate` with two
/// built-in evaluators and prints where to see its result.
fn run_demo_experiment(base: &str) -> Result<()> {
    let dataset: Vec<Datapoint> = FAQ
        .iter()
        .map(|(q, a)| Datapoint::new(json!({"question": q})).ground_truth(json!(a)))
        .collect();
    let no_params = serde_json::Map::new();
    let f1_params: serde_json::Map<String, Value> = [("threshold".to_string(), json!(0.5))]
        .into_iter()
        .collect();
    let summary = evaluate(faq_bot)
        .name("demo-faq-bot")
        .dataset(dataset)
        .evaluator(builtin("exact_match", &no_params)?)
        .evaluator(builtin("token_f1", &f1_params)?)
        .connection(Connection::new(DEMO_KEY, base)?)
        .run()
        .context("running the demo experiment")?;
    let total = summary.datapoints.len().max(1);
    println!(
        "experiment {} (run {}): {}/{} datapoints passed ({:.0}%)",
        summary.run_name,
        summary.run_id,
        summary.passed.len(),
        summary.datapoints.len(),
        100.0 * summary.passed.len() as f64 / total as f64
    );
    for metric in &summary.metrics {
        if let Some(value) = metric.aggregate {
            println!("  {:<20} {value:.3} (average)", metric.name);
        }
    }
    println!(
        "  curl -H 'Authorization: Bearer {DEMO_KEY}' {base}/v1/runs/{}/result",
        summary.run_id
    );
    Ok(())
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    serve::init_logging();
    // The demo's server bootstraps its own key for its own project.
    let rt = serve::runtime()?;
    let server = rt.block_on(async {
        let mut cfg = serve::config(&args);
        cfg.bootstrap_key = Some((DEMO_KEY.to_string(), DEMO_PROJECT.to_string()));
        let data_dir = cfg.data_dir.clone();
        let server = honeyhive_server::Server::start(cfg)
            .await
            .with_context(|| format!("starting the platform on {}", data_dir.display()))?;
        anyhow::Ok(server)
    })?;
    let base = format!("http://{}", server.http_addr());
    println!(
        "honeyhive-rs platform running at {base} (data in {})",
        args.data.display()
    );

    let tracer = Tracer::builder()
        .api_key(DEMO_KEY)
        .project(DEMO_PROJECT)
        .server_url(base.clone())
        .source("demo")
        .session_name("support-agent")
        .ignore_env()
        .build()
        .context("building the demo tracer")?;
    honeyhive::set_default_tracer(&tracer);

    let mut sessions = Vec::new();
    for (question, order_id) in QUESTIONS {
        let session = tracer.new_session("support-agent");
        session.in_scope(|| {
            let reply = support_agent(question, order_id);
            tracer.enrich_session(
                Enrichment::new()
                    .inputs(json!({"question": question}))
                    .outputs(json!({"reply": reply}))
                    .user_properties(json!({"customer": format!("cust-{order_id}")})),
            );
        });
        sessions.push(session.session_id().to_string());
    }
    let report = tracer
        .flush(Duration::from_secs(10))
        .context("flushing the demo's spans")?;
    println!(
        "sent {} spans through the Rust SDK ({} dropped)",
        report.spans_sent,
        report.dropped.total()
    );

    let agent = crate::client::agent(None);
    println!();
    for session_id in &sessions {
        let tree: Value = agent
            .get(&format!("{base}/v1/sessions/{session_id}"))
            .header("Authorization", &format!("Bearer {DEMO_KEY}"))
            .call()
            .context("reading a demo session back")?
            .body_mut()
            .read_json()?;
        let meta = &tree["metadata"];
        println!(
            "session {session_id}: {} events ({} model), {} tokens, cost ${:.6}",
            meta["num_events"],
            meta["num_model_events"],
            meta["total_tokens"],
            meta["cost"].as_f64().unwrap_or(0.0)
        );
    }
    println!();
    run_demo_experiment(&base)?;
    println!();
    println!("Look around (the demo key is {DEMO_KEY}):");
    println!(
        "  curl -H 'Authorization: Bearer {DEMO_KEY}' {base}/v1/sessions/{}",
        sessions[0]
    );
    println!(
        "  curl -G -H 'Authorization: Bearer {DEMO_KEY}' {base}/events --data-urlencode 'filters=[{{\"field\":\"error\",\"operator\":\"exists\",\"value\":\"\",\"type\":\"string\"}}]'"
    );
    println!("  curl {base}/metrics");
    println!("Point your own app at it: export HH_API_URL={base} HH_API_KEY={DEMO_KEY}");
    if let Some(link) = server.sign_in_link() {
        println!();
        println!("Open the dashboard (this link signs you in once, within 15 minutes):");
        println!("  {link}");
    }
    println!("Serving until Ctrl-C.");
    rt.block_on(async {
        serve::stop_signal().await;
        server.shutdown().await.context("shutting down")
    })?;
    drop(tracer);
    Ok(())
}
