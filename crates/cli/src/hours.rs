//! `--limit-at` and `--only-between`: a bandwidth schedule for this run, in place of
//! the saved one (set through the agent API or the desktop app), which stays saved.

use clap::Args;
use inbound_engine::{LimitRule, Schedule, Window};

#[derive(Args, Clone, Default)]
pub struct Hours {
    /// A bandwidth limit in weekday hours, local time (repeatable):
    /// `'mon-fri 09:00-18:00 10M'`. Outside every rule, --limit (or none) applies.
    #[arg(long, value_name = "[DAYS] HH:MM-HH:MM RATE", value_parser = parse_rule)]
    limit_at: Vec<LimitRule>,
    /// Transfer only in these hours, local time (repeatable): `'22:00-06:00'` every
    /// night, `'sat,sun 00:00-24:00'` weekends. Outside them downloads wait, keeping
    /// their bytes, and go on by themselves.
    #[arg(long, value_name = "[DAYS] HH:MM-HH:MM", value_parser = parse_window)]
    only_between: Vec<Window>,
}

impl Hours {
    /// The schedule the flags give; `None` without any (the saved one applies).
    pub fn schedule(&self) -> Option<Schedule> {
        let schedule = Schedule {
            limits: self.limit_at.clone(),
            only_between: self.only_between.clone(),
        };
        (!schedule.is_empty()).then_some(schedule)
    }
}

fn parse_rule(s: &str) -> Result<LimitRule, String> {
    s.parse()
        .map_err(|e: inbound_engine::ScheduleTextError| e.to_string())
}

fn parse_window(s: &str) -> Result<Window, String> {
    s.parse()
        .map_err(|e: inbound_engine::ScheduleTextError| e.to_string())
}
