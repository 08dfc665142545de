//! The commit sequence: every event a commit stores or changes takes the next
//! number of one sequence, so "what changed after N" has an answer the store
//! can give (`EventStore::changes_after`) and the live feed can follow.
//!
//! A backend hands each durable commit to a [`CommitFeed`], in commit order,
//! after it is durable and before any of its writers is answered; nothing that
//! could still be lost is ever fed.

use honeyhive_model::Event;
use honeyhive_model::filter::FilterSet;

use super::Tenant;

/// Whether a change stored a new event or changed a stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The event was stored (with whatever parked enrichments it met).
    Created,
    /// A stored event changed: an enrichment (`PUT /events`) or a repeated
    /// session start merged into it.
    Updated,
}

impl ChangeKind {
    /// `created` or `updated`: the name of the message that carries it.
    ///
    /// ```
    /// assert_eq!(honeyhive_server::store::ChangeKind::Updated.as_str(), "updated");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
        }
    }
}

/// One event as one commit left it, with its place in the commit sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Its number in the commit sequence: larger than that of every change
    /// committed before it.
    pub seq: u64,
    /// Created or updated.
    pub kind: ChangeKind,
    /// The event (`children_ids` empty).
    pub event: Event,
}

/// What one write of one tenant changed, as it committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// Whose events.
    pub tenant: Tenant,
    /// The changes, in sequence order.
    pub changes: Vec<Change>,
}

/// Where a backend sends what it committed: the live feed.
///
/// Called from the backend's write path, so both calls must return at once
/// and never block (the live feed only queues the commit for its own thread).
pub trait CommitFeed: Send + Sync {
    /// Whether anyone listens now. When not, the backend hands nothing over
    /// (it still numbers its changes).
    fn is_listening(&self) -> bool;

    /// One durable commit's writes, in commit order, each write's changes in
    /// sequence order. Called once per commit, before its writers are answered.
    fn committed(&self, commit: Vec<Committed>);
}

/// What [`EventStore::changes_after`](super::EventStore::changes_after) reads:
/// the events of the project whose last change has a sequence number in
/// `(after, up_to]` and that match `filters`, in sequence order.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangesQuery {
    /// Only changes numbered above this.
    pub after: u64,
    /// Only changes numbered at or below this.
    pub up_to: u64,
    /// Conjunction of HoneyHive filters.
    pub filters: FilterSet,
    /// Most events to read.
    pub limit: u64,
    /// Most bytes of stored text to read: the page stops before the row that
    /// would pass it (a first row alone past it is `TooLarge`).
    pub max_bytes: u64,
}

/// A page of [`EventStore::changes_after`](super::EventStore::changes_after).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangesPage {
    /// Each event as it stands, numbered by its last change; its kind says
    /// whether it was created after `after` or only changed since.
    pub items: Vec<Change>,
    /// True when the page stopped at `limit` or `max_bytes` with more to read.
    pub more: bool,
}
