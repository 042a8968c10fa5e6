//! A byte range being fetched by one connection, shared with the rest of its run: idle
//! connections split it (work stealing) or take over its rest when it is far slower
//! than its peers, and the run's pace watcher samples how fast its bytes arrive.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::sync::lock;
use crate::transfer::unsynced::Unsynced;

/// A byte range of one file to fetch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Work {
    pub idx: usize,
    pub start: u64,
    pub end: u64,
    /// The file's epoch when this range was queued: a range of a file that has since
    /// started again is dropped.
    pub epoch: u64,
    /// Times this range was taken over from a slow connection (see `run::pace`).
    pub handovers: u32,
}

/// `end` may shrink while the transfer runs: the connection that owns the span stops at
/// the new end, and whoever moved it fetches the rest.
pub(crate) struct Span {
    pub idx: usize,
    /// The file's epoch the range belongs to.
    pub epoch: u64,
    pub start: u64,
    /// First byte not yet written.
    pub pos: AtomicU64,
    /// First byte not yet received (written, or waiting in the connection's batch).
    pub received_to: AtomicU64,
    pub end: AtomicU64,
    /// Stops this request only (the run goes on): its rest was handed to another.
    pub cancel: CancellationToken,
    /// How many times this range's rest has already been taken from a slow connection.
    pub handovers: u32,
    /// This request's pace.
    pub meter: PaceMeter,
    /// The pace of the connection making it, over all its requests (its peers' pace
    /// is what a request is judged against).
    pub connection: Arc<PaceMeter>,
    /// What it wrote since its last flush, for the run's quick saves.
    pub unsynced: Mutex<Unsynced>,
    /// When the request was made, and when its first bytes came.
    pub started: Instant,
    pub first_byte: OnceLock<Instant>,
}

impl Span {
    /// `cancel` should be a child of the run's token, so stopping the run stops it.
    pub fn new(work: &Work, cancel: CancellationToken, connection: Arc<PaceMeter>) -> Self {
        Self {
            idx: work.idx,
            epoch: work.epoch,
            start: work.start,
            pos: AtomicU64::new(work.start),
            received_to: AtomicU64::new(work.start),
            end: AtomicU64::new(work.end),
            cancel,
            handovers: work.handovers,
            meter: PaceMeter::new(),
            connection,
            unsynced: Mutex::new(Unsynced::new(work.start)),
            started: Instant::now(),
            first_byte: OnceLock::new(),
        }
    }

    /// `n` bytes came in for this request.
    pub fn arrived(&self, n: usize) {
        self.first_byte.get_or_init(Instant::now);
        self.meter.add(n);
        self.connection.add(n);
    }

    /// Takes the second half of what is left, if at least `min_piece` would remain on
    /// each side. Returns the range taken.
    pub fn steal_half(&self, min_piece: u64) -> Option<(u64, u64)> {
        let end = self.end.load(Relaxed);
        let pos = self.pos.load(Relaxed);
        let left = end.checked_sub(pos)?;
        if left < 2 * min_piece {
            return None;
        }
        let mid = pos + left / 2;
        self.end
            .compare_exchange(end, mid, Relaxed, Relaxed)
            .ok()
            .map(|_| (mid, end))
    }

    /// Takes everything not yet received and stops this request: the bytes it has
    /// are kept, the range returned is for another connection.
    pub fn take_rest(&self) -> Option<(u64, u64)> {
        let end = self.end.load(Relaxed);
        let from = self.received_to.load(Relaxed).max(self.pos.load(Relaxed));
        if from >= end {
            return None;
        }
        self.end
            .compare_exchange(end, from, Relaxed, Relaxed)
            .ok()?;
        self.cancel.cancel();
        Some((from, end))
    }

    pub fn remaining(&self) -> u64 {
        self.end
            .load(Relaxed)
            .saturating_sub(self.pos.load(Relaxed))
    }

    /// The rest of this range as work for another connection (not yet taken).
    pub fn work(&self, start: u64, end: u64) -> Work {
        Work {
            idx: self.idx,
            start,
            end,
            epoch: self.epoch,
            handovers: self.handovers,
        }
    }
}

/// Bytes arriving on one request over time (skipped bytes of a whole-object answer
/// count too: the connection is moving), sampled about once a second.
pub(crate) struct PaceMeter {
    arrived: AtomicU64,
    samples: Mutex<VecDeque<(Instant, u64)>>,
}

/// A request's pace over the time it was measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pace {
    pub bytes_per_sec: f64,
    pub over: Duration,
}

impl PaceMeter {
    pub fn new() -> Self {
        Self::started_at(Instant::now())
    }

    pub fn started_at(t: Instant) -> Self {
        Self {
            arrived: AtomicU64::new(0),
            samples: Mutex::new(VecDeque::from([(t, 0)])),
        }
    }

    pub fn add(&self, n: usize) {
        self.arrived.fetch_add(n as u64, Relaxed);
    }

    /// Every byte counted so far.
    pub fn total(&self) -> u64 {
        self.arrived.load(Relaxed)
    }

    /// Records how much has arrived by `now`, keeping what a pace over `keep` needs.
    pub fn sample(&self, now: Instant, keep: Duration) {
        let mut samples = lock(&self.samples);
        samples.push_back((now, self.arrived.load(Relaxed)));
        // The oldest sample at or before `now - keep` is the one a pace over `keep`
        // starts from; anything older is not needed.
        while samples.len() > 2 && samples[1].0 + keep <= now {
            samples.pop_front();
        }
    }

    /// The pace over (up to) the last `window`, from the oldest sample inside it.
    pub fn pace(&self, now: Instant, window: Duration) -> Pace {
        let samples = lock(&self.samples);
        let (t, a) = samples
            .iter()
            .find(|(t, _)| *t + window >= now)
            .or(samples.back())
            .copied()
            .unwrap_or((now, 0));
        let over = now.saturating_duration_since(t);
        let bytes = self.arrived.load(Relaxed).saturating_sub(a);
        Pace {
            bytes_per_sec: if over.is_zero() {
                0.0
            } else {
                bytes as f64 / over.as_secs_f64()
            },
            over,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(start: u64, end: u64) -> Work {
        Work {
            idx: 0,
            start,
            end,
            epoch: 0,
            handovers: 0,
        }
    }

    #[test]
    fn stealing_takes_the_second_half_and_shrinks_the_owner() {
        let s = Span::new(
            &work(0, 100),
            CancellationToken::new(),
            Arc::new(PaceMeter::new()),
        );
        s.pos.store(20, Relaxed);
        assert_eq!(s.steal_half(10), Some((60, 100)));
        assert_eq!(s.end.load(Relaxed), 60);
        assert_eq!(s.remaining(), 40);
        assert_eq!(s.steal_half(25), None, "too little left to split");
        s.pos.store(60, Relaxed);
        assert_eq!(s.steal_half(1), None);
    }

    #[test]
    fn taking_the_rest_keeps_what_arrived_and_stops_the_request() {
        let s = Span::new(
            &work(0, 100),
            CancellationToken::new(),
            Arc::new(PaceMeter::new()),
        );
        s.pos.store(20, Relaxed);
        s.received_to.store(30, Relaxed);
        assert_eq!(s.take_rest(), Some((30, 100)));
        assert_eq!(
            s.end.load(Relaxed),
            30,
            "the owner writes up to what it has"
        );
        assert!(s.cancel.is_cancelled());
        assert_eq!(s.take_rest(), None, "nothing left to take");
    }

    #[test]
    fn pace_is_measured_over_the_window_asked_for() {
        let start = Instant::now();
        let m = PaceMeter::started_at(start);
        let keep = Duration::from_secs(20);
        // 1000 B/s for 10 s, then 10 B/s for 10 s.
        for second in 1..=20u64 {
            m.add(if second <= 10 { 1000 } else { 10 });
            m.sample(start + Duration::from_secs(second), keep);
        }
        let now = start + keep;
        let recent = m.pace(now, Duration::from_secs(5));
        assert_eq!(recent.over, Duration::from_secs(5));
        assert!((recent.bytes_per_sec - 10.0).abs() < 0.01, "{recent:?}");
        let whole = m.pace(now, keep);
        assert_eq!(whole.over, keep);
        assert!((whole.bytes_per_sec - 505.0).abs() < 0.01, "{whole:?}");
        // Samples older than needed are dropped.
        m.sample(now + Duration::from_secs(60), keep);
        assert!(lock(&m.samples).len() <= 2);
    }
}
