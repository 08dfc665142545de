//! `subscription { events(filters: …) { … } }`: committed events as they
//! commit, read from the live hub as `GET /v1/events/stream` reads them (a
//! [`Follow`]: the same subscriber limits, filters, resume and gap notices).
//!
//! ```text
//! Ready { cursor }                  first: subscribed; everything after `cursor` follows
//! LiveEvent { seq kind event }      a committed event, `seq` rising
//! Lagged { missed hint }            `missed` events were left out here (this client read too slowly)
//! ```

use std::sync::Arc;

use async_graphql::futures_util::Stream;
use async_graphql::{Context, Enum, Object, SimpleObject, Subscription, Union};
use serde_json::Value;

use super::context::{params, scope};
use super::types::EventObject;
use crate::api::ApiError;
use crate::api::live::stream_filters;
use crate::live::{Follow, FollowMessage, LiveEvent};
use crate::store::ChangeKind;

/// The subscription root.
#[derive(Default)]
pub(crate) struct SubscriptionRoot;

/// What a subscription to `events` sends, in order.
#[derive(Union)]
pub(super) enum LiveUpdate {
    /// First: subscribed.
    Ready(Ready),
    /// A committed event.
    Event(LiveEventObject),
    /// A gap: events this subscriber missed.
    Lagged(Lagged),
}

/// Subscribed: every matching event numbered above `cursor` follows.
#[derive(SimpleObject)]
pub(super) struct Ready {
    /// The resume cursor (`after`), as `GET /v1/events/stream` names it.
    cursor: u64,
}

/// `missed` events that matched were not kept for this subscriber: it read
/// too slowly. They committed between the events around this notice;
/// subscribing again with `after` set to the last `seq` read replays them.
#[derive(SimpleObject)]
pub(super) struct Lagged {
    /// How many.
    missed: u64,
    /// What to do about it.
    hint: String,
}

/// How an event changed.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::store::ChangeKind")]
pub(super) enum Change {
    /// It was stored.
    Created,
    /// A stored event changed (an enrichment, a repeated session start).
    Updated,
}

/// What a subscriber told it lagged can do.
const LAG_HINT: &str = "this client read too slowly and missed events; subscribe again with \
    `after` set to the last seq read to get them from the store";

/// A committed event.
pub(super) struct LiveEventObject(Arc<LiveEvent>);

#[Object(name = "LiveEvent")]
impl LiveEventObject {
    /// Its number in the commit sequence: a resume cursor.
    async fn seq(&self) -> u64 {
        self.0.seq
    }

    /// Created or updated.
    async fn kind(&self) -> Change {
        let kind: ChangeKind = self.0.kind;
        kind.into()
    }

    /// The event as committed.
    async fn event(&self) -> EventObject {
        EventObject::Live(self.0.clone())
    }
}

impl From<FollowMessage> for LiveUpdate {
    fn from(message: FollowMessage) -> LiveUpdate {
        match message {
            FollowMessage::Ready { cursor } => LiveUpdate::Ready(Ready { cursor }),
            FollowMessage::Event(event) => LiveUpdate::Event(LiveEventObject(event)),
            FollowMessage::Lagged { missed } => LiveUpdate::Lagged(Lagged {
                missed,
                hint: LAG_HINT.to_string(),
            }),
        }
    }
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The project's events matching `filters` (and `evaluationId`) as they
    /// commit, as `GET /v1/events/stream` sends them: `Ready` first, then
    /// each event, and a `Lagged` notice where this subscriber missed some.
    /// With `after` (a `seq` or cursor read before) what committed since is
    /// replayed from the store first.
    async fn events(
        &self,
        ctx: &Context<'_>,
        filters: Option<Value>,
        evaluation_id: Option<String>,
        after: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = LiveUpdate> + use<>> {
        let scope = scope(ctx)?;
        let state = &scope.state;
        let filters = stream_filters(&params([
            ("filters", filters),
            ("evaluation_id", evaluation_id.map(Value::from)),
        ]))?;
        let follow = Follow::start(
            &state.live,
            state.store.clone(),
            scope.tenant.clone(),
            filters,
            after,
            state.config.read_limits().max_bytes,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(async_graphql::futures_util::stream::unfold(
            follow,
            |mut follow| async move {
                let message = follow.next().await?;
                Some((LiveUpdate::from(message), follow))
            },
        ))
    }
}
