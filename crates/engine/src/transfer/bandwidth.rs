//! The global bandwidth limit, changeable while downloads run.

use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Tokens are KiB so limits up to 4 TiB/s fit in governor's u32.
const UNIT: u64 = 1024;

#[derive(Clone)]
struct Limit {
    limiter: Arc<DefaultDirectRateLimiter>,
    burst: u32,
    bytes_per_sec: u64,
}

#[derive(Default)]
pub(crate) struct Bandwidth {
    current: RwLock<Option<Limit>>,
}

impl Bandwidth {
    pub fn new(limit: Option<u64>) -> Self {
        let b = Self::default();
        b.set(limit);
        b
    }

    /// Sets the limit in bytes per second; `None` or 0 removes it.
    pub fn set(&self, bytes_per_sec: Option<u64>) {
        let limit = bytes_per_sec.filter(|&b| b > 0).map(|bytes_per_sec| {
            let per_sec = u32::try_from(bytes_per_sec.div_ceil(UNIT)).unwrap_or(u32::MAX);
            // A fifth of a second of burst keeps the rate smooth without tiny waits.
            let burst = (per_sec / 5).max(16);
            let quota = Quota::per_second(NonZeroU32::MIN.saturating_add(per_sec - 1))
                .allow_burst(NonZeroU32::MIN.saturating_add(burst - 1));
            Limit {
                limiter: Arc::new(RateLimiter::direct(quota)),
                burst,
                bytes_per_sec,
            }
        });
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = limit;
    }

    pub fn limit(&self) -> Option<u64> {
        self.snapshot().map(|l| l.bytes_per_sec)
    }

    fn snapshot(&self) -> Option<Limit> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until `bytes` may pass.
    pub async fn take(&self, bytes: usize) {
        let Some(limit) = self.snapshot() else {
            return;
        };
        let mut units = (bytes as u64).div_ceil(UNIT);
        while units > 0 {
            let n = units.min(u64::from(limit.burst)) as u32;
            units -= u64::from(n);
            if let Some(n) = NonZeroU32::new(n) {
                // n <= burst, so the limiter always has the capacity.
                let _ = limit.limiter.until_n_ready(n).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_throughput_and_can_be_lifted() {
        let b = Bandwidth::new(Some(1024 * 1024));
        assert_eq!(b.limit(), Some(1024 * 1024));
        let start = std::time::Instant::now();
        // The burst (a fifth of a second) passes at once; the rest is paced.
        for _ in 0..8 {
            b.take(64 * 1024).await;
        }
        assert!(start.elapsed() >= std::time::Duration::from_millis(250));
        b.set(None);
        assert_eq!(b.limit(), None);
        let start = std::time::Instant::now();
        b.take(1 << 30).await;
        assert!(start.elapsed() < std::time::Duration::from_millis(50));
    }
}
