//! Keeping a span current across `.await`, and what propagates into spawned tasks.
//!
//! A traced `async fn` makes its span current on every poll, so nested traced calls
//! and OpenTelemetry spans see it as parent on whatever thread polls it. The same is
//! open to any future through [`Instrument`]. `tokio::spawn` (or any executor's spawn)
//! starts a task with an *empty* context: nothing propagates unless the spawned
//! future is wrapped, with [`Instrument::in_current_context`].

use std::borrow::Borrow;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use opentelemetry::Context;
use opentelemetry::context::{FutureExt as _, WithContext};

use crate::span::SpanGuard;

pin_project_lite::pin_project! {
    /// A future polled with a span current; a panic is recorded on the span, which
    /// then ends, and resumed. Made by [`Instrument::instrument`], which hands it the
    /// span; `#[trace]` lends it one it keeps (`S = &SpanGuard`). No allocation.
    pub struct Instrumented<F, S = SpanGuard> {
        #[pin]
        inner: F,
        span: S,
    }
}

impl<F, S> std::fmt::Debug for Instrumented<F, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented").finish_non_exhaustive()
    }
}

impl<F: Future, S: Borrow<SpanGuard>> Instrumented<F, S> {
    pub(crate) fn new(inner: F, span: S) -> Instrumented<F, S> {
        Instrumented { inner, span }
    }
}

impl<F: Future, S: Borrow<SpanGuard>> Future for Instrumented<F, S> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let span: &SpanGuard = (*this.span).borrow();
        let _attached = span.context().clone().attach();
        let inner = this.inner;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(task))) {
            Ok(poll) => poll,
            Err(payload) => {
                span.record_panic(payload.as_ref());
                span.end();
                std::panic::resume_unwind(payload)
            }
        }
    }
}

/// Runs futures inside a span or the current context, as `tracing::Instrument` does.
///
/// ```
/// use honeyhive::{EventType, Instrument, Tracer};
/// # async fn demo() -> Result<(), honeyhive::BuildError> {
/// let tracer = Tracer::builder().test_mode(true).build()?;
/// // The span is current while the future runs and ends when it is done.
/// let answer = async { 6 * 7 }
///     .instrument(tracer.span("compute", EventType::Chain))
///     .await;
/// assert_eq!(answer, 42);
/// // A task spawned on an executor starts with an empty context: carry this one.
/// let handle = async { 1 + 1 }.in_current_context();
/// assert_eq!(handle.await, 2);
/// # Ok(())
/// # }
/// ```
pub trait Instrument: Future + Sized {
    /// This future with `span` current while it is polled; the span ends when the
    /// returned future is dropped (or on a panic, which it records).
    fn instrument(self, span: SpanGuard) -> Instrumented<Self> {
        Instrumented::new(self, span)
    }

    /// This future with the current context (its span and session) current while it
    /// is polled, typically one passed to `tokio::spawn`, so spans it creates nest
    /// under the spawning span.
    fn in_current_context(self) -> WithContext<Self> {
        self.with_context(Context::current())
    }
}

impl<F: Future> Instrument for F {}
