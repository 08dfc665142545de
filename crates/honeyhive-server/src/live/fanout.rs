//! The fan-out thread: takes committed writes off the hub's queue and offers
//! each event to the subscribers of its project whose filters it matches,
//! encoding its JSON once for all of them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use crossbeam_channel::{Receiver, Sender};

use super::{Inner, LiveEvent, LiveHub, Subscriber};
use crate::store::{Change, Committed};

pub(super) enum Message {
    Commit(Vec<Committed>),
    Stop,
}

/// The queue between the store's writer and the fan-out thread, bounded in
/// events: a push never waits.
pub(super) struct Queue {
    tx: Sender<Message>,
    queued: AtomicUsize,
    max_events: usize,
}

impl Queue {
    pub(super) fn new(max_events: usize) -> (Queue, Receiver<Message>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let queue = Queue {
            tx,
            queued: AtomicUsize::new(0),
            max_events: max_events.max(1),
        };
        (queue, rx)
    }

    /// Queues `commit`; gives it back when the queue holds too many events
    /// (or the thread stopped).
    pub(super) fn push(&self, commit: Vec<Committed>) -> Result<(), Vec<Committed>> {
        let events: usize = commit.iter().map(|c| c.changes.len()).sum();
        let queued = self.queued.fetch_add(events, Ordering::Relaxed);
        if queued > 0 && queued + events > self.max_events {
            self.queued.fetch_sub(events, Ordering::Relaxed);
            return Err(commit);
        }
        self.tx.send(Message::Commit(commit)).map_err(|e| {
            self.queued.fetch_sub(events, Ordering::Relaxed);
            match e.0 {
                Message::Commit(commit) => commit,
                Message::Stop => Vec::new(),
            }
        })
    }

    /// Asks the thread to stop after what is queued.
    pub(super) fn stop(&self) {
        let _ = self.tx.send(Message::Stop);
    }
}

/// Tells every subscriber of the projects of `dropped` that it missed that
/// project's events (whether or not its filters would have kept them: they
/// are not looked at on the writer's thread).
pub(super) fn count_dropped(hub: &LiveHub, dropped: &[Committed]) {
    let directory = hub.directory();
    for committed in dropped {
        let Some(subscribers) = directory.get(&committed.tenant.project_id) else {
            continue;
        };
        let n = committed.changes.len() as u64;
        for subscriber in subscribers {
            subscriber.miss(n);
        }
        hub.missed(n.saturating_mul(subscribers.len() as u64));
    }
}

/// The thread's loop: until stopped, or until the hub is gone.
pub(super) fn run(hub: Weak<Inner>, commits: &Receiver<Message>) {
    let mut matching = Vec::new();
    while let Ok(Message::Commit(commit)) = commits.recv() {
        let Some(inner) = hub.upgrade() else {
            return;
        };
        let hub = LiveHub(inner);
        let events: usize = commit.iter().map(|c| c.changes.len()).sum();
        let directory = hub.directory();
        for committed in commit {
            if let Some(subscribers) = directory.get(&committed.tenant.project_id) {
                fan_out(&hub, subscribers, committed, &mut matching);
            }
        }
        hub.0.fanout.queued.fetch_sub(events, Ordering::Relaxed);
    }
}

/// Offers each change of `committed` to the `subscribers` it matches.
fn fan_out(
    hub: &LiveHub,
    subscribers: &[Arc<Subscriber>],
    committed: Committed,
    matching: &mut Vec<usize>,
) {
    let (mut delivered, mut missed) = (0u64, 0u64);
    let Committed { tenant, changes } = committed;
    for Change { seq, kind, event } in changes {
        matching.clear();
        matching.extend(
            subscribers
                .iter()
                .enumerate()
                .filter(|(_, s)| s.filters.matches(&event))
                .map(|(i, _)| i),
        );
        if matching.is_empty() {
            continue;
        }
        let live = Arc::new(LiveEvent::new(seq, kind, event, &tenant, hub.0.render));
        for &i in matching.iter() {
            if subscribers[i].offer(&live) {
                delivered += 1;
            } else {
                missed += 1;
            }
        }
    }
    let counters = &hub.0.counters;
    counters.delivered.fetch_add(delivered, Ordering::Relaxed);
    counters.missed.fetch_add(missed, Ordering::Relaxed);
}
