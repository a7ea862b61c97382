//! What the webhook inbox stores, and how: the SQLite schema (events with their state and
//! attempts, per invitation the status last applied, the first start's baseline), the rows
//! as Rust values, and the order events are handled in. It owns the shape of the data and
//! runs no statement that changes it — that is [`super::inbox`]'s.

use std::path::PathBuf;

/// What became of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Recorded, not yet handled (or to be retried).
    Received,
    /// A handler is running it (found at start-up: the process died mid-handler).
    Running,
    Done,
    /// The handler failed every attempt; kept, reported, never dropped.
    Failed,
    /// Not run: older than what was applied, or its status was applied already.
    Skipped,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
            State::Skipped => "skipped",
        }
    }

    pub(super) fn parse(s: &str) -> State {
        match s {
            "running" => State::Running,
            "done" => State::Done,
            "failed" => State::Failed,
            "skipped" => State::Skipped,
            _ => State::Received,
        }
    }
}

/// An event as the inbox keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub event_id: String,
    pub invitation_id: String,
    pub previous_status: Option<String>,
    pub current_status: String,
    /// The event's own time (unix ms): deliveries can arrive out of order.
    pub event_ms: i64,
    pub synthesized: bool,
    /// The event as delivered (or as synthesized), JSON.
    pub body: String,
    pub state: State,
    pub attempts: i64,
    /// A retry is not due before this (unix ms).
    pub not_before_ms: i64,
    pub last_error: Option<String>,
}

/// An event to record.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event_id: String,
    pub invitation_id: String,
    pub previous_status: Option<String>,
    pub current_status: String,
    pub event_ms: i64,
    pub synthesized: bool,
    pub body: String,
}

/// The status a handler last ran for, per invitation.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub status: String,
    pub event_ms: i64,
}

/// The part of the inbox one handler worker takes (`listen --concurrency N`): the
/// invitations whose id hashes to `index` of `of`. Each invitation belongs to exactly one
/// worker, so its events still run one at a time and in order, while different invitations'
/// events run side by side — and a worker never waits behind another's slow handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub of: u32,
}

impl Shard {
    /// The whole inbox: one worker.
    pub const ALL: Shard = Shard { index: 0, of: 1 };

    /// The `of` parts, one per worker.
    pub fn each(of: u32) -> impl Iterator<Item = Shard> {
        let of = of.max(1);
        (0..of).map(move |index| Shard { index, of })
    }
}

/// Which of `of` parts an invitation's events belong to in the SQLite inbox (its
/// `zv_shard()`): FNV-1a of its id — any stable spread will do, as long as every
/// statement of one inbox uses the same one.
pub fn shard_of(invitation_id: &str, of: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in invitation_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(of.max(1))) as u32
}

/// What became of an outcome (finished, failed) reported for a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The event is marked as reported.
    Recorded,
    /// Refused: the claim is no longer this replica's — its lease ran out and the event
    /// was claimed again (by another replica, or by this one as a later attempt). The
    /// run did happen; the newer claim's outcome stands, and nothing was changed.
    LeaseLost,
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("webhook inbox {}: {message}", path.display())]
pub struct InboxError {
    pub path: PathBuf,
    pub message: String,
}

/// [`STAGE`]'s text, for the schema's index to be built with the very expression the
/// queries order by (the planner matches them word for word).
macro_rules! stage_sql {
    () => {
        "CASE current_status WHEN 'pending' THEN 0 WHEN 'in_progress' THEN 1 ELSE 2 END"
    };
}

pub(super) const SCHEMA: &str = concat!(
    "
CREATE TABLE IF NOT EXISTS events (
    scope TEXT NOT NULL,
    event_id TEXT NOT NULL,
    invitation_id TEXT NOT NULL,
    previous_status TEXT,
    current_status TEXT NOT NULL,
    event_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    synthesized INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before_ms INTEGER NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 1,
    last_error TEXT,
    finished_ms INTEGER,
    PRIMARY KEY (scope, event_id)
);
-- Only the events waiting to run are indexed: finishing one then touches no index page,
-- which keeps the commit between two handlers small. (Inboxes made before kept every
-- state in an index of their own; it goes.)
DROP INDEX IF EXISTS events_to_run;
-- In the whole order events are handled in (the stage expression is STAGE's, so the
-- planner matches them): the next few are read off the index however many
-- wait. (Inboxes made before indexed the time alone, so a backlog stamped in one
-- millisecond — a burst, a catch-up — was sorted whole at each look; it goes.)
DROP INDEX IF EXISTS events_due;
CREATE INDEX IF NOT EXISTS events_due_in_order ON events (scope, event_ms,
    ",
    stage_sql!(),
    ",
    received_ms) WHERE state = 'received';
-- The table is its key's B-tree (no rowid table beside it): a handler's commit writes one
-- page here, not two. Inboxes made before are moved over on open (APPLIED_MIGRATION).
CREATE TABLE IF NOT EXISTS applied (
    scope TEXT NOT NULL,
    invitation_id TEXT NOT NULL,
    status TEXT NOT NULL,
    event_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, invitation_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS marks (
    scope TEXT PRIMARY KEY,
    baseline_ms INTEGER NOT NULL
);
"
);

/// Whether an inbox's `applied` table is still the rowid table inboxes were first made
/// with, which [`APPLIED_MIGRATION`] replaces.
pub(super) const APPLIED_HAS_ROWID: &str = "SELECT COUNT(*) FROM sqlite_master \
    WHERE type = 'table' AND name = 'applied' AND sql NOT LIKE '%WITHOUT ROWID%'";

/// Moves an older inbox's `applied` rows into the table [`SCHEMA`] makes now; run in one
/// transaction, so an inbox is either moved whole or left as it was.
pub(super) const APPLIED_MIGRATION: &str = "
CREATE TABLE applied_moved (
    scope TEXT NOT NULL,
    invitation_id TEXT NOT NULL,
    status TEXT NOT NULL,
    event_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, invitation_id)
) WITHOUT ROWID;
INSERT INTO applied_moved (scope, invitation_id, status, event_ms)
    SELECT scope, invitation_id, status, event_ms FROM applied;
DROP TABLE applied;
ALTER TABLE applied_moved RENAME TO applied;
";

/// Where a status stands in an invitation's life, for events stamped the same millisecond:
/// the order [`stage`] gives, in SQL.
pub(super) const STAGE: &str = stage_sql!();

/// Where a status stands in an invitation's life: two changes stamped the same
/// millisecond happened in this order.
pub fn stage(status: &str) -> u8 {
    match status {
        "pending" => 0,
        "in_progress" => 1,
        _ => 2,
    }
}

pub(super) const COLUMNS: &str = "event_id, invitation_id, previous_status, current_status, event_ms, \
    synthesized, body, state, attempts, not_before_ms, last_error";

pub(super) fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        event_id: row.get(0)?,
        invitation_id: row.get(1)?,
        previous_status: row.get(2)?,
        current_status: row.get(3)?,
        event_ms: row.get(4)?,
        synthesized: row.get::<_, i64>(5)? != 0,
        body: row.get(6)?,
        state: State::parse(&row.get::<_, String>(7)?),
        attempts: row.get(8)?,
        not_before_ms: row.get(9)?,
        last_error: row.get(10)?,
    })
}
