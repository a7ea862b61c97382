//! `zavu-script cron CRONTAB`: run scripts on cron schedules, in the foreground, the way
//! supercronic runs shell lines — with job timeouts, run-at-start (`@reboot`) and no burst
//! of runs after downtime.
//!
//! The modules, from text to running jobs: [`crontab`] parses lines into jobs,
//! [`schedule`] answers "when next?" (standard cron semantics, daylight-saving rules),
//! [`load`] checks a whole crontab and compiles its scripts, [`plan`] decides what a job
//! owes at a given moment, [`state`] remembers runs across restarts, [`run`] runs one job
//! on its own thread, [`log`] writes the log, and [`scheduler`] is the loop around them.
//! This file only dispatches `--test`, `--next` and running.

pub mod crontab;
pub mod load;
pub mod log;
pub mod plan;
pub mod run;
pub mod schedule;
pub mod scheduler;
pub mod state;
pub mod zone;

use crate::cli::{CronArgs, GlobalArgs};
use crate::config::Config;
use crate::error::Error;
use crate::session::Session;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use crontab::When;
use load::{Defaults, Loaded};
use std::sync::Arc;
use tokio::runtime::Runtime;

/// `--now` as clap reads it.
pub fn parse_now(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text).map_err(|e| {
        format!("`{text}` is not an RFC 3339 time (like 2026-03-28T12:00:00+01:00): {e}")
    })
}

/// `--missed-grace`, `--shutdown-grace` and `--job-timeout` as clap reads them.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::duration::parse(text)
}

pub fn execute(global: &GlobalArgs, runtime: &Runtime, args: &CronArgs) -> Result<(), Error> {
    let defaults = Defaults {
        timeout: args.job_timeout,
        grace: args.missed_grace,
    };
    let loaded = checked(runtime, args, defaults)?;
    if let Some(n) = args.next {
        let now = args
            .now
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now);
        for line in next_lines(&loaded, now, n) {
            println!("{line}");
        }
        return Ok(());
    }
    if args.test {
        let n = loaded.jobs.len();
        eprintln!(
            "{}: ok ({n} job{})",
            loaded.file,
            if n == 1 { "" } else { "s" }
        );
        return Ok(());
    }

    let config = Config::resolve(global)?;
    let state_dir = config.state_dir()?.to_path_buf();
    let session = Session::open(&config, runtime)?;
    let log = Arc::new(log::Log::stderr(args.json_logs));
    let env = Arc::new(run::RunEnv {
        handle: runtime.handle().clone(),
        target: session.target.clone(),
        limits: args.limits.limits(),
        state_dir: Some(state_dir.clone()),
        log,
    });
    let state_file = state::StateFile::for_crontab(&state_dir, &args.file);
    let scheduler = scheduler::Scheduler::new(
        loaded,
        scheduler::Settings {
            defaults,
            shutdown_grace: args.shutdown_grace,
        },
        env,
        Arc::new(scheduler::SystemClock),
        state_file,
    );
    let outcome = runtime.block_on(scheduler.run());
    session.close(runtime);
    outcome
}

/// The crontab, checked; a bad one is reported line by line on stderr.
fn checked(runtime: &Runtime, args: &CronArgs, defaults: Defaults) -> Result<Loaded, Error> {
    load::load(&args.file, defaults, runtime.handle(), Utc::now()).map_err(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        Error::Usage(format!(
            "{}: {} error{}; nothing was started",
            args.file.display(),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ))
    })
}

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
        let now = parse_now("2026-03-28T12:00:00+01:00")
            .unwrap()
            .with_timezone(&Utc);
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
        assert!(parse_now("tomorrow").unwrap_err().contains("RFC 3339"));
    }
}
