//! Internal diagnostics: rate-limited `tracing` events under the `honeyhive` target.
//!
//! Warnings (breaker transitions, rejected keys) are always emitted but at most once
//! per key per interval; debug detail only with `HH_VERBOSE`. Nothing here can fail
//! or block the host for long.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

static VERBOSE: AtomicBool = AtomicBool::new(false);
static LAST_EMITTED: Mutex<Option<HashMap<&'static str, Instant>>> = Mutex::new(None);
const INTERVAL: Duration = Duration::from_secs(60);

pub(crate) fn set_verbose(verbose: bool) {
    if verbose {
        VERBOSE.store(true, Ordering::Relaxed);
    }
}

pub(crate) fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Whether a message with this key may be emitted now (at most once per interval).
pub(crate) fn allow(key: &'static str) -> bool {
    let now = Instant::now();
    let mut guard = LAST_EMITTED.lock();
    let map = guard.get_or_insert_with(HashMap::new);
    match map.get(key) {
        Some(last) if now.duration_since(*last) < INTERVAL => false,
        _ => {
            map.insert(key, now);
            true
        }
    }
}

/// Rate-limited warning.
macro_rules! warn_once {
    ($key:literal, $($arg:tt)*) => {
        if $crate::log::allow($key) {
            ::tracing::warn!(target: "honeyhive", code = $key, $($arg)*);
        }
    };
}

/// Debug detail, only with `HH_VERBOSE`.
macro_rules! debug_verbose {
    ($($arg:tt)*) => {
        if $crate::log::verbose() {
            ::tracing::debug!(target: "honeyhive", $($arg)*);
        }
    };
}

pub(crate) use {debug_verbose, warn_once};
