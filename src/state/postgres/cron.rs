//! The cron scheduler's shared state on PostgreSQL, for replicas that run one crontab on
//! several machines with no leader. Each due time becomes at most one fire: deciders for a
//! job are serialized by a row lock on `cron_jobs(crontab, job)` (so two replicas with
//! slightly different clocks cannot pick different catch-up slots), and
//! `UNIQUE (crontab, job, slot)` on `cron_fires` backs it. A running fire holds a lease
//! (database clock) that its replica's heartbeat renews; a fire whose lease runs out is
//! marked `lost` by whichever replica notices first, and is not run again — a script may
//! have half-acted. The overlap policy is checked against every replica's live runs.
//!
//! Deciding what a due time means (wait, run, skip missed) is the caller's pure rule,
//! passed in and applied under the lock; nothing here knows about schedules.

use super::connect::{Conn, connect};
use super::migrate;
use crate::state::backend::PgTarget;
use crate::state::error::StateError;
use crate::state::replica::Replica;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

/// What the caller's rule says about a job, given up to when its times were handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Wait,
    SkipMissed { first_missed: DateTime<Utc> },
    Run { slot: DateTime<Utc>, catch_up: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    Skip,
    Queue,
    Allow,
}

/// What became of a claim. `handled` is the job's handled-until after it.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// Nothing due (another replica may have just dealt with it).
    Nothing,
    /// Missed times beyond grace were skipped by this replica (it logs it, once).
    Missed { first_missed: DateTime<Utc> },
    /// This replica runs `slot` as fire `fire`.
    Run {
        fire: i64,
        slot: DateTime<Utc>,
        catch_up: bool,
    },
    /// `overlap=skip` and these runs (`run N on REPLICA`) are still going.
    Busy {
        slot: DateTime<Utc>,
        running: Vec<String>,
    },
    /// `overlap=queue`: the slot waits for the running ones.
    Queued {
        slot: DateTime<Utc>,
        running: Vec<String>,
    },
    /// `overlap=queue` with a run already waiting: skipped.
    QueueFull {
        slot: DateTime<Utc>,
        running: Vec<String>,
    },
}

/// A fire whose replica stopped renewing its lease.
#[derive(Clone, Debug)]
pub struct Lost {
    pub job: String,
    pub slot: DateTime<Utc>,
    pub replica: String,
    pub run: Option<i64>,
}

/// A queued fire this replica now runs.
#[derive(Clone, Debug)]
pub struct Promoted {
    pub job: String,
    pub fire: i64,
    pub slot: DateTime<Utc>,
}

/// One crontab's shared state, as seen by one replica, over one dedicated connection.
pub struct PgCron {
    target: PgTarget,
    conn: Option<Conn>,
    crontab: String,
    replica: Replica,
    ttl: Duration,
}

impl PgCron {
    /// Connects, brings the schema up to date (refusing one newer than this binary) and
    /// registers the replica.
    pub async fn open(
        target: &PgTarget,
        replica: Replica,
        crontab: String,
        ttl: Duration,
    ) -> Result<PgCron, StateError> {
        let mut me = PgCron {
            target: target.clone(),
            conn: None,
            crontab,
            replica,
            ttl,
        };
        let conn = me.conn().await?;
        let by = format!("{} (process {})", me.replica.host, me.replica.pid);
        migrate::migrate(&conn, &by).await?;
        me.replica.register(&conn).await?;
        Ok(me)
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The connection, reconnecting (and re-registering) after one was lost.
    async fn conn(&mut self) -> Result<Conn, StateError> {
        if let Some(c) = &self.conn
            && !c.client.is_closed()
        {
            return Ok(c.clone());
        }
        self.conn = None;
        let c = connect(&self.target, "cron").await?;
        if migrate::current(&c).await? > 0 {
            self.replica.register(&c).await?;
        }
        self.conn = Some(c.clone());
        Ok(c)
    }

    /// Records `jobs` (a new one as handled up to `now`) and returns every job's
    /// handled-until, so a replica starts where the others (or the last one up) left off.
    pub async fn ensure_jobs(
        &mut self,
        jobs: &[&str],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, DateTime<Utc>>, StateError> {
        let c = self.conn().await?;
        for job in jobs {
            c.client
                .execute(
                    "INSERT INTO cron_jobs (crontab, job, handled_until) VALUES ($1, $2, $3)
                     ON CONFLICT (crontab, job) DO NOTHING",
                    &[&self.crontab, job, &now],
                )
                .await
                .map_err(c.err("recording the crontab's jobs"))?;
        }
        let rows = c
            .client
            .query(
                "SELECT job, handled_until FROM cron_jobs WHERE crontab = $1",
                &[&self.crontab],
            )
            .await
            .map_err(c.err("reading the crontab's jobs"))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Decides and claims `job`'s due time under its row lock. `decide` gets the shared
    /// handled-until; `now` is this replica's clock, recorded as handled after a decision.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim(
        &mut self,
        job: &str,
        now: DateTime<Utc>,
        overlap: Overlap,
        timeout: Option<Duration>,
        run_no: u64,
        decide: impl FnOnce(DateTime<Utc>) -> Verdict,
    ) -> Result<(Claim, DateTime<Utc>, Vec<Lost>), StateError> {
        let c = self.conn().await?;
        c.client
            .batch_execute("BEGIN")
            .await
            .map_err(c.err("starting a claim"))?;
        let result = self
            .claim_in_tx(&c, job, now, overlap, timeout, run_no, decide)
            .await;
        let end = match &result {
            Ok((_, _, _, true)) => "COMMIT",
            _ => "ROLLBACK",
        };
        let ended = c.client.batch_execute(end).await;
        let (claim, handled, lost, _) = result?;
        ended.map_err(c.err("committing a claim"))?;
        Ok((claim, handled, lost))
    }

    #[allow(clippy::too_many_arguments)]
    async fn claim_in_tx(
        &self,
        c: &Conn,
        job: &str,
        now: DateTime<Utc>,
        overlap: Overlap,
        timeout: Option<Duration>,
        run_no: u64,
        decide: impl FnOnce(DateTime<Utc>) -> Verdict,
    ) -> Result<(Claim, DateTime<Utc>, Vec<Lost>, bool), StateError> {
        let cl = &c.client;
        let row = cl
            .query_opt(
                "SELECT handled_until FROM cron_jobs WHERE crontab = $1 AND job = $2 FOR UPDATE",
                &[&self.crontab, &job],
            )
            .await
            .map_err(c.err("locking a job"))?;
        let Some(row) = row else {
            // A job added by a reload: it starts from now, like a new job on one machine.
            cl.execute(
                "INSERT INTO cron_jobs (crontab, job, handled_until) VALUES ($1, $2, $3)
                 ON CONFLICT (crontab, job) DO NOTHING",
                &[&self.crontab, &job, &now],
            )
            .await
            .map_err(c.err("recording a job"))?;
            return Ok((Claim::Nothing, now, vec![], true));
        };
        let handled: DateTime<Utc> = row.get(0);
        let after = handled.max(now);
        let advance = |extra: &'static str| {
            format!(
                "UPDATE cron_jobs SET handled_until = GREATEST(handled_until, $3){extra}
                 WHERE crontab = $1 AND job = $2"
            )
        };
        let (slot, catch_up) = match decide(handled) {
            Verdict::Wait => return Ok((Claim::Nothing, handled, vec![], false)),
            Verdict::SkipMissed { first_missed } => {
                cl.execute(&advance(""), &[&self.crontab, &job, &now])
                    .await
                    .map_err(c.err("skipping missed times"))?;
                return Ok((Claim::Missed { first_missed }, after, vec![], true));
            }
            Verdict::Run { slot, catch_up } => (slot, catch_up),
        };
        let taken = cl
            .query_opt(
                "SELECT 1 FROM cron_fires WHERE crontab = $1 AND job = $2 AND slot = $3",
                &[&self.crontab, &job, &slot],
            )
            .await
            .map_err(c.err("checking a slot"))?;
        if taken.is_some() {
            cl.execute(&advance(""), &[&self.crontab, &job, &now])
                .await
                .map_err(c.err("recording a handled time"))?;
            return Ok((Claim::Nothing, after, vec![], true));
        }
        // A run whose lease ran out is over: recorded lost before overlap is judged.
        let lost = reap(c, &self.crontab, Some(job)).await?;
        let running: Vec<String> = cl
            .query(
                "SELECT replica, run_no FROM cron_fires
                 WHERE crontab = $1 AND job = $2 AND state = 'running' AND lease_until > now()
                 ORDER BY started_at",
                &[&self.crontab, &job],
            )
            .await
            .map_err(c.err("checking running fires"))?
            .iter()
            .map(|r| {
                let run: Option<i64> = r.get(1);
                format!(
                    "run {} on {}",
                    run.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
                    r.get::<_, String>(0)
                )
            })
            .collect();
        let queued = if running.is_empty() || overlap != Overlap::Queue {
            false
        } else {
            cl.query_opt(
                "SELECT 1 FROM cron_fires WHERE crontab = $1 AND job = $2 AND state = 'queued'",
                &[&self.crontab, &job],
            )
            .await
            .map_err(c.err("checking queued fires"))?
            .is_some()
        };
        let (state, claim) = match (running.is_empty(), overlap) {
            (true, _) | (false, Overlap::Allow) => ("running", None),
            (false, Overlap::Skip) => ("skipped", Some(Claim::Busy { slot, running })),
            (false, Overlap::Queue) if queued => {
                ("skipped", Some(Claim::QueueFull { slot, running }))
            }
            (false, Overlap::Queue) => ("queued", Some(Claim::Queued { slot, running })),
        };
        let runs = state == "running";
        let timeout_s = timeout.map(|t| t.as_secs_f64());
        let row = cl
            .query_one(
                "INSERT INTO cron_fires
                   (crontab, job, slot, state, replica, run_no, catch_up,
                    started_at, deadline, lease_until)
                 VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN $7::bigint END, $8,
                    CASE WHEN $6 THEN now() END,
                    CASE WHEN $6 THEN now() + make_interval(secs => $9) END,
                    CASE WHEN $6 THEN now() + make_interval(secs => $10) END)
                 RETURNING id",
                &[
                    &self.crontab,
                    &job,
                    &slot,
                    &state,
                    &self.replica.id,
                    &runs,
                    &(run_no as i64),
                    &catch_up,
                    &timeout_s,
                    &self.ttl.as_secs_f64(),
                ],
            )
            .await
            .map_err(c.err("claiming a due time"))?;
        let extra = if runs {
            ", last_slot = $4, last_start = now()"
        } else {
            ""
        };
        let sql = advance(extra);
        let with_slot: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&self.crontab, &job, &now, &slot];
        let params = if runs {
            &with_slot[..]
        } else {
            &with_slot[..3]
        };
        cl.execute(&sql, params)
            .await
            .map_err(c.err("recording a handled time"))?;
        let claim = claim.unwrap_or(Claim::Run {
            fire: row.get(0),
            slot,
            catch_up,
        });
        Ok((claim, after, lost, true))
    }

    /// A run of this replica ended. Returns false when its fire had already been marked
    /// lost (this replica was presumed dead).
    pub async fn finished(
        &mut self,
        fire: i64,
        outcome: &str,
        error: Option<&str>,
    ) -> Result<bool, StateError> {
        let c = self.conn().await?;
        let n = c
            .client
            .execute(
                "WITH f AS (
                   UPDATE cron_fires SET state = 'done', ended_at = now(), outcome = $3,
                          error = $4, lease_until = NULL
                   WHERE id = $1 AND replica = $2 AND state = 'running' RETURNING crontab, job)
                 UPDATE cron_jobs j SET last_end = now(), last_outcome = $3
                 FROM f WHERE j.crontab = f.crontab AND j.job = f.job",
                &[&fire, &self.replica.id, &outcome, &error],
            )
            .await
            .map_err(c.err("recording the end of a run"))?;
        Ok(n > 0)
    }

    /// The oldest queued fire of `job`, now running here — if no run of it is live.
    pub async fn promote(
        &mut self,
        job: &str,
        run_no: u64,
        timeout: Option<Duration>,
    ) -> Result<Option<Promoted>, StateError> {
        let c = self.conn().await?;
        let row = c
            .client
            .query_opt(
                "UPDATE cron_fires SET state = 'running', replica = $3, run_no = $4,
                        started_at = now(),
                        deadline = now() + make_interval(secs => $5),
                        lease_until = now() + make_interval(secs => $6)
                 WHERE id = (
                   SELECT id FROM cron_fires
                   WHERE crontab = $1 AND job = $2 AND state = 'queued'
                     AND NOT EXISTS (
                       SELECT 1 FROM cron_fires r WHERE r.crontab = $1 AND r.job = $2
                         AND r.state = 'running' AND r.lease_until > now())
                   ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING id, slot",
                &[
                    &self.crontab,
                    &job,
                    &self.replica.id,
                    &(run_no as i64),
                    &timeout.map(|t| t.as_secs_f64()),
                    &self.ttl.as_secs_f64(),
                ],
            )
            .await
            .map_err(c.err("starting a queued run"))?;
        Ok(row.map(|r| Promoted {
            job: job.to_string(),
            fire: r.get(0),
            slot: r.get(1),
        }))
    }

    /// Renews this replica's leases and its last-seen time.
    pub async fn heartbeat(&mut self) -> Result<u64, StateError> {
        let c = self.conn().await?;
        self.replica.heartbeat(&c, self.ttl).await
    }

    /// Marks this crontab's fires whose lease ran out as lost, and returns them.
    pub async fn reap(&mut self) -> Result<Vec<Lost>, StateError> {
        let c = self.conn().await?;
        reap(&c, &self.crontab, None).await
    }

    /// A clean exit: this replica is recorded as stopped.
    pub async fn stopped(&mut self) -> Result<(), StateError> {
        let c = self.conn().await?;
        self.replica.stopped(&c).await
    }
}

/// Marks fires of `crontab` (of `job`, if given) whose lease ran out as lost.
async fn reap(c: &Conn, crontab: &str, job: Option<&str>) -> Result<Vec<Lost>, StateError> {
    let rows = c
        .client
        .query(
            "WITH lost AS (
               UPDATE cron_fires SET state = 'lost', ended_at = now(),
                      error = 'replica ' || replica || ' stopped renewing its lease'
               WHERE crontab = $1 AND ($2::text IS NULL OR job = $2)
                 AND state = 'running' AND lease_until < now()
               RETURNING job, slot, replica, run_no),
             jobs AS (
               UPDATE cron_jobs j SET last_end = now(), last_outcome = 'lost'
               WHERE j.crontab = $1 AND j.job IN (SELECT job FROM lost))
             SELECT job, slot, replica, run_no FROM lost",
            &[&crontab, &job],
        )
        .await
        .map_err(c.err("looking for lost runs"))?;
    Ok(rows
        .iter()
        .map(|r| Lost {
            job: r.get(0),
            slot: r.get(1),
            replica: r.get(2),
            run: r.get(3),
        })
        .collect())
}
