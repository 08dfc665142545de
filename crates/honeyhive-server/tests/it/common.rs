//! Shared test harness: a real server on its own runtime, driven over HTTP
//! with a blocking client from the test thread.

use std::io::Read;

use honeyhive_server::ServerConfig;
use honeyhive_server::testing::TestServer;
use serde_json::Value;

/// A running server plus an HTTP client that never treats statuses as errors.
pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub server: Option<TestServer>,
    agent: ureq::Agent,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not json ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Harness {
    pub fn start() -> Harness {
        Harness::start_with(|_| {})
    }

    pub fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let server = rt.block_on(TestServer::start_with(adjust));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Harness {
            rt,
            server: Some(server),
            agent,
        }
    }

    pub fn server(&self) -> &TestServer {
        self.server.as_ref().expect("running")
    }

    pub fn key(&self) -> String {
        self.server().api_key.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server().base_url())
    }

    pub fn restart(&mut self) {
        let mut server = self.server.take().expect("running");
        self.rt.block_on(server.restart());
        self.server = Some(server);
    }

    fn finish(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut response = response.expect("request reaches the server");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let mut body = Vec::new();
        response
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .reader()
            .read_to_end(&mut body)
            .expect("read body");
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Sends raw bytes; `key` None sends no Authorization header.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        if let Some(key) = key {
            builder = builder.header("Authorization", format!("Bearer {key}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder.body(body.to_vec()).expect("request");
        Harness::finish(self.agent.run(request))
    }

    pub fn post_json_as(&self, key: &str, path: &str, body: &Value) -> Answer {
        let bytes = serde_json::to_vec(body).expect("json");
        self.send(
            "POST",
            path,
            Some(key),
            &[("Content-Type", "application/json")],
            &bytes,
        )
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.post_json_as(&self.key(), path, body)
    }

    pub fn put_json(&self, path: &str, body: &Value) -> Answer {
        let bytes = serde_json::to_vec(body).expect("json");
        self.send(
            "PUT",
            path,
            Some(&self.key()),
            &[("Content-Type", "application/json")],
            &bytes,
        )
    }

    pub fn get_as(&self, key: &str, path: &str) -> Answer {
        self.send("GET", path, Some(key), &[], &[])
    }

    pub fn get(&self, path: &str) -> Answer {
        self.get_as(&self.key(), path)
    }

    /// Replays one captured request of a wire fixture (JSON bodies only).
    pub fn replay(&self, request: &Value) -> Answer {
        let method = request["method"].as_str().expect("method");
        let path = request["path"].as_str().expect("path");
        let bytes = serde_json::to_vec(&request["body"]).expect("json");
        self.send(
            method,
            path,
            Some(&self.key()),
            &[("Content-Type", "application/json")],
            &bytes,
        )
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.stop());
        }
    }
}

/// Every span of an OTLP/JSON body: (spanId, name, attributes as key → value).
pub fn otlp_spans(body: &Value) -> Vec<&Value> {
    let mut spans = Vec::new();
    for rs in body["resourceSpans"].as_array().into_iter().flatten() {
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            spans.extend(ss["spans"].as_array().into_iter().flatten());
        }
    }
    spans
}

/// A span attribute's string value.
pub fn span_attr<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .and_then(|a| a["value"]["stringValue"].as_str())
}
