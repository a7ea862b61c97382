//! The scheduler's loop when it shares its crontab with other replicas through the state
//! database (`--state-url`): jobs resume from the shared handled-until, each due time is
//! claimed there and run only by the replica whose claim wins, the overlap policy is
//! judged against every replica's live runs, and a heartbeat renews leases, marks lost
//! runs and starts the queued fires they free. The single-machine loop is
//! [`super::scheduler`]; the database work is [`super::shared`].

use super::crontab::When;
use super::describe::{local_time, log_missed, why_run};
use super::load::Job;
use super::plan::{self, Decision};
use super::run::Finished;
use super::scheduler::Scheduler;
use super::shared::{self, Shared};
use crate::error::Error;
use crate::service_log::{Level, Record};
use crate::state::postgres::cron::{Claim, Promoted, Verdict};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

impl Scheduler {
    /// Shares the crontab with other replicas through the state database.
    pub fn shared(mut self, shared: Shared) -> Scheduler {
        self.shared = Some(shared.with_metrics(self.metrics.clone()));
        self
    }

    /// With shared state, every job resumes from the shared handled-until, so the first
    /// replica up after all were down catches up (once) and a new replica joins in step.
    pub(super) async fn resume_shared(&mut self, now: DateTime<Utc>) -> Result<(), Error> {
        let Some(shared) = self.shared.as_mut() else {
            return Ok(());
        };
        let names: Vec<&str> = self.entries.iter().map(|e| e.job.name()).collect();
        let handled = shared.handled(&names, now).await?;
        for e in &mut self.entries {
            if let Some(h) = handled.get(e.job.name()) {
                e.handled = (*h).min(now);
            }
        }
        Ok(())
    }

    /// With shared state: each due time is claimed in the database under the job's row
    /// lock, and only the replica whose claim wins runs it; overlap is judged against
    /// every replica's live runs there.
    pub(super) async fn tick_shared(&mut self, now: DateTime<Utc>) {
        let due: Vec<Arc<Job>> = self
            .entries
            .iter()
            .filter(|e| match &e.job.spec.when {
                // A local "wait" is safe: the shared handled-until is never behind ours.
                When::Cron(s) => !matches!(
                    plan::decide(s, e.handled, now, e.job.grace),
                    Decision::Wait(_)
                ),
                When::Reboot => false,
            })
            .map(|e| e.job.clone())
            .collect();
        for job in due {
            let (When::Cron(schedule), Some(shared)) = (&job.spec.when, self.shared.as_mut())
            else {
                continue;
            };
            let run_no = self.last_run + 1;
            let decide = |handled| match plan::decide(schedule, handled, now, job.grace) {
                Decision::Wait(_) => Verdict::Wait,
                Decision::SkipMissed { first_missed } => Verdict::SkipMissed { first_missed },
                Decision::Run { slot, catch_up } => Verdict::Run { slot, catch_up },
            };
            let claimed = shared
                .claim(
                    &self.log,
                    job.name(),
                    now,
                    job.overlap,
                    job.timeout,
                    run_no,
                    decide,
                )
                .await;
            let (claim, handled) = match claimed {
                Ok(c) => c,
                Err(e) => {
                    let m = format!("cannot claim its due time (tried again soon): {e}");
                    self.log
                        .emit(Record::new(Level::Error, "state", m).job(job.name()));
                    continue;
                }
            };
            if let Some(e) = self.entries.iter_mut().find(|e| e.job.name() == job.name()) {
                e.handled = handled.min(now);
            }
            self.job_state(job.name()).handled_until = Some(handled.min(now));
            let (level, event, message, running) = match claim {
                Claim::Nothing => continue,
                Claim::Missed { first_missed } => {
                    log_missed(&self.log, &job, first_missed, now);
                    self.count_skip(job.name(), "missed");
                    continue;
                }
                Claim::Run {
                    fire,
                    slot,
                    catch_up,
                } => {
                    self.fires.insert(run_no, fire);
                    self.metrics.leases_held.set(self.fires.len() as i64);
                    self.start(&job, Some(slot), why_run(&job, slot, catch_up));
                    continue;
                }
                Claim::Busy { slot, running } => {
                    let m = format!(
                        "skipped ({}): {} still going",
                        why_run(&job, slot, false),
                        running.join(", ")
                    );
                    (Level::Warn, "skip", m, running)
                }
                Claim::Queued { slot, running } => {
                    let m = format!(
                        "queued ({}): will start when {} ends",
                        why_run(&job, slot, false),
                        running.join(", ")
                    );
                    (Level::Info, "queued", m, running)
                }
                Claim::QueueFull { slot, running } => {
                    let m = format!(
                        "skipped ({}): {} still going and one run already waiting",
                        why_run(&job, slot, false),
                        running.join(", ")
                    );
                    (Level::Warn, "skip", m, running)
                }
            };
            if event == "skip" {
                self.count_skip(job.name(), "overlap");
            }
            self.log.emit(
                Record::new(level, event, message)
                    .job(job.name())
                    .field("running", running),
            );
        }
        self.save();
    }

    /// With shared state, when due: renew leases, mark lost runs, start queued fires freed
    /// by them; out of touch with the database for most of a lease, stop this replica's
    /// runs.
    pub(super) async fn beat(&mut self) {
        let Some(shared) = self.shared.as_mut() else {
            return;
        };
        if shared.next_beat() > Instant::now() {
            return;
        }
        let jobs: Vec<(&str, Option<Duration>)> = self
            .entries
            .iter()
            .map(|e| (e.job.name(), e.job.timeout))
            .collect();
        let mut n = self.last_run;
        let (promoted, out_of_touch) = shared
            .beat(&self.log, &jobs, || {
                n += 1;
                n
            })
            .await;
        if out_of_touch && self.running() > 0 {
            self.log.error(
                "state",
                format!("{}; stopping its runs", shared::LOST_DATABASE),
            );
            self.stop_all(shared::LOST_DATABASE);
        }
        for p in promoted {
            self.start_promoted(p).await;
        }
        self.metrics.leases_held.set(self.fires.len() as i64);
    }

    pub(super) async fn start_promoted(&mut self, p: Promoted) {
        let job = self
            .entries
            .iter()
            .find(|e| e.job.name() == p.job)
            .map(|e| e.job.clone());
        if let Some(job) = job {
            self.fires.insert(self.last_run + 1, p.fire);
            self.metrics.leases_held.set(self.fires.len() as i64);
            let why = format!("queued at {}", local_time(&job, p.slot));
            self.start(&job, Some(p.slot), why);
        }
    }

    /// A run of this replica ended: recorded in the state database, and a queued fire of
    /// its job started here if one waits (not while stopping).
    pub(super) async fn finish_shared(&mut self, f: &Finished) {
        let (Some(fire), Some(shared)) = (self.fires.remove(&f.run), self.shared.as_mut()) else {
            return;
        };
        let timeout = self
            .entries
            .iter()
            .find(|e| e.job.name() == f.job)
            .and_then(|e| e.job.timeout);
        let promote = (!self.stopping).then_some((self.last_run + 1, timeout));
        let (label, error) = (f.outcome.label(), f.outcome.error());
        let promoted = shared
            .finished(&self.log, fire, &f.job, label, error.as_deref(), promote)
            .await;
        self.metrics.leases_held.set(self.fires.len() as i64);
        if let Some(p) = promoted {
            self.start_promoted(p).await;
        }
    }
}
