//! The fan-out thread: takes committed writes off the hub's queue and offers
//! each event to the subscribers of its project whose filters it matches
//! (found through [`ProjectIndex`]), encoding its JSON once for all of them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use crossbeam_channel::{Receiver, Sender};

use super::index::ProjectIndex;
use super::{Directory, Inner, LiveEvent, LiveHub, Subscriber};
use crate::store::{Change, Committed};

pub(super) enum Message {
    Commit(Vec<Committed>),
    /// A commit not queued (the queue was full): how many events of each
    /// project it held, told to their subscribers in its place.
    Missed(Vec<(String, u64)>),
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
                Message::Missed(_) | Message::Stop => Vec::new(),
            }
        })
    }

    /// Queues the count of a commit that was not queued itself: it costs a
    /// few bytes per project, and keeps the notices in commit order.
    pub(super) fn push_missed(&self, dropped: &[Committed]) {
        let mut counts: Vec<(String, u64)> = Vec::new();
        for committed in dropped {
            let n = committed.changes.len() as u64;
            match counts
                .iter_mut()
                .find(|(project, _)| *project == committed.tenant.project_id)
            {
                Some((_, count)) => *count += n,
                None => counts.push((committed.tenant.project_id.clone(), n)),
            }
        }
        let _ = self.tx.send(Message::Missed(counts));
    }

    /// Asks the thread to stop after what is queued.
    pub(super) fn stop(&self) {
        let _ = self.tx.send(Message::Stop);
    }
}

/// Tells every subscriber of the projects in `counts` that it missed that
/// many of its project's events (whether or not its filters would have kept
/// them: a commit not queued is never looked at).
fn count_missed(hub: &LiveHub, counts: &[(String, u64)]) {
    let directory = hub.directory();
    for (project_id, n) in counts {
        let Some(subscribers) = directory.get(project_id) else {
            continue;
        };
        for subscriber in subscribers {
            subscriber.miss(*n);
        }
        hub.missed(n.saturating_mul(subscribers.len() as u64));
    }
}

/// Each project's subscriber index, kept while its subscribers stay the
/// same: one project's subscribers coming and going rebuild only its own.
#[derive(Default)]
struct Indexes {
    snapshot: Option<Arc<Directory>>,
    projects: HashMap<String, (Vec<u64>, ProjectIndex)>,
}

impl Indexes {
    /// The index of `project_id`'s `subscribers` in `directory`.
    fn of(
        &mut self,
        directory: &Arc<Directory>,
        project_id: &str,
        subscribers: &[Arc<Subscriber>],
    ) -> &ProjectIndex {
        if !self
            .snapshot
            .as_ref()
            .is_some_and(|known| Arc::ptr_eq(known, directory))
        {
            self.snapshot = Some(directory.clone());
            self.projects
                .retain(|project, _| directory.contains_key(project));
        }
        let current = |ids: &[u64]| {
            ids.len() == subscribers.len() && ids.iter().zip(subscribers).all(|(id, s)| *id == s.id)
        };
        if !self
            .projects
            .get(project_id)
            .is_some_and(|(ids, _)| current(ids))
        {
            let ids = subscribers.iter().map(|s| s.id).collect();
            let index = ProjectIndex::of(subscribers);
            self.projects.insert(project_id.to_string(), (ids, index));
        }
        &self.projects[project_id].1
    }
}

/// The thread's loop: until stopped, or until the hub is gone.
pub(super) fn run(hub: Weak<Inner>, commits: &Receiver<Message>) {
    let mut matching = Vec::new();
    let mut indexes = Indexes::default();
    loop {
        let commit = match commits.recv() {
            Ok(Message::Commit(commit)) => commit,
            Ok(Message::Missed(counts)) => {
                if let Some(inner) = hub.upgrade() {
                    count_missed(&LiveHub(inner), &counts);
                }
                continue;
            }
            Ok(Message::Stop) | Err(_) => return,
        };
        let Some(inner) = hub.upgrade() else {
            return;
        };
        let hub = LiveHub(inner);
        let events: usize = commit.iter().map(|c| c.changes.len()).sum();
        let directory = hub.directory();
        for committed in commit {
            let project_id = &committed.tenant.project_id;
            if let Some(subscribers) = directory.get(project_id) {
                let index = indexes.of(&directory, project_id, subscribers);
                fan_out(&hub, (subscribers, index), committed, &mut matching);
            }
        }
        hub.0.fanout.queued.fetch_sub(events, Ordering::Relaxed);
    }
}

/// Offers each change of `committed` to the `subscribers` it matches.
fn fan_out(
    hub: &LiveHub,
    (subscribers, index): (&[Arc<Subscriber>], &ProjectIndex),
    committed: Committed,
    matching: &mut Vec<usize>,
) {
    let (mut delivered, mut missed) = (0u64, 0u64);
    let Committed { tenant, changes } = committed;
    for Change { seq, kind, event } in changes {
        index.matching(subscribers, &event, matching);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ChangeKind, Tenant};

    fn commit(project: &str, events: usize) -> Vec<Committed> {
        vec![Committed {
            tenant: Tenant {
                org_id: "o".into(),
                project_id: project.into(),
                project_name: project.into(),
            },
            changes: (0..events)
                .map(|i| Change {
                    seq: i as u64,
                    kind: ChangeKind::Created,
                    event: Default::default(),
                })
                .collect(),
        }]
    }

    #[test]
    fn the_queue_is_bounded_in_events_and_counts_what_it_turns_away() {
        let (queue, rx) = Queue::new(3);
        assert!(queue.push(commit("a", 2)).is_ok());
        let refused = queue.push(commit("b", 2)).expect_err("past 3 events");
        queue.push_missed(&refused);
        let mut kinds = Vec::new();
        while let Ok(message) = rx.try_recv() {
            kinds.push(match message {
                Message::Commit(c) => format!("commit {}", c[0].changes.len()),
                Message::Missed(counts) => format!("missed {counts:?}"),
                Message::Stop => "stop".into(),
            });
        }
        assert_eq!(kinds, ["commit 2", "missed [(\"b\", 2)]"]);
        // A commit alone in the queue is taken whatever its size.
        let (big, _rx) = Queue::new(3);
        assert!(big.push(commit("a", 10)).is_ok());
    }
}
