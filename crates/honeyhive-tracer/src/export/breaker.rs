//! Circuit breaker: closed → open after consecutive failures → half-open probe →
//! closed on success (or open again on failure). Transitions are logged once each.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::BreakerPolicy;
use super::Stats;

/// Circuit breaker state, as reported by [`crate::Tracer::health`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BreakerState {
    /// Requests flow normally.
    #[default]
    Closed,
    /// The server is failing; no request is attempted until the open period ends.
    Open,
    /// One probe request is allowed to test recovery.
    HalfOpen,
}

impl BreakerState {
    pub(crate) fn from_u8(v: u8) -> BreakerState {
        match v {
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }
}

pub(crate) struct Breaker {
    policy: BreakerPolicy,
    state: BreakerState,
    consecutive_failures: u32,
    open_until: Option<Instant>,
    stats: Arc<Stats>,
}

impl Breaker {
    pub(crate) fn new(policy: BreakerPolicy, stats: Arc<Stats>) -> Breaker {
        Breaker {
            policy,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            open_until: None,
            stats,
        }
    }

    /// May a request be made now? Moves open → half-open when the open period is over.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed | BreakerState::HalfOpen => true,
            BreakerState::Open => {
                if self.open_until.is_none_or(|until| now >= until) {
                    self.transition(BreakerState::HalfOpen);
                    true
                } else {
                    false
                }
            }
        }
    }

    /// When the breaker will allow a probe, if it is open.
    pub(crate) fn reopens_in(&self, now: Instant) -> Option<Duration> {
        match self.state {
            BreakerState::Open => Some(
                self.open_until
                    .map_or(Duration::ZERO, |u| u.saturating_duration_since(now)),
            ),
            _ => None,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.state == BreakerState::Open
    }

    pub(crate) fn on_success(&mut self) {
        self.consecutive_failures = 0;
        if self.state != BreakerState::Closed {
            self.transition(BreakerState::Closed);
        }
    }

    pub(crate) fn on_failure(&mut self, now: Instant) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let trip = match self.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => {
                self.consecutive_failures >= self.policy.failure_threshold.max(1)
            }
            BreakerState::Open => false,
        };
        if trip {
            self.open_until = Some(now + self.policy.open_for);
            self.transition(BreakerState::Open);
        }
    }

    fn transition(&mut self, to: BreakerState) {
        let from = self.state;
        self.state = to;
        self.stats.breaker.store(to.as_u8(), Ordering::Relaxed);
        self.stats
            .breaker_transitions
            .fetch_add(1, Ordering::Relaxed);
        match to {
            BreakerState::Open => tracing::warn!(
                target: "honeyhive",
                ?from,
                open_for_ms = self.policy.open_for.as_millis() as u64,
                "export circuit breaker opened after {} consecutive failures; spans are queued or spooled",
                self.consecutive_failures
            ),
            BreakerState::HalfOpen => {
                tracing::info!(target: "honeyhive", "export circuit breaker half-open: probing the server")
            }
            BreakerState::Closed => {
                tracing::info!(target: "honeyhive", ?from, "export circuit breaker closed: the server recovered")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_probes_after_open_period_and_closes_on_success() {
        let stats = Arc::new(Stats::default());
        let mut breaker = Breaker::new(
            BreakerPolicy {
                failure_threshold: 2,
                open_for: Duration::from_secs(10),
            },
            stats.clone(),
        );
        let t0 = Instant::now();
        breaker.on_failure(t0);
        assert!(breaker.allow(t0));
        breaker.on_failure(t0);
        assert!(breaker.is_open());
        assert!(!breaker.allow(t0 + Duration::from_secs(1)));
        assert!(breaker.allow(t0 + Duration::from_secs(11)));
        assert_eq!(
            BreakerState::from_u8(stats.breaker.load(Ordering::Relaxed)),
            BreakerState::HalfOpen
        );
        breaker.on_failure(t0 + Duration::from_secs(11));
        assert!(breaker.is_open(), "a failed probe reopens");
        assert!(breaker.allow(t0 + Duration::from_secs(22)));
        breaker.on_success();
        assert_eq!(
            BreakerState::from_u8(stats.breaker.load(Ordering::Relaxed)),
            BreakerState::Closed
        );
        assert_eq!(stats.breaker_transitions.load(Ordering::Relaxed), 5);
    }
}
