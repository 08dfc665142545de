//! One subscriber's bounded buffer: the fan-out offers events, the
//! subscriber reads them; what does not fit is counted and read as a gap.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use honeyhive_model::filter::FilterSet;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::{LiveEvent, LiveHub, LiveLimits};

/// What a subscriber reads.
#[derive(Debug, Clone)]
pub enum LiveMessage {
    /// A committed event that matches.
    Event(Arc<LiveEvent>),
    /// `missed` events that matched (or, when the hub itself fell behind,
    /// events of the project that may have) were not kept for this
    /// subscriber: they committed here, between the events around this notice.
    Lagged {
        /// How many.
        missed: u64,
    },
}

/// The buffer, behind the subscriber's lock.
#[derive(Debug, Default)]
struct Buffer {
    items: VecDeque<LiveMessage>,
    /// Events in `items` and what they cost (see `LiveEvent::cost`).
    events: usize,
    bytes: usize,
    closed: bool,
}

impl Buffer {
    /// Records `n` missed events where the buffer ends: a gap notice, or the
    /// last one grown when nothing was kept since it. At most one notice
    /// follows each kept event, so notices are bounded with the events.
    fn miss(&mut self, n: u64) {
        if let Some(LiveMessage::Lagged { missed }) = self.items.back_mut() {
            *missed += n;
        } else {
            self.items.push_back(LiveMessage::Lagged { missed: n });
        }
    }
}

/// A subscriber as the fan-out sees it: its filters and its buffer.
#[derive(Debug)]
pub(super) struct Subscriber {
    pub(super) id: u64,
    pub(super) filters: FilterSet,
    limits: LiveLimits,
    buffer: Mutex<Buffer>,
    ready: Notify,
}

impl Subscriber {
    pub(super) fn new(id: u64, filters: FilterSet, limits: LiveLimits) -> Subscriber {
        Subscriber {
            id,
            filters,
            limits,
            buffer: Mutex::new(Buffer::default()),
            ready: Notify::new(),
        }
    }

    /// Keeps `event` if the buffer has room for it, else counts it missed;
    /// true when kept. An event alone in the buffer always fits.
    pub(super) fn offer(&self, event: &Arc<LiveEvent>) -> bool {
        let cost = event.cost();
        let mut buffer = self.buffer.lock();
        if buffer.closed {
            return true;
        }
        let fits = buffer.events < self.limits.buffer_events
            && (buffer.events == 0
                || buffer.bytes.saturating_add(cost) <= self.limits.buffer_bytes);
        if fits {
            buffer.items.push_back(LiveMessage::Event(event.clone()));
            buffer.events += 1;
            buffer.bytes = buffer.bytes.saturating_add(cost);
        } else {
            buffer.miss(1);
        }
        drop(buffer);
        self.ready.notify_one();
        fits
    }

    /// Counts `n` events missed before they reached the buffer.
    pub(super) fn miss(&self, n: u64) {
        let mut buffer = self.buffer.lock();
        if buffer.closed {
            return;
        }
        buffer.miss(n);
        drop(buffer);
        self.ready.notify_one();
    }

    /// Ends the subscription once its buffer is read.
    pub(super) fn close(&self) {
        self.buffer.lock().closed = true;
        self.ready.notify_one();
    }

    /// The next message, waiting for one; `None` once closed and read.
    async fn next(&self) -> Option<LiveMessage> {
        loop {
            {
                let mut buffer = self.buffer.lock();
                if let Some(message) = buffer.items.pop_front() {
                    if let LiveMessage::Event(event) = &message {
                        buffer.events -= 1;
                        buffer.bytes = buffer.bytes.saturating_sub(event.cost());
                    }
                    return Some(message);
                }
                if buffer.closed {
                    return None;
                }
            }
            // A notification sent since the check above is kept as a permit.
            self.ready.notified().await;
        }
    }
}

/// A subscriber's end: reads its messages; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    hub: LiveHub,
    project_id: String,
    subscriber: Arc<Subscriber>,
}

impl Subscription {
    pub(super) fn new(hub: LiveHub, project_id: String, subscriber: Arc<Subscriber>) -> Self {
        Subscription {
            hub,
            project_id,
            subscriber,
        }
    }

    /// The next message, waiting for one; `None` once the hub closed and the
    /// buffer is read.
    pub async fn next(&mut self) -> Option<LiveMessage> {
        let message = self.subscriber.next().await;
        if let Some(LiveMessage::Lagged { .. }) = &message {
            let counters = &self.hub.0.counters;
            counters.lag_notices.fetch_add(1, Ordering::Relaxed);
        }
        message
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(&self.project_id, self.subscriber.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ChangeKind;

    fn event(seq: u64, json_len: usize) -> Arc<LiveEvent> {
        Arc::new(LiveEvent {
            seq,
            kind: ChangeKind::Created,
            event: Default::default(),
            json: "x".repeat(json_len),
        })
    }

    fn drain(subscriber: &Subscriber) -> Vec<String> {
        let mut buffer = subscriber.buffer.lock();
        let items: Vec<String> = buffer
            .items
            .drain(..)
            .map(|m| match m {
                LiveMessage::Event(e) => format!("e{}", e.seq),
                LiveMessage::Lagged { missed } => format!("lagged {missed}"),
            })
            .collect();
        buffer.events = 0;
        buffer.bytes = 0;
        items
    }

    #[test]
    fn a_full_buffer_counts_what_it_misses_where_the_gap_is() {
        let limits = LiveLimits {
            buffer_events: 2,
            buffer_bytes: 1000,
            ..LiveLimits::default()
        };
        let subscriber = Subscriber::new(1, FilterSet::default(), limits);
        let kept: Vec<bool> = (1..=5)
            .map(|seq| subscriber.offer(&event(seq, 10)))
            .collect();
        assert_eq!(kept, [true, true, false, false, false]);
        assert_eq!(drain(&subscriber), ["e1", "e2", "lagged 3"]);
        assert!(subscriber.offer(&event(6, 10)));
        subscriber.miss(4);
        assert!(subscriber.offer(&event(7, 10)));
        assert_eq!(drain(&subscriber), ["e6", "lagged 4", "e7"]);
    }

    #[test]
    fn bytes_bound_the_buffer_but_an_event_alone_always_fits() {
        let limits = LiveLimits {
            buffer_events: 100,
            buffer_bytes: 100,
            ..LiveLimits::default()
        };
        let subscriber = Subscriber::new(1, FilterSet::default(), limits);
        assert!(subscriber.offer(&event(1, 500)), "alone, past the bound");
        assert!(!subscriber.offer(&event(2, 10)));
        assert_eq!(drain(&subscriber), ["e1", "lagged 1"]);
        assert!(subscriber.offer(&event(3, 30)), "costs 60");
        assert!(!subscriber.offer(&event(4, 30)), "would make 120");
    }
}
