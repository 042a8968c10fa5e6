//! `/settings/bandwidth_schedule`: the bandwidth schedule (limits in weekday hours,
//! download hours) as the API reads and writes it.

use axum::Json;
use axum::extract::State;
use bytes::Bytes;
use inbound_engine::{Day, Engine, LimitRule, Schedule, ScheduleStatus, TimeOfDay, Window};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::views::rfc3339;

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl DayName {
    pub(crate) fn to_engine(self) -> Day {
        Day::ALL[self as usize]
    }

    pub(crate) fn of(d: Day) -> Self {
        [
            Self::Mon,
            Self::Tue,
            Self::Wed,
            Self::Thu,
            Self::Fri,
            Self::Sat,
            Self::Sun,
        ][d as usize]
    }
}

/// Weekdays and hours in local time. A span whose end is not after its start runs
/// past midnight (`22:00`–`06:00` belongs to the day it starts on); equal ends are a
/// whole day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WindowBody {
    /// The days the span starts on; at least one.
    #[schema(min_items = 1)]
    pub days: Vec<DayName>,
    /// `HH:MM`, 00:00 to 23:59.
    #[schema(example = "09:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub from: String,
    /// `HH:MM`, 00:00 to 24:00.
    #[schema(example = "18:00", pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    pub to: String,
}

/// A bandwidth limit in force inside its hours.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LimitRuleBody {
    #[serde(flatten)]
    pub hours: WindowBody,
    /// Bytes per second over all downloads; at least 1.
    #[schema(minimum = 1, example = 10485760)]
    pub bytes_per_sec: u64,
}

/// The schedule as written: `PUT` replaces it whole (`{}` clears it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ScheduleBody {
    /// Inside a rule's hours its limit applies (the lowest where rules overlap);
    /// outside them all, the global limit.
    #[serde(default)]
    pub limits: Vec<LimitRuleBody>,
    /// If any, downloads transfer only inside these hours and wait outside them.
    #[serde(default)]
    pub only_between: Vec<WindowBody>,
}

/// What the schedule has in force now.
#[derive(Debug, Serialize, ToSchema)]
pub struct InForce {
    /// Downloads may transfer now.
    pub open: bool,
    /// Bytes per second in force; null is unlimited.
    pub limit: Option<u64>,
    /// The limit is a schedule rule's, not the global limit.
    pub scheduled_limit: bool,
    /// When that changes next (RFC 3339), if within a week.
    pub changes_at: Option<String>,
    pub next_open: bool,
    pub next_limit: Option<u64>,
}

/// The schedule and what it has in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleAnswer {
    pub schedule: ScheduleBody,
    pub in_force: InForce,
}

impl WindowBody {
    fn to_engine(&self) -> Result<Window, ApiError> {
        let time = |s: &str| {
            s.parse::<TimeOfDay>()
                .map_err(|e| ApiError::bad_request("invalid_schedule", e.to_string()))
        };
        Ok(Window {
            days: self.days.iter().map(|d| d.to_engine()).collect(),
            from: time(&self.from)?,
            to: time(&self.to)?,
        })
    }

    fn of(w: &Window) -> Self {
        Self {
            days: w.days.iter().map(|&d| DayName::of(d)).collect(),
            from: w.from.to_string(),
            to: w.to.to_string(),
        }
    }
}

impl ScheduleBody {
    fn to_engine(&self) -> Result<Schedule, ApiError> {
        Ok(Schedule {
            limits: self
                .limits
                .iter()
                .map(|r| {
                    Ok(LimitRule {
                        window: r.hours.to_engine()?,
                        bytes_per_sec: r.bytes_per_sec,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            only_between: self
                .only_between
                .iter()
                .map(WindowBody::to_engine)
                .collect::<Result<_, ApiError>>()?,
        })
    }

    fn of(s: &Schedule) -> Self {
        Self {
            limits: s
                .limits
                .iter()
                .map(|r| LimitRuleBody {
                    hours: WindowBody::of(&r.window),
                    bytes_per_sec: r.bytes_per_sec,
                })
                .collect(),
            only_between: s.only_between.iter().map(WindowBody::of).collect(),
        }
    }
}

impl From<ScheduleStatus> for InForce {
    fn from(s: ScheduleStatus) -> Self {
        Self {
            open: s.open,
            limit: s.limit,
            scheduled_limit: s.scheduled_limit,
            changes_at: s.changes_at.map(rfc3339),
            next_open: s.next_open,
            next_limit: s.next_limit,
        }
    }
}

fn answer(engine: &Engine) -> Json<ScheduleAnswer> {
    Json(ScheduleAnswer {
        schedule: ScheduleBody::of(&engine.bandwidth_schedule()),
        in_force: engine.schedule_status().into(),
    })
}

/// The bandwidth schedule and what it has in force now.
#[utoipa::path(get, path = "/settings/bandwidth_schedule", tag = "settings",
    responses((status = 200, description = "The schedule (empty lists: none)", body = ScheduleAnswer)))]
pub async fn get_schedule(State(engine): State<Engine>) -> Json<ScheduleAnswer> {
    answer(&engine)
}

/// Replaces the bandwidth schedule. It is saved with the downloads and in force at
/// once: downloads outside the new download hours go back to the queue with their
/// bytes kept, and go on by themselves when the hours begin.
#[utoipa::path(put, path = "/settings/bandwidth_schedule", tag = "settings",
    request_body = ScheduleBody,
    responses(
        (status = 200, description = "Saved and in force", body = ScheduleAnswer),
        (status = 400, description = "Malformed body, a time not HH:MM, a window without days, or a limit of 0", body = crate::error::ErrorBody),
    ))]
pub async fn put_schedule(
    State(engine): State<Engine>,
    body: Bytes,
) -> Result<Json<ScheduleAnswer>, ApiError> {
    let body: ScheduleBody = crate::error::json_body(
        &body,
        "invalid_schedule",
        r#"{"limits": [{"days": ["mon", "fri"], "from": "09:00", "to": "18:00", "bytes_per_sec": 10485760}], "only_between": []}"#,
    )?;
    engine.set_bandwidth_schedule(body.to_engine()?)?;
    Ok(answer(&engine))
}
