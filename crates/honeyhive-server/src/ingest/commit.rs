//! Writing a request's batch in bounded parts, so that one large request
//! cannot hold the single writer while other tenants' small writes wait.
//!
//! Parts commit one after the other, each its own transaction, and the request
//! is answered after the last: acknowledged only once all of it is durable. A
//! failure part-way leaves the committed parts in place; a client retrying the
//! request is safe, since events are stored once by id and enrichments merge.

use crate::store::{Store, StoreResult, Tenant, WriteBatch, WriteSummary};

/// Most events (or enrichments) written in one transaction, so that a small
/// write queued behind a large request waits for one bounded commit, not for
/// the whole request.
pub const EVENTS_PER_PART: usize = 1000;

/// Writes `batch` for `tenant` in parts of at most [`EVENTS_PER_PART`] events;
/// returns once every part committed.
pub async fn commit(
    store: &dyn Store,
    tenant: &Tenant,
    batch: WriteBatch,
) -> StoreResult<WriteSummary> {
    let mut total = WriteSummary::default();
    for part in batch.into_parts(EVENTS_PER_PART) {
        let summary = store.write(tenant, part).await?;
        total.inserted += summary.inserted;
        total.duplicates += summary.duplicates;
        total.sessions_created += summary.sessions_created;
        total.enriched += summary.enriched;
        total.deferred += summary.deferred;
    }
    Ok(total)
}
