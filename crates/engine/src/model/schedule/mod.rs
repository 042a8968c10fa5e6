//! The bandwidth schedule: limits that apply in weekday time windows, and optionally
//! windows outside which nothing transfers. Pure: given a local time it says what is
//! in force and when that changes; `engine::timetable` applies it.

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

mod clock;
mod text;

pub use clock::{Clock, SystemClock};

pub use text::ScheduleTextError;

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const ALL: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    fn of(t: NaiveDateTime) -> Self {
        Self::ALL[t.weekday().num_days_from_monday() as usize]
    }

    fn before(self) -> Self {
        Self::ALL[(self as usize + 6) % 7]
    }

    pub fn name(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self as usize]
    }
}

/// A time of day as minutes since midnight, written `HH:MM`; `24:00` ends a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, TS)]
#[ts(export, type = "string")]
pub struct TimeOfDay(u16);

impl Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

const DAY_MINUTES: u16 = 24 * 60;

impl TimeOfDay {
    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn from_minutes(m: u16) -> Option<Self> {
        (m <= DAY_MINUTES).then_some(Self(m))
    }
}

impl std::str::FromStr for TimeOfDay {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ScheduleError::BadTime(s.to_owned());
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        if h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m > 59 || h * 60 + m > DAY_MINUTES {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// Weekdays and a time span. A span whose end is not after its start runs past
/// midnight into the next day (`22:00`–`06:00`); equal ends cover a whole day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Window {
    /// The days the span starts on.
    pub days: Vec<Day>,
    pub from: TimeOfDay,
    pub to: TimeOfDay,
}

/// A bandwidth limit in force inside a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LimitRule {
    #[serde(flatten)]
    pub window: Window,
    /// Bytes per second, over all downloads.
    #[ts(type = "number")]
    pub bytes_per_sec: u64,
}

/// When and how fast downloads may transfer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Schedule {
    /// Inside a rule's window its limit applies (the lowest, where windows overlap);
    /// outside them all, the global limit.
    #[serde(default)]
    pub limits: Vec<LimitRule>,
    /// If any, downloads transfer only inside these windows and wait outside them.
    #[serde(default)]
    pub only_between: Vec<Window>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("'{0}' is not a time of day; write it as HH:MM, from 00:00 to 24:00")]
    BadTime(String),
    #[error("a window names no day; give at least one (mon … sun)")]
    NoDays,
    #[error("a limit of 0 would stop downloads; use a download window for that")]
    ZeroLimit,
    #[error("a window cannot start at 24:00; start it at 00:00 instead")]
    StartsAtMidnightEnd,
}

/// What the schedule says for one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Downloads may transfer.
    pub open: bool,
    /// Bytes per second; `None` is unlimited.
    pub limit: Option<u64>,
    /// The limit comes from a schedule rule, not the global setting.
    pub scheduled_limit: bool,
}

impl Window {
    fn validate(&self) -> Result<(), ScheduleError> {
        if self.days.is_empty() {
            return Err(ScheduleError::NoDays);
        }
        if self.from.0 == DAY_MINUTES {
            return Err(ScheduleError::StartsAtMidnightEnd);
        }
        Ok(())
    }

    /// Whether the window covers local time `t`.
    pub fn covers(&self, t: NaiveDateTime) -> bool {
        let minute = (t.hour() * 60 + t.minute()) as u16;
        let (from, to) = (self.from.0, self.to.0);
        let today = self.days.contains(&Day::of(t));
        if from < to {
            today && (from..to).contains(&minute)
        } else {
            // Past midnight: the part after `from` today, or the part before `to` of a
            // span that started yesterday.
            (today && minute >= from) || (self.days.contains(&Day::of(t).before()) && minute < to)
        }
    }

    /// The moments after `t` (within a week) where this window starts or ends.
    fn edges_after(&self, t: NaiveDateTime, out: &mut Vec<NaiveDateTime>) {
        let midnight = t.date().and_hms_opt(0, 0, 0).unwrap_or(t);
        for day in 0..=8 {
            for edge in [self.from.0, self.to.0] {
                let at = midnight + Duration::days(day) + Duration::minutes(i64::from(edge));
                if at > t {
                    out.push(at);
                }
            }
        }
    }
}

impl Schedule {
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.only_between.is_empty()
    }

    pub fn validate(&self) -> Result<(), ScheduleError> {
        for rule in &self.limits {
            rule.window.validate()?;
            if rule.bytes_per_sec == 0 {
                return Err(ScheduleError::ZeroLimit);
            }
        }
        self.only_between.iter().try_for_each(Window::validate)
    }

    /// What is in force at local time `t`, with `global` the limit outside every rule.
    pub fn rules_at(&self, t: NaiveDateTime, global: Option<u64>) -> Rules {
        let open = self.only_between.is_empty() || self.only_between.iter().any(|w| w.covers(t));
        let scheduled = self
            .limits
            .iter()
            .filter(|r| r.window.covers(t))
            .map(|r| r.bytes_per_sec)
            .min();
        if !open {
            // Nothing transfers, so no limit is in force: a limit changing meanwhile
            // is no change.
            return Rules {
                open,
                limit: None,
                scheduled_limit: false,
            };
        }
        Rules {
            open,
            limit: scheduled.or(global),
            scheduled_limit: scheduled.is_some(),
        }
    }

    /// The first moment after `t` where what is in force changes, if within a week.
    pub fn next_change(&self, t: NaiveDateTime, global: Option<u64>) -> Option<NaiveDateTime> {
        let now = self.rules_at(t, global);
        let mut edges = Vec::new();
        for w in self
            .limits
            .iter()
            .map(|r| &r.window)
            .chain(&self.only_between)
        {
            w.edges_after(t, &mut edges);
        }
        edges.sort_unstable();
        edges.dedup();
        edges
            .into_iter()
            .find(|&at| self.rules_at(at, global) != now)
    }
}

#[cfg(test)]
mod tests;
