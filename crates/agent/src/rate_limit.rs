//! `/settings/download_rate_limit`: the MASV Agent's download rate limit with its
//! weekday schedule, in MASV's words (developer.massive.io "transfer-agent/settings"
//! and the provisioning file's `settings.download_rate_limit`).
//!
//! It is a view of Inbound's bandwidth schedule, not a second setting: a limit in force
//! at all times is a rule covering every day whole, a scheduled one is a rule per
//! enabled day. Writing it replaces the schedule's limit rules and keeps its download
//! hours; reading it describes whatever rules are in force, however they were set.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use bytes::Bytes;
use inbound_engine::{Day, Engine, LimitRule, Schedule, TimeOfDay, Window};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::schedule::DayName;

/// One day of the rate limit's schedule: the limit applies from `start` to `end` (local
/// time; an `end` not after `start` runs past midnight, equal ends are the whole day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DayHours {
    pub enabled: bool,
    /// `HH:MM`.
    #[schema(example = "09:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    #[serde(default = "midnight")]
    pub start: String,
    /// `HH:MM` (`24:00` ends the day).
    #[schema(example = "17:00", pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    #[serde(default = "midnight")]
    pub end: String,
}

fn midnight() -> String {
    "00:00".to_owned()
}

/// The download rate limit as the MASV Agent reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitBody {
    /// Off: downloads are not limited by this setting.
    pub enabled: bool,
    /// Bits per second over all downloads, as the name says (`20000000` is 20 Mbit/s,
    /// 2.5 MB/s); at least 8 while enabled.
    #[serde(default)]
    #[schema(example = 20000000)]
    pub rate_limit_bps: u64,
    /// On: the limit applies only in the enabled days' hours, and downloads are not
    /// limited outside them. Off: it applies at all times.
    #[serde(default)]
    pub schedule_enabled: bool,
    /// Days by their three-letter names (`mon` … `sun`); a day left out is not limited.
    #[serde(default)]
    pub schedule: BTreeMap<DayName, DayHours>,
    /// Present when Inbound's schedule has limits this shape cannot say (different
    /// rates, or several spans in a day): read them at this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub see_also: Option<String>,
}

/// The request was understood but cannot be a schedule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RateLimitError {
    #[error("rate_limit_bps must be at least 8 (one byte a second) while the limit is enabled")]
    TooLow,
    #[error(
        "schedule.{day}.{field} is {value:?}, which is not a time: write it HH:MM, like \"09:00\""
    )]
    BadTime {
        day: &'static str,
        field: &'static str,
        value: String,
    },
    #[error("schedule_enabled is true but no day of the schedule is enabled")]
    NoDay,
}

const SEE_ALSO: &str = "/api/v1/settings/bandwidth_schedule";

impl RateLimitBody {
    /// The limit rules this body puts in force (none when disabled).
    pub fn rules(&self) -> Result<Vec<LimitRule>, RateLimitError> {
        if !self.enabled {
            return Ok(Vec::new());
        }
        let bytes_per_sec = self.rate_limit_bps / 8;
        if bytes_per_sec == 0 {
            return Err(RateLimitError::TooLow);
        }
        if !self.schedule_enabled {
            let whole = TimeOfDay::from_minutes(0).ok_or(RateLimitError::TooLow)?;
            return Ok(vec![LimitRule {
                window: Window {
                    days: Day::ALL.to_vec(),
                    from: whole,
                    to: whole,
                },
                bytes_per_sec,
            }]);
        }
        let mut rules = Vec::new();
        for (day, hours) in self.schedule.iter().filter(|(_, h)| h.enabled) {
            let time = |field: &'static str, value: &str| {
                value
                    .parse::<TimeOfDay>()
                    .map_err(|_| RateLimitError::BadTime {
                        day: day.to_engine().name(),
                        field,
                        value: value.to_owned(),
                    })
            };
            rules.push(LimitRule {
                window: Window {
                    days: vec![day.to_engine()],
                    from: time("start", &hours.start)?,
                    to: time("end", &hours.end)?,
                },
                bytes_per_sec,
            });
        }
        if rules.is_empty() {
            return Err(RateLimitError::NoDay);
        }
        Ok(rules)
    }

    /// How `schedule`'s limit rules (and the global limit, in force outside them) read
    /// in MASV's shape.
    pub fn of(schedule: &Schedule, global: Option<u64>) -> Self {
        let rules = &schedule.limits;
        let Some(first) = rules.first() else {
            return Self {
                enabled: global.is_some(),
                rate_limit_bps: global.map_or(0, |b| b.saturating_mul(8)),
                schedule_enabled: false,
                schedule: BTreeMap::new(),
                see_also: None,
            };
        };
        let all_week = rules.len() == 1
            && first.window.from == first.window.to
            && Day::ALL.iter().all(|d| first.window.days.contains(d));
        let mut schedule_days = BTreeMap::new();
        let mut exact =
            global.is_none() && rules.iter().all(|r| r.bytes_per_sec == first.bytes_per_sec);
        if !all_week {
            for r in rules {
                for &d in &r.window.days {
                    let hours = DayHours {
                        enabled: true,
                        start: r.window.from.to_string(),
                        end: r.window.to.to_string(),
                    };
                    if schedule_days.insert(DayName::of(d), hours).is_some() {
                        exact = false;
                    }
                }
            }
        }
        Self {
            enabled: true,
            rate_limit_bps: rules
                .iter()
                .map(|r| r.bytes_per_sec)
                .min()
                .unwrap_or(first.bytes_per_sec)
                .saturating_mul(8),
            schedule_enabled: !all_week,
            schedule: schedule_days,
            see_also: (!exact).then(|| SEE_ALSO.to_owned()),
        }
    }

    /// `schedule` with its limit rules replaced by this body's; its download hours kept.
    pub fn applied_to(&self, schedule: &Schedule) -> Result<Schedule, RateLimitError> {
        Ok(Schedule {
            limits: self.rules()?,
            only_between: schedule.only_between.clone(),
        })
    }
}

fn view(engine: &Engine) -> Json<RateLimitBody> {
    Json(RateLimitBody::of(
        &engine.bandwidth_schedule(),
        engine.bandwidth_limit(),
    ))
}

/// The download rate limit and its weekday schedule, read from Inbound's bandwidth
/// schedule.
#[utoipa::path(get, path = "/settings/download_rate_limit", tag = "settings",
    responses((status = 200, description = "The limit in force", body = RateLimitBody)))]
pub async fn get_rate_limit(State(engine): State<Engine>) -> Json<RateLimitBody> {
    view(&engine)
}

/// Sets the download rate limit (`PUT` or `POST`): saved with the downloads and in
/// force at once. It replaces the bandwidth schedule's limit rules; its download hours
/// stay.
#[utoipa::path(put, path = "/settings/download_rate_limit", tag = "settings",
    request_body = RateLimitBody,
    responses(
        (status = 200, description = "Saved and in force", body = RateLimitBody),
        (status = 400, description = "Malformed body, a time not HH:MM, a rate under 8 bits per second, or a schedule with no day", body = crate::error::ErrorBody),
    ))]
pub async fn put_rate_limit(
    State(engine): State<Engine>,
    body: Bytes,
) -> Result<Json<RateLimitBody>, ApiError> {
    let body: RateLimitBody = crate::error::json_body(
        &body,
        "invalid_rate_limit",
        r#"{"enabled": true, "rate_limit_bps": 20000000, "schedule_enabled": true, "schedule": {"mon": {"enabled": true, "start": "09:00", "end": "17:00"}}}"#,
    )?;
    let schedule = body
        .applied_to(&engine.bandwidth_schedule())
        .map_err(|e| ApiError::bad_request("invalid_rate_limit", e.to_string()))?;
    engine.set_bandwidth_schedule(schedule)?;
    Ok(view(&engine))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> RateLimitBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_limit_at_all_times_is_one_rule_over_the_whole_week_and_reads_back_the_same() {
        let b = body(r#"{"enabled": true, "rate_limit_bps": 80000000}"#);
        let rules = b.rules().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].bytes_per_sec, 10_000_000);
        assert_eq!(rules[0].window.days.len(), 7);
        let s = Schedule {
            limits: rules,
            only_between: vec![],
        };
        assert_eq!(RateLimitBody::of(&s, None), b);
    }

    #[test]
    fn a_weekday_schedule_is_a_rule_per_enabled_day_and_reads_back_the_same() {
        let b = body(
            r#"{"enabled": true, "rate_limit_bps": 20000000, "schedule_enabled": true,
                "schedule": {"mon": {"enabled": true, "start": "09:00", "end": "17:00"},
                             "fri": {"enabled": true, "start": "22:00", "end": "06:00"}}}"#,
        );
        let s = b.applied_to(&Schedule::default()).unwrap();
        assert_eq!(s.limits.len(), 2);
        assert_eq!(RateLimitBody::of(&s, None), b);
    }

    #[test]
    fn disabled_days_and_a_disabled_limit_put_nothing_in_force() {
        let b = body(
            r#"{"enabled": true, "rate_limit_bps": 8000, "schedule_enabled": true,
                "schedule": {"tue": {"enabled": false, "start": "09:00", "end": "17:00"}}}"#,
        );
        assert_eq!(b.rules(), Err(RateLimitError::NoDay));
        let off = body(r#"{"enabled": false, "rate_limit_bps": 0}"#);
        assert!(off.rules().unwrap().is_empty());
    }

    #[test]
    fn bad_input_is_named() {
        let b = body(
            r#"{"enabled": true, "rate_limit_bps": 8000, "schedule_enabled": true,
                "schedule": {"wed": {"enabled": true, "start": "9am", "end": "17:00"}}}"#,
        );
        assert_eq!(
            b.rules().unwrap_err().to_string(),
            "schedule.wed.start is \"9am\", which is not a time: write it HH:MM, like \"09:00\""
        );
        assert_eq!(
            body(r#"{"enabled": true, "rate_limit_bps": 7}"#).rules(),
            Err(RateLimitError::TooLow)
        );
        let typo = serde_json::from_str::<RateLimitBody>(
            r#"{"enabled": true, "rate_limit_bps": 8000, "schedule": {"tue": {"enabled": true, "estart": "09:00"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(typo.contains("unknown field `estart`"), "{typo}");
    }

    #[test]
    fn limits_this_shape_cannot_say_point_to_the_full_schedule() {
        let rule = |day, bytes_per_sec| LimitRule {
            window: Window {
                days: vec![day],
                from: "09:00".parse().unwrap(),
                to: "17:00".parse().unwrap(),
            },
            bytes_per_sec,
        };
        let s = Schedule {
            limits: vec![rule(Day::Mon, 1000), rule(Day::Tue, 2000)],
            only_between: vec![],
        };
        let read = RateLimitBody::of(&s, None);
        assert_eq!(read.rate_limit_bps, 8000);
        assert_eq!(read.see_also.as_deref(), Some(SEE_ALSO));
        let global_only = RateLimitBody::of(&Schedule::default(), Some(1000));
        assert!(global_only.enabled && !global_only.schedule_enabled);
        assert_eq!(global_only.rate_limit_bps, 8000);
    }
}
