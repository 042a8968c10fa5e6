//! How many connections a run keeps open. A fixed count when one was asked for;
//! otherwise the run starts wide and closes what does not pay. The first second
//! decides: a package of a few hundred megabytes from storage that caps each connection
//! is over before a ramp that measures each step gets anywhere, so an adaptive run opens
//! [`WIDE`] connections at once (at most its cap, under its host's ceiling).
//!
//! Then the first answer says where storage is. Storage that takes longer than
//! [`LONG_PATH`] to answer the first request (connect, TLS and the request: two or
//! three round trips) is far away: each TCP connection there is slow to open its window
//! and slow to recover from a loss, many always pay, and the run stays wide (and grows,
//! while each step pays, if its cap is higher). Near storage is measured: the run closes
//! a quarter of its connections at a time and keeps the smaller count while that costs
//! less than half of what they would carry if each went as fast as the rest (a plain
//! link gains nothing past a handful, and fewer connections cost less CPU and are
//! kinder to the people sharing the link). A step that costs more opens them again, and
//! the run settles.
//!
//! Under the person's bandwidth limit the limit is what bounds the run: it starts with
//! a few and adds more only while they pay (twice as many, four times when the last
//! step paid in proportion; under 15 % more and they close again). When storage says
//! there are too many (429, 503) the run halves its count and remembers that host's
//! ceiling for the rest of the session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::sync::lock;

use super::RunCtx;

/// How many connections an adaptive run opens at once (at most its cap).
const WIDE: usize = 32;
/// Under a bandwidth limit it starts with this many, and it never closes below it.
const FEW: usize = 4;
/// Storage whose first answer takes this long is far away.
const LONG_PATH: Duration = Duration::from_millis(150);
/// Storage that has not answered in this long is taken as far away (or merely slow:
/// staying wide costs little there).
const FIRST_ANSWER_WAIT: Duration = Duration::from_secs(3);
/// After connections open, their round trips and slow start...
const WARMUP: Duration = Duration::from_millis(300);
/// ...then the throughput is measured over this long (short: a probe's lost time is a
/// real share of a package that takes seconds).
const MEASURE: Duration = Duration::from_millis(600);
/// After connections close, the rest take up their share within a few round trips of
/// near storage...
const SETTLE_AFTER_CLOSING: Duration = Duration::from_millis(200);
/// ...and the loss, if any, shows at once.
const MEASURE_AFTER_CLOSING: Duration = Duration::from_millis(400);
/// A run this close to its end (at its rate) keeps its connections: closing pays over
/// a long download, and a step that cost would cost a real share of a short one.
const NOT_WORTH_CLOSING: Duration = Duration::from_secs(4);
/// Each step down closes this share of the run's connections...
const CLOSE_SHARE: f64 = 0.25;
/// ...and the smaller count is kept when the run lost less than this share of what the
/// closed ones would carry if each went as fast as the rest.
const PAID: f64 = 0.5;
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
    /// Under a bandwidth limit when the run started (see the module's comment).
    limited: bool,
    /// The storage host of the run's files, once a connection knows it.
    host: Mutex<Option<String>>,
    /// How long storage took to answer the run's first request.
    first_answer: tokio::sync::SetOnce<Duration>,
}

impl Scale {
    /// `cap` connections (fixed), or, adaptive, at most `cap`: wide to start with, or a
    /// few when `limited` by a bandwidth limit. The connections open are counted in
    /// `live`.
    pub fn new(cap: usize, adaptive: bool, limited: bool, live: Arc<AtomicUsize>) -> Self {
        let cap = cap.max(1);
        let start = match (adaptive, limited) {
            (false, _) => cap,
            (true, false) => WIDE.min(cap),
            (true, true) => FEW.min(cap),
        };
        Self {
            target: AtomicUsize::new(start),
            live,
            cap,
            adaptive,
            limited,
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

    /// Notes where the files are served from: an adaptive run that host already said
    /// "too many" to this session goes on under the count it took.
    pub fn saw_host(&self, url: &str, ceilings: &HostCeilings) {
        let mut host = lock(&self.host);
        if host.is_some() {
            return;
        }
        *host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        if self.adaptive
            && let Some(ceiling) = host.as_deref().and_then(|h| ceilings.get(h))
        {
            self.target.fetch_min(ceiling.max(1), Relaxed);
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
/// `open` is told how many connections to add, `close` to close this many now.
/// Returns at once for a fixed count, and once settled.
pub(super) async fn adapt(ctx: &RunCtx, open: mpsc::UnboundedSender<usize>, close: impl Fn(usize)) {
    let scale = &ctx.scale;
    if !scale.adaptive {
        return;
    }
    if scale.limited {
        grow(ctx, &open).await;
        return;
    }
    let answered = tokio::time::timeout(FIRST_ANSWER_WAIT, scale.first_answer())
        .await
        .ok();
    // A run with fewer ranges than connections opened one per range; with those under
    // way, the rest open now and split them.
    let missing = scale.wanted().saturating_sub(scale.live.load(Relaxed));
    if missing > 0 && open.send(missing).is_err() {
        return;
    }
    let far = answered.is_none_or(|latency| latency >= LONG_PATH);
    if far {
        tracing::debug!(download = %ctx.dl.id, connections = scale.wanted(), "far storage: staying wide");
        grow(ctx, &open).await;
    } else {
        narrow(ctx, &open, close).await;
    }
}

/// Near storage: closes a quarter of the connections at a time while that costs
/// (almost) nothing; opens them again when it did.
async fn narrow(ctx: &RunCtx, open: &mpsc::UnboundedSender<usize>, close: impl Fn(usize)) {
    let scale = &ctx.scale;
    let mut rate = measure(ctx, WARMUP, MEASURE).await;
    loop {
        let count = scale.wanted();
        let fewer = fewer_than(count);
        if fewer >= count {
            tracing::debug!(download = %ctx.dl.id, connections = count, "settled at the fewest");
            return;
        }
        if (ctx.dl.bytes_remaining() as f64) < rate * NOT_WORTH_CLOSING.as_secs_f64() {
            tracing::debug!(download = %ctx.dl.id, connections = count, "settled: nearly done");
            return;
        }
        scale.set_target(fewer);
        close(count - fewer);
        let smaller = measure(ctx, SETTLE_AFTER_CLOSING, MEASURE_AFTER_CLOSING).await;
        if !closing_paid(count, fewer, rate, smaller) {
            tracing::debug!(download = %ctx.dl.id, connections = fewer, rate_mib_s = smaller / 1_048_576.0, "fewer connections, as fast");
            rate = smaller;
            continue;
        }
        let more = scale.set_target(count);
        tracing::debug!(download = %ctx.dl.id, connections = count, "settled: the closed connections paid");
        if more > 0 {
            let _ = open.send(more);
        }
        return;
    }
}

/// The next count down from `count`: a quarter fewer, never below [`FEW`].
fn fewer_than(count: usize) -> usize {
    let closed = ((count as f64 * CLOSE_SHARE).round() as usize).max(1);
    count.saturating_sub(closed).max(FEW.min(count))
}

/// Whether closing `count - fewer` of `count` connections cost at least [`PAID`] of
/// their share of the throughput (`before` with them, `after` without).
fn closing_paid(count: usize, fewer: usize, before: f64, after: f64) -> bool {
    let share = 1.0 - fewer as f64 / count as f64;
    after < before * (1.0 - PAID * share)
}

/// Adds connections while each step pays: twice as many, or four times when the last
/// step paid in proportion; a step that brings under 15 % closes its connections again.
async fn grow(ctx: &RunCtx, open: &mpsc::UnboundedSender<usize>) {
    let scale = &ctx.scale;
    let mut before: Option<(usize, f64)> = None;
    loop {
        let count = scale.wanted();
        let rate = measure(ctx, WARMUP, MEASURE).await;
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
        let next = (count * factor).min(scale.ceiling(ctx.shared.host_ceilings()));
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

/// The download's throughput in bytes per second over `over`, after `warmup`.
async fn measure(ctx: &RunCtx, warmup: Duration, over: Duration) -> f64 {
    tokio::time::sleep(warmup).await;
    let from = ctx.dl.bytes_done();
    let start = tokio::time::Instant::now();
    tokio::time::sleep(over).await;
    let bytes = ctx.dl.bytes_done().saturating_sub(from);
    bytes as f64 / start.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_as_many_leave_as_are_too_many() {
        let scale = Scale::new(8, true, false, Default::default());
        assert_eq!(scale.wanted(), 8, "wide at once, up to the cap");
        assert_eq!(Scale::new(32, true, true, Default::default()).wanted(), FEW);
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
    fn closing_steps_down_by_a_quarter_to_a_few() {
        assert_eq!(fewer_than(32), 24);
        assert_eq!(fewer_than(24), 18);
        assert_eq!(fewer_than(6), 4);
        assert_eq!(fewer_than(5), 4);
        assert_eq!(fewer_than(4), 4, "never below a few");
        assert_eq!(fewer_than(2), 2, "nor above a smaller cap");
    }

    #[test]
    fn closed_connections_paid_when_the_run_lost_half_their_share() {
        // Storage caps each connection: a quarter fewer, a quarter slower.
        assert!(closing_paid(32, 24, 640.0, 480.0));
        // A link the rest fill alone: as fast, or within the noise.
        assert!(!closing_paid(32, 24, 1200.0, 1210.0));
        assert!(!closing_paid(32, 24, 1200.0, 1100.0));
        // Half their share lost is the line.
        assert!(closing_paid(32, 24, 1000.0, 874.0));
        assert!(!closing_paid(32, 24, 1000.0, 876.0));
    }

    #[test]
    fn a_host_that_throttled_before_starts_the_next_run_under_its_ceiling() {
        let ceilings = HostCeilings::default();
        ceilings.lower("storage.example", 6);
        let scale = Scale::new(32, true, false, Default::default());
        assert_eq!(scale.wanted(), WIDE);
        scale.saw_host("https://storage.example/bucket/file?sig=x", &ceilings);
        assert_eq!(scale.wanted(), 6);
        let fixed = Scale::new(16, false, false, Default::default());
        fixed.saw_host("https://storage.example/other", &ceilings);
        assert_eq!(fixed.wanted(), 16, "a count the person chose stays");
    }

    #[test]
    fn throttling_halves_an_adaptive_run_and_sets_the_hosts_ceiling() {
        let ceilings = HostCeilings::default();
        let scale = Scale::new(32, true, false, Default::default());
        scale.saw_host("https://storage.example/bucket/file?sig=x", &ceilings);
        let _members: Vec<Member<'_>> = (0..16).map(|_| scale.join()).collect();
        scale.set_target(16);
        scale.throttled(&ceilings);
        assert_eq!(scale.wanted(), 8);
        assert_eq!(ceilings.get("storage.example"), Some(8));
        // The next run to that host starts under it.
        let next = Scale::new(32, true, false, Default::default());
        next.saw_host("https://storage.example/other", &ceilings);
        assert_eq!(next.ceiling(&ceilings), 8);

        let fixed = Scale::new(16, false, false, Default::default());
        let _members: Vec<Member<'_>> = (0..16).map(|_| fixed.join()).collect();
        fixed.throttled(&ceilings);
        assert_eq!(fixed.wanted(), 16, "a count the person chose stays");
    }
}
