//! The schedule written as a person types it on a command line: a window is
//! `[days] HH:MM-HH:MM` (`mon-fri 09:00-18:00`, `sat,sun 00:00-24:00`, `22:00-06:00`
//! for every day) and a limit rule is a window and a rate (`mon-fri 09:00-18:00 10M`).

use std::fmt;
use std::str::FromStr;

use super::{Day, LimitRule, ScheduleError, TimeOfDay, Window};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleTextError {
    #[error("'{0}' is not a day or range of days; use mon … sun, like mon-fri or sat,sun")]
    BadDays(String),
    #[error("'{0}' is not a time span; write it as HH:MM-HH:MM, like 09:00-18:00")]
    BadSpan(String),
    #[error("'{0}' has no rate; write it as [days] HH:MM-HH:MM RATE, like mon-fri 09:00-18:00 10M")]
    NoRate(String),
    #[error("'{0}' is not a window; write it as [days] HH:MM-HH:MM, like mon-fri 22:00-06:00")]
    BadWindow(String),
    #[error("{0}")]
    Rate(#[from] crate::model::display::ByteSizeError),
    #[error(transparent)]
    Rule(#[from] ScheduleError),
}

fn parse_day(s: &str) -> Option<Day> {
    let s = s.trim().to_ascii_lowercase();
    Day::ALL
        .into_iter()
        .find(|d| s.len() >= 3 && d.name() == &s[..3] && full_name(*d).starts_with(&s))
}

fn full_name(d: Day) -> &'static str {
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ][d as usize]
}

/// `mon-fri`, `sat,sun`, `mon,wed-fri`, `daily`.
fn parse_days(s: &str) -> Result<Vec<Day>, ScheduleTextError> {
    let bad = || ScheduleTextError::BadDays(s.to_owned());
    if matches!(
        s.to_ascii_lowercase().as_str(),
        "daily" | "every-day" | "all"
    ) {
        return Ok(Day::ALL.to_vec());
    }
    let mut days = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (parse_day(a).ok_or_else(bad)?, parse_day(b).ok_or_else(bad)?);
                // A range may wrap the week's end: fri-mon is fri, sat, sun, mon.
                let mut d = a as usize;
                loop {
                    days.push(Day::ALL[d]);
                    if d == b as usize {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days.push(parse_day(part).ok_or_else(bad)?),
        }
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

fn parse_span(s: &str) -> Result<(TimeOfDay, TimeOfDay), ScheduleTextError> {
    let bad = || ScheduleTextError::BadSpan(s.to_owned());
    let (from, to) = s.split_once('-').ok_or_else(bad)?;
    Ok((from.parse()?, to.parse()?))
}

/// Words of a window: an optional days word, then the span.
fn parse_window_words(words: &[&str], whole: &str) -> Result<Window, ScheduleTextError> {
    let (days, span) = match words {
        [span] => (Day::ALL.to_vec(), *span),
        [days, span] => (parse_days(days)?, *span),
        _ => return Err(ScheduleTextError::BadWindow(whole.to_owned())),
    };
    let (from, to) = parse_span(span)?;
    let window = Window { days, from, to };
    window.validate()?;
    Ok(window)
}

impl FromStr for Window {
    type Err = ScheduleTextError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s.split_whitespace().collect();
        parse_window_words(&words, s)
    }
}

impl FromStr for LimitRule {
    type Err = ScheduleTextError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let Some((rate, window)) = words.split_last().filter(|(_, w)| !w.is_empty()) else {
            return Err(ScheduleTextError::NoRate(s.to_owned()));
        };
        if rate.contains(':') {
            return Err(ScheduleTextError::NoRate(s.to_owned()));
        }
        let bytes_per_sec = crate::model::display::parse_bytes(rate)?;
        Ok(Self {
            window: parse_window_words(window, s)?,
            bytes_per_sec,
        })
    }
}

/// Days as they are typed: runs of three or more as a range (`mon-fri`).
fn days_text(days: &[Day]) -> String {
    let mut days = days.to_vec();
    days.sort_unstable();
    days.dedup();
    if days.len() == 7 {
        return "daily".into();
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < days.len() {
        let mut j = i;
        while j + 1 < days.len() && days[j + 1] as usize == days[j] as usize + 1 {
            j += 1;
        }
        if j >= i + 2 {
            parts.push(format!("{}-{}", days[i].name(), days[j].name()));
        } else {
            parts.extend(days[i..=j].iter().map(|d| d.name().to_owned()));
        }
        i = j + 1;
    }
    parts.join(",")
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}-{}", days_text(&self.days), self.from, self.to)
    }
}

impl fmt::Display for LimitRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/s",
            self.window,
            crate::model::display::human_bytes(self.bytes_per_sec)
        )
    }
}
