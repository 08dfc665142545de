//! Background senders for the per-datapoint REST calls (`POST /session/start`,
//! `PUT /events`), so the datapoint's own path never waits on the network.
//!
//! Each datapoint's calls go to one lane (a thread with a FIFO queue), so a
//! session's start always precedes its update. Before the run is completed the
//! lanes are drained, so the server has every session when it computes the result.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, unbounded};
use parking_lot::Mutex;
use serde::Serialize;

use super::client::RestClient;
use crate::Error;

/// One queued REST call, its JSON body already encoded by the datapoint's thread.
struct Call {
    method: &'static str,
    path: &'static str,
    body: Vec<u8>,
}

/// What went wrong in the background, reported in the summary.
#[derive(Debug, Default)]
pub(crate) struct SendStats {
    pub(crate) failed: AtomicU64,
    pub(crate) first_error: Mutex<Option<String>>,
}

impl SendStats {
    fn record(&self, error: impl FnOnce() -> String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.first_error.lock().get_or_insert_with(error);
    }
}

pub(crate) struct Lanes {
    lanes: Vec<Sender<Call>>,
    workers: Vec<JoinHandle<()>>,
    pub(crate) stats: Arc<SendStats>,
}

impl Lanes {
    pub(crate) fn start(client: &RestClient, count: usize) -> crate::Result<Lanes> {
        let stats = Arc::new(SendStats::default());
        let mut lanes = Vec::with_capacity(count);
        let mut workers = Vec::with_capacity(count);
        for index in 0..count.max(1) {
            let (tx, rx) = unbounded::<Call>();
            let client = client.clone();
            let stats = stats.clone();
            let worker = std::thread::Builder::new()
                .name(format!("hh-experiment-send-{index}"))
                .spawn(move || {
                    for call in rx {
                        if let Err(e) = client.send(call.method, call.path, &call.body) {
                            stats.record(|| e.to_string());
                        }
                    }
                })
                .map_err(Error::ExperimentWorker)?;
            lanes.push(tx);
            workers.push(worker);
        }
        Ok(Lanes {
            lanes,
            workers,
            stats,
        })
    }

    /// Queues a JSON call on the lane of datapoint `index`.
    pub(crate) fn send(
        &self,
        index: usize,
        method: &'static str,
        path: &'static str,
        body: &impl Serialize,
    ) {
        let body = match serde_json::to_vec(body) {
            Ok(body) => body,
            Err(e) => {
                self.stats
                    .record(|| format!("{method} {path}: encoding the body: {e}"));
                return;
            }
        };
        let call = Call { method, path, body };
        let lane = &self.lanes[index % self.lanes.len()];
        if lane.send(call).is_err() {
            // Only when a lane thread died (it never panics on its own); count it.
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends everything queued and stops the lanes.
    pub(crate) fn finish(self) -> Arc<SendStats> {
        drop(self.lanes);
        for worker in self.workers {
            let _ = worker.join();
        }
        self.stats
    }
}
