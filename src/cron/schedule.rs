//! Cron schedules with standard semantics, and the one question the scheduler asks of
//! them: when does this job fire next after instant `t`? A pure function of the schedule,
//! its time zone and `t` — no clock, no I/O — so every rule is unit-tested with fixed times.
//!
//! Fields are parsed by the `cron` crate, which reads day-of-week the Quartz way (1 =
//! Sunday, 0 refused) and ANDs day-of-month with day-of-week. So the standard day-of-week
//! field (0 or 7 = Sunday, `MON`–`SUN`, ranges, steps, lists) is converted to names before
//! the crate sees it, and the day rule is applied here: when both day fields are
//! restricted, a day matching either fires (Vixie cron counts a field starting with `*` as
//! unrestricted, and so does this). Times are wall-clock times in the job's zone: one that
//! a daylight-saving jump skips fires once, at the end of the gap (so a daily job still runs
//! that day); one that happens twice fires once, at its first occurrence.

use ::cron::{Schedule as CronExpr, TimeUnitSpec};
use chrono::{
    DateTime, Datelike, Duration as Span, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use std::collections::BTreeSet;
use std::str::FromStr;

/// How far ahead a schedule is searched before it is declared never to fire. Eleven
/// years covers 29 February across a century year that is not a leap year.
const SEARCH_DAYS: i64 = 11 * 366;

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    seconds: BTreeSet<u32>,
    minutes: BTreeSet<u32>,
    hours: BTreeSet<u32>,
    days_of_month: BTreeSet<u32>,
    months: BTreeSet<u32>,
    /// Index 0 is Sunday.
    days_of_week: [bool; 7],
    dom_restricted: bool,
    dow_restricted: bool,
    tz: Tz,
}

impl Schedule {
    /// A schedule from 5 fields (`m h dom mon dow`) or 6 (`s m h dom mon dow`), read in `tz`.
    /// The error names the field at fault.
    pub fn parse(fields: &[&str], tz: Tz) -> Result<Schedule, String> {
        let (sec, rest) = match fields.len() {
            5 => ("0", fields),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "a schedule has 5 fields (minute hour day-of-month month day-of-week) or 6 \
                     (with seconds first), not {n}"
                ));
            }
        };
        let (min, hour, dom, mon, dow) = (rest[0], rest[1], rest[2], rest[3], rest[4]);
        let weekdays = parse_day_of_week(dow).map_err(|e| format!("day-of-week `{dow}`: {e}"))?;
        // Each field alone first, so that an error names the field it is about.
        let checks = [
            (sec, "second", "0-59"),
            (min, "minute", "0-59"),
            (hour, "hour", "0-23"),
            (dom, "day-of-month", "1-31"),
            (mon, "month", "1-12 or JAN-DEC"),
        ];
        for (i, (text, name, range)) in checks.iter().enumerate() {
            let mut probe = ["*"; 6];
            probe[i] = text;
            // The crate's own message is a parser dump; say what the field accepts instead.
            if CronExpr::from_str(&probe.join(" ")).is_err() {
                return Err(format!(
                    "{name} `{text}` is not valid: use {range}, `*`, ranges `a-b`, steps `/n` \
                     and lists `a,b`"
                ));
            }
        }
        let names: Vec<&str> = (0..7)
            .filter(|&d| weekdays[d])
            .map(|d| DAY_NAMES[d])
            .collect();
        let expr = format!("{sec} {min} {hour} {dom} {mon} {}", names.join(","));
        let parsed = CronExpr::from_str(&expr).map_err(|e| format!("invalid schedule: {e}"))?;
        let mut days_of_week = [false; 7];
        for quartz in parsed.days_of_week().iter() {
            // Quartz numbering: 1 = Sunday … 7 = Saturday.
            if let Some(slot) = days_of_week.get_mut(quartz.wrapping_sub(1) as usize) {
                *slot = true;
            }
        }
        let restricted = |f: &str| !(f.starts_with('*') || f.starts_with('?'));
        Ok(Schedule {
            seconds: parsed.seconds().iter().collect(),
            minutes: parsed.minutes().iter().collect(),
            hours: parsed.hours().iter().collect(),
            days_of_month: parsed.days_of_month().iter().collect(),
            months: parsed.months().iter().collect(),
            days_of_week,
            dom_restricted: restricted(dom),
            dow_restricted: restricted(dow),
            tz,
        })
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The first fire time strictly after `after`, or `None` if the schedule never fires
    /// again (such as 30 February).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Mapping wall-clock times to instants (gap → its end, overlap → first occurrence)
        // never goes backwards, so scanning wall-clock times upward from `after`'s own and
        // keeping the first instant past `after` finds the true next one. Times already
        // passed in a repeated hour, or folded onto a gap's end, are skipped over here.
        let mut from = after
            .with_timezone(&self.tz)
            .naive_local()
            .with_nanosecond(0)?;
        for _ in 0..100_000 {
            let wall = self.next_wall_time(from)?;
            let at = self.instant_of(wall)?;
            if at > after {
                return Some(at);
            }
            from = wall + Span::seconds(1);
        }
        None
    }

    /// The next `n` fire times after `after`, in the schedule's zone.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Tz>> {
        let mut out = Vec::with_capacity(n);
        let mut t = after;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next.with_timezone(&self.tz));
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = self.days_of_month.contains(&date.day());
        let dow = self.days_of_week[date.weekday().num_days_from_sunday() as usize];
        if self.dom_restricted && self.dow_restricted {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The first wall-clock time at or after `from` that the fields match.
    fn next_wall_time(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut date = from.date();
        let last = date + Span::days(SEARCH_DAYS);
        let mut earliest = Some(from.time());
        while date <= last {
            if !self.months.contains(&date.month()) {
                date = first_of_next_month(date)?;
                earliest = None;
                continue;
            }
            if self.day_matches(date)
                && let Some(t) = self.first_time_from(earliest.unwrap_or(NaiveTime::MIN))
            {
                return Some(date.and_time(t));
            }
            date = date.succ_opt()?;
            earliest = None;
        }
        None
    }

    fn first_time_from(&self, t: NaiveTime) -> Option<NaiveTime> {
        let (h0, m0, s0) = (t.hour(), t.minute(), t.second());
        for &h in self.hours.range(h0..) {
            let m_from = if h == h0 { m0 } else { 0 };
            for &m in self.minutes.range(m_from..) {
                let s_from = if h == h0 && m == m0 { s0 } else { 0 };
                if let Some(&s) = self.seconds.range(s_from..).next() {
                    return NaiveTime::from_hms_opt(h, m, s);
                }
            }
        }
        None
    }

    /// The instant a wall-clock time stands for in this zone: itself, its first occurrence
    /// when the clock goes back, or the end of the gap when the clock jumps over it.
    fn instant_of(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
            LocalResult::None => self.end_of_gap(wall),
        }
    }

    fn end_of_gap(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut minute = wall.with_second(0)?;
        // Real gaps last minutes to a day (Samoa skipped 30 December 2011).
        for _ in 0..(48 * 60) {
            minute += Span::minutes(1);
            if let Some(mut first) = self.tz.from_local_datetime(&minute).earliest() {
                // Historical offsets had seconds, so a gap may end between two minutes.
                let mut s = minute;
                for _ in 0..59 {
                    s -= Span::seconds(1);
                    match self.tz.from_local_datetime(&s).earliest() {
                        Some(t) if s > wall => first = t,
                        _ => break,
                    }
                }
                return Some(first.with_timezone(&Utc));
            }
        }
        None
    }
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
}

/// A standard day-of-week field as the set of days it names (index 0 = Sunday).
pub fn parse_day_of_week(field: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for item in field.split(',') {
        if item.is_empty() {
            return Err("an empty item in the list".into());
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let n = step
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=7).contains(n))
                    .ok_or_else(|| format!("the step `{step}` must be a number from 1 to 7"))?;
                (base, n)
            }
            None => (item, 1),
        };
        let (lo, hi) = if base == "*" || (base == "?" && field == "?") {
            (0, 6)
        } else if let Some((a, b)) = base.split_once('-') {
            let lo = day_value(a)?;
            let mut hi = day_value(b)?;
            // `FRI-SUN` reads naturally; Sunday closing a range is day 7.
            if hi == 0 && lo > 0 {
                hi = 7;
            }
            if lo > hi {
                return Err(format!(
                    "the range `{base}` runs backwards; write it low to high (0-7, SUN-SAT)"
                ));
            }
            (lo, hi)
        } else {
            let v = day_value(base)?;
            // `3/2`: from day 3 to the end of the week, every second day.
            (v, if item.contains('/') { 7 } else { v })
        };
        for d in (lo..=hi).step_by(step as usize) {
            days[(d % 7) as usize] = true;
        }
    }
    Ok(days)
}

fn day_value(text: &str) -> Result<u32, String> {
    if let Ok(n) = text.parse::<u32>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err(format!(
                "`{n}` is not a day of the week (0-7, where 0 and 7 are Sunday, or SUN-SAT)"
            ))
        };
    }
    let lower = text.to_ascii_lowercase();
    const FULL: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    FULL.iter()
        .position(|full| {
            lower.len() >= 3 && full.starts_with(&lower) && (lower.len() == 3 || lower == **full)
        })
        .map(|i| i as u32)
        .ok_or_else(|| format!("`{text}` is not a day of the week (0-7 or SUN-SAT)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn sched(expr: &str, tz: &str) -> Schedule {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        Schedule::parse(&fields, tz.parse().unwrap()).unwrap()
    }

    /// The next `n` fire times as RFC 3339 text with the zone's offset.
    fn next(expr: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
        sched(expr, tz)
            .upcoming(at(from), n)
            .iter()
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
            .collect()
    }

    fn days(field: &str) -> Vec<&'static str> {
        let set = parse_day_of_week(field).unwrap();
        (0..7).filter(|&d| set[d]).map(|d| DAY_NAMES[d]).collect()
    }

    #[test]
    fn day_of_week_is_standard_not_quartz() {
        assert_eq!(days("0"), ["SUN"]);
        assert_eq!(days("7"), ["SUN"]);
        assert_eq!(days("1"), ["MON"]);
        assert_eq!(days("1-5"), ["MON", "TUE", "WED", "THU", "FRI"]);
        assert_eq!(days("5-7"), ["SUN", "FRI", "SAT"]);
        assert_eq!(days("*/2"), ["SUN", "TUE", "THU", "SAT"]);
        assert_eq!(days("1-5/2"), ["MON", "WED", "FRI"]);
        assert_eq!(days("MON,wed,Fri"), ["MON", "WED", "FRI"]);
        assert_eq!(days("MON-FRI"), ["MON", "TUE", "WED", "THU", "FRI"]);
        assert_eq!(days("FRI-SUN"), ["SUN", "FRI", "SAT"]);
        assert_eq!(days("sunday"), ["SUN"]);
        assert!(
            parse_day_of_week("8")
                .unwrap_err()
                .contains("not a day of the week")
        );
        assert!(parse_day_of_week("FOO").is_err());
        assert!(parse_day_of_week("5-1").unwrap_err().contains("backwards"));
        assert!(parse_day_of_week("1,,2").is_err());
        assert!(parse_day_of_week("*/0").is_err());
    }

    #[test]
    fn the_crate_gets_the_right_days() {
        // 2026-11-29 is a Sunday.
        let from = "2026-11-28T12:00:00+00:00";
        assert_eq!(
            next("0 9 * * 0", "UTC", from, 1),
            ["2026-11-29T09:00:00+00:00"]
        );
        assert_eq!(
            next("0 9 * * 7", "UTC", from, 1),
            ["2026-11-29T09:00:00+00:00"]
        );
        assert_eq!(
            next("0 9 * * 1", "UTC", from, 1),
            ["2026-11-30T09:00:00+00:00"]
        );
        assert_eq!(
            next("0 9 * * MON", "UTC", from, 1),
            ["2026-11-30T09:00:00+00:00"]
        );
        assert_eq!(
            next("30 8 * * 1-5", "UTC", "2026-12-04T09:00:00+00:00", 2),
            ["2026-12-07T08:30:00+00:00", "2026-12-08T08:30:00+00:00"]
        );
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        // Fridays, and the 13th of every month: 2026-01-13 is a Tuesday.
        assert_eq!(
            next("0 9 13 * 5", "UTC", "2026-01-01T00:00:00Z", 4),
            [
                "2026-01-02T09:00:00+00:00",
                "2026-01-09T09:00:00+00:00",
                "2026-01-13T09:00:00+00:00",
                "2026-01-16T09:00:00+00:00",
            ]
        );
    }

    #[test]
    fn a_star_day_field_leaves_the_other_in_charge() {
        assert_eq!(
            next("0 9 13 * *", "UTC", "2026-01-01T00:00:00Z", 2),
            ["2026-01-13T09:00:00+00:00", "2026-02-13T09:00:00+00:00"]
        );
        // A field starting with `*` is unrestricted for the OR rule (Vixie cron): odd days
        // that are also Mondays. 2026-01-05 is a Monday, 2026-01-19 too.
        assert_eq!(
            next("0 9 */2 * 1", "UTC", "2026-01-01T00:00:00Z", 2),
            ["2026-01-05T09:00:00+00:00", "2026-01-19T09:00:00+00:00"]
        );
    }

    #[test]
    fn ranges_steps_lists_and_month_names() {
        assert_eq!(
            next("*/15 9-10 * * *", "UTC", "2026-05-01T09:50:00Z", 3),
            [
                "2026-05-01T10:00:00+00:00",
                "2026-05-01T10:15:00+00:00",
                "2026-05-01T10:30:00+00:00",
            ]
        );
        assert_eq!(
            next("0 0 1 JAN,jul *", "UTC", "2026-05-01T00:00:00Z", 2),
            ["2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"]
        );
    }

    #[test]
    fn six_fields_start_with_seconds() {
        assert_eq!(
            next("*/20 * * * * *", "UTC", "2026-05-01T09:00:05Z", 3),
            [
                "2026-05-01T09:00:20+00:00",
                "2026-05-01T09:00:40+00:00",
                "2026-05-01T09:01:00+00:00",
            ]
        );
    }

    #[test]
    fn time_zones_are_wall_clock() {
        assert_eq!(
            next("0 9 * * *", "Europe/Madrid", "2026-07-01T00:00:00Z", 1),
            ["2026-07-01T09:00:00+02:00"]
        );
    }

    #[test]
    fn spring_forward_gap_fires_once_at_its_end() {
        // Madrid jumps from 02:00 to 03:00 on 2026-03-29.
        let tz = "Europe/Madrid";
        assert_eq!(
            next("30 2 * * *", tz, "2026-03-28T12:00:00Z", 3),
            [
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T02:30:00+02:00",
                "2026-03-31T02:30:00+02:00",
            ]
        );
        // Every half hour: 02:00 and 02:30 do not exist and fold onto 03:00, once.
        assert_eq!(
            next("*/30 * * * *", tz, "2026-03-29T00:15:00Z", 4),
            [
                "2026-03-29T01:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-29T03:30:00+02:00",
                "2026-03-29T04:00:00+02:00",
            ]
        );
    }

    #[test]
    fn fall_back_repeat_fires_once_at_the_first_occurrence() {
        // New York turns 02:00 back to 01:00 on 2026-11-01.
        let tz = "America/New_York";
        assert_eq!(
            next("30 1 * * *", tz, "2026-10-31T12:00:00Z", 3),
            [
                "2026-11-01T01:30:00-04:00",
                "2026-11-02T01:30:00-05:00",
                "2026-11-03T01:30:00-05:00",
            ]
        );
        assert_eq!(
            next("*/30 * * * *", tz, "2026-11-01T04:15:00Z", 4),
            [
                "2026-11-01T00:30:00-04:00",
                "2026-11-01T01:00:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T02:00:00-05:00",
            ]
        );
        // Asked from inside the second 01:xx hour, it waits for 02:00.
        assert_eq!(
            next("30 1 * * *", tz, "2026-11-01T01:15:00-05:00", 1),
            ["2026-11-02T01:30:00-05:00"]
        );
    }

    #[test]
    fn a_schedule_that_never_fires() {
        assert_eq!(
            next("0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", 1).len(),
            0
        );
        // 29 February is rare but real.
        assert_eq!(
            next("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 1),
            ["2028-02-29T00:00:00+00:00"]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let err = |expr: &str| {
            let f: Vec<&str> = expr.split_whitespace().collect();
            Schedule::parse(&f, Tz::UTC).unwrap_err()
        };
        assert!(
            err("60 * * * *").starts_with("minute `60`"),
            "{}",
            err("60 * * * *")
        );
        assert!(err("* 24 * * *").starts_with("hour `24`"));
        assert!(err("* * 0 * *").starts_with("day-of-month `0`"));
        assert!(err("* * * 13 *").starts_with("month `13`"));
        assert!(err("* * * FOO *").starts_with("month `FOO`"));
        assert!(err("* * * * 8").starts_with("day-of-week `8`"));
        assert!(err("61 * * * * *").starts_with("second `61`"));
        assert!(err("* * * *").contains("not 4"));
        assert!(err("*/x * * * *").starts_with("minute `*/x`"));
    }
}
