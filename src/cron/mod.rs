//! `zavu-script cron CRONTAB`: run scripts on cron schedules, in the foreground, the way
//! supercronic runs shell lines — with job timeouts, run-at-start (`@reboot`) and no burst
//! of runs after downtime.
//!
//! The modules, from text to running jobs: [`crontab`] parses lines into jobs,
//! [`schedule`] answers "when next?" (standard cron semantics, daylight-saving rules),
//! [`load`] checks a whole crontab and compiles its scripts, [`plan`] decides what a job
//! owes at a given moment, [`state`] remembers runs across restarts, [`run`] runs one job
//! on its own thread (logging through `crate::service_log`), and [`scheduler`] is the loop
//! around them ([`describe`] words its log lines). With a state database, [`shared`] holds
//! the replicas' claims, leases and heartbeat and [`replicated`] is the loop's side of it.
//! The `cron` front door (`commands::cron`) turns the command line into a [`load::Loaded`]
//! crontab and a [`scheduler::Scheduler`]; nothing here reads the command line.
//!
//! Imports: `engine` and the layers below it, `error`. Must not import `config`, `cli` or
//! the front doors.

pub mod clock;
pub mod crontab;
pub mod describe;
pub mod load;
pub mod plan;
pub mod replicated;
pub mod run;
pub mod schedule;
pub mod scheduler;
pub mod shared;
pub mod signals;
pub mod state;
pub mod zone;

use chrono::{DateTime, SecondsFormat, Utc};
use crontab::When;
use load::Loaded;

/// `--next N`: every job's next `n` fire times after `now`, one per line, in crontab
/// order, as `<job> <RFC 3339 time with the job's offset>`; an `@reboot` job shows
/// `<job> @reboot`.
pub fn next_lines(loaded: &Loaded, now: DateTime<Utc>, n: usize) -> Vec<String> {
    let mut out = vec![];
    for job in &loaded.jobs {
        match &job.spec.when {
            When::Reboot => out.push(format!("{} @reboot", job.name())),
            When::Cron(s) => {
                for t in s.upcoming(now, n) {
                    out.push(format!(
                        "{} {}",
                        job.name(),
                        t.to_rfc3339_opts(SecondsFormat::Secs, false)
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use load::Defaults;
    use std::time::Duration;

    #[test]
    fn next_prints_each_job_in_its_zone() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.rhai"), "1").unwrap();
        let crontab = dir.path().join("crontab");
        std::fs::write(
            &crontab,
            "CRON_TZ=Europe/Madrid\n[name=daily] 30 2 * * * f.rhai\n@reboot f.rhai\nCRON_TZ=UTC\n0 9 13 * 5 f.rhai\n",
        )
        .unwrap();
        let defaults = Defaults {
            timeout: Duration::from_secs(600),
            grace: Duration::from_secs(3_600),
        };
        let loaded = load::load(&crontab, defaults, rt.handle(), Utc::now()).unwrap();
        let now = crate::api::time::parse_rfc3339("2026-03-28T12:00:00+01:00").unwrap();
        assert_eq!(
            next_lines(&loaded, now, 2),
            [
                "daily 2026-03-29T03:00:00+02:00",
                "daily 2026-03-30T02:30:00+02:00",
                "f @reboot",
                "f#5 2026-04-03T09:00:00+00:00",
                "f#5 2026-04-10T09:00:00+00:00",
            ]
        );
        assert!(
            crate::api::time::parse_rfc3339("tomorrow")
                .unwrap_err()
                .contains("RFC 3339")
        );
    }
}
