//! Local wall-clock time for the schedule, behind a trait so a test can move time on
//! instead of waiting for it.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{Local, NaiveDateTime, TimeZone};

/// The schedule's view of time.
pub trait Clock: Send + Sync + Debug {
    /// The local date and time now.
    fn now(&self) -> NaiveDateTime;
    /// Resolves at local time `at`, or earlier: the caller reads [`Clock::now`] again
    /// and waits anew when it is not there yet.
    fn wait_until(&self, at: NaiveDateTime) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// `t` (local time) as Unix seconds, for a person to read.
    fn unix(&self, t: NaiveDateTime) -> i64 {
        Local
            .from_local_datetime(&t)
            .earliest()
            .map_or_else(|| t.and_utc().timestamp(), |z| z.timestamp())
    }
}

/// The machine's clock in its time zone.
#[derive(Debug, Default)]
pub struct SystemClock;

/// Waits are cut to this, so a suspended laptop, a clock set by hand or a time-zone
/// change is noticed within it.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        Local::now().naive_local()
    }

    fn wait_until(&self, at: NaiveDateTime) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let left = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        Box::pin(tokio::time::sleep(left.min(LONGEST_WAIT)))
    }
}
