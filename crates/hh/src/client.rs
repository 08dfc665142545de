//! The HTTP client `hh` calls HoneyHive servers with (`bench`, `demo`, `tail`): the
//! agent, connections and User-Agent the SDK uses, and query encoding.

use std::time::Duration;

/// An agent for calls to a HoneyHive server; `timeout` bounds each call.
pub(crate) fn agent(timeout: Option<Duration>) -> ureq::Agent {
    honeyhive_transport::agent(
        ureq::Agent::config_builder()
            .user_agent(honeyhive_transport::USER_AGENT)
            .timeout_global(timeout)
            .build(),
    )
}

/// Percent-encodes a query parameter value.
///
/// ```text
/// encode_query("a b/[]") == "a%20b%2F%5B%5D"
/// ```
pub(crate) fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
