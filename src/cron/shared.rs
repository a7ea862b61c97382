//! A scheduler that shares its crontab with other replicas through the state database:
//! the claims, leases and heartbeats of [`crate::state::postgres::cron`], wrapped with what
//! the loop needs around them — when the next heartbeat is due, lost runs found and logged,
//! and the rule that a replica that cannot reach the database for most of a lease stops
//! its own runs, so by the time others see its leases run out its runs have been told to
//! stop.
//!
//! The loop ([`super::scheduler`]) decides nothing here: it asks for a claim with its pure
//! rule ([`super::plan::decide`]) and acts on the answer.

use super::crontab::Overlap;
use crate::service_log::{Level, Log, Record};
use crate::service_metrics::{CronMetrics, JobLabel};
use crate::state::postgres::cron::{self as pg, Claim, Lost, PgCron, Promoted, Verdict};
use crate::state::{StateError, backend::PgTarget, replica::Replica};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Why runs are stopped when the database has been out of reach too long.
pub const LOST_DATABASE: &str = "lost the state database: this replica's leases will run out";

/// A replica's link to the shared state.
pub struct Shared {
    store: PgCron,
    next_beat: Instant,
    /// The last time the database answered a heartbeat.
    last_ok: Instant,
    metrics: Arc<CronMetrics>,
}

impl Shared {
    pub async fn open(
        target: &PgTarget,
        crontab_name: String,
        crontab_text: &str,
        ttl: Duration,
    ) -> Result<Shared, StateError> {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(crontab_text.as_bytes()));
        let replica = Replica::new("cron", Some((crontab_name.clone(), digest)), ttl);
        let store = PgCron::open(target, replica, crontab_name, ttl).await?;
        Ok(Shared {
            store,
            next_beat: Instant::now(),
            last_ok: Instant::now(),
            metrics: Arc::new(CronMetrics::new()),
        })
    }

    /// Counts heartbeats and lost runs into the scheduler's metrics.
    pub fn with_metrics(mut self, metrics: Arc<CronMetrics>) -> Shared {
        self.metrics = metrics;
        self
    }

    pub fn replica_id(&self) -> &str {
        &self.store.replica().id
    }

    /// When the loop must wake for the next heartbeat.
    pub fn next_beat(&self) -> Instant {
        self.next_beat
    }

    /// Every job's shared handled-until (new jobs recorded as handled up to `now`).
    pub async fn handled(
        &mut self,
        jobs: &[&str],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, DateTime<Utc>>, StateError> {
        self.store.ensure_jobs(jobs, now).await
    }

    /// Claims `job`'s due time (see [`PgCron::claim`]); runs found lost on the way are
    /// logged here.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim(
        &mut self,
        log: &Log,
        job: &str,
        now: DateTime<Utc>,
        overlap: Overlap,
        timeout: Option<Duration>,
        run_no: u64,
        decide: impl FnOnce(DateTime<Utc>) -> Verdict,
    ) -> Result<(Claim, DateTime<Utc>), StateError> {
        let overlap = match overlap {
            Overlap::Skip => pg::Overlap::Skip,
            Overlap::Queue => pg::Overlap::Queue,
            Overlap::Allow => pg::Overlap::Allow,
        };
        let (claim, handled, lost) = self
            .store
            .claim(job, now, overlap, timeout, run_no, decide)
            .await?;
        for l in &lost {
            log_lost(log, &self.metrics, l);
        }
        Ok((claim, handled))
    }

    /// A run ended: record it, and (unless the scheduler is stopping) start the job's
    /// queued fire here if one waits. A run whose lease had been given up for lost says so.
    #[allow(clippy::too_many_arguments)]
    pub async fn finished(
        &mut self,
        log: &Log,
        fire: i64,
        job: &str,
        outcome: &str,
        error: Option<&str>,
        promote: Option<(u64, Option<Duration>)>,
    ) -> Option<Promoted> {
        match self.store.finished(fire, outcome, error).await {
            Ok(true) => {}
            Ok(false) => log.emit(
                Record::new(
                    Level::Warn,
                    "lease",
                    "this run's lease had run out and another replica recorded it as lost",
                )
                .job(job),
            ),
            Err(e) => log.emit(
                Record::new(
                    Level::Error,
                    "state",
                    format!("cannot record the run's end: {e}"),
                )
                .job(job),
            ),
        }
        let (run_no, timeout) = promote?;
        match self.store.promote(job, run_no, timeout).await {
            Ok(p) => p,
            Err(e) => {
                log.emit(
                    Record::new(
                        Level::Error,
                        "state",
                        format!("cannot start a queued run: {e}"),
                    )
                    .job(job),
                );
                None
            }
        }
    }

    /// The heartbeat, when due: renew leases, find lost runs (of any replica), promote
    /// queued fires of their jobs. Returns what was lost and what this replica now runs,
    /// and whether this replica has been out of touch so long its runs must stop.
    pub async fn beat(
        &mut self,
        log: &Log,
        jobs: &[(&str, Option<Duration>)],
        mut next_run_no: impl FnMut() -> u64,
    ) -> (Vec<Promoted>, bool) {
        let ttl = self.store.ttl();
        self.next_beat = Instant::now() + ttl / 3;
        let mut promoted = vec![];
        match self.store.heartbeat().await {
            Ok(_) => {
                self.last_ok = Instant::now();
                self.metrics.state_up.set(1);
                self.metrics.heartbeat_age.set(0.0);
            }
            Err(e) => {
                self.metrics.state_up.set(0);
                self.metrics
                    .heartbeat_age
                    .set(self.last_ok.elapsed().as_secs_f64());
                log.emit(Record::new(
                    Level::Error,
                    "state",
                    format!("heartbeat failed: {e}"),
                ));
                // Retry sooner than a whole interval.
                self.next_beat = Instant::now() + (ttl / 10).max(Duration::from_millis(100));
                return (promoted, self.last_ok.elapsed() > ttl.mul_f64(0.8));
            }
        }
        let lost = match self.store.reap().await {
            Ok(lost) => lost,
            Err(e) => {
                log.emit(Record::new(
                    Level::Error,
                    "state",
                    format!("cannot look for lost runs: {e}"),
                ));
                return (promoted, false);
            }
        };
        for l in &lost {
            log_lost(log, &self.metrics, l);
        }
        for (job, timeout) in jobs {
            if !lost.iter().any(|l| l.job == *job) {
                continue;
            }
            match self.store.promote(job, next_run_no(), *timeout).await {
                Ok(Some(p)) => promoted.push(p),
                Ok(None) => {}
                Err(e) => log.emit(
                    Record::new(
                        Level::Error,
                        "state",
                        format!("cannot start a queued run: {e}"),
                    )
                    .job(job),
                ),
            }
        }
        (promoted, false)
    }

    /// A clean exit, recorded so `state status` does not call this replica missing.
    pub async fn stopped(&mut self, log: &Log) {
        if let Err(e) = self.store.stopped().await {
            log.warn("state", format!("cannot record this replica's exit: {e}"));
        }
    }
}

fn log_lost(log: &Log, metrics: &CronMetrics, l: &Lost) {
    let job = JobLabel { job: l.job.clone() };
    metrics.lost.get_or_create(&job).inc();
    log.emit(
        Record::new(
            Level::Warn,
            "lost",
            format!(
                "run {} of the {} time on replica {} is lost: that replica stopped renewing its \
                 lease; the time is not run again",
                l.run.map(|r| r.to_string()).unwrap_or_else(|| "?".into()),
                l.slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                l.replica
            ),
        )
        .job(&l.job)
        .field("replica", l.replica.clone()),
    );
}
