//! The receiver's inbox in the shared state database (`--state-url`), for several `listen`
//! replicas behind one load balancer: the same events, applied statuses and baseline as
//! the SQLite inbox (migration 0004), plus who runs what. A delivery reaching any replica
//! is recorded once (`INSERT … ON CONFLICT`); an event is claimed by one replica at a
//! time — claims are serialized per project by a transaction-scoped advisory lock, so two
//! events of one invitation never run at once and an invitation's events start in order —
//! and the claim holds a lease that this replica renews in the background while the
//! handler runs. A replica that dies stops renewing; once its lease has run out the event
//! is claimable again and another replica runs it (the same "the event in hand runs
//! again" as a restart after a crash on one machine); the late outcome of the replica
//! that lost it is refused ([`super::inbox_pg_claim`]).
//!
//! Connections per replica: four — this one (the handler's claims and outcomes, the
//! catch-up's reads), the recorder's ([`super::inbox_pg_record`]), the heartbeat's
//! ([`super::inbox_pg_heartbeat`]) and the wake-ups' `LISTEN` ([`super::inbox_pg_wake`]);
//! a handler using `store::` opens its own as well.
//!
//! Every method is synchronous, for the handler's and the recorder's plain threads: each
//! one blocks on the runtime (stepping out of a runtime worker first when called from
//! one). Leases are measured on the database's clock, never a replica's. It stores and
//! answers; it runs no handler.

use super::inbox_pg_heartbeat::{Heartbeat, renew};
use super::inbox_pg_record::PgWriter;
use super::inbox_pg_sql::{COLUMNS, entry, firsts, shard_filter, stage};
use super::inbox_schema::{Applied, Entry, InboxError, NewEvent, Shard};
use crate::state::backend::PgTarget;
use crate::state::error::StateError;
use crate::state::postgres::connect::{Conn, connect_async_commit};
use crate::state::postgres::migrate;
use crate::state::replica::Replica;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio_postgres::{Row, Statement};

pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub struct PgInbox {
    target: PgTarget,
    pub(super) scope: String,
    /// This replica: the owner its claims carry.
    pub(super) replica: Replica,
    pub(super) ttl: Duration,
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
    /// Records deliveries, on a connection of its own.
    writer: Arc<PgWriter>,
    /// Wakes the handler workers on new events, once asked to.
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for PgInbox {
    fn drop(&mut self) {
        self.renewer.abort();
        if let Some(l) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            l.abort();
        }
    }
}

/// Runs `f` to completion from a plain thread or from inside the runtime.
pub(super) fn block<T>(handle: &Handle, f: impl Future<Output = T>) -> T {
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
        let replica = Replica::new("listen", None, ttl);
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
        let writer = Arc::new(PgWriter::new(target, scope, handle.clone()));
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
            writer,
            listener: Mutex::new(None),
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
    pub(super) async fn prepared(&self, c: &Conn, sql: &str) -> Result<Statement, StateError> {
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

    pub(super) fn run<T, F>(&self, f: impl FnOnce(Conn) -> F) -> Result<T, InboxError>
    where
        F: Future<Output = Result<T, StateError>>,
    {
        block(&self.handle, async {
            let c = self.conn().await?;
            f(c).await
        })
        .map_err(|e| wrap(&self.target, e))
    }

    /// Deliveries that arrived together, in one durable commit (see [`PgWriter`]): per
    /// event `true` when it is new.
    pub fn record_all(&self, events: &[&NewEvent]) -> Result<Vec<bool>, InboxError> {
        self.writer.record_all(events)
    }

    /// The recorder's own way in: deliveries recorded through it never wait for the
    /// handler's statements, nor the handler's for a batch's flush.
    pub fn writer(&self) -> Arc<PgWriter> {
        self.writer.clone()
    }

    /// Rings `wake` (the handler workers' bells) whenever any replica records new events
    /// for this project, for as long as this inbox is open.
    pub fn wake_on_new_events(&self, wake: Arc<super::bell::Bells>) {
        let task = self.handle.spawn(super::inbox_pg_wake::listen(
            self.target.clone(),
            self.scope.clone(),
            wake,
        ));
        let old = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task);
        if let Some(old) = old {
            old.abort();
        }
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

    /// Up to `limit` of `shard`'s events this replica may claim at `now_ms`, in the order to
    /// handle them.
    pub fn due(&self, now_ms: i64, limit: usize, shard: Shard) -> Result<Vec<Entry>, InboxError> {
        let (scope, limit) = (&self.scope, limit as i64);
        let (of, index) = (i64::from(shard.of), i64::from(shard.index));
        let sql = format!(
            "SELECT {COLUMNS} FROM ({}) e WHERE NOT e.busy
             ORDER BY e.event_ms, {}, e.received_ms, e.event_id LIMIT $3",
            firsts(&format!("AND {}", shard_filter("f.invitation_id", 4, 5))),
            stage("e.current_status")
        );
        self.run(|c| async move {
            let due = self.prepared(&c, &sql).await?;
            let rows = c
                .client
                .query(&due, &[scope, &now_ms, &limit, &of, &index])
                .await
                .map_err(c.err("reading the events due"))?;
            Ok(rows.iter().map(entry).collect())
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
    pub(super) fn execute(
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

    /// When the next of `shard`'s waiting retries falls due, if any is still to come. Only
    /// future ones: an event that is due but waits behind another replica's run must not
    /// make the worker look again at once, over and over, while that run lasts.
    pub fn next_retry_ms(&self, shard: Shard) -> Result<Option<i64>, InboxError> {
        self.query_opt(
            &format!(
                "SELECT min(not_before_ms) FROM inbox_events
                 WHERE scope = $1 AND state = 'received' AND not_before_ms > $2 AND {}",
                shard_filter("invitation_id", 3, 4)
            ),
            &[&now_ms(), &i64::from(shard.of), &i64::from(shard.index)],
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

pub(super) fn wrap(target: &PgTarget, e: StateError) -> InboxError {
    InboxError {
        path: PathBuf::from(target.to_string()),
        message: match e {
            StateError::Postgres { doing, detail, .. } => format!("{doing}: {detail}"),
            other => other.to_string(),
        },
    }
}
