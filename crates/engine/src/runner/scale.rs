//! How many connections a run keeps open. A fixed count when one was asked for;
//! otherwise the run starts with a few and adds more while the download's throughput
//! rises with them (a long fat pipe or a lossy path needs many; a plain link gains
//! nothing past a handful): twice as many, or four times when the last step paid in
//! proportion. A step that brings under 15 % closes its connections again and the run
//! settles. When storage says there are too many (429, 503) the run halves its count
//! and remembers that host's ceiling for the rest of the session.
//!
//! Where the run starts is what its first answer says: storage that takes longer than
//! [`LONG_PATH`] to answer the first request (connect, TLS and the request: two or three
//! round trips) is far away, each TCP connection there is slow to open its window and
//! slow to recover from a loss, and the run starts with [`LONG_PATH_START`] instead of
//! [`START`] without waiting a measurement out. (Storage that is merely slow to answer
//! gets the same, which costs little: the run grows no further unless that pays.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::download::lock;

use super::RunCtx;

/// Where an adaptive run starts...
const START: usize = 4;
/// ...unless its first answer took this long...
const LONG_PATH: Duration = Duration::from_millis(150);
/// ...and then it goes on with this many at once.
const LONG_PATH_START: usize = 16;
/// How long the first answer is waited for before measuring anyway.
const FIRST_ANSWER_WAIT: Duration = Duration::from_secs(3);
/// After a change, the new connections' round trips and slow start...
const WARMUP: Duration = Duration::from_millis(300);
/// ...then the throughput is measured over this long (short: a probe's lost time is a
/// real share of a package that takes seconds).
const MEASURE: Duration = Duration::from_millis(600);
/// A step up is kept when throughput rose at least this much with it; otherwise the
/// connections it added close again.
const GAIN: f64 = 1.15;
/// A step that brought at least this share of what its connections would if each went
/// as fast as the ones before is followed by a step four times as big, not two.
const PROPORTIONAL: f64 = 0.6;

/// The storage hosts that said "too many" this session, with the count they took.
#[derive(Default)]
pub(crate) struct HostCeilings(Mutex<HashMap<String, usize>>);

impl HostCeilings {
    pub fn get(&self, host: &str) -> Option<usize> {
        lock(&self.0).get(host).copied()
    }

    fn lower(&self, host: &str, count: usize) {
        let mut map = lock(&self.0);
        let ceiling = map.entry(host.to_owned()).or_insert(count);
        *ceiling = (*ceiling).min(count).max(1);
    }
}

/// The run's connection count: wanted and actual.
pub(crate) struct Scale {
    target: AtomicUsize,
    /// Shared with the download, which shows it.
    live: Arc<AtomicUsize>,
    cap: usize,
    adaptive: bool,
    /// The storage host of the run's files, once a connection knows it.
    host: Mutex<Option<String>>,
    /// How long storage took to answer the run's first request.
    first_answer: tokio::sync::SetOnce<Duration>,
}

impl Scale {
    /// `cap` connections (fixed), or, adaptive, a few to start with and at most `cap`;
    /// the connections open are counted in `live`.
    pub fn new(cap: usize, adaptive: bool, live: Arc<AtomicUsize>) -> Self {
        let cap = cap.max(1);
        Self {
            target: AtomicUsize::new(if adaptive { START.min(cap) } else { cap }),
            live,
            cap,
            adaptive,
            host: Mutex::new(None),
            first_answer: tokio::sync::SetOnce::new(),
        }
    }

    /// A request was answered (headers in) this long after it was sent.
    /// Only the first is kept.
    pub fn answered(&self, latency: Duration) {
        let _ = self.first_answer.set(latency);
    }

    async fn first_answer(&self) -> Duration {
        *self.first_answer.wait().await
    }

    /// How many connections to open now.
    pub fn wanted(&self) -> usize {
        self.target.load(Relaxed)
    }

    /// A connection joins; it is counted until the returned member is dropped.
    pub fn join(&self) -> Member<'_> {
        self.live.fetch_add(1, Relaxed);
        Member {
            scale: self,
            counted: true,
        }
    }

    /// Notes where the files are served from (for the host's ceiling).
    pub fn saw_host(&self, url: &str) {
        let mut host = lock(&self.host);
        if host.is_none() {
            *host = reqwest::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned));
        }
    }

    /// Storage said there are too many connections: an adaptive run halves its count,
    /// and the host keeps that as its ceiling for the session. A fixed count stays (the
    /// connection that was told waits and retries, as any).
    pub fn throttled(&self, ceilings: &HostCeilings) {
        if !self.adaptive {
            return;
        }
        let halved = (self.live.load(Relaxed) / 2).max(1);
        let target = self.target.fetch_min(halved, Relaxed).min(halved);
        if let Some(host) = lock(&self.host).as_deref() {
            ceilings.lower(host, target);
        }
        tracing::info!(
            connections = target,
            "storage is throttling; fewer connections"
        );
    }

    /// The most this run may use now: its cap, under its host's ceiling if it has one.
    fn ceiling(&self, ceilings: &HostCeilings) -> usize {
        let host = lock(&self.host).clone();
        host.and_then(|h| ceilings.get(&h))
            .map_or(self.cap, |c| c.min(self.cap))
    }

    /// Sets how many connections the run should have; returns how many to open.
    fn set_target(&self, n: usize) -> usize {
        self.target.store(n, Relaxed);
        n.saturating_sub(self.live.load(Relaxed))
    }
}

/// One connection's place in the count.
pub(crate) struct Member<'a> {
    scale: &'a Scale,
    counted: bool,
}

impl Member<'_> {
    /// Whether this connection should close because the run has more than it wants;
    /// only as many close as are too many.
    pub fn should_leave(&mut self) -> bool {
        let target = self.scale.target.load(Relaxed);
        let left = self
            .scale
            .live
            .fetch_update(Relaxed, Relaxed, |live| (live > target).then(|| live - 1))
            .is_ok();
        if left {
            self.counted = false;
        }
        left
    }
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.scale.live.fetch_sub(1, Relaxed);
        }
    }
}

/// Adapts the run's connection count to its throughput (see the module's comment);
/// `open` is told how many connections to add. Returns at once for a fixed count, and
/// once settled.
pub(super) async fn adapt(ctx: &RunCtx, open: mpsc::UnboundedSender<usize>) {
    let scale = &ctx.scale;
    if !scale.adaptive {
        return;
    }
    // Under the person's bandwidth limit, the limit is what bounds the run: no reason
    // to open many at once.
    if ctx.shared.bandwidth.limit().is_none()
        && ctx.dl.limit.limit().is_none()
        && let Ok(latency) = tokio::time::timeout(FIRST_ANSWER_WAIT, scale.first_answer()).await
    {
        let start = starting_count(latency, scale.ceiling(&ctx.shared.host_ceilings));
        if start > scale.wanted() {
            let more = scale.set_target(start);
            tracing::debug!(download = %ctx.dl.id, connections = start, ?latency, "a long path: more connections at once");
            if more > 0 && open.send(more).is_err() {
                return;
            }
        }
    }
    let mut before: Option<(usize, f64)> = None;
    loop {
        let count = scale.wanted();
        let rate = measure(ctx).await;
        let factor = match before {
            None => 2,
            Some((was_count, was)) => {
                let gain = rate / was.max(1.0);
                if gain < GAIN {
                    // The connections added bring nothing worth them: they close
                    // again, and the count stays where it was.
                    scale.set_target(was_count);
                    tracing::debug!(download = %ctx.dl.id, connections = was_count, "settled");
                    return;
                }
                // How much of what the added connections would bring if each went as
                // fast as the others they did bring: near all, and the next step is
                // bigger (a per-connection cap, a long path); less, and it is not.
                let added = count as f64 / was_count as f64 - 1.0;
                if (gain - 1.0) / added >= PROPORTIONAL {
                    4
                } else {
                    2
                }
            }
        };
        let next = (count * factor).min(scale.ceiling(&ctx.shared.host_ceilings));
        if next <= count {
            tracing::debug!(download = %ctx.dl.id, connections = count, "settled at the ceiling");
            return;
        }
        before = Some((count, rate));
        let more = scale.set_target(next);
        tracing::debug!(download = %ctx.dl.id, connections = next, rate_mib_s = rate / 1_048_576.0, "more connections");
        if more > 0 && open.send(more).is_err() {
            return;
        }
    }
}

/// How many connections a run whose first answer took `latency` starts with.
fn starting_count(latency: Duration, ceiling: usize) -> usize {
    let start = if latency >= LONG_PATH {
        LONG_PATH_START
    } else {
        START
    };
    start.min(ceiling)
}

/// The download's throughput in bytes per second, measured after the warm-up.
async fn measure(ctx: &RunCtx) -> f64 {
    tokio::time::sleep(WARMUP).await;
    let from = ctx.dl.bytes_done();
    let start = tokio::time::Instant::now();
    tokio::time::sleep(MEASURE).await;
    let bytes = ctx.dl.bytes_done().saturating_sub(from);
    bytes as f64 / start.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_as_many_leave_as_are_too_many() {
        let scale = Scale::new(8, true, Default::default());
        assert_eq!(scale.wanted(), START);
        let mut members: Vec<Member<'_>> = (0..6).map(|_| scale.join()).collect();
        scale.set_target(4);
        let left = members
            .iter_mut()
            .map(Member::should_leave)
            .filter(|left| *left)
            .count();
        assert_eq!(left, 2);
        assert_eq!(scale.live.load(Relaxed), 4);
        drop(members);
        assert_eq!(
            scale.live.load(Relaxed),
            0,
            "the leavers are not counted twice"
        );
    }

    #[test]
    fn a_slow_first_answer_starts_more_connections_under_the_ceiling() {
        assert_eq!(starting_count(Duration::from_millis(5), 32), START);
        assert_eq!(
            starting_count(Duration::from_millis(200), 32),
            LONG_PATH_START
        );
        assert_eq!(starting_count(Duration::from_millis(200), 6), 6);
    }

    #[test]
    fn throttling_halves_an_adaptive_run_and_sets_the_hosts_ceiling() {
        let ceilings = HostCeilings::default();
        let scale = Scale::new(32, true, Default::default());
        scale.saw_host("https://storage.example/bucket/file?sig=x");
        let _members: Vec<Member<'_>> = (0..16).map(|_| scale.join()).collect();
        scale.set_target(16);
        scale.throttled(&ceilings);
        assert_eq!(scale.wanted(), 8);
        assert_eq!(ceilings.get("storage.example"), Some(8));
        // The next run to that host starts under it.
        let next = Scale::new(32, true, Default::default());
        next.saw_host("https://storage.example/other");
        assert_eq!(next.ceiling(&ceilings), 8);

        let fixed = Scale::new(16, false, Default::default());
        let _members: Vec<Member<'_>> = (0..16).map(|_| fixed.join()).collect();
        fixed.throttled(&ceilings);
        assert_eq!(fixed.wanted(), 16, "a count the person chose stays");
    }
}
