//! Why a transferring download goes slower than the network would let it, as far as
//! Inbound can tell: MASV's storage told it to back off (429/503), or the disk takes
//! the bytes slower than they arrive. Waiting (network out, outside the schedule) and
//! the speed limits are said elsewhere; this is what a person cannot see otherwise.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::sync::lock;

/// What holds a transferring download back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum HeldBack {
    /// MASV's storage answered "too many requests" (429, 503) lately: it runs with
    /// fewer connections, as storage asked.
    StorageBusy,
    /// Writing to the destination takes most of the connections' time: the disk (or the
    /// network share) is slower than the download.
    DiskSlow,
}

/// How long a "too many requests" from storage is still said to hold the download back.
const STORAGE_MEMORY: Duration = Duration::from_secs(20);
/// Writing more than this share of the connections' time makes the disk the bottleneck.
const DISK_SHARE: f64 = 0.5;

/// What the transfer reports as it goes (shared by a download's connections).
#[derive(Default)]
pub struct Signals {
    write_nanos: AtomicU64,
    throttled_at: Mutex<Option<Instant>>,
}

impl Signals {
    /// A connection spent `took` writing what it received.
    pub fn wrote(&self, took: Duration) {
        self.write_nanos
            .fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Storage said "too many requests".
    pub fn throttled(&self, at: Instant) {
        *lock(&self.throttled_at) = Some(at);
    }
}

/// Judges, at each progress sample, from what was reported since the previous one.
#[derive(Default)]
pub(crate) struct Judge {
    last: Option<(Instant, u64)>,
}

impl Judge {
    pub fn judge(
        &mut self,
        signals: &Signals,
        connections: usize,
        now: Instant,
    ) -> Option<HeldBack> {
        let written = signals.write_nanos.load(Relaxed);
        let (then, before) = self.last.replace((now, written)).unwrap_or((now, written));
        if lock(&signals.throttled_at).is_some_and(|at| now.duration_since(at) < STORAGE_MEMORY) {
            return Some(HeldBack::StorageBusy);
        }
        let window = now.duration_since(then).as_secs_f64() * connections.max(1) as f64;
        let writing = Duration::from_nanos(written.saturating_sub(before)).as_secs_f64();
        (connections > 0 && window > 0.0 && writing / window > DISK_SHARE)
            .then_some(HeldBack::DiskSlow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: Duration = Duration::from_millis(250);

    #[test]
    fn the_disk_is_named_only_when_writing_takes_most_of_the_connections_time() {
        let signals = Signals::default();
        let mut judge = Judge::default();
        let t0 = Instant::now();
        assert_eq!(judge.judge(&signals, 4, t0), None, "nothing measured yet");
        // 4 connections for 250 ms is 1 s of their time; 100 ms of it writing: fine.
        signals.wrote(Duration::from_millis(100));
        assert_eq!(judge.judge(&signals, 4, t0 + SAMPLE), None);
        // 700 ms of it writing: the disk holds them back.
        signals.wrote(Duration::from_millis(700));
        assert_eq!(
            judge.judge(&signals, 4, t0 + 2 * SAMPLE),
            Some(HeldBack::DiskSlow)
        );
        // Only what happened since the last sample counts.
        assert_eq!(judge.judge(&signals, 4, t0 + 3 * SAMPLE), None);
        // No connections (between runs): nothing to judge.
        signals.wrote(Duration::from_secs(5));
        assert_eq!(judge.judge(&signals, 0, t0 + 4 * SAMPLE), None);
    }

    #[test]
    fn storage_asking_for_fewer_connections_is_said_for_a_while() {
        let signals = Signals::default();
        let mut judge = Judge::default();
        let t0 = Instant::now();
        signals.throttled(t0);
        assert_eq!(
            judge.judge(&signals, 2, t0 + SAMPLE),
            Some(HeldBack::StorageBusy)
        );
        assert_eq!(
            judge.judge(&signals, 2, t0 + STORAGE_MEMORY - SAMPLE),
            Some(HeldBack::StorageBusy)
        );
        assert_eq!(judge.judge(&signals, 2, t0 + STORAGE_MEMORY + SAMPLE), None);
    }
}
