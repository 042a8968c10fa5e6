use chrono::NaiveDate;

use super::*;

/// 2026-11-23 is a Monday.
fn at(day: u32, h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, day)
        .and_then(|d| d.and_hms_opt(h, m, 0))
        .unwrap()
}

fn schedule(limits: &[&str], only: &[&str]) -> Schedule {
    Schedule {
        limits: limits.iter().map(|s| s.parse().unwrap()).collect(),
        only_between: only.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

const MIB: u64 = 1 << 20;

#[test]
fn a_weekday_limit_applies_inside_its_hours_and_the_global_one_outside() {
    let s = schedule(&["mon-fri 09:00-18:00 10M"], &[]);
    let r = |t| s.rules_at(t, None);
    assert_eq!(r(at(23, 9, 0)).limit, Some(10 * MIB));
    assert!(r(at(23, 9, 0)).scheduled_limit);
    assert_eq!(r(at(27, 17, 59)).limit, Some(10 * MIB), "friday");
    assert_eq!(r(at(23, 8, 59)).limit, None);
    assert_eq!(r(at(23, 18, 0)).limit, None, "the end is not inside");
    assert_eq!(r(at(28, 12, 0)).limit, None, "saturday");
    assert_eq!(s.rules_at(at(28, 12, 0), Some(MIB)).limit, Some(MIB));
    assert!(r(at(28, 12, 0)).open);
}

#[test]
fn a_window_past_midnight_belongs_to_the_day_it_starts_on() {
    let s = schedule(&[], &["fri 22:00-06:00"]);
    assert!(!s.rules_at(at(27, 21, 59), None).open);
    assert!(s.rules_at(at(27, 22, 0), None).open);
    assert!(s.rules_at(at(28, 5, 59), None).open, "saturday morning");
    assert!(!s.rules_at(at(28, 6, 0), None).open);
    assert!(
        !s.rules_at(at(23, 2, 0), None).open,
        "monday morning: sunday is not named"
    );
}

#[test]
fn equal_ends_cover_a_whole_day_and_24_00_ends_one() {
    let s = schedule(&[], &["sat 00:00-24:00"]);
    assert!(s.rules_at(at(28, 0, 0), None).open);
    assert!(s.rules_at(at(28, 23, 59), None).open);
    assert!(!s.rules_at(at(29, 0, 0), None).open);
    let s = schedule(&[], &["sat 12:00-12:00"]);
    assert!(s.rules_at(at(29, 11, 59), None).open);
    assert!(!s.rules_at(at(29, 12, 0), None).open);
}

#[test]
fn overlapping_limits_give_the_lowest() {
    let s = schedule(&["daily 08:00-20:00 10M", "mon 12:00-13:00 1M"], &[]);
    assert_eq!(s.rules_at(at(23, 12, 30), None).limit, Some(MIB));
    assert_eq!(s.rules_at(at(24, 12, 30), None).limit, Some(10 * MIB));
}

#[test]
fn the_next_change_is_the_first_edge_where_something_differs() {
    let s = schedule(&["mon-fri 09:00-18:00 10M"], &[]);
    assert_eq!(s.next_change(at(23, 10, 0), None), Some(at(23, 18, 0)));
    // Friday evening: unlimited until Monday 09:00 (the weekend's edges change nothing).
    assert_eq!(s.next_change(at(27, 18, 0), None), Some(at(30, 9, 0)));
    // Back-to-back windows with the same limit are one stretch.
    let s = schedule(&["daily 00:00-12:00 1M", "daily 12:00-24:00 1M"], &[]);
    assert_eq!(s.next_change(at(23, 10, 0), None), None);
    assert_eq!(Schedule::default().next_change(at(23, 10, 0), None), None);
}

#[test]
fn text_reads_days_spans_and_rates() {
    let r: LimitRule = "Mon-Fri 09:00-18:00 10M".parse().unwrap();
    assert_eq!(r.window.days, Day::ALL[..5].to_vec());
    assert_eq!(r.bytes_per_sec, 10 * MIB);
    assert_eq!(r.to_string(), "mon-fri 09:00-18:00 10.0 MB/s");
    let w: Window = "fri-mon 22:00-06:00".parse().unwrap();
    assert_eq!(w.days, vec![Day::Mon, Day::Fri, Day::Sat, Day::Sun]);
    assert_eq!(w.to_string(), "mon,fri-sun 22:00-06:00");
    let w: Window = "22:00-6:00".parse().unwrap();
    assert_eq!(w.days.len(), 7);
    assert_eq!(w.to_string(), "daily 22:00-06:00");
}

#[test]
fn bad_text_says_what_to_write() {
    let err = |s: &str| s.parse::<LimitRule>().unwrap_err().to_string();
    assert!(
        err("mon-fri 09:00-18:00").contains("has no rate"),
        "{}",
        err("mon-fri 09:00-18:00")
    );
    assert!(
        err("mon-fri 9-18 10M").contains("HH:MM"),
        "{}",
        err("mon-fri 9-18 10M")
    );
    assert!(err("someday 09:00-18:00 10M").contains("mon … sun"));
    assert!(err("mon 09:00-25:00 10M").contains("00:00 to 24:00"));
    assert!(err("mon 09:00-18:00 fast").contains("not a size"));
    assert!(err("mon 24:00-06:00 1M").contains("cannot start at 24:00"));
    assert!("".parse::<Window>().is_err());
    let json = r#"{"limits":[{"days":[],"from":"09:00","to":"18:00","bytes_per_sec":1}]}"#;
    let s: Schedule = serde_json::from_str(json).unwrap();
    assert_eq!(s.validate(), Err(ScheduleError::NoDays));
    let json = r#"{"only_between":[{"days":["mon"],"from":"9:60","to":"18:00"}]}"#;
    assert!(serde_json::from_str::<Schedule>(json).is_err());
}

#[test]
fn json_spells_days_and_times_as_people_read_them() {
    let s = schedule(&["mon-fri 09:00-18:00 10M"], &["daily 22:00-06:00"]);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["limits"][0]["days"][0], "mon");
    assert_eq!(json["limits"][0]["from"], "09:00");
    assert_eq!(json["limits"][0]["bytes_per_sec"], 10 * MIB);
    assert_eq!(json["only_between"][0]["to"], "06:00");
    assert_eq!(serde_json::from_value::<Schedule>(json).unwrap(), s);
}
