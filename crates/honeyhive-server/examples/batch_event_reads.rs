//! What `POST /v1/datapoints/batch` reads for a list of event ids: one
//! `get_event` per id (each loads the event's whole session tree) against one
//! `event_payloads` read of the fields a datapoint takes. Both run alternately
//! on the same store, five times each; medians are printed.
//!
//! ```text
//! cargo run --release -p honeyhive-server --example batch_event_reads
//! ```
// A test's failed expectation is its failure: unwrap, expect and panic say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use honeyhive_model::{Event, EventType};
use honeyhive_server::store::sqlite::{SqliteStore, SyncMode};
use honeyhive_server::store::{CatalogStore, EventStore, IngestStore, StoreResult, WriteBatch};
use honeyhive_server::testing::TempDir;
use serde_json::json;

const ROUNDS: usize = 5;

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

fn event(session: usize, i: usize) -> Event {
    let mut e = Event {
        event_id: format!("e-{session}-{i}"),
        session_id: format!("s{session}"),
        parent_id: Some(format!("s{session}")),
        event_type: EventType::Model,
        event_name: "model".into(),
        source: "bench".into(),
        start_time: i as f64,
        end_time: i as f64 + 1.0,
        duration: 1.0,
        ..Event::default()
    };
    e.inputs
        .insert("q".into(), json!(format!("question {i} with some text")));
    e.outputs.insert("a".into(), json!(format!("answer {i}")));
    e.feedback.insert("ground_truth".into(), json!({"a": i}));
    e.metadata.insert("k".into(), json!("v"));
    e
}

async fn compare(sessions: usize, per_session: usize) -> StoreResult<()> {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.path(), SyncMode::Normal)?;
    let tenant = store.put_api_key("bench", "bench").await?;
    let mut ids = Vec::new();
    for s in 0..sessions {
        let events: Vec<Event> = (0..per_session).map(|i| event(s, i)).collect();
        ids.extend(events.iter().map(|e| e.event_id.clone()));
        let batch = WriteBatch {
            events,
            ..WriteBatch::default()
        };
        store.write(&tenant, batch).await?;
    }
    let (mut per_id, mut one_read) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for id in &ids {
            store.get_event(&tenant, id).await?;
        }
        per_id.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        store.event_payloads(&tenant, &ids, u64::MAX).await?;
        one_read.push(started.elapsed().as_secs_f64());
    }
    let (a, b) = (median(per_id), median(one_read));
    println!(
        "{} ids in {sessions} session(s) of {per_session} events: get_event per id {a:.4} s, \
         one event_payloads read {b:.4} s (medians of {ROUNDS}), {:.0}x",
        ids.len(),
        a / b
    );
    store.close();
    Ok(())
}

fn main() -> StoreResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| honeyhive_server::store::StoreError::Backend(Box::new(e)))?;
    runtime.block_on(async {
        compare(1, 2000).await?;
        compare(200, 10).await
    })
}
