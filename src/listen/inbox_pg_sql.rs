//! The Postgres inbox's statements' shared parts: which events a replica may claim (the
//! predicate both the look for due events and the claim itself use, so a replica is never
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

/// Whether `e` may be claimed at `$2` (epoch ms) in scope `$1`: waiting (or running under
/// a lease that has run out), due, no other event of its invitation running under a live
/// lease, and no earlier event of its invitation waiting before it.
pub(super) fn claimable() -> String {
    let waiting = |t: &str| {
        format!("({t}.state = 'received' OR ({t}.state = 'running' AND {t}.lease_until < now()))")
    };
    format!(
        "e.scope = $1 AND e.not_before_ms <= $2 AND {we}
         AND NOT EXISTS (
           SELECT 1 FROM inbox_events r
           WHERE r.scope = e.scope AND r.invitation_id = e.invitation_id
             AND r.event_id <> e.event_id
             AND ((r.state = 'running' AND r.lease_until >= now())
                  OR ({wr} AND r.not_before_ms <= $2
                      AND (r.event_ms, {sr}, r.received_ms) < (e.event_ms, {se}, e.received_ms))))",
        we = waiting("e"),
        wr = waiting("r"),
        sr = stage("r.current_status"),
        se = stage("e.current_status"),
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
