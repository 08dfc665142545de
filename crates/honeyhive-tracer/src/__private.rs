//! Support code for `#[honeyhive::trace]`. Not a public API: may change in any release.
//!
//! Input and output capture use autoref specialisation so that arguments and return
//! types that are not `Serialize` still compile: the macro calls a method on
//! `&&Capture(&arg)` / `&&&&Output(&ret)` and method resolution picks the most
//! specific impl whose bounds hold.

use std::fmt::{Debug, Display};

use serde::Serialize;

pub use crate::instrument::Instrumented;
pub use crate::span::{Recorder, SpanGuard, SpanMeta};
use crate::tracer::Tracer;
pub use honeyhive_model::EventType;

/// Start a span on the default tracer (`None` when there is none or it does not record);
/// `inputs` records the arguments before the span is shared.
#[inline]
pub fn start_default(
    meta: &'static SpanMeta,
    inputs: impl FnOnce(&mut Recorder<'_>),
) -> Option<SpanGuard> {
    crate::default_tracer::start_default(meta, inputs)
}

/// Start a span on an explicit tracer.
#[inline]
pub fn start_with(
    tracer: &Tracer,
    meta: &'static SpanMeta,
    inputs: impl FnOnce(&mut Recorder<'_>),
) -> Option<SpanGuard> {
    if !tracer.is_recording() {
        return None;
    }
    crate::span::start(
        tracer.inner(),
        std::borrow::Cow::Borrowed(meta.name),
        meta.event_type,
        meta.explicit_name,
        meta.attributes_hint,
        inputs,
    )
}

/// Make the span current while the future is polled; records panics. The span is
/// lent, so the expansion can record the output and end it afterwards.
pub fn instrument<F: std::future::Future>(
    span: &SpanGuard,
    future: F,
) -> Instrumented<F, &SpanGuard> {
    Instrumented::new(future, span)
}

/// Wrapper for input capture.
pub struct Capture<'a, T: ?Sized>(pub &'a T);

/// Serializable inputs: recorded as `honeyhive_inputs.<arg>`.
pub trait CaptureSerialize {
    /// Record the input.
    fn __hh_capture(&self, span: &mut Recorder<'_>, key: &'static str);
}

impl<T: Serialize + ?Sized> CaptureSerialize for &Capture<'_, T> {
    fn __hh_capture(&self, span: &mut Recorder<'_>, key: &'static str) {
        span.record_input(key, self.0);
    }
}

/// Inputs that are not `Serialize`: their type name is recorded instead.
pub trait CaptureFallback {
    /// Record the input's type name.
    fn __hh_capture(&self, span: &mut Recorder<'_>, key: &'static str);
}

impl<T: ?Sized> CaptureFallback for Capture<'_, T> {
    fn __hh_capture(&self, span: &mut Recorder<'_>, key: &'static str) {
        span.record_str(key, std::any::type_name::<T>());
    }
}

/// Wrapper for output capture.
pub struct Output<'a, T: ?Sized>(pub &'a T);

/// `Result<T: Serialize, E: Display>`: output on `Ok`, error on `Err`.
pub trait OutputResultSerialize {
    /// Record the output or error.
    fn __hh_record(&self, span: &mut Recorder<'_>);
}

impl<T: Serialize, E: Display> OutputResultSerialize for &&&Output<'_, Result<T, E>> {
    fn __hh_record(&self, span: &mut Recorder<'_>) {
        match self.0 {
            Ok(value) => span.record_output(value),
            Err(error) => span.record_error(&short_type_name::<E>(), &error.to_string()),
        }
    }
}

/// `Result<T, E: Debug>`: error on `Err` (formatted with `Debug`).
pub trait OutputResultDebug {
    /// Record the error.
    fn __hh_record(&self, span: &mut Recorder<'_>);
}

impl<T, E: Debug> OutputResultDebug for &&Output<'_, Result<T, E>> {
    fn __hh_record(&self, span: &mut Recorder<'_>) {
        if let Err(error) = self.0 {
            span.record_error(&short_type_name::<E>(), &format!("{error:?}"));
        }
    }
}

/// Serializable outputs: recorded (flattened) as `honeyhive_outputs.result`.
pub trait OutputSerialize {
    /// Record the output.
    fn __hh_record(&self, span: &mut Recorder<'_>);
}

impl<T: Serialize + ?Sized> OutputSerialize for &Output<'_, T> {
    fn __hh_record(&self, span: &mut Recorder<'_>) {
        span.record_output(self.0);
    }
}

/// Anything else: nothing is recorded.
pub trait OutputFallback {
    /// Record nothing.
    fn __hh_record(&self, span: &mut Recorder<'_>);
}

impl<T: ?Sized> OutputFallback for Output<'_, T> {
    fn __hh_record(&self, _span: &mut Recorder<'_>) {}
}

/// Record a `metadata = ..` / `config = ..` option value.
pub fn record_option<T: Serialize + ?Sized>(
    span: &mut Recorder<'_>,
    prefix: &'static str,
    value: &T,
) {
    span.record_flattened(prefix, value);
}

/// `std::io::Error` → `io::Error`, `my::AppError<T>` → `AppError`: short like Python's
/// exception class names, but keeping the module when the type is just called `Error`.
pub fn short_type_name<T: ?Sized>() -> String {
    let full = std::any::type_name::<T>();
    let without_generics = full.split('<').next().unwrap_or(full);
    let mut segments = without_generics.rsplit("::");
    let last = segments.next().unwrap_or(without_generics);
    match (last, segments.next()) {
        ("Error", Some(module)) => format!("{module}::Error"),
        _ => last.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_names_read_like_exception_classes() {
        assert_eq!(short_type_name::<std::io::Error>(), "error::Error");
        assert_eq!(
            short_type_name::<std::num::ParseIntError>(),
            "ParseIntError"
        );
        assert_eq!(short_type_name::<Vec<String>>(), "Vec");
    }
}
