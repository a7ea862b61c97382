//! The receiver's inbox, in one of its two homes: SQLite in the state directory (one
//! machine, one `listen` per project and state directory — [`super::inbox_sqlite`]), or the
//! shared state database (`--state-url`: several `listen` replicas share one inbox —
//! [`super::inbox_pg`]). Either way every event is recorded durably before its delivery is
//! answered, run at most once at a time and in order per invitation, and a duplicate
//! delivery is acknowledged and not run again. This enum only dispatches; what each home
//! guarantees, and how, is written beside its code.

pub use super::inbox_pg::PgInbox;
pub use super::inbox_pg_heartbeat::Heartbeat;
pub use super::inbox_pg_record::PgWriter;
pub use super::inbox_schema::{Applied, Entry, InboxError, NewEvent, Outcome, Shard, State, stage};
pub use super::inbox_sqlite::{SqliteInbox, inbox_path};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

// One per process, behind an Arc: a few hundred bytes either way do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Inbox {
    Sqlite(SqliteInbox),
    Postgres(PgInbox),
}

/// Where to look to tell whether recording works (for `/healthz`), without taking the
/// inbox's lock.
#[derive(Clone)]
pub enum Home {
    /// The SQLite file: it must still be the one that was opened.
    File(PathBuf),
    /// The state database: what this replica's heartbeat last found.
    Database(Arc<Heartbeat>),
}

macro_rules! both {
    ($self:ident, $inbox:ident => $call:expr) => {
        match $self {
            Inbox::Sqlite($inbox) => $call,
            Inbox::Postgres($inbox) => $call,
        }
    };
}

impl Inbox {
    /// Records deliveries that arrived together, in one transaction; per event `false`
    /// for an id recorded before (counted, not run again).
    pub fn record_all(&self, events: &[&NewEvent]) -> Result<Vec<bool>, InboxError> {
        both!(self, i => i.record_all(events))
    }

    /// Records one event; `false` when its id was recorded before.
    pub fn record(&self, e: &NewEvent) -> Result<bool, InboxError> {
        match self {
            Inbox::Sqlite(i) => i.record(e),
            Inbox::Postgres(i) => i
                .record_all(&[e])
                .map(|fresh| fresh.first().copied().unwrap_or(false)),
        }
    }

    /// At start-up: events whose handler stopped with its process go back in line. On
    /// SQLite that is every running event (the lock proves its process is gone); on
    /// Postgres, those whose lease ran out.
    pub fn requeue_abandoned(&self) -> Result<usize, InboxError> {
        match self {
            Inbox::Sqlite(i) => i.requeue_running(),
            Inbox::Postgres(i) => i.requeue_abandoned(),
        }
    }

    /// Up to `limit` of `shard`'s events to handle at `now_ms`, in the order to handle them.
    pub fn due(&self, now_ms: i64, limit: usize, shard: Shard) -> Result<Vec<Entry>, InboxError> {
        both!(self, i => i.due(now_ms, limit, shard))
    }

    pub fn next_due(&self, now_ms: i64) -> Result<Option<Entry>, InboxError> {
        Ok(self.due(now_ms, 1, Shard::ALL)?.pop())
    }

    /// Marks an event running (one more attempt) before its handler starts: its attempt
    /// number — the claim's fencing token, which its outcome is reported with — or `None`
    /// when it is not this process's to run now (another replica claimed it, or must
    /// finish one of its invitation's events first).
    pub fn start(&self, event_id: &str) -> Result<Option<i64>, InboxError> {
        match self {
            Inbox::Sqlite(i) => i.start(event_id).map(Some),
            Inbox::Postgres(i) => i.start(event_id),
        }
    }

    /// The handler succeeded, for the claim `attempt`: the event is done and its status
    /// applied, in one step. Refused ([`Outcome::LeaseLost`], nothing changed) when the
    /// claim is no longer this replica's (Postgres; on SQLite the one process always
    /// holds it).
    pub fn finish(&self, e: &Entry, attempt: i64) -> Result<Outcome, InboxError> {
        match self {
            Inbox::Sqlite(i) => i.finish(e).map(|()| Outcome::Recorded),
            Inbox::Postgres(i) => i.finish(e, attempt),
        }
    }

    /// [`Inbox::finish`], then `next` started when `run_next` says it will be run given
    /// its invitation's applied status — in the same commit (Postgres: the same round
    /// trip, the claim itself checking the applied status). The finish's outcome, and
    /// `next`'s attempt number when it was started.
    pub fn finish_and_start(
        &self,
        e: &Entry,
        attempt: i64,
        next: Option<&Entry>,
        run_next: impl FnOnce(&Entry, Option<&Applied>) -> bool,
    ) -> Result<(Outcome, Option<i64>), InboxError> {
        match self {
            Inbox::Sqlite(i) => i
                .finish_and_start(e, next, run_next)
                .map(|started| (Outcome::Recorded, started)),
            Inbox::Postgres(i) => {
                let next = next.map(|n| n.event_id.as_str());
                let (outcome, started) = i.finish_and_start(Some((e, attempt)), next)?;
                Ok((outcome.unwrap_or(Outcome::Recorded), started))
            }
        }
    }

    pub fn running(&self) -> Result<i64, InboxError> {
        both!(self, i => i.running())
    }

    /// When the next of `shard`'s waiting retries falls due, if any.
    pub fn next_retry_ms(&self, shard: Shard) -> Result<Option<i64>, InboxError> {
        both!(self, i => i.next_retry_ms(shard))
    }

    pub fn get(&self, event_id: &str) -> Result<Option<Entry>, InboxError> {
        both!(self, i => i.get(event_id))
    }

    pub fn applied(&self, invitation_id: &str) -> Result<Option<Applied>, InboxError> {
        both!(self, i => i.applied(invitation_id))
    }

    /// Records a status as applied without running anything (the baseline, new invitations).
    pub fn set_applied(
        &self,
        invitation_id: &str,
        status: &str,
        event_ms: i64,
    ) -> Result<(), InboxError> {
        both!(self, i => i.set_applied(invitation_id, status, event_ms))
    }

    /// The handler failed, for the claim `attempt`: retry at `retry_at_ms`, or, with
    /// `None`, keep it as failed. Refused like [`Inbox::finish`].
    pub fn fail(
        &self,
        event_id: &str,
        attempt: i64,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<Outcome, InboxError> {
        match self {
            Inbox::Sqlite(i) => i
                .fail(event_id, error, retry_at_ms)
                .map(|()| Outcome::Recorded),
            Inbox::Postgres(i) => i.fail(event_id, attempt, error, retry_at_ms),
        }
    }

    pub fn skip(&self, event_id: &str, why: &str) -> Result<(), InboxError> {
        both!(self, i => i.skip(event_id, why))
    }

    /// Failed events back in line (`--retry-failed`).
    pub fn requeue_failed(&self) -> Result<usize, InboxError> {
        both!(self, i => i.requeue_failed())
    }

    pub fn baseline_ms(&self) -> Result<Option<i64>, InboxError> {
        both!(self, i => i.baseline_ms())
    }

    pub fn set_baseline(&self, at_ms: i64) -> Result<(), InboxError> {
        both!(self, i => i.set_baseline(at_ms))
    }

    /// Events by state, and how many deliveries were duplicates.
    pub fn counts(&self) -> Result<(Vec<(String, i64)>, i64), InboxError> {
        both!(self, i => i.counts())
    }

    /// What `/healthz` watches.
    pub fn home(&self) -> Home {
        match self {
            Inbox::Sqlite(i) => Home::File(i.path().to_path_buf()),
            Inbox::Postgres(i) => Home::Database(i.heartbeat()),
        }
    }

    /// SQLite: checkpoints on a thread of their own for as long as `inbox` lives (see
    /// [`SqliteInbox::checkpoint_in_background`]). Postgres: nothing to do.
    pub fn checkpoint_in_background(inbox: &Arc<Mutex<Inbox>>) -> Result<(), InboxError> {
        let me = inbox.lock().unwrap_or_else(|p| p.into_inner());
        match &*me {
            Inbox::Sqlite(i) => i.checkpoint_in_background(Arc::downgrade(inbox)),
            Inbox::Postgres(_) => Ok(()),
        }
    }

    /// Postgres: every bell of `wake` rings whenever any replica records new events for
    /// this project (a `NOTIFY` on commit), so the handler workers look at once. SQLite:
    /// one process records and handles, and its receiver rings the event's worker itself.
    pub fn wake_on_new_events(&self, wake: Arc<super::bell::Bells>) {
        if let Inbox::Postgres(i) = self {
            i.wake_on_new_events(wake);
        }
    }

    /// Postgres: the recorder's own way in (a connection of its own), so a batch waiting
    /// for the disk never holds the inbox's mutex. SQLite: `None`, one connection.
    pub fn writer(&self) -> Option<Arc<PgWriter>> {
        match self {
            Inbox::Sqlite(_) => None,
            Inbox::Postgres(i) => Some(i.writer()),
        }
    }

    /// A clean exit (Postgres: this replica is recorded as stopped).
    pub fn close(&self) {
        if let Inbox::Postgres(i) = self {
            i.close();
        }
    }
}
