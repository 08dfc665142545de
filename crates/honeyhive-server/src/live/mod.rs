//! Live push: committed events fanned out to subscribers, per project and
//! filter, each through a bounded buffer.
//!
//! ```text
//! store writer ── after each durable commit ──> LiveHub::committed (a queue push, nothing more)
//!                                                │
//!                               fan-out thread   ▼  per project, per subscriber: filter, then
//!                                                   offer to its buffer (full: counted as missed)
//!                                                │
//!        Subscription::next  <── bounded buffer ─┘  events, and "lagged, N missed" in place of a gap
//!             ▲
//!        Follow: "ready" with a cursor, the store's replay after a client's cursor, then live
//!             ▲
//!        GET /v1/events/stream (SSE); a GraphQL subscription can read a Follow the same way
//! ```
//!
//! The store numbers every change (the commit sequence, see
//! [`crate::store::Change`]) and hands each commit to the hub only after it is
//! durable, in commit order, so a subscriber sees numbers rise and nothing
//! that could still be lost. With no subscriber the store hands nothing over.
//! Filtering and JSON encoding run on the hub's own thread, once per event
//! (the JSON is shared by every subscriber it matches), never on the writer or
//! an async worker. A subscriber that does not keep up misses events, never
//! slows the writer or the others: its buffer is bounded in events and bytes,
//! what does not fit is counted (`hh_live_events_missed_total`) and the
//! subscriber reads a [`LiveMessage::Lagged`] where the gap is.

mod fanout;
mod follow;
mod index;
mod queue;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use honeyhive_model::filter::FilterSet;
use honeyhive_model::{ErrorCode, ErrorCoded, Event};
use parking_lot::{Mutex, RwLock};

use crate::store::{ChangeKind, CommitFeed, Committed, Tenant};

pub use follow::{Follow, FollowMessage, MAX_REPLAY_EVENTS, REPLAY_PAGE_EVENTS};
pub use queue::{LiveMessage, Subscription};

use queue::Subscriber;

/// How an event is shown to subscribers: its JSON text, as the REST API
/// shows it to `tenant` (the server passes the API's own rendering).
pub type Render = fn(&Event, &Tenant) -> String;

/// Bounds of live push; each is a field of [`crate::ServerConfig::live`].
///
/// ```
/// let limits = honeyhive_server::live::LiveLimits::default();
/// assert_eq!(limits.max_subscribers, 256);
/// assert_eq!(limits.buffer_bytes, 2 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveLimits {
    /// Subscribers across all projects; past it a new one is refused (429).
    pub max_subscribers: usize,
    /// Subscribers of one project; past it a new one is refused (429).
    pub max_subscribers_per_project: usize,
    /// Events one subscriber's buffer holds before it misses events.
    pub buffer_events: usize,
    /// Bytes one subscriber's buffer holds before it misses events: an event
    /// counts twice its JSON (the event and its JSON are both kept). An event
    /// larger than this still reaches a subscriber whose buffer is empty.
    pub buffer_bytes: usize,
    /// Events committed but not yet fanned out; past it a commit is not
    /// fanned out, and every subscriber of its projects is told how many of
    /// their project's events it missed.
    pub fanout_queue_events: usize,
}

impl Default for LiveLimits {
    fn default() -> LiveLimits {
        LiveLimits {
            max_subscribers: 256,
            max_subscribers_per_project: 128,
            buffer_events: 4096,
            buffer_bytes: 2 * 1024 * 1024,
            fanout_queue_events: 65_536,
        }
    }
}

/// A new subscriber refused for the subscriber limits.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SubscribeError {
    /// [`LiveLimits::max_subscribers`] are following already.
    #[error("the server has its most live subscribers ({0})")]
    ServerFull(usize),
    /// [`LiveLimits::max_subscribers_per_project`] of this project are following already.
    #[error("this project has its most live subscribers ({0})")]
    ProjectFull(usize),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
}

/// 429 with a retry delay: a subscriber slot frees when a stream closes.
impl ErrorCoded for SubscribeError {
    fn code(&self) -> ErrorCode {
        match self {
            SubscribeError::Closed => ErrorCode::Unavailable,
            _ => ErrorCode::OverBudget,
        }
    }

    fn hint(&self) -> Option<&str> {
        Some(match self {
            SubscribeError::Closed => "reconnect to the server once it is back",
            _ => "close streams you no longer read, or retry later",
        })
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(1))
    }
}

/// One committed event as subscribers receive it.
#[derive(Debug)]
pub struct LiveEvent {
    /// Its number in the commit sequence (the SSE `id`, a resume cursor).
    pub seq: u64,
    /// Created or updated.
    pub kind: ChangeKind,
    /// The event as committed.
    pub event: Event,
    json: String,
}

impl LiveEvent {
    /// Change `seq` of `event`, with its JSON made by `render`; the event's
    /// `project_id` is set to the tenant's, as the API shows it.
    pub fn new(
        seq: u64,
        kind: ChangeKind,
        mut event: Event,
        tenant: &Tenant,
        render: Render,
    ) -> Self {
        if event.project_id != tenant.project_id {
            event.project_id.clone_from(&tenant.project_id);
        }
        let json = render(&event, tenant);
        LiveEvent {
            seq,
            kind,
            event,
            json,
        }
    }

    /// The event's JSON text, as `GET /events` shows it.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// What holding it costs a buffer: the event and its JSON.
    fn cost(&self) -> usize {
        self.json.len().saturating_mul(2)
    }
}

/// Counters of live push, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Subscribers following now.
    pub subscribers: u64,
    /// Subscribers refused for the limits, since start.
    pub refused: u64,
    /// Events delivered into subscribers' buffers (one per subscriber).
    pub delivered: u64,
    /// Events a subscriber missed: its buffer was full, or the fan-out queue was.
    pub missed: u64,
    /// "lagged" notices read by subscribers.
    pub lag_notices: u64,
}

#[derive(Debug, Default)]
struct Counters {
    refused: AtomicU64,
    delivered: AtomicU64,
    missed: AtomicU64,
    lag_notices: AtomicU64,
}

/// Subscribers by project id; replaced whole when one comes or goes, so the
/// fan-out reads a snapshot without holding a lock while it works.
type Directory = HashMap<String, Vec<Arc<Subscriber>>>;

struct Inner {
    limits: LiveLimits,
    render: Render,
    directory: RwLock<Arc<Directory>>,
    subscribers: AtomicUsize,
    next_id: AtomicU64,
    counters: Counters,
    fanout: fanout::Queue,
    closed: std::sync::atomic::AtomicBool,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The live hub: the store's [`CommitFeed`], and where subscribers follow
/// committed events. Cheap to clone.
///
/// ```
/// use honeyhive_server::live::{LiveHub, LiveLimits};
/// use honeyhive_server::store::{CommitFeed, Tenant};
/// let hub = LiveHub::start(LiveLimits::default(), |e, _| e.event_id.clone()).unwrap();
/// assert!(!hub.is_listening(), "nobody follows yet: commits are not handed over");
/// let tenant = Tenant { org_id: "o".into(), project_id: "p".into(), project_name: "demo".into() };
/// let subscription = hub.subscribe(&tenant, Default::default()).unwrap();
/// assert!(hub.is_listening());
/// drop(subscription);
/// assert!(!hub.is_listening());
/// hub.close();
/// ```
#[derive(Clone)]
pub struct LiveHub(Arc<Inner>);

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("limits", &self.0.limits)
            .field("subscribers", &self.0.subscribers.load(Ordering::Relaxed))
            .finish()
    }
}

impl LiveHub {
    /// A hub with `limits`, showing events as `render` makes them, and its
    /// fan-out thread.
    pub fn start(limits: LiveLimits, render: Render) -> std::io::Result<LiveHub> {
        let (fanout, commits) = fanout::Queue::new(limits.fanout_queue_events);
        let hub = LiveHub(Arc::new(Inner {
            limits,
            render,
            directory: RwLock::new(Arc::new(Directory::new())),
            subscribers: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            counters: Counters::default(),
            fanout,
            closed: Default::default(),
            thread: Mutex::new(None),
        }));
        // The thread holds the hub weakly: dropping the last handle ends it.
        let worker = Arc::downgrade(&hub.0);
        let thread = std::thread::Builder::new()
            .name("hh-live-fanout".into())
            .spawn(move || fanout::run(worker, &commits))?;
        *hub.0.thread.lock() = Some(thread);
        Ok(hub)
    }

    /// Follows the committed events of `tenant`'s project that match
    /// `filters`, from now on.
    pub fn subscribe(
        &self,
        tenant: &Tenant,
        filters: FilterSet,
    ) -> Result<Subscription, SubscribeError> {
        let inner = &self.0;
        let mut directory = inner.directory.write();
        if inner.closed.load(Ordering::SeqCst) {
            return Err(SubscribeError::Closed);
        }
        let limits = inner.limits;
        let refuse = |e: SubscribeError| {
            inner.counters.refused.fetch_add(1, Ordering::Relaxed);
            Err(e)
        };
        if inner.subscribers.load(Ordering::SeqCst) >= limits.max_subscribers {
            return refuse(SubscribeError::ServerFull(limits.max_subscribers));
        }
        let of_project = directory.get(&tenant.project_id).map_or(0, Vec::len);
        if of_project >= limits.max_subscribers_per_project {
            return refuse(SubscribeError::ProjectFull(
                limits.max_subscribers_per_project,
            ));
        }
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let subscriber = Arc::new(Subscriber::new(id, filters, limits));
        let mut next = Directory::clone(&directory);
        next.entry(tenant.project_id.clone())
            .or_default()
            .push(subscriber.clone());
        *directory = Arc::new(next);
        inner.subscribers.fetch_add(1, Ordering::SeqCst);
        Ok(Subscription::new(
            self.clone(),
            tenant.project_id.clone(),
            subscriber,
        ))
    }

    /// Removes subscriber `id` of `project_id` (its [`Subscription`] dropped).
    fn unsubscribe(&self, project_id: &str, id: u64) {
        let inner = &self.0;
        let mut directory = inner.directory.write();
        let mut next = Directory::clone(&directory);
        let Some(list) = next.get_mut(project_id) else {
            return;
        };
        let before = list.len();
        list.retain(|s| s.id != id);
        if list.len() == before {
            return;
        }
        if list.is_empty() {
            next.remove(project_id);
        }
        *directory = Arc::new(next);
        inner.subscribers.fetch_sub(1, Ordering::SeqCst);
    }

    /// The subscribers now, by project.
    fn directory(&self) -> Arc<Directory> {
        self.0.directory.read().clone()
    }

    /// Counts `n` events a subscriber missed.
    fn missed(&self, n: u64) {
        self.0.counters.missed.fetch_add(n, Ordering::Relaxed);
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> LiveStats {
        let c = &self.0.counters;
        LiveStats {
            subscribers: self.0.subscribers.load(Ordering::Relaxed) as u64,
            refused: c.refused.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            missed: c.missed.load(Ordering::Relaxed),
            lag_notices: c.lag_notices.load(Ordering::Relaxed),
        }
    }

    /// Ends every subscription (each reads what its buffer holds, then its
    /// end), refuses new ones and stops the fan-out thread. Idempotent.
    pub fn close(&self) {
        let inner = &self.0;
        {
            let mut directory = inner.directory.write();
            inner.closed.store(true, Ordering::SeqCst);
            for subscriber in directory.values().flatten() {
                subscriber.close();
            }
            *directory = Arc::new(Directory::new());
            inner.subscribers.store(0, Ordering::SeqCst);
        }
        inner.fanout.stop();
        let thread = inner.thread.lock().take();
        if let Some(thread) = thread
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

impl CommitFeed for LiveHub {
    fn is_listening(&self) -> bool {
        // Ordered with the subscription's own increment: a commit that ends
        // after a subscriber read the store's highest number sees it listening.
        self.0.subscribers.load(Ordering::SeqCst) > 0
    }

    fn committed(&self, commit: Vec<Committed>) {
        if let Err(dropped) = self.0.fanout.push(commit) {
            self.0.fanout.push_missed(&dropped);
        }
    }
}

#[cfg(test)]
mod tests {
    use honeyhive_model::EventType;
    use honeyhive_model::filter::{FieldPath, Filter, FilterValue, Operator};

    use super::*;
    use crate::store::Change;

    fn tenant(project: &str) -> Tenant {
        Tenant {
            org_id: "o".into(),
            project_id: project.into(),
            project_name: project.into(),
        }
    }

    fn change(seq: u64, name: &str, event_type: EventType) -> Change {
        Change {
            seq,
            kind: ChangeKind::Created,
            event: Event {
                event_id: format!("e{seq}"),
                event_name: name.into(),
                event_type,
                ..Event::default()
            },
        }
    }

    fn models_only() -> FilterSet {
        FilterSet {
            filters: vec![Filter {
                field: FieldPath::parse("event_type").expect("field"),
                operator: Operator::Is,
                value: FilterValue::Text("model".into()),
            }],
        }
    }

    /// What a subscription reads next, as text: `name@seq` or `lagged N`.
    async fn read(subscription: &mut Subscription) -> Option<String> {
        subscription.next().await.map(|m| match m {
            LiveMessage::Event(e) => format!("{}@{}", e.json(), e.seq),
            LiveMessage::Lagged { missed } => format!("lagged {missed}"),
        })
    }

    #[test]
    fn commits_reach_the_subscribers_of_their_project_whose_filters_match() {
        let limits = LiveLimits {
            buffer_events: 2,
            ..LiveLimits::default()
        };
        let hub = LiveHub::start(limits, |e, t| {
            format!("{}/{}", t.project_name, e.event_name)
        })
        .expect("hub");
        let (a, b) = (tenant("a"), tenant("b"));
        let mut all = hub.subscribe(&a, FilterSet::default()).expect("subscribe");
        let mut models = hub.subscribe(&a, models_only()).expect("subscribe");
        let mut other = hub.subscribe(&b, FilterSet::default()).expect("subscribe");
        assert_eq!(hub.stats().subscribers, 3);
        hub.committed(vec![Committed {
            tenant: a.clone(),
            changes: vec![
                change(1, "t1", EventType::Tool),
                change(2, "m1", EventType::Model),
                change(3, "t2", EventType::Tool),
            ],
        }]);
        hub.committed(vec![Committed {
            tenant: b,
            changes: vec![change(4, "theirs", EventType::Tool)],
        }]);
        // The fan-out thread offers both commits before anything is read, so
        // the first subscriber's buffer is full when the third event comes.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while {
            let stats = hub.stats();
            stats.delivered + stats.missed < 5
        } {
            assert!(
                std::time::Instant::now() < deadline,
                "the fan-out never ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            // Its buffer holds two: the third is missed, and said so.
            assert_eq!(read(&mut all).await.as_deref(), Some("a/t1@1"));
            assert_eq!(read(&mut all).await.as_deref(), Some("a/m1@2"));
            assert_eq!(read(&mut all).await.as_deref(), Some("lagged 1"));
            assert_eq!(read(&mut models).await.as_deref(), Some("a/m1@2"));
            assert_eq!(read(&mut other).await.as_deref(), Some("b/theirs@4"));
        });
        let stats = hub.stats();
        assert_eq!(
            (stats.delivered, stats.missed, stats.lag_notices),
            (4, 1, 1)
        );
        drop(models);
        assert_eq!(hub.stats().subscribers, 2);

        hub.close();
        assert!(matches!(
            hub.subscribe(&a, FilterSet::default()),
            Err(SubscribeError::Closed)
        ));
        runtime.block_on(async {
            assert_eq!(read(&mut all).await, None, "closed: the stream ends");
        });
    }

    #[test]
    fn subscribers_are_limited_per_project_and_in_all() {
        let limits = LiveLimits {
            max_subscribers: 3,
            max_subscribers_per_project: 2,
            ..LiveLimits::default()
        };
        let hub = LiveHub::start(limits, |e, _| e.event_id.clone()).expect("hub");
        let (a, b) = (tenant("a"), tenant("b"));
        let _a1 = hub.subscribe(&a, FilterSet::default()).expect("first");
        let a2 = hub.subscribe(&a, FilterSet::default()).expect("second");
        assert_eq!(
            hub.subscribe(&a, FilterSet::default()).err(),
            Some(SubscribeError::ProjectFull(2))
        );
        let _b1 = hub
            .subscribe(&b, FilterSet::default())
            .expect("other project");
        assert_eq!(
            hub.subscribe(&b, FilterSet::default()).err(),
            Some(SubscribeError::ServerFull(3))
        );
        drop(a2);
        hub.subscribe(&b, FilterSet::default())
            .expect("a slot freed");
        assert_eq!(hub.stats().refused, 2);
        hub.close();
    }
}
