//! The campaign journal in an SQLite file in the state directory (the default): the
//! statements as they have always been, each batch of a send-loop turn in one
//! transaction, committed before the turn's creates leave. The file holds clients' emails
//! and phones: it is created 0600 inside the 0700 state directory.
//!
//! SQL only: what the rows mean is `journal.rs`'s business, the schema
//! `journal_schema.rs`'s.

use super::journal::{
    Batch, CampaignId, CampaignInfo, Counts, Entry, JournalError, Observed, Op, RowState,
};
use super::journal_schema::{self, COLUMNS, entry};
use super::runs::{Outcome, RunId, RunRecord, tally_text};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub struct SqliteJournal {
    conn: Connection,
    path: PathBuf,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

type Result<T> = std::result::Result<T, JournalError>;

impl SqliteJournal {
    /// Opens (creating if needed, 0600) the journal at `path`.
    pub fn open(path: &Path) -> Result<SqliteJournal> {
        let err = |source| JournalError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        if !path.exists() {
            // Create the file ourselves so it is never world-readable, even briefly.
            crate::files::create_private_file(path).map_err(|e| {
                err(rusqlite::Error::InvalidPath(PathBuf::from(format!(
                    "{}: {e}",
                    path.display()
                ))))
            })?;
        }
        let conn = Connection::open(path).map_err(err)?;
        // WAL with synchronous=NORMAL survives a killed process (only a power cut can lose
        // the last commits), and keeps per-row commits cheap.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        journal_schema::migrate(&conn).map_err(err)?;
        Ok(SqliteJournal {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn run(&self, sql: &str, args: impl rusqlite::Params) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        stmt.execute(args).map(|_| ()).map_err(|e| self.err(e))
    }

    fn entries_where(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Entry>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(args, entry).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    pub fn campaign(&self, target: &str, key_fp: &str, name: &str) -> Result<CampaignId> {
        self.run(
            "INSERT OR IGNORE INTO campaigns (target, key_fp, name, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![target, key_fp, name, now_ms()],
        )?;
        self.find_campaign(target, key_fp, name)?
            .ok_or_else(|| self.err(rusqlite::Error::QueryReturnedNoRows))
    }

    pub fn find_campaign(
        &self,
        target: &str,
        key_fp: &str,
        name: &str,
    ) -> Result<Option<CampaignId>> {
        self.conn
            .query_row(
                "SELECT id FROM campaigns WHERE target = ?1 AND key_fp = ?2 AND name = ?3",
                params![target, key_fp, name],
                |r| r.get(0),
            )
            .optional()
            .map(|id| id.map(CampaignId::from_raw))
            .map_err(|e| self.err(e))
    }

    pub fn campaigns(&self, key_fp: &str) -> Result<Vec<CampaignInfo>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.id, c.target, c.name, c.created_at_ms, (SELECT COUNT(*) FROM rows r WHERE r.campaign_id = c.id)
                   + (SELECT COUNT(*) FROM duplicates d WHERE d.campaign_id = c.id),
                 (SELECT COUNT(*) FROM rows r WHERE r.campaign_id = c.id AND r.state = 'created')
                 FROM campaigns c WHERE c.key_fp = ?1 ORDER BY c.created_at_ms DESC, c.id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![key_fp], |r| {
                Ok(CampaignInfo {
                    id: CampaignId::from_raw(r.get(0)?),
                    target: r.get(1)?,
                    name: r.get(2)?,
                    created_at_ms: r.get(3)?,
                    rows: r.get(4)?,
                    invited: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    pub fn get(&self, c: CampaignId, key: &str) -> Result<Option<Entry>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM rows WHERE campaign_id = ?1 AND row_key = ?2"
            ))
            .map_err(|e| self.err(e))?;
        stmt.query_row(params![c.raw(), key], entry)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// A `get` per key: each is a lookup in a local file, cheaper than building a query.
    pub fn get_many(&self, c: CampaignId, keys: &[&str]) -> Result<HashMap<String, Entry>> {
        let mut out = HashMap::with_capacity(keys.len());
        for key in keys {
            if let Some(e) = self.get(c, key)? {
                out.insert(e.key.clone(), e);
            }
        }
        Ok(out)
    }

    pub fn in_state(&self, c: CampaignId, state: RowState) -> Result<Vec<Entry>> {
        self.entries_where(
            &format!(
                "SELECT {COLUMNS} FROM rows WHERE campaign_id = ?1 AND state = ?2 ORDER BY line"
            ),
            params![c.raw(), state.as_str()],
        )
    }

    pub fn entries(&self, c: CampaignId) -> Result<Vec<Entry>> {
        self.entries_where(
            &format!("SELECT {COLUMNS} FROM rows WHERE campaign_id = ?1 ORDER BY line, row_key"),
            params![c.raw()],
        )
    }

    /// The batch in one transaction: every statement as the run has always written it, in
    /// the order it was recorded.
    pub fn commit(&self, c: CampaignId, batch: &Batch) -> Result<()> {
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN").map_err(|e| self.err(e))?;
        }
        let written = self.write(c, batch);
        let ended = match written {
            Ok(()) => self.conn.execute_batch("COMMIT"),
            Err(_) => self.conn.execute_batch("ROLLBACK"),
        };
        written?;
        ended.map_err(|e| self.err(e))
    }

    fn write(&self, c: CampaignId, batch: &Batch) -> Result<()> {
        for op in &batch.ops {
            self.op(c, op)?;
        }
        if let Some((run, tally)) = &batch.run {
            self.run(
                "UPDATE runs SET tally = ?2 WHERE id = ?1",
                params![run.raw(), tally_text(tally)],
            )?;
        }
        if let Some(at) = batch.refreshed_at_ms {
            self.run(
                "UPDATE campaigns SET refreshed_at_ms = ?2 WHERE id = ?1",
                params![c.raw(), at],
            )?;
        }
        Ok(())
    }

    fn op(&self, c: CampaignId, op: &Op) -> Result<()> {
        let c = c.raw();
        match op {
            Op::Sending {
                key,
                line,
                client,
                attempt_at_ms,
            } => self.run(
                "INSERT INTO rows (campaign_id, row_key, line, state, attempt_at_ms, attempts, match_email, match_phone, client_name, updated_at_ms)
                 VALUES (?1, ?2, ?3, 'sending', ?4, 1, ?5, ?6, ?7, ?4)
                 ON CONFLICT (campaign_id, row_key) DO UPDATE SET
                   line = excluded.line, state = 'sending', attempt_at_ms = excluded.attempt_at_ms,
                   attempts = attempts + 1, match_email = excluded.match_email,
                   match_phone = excluded.match_phone, client_name = excluded.client_name,
                   error_code = NULL, error_message = NULL,
                   updated_at_ms = excluded.updated_at_ms",
                params![c, key, *line as i64, attempt_at_ms, client.email, client.phone, client.name],
            ),
            Op::Created {
                key,
                invitation_id,
                url,
                seen,
            } => {
                self.run(
                    "UPDATE rows SET state = 'created', invitation_id = ?3, url = ?4,
                       error_code = NULL, error_message = NULL, updated_at_ms = ?5
                     WHERE campaign_id = ?1 AND row_key = ?2",
                    params![c, key, invitation_id, url, now_ms()],
                )?;
                self.observe(c, key, seen)
            }
            Op::Observe { key, seen } => self.observe(c, key, seen),
            Op::Mark {
                key,
                state,
                code,
                message,
            } => self.run(
                "UPDATE rows SET state = ?3, error_code = ?4, error_message = ?5, updated_at_ms = ?6
                 WHERE campaign_id = ?1 AND row_key = ?2",
                params![c, key, state.as_str(), code, message, now_ms()],
            ),
            Op::Invalid {
                key,
                line,
                client_name,
                code,
                message,
            } => self.run(
                "INSERT INTO rows (campaign_id, row_key, line, state, client_name, error_code, error_message, updated_at_ms)
                 VALUES (?1, ?2, ?3, 'invalid', ?4, ?5, ?6, ?7)
                 ON CONFLICT (campaign_id, row_key) DO UPDATE SET
                   line = excluded.line, state = 'invalid', client_name = excluded.client_name,
                   error_code = excluded.error_code,
                   error_message = excluded.error_message, updated_at_ms = excluded.updated_at_ms
                 WHERE state NOT IN ('created', 'sending', 'unknown')",
                params![c, key, *line as i64, client_name, code, message, now_ms()],
            ),
            Op::Existing {
                key,
                line,
                invitation_id,
                url,
                status,
            } => self.run(
                "INSERT INTO rows (campaign_id, row_key, line, state, invitation_id, url, inv_status, updated_at_ms)
                 VALUES (?1, ?2, ?3, 'existing', ?4, ?5, ?6, ?7)
                 ON CONFLICT (campaign_id, row_key) DO UPDATE SET
                   line = excluded.line, state = 'existing', invitation_id = excluded.invitation_id,
                   url = excluded.url, inv_status = excluded.inv_status, error_code = NULL,
                   error_message = NULL, updated_at_ms = excluded.updated_at_ms
                 WHERE state NOT IN ('created', 'sending', 'unknown')",
                params![c, key, *line as i64, invitation_id, url, status, now_ms()],
            ),
            Op::Duplicate {
                line,
                key,
                first_line,
            } => self.run(
                "INSERT INTO duplicates (campaign_id, line, row_key, first_line) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (campaign_id, line) DO UPDATE SET
                   row_key = excluded.row_key, first_line = excluded.first_line",
                params![c, *line as i64, key, *first_line as i64],
            ),
        }
    }

    fn observe(&self, c: i64, key: &str, seen: &Observed) -> Result<()> {
        let l = &seen.life;
        self.run(
            "UPDATE rows SET inv_status = ?3, client_name = COALESCE(?4, client_name),
                   inv_created_ms = ?5, inv_expires_ms = ?6, inv_viewed_ms = ?7,
                   inv_started_ms = ?8, inv_completed_ms = ?9, inv_failed_ms = ?10,
                   inv_changed_ms = ?11, inv_failure_reason = ?12
                 WHERE campaign_id = ?1 AND row_key = ?2",
            params![
                c,
                key,
                seen.status,
                seen.client_name,
                l.created_ms,
                l.expires_ms,
                l.viewed_ms,
                l.started_ms,
                l.completed_ms,
                l.failed_ms,
                l.changed_ms,
                l.failure_reason
            ],
        )
    }

    pub fn refreshed_at(&self, c: CampaignId) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT refreshed_at_ms FROM campaigns WHERE id = ?1",
                params![c.raw()],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    pub fn recover_sending(&self, c: CampaignId) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE rows SET state = 'unknown', error_code = 'outcome_unknown',
                   error_message = 'the previous run stopped while this row was being sent',
                   updated_at_ms = ?2
                 WHERE campaign_id = ?1 AND state = 'sending'",
                params![c.raw(), now_ms()],
            )
            .map_err(|e| self.err(e))
    }

    pub fn counts(&self, c: CampaignId) -> Result<(Counts, Counts)> {
        let by = |sql: &str| -> Result<Counts> {
            let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map(params![c.raw()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(|e| self.err(e))
        };
        let mut rows =
            by("SELECT state, COUNT(*) FROM rows WHERE campaign_id = ?1 GROUP BY state")?;
        let duplicates = self.duplicates(c)?;
        if duplicates > 0 {
            rows.insert("duplicate".into(), duplicates);
        }
        Ok((
            rows,
            by("SELECT COALESCE(inv_status, 'unknown'), COUNT(*) FROM rows
                WHERE campaign_id = ?1 AND state = 'created' GROUP BY 1")?,
        ))
    }

    fn duplicates(&self, c: CampaignId) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM duplicates WHERE campaign_id = ?1",
                params![c.raw()],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    pub fn clock_offset(&self, c: CampaignId) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT clock_offset_ms FROM campaigns WHERE id = ?1",
                params![c.raw()],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    pub fn set_clock_offset(&self, c: CampaignId, offset_ms: i64) -> Result<()> {
        self.run(
            "UPDATE campaigns SET clock_offset_ms = ?2 WHERE id = ?1",
            params![c.raw(), offset_ms],
        )
    }

    /// Marks runs still `running` as `killed` (the caller holds the campaign's lock, so
    /// they are dead) and records a new one.
    pub fn start_run(&self, c: CampaignId) -> Result<RunId> {
        self.run(
            "UPDATE runs SET outcome = 'killed' WHERE campaign_id = ?1 AND outcome = 'running'",
            params![c.raw()],
        )?;
        self.run(
            "INSERT INTO runs (campaign_id, started_at_ms, outcome, tally) VALUES (?1, ?2, 'running', ?3)",
            params![c.raw(), now_ms(), tally_text(&Default::default())],
        )?;
        Ok(RunId::from_raw(self.conn.last_insert_rowid()))
    }

    pub fn end_run(
        &self,
        run: RunId,
        outcome: Outcome,
        detail: Option<&str>,
        tally: &super::progress::Tally,
    ) -> Result<()> {
        self.run(
            "UPDATE runs SET ended_at_ms = ?2, outcome = ?3, detail = ?4, tally = ?5 WHERE id = ?1",
            params![
                run.raw(),
                now_ms(),
                outcome.as_str(),
                detail,
                tally_text(tally)
            ],
        )
    }

    pub fn last_run(&self, c: CampaignId) -> Result<Option<RunRecord>> {
        self.conn
            .query_row(
                "SELECT started_at_ms, ended_at_ms, outcome, detail, tally FROM runs
                 WHERE campaign_id = ?1 ORDER BY id DESC LIMIT 1",
                params![c.raw()],
                |r| {
                    Ok(RunRecord::from_columns(
                        r.get(0)?,
                        r.get(1)?,
                        &r.get::<_, String>(2)?,
                        r.get(3)?,
                        r.get(4)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// A run's outcome as stored (for tests of the killed-run rule).
    #[cfg(test)]
    pub fn run_outcome(&self, run: RunId) -> String {
        self.conn
            .query_row(
                "SELECT outcome FROM runs WHERE id = ?1",
                params![run.raw()],
                |r| r.get(0),
            )
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::super::journal::{Journal, journal_path};

    #[tokio::test]
    async fn the_file_is_private_to_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open_at(dir.path(), None).await.unwrap();
        j.campaign("http://x", "fp", "spring").await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        let path = journal_path(dir.path());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_run_found_running_by_the_next_is_marked_killed() {
        let dir = tempfile::tempdir().unwrap();
        let j = super::SqliteJournal::open(&dir.path().join("j.sqlite3")).unwrap();
        let c = j.campaign("http://x", "fp", "spring").unwrap();
        let first = j.start_run(c).unwrap();
        let second = j.start_run(c).unwrap();
        assert_eq!(j.run_outcome(first), "killed");
        assert_eq!(j.run_outcome(second), "running");
    }
}
