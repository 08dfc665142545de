//! One pooled keep-alive blocking HTTP client (the shared `honeyhive-transport`
//! agent) and response classification.

use std::time::Duration;

use super::Protocol;
use crate::config::ResolvedConfig;

/// What came back from one request.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// 2xx.
    Success,
    /// Retry later (5xx, 408, 429, transport error). `retry_after` when the server said so.
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Never retried (400, 401, 403, 404, 413, 422, ...).
    Rejected {
        status: u16,
        server_code: Option<String>,
    },
}

pub(crate) struct HttpClient {
    agent: ureq::Agent,
    base_url: String,
    authorization: String,
    source: String,
    gzip: bool,
}

const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

impl HttpClient {
    pub(crate) fn new(config: &ResolvedConfig) -> HttpClient {
        let agent = honeyhive_transport::agent(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(config.export.request_timeout))
                .max_idle_connections_per_host(4)
                .user_agent(honeyhive_transport::USER_AGENT)
                .build(),
        );
        HttpClient {
            agent,
            base_url: config.server_url.clone(),
            authorization: format!("Bearer {}", config.api_key),
            source: config.source.clone(),
            gzip: config.export.gzip,
        }
    }

    /// `POST /opentelemetry/v1/traces` with an (uncompressed) encoded body.
    pub(crate) fn post_traces(&self, protocol: Protocol, body: &[u8]) -> Outcome {
        let content_type = match protocol {
            Protocol::HttpProtobuf => "application/x-protobuf",
            Protocol::HttpJson => "application/json",
        };
        let mut request = self
            .agent
            .post(format!("{}/opentelemetry/v1/traces", self.base_url))
            .header("Authorization", &self.authorization)
            .header("X-Source", &self.source)
            .header("Content-Type", content_type);
        for (name, value) in honeyhive_transport::CLIENT_HEADERS {
            request = request.header(name, value);
        }
        let result = if self.gzip {
            match super::encode::gzip(body) {
                Ok(compressed) => request
                    .header("Content-Encoding", "gzip")
                    .send(&compressed[..]),
                Err(_) => request.send(body),
            }
        } else {
            request.send(body)
        };
        classify(result)
    }

    /// A JSON REST call (`POST /session/start`, `PUT /events`).
    pub(crate) fn json_call(&self, method: &str, path: &str, body: &serde_json::Value) -> Outcome {
        let url = format!("{}{}", self.base_url, path);
        let bytes = match serde_json::to_vec(body) {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Rejected {
                    status: 0,
                    server_code: Some(e.to_string()),
                };
            }
        };
        let timestamp = honeyhive_transport::client_timestamp();
        let mut request = match method {
            "PUT" => self.agent.put(&url),
            _ => self.agent.post(&url),
        }
        .header("Content-Type", "application/json");
        for (name, value) in honeyhive_transport::rest_headers(&self.authorization, &timestamp) {
            request = request.header(name, value);
        }
        classify(request.send(&bytes[..]))
    }
}

fn classify(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Outcome {
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            return Outcome::Retryable {
                reason: error.to_string(),
                retry_after: None,
            };
        }
    };
    let status = response.status().as_u16();
    let retry_after = honeyhive_transport::retry_after(response.headers());
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_string()
        .unwrap_or_default();
    match status {
        200..=299 => Outcome::Success,
        _ if honeyhive_transport::is_retryable_status(status) => Outcome::Retryable {
            reason: format!("http status {status}"),
            retry_after,
        },
        _ => Outcome::Rejected {
            status,
            server_code: server_error_code(&body),
        },
    }
}

/// The server's error code from a JSON error body (`code`, `error.code` or `error`).
fn server_error_code(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let pick = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    value
        .get("code")
        .and_then(pick)
        .or_else(|| {
            value
                .get("error")
                .and_then(|e| e.get("code"))
                .and_then(pick)
        })
        .or_else(|| value.get("error").and_then(pick))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_error_codes_are_read_from_common_shapes() {
        assert_eq!(
            server_error_code(r#"{"code":"HH-AUTH-001"}"#).as_deref(),
            Some("HH-AUTH-001")
        );
        assert_eq!(
            server_error_code(r#"{"error":{"code":"E1","message":"m"}}"#).as_deref(),
            Some("E1")
        );
        assert_eq!(
            server_error_code(r#"{"error":"bad key"}"#).as_deref(),
            Some("bad key")
        );
        assert_eq!(server_error_code("not json"), None);
    }
}
