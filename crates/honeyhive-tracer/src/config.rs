//! Configuring a tracer: [`TracerBuilder`] (explicit values, then `HH_*` and `OTEL_*`
//! environment variables, then defaults), head [`Sampling`], and the [`Connection`]
//! (API key and server URL) it shares with the experiment calls. The export pipeline's
//! own settings are in [`crate::export`].

use std::path::PathBuf;
use std::time::Duration;

use crate::error::BuildError;
use crate::export::{ExportOptions, Protocol};
use crate::tracer::Tracer;

/// Default server: HoneyHive's hosted service.
pub const DEFAULT_SERVER_URL: &str = "https://api.honeyhive.ai";

/// Head sampling: a ratio of new traces, parent-based for child spans.
///
/// ```
/// let s = honeyhive::config::Sampling::ratio(0.25).keep_errors(true);
/// assert_eq!(s.ratio_value(), 0.25);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    ratio: f64,
    keep_errors: bool,
}

impl Sampling {
    /// Keep every trace (the default).
    pub fn always() -> Sampling {
        Sampling {
            ratio: 1.0,
            keep_errors: false,
        }
    }

    /// Keep this fraction of new traces (clamped to `0.0..=1.0`); children follow their parent.
    pub fn ratio(ratio: f64) -> Sampling {
        let ratio = if ratio.is_nan() {
            1.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        Sampling {
            ratio,
            keep_errors: false,
        }
    }

    /// Also export spans that end in error when their trace was not sampled.
    pub fn keep_errors(mut self, keep: bool) -> Sampling {
        self.keep_errors = keep;
        self
    }

    /// The configured ratio.
    pub fn ratio_value(&self) -> f64 {
        self.ratio
    }

    pub(crate) fn sampler(&self) -> Sampler {
        Sampler {
            threshold: if self.ratio >= 1.0 {
                u64::MAX
            } else {
                (self.ratio * u64::MAX as f64) as u64
            },
            always: self.ratio >= 1.0,
            keep_errors: self.keep_errors && self.ratio < 1.0,
        }
    }
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling::always()
    }
}

/// The sampling decision function derived from [`Sampling`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sampler {
    threshold: u64,
    always: bool,
    pub(crate) keep_errors: bool,
}

impl Sampler {
    /// Trace-id-ratio decision: deterministic per trace id, so every service agrees.
    pub(crate) fn sample_root(&self, trace_id: &[u8; 16]) -> bool {
        if self.always {
            return true;
        }
        let mut low = [0u8; 8];
        low.copy_from_slice(&trace_id[8..]);
        u64::from_be_bytes(low) < self.threshold
    }
}

/// Builder for [`Tracer`]. Unset values fall back to environment variables, then defaults.
///
/// ```
/// let tracer = honeyhive::Tracer::builder()
///     .project("my-project")
///     .source("dev")
///     .test_mode(true)
///     .build()
///     .unwrap();
/// assert!(!tracer.session_id().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct TracerBuilder {
    pub(crate) api_key: Option<String>,
    pub(crate) project: Option<String>,
    pub(crate) session_name: Option<String>,
    pub(crate) source: Option<String>,
    pub(crate) server_url: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) disable_batch: Option<bool>,
    pub(crate) test_mode: Option<bool>,
    pub(crate) sampling: Option<Sampling>,
    pub(crate) spool_dir: Option<PathBuf>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) verbose: Option<bool>,
    pub(crate) export: Option<ExportOptions>,
    pub(crate) ignore_env: bool,
    pub(crate) start_session: Option<bool>,
    pub(crate) discard_batches: bool,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: String) => {
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.$name = Some(value.into());
            self
        }
    };
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = Some(value);
            self
        }
    };
}

impl TracerBuilder {
    setter!(
        /// API key (`HH_API_KEY`); required unless `test_mode`.
        api_key: String
    );
    setter!(
        /// Project name (`HH_PROJECT`); optional, the key identifies the project.
        project: String
    );
    setter!(
        /// Session name (`HH_SESSION_NAME`); default: the executable's name.
        session_name: String
    );
    setter!(
        /// Source / environment label (`HH_SOURCE`); default `dev`.
        source: String
    );
    setter!(
        /// Server base URL (`HH_API_URL`, `HH_SERVER_URL`, `HONEYHIVE_SERVER_URL`).
        server_url: String
    );
    setter!(
        /// Reuse an existing session id instead of minting one (no session start is sent).
        session_id: String
    );
    setter!(
        /// Export every span as soon as it ends (`HH_DISABLE_BATCH`).
        disable_batch: bool
    );
    setter!(
        /// Record nothing and send nothing (`HH_TEST_MODE`); the traced code runs unchanged.
        test_mode: bool
    );
    setter!(
        /// Head sampling (`OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`).
        sampling: Sampling
    );
    setter!(
        /// OTLP body encoding (`HH_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`).
        protocol: Protocol
    );
    setter!(
        /// Verbose internal diagnostics through `tracing` (`HH_VERBOSE`).
        verbose: bool
    );
    setter!(
        /// Export pipeline tuning.
        export: ExportOptions
    );

    /// Spool spans to this directory during outages and replay them after (`HH_SPOOL_DIR`).
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// Whether to send `POST /session/start` for the tracer's session (default: yes,
    /// unless a `session_id` is reused).
    pub fn start_session(mut self, start: bool) -> Self {
        self.start_session = Some(start);
        self
    }

    /// Benchmarks only: the export worker batches spans as usual, then discards each
    /// batch instead of encoding and sending it (and makes no session calls), the way
    /// an OpenTelemetry SDK benchmark exports to a no-op exporter. Spans count as sent.
    #[doc(hidden)]
    pub fn discard_batches_for_benchmarks(mut self) -> Self {
        self.discard_batches = true;
        self
    }

    /// The API key and server URL of `connection`.
    pub fn connection(mut self, connection: &Connection) -> Self {
        self.api_key = Some(connection.api_key.clone());
        self.server_url = Some(connection.server_url.clone());
        self
    }

    /// Do not read any environment variable (explicit values and defaults only).
    pub fn ignore_env(mut self) -> Self {
        self.ignore_env = true;
        self
    }

    /// Validate the configuration and start the tracer. Never blocks on the network:
    /// the session id is minted here and the session start is sent by the export worker.
    pub fn build(self) -> Result<Tracer, BuildError> {
        let env: &dyn Fn(&str) -> Option<String> = if self.ignore_env {
            &|_| None
        } else {
            &|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty())
        };
        let resolved = self.resolve(env)?;
        Tracer::start(resolved)
    }

    pub(crate) fn resolve(
        self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ResolvedConfig, BuildError> {
        let flag = |name: &'static str| -> Result<Option<bool>, BuildError> {
            match env(name) {
                None => Ok(None),
                Some(v) => parse_bool(&v).map(Some).ok_or(BuildError::InvalidConfig {
                    field: name,
                    reason: format!("{v:?} is not a boolean"),
                }),
            }
        };
        let test_mode = match self.test_mode {
            Some(v) => v,
            None => {
                flag("HH_TEST_MODE")?.unwrap_or(false)
                    || flag("OTEL_SDK_DISABLED")?.unwrap_or(false)
            }
        };
        let api_key = api_key_or_env(self.api_key, env);
        if api_key.is_none() && !test_mode {
            return Err(BuildError::MissingApiKey);
        }
        let server_url = server_url_or_env(self.server_url, env)?;
        let protocol = match self.protocol {
            Some(p) => p,
            None => match env("HH_OTLP_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL")) {
                None => Protocol::default(),
                Some(v) => Protocol::parse(&v).ok_or(BuildError::InvalidConfig {
                    field: "HH_OTLP_PROTOCOL",
                    reason: format!("{v:?} is not http/protobuf or http/json"),
                })?,
            },
        };
        let sampling = match self.sampling {
            Some(s) => s,
            None => sampling_from_env(env)?,
        };
        let mut export = self.export.unwrap_or_default();
        if !self.ignore_env {
            apply_otel_export_env(&mut export, env)?;
        }
        let session_reused = self.session_id.is_some();
        Ok(ResolvedConfig {
            api_key: api_key.unwrap_or_default(),
            project: self.project.or_else(|| env("HH_PROJECT")),
            session_name: self
                .session_name
                .or_else(|| env("HH_SESSION_NAME"))
                .unwrap_or_else(executable_name),
            source: self
                .source
                .or_else(|| env("HH_SOURCE"))
                .unwrap_or_else(|| "dev".to_owned()),
            server_url,
            session_id: self
                .session_id
                .unwrap_or_else(crate::record::ids::session_id),
            start_session: self.start_session.unwrap_or(!session_reused),
            disable_batch: match self.disable_batch {
                Some(v) => v,
                None => flag("HH_DISABLE_BATCH")?.unwrap_or(false),
            },
            test_mode,
            sampling,
            spool_dir: self
                .spool_dir
                .or_else(|| env("HH_SPOOL_DIR").map(PathBuf::from)),
            protocol,
            verbose: match self.verbose {
                Some(v) => v,
                None => flag("HH_VERBOSE")?.unwrap_or(false),
            },
            service_name: env("OTEL_SERVICE_NAME"),
            resource_attributes: env("OTEL_RESOURCE_ATTRIBUTES")
                .map(|v| parse_resource_attributes(&v))
                .unwrap_or_default(),
            export,
            discard_batches: self.discard_batches,
        })
    }
}

/// Fully resolved configuration used to start a tracer.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedConfig {
    pub(crate) api_key: String,
    pub(crate) project: Option<String>,
    pub(crate) session_name: String,
    pub(crate) source: String,
    pub(crate) server_url: String,
    pub(crate) session_id: String,
    pub(crate) start_session: bool,
    pub(crate) disable_batch: bool,
    pub(crate) test_mode: bool,
    pub(crate) sampling: Sampling,
    pub(crate) spool_dir: Option<PathBuf>,
    pub(crate) protocol: Protocol,
    pub(crate) verbose: bool,
    pub(crate) service_name: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) export: ExportOptions,
    /// See [`TracerBuilder::discard_batches_for_benchmarks`].
    pub(crate) discard_batches: bool,
}

/// Where and as whom to call the HoneyHive API: an API key and a server URL, read
/// as a tracer reads them (the value given, else `HH_API_KEY`; the URL given, else
/// `HH_API_URL`, `HH_SERVER_URL`, `HONEYHIVE_SERVER_URL`, else the hosted service),
/// so a tracer and the experiment calls of one program agree. Its `Debug` form shows
/// no more than the key's first characters.
///
/// ```
/// use honeyhive::config::Connection;
/// let local = Connection::new("hh_key", "http://127.0.0.1:8080/")?;
/// assert_eq!(local.server_url(), "http://127.0.0.1:8080");
/// assert!(Connection::new("hh_key", "ftp://example.com").is_err());
/// let tracer = honeyhive::Tracer::builder().connection(&local).test_mode(true).build()?;
/// # Ok::<(), honeyhive::BuildError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    api_key: String,
    server_url: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: String = self.api_key.chars().take(4).collect();
        f.debug_struct("Connection")
            .field("api_key", &format!("{shown}…"))
            .field("server_url", &self.server_url)
            .finish()
    }
}

impl Connection {
    /// This key and URL, no environment read; the URL must be `http(s)://`.
    pub fn new(
        api_key: impl Into<String>,
        server_url: impl Into<String>,
    ) -> Result<Connection, BuildError> {
        Connection::resolve(Some(api_key.into()), Some(server_url.into()))
    }

    /// The key and URL from the environment alone.
    pub fn from_env() -> Result<Connection, BuildError> {
        Connection::resolve(None, None)
    }

    /// The values given, each falling back to the environment (what a command line
    /// with optional `--api-key` and `--server` flags wants).
    pub fn resolve(
        api_key: Option<String>,
        server_url: Option<String>,
    ) -> Result<Connection, BuildError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Ok(Connection {
            api_key: api_key_or_env(api_key, &env)
                .filter(|key| !key.trim().is_empty())
                .ok_or(BuildError::MissingApiKey)?,
            server_url: server_url_or_env(server_url, &env)?,
        })
    }

    /// The API key.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The server's base URL, without a trailing slash.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }
}

fn api_key_or_env(api_key: Option<String>, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    api_key.or_else(|| env("HH_API_KEY"))
}

fn server_url_or_env(
    server_url: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, BuildError> {
    let url = server_url
        .or_else(|| env("HH_API_URL"))
        .or_else(|| env("HH_SERVER_URL"))
        .or_else(|| env("HONEYHIVE_SERVER_URL"))
        .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned());
    validate_url(&url)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn validate_url(url: &str) -> Result<String, BuildError> {
    let invalid = |reason: &str| BuildError::InvalidServerUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = url.trim().trim_end_matches('/');
    let rest = if let Some(rest) = trimmed.strip_prefix("https://") {
        if !cfg!(feature = "tls") {
            return Err(invalid(
                "https needs the `tls` feature of the honeyhive crate",
            ));
        }
        rest
    } else if let Some(rest) = trimmed.strip_prefix("http://") {
        rest
    } else {
        return Err(invalid("the scheme must be http or https"));
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(invalid("the url has no host"));
    }
    Ok(trimmed.to_owned())
}

fn sampling_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Sampling, BuildError> {
    let Some(sampler) = env("OTEL_TRACES_SAMPLER") else {
        return Ok(Sampling::always());
    };
    let ratio = || -> Result<f64, BuildError> {
        match env("OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(v) => v
                .trim()
                .parse::<f64>()
                .map_err(|_| BuildError::InvalidConfig {
                    field: "OTEL_TRACES_SAMPLER_ARG",
                    reason: format!("{v:?} is not a number"),
                }),
        }
    };
    match sampler.trim() {
        "always_on" | "parentbased_always_on" => Ok(Sampling::always()),
        "always_off" | "parentbased_always_off" => Ok(Sampling::ratio(0.0)),
        "traceidratio" | "parentbased_traceidratio" => Ok(Sampling::ratio(ratio()?)),
        other => Err(BuildError::InvalidConfig {
            field: "OTEL_TRACES_SAMPLER",
            reason: format!("unsupported sampler {other:?}"),
        }),
    }
}

fn apply_otel_export_env(
    export: &mut ExportOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), BuildError> {
    let number = |name: &'static str| -> Result<Option<u64>, BuildError> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| BuildError::InvalidConfig {
                    field: name,
                    reason: format!("{v:?} is not a whole number"),
                }),
        }
    };
    if let Some(ms) = number("OTEL_BSP_SCHEDULE_DELAY")? {
        export.scheduled_delay = Duration::from_millis(ms);
    }
    if let Some(n) = number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
        export.max_batch_spans = (n as usize).max(1);
    }
    if let Some(ms) =
        number("OTEL_EXPORTER_OTLP_TIMEOUT")?.or(number("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")?)
    {
        export.request_timeout = Duration::from_millis(ms.max(1));
    }
    if let Some(c) = env("OTEL_EXPORTER_OTLP_COMPRESSION") {
        export.gzip = c.trim() == "gzip";
    }
    Ok(())
}

fn parse_resource_attributes(value: &str) -> Vec<(String, String)> {
    value
        .split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rust-app".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn environment_fills_unset_values_and_explicit_values_win() {
        let env = env_of(&[
            ("HH_API_KEY", "k"),
            ("HH_SERVER_URL", "http://127.0.0.1:1/"),
            ("HH_PROJECT", "env-project"),
            ("HH_OTLP_PROTOCOL", "http/json"),
            ("HH_DISABLE_BATCH", "true"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ]);
        let config = TracerBuilder::default()
            .project("explicit")
            .resolve(&env)
            .unwrap();
        assert_eq!(config.project.as_deref(), Some("explicit"));
        assert_eq!(config.server_url, "http://127.0.0.1:1");
        assert_eq!(config.protocol, Protocol::HttpJson);
        assert!(config.disable_batch);
        assert_eq!(config.source, "dev");
        assert_eq!(config.export.scheduled_delay, Duration::from_millis(50));
    }

    #[test]
    fn bad_values_give_coded_errors() {
        let none = |_: &str| None;
        assert_eq!(
            TracerBuilder::default().resolve(&none).unwrap_err().code(),
            "HH-E101"
        );
        let err = TracerBuilder::default()
            .api_key("k")
            .server_url("ftp://x")
            .resolve(&none)
            .unwrap_err();
        assert_eq!(err.code(), "HH-E102");
        let err = TracerBuilder::default()
            .api_key("k")
            .resolve(&env_of(&[("HH_OTLP_PROTOCOL", "grpc")]))
            .unwrap_err();
        assert_eq!(err.code(), "HH-E103");
    }

    #[test]
    fn ratio_sampler_is_deterministic_per_trace_id() {
        let sampler = Sampling::ratio(0.5).sampler();
        let low = [0u8; 16];
        let mut high = [0u8; 16];
        high[8] = 0xff;
        assert!(sampler.sample_root(&low));
        assert!(!sampler.sample_root(&high));
        assert!(Sampling::always().sampler().sample_root(&high));
        assert!(!Sampling::ratio(0.0).sampler().sample_root(&low));
    }
}
