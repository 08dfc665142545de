//! The process-wide default tracer used by `#[trace]` without `tracer = ..`.
//!
//! The hot path must cost nearly nothing when no recording default exists (one
//! relaxed atomic load), and must not take a lock when one does: each thread caches
//! the default and revalidates it with a generation counter.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::span::{self, Recorder, SpanGuard, SpanMeta};
use crate::tracer::{Tracer, TracerInner};

static DEFAULT: RwLock<Option<Arc<TracerInner>>> = RwLock::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(1);
static DEFAULT_RECORDING: AtomicBool = AtomicBool::new(false);

thread_local! {
    static CACHE: RefCell<(u64, Option<Arc<TracerInner>>)> = const { RefCell::new((0, None)) };
}

/// Make `tracer` the default for `#[trace]` functions that name no tracer.
///
/// The registry keeps its own reference, which does not count as a user handle:
/// dropping your last `Tracer` clone still flushes.
///
/// ```
/// let tracer = honeyhive::Tracer::builder().test_mode(true).build().unwrap();
/// honeyhive::set_default_tracer(&tracer);
/// ```
pub fn set_default_tracer(tracer: &Tracer) {
    let inner = tracer.inner().clone();
    let recording = tracer.is_recording();
    let mut slot = DEFAULT.write();
    *slot = Some(inner);
    DEFAULT_RECORDING.store(recording, Ordering::Release);
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Remove the default tracer (traced functions without `tracer = ..` stop recording).
pub fn clear_default_tracer() {
    let mut slot = DEFAULT.write();
    *slot = None;
    DEFAULT_RECORDING.store(false, Ordering::Release);
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

pub(crate) fn forget_if_default(tracer_id: u64) {
    let is_default = DEFAULT.read().as_ref().is_some_and(|t| t.id == tracer_id);
    if is_default {
        clear_default_tracer();
    }
}

/// Start a span on the default tracer; `None` (and nearly free) when there is none.
#[inline]
pub(crate) fn start_default(
    meta: &'static SpanMeta,
    inputs: impl FnOnce(&mut Recorder<'_>),
) -> Option<SpanGuard> {
    if !DEFAULT_RECORDING.load(Ordering::Relaxed) {
        return None;
    }
    start_default_slow(meta, inputs)
}

#[inline(never)]
fn start_default_slow(
    meta: &'static SpanMeta,
    inputs: impl FnOnce(&mut Recorder<'_>),
) -> Option<SpanGuard> {
    CACHE
        .try_with(|cache| {
            let generation = GENERATION.load(Ordering::Acquire);
            let mut cache = cache.borrow_mut();
            if cache.0 != generation {
                *cache = (generation, DEFAULT.read().clone());
            }
            let inner = cache.1.clone()?;
            drop(cache);
            span::start(
                &inner,
                std::borrow::Cow::Borrowed(meta.name),
                meta.event_type,
                meta.explicit_name,
                meta.attributes_hint,
                inputs,
            )
        })
        .ok()
        .flatten()
}

/// The default tracer, if one is set (a new user handle).
pub fn default_tracer() -> Option<Tracer> {
    DEFAULT.read().clone().map(Tracer::from_inner)
}
