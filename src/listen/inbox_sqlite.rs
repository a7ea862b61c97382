//! The receiver's inbox on one machine: every event recorded — durably, before the delivery
//! is answered — with what became of it, and per invitation the last status a handler was
//! run for. SQLite in the state directory (`inbox.sqlite3`, 0600), keyed by the API target and a
//! fingerprint of the key (never the key), so one state directory can serve many projects.
//!
//! It is what makes `listen` exactly-once per event id: a delivery whose id is already here
//! is acknowledged and not run again; a handler that was running when the process died is
//! run again on restart (its effects keyed on `event.id` make that harmless); per
//! invitation, an event older than the last one applied — or one that would apply the status
//! already applied — is recorded and skipped. It stores and answers; it runs nothing.

use super::inbox_schema::{APPLIED_HAS_ROWID, APPLIED_MIGRATION, COLUMNS, SCHEMA, Shard, entry};
pub use super::inbox_schema::{Applied, Entry, InboxError, NewEvent, State, stage};
use super::inbox_sqlite_sql::{due_query, register_functions, shard_filter};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::Duration;

/// How often the background checkpoint runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

pub struct SqliteInbox {
    conn: Connection,
    path: PathBuf,
    scope: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Where the inbox lives in a state directory.
pub fn inbox_path(state_dir: &Path) -> PathBuf {
    state_dir.join("inbox.sqlite3")
}

/// An inbox made before `applied` became its key's B-tree is moved over, once: checked
/// again inside the write transaction, so two processes opening it together move it once.
fn migrate_applied(conn: &mut Connection) -> rusqlite::Result<()> {
    let has_rowid = |c: &Connection| c.query_row(APPLIED_HAS_ROWID, [], |r| r.get::<_, i64>(0));
    if has_rowid(conn)? == 0 {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if has_rowid(&tx)? > 0 {
        tx.execute_batch(APPLIED_MIGRATION)?;
    }
    tx.commit()
}

impl SqliteInbox {
    /// Opens (creating, 0600) the inbox at `path` for the project `scope` names.
    pub fn open(path: &Path, scope: &str) -> Result<SqliteInbox, InboxError> {
        let err = |e: rusqlite::Error| InboxError {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        if !path.exists() {
            crate::files::create_private_file(path).map_err(|e| InboxError {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        }
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        migrate_applied(&mut conn).map_err(err)?;
        register_functions(&conn).map_err(err)?;
        Ok(SqliteInbox {
            conn,
            path: path.to_path_buf(),
            scope: scope.to_string(),
        })
    }

    /// The file this inbox lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> InboxError {
        InboxError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Records an event; `false` when its id was recorded before (a duplicate delivery,
    /// counted but not run again).
    pub fn record(&self, e: &NewEvent) -> Result<bool, InboxError> {
        self.record_in(&self.conn, e)
    }

    /// Records deliveries that arrived together in one transaction — one commit for all
    /// of them, so none is answered before the commit and all share its cost. Per event,
    /// as [`SqliteInbox::record`]; an id twice in `events` is fresh once.
    pub fn record_all(&self, events: &[&NewEvent]) -> Result<Vec<bool>, InboxError> {
        self.in_transaction(|| events.iter().map(|e| self.record(e)).collect())
    }

    /// Runs `f` in one transaction: committed when it succeeds, rolled back when it fails.
    /// BEGIN and COMMIT are statements kept prepared, like the rest: between two handlers
    /// parsing them again would be a good part of the work.
    fn in_transaction<T>(
        &self,
        f: impl FnOnce() -> Result<T, InboxError>,
    ) -> Result<T, InboxError> {
        let run = |sql: &str| {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.execute([]))
                .map_err(|x| self.err(x))
        };
        run("BEGIN")?;
        let done = f().and_then(|v| run("COMMIT").map(|_| v));
        if done.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        done
    }

    fn record_in(&self, conn: &Connection, e: &NewEvent) -> Result<bool, InboxError> {
        let added = conn
            .prepare_cached(
                "INSERT INTO events (scope, event_id, invitation_id, previous_status, current_status,
                     event_ms, received_ms, synthesized, body, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'received')
                 ON CONFLICT (scope, event_id) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.scope,
                    e.event_id,
                    e.invitation_id,
                    e.previous_status,
                    e.current_status,
                    e.event_ms,
                    now_ms(),
                    e.synthesized as i64,
                    e.body,
                ])
            })
            .map_err(|x| self.err(x))?;
        if added == 1 {
            return Ok(true);
        }
        // Recorded before: count the delivery, run nothing.
        conn.prepare_cached(
            "UPDATE events SET deliveries = deliveries + 1 WHERE scope = ?1 AND event_id = ?2",
        )
        .and_then(|mut s| s.execute(params![self.scope, e.event_id]))
        .map_err(|x| self.err(x))?;
        Ok(false)
    }

    /// At start-up: what a dead process was running goes back in line.
    pub fn requeue_running(&self) -> Result<usize, InboxError> {
        self.conn
            .execute(
                "UPDATE events SET state = 'received' WHERE scope = ?1 AND state = 'running'",
                params![self.scope],
            )
            .map_err(|x| self.err(x))
    }

    /// The next event to handle at `now_ms`: oldest first by its own time.
    pub fn next_due(&self, now_ms: i64) -> Result<Option<Entry>, InboxError> {
        Ok(self.due(now_ms, 1, Shard::ALL)?.pop())
    }

    /// The next `limit` of `shard`'s events to handle at `now_ms`, in the order to handle
    /// them: oldest first by their own time.
    pub fn due(&self, now_ms: i64, limit: usize, shard: Shard) -> Result<Vec<Entry>, InboxError> {
        self.conn
            .prepare_cached(&due_query())
            .and_then(|mut s| {
                s.query_map(
                    params![self.scope, now_ms, limit as i64, shard.of, shard.index],
                    entry,
                )?
                .collect()
            })
            .map_err(|x| self.err(x))
    }

    /// Events a handler is running now.
    pub fn running(&self) -> Result<i64, InboxError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM events WHERE scope = ?1 AND state = 'running'",
                params![self.scope],
                |r| r.get(0),
            )
            .map_err(|x| self.err(x))
    }

    /// When the next of `shard`'s waiting retries falls due, if any.
    pub fn next_retry_ms(&self, shard: Shard) -> Result<Option<i64>, InboxError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT MIN(not_before_ms) FROM events WHERE scope = ?1 AND state = 'received'
                 AND {}",
                shard_filter(2, 3)
            ))
            .and_then(|mut s| s.query_row(params![self.scope, shard.of, shard.index], |r| r.get(0)))
            .map_err(|x| self.err(x))
    }

    pub fn get(&self, event_id: &str) -> Result<Option<Entry>, InboxError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM events WHERE scope = ?1 AND event_id = ?2"),
                params![self.scope, event_id],
                entry,
            )
            .optional()
            .map_err(|x| self.err(x))
    }

    pub fn applied(&self, invitation_id: &str) -> Result<Option<Applied>, InboxError> {
        self.conn
            .prepare_cached(
                "SELECT status, event_ms FROM applied WHERE scope = ?1 AND invitation_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![self.scope, invitation_id], |r| {
                    Ok(Applied {
                        status: r.get(0)?,
                        event_ms: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(|x| self.err(x))
    }

    /// Marks an event running (one more attempt), before its handler starts.
    pub fn start(&self, event_id: &str) -> Result<i64, InboxError> {
        self.conn
            .prepare_cached(
                "UPDATE events SET state = 'running', attempts = attempts + 1
                 WHERE scope = ?1 AND event_id = ?2 RETURNING attempts",
            )
            .and_then(|mut s| s.query_row(params![self.scope, event_id], |r| r.get(0)))
            .map_err(|x| self.err(x))
    }

    /// The handler succeeded: the event is done and its status applied, in one step.
    pub fn finish(&self, e: &Entry) -> Result<(), InboxError> {
        self.in_transaction(|| self.finish_in(&self.conn, e))
    }

    fn finish_in(&self, conn: &Connection, e: &Entry) -> Result<(), InboxError> {
        conn.prepare_cached(
            "UPDATE events SET state = 'done', last_error = NULL, finished_ms = ?3
             WHERE scope = ?1 AND event_id = ?2",
        )
        .and_then(|mut s| s.execute(params![self.scope, e.event_id, now_ms()]))
        .map_err(|x| self.err(x))?;
        self.apply_in(conn, &e.invitation_id, &e.current_status, e.event_ms)
    }

    /// [`SqliteInbox::finish`], and in the same commit `next` (an event found due) marked running
    /// when `run_next` says it will be run given the status applied for its invitation:
    /// one commit between two handlers instead of two. `next`'s attempt number, when it
    /// was started.
    pub fn finish_and_start(
        &self,
        e: &Entry,
        next: Option<&Entry>,
        run_next: impl FnOnce(&Entry, Option<&Applied>) -> bool,
    ) -> Result<Option<i64>, InboxError> {
        self.in_transaction(|| {
            self.finish_in(&self.conn, e)?;
            match next {
                Some(next) if run_next(next, self.applied(&next.invitation_id)?.as_ref()) => {
                    self.start(&next.event_id).map(Some)
                }
                _ => Ok(None),
            }
        })
    }

    fn apply_in(
        &self,
        conn: &Connection,
        invitation_id: &str,
        status: &str,
        event_ms: i64,
    ) -> Result<(), InboxError> {
        conn.prepare_cached(
            "INSERT INTO applied (scope, invitation_id, status, event_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (scope, invitation_id) DO UPDATE SET
               status = CASE WHEN excluded.event_ms >= event_ms THEN excluded.status ELSE status END,
               event_ms = MAX(event_ms, excluded.event_ms)",
        )
        .and_then(|mut s| s.execute(params![self.scope, invitation_id, status, event_ms]))
        .map(|_| ())
        .map_err(|x| self.err(x))
    }

    /// Records a status as applied without running anything (the first baseline).
    pub fn set_applied(
        &self,
        invitation_id: &str,
        status: &str,
        event_ms: i64,
    ) -> Result<(), InboxError> {
        self.apply_in(&self.conn, invitation_id, status, event_ms)
    }

    /// The handler failed: retry at `retry_at_ms`, or, with `None`, give up and keep it
    /// as failed.
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
        self.conn
            .execute(
                "UPDATE events SET state = ?3, last_error = ?4, not_before_ms = ?5,
                   finished_ms = CASE WHEN ?3 = 'failed' THEN ?6 ELSE NULL END
                 WHERE scope = ?1 AND event_id = ?2",
                params![self.scope, event_id, state, error, not_before, now_ms()],
            )
            .map(|_| ())
            .map_err(|x| self.err(x))
    }

    pub fn skip(&self, event_id: &str, why: &str) -> Result<(), InboxError> {
        self.conn
            .execute(
                "UPDATE events SET state = 'skipped', last_error = ?3, finished_ms = ?4
                 WHERE scope = ?1 AND event_id = ?2",
                params![self.scope, event_id, why, now_ms()],
            )
            .map(|_| ())
            .map_err(|x| self.err(x))
    }

    /// Failed events back in line (`--retry-failed`).
    pub fn requeue_failed(&self) -> Result<usize, InboxError> {
        self.conn
            .execute(
                "UPDATE events SET state = 'received', attempts = 0, not_before_ms = 0
                 WHERE scope = ?1 AND state = 'failed'",
                params![self.scope],
            )
            .map_err(|x| self.err(x))
    }

    /// When the project's statuses were first taken as the baseline, if ever.
    pub fn baseline_ms(&self) -> Result<Option<i64>, InboxError> {
        self.conn
            .query_row(
                "SELECT baseline_ms FROM marks WHERE scope = ?1",
                params![self.scope],
                |r| r.get(0),
            )
            .optional()
            .map_err(|x| self.err(x))
    }

    pub fn set_baseline(&self, at_ms: i64) -> Result<(), InboxError> {
        self.conn
            .execute(
                "INSERT INTO marks (scope, baseline_ms) VALUES (?1, ?2)
                 ON CONFLICT (scope) DO NOTHING",
                params![self.scope, at_ms],
            )
            .map(|_| ())
            .map_err(|x| self.err(x))
    }

    /// Moves the write-ahead log's checkpoints off the connection that records and
    /// finishes events, onto a thread of its own, for as long as `alive` (the shared
    /// handle to this inbox) is. A checkpoint syncs the log and the database to disk; done
    /// in a commit, it would stall the handler behind it every few hundred events. A
    /// passive checkpoint from another connection runs beside the writer instead; the
    /// writer's own (every 10,000 pages) stays as the backstop.
    pub fn checkpoint_in_background<T: Send + Sync + 'static>(
        &self,
        alive: Weak<T>,
    ) -> Result<(), InboxError> {
        self.conn
            .execute_batch("PRAGMA wal_autocheckpoint = 10000;")
            .map_err(|x| self.err(x))?;
        let conn = Connection::open(&self.path).map_err(|x| self.err(x))?;
        let path = self.path.clone();
        std::thread::Builder::new()
            .name("listen-checkpoint".into())
            .spawn(move || {
                while alive.strong_count() > 0 {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    // Busy or failing: the next round, or the writer's backstop, does it.
                    let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
                }
            })
            .map(|_| ())
            .map_err(|e| InboxError {
                path,
                message: format!("cannot start the checkpoint thread: {e}"),
            })
    }

    /// Events by state, and how many deliveries were duplicates.
    pub fn counts(&self) -> Result<(Vec<(String, i64)>, i64), InboxError> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM events WHERE scope = ?1 GROUP BY state")
            .map_err(|x| self.err(x))?;
        let states = stmt
            .query_map(params![self.scope], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|x| self.err(x))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|x| self.err(x))?;
        let dups: i64 = self
            .conn
            .query_row(
                "SELECT COALESCE(SUM(deliveries - 1), 0) FROM events WHERE scope = ?1",
                params![self.scope],
                |r| r.get(0),
            )
            .map_err(|x| self.err(x))?;
        Ok((states, dups))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_events_are_read_off_the_index_without_sorting_the_backlog() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = SqliteInbox::open(&inbox_path(dir.path()), "t fp").unwrap();
        // One worker, and one of four.
        for (of, index) in [(1, 0), (4, 2)] {
            let plan: Vec<String> = inbox
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", due_query()))
                .unwrap()
                .query_map(params!["t fp", 0, 64, of, index], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().any(|step| step.contains("events_due_in_order")),
                "{plan:?}"
            );
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{plan:?}"
            );
        }
        // A backlog stamped in one millisecond still comes out in its invitations' order.
        for (id, status) in [("c", "completed"), ("b", "in_progress"), ("a", "pending")] {
            inbox.record(&event(id, "i", status, 5)).unwrap();
        }
        let order: Vec<String> = inbox
            .due(i64::MAX, 64, Shard::ALL)
            .unwrap()
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(order, ["a", "b", "c"]);
    }

    fn event(id: &str, inv: &str, status: &str, ms: i64) -> NewEvent {
        NewEvent {
            event_id: id.into(),
            invitation_id: inv.into(),
            previous_status: Some("pending".into()),
            current_status: status.into(),
            event_ms: ms,
            synthesized: false,
            body: "{}".into(),
        }
    }

    #[test]
    fn an_event_is_recorded_once_and_handled_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = SqliteInbox::open(&inbox_path(dir.path()), "t fp").unwrap();
        assert!(inbox.record(&event("e2", "a", "completed", 20)).unwrap());
        assert!(inbox.record(&event("e1", "a", "in_progress", 10)).unwrap());
        assert!(!inbox.record(&event("e1", "a", "in_progress", 10)).unwrap());
        let first = inbox.next_due(i64::MAX).unwrap().unwrap();
        assert_eq!(first.event_id, "e1", "oldest first, whatever the arrival");
        assert_eq!(inbox.start("e1").unwrap(), 1);
        // A crash here: the event goes back in line on restart.
        assert_eq!(inbox.requeue_running().unwrap(), 1);
        assert_eq!(inbox.start("e1").unwrap(), 2);
        inbox.finish(&first).unwrap();
        assert_eq!(
            inbox.applied("a").unwrap(),
            Some(Applied {
                status: "in_progress".into(),
                event_ms: 10
            })
        );
        inbox.fail("e2", "boom", Some(1_000)).unwrap();
        assert!(
            inbox.next_due(999).unwrap().is_none(),
            "not before its retry"
        );
        assert_eq!(inbox.next_due(1_000).unwrap().unwrap().event_id, "e2");
        inbox.fail("e2", "boom again", None).unwrap();
        assert_eq!(inbox.get("e2").unwrap().unwrap().state, State::Failed);
        let (states, dups) = inbox.counts().unwrap();
        assert_eq!(dups, 1);
        assert!(states.contains(&("failed".into(), 1)));
        assert_eq!(inbox.requeue_failed().unwrap(), 1);
    }

    #[test]
    fn deliveries_recorded_together_are_fresh_once_per_id() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = SqliteInbox::open(&inbox_path(dir.path()), "t fp").unwrap();
        assert!(inbox.record(&event("e0", "a", "pending", 1)).unwrap());
        let (e0, e1, e2) = (
            event("e0", "a", "pending", 1),
            event("e1", "a", "in_progress", 2),
            event("e2", "b", "completed", 3),
        );
        let fresh = inbox.record_all(&[&e0, &e1, &e2, &e1]).unwrap();
        assert_eq!(fresh, vec![false, true, true, false]);
        let (states, dups) = inbox.counts().unwrap();
        assert_eq!(dups, 2, "every repeated delivery is counted");
        assert_eq!(states, vec![("received".to_string(), 3)]);
    }

    #[test]
    fn finishing_one_event_can_start_the_next_in_the_same_commit() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = SqliteInbox::open(&inbox_path(dir.path()), "t fp").unwrap();
        assert!(inbox.record(&event("e1", "a", "in_progress", 10)).unwrap());
        assert!(inbox.record(&event("e2", "a", "completed", 20)).unwrap());
        assert!(inbox.record(&event("e3", "a", "completed", 30)).unwrap());
        let due = inbox.due(i64::MAX, 10, Shard::ALL).unwrap();
        let ids: Vec<&str> = due.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["e1", "e2", "e3"], "in the order to handle them");
        let (first, next, last) = (&due[0], &due[1], &due[2]);
        assert_eq!(inbox.start("e1").unwrap(), 1);
        let attempt = inbox
            .finish_and_start(first, Some(next), |n, applied| {
                assert_eq!(n.event_id, "e2");
                assert_eq!(applied.map(|a| a.status.as_str()), Some("in_progress"));
                true
            })
            .unwrap();
        assert_eq!(attempt, Some(1), "e2 started");
        assert_eq!(inbox.get("e1").unwrap().unwrap().state, State::Done);
        assert_eq!(inbox.get("e2").unwrap().unwrap().state, State::Running);
        // A crash now: the started event goes back in line, the finished one stays done.
        assert_eq!(inbox.requeue_running().unwrap(), 1);
        // Declined: e2 is finished, e3 stays in line, untouched.
        assert!(
            inbox
                .finish_and_start(next, Some(last), |_, _| false)
                .unwrap()
                .is_none()
        );
        assert_eq!(inbox.next_due(i64::MAX).unwrap().unwrap().event_id, "e3");
        let e3 = inbox.get("e3").unwrap().unwrap();
        assert_eq!((e3.state, e3.attempts), (State::Received, 0));
        assert_eq!(inbox.applied("a").unwrap().unwrap().event_ms, 20);
    }

    #[test]
    fn an_older_status_never_replaces_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = SqliteInbox::open(&inbox_path(dir.path()), "t fp").unwrap();
        inbox.set_applied("a", "completed", 20).unwrap();
        inbox.set_applied("a", "in_progress", 10).unwrap();
        assert_eq!(
            inbox.applied("a").unwrap(),
            Some(Applied {
                status: "completed".into(),
                event_ms: 20
            })
        );
        // Stamped the same millisecond, a start and a completion come out in that order.
        assert!(inbox.record(&event("c", "b", "completed", 5)).unwrap());
        assert!(inbox.record(&event("s", "b", "in_progress", 5)).unwrap());
        assert_eq!(inbox.next_due(i64::MAX).unwrap().unwrap().event_id, "s");
    }

    #[test]
    fn an_older_inbox_keeps_what_it_applied_when_its_table_is_moved() {
        let dir = tempfile::tempdir().unwrap();
        let path = inbox_path(dir.path());
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE applied (scope TEXT NOT NULL, invitation_id TEXT NOT NULL,
                     status TEXT NOT NULL, event_ms INTEGER NOT NULL,
                     PRIMARY KEY (scope, invitation_id));
                 INSERT INTO applied VALUES ('t fp', 'a', 'completed', 20);",
            )
            .unwrap();
        }
        let inbox = SqliteInbox::open(&path, "t fp").unwrap();
        let has_rowid = |i: &SqliteInbox| -> i64 {
            i.conn
                .query_row(APPLIED_HAS_ROWID, [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(has_rowid(&inbox), 0, "moved to the table without rowid");
        assert_eq!(
            inbox.applied("a").unwrap(),
            Some(Applied {
                status: "completed".into(),
                event_ms: 20
            })
        );
        inbox.set_applied("a", "in_progress", 10).unwrap();
        assert_eq!(inbox.applied("a").unwrap().unwrap().status, "completed");
        drop(inbox);
        // Opened again: nothing left to move.
        let again = SqliteInbox::open(&path, "t fp").unwrap();
        assert_eq!(has_rowid(&again), 0);
        assert_eq!(again.applied("a").unwrap().unwrap().event_ms, 20);
    }

    #[test]
    fn projects_do_not_see_each_others_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = inbox_path(dir.path());
        let a = SqliteInbox::open(&path, "project a").unwrap();
        let b = SqliteInbox::open(&path, "project b").unwrap();
        assert!(a.record(&event("e1", "x", "completed", 1)).unwrap());
        assert!(b.record(&event("e1", "x", "completed", 1)).unwrap());
        assert!(b.next_due(i64::MAX).unwrap().is_some());
    }
}
