//! A clock the test moves by hand, for the bandwidth schedule.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use inbound_engine::Clock;
use tokio::sync::watch;

#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<NaiveDateTime>,
}

impl ManualClock {
    pub fn at(now: NaiveDateTime) -> Arc<Self> {
        Arc::new(Self {
            now: watch::Sender::new(now),
        })
    }

    /// Moves the clock to `at`; whatever waits for a time up to it wakes.
    pub fn set(&self, at: NaiveDateTime) {
        self.now.send_replace(at);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> NaiveDateTime {
        *self.now.borrow()
    }

    fn wait_until(&self, at: NaiveDateTime) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let mut moved = self.now.subscribe();
        Box::pin(async move {
            let _ = moved.wait_for(|now| *now >= at).await;
        })
    }
}

/// A local date and time in the week of Monday 2026-11-23 (`day` 23 is that Monday).
pub fn local(day: u32, hour: u32, minute: u32, second: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, day)
        .and_then(|d| d.and_hms_opt(hour, minute, second))
        .expect("a valid date")
}
