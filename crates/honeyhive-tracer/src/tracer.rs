//! The [`Tracer`]: one per HoneyHive session/source/exporter, many per process.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use honeyhive_model::EventType;
use opentelemetry::{Context, ContextGuard};

use crate::config::{ResolvedConfig, Sampler, TracerBuilder};
use crate::enrich::Enrichment;
use crate::error::{BuildError, FlushError};
use crate::export::{Control, FlushReport, Health, Pipeline};
use crate::record::SessionInfo;
use crate::span::{self, SpanGuard};

static NEXT_TRACER_ID: AtomicU64 = AtomicU64::new(1);

/// Shared state of a tracer; spans and the default-tracer registry hold it directly.
pub(crate) struct TracerInner {
    pub(crate) id: u64,
    pub(crate) session: Arc<SessionInfo>,
    pub(crate) pipeline: Option<Arc<Pipeline>>,
    pub(crate) sampler: Sampler,
    pub(crate) config: ResolvedConfig,
    shut_down: AtomicBool,
    user_handles: AtomicUsize,
}

impl Drop for TracerInner {
    fn drop(&mut self) {
        if let Some(pipeline) = &self.pipeline {
            let _ = pipeline.shutdown(self.config.export.drop_flush_timeout);
        }
    }
}

/// A HoneyHive tracer: owns a session, a source and an export pipeline.
///
/// Cheap to clone (all clones share one pipeline). Several tracers can live in one
/// process, each with its own session and exporter. Dropping the last clone flushes
/// pending spans with a bounded deadline.
///
/// ```
/// use honeyhive::Tracer;
///
/// let tracer = Tracer::builder().project("demo").test_mode(true).build()?;
/// honeyhive::set_default_tracer(&tracer);
/// # Ok::<(), honeyhive::Error>(())
/// ```
pub struct Tracer {
    inner: Arc<TracerInner>,
}

impl Clone for Tracer {
    fn clone(&self) -> Self {
        Tracer::from_inner(self.inner.clone())
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        // Only user handles are counted (not the default registry or live spans): when
        // the last one goes, short-lived programs lose nothing, and the bounded
        // deadline means exit never hangs on a dead server.
        if self.inner.user_handles.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(pipeline) = &self.inner.pipeline
            && !self.inner.shut_down.load(Ordering::Relaxed)
        {
            let _ = pipeline.flush(self.inner.config.export.drop_flush_timeout);
        }
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("session_id", &self.session_id())
            .field("source", &self.inner().config.source)
            .field("server_url", &self.inner().config.server_url)
            .finish_non_exhaustive()
    }
}

impl Tracer {
    /// Start configuring a tracer.
    pub fn builder() -> TracerBuilder {
        TracerBuilder::default()
    }

    /// A tracer configured from `HH_*` and `OTEL_*` environment variables only.
    pub fn from_env() -> Result<Tracer, BuildError> {
        TracerBuilder::default().build()
    }

    pub(crate) fn start(config: ResolvedConfig) -> Result<Tracer, BuildError> {
        crate::log::set_verbose(config.verbose);
        let session = Arc::new(SessionInfo {
            session_id: Arc::from(config.session_id.as_str()),
            project: config.project.as_deref().map(Arc::from),
            source: Arc::from(config.source.as_str()),
        });
        let pipeline = if config.test_mode {
            None
        } else {
            Some(Arc::new(Pipeline::start(&config)?))
        };
        if let Some(pipeline) = &pipeline
            && config.start_session
        {
            pipeline.control(Control::session_start(
                &config,
                &config.session_name,
                &config.session_id,
            ));
        }
        let inner = Arc::new(TracerInner {
            id: NEXT_TRACER_ID.fetch_add(1, Ordering::Relaxed),
            session,
            pipeline,
            sampler: config.sampling.sampler(),
            config,
            shut_down: AtomicBool::new(false),
            user_handles: AtomicUsize::new(0),
        });
        Ok(Tracer::from_inner(inner))
    }

    pub(crate) fn from_inner(inner: Arc<TracerInner>) -> Tracer {
        inner.user_handles.fetch_add(1, Ordering::AcqRel);
        Tracer { inner }
    }

    pub(crate) fn inner(&self) -> &Arc<TracerInner> {
        &self.inner
    }

    /// The tracer's own session id (minted client-side unless reused).
    pub fn session_id(&self) -> &str {
        &self.inner().session.session_id
    }

    /// Whether spans are recorded (false in test mode or after shutdown).
    pub fn is_recording(&self) -> bool {
        self.inner().pipeline.is_some() && !self.inner().shut_down.load(Ordering::Relaxed)
    }

    /// Start a new session (e.g. one per request in a server). Spans started while the
    /// returned [`Session`] is entered belong to it; concurrent sessions never mix.
    /// The `POST /session/start` is sent by the export worker, never blocking here.
    ///
    /// ```
    /// let tracer = honeyhive::Tracer::builder().test_mode(true).build().unwrap();
    /// let session = tracer.new_session("request-42");
    /// session.in_scope(|| assert_eq!(tracer.current_session_id(), session.session_id()));
    /// ```
    pub fn new_session(&self, name: &str) -> Session {
        let session_id = crate::record::ids::session_id();
        let inner = self.inner();
        if let Some(pipeline) = &inner.pipeline {
            pipeline.control(Control::session_start(&inner.config, name, &session_id));
        }
        Session {
            scoped: ScopedSession {
                tracer_id: Some(inner.id),
                info: Arc::new(SessionInfo {
                    session_id: Arc::from(session_id.as_str()),
                    project: inner.session.project.clone(),
                    source: inner.session.source.clone(),
                }),
            },
        }
    }

    /// Enrich the current session (the entered [`Session`] or the tracer's own):
    /// sends `PUT /events` with `event_id = session_id`.
    ///
    /// ```
    /// use honeyhive::Enrichment;
    /// let tracer = honeyhive::Tracer::builder().test_mode(true).build().unwrap();
    /// tracer.enrich_session(Enrichment::new().metadata(serde_json::json!({"run": "wire"})));
    /// ```
    pub fn enrich_session(&self, enrichment: Enrichment) {
        let session_id = self.current_session_id();
        if let Some(pipeline) = &self.inner().pipeline {
            pipeline.control(Control::update_event(
                enrichment.into_event_update(&session_id),
            ));
        }
    }

    /// Start a span by hand (what `#[trace]` does). Make it current with
    /// [`SpanGuard::in_scope`], a future's with [`Instrument`](crate::Instrument), or
    /// attach its [`SpanGuard::context`]; it ends on drop. A tracer that does not
    /// record (test mode, shut down) gives [`SpanGuard::none`].
    ///
    /// ```
    /// use honeyhive::EventType;
    /// let tracer = honeyhive::Tracer::builder().test_mode(true).build().unwrap();
    /// let span = tracer.span("step", EventType::Chain);
    /// span.in_scope(|| { /* work */ });
    /// ```
    pub fn span(&self, name: impl Into<Cow<'static, str>>, event_type: EventType) -> SpanGuard {
        if self.inner().shut_down.load(Ordering::Relaxed) {
            return SpanGuard::none();
        }
        span::start(self.inner(), name.into(), event_type, true, 4, |_| {})
            .unwrap_or_else(SpanGuard::none)
    }

    /// The session id spans of this tracer get in the current context: the entered
    /// [`Session`]'s, or the tracer's own.
    ///
    /// ```
    /// let tracer = honeyhive::Tracer::builder().test_mode(true).build().unwrap();
    /// assert_eq!(tracer.current_session_id(), tracer.session_id());
    /// ```
    pub fn current_session_id(&self) -> String {
        let id = self.inner().id;
        Context::map_current(|cx| {
            cx.get::<ScopedSession>()
                .filter(|s| s.applies_to(id))
                .map(|s| s.info.session_id.to_string())
        })
        .unwrap_or_else(|| self.session_id().to_owned())
    }

    /// Export everything recorded so far and wait up to `timeout`.
    ///
    /// ```
    /// let tracer = honeyhive::Tracer::builder().test_mode(true).build().unwrap();
    /// let report = tracer.flush(std::time::Duration::from_secs(1)).unwrap();
    /// assert_eq!(report.dropped.total(), 0);
    /// ```
    pub fn flush(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        match &self.inner().pipeline {
            Some(pipeline) => pipeline.flush(timeout),
            None => Ok(FlushReport::default()),
        }
    }

    /// Flush (bounded by the configured drop deadline) and stop exporting. Spans ended
    /// afterwards are dropped and counted as `shutdown`.
    pub fn shutdown(&self) -> Result<FlushReport, FlushError> {
        let inner = self.inner();
        if inner.shut_down.swap(true, Ordering::SeqCst) {
            return Err(FlushError::ShutDown);
        }
        crate::default_tracer::forget_if_default(inner.id);
        match &inner.pipeline {
            Some(pipeline) => pipeline.shutdown(inner.config.export.drop_flush_timeout),
            None => Ok(FlushReport::default()),
        }
    }

    /// Pipeline health: breaker state, queue fill, sent and dropped counts.
    ///
    /// ```
    /// let tracer = honeyhive::Tracer::builder().test_mode(true).build().unwrap();
    /// assert_eq!(tracer.health().breaker, honeyhive::export::BreakerState::Closed);
    /// ```
    pub fn health(&self) -> Health {
        match &self.inner().pipeline {
            Some(pipeline) => pipeline.health(),
            None => Health::default(),
        }
    }
}

/// A session scoped to a request or task; see [`Tracer::new_session`].
#[derive(Debug, Clone)]
pub struct Session {
    scoped: ScopedSession,
}

impl Session {
    /// The session id.
    pub fn session_id(&self) -> &str {
        &self.scoped.info.session_id
    }

    /// The current context with this session entered (for `FutureExt::with_context`).
    pub fn context(&self) -> Context {
        Context::current_with_value(self.scoped.clone())
    }

    /// Enter the session on this thread until the guard drops.
    pub fn enter(&self) -> ContextGuard {
        self.context().attach()
    }

    /// Run `f` inside the session.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.enter();
        f()
    }

    /// Run a future inside the session (the session follows it across `.await`).
    pub fn instrument<F: std::future::Future>(
        &self,
        future: F,
    ) -> opentelemetry::context::WithContext<F> {
        use opentelemetry::context::FutureExt;
        future.with_context(self.context())
    }
}

/// The session value carried in the OpenTelemetry context.
#[derive(Debug, Clone)]
pub(crate) struct ScopedSession {
    /// The tracer that created it; `None` for sessions extracted from baggage.
    pub(crate) tracer_id: Option<u64>,
    pub(crate) info: Arc<SessionInfo>,
}

impl ScopedSession {
    pub(crate) fn applies_to(&self, tracer_id: u64) -> bool {
        self.tracer_id.is_none_or(|id| id == tracer_id)
    }

    pub(crate) fn extracted(session_id: &str, tracer: &Tracer) -> ScopedSession {
        let inner = tracer.inner();
        ScopedSession {
            tracer_id: None,
            info: Arc::new(SessionInfo {
                session_id: Arc::from(session_id),
                project: inner.session.project.clone(),
                source: inner.session.source.clone(),
            }),
        }
    }
}

/// A new session id, minted as the tracer mints its own: a UUIDv7, time first.
///
/// For code that starts a session with its own request (the experiments runner
/// sends `POST /session/start` itself) and then records spans into it.
///
/// ```
/// let (a, b) = (honeyhive::new_session_id(), honeyhive::new_session_id());
/// assert_eq!(a.len(), 36);
/// assert_ne!(a, b);
/// ```
pub fn new_session_id() -> String {
    crate::record::ids::session_id()
}
