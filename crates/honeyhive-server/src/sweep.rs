//! Periodic upkeep beside the request path: enrichments parked for events that
//! never arrived are dropped once older than `pending_enrichment_ttl`, and
//! counted in `/metrics`.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::AppState;
use crate::clock::now_ms;
use crate::error::ServerError;

/// Bounds of how often the sweep runs: a quarter of the TTL within these.
const MIN_PERIOD: Duration = Duration::from_millis(100);
const MAX_PERIOD: Duration = Duration::from_secs(60);

/// Runs the sweep until `stopped` turns true.
pub(crate) fn spawn(
    state: AppState,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<Result<(), ServerError>> {
    tokio::spawn(async move {
        let ttl = state.config.pending_enrichment_ttl;
        let mut tick = tokio::time::interval((ttl / 4).clamp(MIN_PERIOD, MAX_PERIOD));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.wait_for(|s| *s) => return Ok(()),
            }
            let cutoff = now_ms() - ttl.as_secs_f64() * 1000.0;
            match state.store.expire_pending_enrichments(cutoff).await {
                Ok(expired) => state.metrics.enrichments_expired(expired),
                Err(e) => tracing::warn!(error = %e, "expiring parked enrichments failed"),
            }
        }
    })
}
