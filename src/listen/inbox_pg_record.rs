//! Recording deliveries in the shared inbox, on a connection of the recorder's own: one
//! statement and one durable commit per batch of deliveries (the 2xx goes out only after
//! it), then, in the same round trip, a `NOTIFY` on [`CHANNEL`] — sent once the commit is
//! done — so that an idle replica looks at the inbox at once instead of at its next
//! periodic look. Having its own connection, a batch waiting for
//! the disk never holds up the handler's claims and outcomes. It records; it claims, runs
//! and answers nothing.

use super::inbox_schema::{InboxError, NewEvent};
use crate::state::backend::PgTarget;
use crate::state::error::StateError;
use crate::state::postgres::connect::{Conn, connect_async_commit};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use tokio::runtime::Handle;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

/// The channel new events are announced on; the payload is the project's scope.
pub const CHANNEL: &str = "zavu_inbox";

/// The recorder's side of the shared inbox.
pub struct PgWriter {
    target: PgTarget,
    scope: String,
    handle: Handle,
    /// The connection, with the insert and the notification prepared on it.
    conn: Mutex<Option<Prepared>>,
}

#[derive(Clone)]
struct Prepared {
    conn: Conn,
    insert: Statement,
    notify: Statement,
}

const INSERT: &str = "INSERT INTO inbox_events (scope, event_id, invitation_id, previous_status,
       current_status, event_ms, received_ms, synthesized, body, state, deliveries)
     SELECT $1, t.id, t.inv, t.prev, t.cur, t.ms, $2, t.syn, t.body, 'received', 1 + t.again
     FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::bool[],
                 $9::text[], $10::int8[]) AS t(id, inv, prev, cur, ms, syn, body, again)
     ON CONFLICT (scope, event_id) DO UPDATE
       SET deliveries = inbox_events.deliveries + excluded.deliveries
     RETURNING event_id, (xmax = 0)";

impl PgWriter {
    /// A writer for `scope`; it connects on its first batch.
    pub(super) fn new(target: &PgTarget, scope: &str, handle: Handle) -> PgWriter {
        PgWriter {
            target: target.clone(),
            scope: scope.to_string(),
            handle,
            conn: Mutex::new(None),
        }
    }

    /// The connection and its statements, opened again when the last one was lost.
    /// Prepared, each statement is one message: pipelined statements then run in the
    /// order they were sent.
    async fn conn(&self) -> Result<Prepared, StateError> {
        let held = self.conn.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(p) = held
            && !p.conn.client.is_closed()
        {
            return Ok(p);
        }
        let conn = connect_async_commit(&self.target, "listen recorder").await?;
        let prepare = |sql: &'static str| {
            let conn = conn.clone();
            async move {
                conn.client
                    .prepare(sql)
                    .await
                    .map_err(conn.err("preparing a statement"))
            }
        };
        let p = Prepared {
            insert: prepare(INSERT).await?,
            notify: prepare("SELECT pg_notify($1, $2)").await?,
            conn,
        };
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(p.clone());
        Ok(p)
    }

    /// Deliveries that arrived together, in one statement and one durable commit; per event
    /// `true` when it is new, `false` for a delivery of an id recorded before — here or in
    /// this batch — counted and not run again.
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
        let recorded = super::inbox_pg::block(&self.handle, async {
            let p = self.conn().await?;
            let (c, cl) = (&p.conn, &p.conn.client);
            let received = chrono::Utc::now().timestamp_millis();
            let args: [&(dyn ToSql + Sync); 10] = [
                scope,
                &received,
                &ids,
                &invitations,
                &previous,
                &currents,
                &times,
                &synthesized,
                &bodies,
                &repeats,
            ];
            // One round trip: sent together, run in order. Answered only once on disk, so
            // this commit waits for the flush. After an error the transaction is aborted
            // and the COMMIT ends it as a rollback. The notification follows the commit in
            // a transaction of its own: inside the recording one it would hold the
            // server's one notification lock through the flush, so the recorders of
            // several replicas would commit one at a time. (After a rollback it wakes the
            // others for nothing — a look that finds nothing new.)
            let notify_args: [&(dyn ToSql + Sync); 2] = [&CHANNEL, scope];
            let (begun, rows, committed, notified) = futures::join!(
                cl.batch_execute("BEGIN; SET LOCAL synchronous_commit = on"),
                cl.query(&p.insert, &args),
                cl.batch_execute("COMMIT"),
                cl.execute(&p.notify, &notify_args),
            );
            let rows = begun
                .and(rows)
                .and_then(|rows| committed.map(|()| rows))
                .map_err(c.err("recording deliveries"))?;
            // Recorded: a notification that failed only leaves the others to their
            // periodic look.
            drop(notified);
            Ok::<_, StateError>(
                rows.iter()
                    .map(|r| (r.get::<_, String>(0), r.get::<_, bool>(1)))
                    .collect::<HashMap<String, bool>>(),
            )
        })
        .map_err(|e| super::inbox_pg::wrap(&self.target, e))?;
        let mut seen: HashSet<&str> = HashSet::new();
        Ok(events
            .iter()
            .map(|e| seen.insert(&e.event_id) && recorded.get(&e.event_id) == Some(&true))
            .collect())
    }
}
