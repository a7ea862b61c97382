//! The Postgres inbox's statements' shared parts: which events a replica may claim (the
//! subquery both the look for due events and the claim itself use, so a replica is never
//! offered what it may not take), an invitation's stage in SQL, the columns an event is
//! read with and how a row becomes an [`Entry`]. Text and mapping only; it runs nothing.

use super::inbox_schema::{Entry, State};
use tokio_postgres::Row;

/// The first half of the per-project advisory lock's key (the text is "zlin"); the second
/// is a hash of the project's scope. Two-part keys never meet the campaigns' one-part ones.
pub(super) const CLAIM_LOCK_CLASS: i32 = 0x7a6c_696e;

pub(super) const COLUMNS: &str = "event_id, invitation_id, previous_status, current_status, event_ms, \
    synthesized, body, state, attempts, not_before_ms, last_error";

/// An invitation's stage in SQL, for `column` (see `inbox_schema::stage`).
pub(super) fn stage(column: &str) -> String {
    format!("(CASE {column} WHEN 'pending' THEN 0 WHEN 'in_progress' THEN 1 ELSE 2 END)")
}

/// Whether event `t` is busy: running under a lease that has not run out.
fn busy(t: &str) -> String {
    format!("coalesce({t}.state = 'running' AND {t}.lease_until >= now(), false)")
}

/// The events that may be claimed at `$2` (epoch ms) in scope `$1`, as a subquery with
/// every column and `busy`, narrowed by `filter` (more conditions on `f`): per invitation
/// the first in line — the event running under a live lease, if any (then none of that
/// invitation may be claimed: keep only rows `NOT busy`), else the earliest one waiting
/// (received, or running under a lease that ran out) and due.
///
/// One scan of the invitation's (or the project's) open events and a sort, whatever the
/// planner knows: a correlated "no earlier event waits" check, planned on a table whose
/// statistics predate a burst of deliveries, became a nested loop over every open event
/// for each one.
pub(super) fn firsts(filter: &str) -> String {
    format!(
        "SELECT DISTINCT ON (f.invitation_id) f.*, {busy} AS busy
         FROM inbox_events f
         WHERE f.scope = $1 AND f.state IN ('received', 'running')
           AND ({busy} OR f.not_before_ms <= $2) {filter}
         ORDER BY f.invitation_id, busy DESC, f.event_ms, {stage}, f.received_ms, f.event_id",
        busy = busy("f"),
        stage = stage("f.current_status"),
    )
}

/// Whether `column` (an invitation id) is a shard's, with the shard's size (bigint) as
/// parameter `$of` and its index as `$index`: PostgreSQL's own text hash — only this
/// backend's statements need to agree with each other. With one worker it is never computed.
pub(super) fn shard_filter(column: &str, of: usize, index: usize) -> String {
    format!(
        "(${of}::bigint = 1 OR abs(hashtext({column})::bigint) % ${of}::bigint = ${index}::bigint)"
    )
}

pub(super) fn entry(row: &Row) -> Entry {
    Entry {
        event_id: row.get(0),
        invitation_id: row.get(1),
        previous_status: row.get(2),
        current_status: row.get(3),
        event_ms: row.get(4),
        synthesized: row.get(5),
        body: row.get(6),
        state: State::parse(row.get(7)),
        attempts: row.get(8),
        not_before_ms: row.get(9),
        last_error: row.get(10),
    }
}
