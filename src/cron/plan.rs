//! What a job should do at a given moment, given the last time the scheduler dealt with
//! it: nothing yet, run once, or skip missed times that are too old. Pure — the loop asks,
//! with the clock's `now`, and acts — so restarts after downtime, a machine waking from
//! sleep and a slow loop are all tested here with fixed times.
//!
//! The rule, whatever the cause of lateness: however many times were missed, a job runs at
//! most **once** for them, and only if the latest missed time is within its grace period;
//! otherwise the missed times are skipped with a log line. Never a burst.

use super::schedule::Schedule;
use chrono::{DateTime, Duration as Span, Utc};
use std::time::Duration;

/// A run this much after its time is reported as a catch-up rather than on time.
const ON_TIME: Span = Span::seconds(2);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing is due; the next time is this (or never).
    Wait(Option<DateTime<Utc>>),
    /// Run once now, for `slot`. `catch_up` when `slot` was missed rather than just reached.
    Run { slot: DateTime<Utc>, catch_up: bool },
    /// Times since `first_missed` were missed, none within the grace period: skip them.
    SkipMissed { first_missed: DateTime<Utc> },
}

/// What to do about a job whose every time up to `handled` has been dealt with.
/// After a `Run` or `SkipMissed`, the caller records `now` as handled.
pub fn decide(
    schedule: &Schedule,
    handled: DateTime<Utc>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Decision {
    let Some(first) = schedule.next_after(handled) else {
        return Decision::Wait(None);
    };
    if first > now {
        return Decision::Wait(Some(first));
    }
    let grace = Span::from_std(grace).unwrap_or(Span::MAX);
    let window_start = now
        .checked_sub_signed(grace)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    if first >= window_start {
        return Decision::Run {
            slot: first,
            catch_up: now - first > ON_TIME,
        };
    }
    // The earliest time inside the grace window, if any: the job owes one run for it.
    let probe = window_start - Span::nanoseconds(1);
    match schedule.next_after(probe) {
        Some(slot) if slot <= now => Decision::Run {
            slot,
            catch_up: true,
        },
        _ => Decision::SkipMissed {
            first_missed: first,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Tz;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sched(expr: &str) -> Schedule {
        let f: Vec<&str> = expr.split_whitespace().collect();
        Schedule::parse(&f, Tz::UTC).unwrap()
    }

    const HOUR: Duration = Duration::from_secs(3_600);

    #[test]
    fn waits_until_the_time_comes() {
        let d = decide(
            &sched("0 9 * * *"),
            at("2026-05-01T08:00:00Z"),
            at("2026-05-01T08:59:59Z"),
            HOUR,
        );
        assert_eq!(d, Decision::Wait(Some(at("2026-05-01T09:00:00Z"))));
    }

    #[test]
    fn runs_on_time() {
        let d = decide(
            &sched("0 9 * * *"),
            at("2026-05-01T08:00:00Z"),
            at("2026-05-01T09:00:00.004Z"),
            HOUR,
        );
        assert_eq!(
            d,
            Decision::Run {
                slot: at("2026-05-01T09:00:00Z"),
                catch_up: false
            }
        );
    }

    #[test]
    fn a_missed_run_within_grace_runs_once() {
        // Down from 08:00 to 09:40: the 09:00 run is 40 minutes late, within the hour.
        let d = decide(
            &sched("0 9 * * *"),
            at("2026-05-01T08:00:00Z"),
            at("2026-05-01T09:40:00Z"),
            HOUR,
        );
        assert_eq!(
            d,
            Decision::Run {
                slot: at("2026-05-01T09:00:00Z"),
                catch_up: true
            }
        );
    }

    #[test]
    fn a_missed_run_beyond_grace_is_skipped() {
        let d = decide(
            &sched("0 9 * * *"),
            at("2026-05-01T08:00:00Z"),
            at("2026-05-01T11:00:00Z"),
            HOUR,
        );
        assert_eq!(
            d,
            Decision::SkipMissed {
                first_missed: at("2026-05-01T09:00:00Z")
            }
        );
        // Days of downtime: still one decision, for all of them.
        let d = decide(
            &sched("0 9 * * *"),
            at("2026-04-01T08:00:00Z"),
            at("2026-05-01T11:00:00Z"),
            HOUR,
        );
        assert_eq!(
            d,
            Decision::SkipMissed {
                first_missed: at("2026-04-01T09:00:00Z")
            }
        );
    }

    #[test]
    fn many_missed_times_make_one_run_not_a_burst() {
        // Every minute, down for three hours: one run, for the oldest time within grace.
        let s = sched("* * * * *");
        let now = at("2026-05-01T12:00:30Z");
        let d = decide(&s, at("2026-05-01T09:00:00Z"), now, HOUR);
        assert_eq!(
            d,
            Decision::Run {
                slot: at("2026-05-01T11:01:00Z"),
                catch_up: true
            }
        );
        // The caller records `now` as handled: nothing else is due.
        assert_eq!(
            decide(&s, now, now, HOUR),
            Decision::Wait(Some(at("2026-05-01T12:01:00Z")))
        );
    }

    #[test]
    fn a_schedule_that_never_fires_waits_forever() {
        assert_eq!(
            decide(
                &sched("0 0 30 2 *"),
                at("2026-05-01T00:00:00Z"),
                at("2026-05-02T00:00:00Z"),
                HOUR
            ),
            Decision::Wait(None)
        );
    }
}
