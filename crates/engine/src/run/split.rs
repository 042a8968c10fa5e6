//! Work stealing: an idle connection splits the range with the most left and fetches
//! its second half. A split is not free: the first request stops at the cut, and what
//! storage has already sent past it (socket buffers on both sides, megabytes on a fast
//! path) is thrown away, besides the new request's round trip. So a range is split only
//! when its rest would take a while at the pace its request shows; a request too young
//! to have shown a pace is judged a moment later, not split blindly.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::transfer::span::{Span, Work};

/// Both halves of a split are at least this big (a new request costs a round trip).
pub(super) const MIN_PIECE: u64 = 2 * 1024 * 1024;
/// A range is split only when its rest would take at least this long at its request's
/// pace: the split then saves at least half of it.
const WORTH_SPLITTING: Duration = Duration::from_secs(1);
/// A request's pace is judged once it has run this long (its first moments are the
/// round trip).
const JUDGED_AFTER: Duration = Duration::from_millis(200);
/// The pace judged is the request's recent one, over at most this long.
const RECENT: Duration = Duration::from_secs(5);

/// Whether splitting `span` pays, or `None` while its request is too young to say.
fn pays(span: &Span, now: Instant) -> Option<bool> {
    let pace = span.meter.pace(now, RECENT);
    if pace.over < JUDGED_AFTER {
        return None;
    }
    // Nothing arrived yet: as slow as a request can be.
    if pace.bytes_per_sec <= 0.0 {
        return Some(true);
    }
    Some(span.remaining() as f64 / pace.bytes_per_sec >= WORTH_SPLITTING.as_secs_f64())
}

/// The second half of the range with the most left among those worth splitting, taken
/// from its connection (which stops at the cut).
pub(super) fn steal(inflight: &[Arc<Span>], now: Instant) -> Option<Work> {
    let mut by_remaining: Vec<_> = inflight
        .iter()
        .filter(|s| pays(s, now) == Some(true))
        .collect();
    by_remaining.sort_by_key(|s| std::cmp::Reverse(s.remaining()));
    by_remaining.into_iter().find_map(|s| {
        s.steal_half(MIN_PIECE)
            .map(|(start, end)| s.work(start, end))
    })
}

/// How long until the youngest range big enough to split can be judged, if one is too
/// young now: an idle connection waits that long rather than close.
pub(super) fn until_judged(inflight: &[Arc<Span>], now: Instant) -> Option<Duration> {
    inflight
        .iter()
        .filter(|s| s.remaining() >= 2 * MIN_PIECE && pays(s, now).is_none())
        .map(|s| JUDGED_AFTER.saturating_sub(s.meter.pace(now, RECENT).over))
        .max()
        .map(|d| d.max(Duration::from_millis(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::span::Meter;
    use tokio_util::sync::CancellationToken;

    const MIB: u64 = 1024 * 1024;

    /// A request for `len` bytes that started at `started` and has `arrived` of them.
    fn span(len: u64, started: Instant, arrived: u64) -> Arc<Span> {
        let work = Work {
            idx: 0,
            start: 0,
            end: len,
            epoch: 0,
            handovers: 0,
        };
        let mut s = Span::new(&work, CancellationToken::new(), Arc::new(Meter::new()));
        s.meter = Meter::started_at(started);
        s.arrived(arrived as usize);
        s.pos.store(arrived, std::sync::atomic::Ordering::Relaxed);
        Arc::new(s)
    }

    #[test]
    fn a_range_that_finishes_within_a_second_is_left_whole() {
        let t = Instant::now();
        let now = t + Duration::from_millis(500);
        // 4 MiB in half a second: the other 12 MiB take 1.5 s, worth splitting...
        assert!(steal(&[span(16 * MIB, t, 4 * MIB)], now).is_some());
        // ...8 MiB of 16 in half a second: 0.5 s left, not.
        assert!(steal(&[span(16 * MIB, t, 8 * MIB)], now).is_none());
    }

    #[test]
    fn a_request_with_nothing_yet_is_split_once_it_can_be_judged() {
        let t = Instant::now();
        let waiting = [span(16 * MIB, t, 0)];
        let young = t + Duration::from_millis(50);
        assert!(steal(&waiting, young).is_none(), "too young to judge");
        assert_eq!(
            until_judged(&waiting, young),
            Some(Duration::from_millis(150))
        );
        let judged = t + JUDGED_AFTER;
        assert_eq!(until_judged(&waiting, judged), None);
        assert_eq!(
            steal(&waiting, judged).map(|w| (w.start, w.end)),
            Some((8 * MIB, 16 * MIB))
        );
    }

    #[test]
    fn a_range_too_small_to_split_is_not_waited_for() {
        let t = Instant::now();
        let small = [span(3 * MIB, t, 0)];
        assert_eq!(until_judged(&small, t + Duration::from_millis(10)), None);
    }
}
