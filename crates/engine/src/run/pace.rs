//! Slow connections are replaced, so a trickle never holds a file. Storage paths differ
//! per connection (another front-end, a congested route, a throttled flow): a new
//! request usually gets a normal one. Two rules, both relative to the run's own peers,
//! so a slow network as a whole never looks like a slow connection:
//!
//! - **Replacement.** A connection under a tenth of its peers' median pace for
//!   `slow_connection_after` (20 s by default) gives up its range, which goes back to the
//!   front of the queue for a fresh request.
//! - **End-game.** A connection with nothing left to do takes over the whole rest of a
//!   range whose connection goes at under a quarter of the peers' median, when that
//!   rest would still take a while at its pace. The slow request stops at once and keeps
//!   the bytes it has; nothing is fetched twice. A range handed over before must prove
//!   slow for longer each time, so a network that slowed down as a whole does not make
//!   ranges change hands in a loop.
//!
//! The stall timeout still covers bodies that send nothing at all.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::lock;
use crate::transfer::span::{PaceMeter, Span};

use super::RunCtx;
use crate::transfer::span::Work;

/// How often each connection's progress is sampled.
const TICK: Duration = Duration::from_secs(1);
/// Peers' pace is their recent pace, over this long...
const RECENT: Duration = Duration::from_secs(5);
/// ...counted only for connections measured at least this long (a new request's first
/// second is its round trip and slow start).
const MIN_MEASURED: Duration = Duration::from_secs(2);
/// Replacement: under this fraction of the peers' median.
const SLOW_FRACTION: f64 = 0.1;
/// End-game: under this fraction of the peers' median...
const HANDOVER_FRACTION: f64 = 0.25;
/// ...with at least this much time left at its own pace.
const HANDOVER_MIN_LEFT: Duration = Duration::from_secs(2);
/// A range handed over before is measured for longer before it moves again: 2 s, 4 s,
/// 8 s, then at most this (beyond it the replacement rule's 20 s is near anyway).
const LONGEST_PROVING: Duration = Duration::from_secs(16);

/// The peers' median pace last time at least two connections could be measured.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Peers {
    pub median: f64,
}

/// Samples every connection once per tick and replaces the ones far slower than their
/// peers. Runs until the run's connections are done (the caller drops it).
pub(super) async fn watch(ctx: &RunCtx) {
    let slow_after = ctx.shared.config().slow_connection_after;
    // Samples come a tick apart: the oldest one inside this is at least `slow_after` old.
    let judged_over = slow_after + TICK;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let median = {
            let connections = lock(&ctx.connections);
            for c in connections.iter() {
                c.sample(now, RECENT);
            }
            peer_median(&connections, now)
        };
        let inflight = lock(&ctx.inflight).clone();
        for span in &inflight {
            span.meter
                .sample(now, judged_over.max(LONGEST_PROVING + TICK));
        }
        let Some(median) = median else {
            continue;
        };
        *lock(&ctx.peers) = Peers { median };
        let slow = inflight.iter().filter_map(|s| {
            let pace = s.meter.pace(now, judged_over);
            let slow = pace.over >= slow_after && pace.bytes_per_sec < SLOW_FRACTION * median;
            Some((s, slow.then(|| s.take_rest()).flatten()?, pace))
        });
        for (span, (start, end), pace) in slow {
            tracing::info!(
                file = span.idx,
                bytes_per_sec = pace.bytes_per_sec as u64,
                peers_median = median as u64,
                "a connection far slower than its peers gives its range to a fresh one"
            );
            ctx.requeue(span.work(start, end));
        }
    }
}

/// The median recent pace of the run's connections (over all their requests, so a
/// connection between two short requests still counts) measured long enough, if at
/// least two are: one connection has no peers to be slow against.
fn peer_median(connections: &[Arc<PaceMeter>], now: Instant) -> Option<f64> {
    let mut paces: Vec<f64> = connections
        .iter()
        .map(|c| c.pace(now, RECENT))
        .filter(|p| p.over >= MIN_MEASURED)
        .map(|p| p.bytes_per_sec)
        .collect();
    if paces.len() < 2 {
        return None;
    }
    paces.sort_by(f64::total_cmp);
    let mid = paces.len() / 2;
    Some(if paces.len().is_multiple_of(2) {
        (paces[mid - 1] + paces[mid]) / 2.0
    } else {
        paces[mid]
    })
}

/// End-game: the rest of the range that would take longest at its connection's pace,
/// when that connection is far slower than its peers were. The rest is taken (the slow
/// request stops) and returned as work.
pub(super) fn hand_over(inflight: &[Arc<Span>], peers: Peers, now: Instant) -> Option<Work> {
    if peers.median <= 0.0 {
        return None;
    }
    let time_left = |s: &Span| {
        // A range handed over before must prove slow for longer each time, measured
        // over that longer time (samples come a tick apart).
        let proving = (MIN_MEASURED * 2u32.saturating_pow(s.handovers.min(3))).min(LONGEST_PROVING);
        let pace = s.meter.pace(now, RECENT.max(proving + TICK));
        let slow = pace.over >= proving && pace.bytes_per_sec < HANDOVER_FRACTION * peers.median;
        let left = s.remaining() as f64 / pace.bytes_per_sec.max(1.0);
        (slow && left >= HANDOVER_MIN_LEFT.as_secs_f64()).then_some(left)
    };
    let (victim, _) = inflight
        .iter()
        .filter_map(|s| Some((s, time_left(s)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let (start, end) = victim.take_rest()?;
    tracing::info!(
        file = victim.idx,
        bytes_left = end - start,
        "end-game: an idle connection takes over the rest of a slow one's range"
    );
    Some(Work {
        handovers: victim.handovers + 1,
        ..victim.work(start, end)
    })
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;

    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn span(handovers: u32, start: Instant) -> Arc<Span> {
        let work = Work {
            idx: 0,
            start: 0,
            end: 8 * MIB,
            epoch: 0,
            handovers,
        };
        let mut span = Span::new(&work, CancellationToken::new(), Arc::new(PaceMeter::new()));
        span.meter = PaceMeter::started_at(start);
        Arc::new(span)
    }

    /// `bytes` a second for `secs` seconds from `start`; returns the time after.
    fn run_for(start: Instant, secs: u64, bytes: usize, spans: &[&Arc<Span>]) -> Instant {
        for second in 1..=secs {
            for s in spans {
                s.arrived(bytes);
                s.meter
                    .sample(start + TICK * second as u32, LONGEST_PROVING + TICK);
            }
        }
        start + TICK * secs as u32
    }

    #[test]
    fn a_range_handed_over_before_must_prove_slow_for_longer() {
        let peers = Peers { median: MIB as f64 };
        let t0 = Instant::now();
        let (fresh, again) = (span(0, t0), span(1, t0));
        let now = run_for(t0, 3, 1000, &[&fresh, &again]);
        assert!(
            hand_over(std::slice::from_ref(&again), peers, now).is_none(),
            "3 s is not enough for a range handed over once"
        );
        let work = hand_over(&[fresh.clone(), again.clone()], peers, now)
            .expect("a slow fresh range is taken over");
        assert_eq!((work.start, work.end, work.handovers), (0, 8 * MIB, 1));
        assert!(fresh.cancel.is_cancelled(), "the slow request stops");
        let now = run_for(now, 1, 1000, &[&again]);
        let work = hand_over(std::slice::from_ref(&again), peers, now).expect("4 s is");
        assert_eq!(work.handovers, 2);

        // Twice handed over: 8 s, longer than the peers' recent window.
        let twice = span(2, now);
        let now = run_for(now, 7, 1000, &[&twice]);
        assert!(
            hand_over(std::slice::from_ref(&twice), peers, now).is_none(),
            "7 s is not enough for a range handed over twice"
        );
        let now = run_for(now, 1, 1000, &[&twice]);
        let work = hand_over(std::slice::from_ref(&twice), peers, now).expect("8 s is");
        assert_eq!(work.handovers, 3);
    }

    #[test]
    fn a_connection_keeping_up_with_its_peers_keeps_its_range() {
        let t0 = Instant::now();
        let s = span(0, t0);
        // 300 KiB/s against peers at 1 MiB/s: slower, not far slower.
        let now = run_for(t0, 5, 300 * 1024, &[&s]);
        let peers = Peers { median: MIB as f64 };
        assert!(hand_over(std::slice::from_ref(&s), peers, now).is_none());
        assert!(!s.cancel.is_cancelled());
        // Nothing is judged before any peer was measured.
        assert!(hand_over(&[s], Peers::default(), now).is_none());
    }
}
