//! The campaign journal in the shared PostgreSQL database (`--state-url`): the same tables
//! and meaning as the SQLite file (`migrations/postgres/0003_campaigns.sql`), on one
//! dedicated connection per journal — the connection that also holds the campaign's lock
//! (see `lock.rs`), so every write of a run proves the lock was still held when it
//! committed.
//!
//! Built for round trips, not statements: a send-loop turn's whole [`Batch`] is one
//! autocommitted statement (data-modifying CTEs over `unnest` arrays), the rows a turn
//! admits are read with one `= ANY($2)`, and both are prepared once per connection. Rows
//! that are touched twice in one batch (a row planned again and resent) are split into
//! consecutive statements, because one statement may not modify a row twice.
//!
//! SQL only: what the rows mean is `journal.rs`'s business.

use super::journal::{
    Batch, CampaignId, CampaignInfo, Counts, Entry, JournalError, Lifecycle, RowState,
};
use super::journal_pg_batch::{COMMIT, Columns, segments};
use super::journal_schema::COLUMNS;
use super::progress::Tally;
use super::runs::{Outcome, RunId, RunRecord, tally_text};
use crate::state::StateError;
use crate::state::backend::PgTarget;
use crate::state::postgres::{Conn, migrate};
use std::collections::HashMap;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

type Result<T> = std::result::Result<T, JournalError>;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub struct PgJournal {
    conn: Conn,
    commit: Statement,
    get_many: Statement,
}

impl PgJournal {
    /// Opens a dedicated connection, brings the schema up to date and prepares the send
    /// loop's statements.
    pub async fn open(target: &PgTarget) -> std::result::Result<PgJournal, StateError> {
        let conn = crate::state::postgres::connect::connect_holding(target, "campaign").await?;
        let by = format!(
            "{} (process {})",
            crate::state::replica::hostname(),
            std::process::id()
        );
        migrate::migrate(&conn, &by).await?;
        PgJournal::prepare(conn).await
    }

    /// For the commands that look at campaigns rather than run them: never changes the
    /// schema. `None` when no zavu-script ever used the database; a database behind this
    /// binary is refused with the command that brings it up to date, since the tables it
    /// would read may not have their current shape yet.
    pub async fn open_existing(
        target: &PgTarget,
    ) -> std::result::Result<Option<PgJournal>, StateError> {
        let conn = crate::state::postgres::connect::connect(target, "campaign").await?;
        let version = migrate::current(&conn).await?;
        if version == 0 {
            return Ok(None);
        }
        migrate::check_known(version)?;
        if version < migrate::newest() {
            return Err(StateError::Schema(format!(
                "the state database at {} is at schema version {version}; this zavu-script \
                 reads campaigns at version {} — run `zavu-script state migrate` first (a \
                 campaign run, cron or listen also brings it up to date)",
                conn.at,
                migrate::newest()
            )));
        }
        PgJournal::prepare(conn).await.map(Some)
    }

    async fn prepare(conn: Conn) -> std::result::Result<PgJournal, StateError> {
        let commit = conn
            .client
            .prepare(COMMIT)
            .await
            .map_err(conn.err("preparing the journal's writes"))?;
        let get_many = conn
            .client
            .prepare(&format!(
                "SELECT {COLUMNS} FROM campaign_rows WHERE campaign_id = $1 AND row_key = ANY($2::text[])"
            ))
            .await
            .map_err(conn.err("preparing the journal's reads"))?;
        Ok(PgJournal {
            conn,
            commit,
            get_many,
        })
    }

    /// The connection the journal (and the campaign's lock) lives on.
    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    /// Wraps a failed statement; a lost connection says what it means for the run.
    fn fail(&self, doing: &str) -> impl FnOnce(tokio_postgres::Error) -> JournalError {
        let (at, doing) = (self.conn.at.clone(), doing.to_string());
        move |e| {
            let doing = if e.is_closed() {
                format!(
                    "{doing}: lost the connection to the state database, and with it the \
                     campaign's lock; stopped — run again to resume (rows in flight are \
                     reconciled first)"
                )
            } else {
                doing
            };
            JournalError::State(StateError::postgres(&at, doing, &e))
        }
    }

    async fn query(
        &self,
        doing: &str,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        self.conn
            .client
            .query(sql, args)
            .await
            .map_err(self.fail(doing))
    }

    async fn execute(&self, doing: &str, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.conn
            .client
            .execute(sql, args)
            .await
            .map_err(self.fail(doing))
    }

    pub async fn campaign(&self, target: &str, key_fp: &str, name: &str) -> Result<CampaignId> {
        self.execute(
            "recording the campaign",
            "INSERT INTO campaigns (target, key_fp, name, created_at_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (target, key_fp, name) DO NOTHING",
            &[&target, &key_fp, &name, &now_ms()],
        )
        .await?;
        self.find_campaign(target, key_fp, name)
            .await?
            .ok_or_else(|| {
                JournalError::State(StateError::Schema(format!(
                    "campaign '{name}' vanished from the state database as it was recorded"
                )))
            })
    }

    pub async fn find_campaign(
        &self,
        target: &str,
        key_fp: &str,
        name: &str,
    ) -> Result<Option<CampaignId>> {
        let rows = self
            .query(
                "looking up the campaign",
                "SELECT id FROM campaigns WHERE target = $1 AND key_fp = $2 AND name = $3",
                &[&target, &key_fp, &name],
            )
            .await?;
        Ok(rows.first().map(|r| CampaignId::from_raw(r.get(0))))
    }

    pub async fn campaigns(&self, key_fp: &str) -> Result<Vec<CampaignInfo>> {
        let rows = self
            .query(
                "listing campaigns",
                "SELECT c.id, c.target, c.name, c.created_at_ms,
                   (SELECT COUNT(*) FROM campaign_rows r WHERE r.campaign_id = c.id)
                   + (SELECT COUNT(*) FROM campaign_duplicates d WHERE d.campaign_id = c.id),
                   (SELECT COUNT(*) FROM campaign_rows r WHERE r.campaign_id = c.id AND r.state = 'created')
                 FROM campaigns c WHERE c.key_fp = $1 ORDER BY c.created_at_ms DESC, c.id DESC",
                &[&key_fp],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| CampaignInfo {
                id: CampaignId::from_raw(r.get(0)),
                target: r.get(1),
                name: r.get(2),
                created_at_ms: r.get(3),
                rows: r.get(4),
                invited: r.get(5),
            })
            .collect())
    }

    pub async fn get(&self, c: CampaignId, key: &str) -> Result<Option<Entry>> {
        Ok(self.get_many(c, &[key]).await?.remove(key))
    }

    pub async fn get_many(&self, c: CampaignId, keys: &[&str]) -> Result<HashMap<String, Entry>> {
        let rows = self
            .conn
            .client
            .query(&self.get_many, &[&c.raw(), &keys])
            .await
            .map_err(self.fail("reading the journal"))?;
        Ok(rows.iter().map(entry).map(|e| (e.key.clone(), e)).collect())
    }

    pub async fn in_state(&self, c: CampaignId, state: RowState) -> Result<Vec<Entry>> {
        let rows = self
            .query(
                "reading the journal",
                &format!(
                    "SELECT {COLUMNS} FROM campaign_rows WHERE campaign_id = $1 AND state = $2
                     ORDER BY line, row_key"
                ),
                &[&c.raw(), &state.as_str()],
            )
            .await?;
        Ok(rows.iter().map(entry).collect())
    }

    pub async fn entries(&self, c: CampaignId) -> Result<Vec<Entry>> {
        let rows = self
            .query(
                "reading the journal",
                &format!(
                    "SELECT {COLUMNS} FROM campaign_rows WHERE campaign_id = $1 ORDER BY line, row_key"
                ),
                &[&c.raw()],
            )
            .await?;
        Ok(rows.iter().map(entry).collect())
    }

    /// The batch as one autocommitted statement (more only when a row comes back).
    pub async fn commit(&self, c: CampaignId, batch: &Batch) -> Result<()> {
        let parts = segments(&batch.ops);
        let last = parts.len() - 1;
        for (n, part) in parts.into_iter().enumerate() {
            let mut cols = Columns::default();
            for op in part {
                cols.add(op);
            }
            let (run, tally, refreshed) = match n == last {
                true => (
                    batch.run.map(|(id, _)| id.raw()),
                    batch.run.map(|(_, t)| tally_text(&t)),
                    batch.refreshed_at_ms,
                ),
                false => (None, None, None),
            };
            cols.send(
                &self.conn.client,
                &self.commit,
                c.raw(),
                run,
                tally,
                refreshed,
            )
            .await
            .map_err(self.fail("writing the journal"))?;
        }
        Ok(())
    }

    pub async fn refreshed_at(&self, c: CampaignId) -> Result<Option<i64>> {
        self.campaign_column(c, "refreshed_at_ms").await
    }

    pub async fn clock_offset(&self, c: CampaignId) -> Result<Option<i64>> {
        self.campaign_column(c, "clock_offset_ms").await
    }

    async fn campaign_column(&self, c: CampaignId, column: &str) -> Result<Option<i64>> {
        let rows = self
            .query(
                "reading the campaign",
                &format!("SELECT {column} FROM campaigns WHERE id = $1"),
                &[&c.raw()],
            )
            .await?;
        Ok(rows.first().and_then(|r| r.get(0)))
    }

    pub async fn set_clock_offset(&self, c: CampaignId, offset_ms: i64) -> Result<()> {
        self.execute(
            "recording the clock offset",
            "UPDATE campaigns SET clock_offset_ms = $2 WHERE id = $1",
            &[&c.raw(), &offset_ms],
        )
        .await
        .map(|_| ())
    }

    pub async fn recover_sending(&self, c: CampaignId) -> Result<usize> {
        self.execute(
            "recovering rows left sending",
            "UPDATE campaign_rows SET state = 'unknown', error_code = 'outcome_unknown',
               error_message = 'the previous run stopped while this row was being sent',
               updated_at_ms = $2
             WHERE campaign_id = $1 AND state = 'sending'",
            &[&c.raw(), &now_ms()],
        )
        .await
        .map(|n| n as usize)
    }

    pub async fn counts(&self, c: CampaignId) -> Result<(Counts, Counts)> {
        let by = async |sql: &str| -> Result<Counts> {
            let rows = self.query("counting rows", sql, &[&c.raw()]).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        };
        let mut rows =
            by("SELECT state, COUNT(*) FROM campaign_rows WHERE campaign_id = $1 GROUP BY state")
                .await?;
        let duplicates = by("SELECT 'duplicate', COUNT(*) FROM campaign_duplicates
                             WHERE campaign_id = $1 HAVING COUNT(*) > 0")
        .await?;
        rows.extend(duplicates);
        let statuses = by(
            "SELECT COALESCE(inv_status, 'unknown'), COUNT(*) FROM campaign_rows
                           WHERE campaign_id = $1 AND state = 'created' GROUP BY 1",
        )
        .await?;
        Ok((rows, statuses))
    }

    pub async fn start_run(&self, c: CampaignId) -> Result<RunId> {
        self.execute(
            "recording the run",
            "UPDATE campaign_runs SET outcome = 'killed' WHERE campaign_id = $1 AND outcome = 'running'",
            &[&c.raw()],
        )
        .await?;
        let host = crate::state::replica::hostname();
        let pid = std::process::id() as i32;
        let rows = self
            .query(
                "recording the run",
                "INSERT INTO campaign_runs (campaign_id, started_at_ms, outcome, tally, host, pid)
                 VALUES ($1, $2, 'running', $3, $4, $5) RETURNING id",
                &[
                    &c.raw(),
                    &now_ms(),
                    &tally_text(&Tally::default()),
                    &host,
                    &pid,
                ],
            )
            .await?;
        Ok(RunId::from_raw(rows[0].get(0)))
    }

    pub async fn end_run(
        &self,
        run: RunId,
        outcome: Outcome,
        detail: Option<&str>,
        tally: &Tally,
    ) -> Result<()> {
        self.execute(
            "recording how the run ended",
            "UPDATE campaign_runs SET ended_at_ms = $2, outcome = $3, detail = $4, tally = $5 WHERE id = $1",
            &[
                &run.raw(),
                &now_ms(),
                &outcome.as_str(),
                &detail,
                &tally_text(tally),
            ],
        )
        .await
        .map(|_| ())
    }

    pub async fn last_run(&self, c: CampaignId) -> Result<Option<RunRecord>> {
        let rows = self
            .query(
                "reading the last run",
                "SELECT started_at_ms, ended_at_ms, outcome, detail, tally FROM campaign_runs
                 WHERE campaign_id = $1 ORDER BY id DESC LIMIT 1",
                &[&c.raw()],
            )
            .await?;
        Ok(rows.first().map(|r| {
            RunRecord::from_columns(r.get(0), r.get(1), r.get::<_, &str>(2), r.get(3), r.get(4))
        }))
    }
}

/// A `campaign_rows` record in [`COLUMNS`] order.
fn entry(row: &tokio_postgres::Row) -> Entry {
    Entry {
        key: row.get(0),
        line: row.get::<_, Option<i64>>(1).map(|l| l as u64),
        state: RowState::parse(row.get(2)),
        attempt_at_ms: row.get(3),
        attempts: row.get(4),
        invitation_id: row.get(5),
        url: row.get(6),
        inv_status: row.get(7),
        error_code: row.get(8),
        error_message: row.get(9),
        match_email: row.get(10),
        match_phone: row.get(11),
        updated_at_ms: row.get(12),
        client_name: row.get(13),
        life: Lifecycle {
            created_ms: row.get(14),
            expires_ms: row.get(15),
            viewed_ms: row.get(16),
            started_ms: row.get(17),
            completed_ms: row.get(18),
            failed_ms: row.get(19),
            changed_ms: row.get(20),
            failure_reason: row.get(21),
        },
    }
}
