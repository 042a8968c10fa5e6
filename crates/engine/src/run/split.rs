//! Work stealing: an idle connection splits the range with the most left and fetches
//! its second half. A split is not free: the first request stops at the cut, and what
//! storage has already sent past it (socket buffers on both sides, megabytes on a fast
//! path) is thrown away, besides the new request's round trip. So a range is split only
//! when its rest would take a while at the pace its bytes have been coming (counted
//! from its first byte: the round trip before it is not the pace); a request too young
//! to say is judged a moment later, not split blindly.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::transfer::span::{Span, Work};

/// Both halves of a split are at least this big (a new request costs a round trip).
pub(super) const MIN_PIECE: u64 = 2 * 1024 * 1024;
/// A range is split only when its rest would take at least this long at its request's
/// pace: the split then saves at least half of it.
const WORTH_SPLITTING: Duration = Duration::from_secs(1);
/// A request's pace is judged once its bytes have come for this long.
const JUDGED_AFTER: Duration = Duration::from_millis(200);
/// A request that has had no byte for this long is as slow as a request can be.
const SILENT_FOR: Duration = Duration::from_secs(1);
/// The pace judged is the request's recent one, over at most this long.
const RECENT: Duration = Duration::from_secs(5);

/// Whether splitting `span` pays, or `None` while its request is too young to say.
fn pays(span: &Span, now: Instant) -> Option<bool> {
    let Some(&first) = span.first_byte.get() else {
        return (now.saturating_duration_since(span.started) >= SILENT_FOR).then_some(true);
    };
    let coming = now.saturating_duration_since(first);
    if coming < JUDGED_AFTER {
        return None;
    }
    let bytes_per_sec = if coming < RECENT {
        span.meter.total() as f64 / coming.as_secs_f64()
    } else {
        span.meter.pace(now, RECENT).bytes_per_sec
    };
    if bytes_per_sec <= 0.0 {
        return Some(true);
    }
    Some(span.remaining() as f64 / bytes_per_sec >= WORTH_SPLITTING.as_secs_f64())
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

/// How long until the first range big enough to split that is too young to judge now
/// can be judged, if there is one: an idle connection waits that long rather than close.
pub(super) fn until_judged(inflight: &[Arc<Span>], now: Instant) -> Option<Duration> {
    inflight
        .iter()
        .filter(|s| s.remaining() >= 2 * MIN_PIECE && pays(s, now).is_none())
        .map(|s| match s.first_byte.get() {
            Some(&first) => JUDGED_AFTER.saturating_sub(now.saturating_duration_since(first)),
            None => SILENT_FOR.saturating_sub(now.saturating_duration_since(s.started)),
        })
        .min()
        .map(|d| d.max(Duration::from_millis(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::span::PaceMeter;
    use tokio_util::sync::CancellationToken;

    const MIB: u64 = 1024 * 1024;

    /// A request for `len` bytes made at `started`, whose first byte came at `first`,
    /// with `arrived` of them.
    fn span(len: u64, started: Instant, first: Option<Instant>, arrived: u64) -> Arc<Span> {
        let work = Work {
            idx: 0,
            start: 0,
            end: len,
            epoch: 0,
            handovers: 0,
        };
        let mut s = Span::new(&work, CancellationToken::new(), Arc::new(PaceMeter::new()));
        s.started = started;
        if let Some(first) = first {
            s.first_byte.set(first).unwrap();
        }
        s.meter.add(arrived as usize);
        s.pos.store(arrived, std::sync::atomic::Ordering::Relaxed);
        Arc::new(s)
    }

    #[test]
    fn a_range_that_finishes_within_a_second_is_left_whole() {
        let t = Instant::now();
        let first = t + Duration::from_millis(100);
        let now = first + Duration::from_millis(500);
        // 4 MiB in half a second since its first byte: the other 12 MiB take 1.5 s,
        // worth splitting...
        assert!(steal(&[span(16 * MIB, t, Some(first), 4 * MIB)], now).is_some());
        // ...8 MiB of 16: 0.5 s left, not.
        assert!(steal(&[span(16 * MIB, t, Some(first), 8 * MIB)], now).is_none());
    }

    #[test]
    fn the_round_trip_before_the_first_byte_is_not_counted_as_slowness() {
        let t = Instant::now();
        // Answered after 400 ms, then 4 MiB in 200 ms: 20 MiB/s, 0.6 s left.
        let first = t + Duration::from_millis(400);
        let now = first + JUDGED_AFTER;
        assert!(steal(&[span(16 * MIB, t, Some(first), 4 * MIB)], now).is_none());
    }

    #[test]
    fn a_request_is_judged_a_moment_after_its_first_byte() {
        let t = Instant::now();
        let first = t + Duration::from_millis(30);
        let young = [span(16 * MIB, t, Some(first), 64 * 1024)];
        let now = first + Duration::from_millis(50);
        assert!(steal(&young, now).is_none(), "too young to judge");
        assert_eq!(until_judged(&young, now), Some(Duration::from_millis(150)));
        let judged = first + JUDGED_AFTER;
        assert_eq!(until_judged(&young, judged), None);
        // 64 KiB in 200 ms: the rest takes a minute.
        assert!(steal(&young, judged).is_some());
    }

    #[test]
    fn a_request_with_no_answer_is_split_once_it_has_been_silent_a_while() {
        let t = Instant::now();
        let silent = [span(16 * MIB, t, None, 0)];
        let soon = t + Duration::from_millis(400);
        assert!(steal(&silent, soon).is_none());
        assert_eq!(
            until_judged(&silent, soon),
            Some(Duration::from_millis(600))
        );
        assert_eq!(
            steal(&silent, t + SILENT_FOR).map(|w| (w.start, w.end)),
            Some((8 * MIB, 16 * MIB))
        );
    }

    #[test]
    fn a_range_too_small_to_split_is_not_waited_for() {
        let t = Instant::now();
        let small = [span(3 * MIB, t, None, 0)];
        assert_eq!(until_judged(&small, t + Duration::from_millis(10)), None);
    }
}
