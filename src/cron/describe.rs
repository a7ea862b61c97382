//! How the scheduler words times and decisions in its log: a fire time in its job's zone,
//! why a run starts, the one line for skipped missed times, and the SIGUSR1 status line. Shared by the loop on one
//! machine and the loop that shares its crontab with other replicas, so both say the same.

use super::crontab::When;
use super::load::Job;
use crate::duration;
use crate::service_log::{Level, Log, Record};
use chrono::{DateTime, SecondsFormat, Utc};

pub fn why_run(job: &Job, slot: DateTime<Utc>, catch_up: bool) -> String {
    if catch_up {
        format!("catching up the run missed at {}", local_time(job, slot))
    } else {
        format!("scheduled for {}", local_time(job, slot))
    }
}

/// Missed times beyond the grace period were skipped: one line says so.
pub fn log_missed(log: &Log, job: &Job, first_missed: DateTime<Utc>, now: DateTime<Utc>) {
    let next = match &job.spec.when {
        When::Cron(s) => s.next_after(now),
        When::Reboot => None,
    };
    log.emit(
        Record::new(
            Level::Warn,
            "missed",
            format!(
                "missed its runs since {} and none is within the {} grace period: skipped{}",
                local_time(job, first_missed),
                duration::format(job.grace),
                next.map(|t| format!("; next at {}", local_time(job, t)))
                    .unwrap_or_default()
            ),
        )
        .job(job.name())
        .field("firstMissed", rfc3339(first_missed)),
    );
}

/// A fire time in its job's zone, as RFC 3339 with the offset.
pub fn local_time(job: &Job, t: DateTime<Utc>) -> String {
    match &job.spec.when {
        When::Cron(s) => t
            .with_timezone(&s.tz())
            .to_rfc3339_opts(SecondsFormat::Secs, false),
        When::Reboot => rfc3339(t),
    }
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// SIGUSR1: how many jobs, which runs are going, and what fires next.
pub fn status_line(
    why: &str,
    jobs: &[&Job],
    file: &str,
    running: &[String],
    now: DateTime<Utc>,
) -> String {
    let next = jobs
        .iter()
        .filter_map(|job| match &job.spec.when {
            When::Cron(s) => s
                .upcoming(now, 1)
                .first()
                .map(|t| (t.with_timezone(&Utc), job)),
            When::Reboot => None,
        })
        .min_by_key(|(t, _)| *t)
        .map(|(t, job)| format!("; next: {} at {}", job.name(), local_time(job, t)))
        .unwrap_or_default();
    format!(
        "{why}: {} job{} from {file}; running: {}{next}",
        jobs.len(),
        if jobs.len() == 1 { "" } else { "s" },
        if running.is_empty() {
            "none".to_string()
        } else {
            running.join(", ")
        }
    )
}
