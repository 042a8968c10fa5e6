//! Throttled progress snapshots: bytes, smoothed rate and ETA per download and file.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::download::Download;
use crate::model::{DownloadProgress, FileProgress};
use crate::sync::lock;

/// Weight of the newest sample in the smoothed rate (about a 2 s memory at 4 ticks/s).
const SMOOTHING: f64 = 0.15;
/// With no byte for this long a download's rate is 0, not a smoothed rate fading
/// through "12 B/s" and "1 B/s" for half a minute while it waits.
const STILL_AFTER: Duration = Duration::from_secs(3);

/// A download's smoothed rate over its samples.
#[derive(Default)]
struct TotalRate {
    last_tick: Option<Instant>,
    last_total: u64,
    rate: f64,
    /// Since when no byte has arrived.
    still_since: Option<Instant>,
}

impl TotalRate {
    /// Takes the download's bytes at `now`: whether they changed (or this is the first
    /// sample), and the seconds since the last sample.
    fn take(&mut self, total: u64, now: Instant) -> (bool, f64) {
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
        let changed = total != self.last_total || first;
        self.last_total = total;
        if changed {
            self.still_since = None;
        } else {
            self.still_since.get_or_insert(now);
        }
        (changed, dt)
    }

    /// After a sample in which no byte arrived.
    fn fade(&mut self, now: Instant) {
        self.rate *= 1.0 - SMOOTHING;
        let still = self
            .still_since
            .is_some_and(|since| now.duration_since(since) >= STILL_AFTER);
        if self.rate < 1.0 || still {
            self.rate = 0.0;
        }
    }

    fn moving(&self) -> bool {
        self.rate >= 1.0
    }

    fn bytes_per_sec(&self) -> u64 {
        self.rate as u64
    }
}

#[derive(Default)]
pub(crate) struct ProgressMeter {
    total: TotalRate,
    files: HashMap<usize, FileMeter>,
    judge: crate::model::held_back::Judge,
    checking: Option<crate::model::Checking>,
}

#[derive(Default)]
struct FileMeter {
    last: u64,
    rate: f64,
}

impl ProgressMeter {
    /// Samples a running download. `None` when nothing changed since the last sample.
    pub fn sample(&mut self, dl: &Download, now: Instant) -> Option<DownloadProgress> {
        let total = dl.bytes_done();
        let (changed_total, dt) = self.total.take(total, now);
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
        if !changed_total && files.is_empty() && !self.total.moving() && !checking_moved {
            return None;
        }
        if !changed_total {
            self.total.fade(now);
        }
        let total_bytes = dl.total_bytes();
        let rate = self.total.bytes_per_sec();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The samples of a download that moved 1 MB a tick, then stopped (waiting for
    /// MASV, say): the rates it reports, a tick (250 ms) apart.
    fn rates_after_stopping(ticks_still: u32) -> Vec<u64> {
        let mut rate = TotalRate::default();
        let start = Instant::now();
        let tick = Duration::from_millis(250);
        let mut rates = Vec::new();
        let mut at = start;
        for i in 0..8u64 {
            rate.take(i * 1_000_000, at);
            at += tick;
        }
        for _ in 0..ticks_still {
            let (changed, _) = rate.take(7_000_000, at);
            if !changed {
                rate.fade(at);
            }
            rates.push(rate.bytes_per_sec());
            at += tick;
        }
        rates
    }

    #[test]
    fn a_download_that_stops_says_zero_within_seconds_not_a_fading_trickle() {
        let rates = rates_after_stopping(16);
        assert!(
            rates[0] > 100_000,
            "it still shows the rate just after: {rates:?}"
        );
        // Three seconds still (twelve ticks) and the rate is 0, not "1 B/s".
        assert_eq!(rates[13..], [0, 0, 0], "{rates:?}");
    }
}
