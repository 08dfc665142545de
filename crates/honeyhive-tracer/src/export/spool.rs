//! Disk spool: encoded batches appended during an outage and replayed in order after
//! recovery, also across process restarts.
//!
//! One file per batch, named `<seq:020>-<spans>.<pb|json>`, written to a temporary
//! name and renamed so a crash never leaves a half batch. Each tracer uses a
//! subdirectory keyed by its server, key and source, so batches are replayed with the
//! credentials they were recorded for. One process per spool directory.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Protocol;
use crate::config::ResolvedConfig;

pub(crate) struct SpooledBatch {
    path: PathBuf,
    pub(crate) spans: u64,
    bytes: u64,
}

pub(crate) struct Spool {
    dir: PathBuf,
    extension: &'static str,
    batches: VecDeque<SpooledBatch>,
    next_seq: u64,
    total_bytes: u64,
    max_bytes: u64,
}

impl Spool {
    pub(crate) fn open(root: &Path, config: &ResolvedConfig) -> std::io::Result<Spool> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&config.server_url, &config.api_key, &config.source).hash(&mut hasher);
        let dir = root.join(format!("{:016x}", hasher.finish()));
        std::fs::create_dir_all(&dir)?;
        let extension = match config.protocol {
            Protocol::HttpProtobuf => "pb",
            Protocol::HttpJson => "json",
        };
        let mut found: Vec<(u64, SpooledBatch)> = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some(extension) {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let Some((seq, spans)) = stem.split_once('-') else {
                continue;
            };
            let (Ok(seq), Ok(spans)) = (seq.parse::<u64>(), spans.parse::<u64>()) else {
                continue;
            };
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            found.push((seq, SpooledBatch { path, spans, bytes }));
        }
        found.sort_by_key(|(seq, _)| *seq);
        let next_seq = found.last().map_or(0, |(seq, _)| seq + 1);
        let total_bytes = found.iter().map(|(_, b)| b.bytes).sum();
        Ok(Spool {
            dir,
            extension,
            batches: found.into_iter().map(|(_, b)| b).collect(),
            next_seq,
            total_bytes,
            max_bytes: config.export.max_spool_bytes,
        })
    }

    pub(crate) fn spans(&self) -> u64 {
        self.batches.iter().map(|b| b.spans).sum()
    }

    /// Append a batch; `Ok(false)` when the spool is at its byte cap.
    pub(crate) fn append(&mut self, body: &[u8], spans: u64) -> std::io::Result<bool> {
        if self.total_bytes + body.len() as u64 > self.max_bytes {
            return Ok(false);
        }
        let name = format!("{:020}-{}.{}", self.next_seq, spans, self.extension);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let path = self.dir.join(name);
        {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(body)?;
            file.sync_data()?;
        }
        std::fs::rename(&tmp, &path)?;
        self.next_seq += 1;
        self.total_bytes += body.len() as u64;
        self.batches.push_back(SpooledBatch {
            path,
            spans,
            bytes: body.len() as u64,
        });
        Ok(true)
    }

    /// The oldest batch and its body.
    pub(crate) fn front(&self) -> Option<(&SpooledBatch, std::io::Result<Vec<u8>>)> {
        self.batches.front().map(|b| (b, std::fs::read(&b.path)))
    }

    /// Remove the oldest batch (after it was sent or found unreadable).
    pub(crate) fn pop_front(&mut self) {
        if let Some(batch) = self.batches.pop_front() {
            self.total_bytes = self.total_bytes.saturating_sub(batch.bytes);
            let _ = std::fs::remove_file(&batch.path);
        }
    }
}
