//! Keeping a span current across `.await`, and what propagates into spawned tasks.
//!
//! A traced `async fn` attaches its span's context on every poll, so nested traced
//! calls and OpenTelemetry spans see it as parent on whatever thread polls it.
//! `tokio::spawn` (or any executor's spawn) starts a task with an *empty* context:
//! nothing propagates unless the spawned future is wrapped, e.g. with
//! [`with_current_context`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use opentelemetry::Context;

use crate::span::{SpanGuard, SpanShared};

/// A future polled with a span current; panics are recorded on the span and resumed.
pub struct Instrumented<F> {
    inner: Pin<Box<F>>,
    cx: Context,
    shared: Arc<SpanShared>,
}

impl<F> std::fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented").finish_non_exhaustive()
    }
}

impl<F: Future> Instrumented<F> {
    pub(crate) fn new(future: F, span: &SpanGuard) -> Instrumented<F> {
        Instrumented {
            inner: Box::pin(future),
            cx: span.context().clone(),
            shared: span.shared().clone(),
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _attached = this.cx.clone().attach();
        let inner = &mut this.inner;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.as_mut().poll(task))) {
            Ok(poll) => poll,
            Err(payload) => {
                let guard = SpanGuard::from_parts(this.shared.clone(), this.cx.clone());
                guard.record_panic(payload.as_ref());
                drop(guard);
                std::panic::resume_unwind(payload)
            }
        }
    }
}

/// Carry the current context (current span and session) into a future, typically one
/// passed to `tokio::spawn`, so spans it creates nest under the spawning span.
///
/// ```
/// # async fn demo() {
/// let handle = honeyhive::with_current_context(async { 1 + 1 });
/// assert_eq!(handle.await, 2);
/// # }
/// ```
pub fn with_current_context<F: Future>(future: F) -> opentelemetry::context::WithContext<F> {
    use opentelemetry::context::FutureExt;
    future.with_context(Context::current())
}
