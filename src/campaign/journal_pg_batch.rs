//! How a journal [`Batch`](super::journal::Batch) becomes one PostgreSQL statement: data-modifying CTEs over
//! `unnest` arrays, one CTE per kind of write, each keeping the SQLite statement's meaning
//! (and its row-state guards), so a send-loop turn costs one round trip. A statement may
//! modify a row only once, so a batch that touches a row twice (a row planned again and
//! resent) is cut into consecutive statements.
//!
//! Every write is an `INSERT … ON CONFLICT (campaign_id, row_key)`, even for rows that exist
//! (answers, marks): the conflict check probes the primary key row by row, whatever the
//! planner believes of the table. An `UPDATE … FROM unnest(…)` join is planned from
//! statistics, and a campaign grows from nothing within one run, faster than they follow:
//! the planner then read the whole campaign to join each batch, a cost growing with every
//! row. (Answers and marks are only ever written for rows marked `sending` in an earlier
//! statement; should one be missing, an answer that created an invitation inserts the row
//! as `created`, anything else as `unknown` — for the next run to reconcile.)
//!
//! SQL and its arguments only; `journal_pg.rs` sends them.

use super::journal::{Lifecycle, Observed, Op};
use std::collections::HashSet;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

/// One send-loop turn: sending marks, answers and observations, marks, refused rows,
/// rows already invited elsewhere, duplicates, the run's counts, the refresh time.
pub(super) const COMMIT: &str = "
WITH s AS (
  INSERT INTO campaign_rows AS r (campaign_id, row_key, line, state, attempt_at_ms, attempts,
                                  match_email, match_phone, client_name, updated_at_ms)
  SELECT $1, u.k, u.l, 'sending', u.a, 1, u.e, u.p, u.n, u.a
  FROM unnest($3::text[], $4::int8[], $5::int8[], $6::text[], $7::text[], $8::text[]) AS u(k, l, a, e, p, n)
  ON CONFLICT (campaign_id, row_key) DO UPDATE SET
    line = excluded.line, state = 'sending', attempt_at_ms = excluded.attempt_at_ms,
    attempts = r.attempts + 1, match_email = excluded.match_email,
    match_phone = excluded.match_phone, client_name = excluded.client_name,
    error_code = NULL, error_message = NULL,
    updated_at_ms = excluded.updated_at_ms
), o AS (
  INSERT INTO campaign_rows AS r (campaign_id, row_key, state, invitation_id, url, updated_at_ms,
                                  inv_status, client_name, inv_created_ms, inv_expires_ms,
                                  inv_viewed_ms, inv_started_ms, inv_completed_ms, inv_failed_ms,
                                  inv_changed_ms, inv_failure_reason)
  SELECT $1, u.k, CASE WHEN u.created THEN 'created' ELSE 'unknown' END, u.inv, u.url, $2,
         u.status, u.name, u.cr, u.ex, u.vi, u.st, u.co, u.fa, u.ch, u.re
  FROM unnest($9::text[], $10::bool[], $11::text[], $12::text[], $13::text[], $14::text[],
              $15::int8[], $16::int8[], $17::int8[], $18::int8[], $19::int8[], $20::int8[],
              $21::int8[], $22::text[])
       AS u(k, created, inv, url, status, name, cr, ex, vi, st, co, fa, ch, re)
  ON CONFLICT (campaign_id, row_key) DO UPDATE SET
    state = CASE WHEN excluded.invitation_id IS NOT NULL THEN 'created' ELSE r.state END,
    invitation_id = COALESCE(excluded.invitation_id, r.invitation_id),
    url = CASE WHEN excluded.invitation_id IS NOT NULL THEN excluded.url ELSE r.url END,
    error_code = CASE WHEN excluded.invitation_id IS NOT NULL THEN NULL ELSE r.error_code END,
    error_message = CASE WHEN excluded.invitation_id IS NOT NULL THEN NULL ELSE r.error_message END,
    updated_at_ms = CASE WHEN excluded.invitation_id IS NOT NULL THEN excluded.updated_at_ms
                         ELSE r.updated_at_ms END,
    inv_status = excluded.inv_status, client_name = COALESCE(excluded.client_name, r.client_name),
    inv_created_ms = excluded.inv_created_ms, inv_expires_ms = excluded.inv_expires_ms,
    inv_viewed_ms = excluded.inv_viewed_ms, inv_started_ms = excluded.inv_started_ms,
    inv_completed_ms = excluded.inv_completed_ms, inv_failed_ms = excluded.inv_failed_ms,
    inv_changed_ms = excluded.inv_changed_ms, inv_failure_reason = excluded.inv_failure_reason
), m AS (
  INSERT INTO campaign_rows AS r (campaign_id, row_key, state, error_code, error_message,
                                  updated_at_ms)
  SELECT $1, u.k, u.state, u.code, u.msg, $2
  FROM unnest($23::text[], $24::text[], $25::text[], $26::text[]) AS u(k, state, code, msg)
  ON CONFLICT (campaign_id, row_key) DO UPDATE SET
    state = excluded.state, error_code = excluded.error_code,
    error_message = excluded.error_message, updated_at_ms = excluded.updated_at_ms
), i AS (
  INSERT INTO campaign_rows AS r (campaign_id, row_key, line, state, client_name, error_code,
                                  error_message, updated_at_ms)
  SELECT $1, u.k, u.l, 'invalid', u.n, u.code, u.msg, $2
  FROM unnest($27::text[], $28::int8[], $29::text[], $30::text[], $31::text[]) AS u(k, l, n, code, msg)
  ON CONFLICT (campaign_id, row_key) DO UPDATE SET
    line = excluded.line, state = 'invalid', client_name = excluded.client_name,
    error_code = excluded.error_code,
    error_message = excluded.error_message, updated_at_ms = excluded.updated_at_ms
  WHERE r.state NOT IN ('created', 'sending', 'unknown')
), e AS (
  INSERT INTO campaign_rows AS r (campaign_id, row_key, line, state, invitation_id, url,
                                  inv_status, updated_at_ms)
  SELECT $1, u.k, u.l, 'existing', u.inv, u.url, u.status, $2
  FROM unnest($32::text[], $33::int8[], $34::text[], $35::text[], $36::text[]) AS u(k, l, inv, url, status)
  ON CONFLICT (campaign_id, row_key) DO UPDATE SET
    line = excluded.line, state = 'existing', invitation_id = excluded.invitation_id,
    url = excluded.url, inv_status = excluded.inv_status, error_code = NULL,
    error_message = NULL, updated_at_ms = excluded.updated_at_ms
  WHERE r.state NOT IN ('created', 'sending', 'unknown')
), d AS (
  INSERT INTO campaign_duplicates (campaign_id, line, row_key, first_line)
  SELECT $1, u.l, u.k, u.f FROM unnest($37::int8[], $38::text[], $39::int8[]) AS u(l, k, f)
  ON CONFLICT (campaign_id, line) DO UPDATE SET
    row_key = excluded.row_key, first_line = excluded.first_line
), t AS (
  UPDATE campaign_runs SET tally = $41::text WHERE id = $40::int8
), f AS (
  UPDATE campaigns SET refreshed_at_ms = $42::int8 WHERE id = $1 AND $42::int8 IS NOT NULL
)
SELECT 1";

/// The columns of one batch segment, one array per column.
#[derive(Default)]
pub(super) struct Columns {
    s_key: Vec<String>,
    s_line: Vec<i64>,
    s_at: Vec<i64>,
    s_email: Vec<Option<String>>,
    s_phone: Vec<Option<String>>,
    s_name: Vec<Option<String>>,
    o_key: Vec<String>,
    o_created: Vec<bool>,
    o_inv: Vec<Option<String>>,
    o_url: Vec<Option<String>>,
    o_status: Vec<String>,
    o_name: Vec<Option<String>>,
    o_times: [Vec<Option<i64>>; 7],
    o_reason: Vec<Option<String>>,
    m_key: Vec<String>,
    m_state: Vec<String>,
    m_code: Vec<Option<String>>,
    m_msg: Vec<Option<String>>,
    i_key: Vec<String>,
    i_line: Vec<i64>,
    i_name: Vec<Option<String>>,
    i_code: Vec<String>,
    i_msg: Vec<String>,
    e_key: Vec<String>,
    e_line: Vec<i64>,
    e_inv: Vec<String>,
    e_url: Vec<String>,
    e_status: Vec<String>,
    d_line: Vec<i64>,
    d_key: Vec<String>,
    d_first: Vec<i64>,
}

impl Columns {
    pub(super) fn add(&mut self, op: &Op) {
        match op {
            Op::Sending {
                key,
                line,
                client,
                attempt_at_ms,
            } => {
                self.s_key.push(key.clone());
                self.s_line.push(*line as i64);
                self.s_at.push(*attempt_at_ms);
                self.s_email.push(client.email.clone());
                self.s_phone.push(client.phone.clone());
                self.s_name.push(client.name.clone());
            }
            Op::Created {
                key,
                invitation_id,
                url,
                seen,
            } => self.observe(key, Some((invitation_id, url)), seen),
            Op::Observe { key, seen } => self.observe(key, None, seen),
            Op::Mark {
                key,
                state,
                code,
                message,
            } => {
                self.m_key.push(key.clone());
                self.m_state.push(state.as_str().into());
                self.m_code.push(code.clone());
                self.m_msg.push(message.clone());
            }
            Op::Invalid {
                key,
                line,
                client_name,
                code,
                message,
            } => {
                self.i_key.push(key.clone());
                self.i_line.push(*line as i64);
                self.i_name.push(client_name.clone());
                self.i_code.push(code.clone());
                self.i_msg.push(message.clone());
            }
            Op::Existing {
                key,
                line,
                invitation_id,
                url,
                status,
            } => {
                self.e_key.push(key.clone());
                self.e_line.push(*line as i64);
                self.e_inv.push(invitation_id.clone());
                self.e_url.push(url.clone());
                self.e_status.push(status.clone());
            }
            Op::Duplicate {
                line,
                key,
                first_line,
            } => {
                self.d_line.push(*line as i64);
                self.d_key.push(key.clone());
                self.d_first.push(*first_line as i64);
            }
        }
    }

    fn observe(&mut self, key: &str, created: Option<(&String, &String)>, seen: &Observed) {
        let l: &Lifecycle = &seen.life;
        self.o_key.push(key.into());
        self.o_created.push(created.is_some());
        self.o_inv.push(created.map(|c| c.0.clone()));
        self.o_url.push(created.map(|c| c.1.clone()));
        self.o_status.push(seen.status.clone());
        self.o_name.push(seen.client_name.clone());
        let times = [
            l.created_ms,
            l.expires_ms,
            l.viewed_ms,
            l.started_ms,
            l.completed_ms,
            l.failed_ms,
            l.changed_ms,
        ];
        for (column, t) in self.o_times.iter_mut().zip(times) {
            column.push(t);
        }
        self.o_reason.push(l.failure_reason.clone());
    }
}

impl Columns {
    /// Sends this segment as one autocommitted statement; the run's counts and the
    /// refresh time go with the last segment of a batch.
    pub(super) async fn send(
        &self,
        client: &tokio_postgres::Client,
        commit: &Statement,
        campaign: i64,
        run: Option<i64>,
        tally: Option<String>,
        refreshed: Option<i64>,
    ) -> Result<u64, tokio_postgres::Error> {
        let now = chrono::Utc::now().timestamp_millis();
        let k = self;
        let t = &k.o_times;
        let args: [&(dyn ToSql + Sync); 42] = [
            &campaign,
            &now,
            &k.s_key,
            &k.s_line,
            &k.s_at,
            &k.s_email,
            &k.s_phone,
            &k.s_name,
            &k.o_key,
            &k.o_created,
            &k.o_inv,
            &k.o_url,
            &k.o_status,
            &k.o_name,
            &t[0],
            &t[1],
            &t[2],
            &t[3],
            &t[4],
            &t[5],
            &t[6],
            &k.o_reason,
            &k.m_key,
            &k.m_state,
            &k.m_code,
            &k.m_msg,
            &k.i_key,
            &k.i_line,
            &k.i_name,
            &k.i_code,
            &k.i_msg,
            &k.e_key,
            &k.e_line,
            &k.e_inv,
            &k.e_url,
            &k.e_status,
            &k.d_line,
            &k.d_key,
            &k.d_first,
            &run,
            &tally,
            &refreshed,
        ];
        client.execute(commit, &args).await
    }
}

/// The batch cut where a row (or a duplicate's line) comes back: one statement may modify
/// a row only once.
pub(super) fn segments(ops: &[Op]) -> Vec<&[Op]> {
    let mut out = vec![];
    let (mut start, mut keys, mut lines) = (0, HashSet::new(), HashSet::new());
    for (i, op) in ops.iter().enumerate() {
        let fresh = match op {
            Op::Duplicate { line, .. } => !lines.contains(line),
            Op::Sending { key, .. }
            | Op::Created { key, .. }
            | Op::Observe { key, .. }
            | Op::Mark { key, .. }
            | Op::Invalid { key, .. }
            | Op::Existing { key, .. } => !keys.contains(key.as_str()),
        };
        if !fresh {
            out.push(&ops[start..i]);
            (start, keys, lines) = (i, HashSet::new(), HashSet::new());
        }
        match op {
            Op::Duplicate { line, .. } => {
                lines.insert(*line);
            }
            Op::Sending { key, .. }
            | Op::Created { key, .. }
            | Op::Observe { key, .. }
            | Op::Mark { key, .. }
            | Op::Invalid { key, .. }
            | Op::Existing { key, .. } => {
                keys.insert(key.as_str());
            }
        }
    }
    out.push(&ops[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::journal::RowState;

    fn mark(key: &str) -> Op {
        Op::Mark {
            key: key.into(),
            state: RowState::Planned,
            code: None,
            message: None,
        }
    }

    #[test]
    fn a_row_touched_twice_starts_a_new_statement() {
        let dup = |line| Op::Duplicate {
            line,
            key: "a".into(),
            first_line: 1,
        };
        let cut = |ops: &[Op]| segments(ops).iter().map(|s| s.len()).collect::<Vec<_>>();
        let ops = [mark("a"), mark("b"), dup(4), mark("a"), dup(4), mark("c")];
        assert_eq!(cut(&ops), [3, 3]);
        assert_eq!(cut(&[mark("a"), dup(4), dup(4), mark("a")]), [2, 2]);
        assert_eq!(cut(&[mark("a"), mark("b"), dup(4)]), [3]);
        assert_eq!(segments(&[]).len(), 1);
    }
}
