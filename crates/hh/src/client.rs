//! The HTTP client `hh` calls HoneyHive servers with (`bench`, `demo`): the agent,
//! connections and User-Agent the SDK uses.

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
