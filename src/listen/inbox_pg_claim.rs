//! Claims and their outcomes in the shared inbox. A claim marks an event running for this
//! replica under a lease and returns its attempt number: that number is the claim's
//! fencing token. Every outcome — finished, failed, put back — is written only while the
//! event is still running under this replica's claim with that token, so a replica whose
//! lease ran out (frozen, cut off, too slow to renew) and whose event was claimed again
//! cannot overwrite the newer claim's outcome: its write is refused, changes nothing, and
//! is reported as [`Outcome::LeaseLost`]. Claims of one project are serialized by a
//! transaction-scoped advisory lock, so two events of one invitation never run at once and
//! an invitation's events start in order. It writes claims and outcomes; it runs nothing.

use super::inbox_pg::PgInbox;
use super::inbox_pg_sql::{CLAIM_LOCK_CLASS, firsts, stage};
use super::inbox_schema::{Entry, InboxError, Outcome};
use tokio_postgres::types::ToSql;

/// The claim: `$1` scope, `$2` now (epoch ms), `$3` event id, `$4` owner, `$5` lease
/// (seconds). Refused (no row) when the event is not this replica's to run now: another
/// claimed it, an event of its invitation is running or waits before it, or its status
/// was applied since.
fn claim_sql() -> String {
    let of_its_invitation = "AND f.invitation_id = (
         SELECT i.invitation_id FROM inbox_events i WHERE i.scope = $1 AND i.event_id = $3)";
    format!(
        "UPDATE inbox_events e SET state = 'running', attempts = e.attempts + 1,
           owner = $4, lease_until = now() + make_interval(secs => $5)
         WHERE e.scope = $1 AND e.event_id = $3
           AND e.event_id = (SELECT n.event_id FROM ({}) n WHERE NOT n.busy)
           AND NOT EXISTS (
             SELECT 1 FROM inbox_applied a
             WHERE a.scope = e.scope AND a.invitation_id = e.invitation_id
               AND (a.event_ms > e.event_ms OR a.status = e.current_status
                    OR (a.event_ms = e.event_ms AND {} > {})))
         RETURNING e.attempts",
        firsts(of_its_invitation),
        stage("a.status"),
        stage("e.current_status")
    )
}

const LOCK: &str = "SELECT pg_advisory_xact_lock($1, hashtext($2))";

/// The outcome "done": `$1` scope, `$2` event id, `$3` invitation, `$4` status, `$5` event
/// time, `$6` now (epoch ms), `$7` owner, `$8` attempt. The status is applied only when the
/// event was marked; one row, 1 when it was, 0 when the claim was no longer ours.
const FINISH: &str = "WITH done AS (
       UPDATE inbox_events SET state = 'done', last_error = NULL, finished_ms = $6,
         lease_until = NULL
       WHERE scope = $1 AND event_id = $2 AND state = 'running' AND owner = $7
         AND attempts = $8
       RETURNING 1),
     applied AS (
       INSERT INTO inbox_applied (scope, invitation_id, status, event_ms)
       SELECT $1::text, $3::text, $4::text, $5::int8 FROM done
       ON CONFLICT (scope, invitation_id) DO UPDATE SET
         status = CASE WHEN excluded.event_ms >= inbox_applied.event_ms
                  THEN excluded.status ELSE inbox_applied.status END,
         event_ms = GREATEST(inbox_applied.event_ms, excluded.event_ms))
     SELECT count(*) FROM done";

impl PgInbox {
    /// Claims `event_id` for this replica under a fresh lease: its attempt number, or
    /// `None` when it is not this replica's to run now.
    pub fn start(&self, event_id: &str) -> Result<Option<i64>, InboxError> {
        self.finish_and_start(None, Some(event_id))
            .map(|(_, started)| started)
    }

    /// The handler succeeded: the event is done and its status applied, in one statement —
    /// if the claim with `attempt` is still this replica's.
    pub fn finish(&self, e: &Entry, attempt: i64) -> Result<Outcome, InboxError> {
        self.finish_and_start(Some((e, attempt)), None)
            .map(|(outcome, _)| outcome.unwrap_or(Outcome::Recorded))
    }

    /// `done` finished (fenced by its attempt) and then `next` claimed, in one transaction
    /// and one round trip: the claim sees the status just applied. The finish's outcome
    /// (when there was one) and the claim's attempt number (when it was granted).
    pub fn finish_and_start(
        &self,
        done: Option<(&Entry, i64)>,
        next: Option<&str>,
    ) -> Result<(Option<Outcome>, Option<i64>), InboxError> {
        let (scope, owner, ttl) = (&self.scope, &self.replica.id, self.ttl.as_secs_f64());
        let claim = claim_sql();
        self.run(|c| async move {
            let cl = &c.client;
            let now = super::inbox_pg::now_ms();
            let finish = match done {
                Some(_) => Some(self.prepared(&c, FINISH).await?),
                None => None,
            };
            let claiming = match next {
                Some(_) => Some((
                    self.prepared(&c, LOCK).await?,
                    self.prepared(&c, &claim).await?,
                )),
                None => None,
            };
            let attempt = done.map(|(_, a)| a).unwrap_or(0);
            let finish_args: Option<[&(dyn ToSql + Sync); 8]> = done.map(|(e, _)| {
                let args: [&(dyn ToSql + Sync); 8] = [
                    scope,
                    &e.event_id,
                    &e.invitation_id,
                    &e.current_status,
                    &e.event_ms,
                    &now,
                    owner,
                    &attempt,
                ];
                args
            });
            let lock_args: [&(dyn ToSql + Sync); 2] = [&CLAIM_LOCK_CLASS, scope];
            let next_id = next.unwrap_or_default();
            let claim_args: [&(dyn ToSql + Sync); 5] = [scope, &now, &next_id, owner, &ttl];
            // One round trip: prepared statements sent together run in the order sent.
            // Claims of one project queue at the lock, and the claim, a statement of its
            // own, sees every claim committed before the lock was granted. After an error
            // the transaction is aborted and the COMMIT ends it as a rollback.
            let finishing = async {
                match (&finish, &finish_args) {
                    (Some(s), Some(args)) => cl.query_one(s, args).await.map(Some),
                    _ => Ok(None),
                }
            };
            let locking = async {
                match &claiming {
                    Some((lock, _)) => cl.execute(lock, &lock_args).await.map(Some),
                    None => Ok(None),
                }
            };
            let taking = async {
                match &claiming {
                    Some((_, claim)) => cl.query_opt(claim, &claim_args).await,
                    None => Ok(None),
                }
            };
            let (begun, finished, locked, claimed, committed) = futures::join!(
                cl.batch_execute("BEGIN"),
                finishing,
                locking,
                taking,
                cl.batch_execute("COMMIT"),
            );
            let (finished, claimed) = begun
                .and(finished)
                .and_then(|f| locked.map(|_| f))
                .and_then(|f| claimed.map(|row| (f, row)))
                .and_then(|fc| committed.map(|()| fc))
                .map_err(c.err(match (done, next) {
                    (Some(_), Some(_)) => "finishing an event and claiming the next",
                    (Some(_), None) => "finishing an event",
                    _ => "claiming an event",
                }))?;
            let outcome = finished.map(|row| match row.get::<_, i64>(0) {
                0 => Outcome::LeaseLost,
                _ => Outcome::Recorded,
            });
            Ok((outcome, claimed.map(|r| r.get::<_, i64>(0))))
        })
    }

    /// The handler failed: retry at `retry_at_ms`, or give up — if the claim with
    /// `attempt` is still this replica's.
    pub fn fail(
        &self,
        event_id: &str,
        attempt: i64,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<Outcome, InboxError> {
        let (state, not_before) = match retry_at_ms {
            Some(at) => ("received", at),
            None => ("failed", 0),
        };
        let now = super::inbox_pg::now_ms();
        self.execute(
            "UPDATE inbox_events SET state = $3, last_error = $4, not_before_ms = $5,
               finished_ms = CASE WHEN $3 = 'failed' THEN $6::bigint END,
               owner = NULL, lease_until = NULL
             WHERE scope = $1 AND event_id = $2 AND state = 'running' AND owner = $7
               AND attempts = $8",
            &[
                &event_id,
                &state,
                &error,
                &not_before,
                &now,
                &self.replica.id,
                &attempt,
            ],
            "recording a failed attempt",
        )
        .map(|n| match n {
            0 => Outcome::LeaseLost,
            _ => Outcome::Recorded,
        })
    }

    /// Recorded as not run — unless a replica claimed it meanwhile (and its lease is live).
    pub fn skip(&self, event_id: &str, why: &str) -> Result<(), InboxError> {
        let now = super::inbox_pg::now_ms();
        self.execute(
            "UPDATE inbox_events SET state = 'skipped', last_error = $3, finished_ms = $4,
               owner = NULL, lease_until = NULL
             WHERE scope = $1 AND event_id = $2
               AND (state = 'received' OR (state = 'running' AND lease_until < now()))",
            &[&event_id, &why, &now],
            "recording a skipped event",
        )
        .map(|_| ())
    }

    /// Records a status as applied without running anything (the baseline, new invitations).
    pub fn set_applied(
        &self,
        invitation_id: &str,
        status: &str,
        event_ms: i64,
    ) -> Result<(), InboxError> {
        self.execute(
            "INSERT INTO inbox_applied (scope, invitation_id, status, event_ms)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (scope, invitation_id) DO UPDATE SET
               status = CASE WHEN excluded.event_ms >= inbox_applied.event_ms
                        THEN excluded.status ELSE inbox_applied.status END,
               event_ms = GREATEST(inbox_applied.event_ms, excluded.event_ms)",
            &[&invitation_id, &status, &event_ms],
            "recording an applied status",
        )
        .map(|_| ())
    }
}
