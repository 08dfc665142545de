//! OpenAI-compatible endpoints (chat completions, embeddings): configuration,
//! and POSTs with retries (the shared `honeyhive-transport` backoff).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use honeyhive_transport::Backoff;
use serde_json::Value;

use crate::EvalError;

const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where and how to call an OpenAI-compatible API (OpenAI, Azure-compatible
/// gateways, vLLM, Ollama, LiteLLM, ...).
///
/// Plain `http://` works out of the box; `https://` needs this crate's `tls` feature.
///
/// ```
/// use std::time::Duration;
/// use honeyhive_evals::EndpointConfig;
/// let config = EndpointConfig::new("http://127.0.0.1:11434/v1", "llama3.1")
///     .api_key("secret")
///     .retries(2, Duration::from_millis(100));
/// assert_eq!(config.url("/chat/completions"), "http://127.0.0.1:11434/v1/chat/completions");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// Base URL up to and including the version segment, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Bearer token; `None` sends no `Authorization` header.
    pub api_key: Option<String>,
    /// Model name sent with each request.
    pub model: String,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Retries after the first attempt (transport errors, 408/409/429/5xx, and for
    /// judges unparseable verdicts).
    pub max_retries: u32,
    /// Wait before the first retry; doubles each retry (with jitter: each wait is
    /// between half and all of that), capped at 30 s. A `Retry-After` replaces it.
    pub initial_backoff: Duration,
}

impl EndpointConfig {
    /// An endpoint with no key, a 60 s timeout and 3 retries starting at 500 ms.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        EndpointConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            api_key: None,
            model: model.into(),
            timeout: Duration::from_secs(60),
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
        }
    }

    /// Sets the bearer token.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Sets the per-request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the retry count and the first backoff.
    pub fn retries(mut self, max_retries: u32, initial_backoff: Duration) -> Self {
        self.max_retries = max_retries;
        self.initial_backoff = initial_backoff;
        self
    }

    /// The full URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// The judge endpoint from the environment: `HH_JUDGE_BASE_URL`,
    /// `HH_JUDGE_API_KEY`, `HH_JUDGE_MODEL`, each falling back to `OPENAI_BASE_URL`,
    /// `OPENAI_API_KEY`, `OPENAI_MODEL`. With a key but no base URL the OpenAI API is
    /// used; the model defaults to `gpt-4o-mini`.
    pub fn judge_from_env() -> Result<Self, EvalError> {
        Self::from_lookup("HH_JUDGE", "gpt-4o-mini", |k| std::env::var(k).ok())
    }

    /// The embeddings endpoint from the environment: `HH_EMBEDDINGS_BASE_URL`,
    /// `HH_EMBEDDINGS_API_KEY`, `HH_EMBEDDINGS_MODEL`, with the same `OPENAI_*`
    /// fallbacks; the model defaults to `text-embedding-3-small`.
    pub fn embeddings_from_env() -> Result<Self, EvalError> {
        Self::from_lookup("HH_EMBEDDINGS", "text-embedding-3-small", |k| {
            std::env::var(k).ok()
        })
    }

    pub(crate) fn from_lookup(
        prefix: &str,
        default_model: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, EvalError> {
        let get = |suffix: &str| {
            lookup(&format!("{prefix}_{suffix}"))
                .or_else(|| lookup(&format!("OPENAI_{suffix}")))
                .filter(|v| !v.trim().is_empty())
        };
        let api_key = get("API_KEY");
        let base_url = match (get("BASE_URL"), &api_key) {
            (Some(url), _) => url,
            (None, Some(_)) => OPENAI_BASE_URL.to_string(),
            (None, None) => {
                return Err(EvalError::Config(format!(
                    "set {prefix}_BASE_URL (or OPENAI_BASE_URL) or an api key"
                )));
            }
        };
        let model = get("MODEL").unwrap_or_else(|| default_model.to_string());
        let mut config = EndpointConfig::new(base_url, model);
        config.api_key = api_key;
        Ok(config)
    }

    /// The agent for this endpoint's timeout, shared by every call in the process.
    ///
    /// A judge or embedding run makes many calls to one host; an agent per call
    /// meant a new connection (and TLS handshake) per call.
    fn agent(&self) -> ureq::Agent {
        static AGENTS: OnceLock<Mutex<HashMap<Duration, ureq::Agent>>> = OnceLock::new();
        let mut agents = AGENTS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        agents
            .entry(self.timeout)
            .or_insert_with(|| {
                honeyhive_transport::agent(
                    ureq::Agent::config_builder()
                        .timeout_global(Some(self.timeout))
                        .http_status_as_error(false)
                        .build(),
                )
            })
            .clone()
    }

    /// POSTs `body` to `path` until `accept` takes the response, retrying transient
    /// failures (and `accept`'s rejections) with exponential backoff and jitter, or
    /// after the server's `Retry-After`.
    pub(crate) fn post_with_retries<T>(
        &self,
        path: &str,
        body: &Value,
        mut accept: impl FnMut(&Value) -> Result<T, EvalError>,
    ) -> Result<(T, CallStats), EvalError> {
        let url = self.url(path);
        let agent = self.agent();
        let started = Instant::now();
        let start_time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let attempts_allowed = self.max_retries.saturating_add(1);
        let mut backoff = self.backoff();
        let mut last_error = EvalError::Endpoint {
            url: url.clone(),
            attempts: 0,
            message: "no attempt made".into(),
        };
        for attempt in 1..=attempts_allowed {
            let mut retry_after = None;
            match self.post_once(&agent, &url, body) {
                Ok(Answer {
                    status,
                    body: response,
                    ..
                }) if (200..300).contains(&status) => match accept(&response) {
                    Ok(value) => {
                        let stats = CallStats {
                            attempts: attempt,
                            start_time_ms,
                            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                            response,
                        };
                        return Ok((value, stats));
                    }
                    Err(e) => last_error = e,
                },
                Ok(Answer {
                    status,
                    body: response,
                    retry_after: hinted,
                }) => {
                    let message = format!(
                        "http status {status}: {}",
                        truncate(&response.to_string(), 500)
                    );
                    last_error = EvalError::Endpoint {
                        url: url.clone(),
                        attempts: attempt,
                        message,
                    };
                    // 409 too: a conflict (a lock timeout) clears, and the OpenAI clients retry it.
                    if status != 409 && !honeyhive_transport::is_retryable_status(status) {
                        return Err(last_error);
                    }
                    retry_after = hinted;
                }
                Err(message) => {
                    last_error = EvalError::Endpoint {
                        url: url.clone(),
                        attempts: attempt,
                        message,
                    };
                }
            }
            if attempt < attempts_allowed {
                std::thread::sleep(backoff.delay(attempt, retry_after));
            }
        }
        Err(last_error)
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(self.initial_backoff, MAX_BACKOFF)
    }

    /// One POST: the status, the body as JSON (non-JSON bodies become a string) and
    /// the `Retry-After`; `Err` when no answer came.
    fn post_once(&self, agent: &ureq::Agent, url: &str, body: &Value) -> Result<Answer, String> {
        let mut request = agent.post(url).header("content-type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("authorization", &format!("Bearer {key}"));
        }
        let mut response = request.send_json(body).map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let retry_after = honeyhive_transport::retry_after(response.headers());
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer {
            status,
            body,
            retry_after,
        })
    }
}

/// An endpoint's answer to one POST.
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<Duration>,
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Timing and the accepted response of a successful call.
#[derive(Debug, Clone)]
pub(crate) struct CallStats {
    pub attempts: u32,
    pub start_time_ms: f64,
    pub latency_ms: f64,
    pub response: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn env_lookup_prefers_specific_then_openai_then_defaults() {
        let env: HashMap<&str, &str> = [
            ("HH_JUDGE_MODEL", "judge-model"),
            ("OPENAI_API_KEY", "sk-1"),
        ]
        .into();
        let config = EndpointConfig::from_lookup("HH_JUDGE", "gpt-4o-mini", |k| {
            env.get(k).map(|v| v.to_string())
        })
        .unwrap();
        assert_eq!(config.base_url, OPENAI_BASE_URL);
        assert_eq!(config.model, "judge-model");
        assert_eq!(config.api_key.as_deref(), Some("sk-1"));
        let local: HashMap<&str, &str> = [("HH_JUDGE_BASE_URL", "http://127.0.0.1:1/v1/")].into();
        let config =
            EndpointConfig::from_lookup("HH_JUDGE", "m", |k| local.get(k).map(|v| v.to_string()))
                .unwrap();
        assert_eq!(
            (
                config.base_url.as_str(),
                config.model.as_str(),
                config.api_key
            ),
            ("http://127.0.0.1:1/v1", "m", None)
        );
        assert!(matches!(
            EndpointConfig::from_lookup("HH_JUDGE", "m", |_| None),
            Err(EvalError::Config(_))
        ));
    }

    #[test]
    fn backoff_doubles_from_the_configured_start_and_is_capped() {
        let config = EndpointConfig::new("http://x", "m").retries(5, Duration::from_millis(100));
        let mut backoff = config.backoff();
        let third = backoff.delay(3, None);
        assert!(
            third >= Duration::from_millis(200) && third <= Duration::from_millis(400),
            "{third:?}"
        );
        assert!(backoff.delay(40, None) <= MAX_BACKOFF);
        assert_eq!(
            backoff.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(backoff.delay(1, Some(Duration::from_secs(90))), MAX_BACKOFF);
    }
}
