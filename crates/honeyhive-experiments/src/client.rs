//! The REST calls of an experiment, with the Python SDK's bodies and headers.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use honeyhive_tracer::config::Connection;

use crate::error::RequestError;

/// Largest response body read (run results of big runs can be large).
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

/// The REST calls over one [`Connection`], shared by the runner, the batch scorer
/// and [`super::ExperimentsClient`].
#[derive(Debug, Clone)]
pub(crate) struct RestClient {
    agent: ureq::Agent,
    base_url: String,
    authorization: String,
}

impl RestClient {
    pub(crate) fn new(connection: &Connection, pool: usize) -> RestClient {
        let agent = honeyhive_transport::agent(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(60)))
                .max_idle_connections(pool.max(4))
                .max_idle_connections_per_host(pool.max(4))
                .user_agent(honeyhive_transport::USER_AGENT)
                .build(),
        );
        RestClient {
            agent,
            base_url: connection.server_url().to_string(),
            authorization: format!("Bearer {}", connection.api_key()),
        }
    }

    /// The server's base URL, without a trailing slash.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The `Authorization` header value.
    pub(crate) fn authorization(&self) -> &str {
        &self.authorization
    }

    /// `GET`; returns the parsed response body (`null` when empty).
    pub(crate) fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, RequestError> {
        let text = self.get_text(path, query)?;
        parse_body(path, &text)
    }

    /// `GET`; returns the response body as text, for callers that read it
    /// their own way.
    pub(crate) fn get_text(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<String, RequestError> {
        self.exchange("GET", path, query, None)
    }

    /// `POST` with a JSON body; returns the parsed response body.
    pub(crate) fn post(&self, path: &str, body: &impl Serialize) -> Result<Value, RequestError> {
        self.send("POST", path, body)
    }

    /// `PUT` with a JSON body; returns the parsed response body.
    pub(crate) fn put(&self, path: &str, body: &impl Serialize) -> Result<Value, RequestError> {
        self.send("PUT", path, body)
    }

    fn send(
        &self,
        method: &'static str,
        path: &str,
        body: &impl Serialize,
    ) -> Result<Value, RequestError> {
        let bytes = serde_json::to_vec(body).map_err(|e| RequestError::Http {
            method,
            path: path.to_string(),
            status: None,
            reason: e.to_string(),
        })?;
        let text = self.exchange(method, path, &[], Some(&bytes))?;
        parse_body(path, &text)
    }

    /// Sends the request with the Python SDK's headers; returns the response
    /// text. A non-2xx status is an error.
    fn exchange(
        &self,
        method: &'static str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<String, RequestError> {
        let url = format!("{}{}", self.base_url, path);
        let timestamp = honeyhive_transport::client_timestamp();
        macro_rules! with_headers {
            ($request:expr) => {{
                let mut request = $request;
                for (name, value) in
                    honeyhive_transport::rest_headers(&self.authorization, &timestamp)
                {
                    request = request.header(name, value);
                }
                for (k, v) in query {
                    request = request.query(*k, *v);
                }
                request
            }};
        }
        let http_error = |status: Option<u16>, reason: String| RequestError::Http {
            method,
            path: path.to_string(),
            status,
            reason,
        };
        let bytes = body.unwrap_or_default();
        let result = match method {
            "GET" => with_headers!(self.agent.get(&url)).call(),
            "PUT" => with_headers!(self.agent.put(&url))
                .header("Content-Type", "application/json")
                .send(bytes),
            _ => with_headers!(self.agent.post(&url))
                .header("Content-Type", "application/json")
                .send(bytes),
        };
        let mut response = result.map_err(|e| http_error(None, e.to_string()))?;
        let status = response.status().as_u16();
        let success = (200..300).contains(&status);
        let mut reader = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .reader();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut reader, &mut text)
            .map_err(|e| http_error(Some(status), e.to_string()))?;
        if !success {
            let snippet: String = text.chars().take(500).collect();
            return Err(http_error(
                Some(status),
                format!("http status {status}: {snippet}"),
            ));
        }
        Ok(text)
    }
}

/// A response body as JSON (`null` when empty).
fn parse_body(path: &str, text: &str) -> Result<Value, RequestError> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| RequestError::bad_response(path, e.to_string()))
}
