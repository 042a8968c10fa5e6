use std::time::Duration;

use rand::Rng;

/// Exponential backoff with full jitter; a server's `Retry-After` wins when longer.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    max_attempts: u32,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration, max_attempts: u32) -> Self {
        Self {
            base,
            max,
            max_attempts,
            attempt: 0,
        }
    }

    /// The pause before the next attempt, or `None` when attempts are used up.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.attempt >= self.max_attempts {
            return None;
        }
        self.attempt += 1;
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.max);
        let jittered = rand::rng().random_range(ceiling / 2..=ceiling);
        Some(retry_after.map_or(jittered, |r| r.max(jittered.min(self.base))))
    }

    /// Progress was made: the next failure starts from the shortest pause again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_honours_retry_after_and_gives_up() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 5);
        let d1 = b.next_delay(None).unwrap();
        assert!(d1 >= Duration::from_millis(100) && d1 <= Duration::from_millis(200));
        let d2 = b.next_delay(None).unwrap();
        assert!(d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(400));
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert!(b.next_delay(None).unwrap() <= Duration::from_secs(1));
        assert!(b.next_delay(None).is_some());
        assert!(b.next_delay(None).is_none());
        b.reset();
        assert!(b.next_delay(None).is_some());
    }
}
