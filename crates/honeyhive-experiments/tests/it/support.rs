//! A real in-process server for the experiment tests, and REST helpers to look at
//! what it stored.

use std::time::Duration;

use honeyhive_experiments::{Connection, Datapoint, EvaluateBuilder, EvaluatorError};
use honeyhive_server::testing::TestServer;
use serde_json::{Value, json};

pub struct Server {
    pub server: Option<TestServer>,
    pub runtime: tokio::runtime::Runtime,
    pub url: String,
    pub key: String,
}

impl Server {
    pub fn start() -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let server = runtime.block_on(TestServer::start());
        Server {
            url: server.base_url(),
            key: server.api_key.clone(),
            server: Some(server),
            runtime,
        }
    }

    /// Points a builder at this server.
    pub fn connect<K>(&self, builder: EvaluateBuilder<K>) -> EvaluateBuilder<K> {
        builder.connection(Connection::new(self.key.as_str(), self.url.as_str()).unwrap())
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into()
    }

    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let mut request = Self::agent()
            .get(format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {}", self.key));
        for (k, v) in query {
            request = request.query(*k, *v);
        }
        let mut response = request.call().expect("GET");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().expect("body");
        assert!((200..300).contains(&status), "GET {path}: {status} {text}");
        serde_json::from_str(&text).expect("json")
    }

    pub fn post(&self, path: &str, body: &Value) -> Value {
        let mut response = Self::agent()
            .post(format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {}", self.key))
            .header("Content-Type", "application/json")
            .send(serde_json::to_vec(body).expect("body").as_slice())
            .expect("POST");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().expect("body");
        assert!((200..300).contains(&status), "POST {path}: {status} {text}");
        serde_json::from_str(&text).expect("json")
    }

    /// The stored session tree (session event + its events, flattened).
    pub fn session_events(&self, session_id: &str) -> Vec<Value> {
        let tree = self.get(&format!("/v1/sessions/{session_id}"), &[]);
        let mut out = Vec::new();
        flatten(&tree, &mut out);
        out
    }
}

fn flatten(node: &Value, out: &mut Vec<Value>) {
    if let Some(session) = node.get("session") {
        flatten(session, out);
        for e in node
            .get("events")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            flatten(e, out);
        }
        return;
    }
    let mut this = node.clone();
    if let Some(obj) = this.as_object_mut() {
        obj.remove("children");
    }
    out.push(this);
    for child in node
        .get("children")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        flatten(child, out);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.stop());
        }
    }
}

/// The dataset of the Python wire capture (`02_evaluate_inline_dataset.json`).
pub fn capture_dataset() -> Vec<Datapoint> {
    vec![
        Datapoint::new(json!({"question": "abc"})).ground_truth(json!({"answer": "ABC"})),
        Datapoint::new(json!({"question": "hello"})).ground_truth(json!({"answer": "HELLO!"})),
        Datapoint::new(json!({"question": "x"})).ground_truth(json!({"answer": "X"})),
    ]
}

/// The capture's function: upper-cases the question.
pub fn app(dp: &Datapoint) -> Result<Value, String> {
    let q = dp.inputs["question"]
        .as_str()
        .ok_or("question must be a string")?;
    Ok(json!({"answer": q.to_uppercase()}))
}

pub fn exact_match(
    out: &Value,
    _inputs: &Value,
    gt: Option<&Value>,
) -> Result<Value, EvaluatorError> {
    let gt = gt.ok_or("no ground truth")?;
    Ok(json!(if out["answer"] == gt["answer"] {
        1.0
    } else {
        0.0
    }))
}

pub fn length_check(
    out: &Value,
    _inputs: &Value,
    _gt: Option<&Value>,
) -> Result<Value, EvaluatorError> {
    let len = out["answer"].as_str().map(str::len).unwrap_or(0);
    Ok(json!({"score": len, "explanation": "answer length", "long_enough": len > 2}))
}
