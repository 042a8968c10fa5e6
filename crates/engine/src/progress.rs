//! Throttled progress snapshots: bytes, smoothed rate and ETA per download and file.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use crate::download::{Download, lock};
use crate::model::{DownloadProgress, FileProgress};

/// Weight of the newest sample in the smoothed rate (about a 2 s memory at 4 ticks/s).
const SMOOTHING: f64 = 0.15;

#[derive(Default)]
pub(crate) struct Meter {
    last_tick: Option<Instant>,
    last_total: u64,
    rate: f64,
    files: HashMap<usize, FileMeter>,
    judge: crate::held_back::Judge,
    checking: Option<crate::model::Checking>,
}

#[derive(Default)]
struct FileMeter {
    last: u64,
    rate: f64,
}

impl Meter {
    /// Samples a running download. `None` when nothing changed since the last sample.
    pub fn sample(&mut self, dl: &Download, now: Instant) -> Option<DownloadProgress> {
        let total = dl.bytes_done();
        let dt = self
            .last_tick
            .map(|t| now.duration_since(t).as_secs_f64())
            .unwrap_or(0.0);
        let first = self.last_tick.is_none();
        self.last_tick = Some(now);
        if dt > 0.0 {
            let instant = total.saturating_sub(self.last_total) as f64 / dt;
            self.rate = if self.rate == 0.0 {
                instant
            } else {
                self.rate + SMOOTHING * (instant - self.rate)
            };
        }
        let changed_total = total != self.last_total || first;
        self.last_total = total;
        let mut files = Vec::new();
        for f in &dl.files {
            let done = f.done.load(Relaxed);
            let m = self.files.entry(f.meta.idx).or_insert_with(|| FileMeter {
                last: done,
                rate: 0.0,
            });
            if done == m.last && m.rate == 0.0 {
                continue;
            }
            if dt > 0.0 {
                let instant = done.saturating_sub(m.last) as f64 / dt;
                m.rate = if done >= f.meta.size {
                    0.0
                } else {
                    m.rate + 0.3 * (instant - m.rate)
                };
                if m.rate < 1.0 {
                    m.rate = 0.0;
                }
            }
            m.last = done;
            files.push(FileProgress {
                index: f.meta.idx,
                bytes_done: done,
                rate: m.rate as u64,
            });
        }
        let checking = lock(&dl.checking).clone();
        let checking_moved = checking != self.checking;
        self.checking.clone_from(&checking);
        if !changed_total && files.is_empty() && self.rate < 1.0 && !checking_moved {
            return None;
        }
        if !changed_total {
            self.rate *= 1.0 - SMOOTHING;
        }
        let total_bytes = dl.total_bytes();
        let rate = self.rate as u64;
        let connections = dl.connections.load(Relaxed);
        Some(DownloadProgress {
            id: dl.id.clone(),
            bytes_done: total,
            total_bytes,
            rate,
            eta_secs: (rate > 0).then(|| total_bytes.saturating_sub(total) / rate),
            files,
            connections,
            held_back: self.judge.judge(&dl.signals, connections, now),
            checking,
        })
    }
}
