//! The receiver's inbox in the shared state database (`--state-url`), for several `listen`
//! replicas behind one load balancer: the same events, applied statuses and baseline as
//! the SQLite inbox (migration 0004), plus who runs what. A delivery reaching any replica
//! is recorded once (`INSERT … ON CONFLICT`); an event is claimed by one replica at a
//! time — claims are serialized per project by a transaction-scoped advisory lock, so two
//! events of one invitation never run at once and an invitation's events start in order —
//! and the claim holds a lease that this replica renews in the background while the
//! handler runs. A replica that dies stops renewing; once its lease has run out the event
//! is claimable again and another replica runs it (the same "the event in hand runs
//! again" as a restart after a crash on one machine).
//!
//! Every method is synchronous, for the handler's and the recorder's plain threads: each
//! one blocks on the runtime (stepping out of a runtime worker first when called from
//! one). Leases are measured on the database's clock, never a replica's. It stores and
//! answers; it runs no handler.

use super::inbox_pg_heartbeat::{Heartbeat, renew};
use super::inbox_pg_sql::{CLAIM_LOCK_CLASS, COLUMNS, claimable, entry, stage};
use super::inbox_schema::{Applied, Entry, InboxError, NewEvent};
use crate::state::backend::PgTarget;
use crate::state::error::StateError;
use crate::state::postgres::connect::{Conn, connect_async_commit};
use crate::state::postgres::migrate;
use crate::state::replica::Replica;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub struct PgInbox {
    target: PgTarget,
    scope: String,
    /// This replica: the owner its claims carry.
    replica: Replica,
    ttl: Duration,
    handle: Handle,
    /// Commits without waiting for the disk (see [`PgInbox::record_all`] for the one that
    /// does): a claim or an outcome lost in a crash of the database server means the
    /// event in hand runs again, as after a crash of a replica.
    conn: Mutex<Option<Conn>>,
    /// Statements prepared on `conn`, by their text: each is then one round trip.
    prepared: Mutex<HashMap<String, Statement>>,
    /// Why the leases could not be renewed at the last try, if they could not.
    heartbeat: Arc<Heartbeat>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for PgInbox {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Runs `f` to completion from a plain thread or from inside the runtime.
fn block<T>(handle: &Handle, f: impl Future<Output = T>) -> T {
    if Handle::try_current().is_ok() {
        tokio::task::block_in_place(|| handle.block_on(f))
    } else {
        handle.block_on(f)
    }
}

impl PgInbox {
    /// Connects, brings the schema up to date, registers this replica (kind `listen`) and
    /// starts renewing its leases every third of `ttl`.
    pub fn open(
        target: &PgTarget,
        scope: &str,
        handle: Handle,
        ttl: Duration,
    ) -> Result<PgInbox, InboxError> {
        let replica = Replica::new("listen", None);
        let heartbeat = Arc::new(Heartbeat::default());
        let conn = block(&handle, async {
            let conn = connect_async_commit(target, "listen").await?;
            migrate::migrate(&conn, &replica.id).await?;
            replica.register(&conn).await?;
            Ok::<_, StateError>(conn)
        })
        .map_err(|e| wrap(target, e))?;
        let renewer = handle.spawn(renew(
            target.clone(),
            replica.clone(),
            ttl,
            heartbeat.clone(),
        ));
        Ok(PgInbox {
            target: target.clone(),
            scope: scope.to_string(),
            replica,
            ttl,
            handle,
            conn: Mutex::new(Some(conn)),
            prepared: Mutex::new(HashMap::new()),
            heartbeat,
            renewer,
        })
    }

    /// This replica's id, as claims and `state status` show it.
    pub fn owner(&self) -> &str {
        &self.replica.id
    }

    /// Why this replica's leases could not be renewed at the last try, if so.
    pub fn heartbeat(&self) -> Arc<Heartbeat> {
        self.heartbeat.clone()
    }

    /// The connection, opened again when the last one was lost.
    async fn conn(&self) -> Result<Conn, StateError> {
        let held = self.conn.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(c) = held
            && !c.client.is_closed()
        {
            return Ok(c);
        }
        let c = connect_async_commit(&self.target, "listen").await?;
        self.prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        Ok(c)
    }

    /// `sql` prepared on `c` (the connection [`PgInbox::conn`] gave), once per connection.
    async fn prepared(&self, c: &Conn, sql: &str) -> Result<Statement, StateError> {
        let known = self
            .prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sql)
            .cloned();
        if let Some(s) = known {
            return Ok(s);
        }
        let s = c
            .client
            .prepare(sql)
            .await
            .map_err(c.err("preparing a statement"))?;
        self.prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sql.to_string(), s.clone());
        Ok(s)
    }

    fn run<T, F>(&self, f: impl FnOnce(Conn) -> F) -> Result<T, InboxError>
    where
        F: Future<Output = Result<T, StateError>>,
    {
        block(&self.handle, async {
            let c = self.conn().await?;
            f(c).await
        })
        .map_err(|e| wrap(&self.target, e))
    }

    /// Deliveries that arrived together, in one statement and one durable commit; per event `true` when it is new, `false` for a delivery of an id
    /// recorded before — here or in this batch — counted and not run again.
    pub fn record_all(&self, events: &[&NewEvent]) -> Result<Vec<bool>, InboxError> {
        // An id twice in one statement would be an error: send each once, with its count.
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut unique: Vec<&NewEvent> = vec![];
        let mut repeats: Vec<i64> = vec![];
        for e in events {
            match first.get(e.event_id.as_str()) {
                Some(&at) => repeats[at] += 1,
                None => {
                    first.insert(&e.event_id, unique.len());
                    unique.push(e);
                    repeats.push(0);
                }
            }
        }
        let column = |f: fn(&NewEvent) -> String| unique.iter().map(|e| f(e)).collect::<Vec<_>>();
        let (ids, invitations, currents, bodies) = (
            column(|e| e.event_id.clone()),
            column(|e| e.invitation_id.clone()),
            column(|e| e.current_status.clone()),
            column(|e| e.body.clone()),
        );
        let previous: Vec<Option<String>> =
            unique.iter().map(|e| e.previous_status.clone()).collect();
        let times: Vec<i64> = unique.iter().map(|e| e.event_ms).collect();
        let synthesized: Vec<bool> = unique.iter().map(|e| e.synthesized).collect();
        let scope = &self.scope;
        let inserted: HashMap<String, bool> = self.run(|c| async move {
            let cl = &c.client;
            // Answered only once on disk: this commit waits for the flush.
            cl.batch_execute("BEGIN; SET LOCAL synchronous_commit = on")
                .await
                .map_err(c.err("recording deliveries"))?;
            let rows = cl
                .query(
                    "INSERT INTO inbox_events (scope, event_id, invitation_id, previous_status,
                       current_status, event_ms, received_ms, synthesized, body, state, deliveries)
                     SELECT $1, t.id, t.inv, t.prev, t.cur, t.ms, $2, t.syn, t.body, 'received',
                            1 + t.again
                     FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::int8[],
                                 $8::bool[], $9::text[], $10::int8[])
                          AS t(id, inv, prev, cur, ms, syn, body, again)
                     ON CONFLICT (scope, event_id) DO UPDATE
                       SET deliveries = inbox_events.deliveries + excluded.deliveries
                     RETURNING event_id, (xmax = 0)",
                    &[
                        scope,
                        &now_ms(),
                        &ids,
                        &invitations,
                        &previous,
                        &currents,
                        &times,
                        &synthesized,
                        &bodies,
                        &repeats,
                    ],
                )
                .await;
            let done = match rows {
                Ok(rows) => cl.batch_execute("COMMIT").await.map(|()| rows),
                Err(e) => Err(e),
            };
            if done.is_err() {
                let _ = cl.batch_execute("ROLLBACK").await;
            }
            let rows = done.map_err(c.err("recording deliveries"))?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        let mut seen: HashSet<&str> = HashSet::new();
        Ok(events
            .iter()
            .map(|e| seen.insert(&e.event_id) && inserted.get(&e.event_id) == Some(&true))
            .collect())
    }

    /// Running events whose replica stopped renewing their lease go back in line; how many.
    pub fn requeue_abandoned(&self) -> Result<usize, InboxError> {
        let scope = &self.scope;
        self.run(|c| async move {
            c.client
                .execute(
                    "UPDATE inbox_events SET state = 'received', owner = NULL, lease_until = NULL
                     WHERE scope = $1 AND state = 'running' AND lease_until < now()",
                    &[scope],
                )
                .await
                .map(|n| n as usize)
                .map_err(c.err("requeueing abandoned events"))
        })
    }

    /// Up to `limit` events this replica may claim at `now_ms`, in the order to handle them.
    pub fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<Entry>, InboxError> {
        let (scope, limit) = (&self.scope, limit as i64);
        let sql = format!(
            "SELECT {COLUMNS} FROM inbox_events e WHERE {}
             ORDER BY e.event_ms, {}, e.received_ms LIMIT $3",
            claimable(),
            stage("e.current_status")
        );
        self.run(|c| async move {
            let due = self.prepared(&c, &sql).await?;
            let rows = c
                .client
                .query(&due, &[scope, &now_ms, &limit])
                .await
                .map_err(c.err("reading the events due"))?;
            Ok(rows.iter().map(entry).collect())
        })
    }

    /// Claims `event_id` for this replica under a fresh lease: its attempt number, or
    /// `None` when it is not this replica's to run now (another one claimed it, an event
    /// of its invitation is running or waits before it, or its status was applied since).
    pub fn start(&self, event_id: &str) -> Result<Option<i64>, InboxError> {
        let (scope, owner, ttl) = (&self.scope, &self.replica.id, self.ttl.as_secs_f64());
        let sql = format!(
            "UPDATE inbox_events e SET state = 'running', attempts = e.attempts + 1,
               owner = $4, lease_until = now() + make_interval(secs => $5)
             WHERE e.event_id = $3 AND {}
               AND NOT EXISTS (
                 SELECT 1 FROM inbox_applied a
                 WHERE a.scope = e.scope AND a.invitation_id = e.invitation_id
                   AND (a.event_ms > e.event_ms OR a.status = e.current_status
                        OR (a.event_ms = e.event_ms AND {} > {})))
             RETURNING e.attempts",
            claimable(),
            stage("a.status"),
            stage("e.current_status")
        );
        self.run(|c| async move {
            let cl = &c.client;
            let lock = self
                .prepared(&c, "SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .await?;
            let claim = self.prepared(&c, &sql).await?;
            // One round trip: the four are sent together and run in order. Claims of one
            // project queue at the lock, and the claim, a statement of its own, sees every
            // claim committed before the lock was granted. After an error the transaction
            // is aborted and the COMMIT ends it as a rollback.
            let now = now_ms();
            let lock_args: [&(dyn ToSql + Sync); 2] = [&CLAIM_LOCK_CLASS, scope];
            let claim_args: [&(dyn ToSql + Sync); 5] = [scope, &now, &event_id, owner, &ttl];
            let (begun, locked, claimed, committed) = futures::join!(
                cl.batch_execute("BEGIN"),
                cl.execute(&lock, &lock_args),
                cl.query_opt(&claim, &claim_args),
                cl.batch_execute("COMMIT"),
            );
            let row = begun
                .and(locked)
                .and(claimed)
                .and_then(|row| committed.map(|()| row))
                .map_err(c.err("claiming an event"))?;
            Ok(row.map(|r| r.get::<_, i64>(0)))
        })
    }

    /// The handler succeeded: the event is done and its status applied, in one statement.
    pub fn finish(&self, e: &Entry) -> Result<(), InboxError> {
        let scope = &self.scope;
        self.run(|c| async move {
            let finish = self
                .prepared(
                    &c,
                    "WITH done AS (
                       UPDATE inbox_events SET state = 'done', last_error = NULL,
                         finished_ms = $6, lease_until = NULL
                       WHERE scope = $1 AND event_id = $2)
                     INSERT INTO inbox_applied (scope, invitation_id, status, event_ms)
                     VALUES ($1, $3, $4, $5)
                     ON CONFLICT (scope, invitation_id) DO UPDATE SET
                       status = CASE WHEN excluded.event_ms >= inbox_applied.event_ms
                                THEN excluded.status ELSE inbox_applied.status END,
                       event_ms = GREATEST(inbox_applied.event_ms, excluded.event_ms)",
                )
                .await?;
            c.client
                .execute(
                    &finish,
                    &[
                        scope,
                        &e.event_id,
                        &e.invitation_id,
                        &e.current_status,
                        &e.event_ms,
                        &now_ms(),
                    ],
                )
                .await
                .map(|_| ())
                .map_err(c.err("finishing an event"))
        })
    }

    pub fn set_applied(
        &self,
        invitation_id: &str,
        status: &str,
        event_ms: i64,
    ) -> Result<(), InboxError> {
        let scope = &self.scope;
        self.run(|c| async move {
            c.client
                .execute(
                    "INSERT INTO inbox_applied (scope, invitation_id, status, event_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (scope, invitation_id) DO UPDATE SET
                       status = CASE WHEN excluded.event_ms >= inbox_applied.event_ms
                                THEN excluded.status ELSE inbox_applied.status END,
                       event_ms = GREATEST(inbox_applied.event_ms, excluded.event_ms)",
                    &[scope, &invitation_id, &status, &event_ms],
                )
                .await
                .map(|_| ())
                .map_err(c.err("recording an applied status"))
        })
    }

    /// The handler failed: retry at `retry_at_ms`, or give up. Only while this replica
    /// still holds the claim — once its lease ran out the event is another replica's.
    pub fn fail(
        &self,
        event_id: &str,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<(), InboxError> {
        let (state, not_before) = match retry_at_ms {
            Some(at) => ("received", at),
            None => ("failed", 0),
        };
        let (scope, owner) = (&self.scope, &self.replica.id);
        self.run(|c| async move {
            c.client
                .execute(
                    "UPDATE inbox_events SET state = $3, last_error = $4, not_before_ms = $5,
                       finished_ms = CASE WHEN $3 = 'failed' THEN $6::bigint END,
                       owner = NULL, lease_until = NULL
                     WHERE scope = $1 AND event_id = $2 AND state = 'running' AND owner = $7",
                    &[
                        scope,
                        &event_id,
                        &state,
                        &error,
                        &not_before,
                        &now_ms(),
                        owner,
                    ],
                )
                .await
                .map(|_| ())
                .map_err(c.err("recording a failed attempt"))
        })
    }

    /// Recorded as not run — unless another replica claimed it meanwhile.
    pub fn skip(&self, event_id: &str, why: &str) -> Result<(), InboxError> {
        let scope = &self.scope;
        self.run(|c| async move {
            c.client
                .execute(
                    "UPDATE inbox_events SET state = 'skipped', last_error = $3, finished_ms = $4,
                       owner = NULL, lease_until = NULL
                     WHERE scope = $1 AND event_id = $2
                       AND (state = 'received' OR (state = 'running' AND lease_until < now()))",
                    &[scope, &event_id, &why, &now_ms()],
                )
                .await
                .map(|_| ())
                .map_err(c.err("recording a skipped event"))
        })
    }

    /// One row of one query, with the scope as `$1` and `args` after it.
    fn query_opt<T: Send>(
        &self,
        sql: &str,
        args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        read: impl FnOnce(&Row) -> T + Send,
        doing: &str,
    ) -> Result<Option<T>, InboxError> {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&self.scope];
        params.extend_from_slice(args);
        self.run(|c| async move {
            let sql = self.prepared(&c, sql).await?;
            let row = c
                .client
                .query_opt(&sql, &params)
                .await
                .map_err(c.err(doing))?;
            Ok(row.as_ref().map(read))
        })
    }

    /// A statement with the scope as `$1` and `args` after it: the rows it changed.
    fn execute(
        &self,
        sql: &str,
        args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        doing: &str,
    ) -> Result<u64, InboxError> {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&self.scope];
        params.extend_from_slice(args);
        self.run(|c| async move {
            let sql = self.prepared(&c, sql).await?;
            c.client.execute(&sql, &params).await.map_err(c.err(doing))
        })
    }

    /// Events running now under a live lease, on any replica.
    pub fn running(&self) -> Result<i64, InboxError> {
        self.query_opt(
            "SELECT count(*) FROM inbox_events
             WHERE scope = $1 AND state = 'running' AND lease_until >= now()",
            &[],
            |r| r.get(0),
            "counting running events",
        )
        .map(|n| n.unwrap_or(0))
    }

    /// When the next waiting retry falls due, if any is still to come. Only future ones:
    /// an event that is due but waits behind another replica's run must not make the
    /// worker look again at once, over and over, while that run lasts.
    pub fn next_retry_ms(&self) -> Result<Option<i64>, InboxError> {
        self.query_opt(
            "SELECT min(not_before_ms) FROM inbox_events
             WHERE scope = $1 AND state = 'received' AND not_before_ms > $2",
            &[&now_ms()],
            |r| r.get(0),
            "reading the next retry",
        )
        .map(Option::flatten)
    }

    pub fn get(&self, event_id: &str) -> Result<Option<Entry>, InboxError> {
        self.query_opt(
            &format!("SELECT {COLUMNS} FROM inbox_events WHERE scope = $1 AND event_id = $2"),
            &[&event_id],
            entry,
            "reading an event",
        )
    }

    pub fn applied(&self, invitation_id: &str) -> Result<Option<Applied>, InboxError> {
        self.query_opt(
            "SELECT status, event_ms FROM inbox_applied WHERE scope = $1 AND invitation_id = $2",
            &[&invitation_id],
            |r| Applied {
                status: r.get(0),
                event_ms: r.get(1),
            },
            "reading an applied status",
        )
    }

    pub fn requeue_failed(&self) -> Result<usize, InboxError> {
        self.execute(
            "UPDATE inbox_events SET state = 'received', attempts = 0, not_before_ms = 0
             WHERE scope = $1 AND state = 'failed'",
            &[],
            "requeueing failed events",
        )
        .map(|n| n as usize)
    }

    pub fn baseline_ms(&self) -> Result<Option<i64>, InboxError> {
        self.query_opt(
            "SELECT baseline_ms FROM inbox_marks WHERE scope = $1",
            &[],
            |r| r.get(0),
            "reading the baseline",
        )
    }

    pub fn set_baseline(&self, at_ms: i64) -> Result<(), InboxError> {
        self.execute(
            "INSERT INTO inbox_marks (scope, baseline_ms) VALUES ($1, $2)
             ON CONFLICT (scope) DO NOTHING",
            &[&at_ms],
            "recording the baseline",
        )
        .map(|_| ())
    }

    /// Events by state, and how many deliveries were duplicates.
    pub fn counts(&self) -> Result<(Vec<(String, i64)>, i64), InboxError> {
        let scope = &self.scope;
        self.run(|c| async move {
            let states = c
                .client
                .query(
                    "SELECT state, count(*) FROM inbox_events WHERE scope = $1
                     GROUP BY state ORDER BY state",
                    &[scope],
                )
                .await
                .map_err(c.err("counting events"))?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let dups = c
                .client
                .query_one(
                    "SELECT coalesce(sum(deliveries - 1), 0)::bigint FROM inbox_events
                     WHERE scope = $1",
                    &[scope],
                )
                .await
                .map_err(c.err("counting duplicate deliveries"))?
                .get(0);
            Ok((states, dups))
        })
    }

    /// A clean exit: this replica is recorded as stopped (its leases were given back as
    /// each event finished).
    pub fn close(&self) {
        self.renewer.abort();
        let _ = self.run(|c| async move { self.replica.stopped(&c).await });
    }
}

fn wrap(target: &PgTarget, e: StateError) -> InboxError {
    InboxError {
        path: PathBuf::from(target.to_string()),
        message: match e {
            StateError::Postgres { doing, detail, .. } => format!("{doing}: {detail}"),
            other => other.to_string(),
        },
    }
}
