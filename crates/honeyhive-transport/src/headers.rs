//! The headers every call to a HoneyHive API carries, as the Python SDK sends them.

/// The SDK's version (the honeyhive crates share one).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `User-Agent` of every call to a HoneyHive API.
pub const USER_AGENT: &str = concat!("honeyhive-rust/", env!("CARGO_PKG_VERSION"));

/// `hh-client-version`, `hh-client-language` and `hh-client-package`: on every call,
/// OTLP exports included.
pub const CLIENT_HEADERS: [(&str, &str); 3] = [
    ("hh-client-version", VERSION),
    ("hh-client-language", "rust"),
    ("hh-client-package", "honeyhive"),
];

/// The headers of a JSON REST call besides its `Content-Type`: `Authorization`
/// (`authorization` is the whole value, `Bearer <key>`), `Accept`, the
/// [`CLIENT_HEADERS`] and `hh-client-timestamp` ([`client_timestamp`]).
///
/// ```
/// let timestamp = honeyhive_transport::client_timestamp();
/// let headers = honeyhive_transport::rest_headers("Bearer k", &timestamp);
/// assert_eq!(headers[0], ("Authorization", "Bearer k"));
/// assert!(headers.contains(&("hh-client-language", "rust")));
/// ```
pub fn rest_headers<'a>(
    authorization: &'a str,
    timestamp: &'a str,
) -> [(&'static str, &'a str); 6] {
    let [version, language, package] = CLIENT_HEADERS;
    [
        ("Authorization", authorization),
        ("Accept", "application/json"),
        version,
        language,
        package,
        ("hh-client-timestamp", timestamp),
    ]
}

/// `hh-client-timestamp`: nanoseconds since the Unix epoch.
pub fn client_timestamp() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
        .to_string()
}
