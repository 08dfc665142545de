//! Following a project's events as a client does: a cursor, the store's
//! replay of what committed after the client's own cursor, then live events,
//! with no gap and no repeat between the two.
//!
//! On start the subscription is made first, then the project's highest
//! sequence number `H` is read. Everything committed before the subscription
//! is numbered at most `H` (the store numbers in commit order), and everything
//! numbered above `H` commits after it, so reaches the subscription. The
//! replay therefore reads `(cursor, H]` from the store and the live part skips
//! what is numbered `H` or less.

use std::collections::VecDeque;
use std::sync::Arc;

use honeyhive_model::filter::FilterSet;
use honeyhive_model::{ErrorCode, ErrorCoded};

use super::{LiveEvent, LiveHub, LiveMessage, SubscribeError, Subscription};
use crate::store::{ChangesQuery, ReadError, Store, StoreError, Tenant};

/// Events one replay read asks for.
pub const REPLAY_PAGE_EVENTS: u64 = 1000;

/// Most events one resume replays from the store (the largest page
/// `GET /events` answers); what committed beyond is counted and announced as
/// missed, to be read with `GET /events`.
pub const MAX_REPLAY_EVENTS: u64 = 7500;

/// What a client following events reads, in order.
#[derive(Debug, Clone)]
pub enum FollowMessage {
    /// First: subscribed; every matching event numbered above `cursor` follows.
    Ready {
        /// The client's own cursor when it resumes within the store's
        /// numbers, else the project's highest number.
        cursor: u64,
    },
    /// A committed event (replayed or live), numbered above every one before it.
    Event(Arc<LiveEvent>),
    /// `missed` events were left out here (see [`LiveMessage::Lagged`]); a
    /// resume from the last event's number reads them back.
    Lagged {
        /// How many.
        missed: u64,
    },
}

/// Why following could not start.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The subscriber limits.
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
    /// The store could not say where the project's events stand.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// As the error it wraps.
impl ErrorCoded for FollowError {
    fn code(&self) -> ErrorCode {
        match self {
            FollowError::Subscribe(e) => e.code(),
            FollowError::Store(e) => e.code(),
        }
    }

    fn hint(&self) -> Option<&str> {
        match self {
            FollowError::Subscribe(e) => e.hint(),
            FollowError::Store(e) => e.hint(),
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            FollowError::Subscribe(e) => e.retry_after(),
            FollowError::Store(e) => e.retry_after(),
        }
    }

    fn public_message(&self) -> String {
        match self {
            FollowError::Subscribe(e) => e.public_message(),
            FollowError::Store(e) => e.public_message(),
        }
    }

    fn is_server_fault(&self) -> bool {
        match self {
            FollowError::Subscribe(e) => e.is_server_fault(),
            FollowError::Store(e) => e.is_server_fault(),
        }
    }
}

/// Where the replay stands: after which number, how many so far.
#[derive(Debug, Clone, Copy)]
struct Replay {
    after: u64,
    replayed: u64,
}

/// A client following one project's events: read it with [`Follow::next`].
pub struct Follow {
    store: Arc<dyn Store>,
    hub: LiveHub,
    tenant: Tenant,
    filters: FilterSet,
    max_read_bytes: u64,
    subscription: Subscription,
    cursor: u64,
    /// `H`: live events numbered at or below are the replay's.
    live_after: u64,
    ready_sent: bool,
    replay: Option<Replay>,
    pending: VecDeque<FollowMessage>,
    ended: bool,
}

impl std::fmt::Debug for Follow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follow")
            .field("project_id", &self.tenant.project_id)
            .field("cursor", &self.cursor)
            .field("live_after", &self.live_after)
            .finish()
    }
}

impl Follow {
    /// Subscribes to `tenant`'s events matching `filters`, resuming after
    /// `resume_after` (a number the client read before) when given; each
    /// replay read loads at most `max_read_bytes` of stored text.
    pub async fn start(
        hub: &LiveHub,
        store: Arc<dyn Store>,
        tenant: Tenant,
        filters: FilterSet,
        resume_after: Option<u64>,
        max_read_bytes: u64,
    ) -> Result<Follow, FollowError> {
        let subscription = hub.subscribe(&tenant, filters.clone())?;
        let live_after = store.last_seq(&tenant).await?;
        // A cursor above the store's numbers is not one of its own (another
        // server's, or a store since replaced): start from now.
        let cursor = resume_after
            .filter(|c| *c <= live_after)
            .unwrap_or(live_after);
        Ok(Follow {
            store,
            hub: hub.clone(),
            tenant,
            filters,
            max_read_bytes,
            subscription,
            cursor,
            live_after,
            ready_sent: false,
            replay: (cursor < live_after).then_some(Replay {
                after: cursor,
                replayed: 0,
            }),
            pending: VecDeque::new(),
            ended: false,
        })
    }

    /// The next message, waiting for one; `None` when the server shuts down
    /// or the store fails mid-replay (a client then resumes from its cursor).
    pub async fn next(&mut self) -> Option<FollowMessage> {
        if !self.ready_sent {
            self.ready_sent = true;
            return Some(FollowMessage::Ready {
                cursor: self.cursor,
            });
        }
        loop {
            if let Some(message) = self.pending.pop_front() {
                return Some(message);
            }
            if self.ended {
                return None;
            }
            let Some(replay) = self.replay else {
                break;
            };
            self.replay_page(replay).await;
        }
        loop {
            match self.subscription.next().await? {
                LiveMessage::Event(event) if event.seq <= self.live_after => continue,
                LiveMessage::Event(event) => return Some(FollowMessage::Event(event)),
                LiveMessage::Lagged { missed } => return Some(FollowMessage::Lagged { missed }),
            }
        }
    }

    /// Reads the next replay page into `pending`, or ends the replay.
    async fn replay_page(&mut self, replay: Replay) {
        let room = MAX_REPLAY_EVENTS.saturating_sub(replay.replayed);
        let query = ChangesQuery {
            after: replay.after,
            up_to: self.live_after,
            filters: self.filters.clone(),
            limit: REPLAY_PAGE_EVENTS.min(room),
            max_bytes: self.max_read_bytes,
        };
        if room == 0 {
            self.replay = None;
            return self.announce_left_out(&query).await;
        }
        let page = match self.store.changes_after(&self.tenant, &query).await {
            Ok(page) => page,
            Err(ReadError::TooLarge(_)) => {
                // One event alone is past the read limit: it and the rest are
                // announced as missed rather than sent.
                self.replay = None;
                return self.announce_left_out(&query).await;
            }
            Err(ReadError::Store(e)) => {
                tracing::warn!(error = %e, "live replay read failed; ending the stream");
                self.ended = true;
                return;
            }
        };
        let more = page.more;
        let after = page.items.last().map_or(self.live_after, |c| c.seq);
        let count = page.items.len() as u64;
        let (tenant, render) = (self.tenant.clone(), self.hub.0.render);
        let rendered = tokio::task::spawn_blocking(move || {
            page.items
                .into_iter()
                .map(|c| Arc::new(LiveEvent::new(c.seq, c.kind, c.event, &tenant, render)))
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(events) = rendered else {
            self.ended = true;
            return;
        };
        self.pending
            .extend(events.into_iter().map(FollowMessage::Event));
        self.replay = (more && count > 0).then_some(Replay {
            after,
            replayed: replay.replayed + count,
        });
    }

    /// Announces the events `query` would still read as missed.
    async fn announce_left_out(&mut self, query: &ChangesQuery) {
        match self.store.count_changes(&self.tenant, query).await {
            Ok(0) => {}
            Ok(missed) => self.pending.push_back(FollowMessage::Lagged { missed }),
            Err(e) => {
                tracing::warn!(error = %e, "counting what a live replay left out failed");
                self.ended = true;
            }
        }
    }
}
