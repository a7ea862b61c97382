//! The campaign journal: one SQLite file in the state directory that remembers, for every
//! campaign × row key, what was done — written *before* a create goes out and again when
//! its answer (or the lack of one) comes back. It is what makes a campaign resumable and
//! exactly-once: a re-run skips rows already created, and a row left `sending` by a killed
//! process is treated as an unknown outcome and reconciled before anything is resent.
//!
//! Campaigns are keyed by target (base URL), API-key fingerprint (never the key) and name,
//! so a sandbox run never marks a live row done. The file holds clients' emails and
//! phones: it is created 0600 inside the 0700 state directory. This module stores and
//! queries; it decides nothing about what to send.

use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A row's state, as in `../shared/design/exactly-once.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowState {
    /// Known not to have been processed: send it.
    Planned,
    /// Recorded just before the request went out; found at start-up, it means the process
    /// died mid-request: the outcome is unknown.
    Sending,
    Created,
    /// Provably not created (refused, unreachable); retried on the next run.
    Failed,
    /// The row's data is wrong; reported, not sent, until the row changes.
    Invalid,
    /// Sent, no usable answer: reconcile against the server before any resend.
    Unknown,
    /// Not sent: the client already held a live invitation in the project, made elsewhere
    /// (another campaign, another journal, the dashboard). Checked afresh on every run.
    Existing,
}

impl RowState {
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Planned => "planned",
            RowState::Sending => "sending",
            RowState::Created => "created",
            RowState::Failed => "failed",
            RowState::Invalid => "invalid",
            RowState::Unknown => "unknown",
            RowState::Existing => "existing",
        }
    }

    fn parse(s: &str) -> RowState {
        match s {
            "sending" => RowState::Sending,
            "created" => RowState::Created,
            "failed" => RowState::Failed,
            "invalid" => RowState::Invalid,
            "unknown" => RowState::Unknown,
            "existing" => RowState::Existing,
            _ => RowState::Planned,
        }
    }
}

/// One journal entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub line: Option<u64>,
    pub state: RowState,
    pub attempt_at_ms: Option<i64>,
    pub attempts: i64,
    pub invitation_id: Option<String>,
    pub url: Option<String>,
    pub inv_status: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub match_email: Option<String>,
    pub match_phone: Option<String>,
    pub updated_at_ms: i64,
}

/// Counts by a label (a row state, an invitation status).
pub type Counts = BTreeMap<String, i64>;

/// Which campaign a row belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CampaignId(i64);

#[derive(Clone, Debug, PartialEq)]
pub struct CampaignInfo {
    pub id: CampaignId,
    pub target: String,
    pub name: String,
    pub created_at_ms: i64,
    pub rows: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("campaign journal {}: {source}", path.display())]
pub struct JournalError {
    pub path: PathBuf,
    pub source: rusqlite::Error,
}

pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    key_fp TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    clock_offset_ms INTEGER,
    UNIQUE (target, key_fp, name)
);
CREATE TABLE IF NOT EXISTS rows (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    row_key TEXT NOT NULL,
    line INTEGER,
    state TEXT NOT NULL,
    attempt_at_ms INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    invitation_id TEXT,
    url TEXT,
    inv_status TEXT,
    error_code TEXT,
    error_message TEXT,
    match_email TEXT,
    match_phone TEXT,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, row_key)
);
CREATE INDEX IF NOT EXISTS rows_by_state ON rows (campaign_id, state);
";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const COLUMNS: &str = "row_key, line, state, attempt_at_ms, attempts, invitation_id, url, inv_status, \
     error_code, error_message, match_email, match_phone, updated_at_ms";

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        key: row.get(0)?,
        line: row.get::<_, Option<i64>>(1)?.map(|l| l as u64),
        state: RowState::parse(&row.get::<_, String>(2)?),
        attempt_at_ms: row.get(3)?,
        attempts: row.get(4)?,
        invitation_id: row.get(5)?,
        url: row.get(6)?,
        inv_status: row.get(7)?,
        error_code: row.get(8)?,
        error_message: row.get(9)?,
        match_email: row.get(10)?,
        match_phone: row.get(11)?,
        updated_at_ms: row.get(12)?,
    })
}

/// Where the journal lives in a state directory.
pub fn journal_path(state_dir: &Path) -> PathBuf {
    state_dir.join("journal.sqlite3")
}

impl Journal {
    /// Opens (creating if needed, 0600) the journal at `path`.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let err = |source| JournalError {
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
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError {
            path: self.path.clone(),
            source,
        }
    }

    /// The campaign's id, creating it on first use.
    pub fn campaign(
        &self,
        target: &str,
        key_fp: &str,
        name: &str,
    ) -> Result<CampaignId, JournalError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO campaigns (target, key_fp, name, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![target, key_fp, name, now_ms()],
            )
            .map_err(|e| self.err(e))?;
        self.find_campaign(target, key_fp, name)?
            .ok_or_else(|| self.err(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The campaign's id if it has ever run.
    pub fn find_campaign(
        &self,
        target: &str,
        key_fp: &str,
        name: &str,
    ) -> Result<Option<CampaignId>, JournalError> {
        self.conn
            .query_row(
                "SELECT id FROM campaigns WHERE target = ?1 AND key_fp = ?2 AND name = ?3",
                params![target, key_fp, name],
                |r| r.get(0),
            )
            .optional()
            .map(|id| id.map(CampaignId))
            .map_err(|e| self.err(e))
    }

    /// Campaigns run with this key, newest first.
    pub fn campaigns(&self, key_fp: &str) -> Result<Vec<CampaignInfo>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.id, c.target, c.name, c.created_at_ms, (SELECT COUNT(*) FROM rows r WHERE r.campaign_id = c.id)
                 FROM campaigns c WHERE c.key_fp = ?1 ORDER BY c.created_at_ms DESC, c.id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![key_fp], |r| {
                Ok(CampaignInfo {
                    id: CampaignId(r.get(0)?),
                    target: r.get(1)?,
                    name: r.get(2)?,
                    created_at_ms: r.get(3)?,
                    rows: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn get(&self, c: CampaignId, key: &str) -> Result<Option<Entry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM rows WHERE campaign_id = ?1 AND row_key = ?2"
            ))
            .map_err(|e| self.err(e))?;
        stmt.query_row(params![c.0, key], entry)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Starts a transaction: the writes until [`Journal::commit`] land together. A campaign
    /// commits before each batch of creates leaves, so every `sending` mark is on disk
    /// before its request is on the wire.
    pub fn begin(&self) -> Result<(), JournalError> {
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN").map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    pub fn commit(&self) -> Result<(), JournalError> {
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn run(&self, sql: &str, args: impl rusqlite::Params) -> Result<(), JournalError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        stmt.execute(args).map(|_| ()).map_err(|e| self.err(e))
    }

    /// Every entry in one state.
    pub fn in_state(&self, c: CampaignId, state: RowState) -> Result<Vec<Entry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM rows WHERE campaign_id = ?1 AND state = ?2 ORDER BY line"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![c.0, state.as_str()], entry)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Recorded just before the create leaves: from here until the answer is recorded, a
    /// crash leaves the row `sending`, which the next run treats as unknown.
    pub fn mark_sending(
        &self,
        c: CampaignId,
        key: &str,
        line: u64,
        match_email: Option<&str>,
        match_phone: Option<&str>,
        attempt_at_ms: i64,
    ) -> Result<(), JournalError> {
        self.run(
                "INSERT INTO rows (campaign_id, row_key, line, state, attempt_at_ms, attempts, match_email, match_phone, updated_at_ms)
                 VALUES (?1, ?2, ?3, 'sending', ?4, 1, ?5, ?6, ?4)
                 ON CONFLICT (campaign_id, row_key) DO UPDATE SET
                   line = excluded.line, state = 'sending', attempt_at_ms = excluded.attempt_at_ms,
                   attempts = attempts + 1, match_email = excluded.match_email,
                   match_phone = excluded.match_phone, error_code = NULL, error_message = NULL,
                   updated_at_ms = excluded.updated_at_ms",
                params![c.0, key, line as i64, attempt_at_ms, match_email, match_phone],
            )
    }

    pub fn mark_created(
        &self,
        c: CampaignId,
        key: &str,
        invitation_id: &str,
        url: &str,
        status: &str,
    ) -> Result<(), JournalError> {
        self.run(
            "UPDATE rows SET state = 'created', invitation_id = ?3, url = ?4, inv_status = ?5,
                   error_code = NULL, error_message = NULL, updated_at_ms = ?6
                 WHERE campaign_id = ?1 AND row_key = ?2",
            params![c.0, key, invitation_id, url, status, now_ms()],
        )
    }

    /// Sets a row's state with an error (for `failed`, `unknown`, `planned`).
    pub fn mark(
        &self,
        c: CampaignId,
        key: &str,
        state: RowState,
        code: Option<&str>,
        message: Option<&str>,
    ) -> Result<(), JournalError> {
        self.run(
            "UPDATE rows SET state = ?3, error_code = ?4, error_message = ?5, updated_at_ms = ?6
             WHERE campaign_id = ?1 AND row_key = ?2",
            params![c.0, key, state.as_str(), code, message, now_ms()],
        )
    }

    /// A row whose data the contract refuses. Never overwrites a created row.
    pub fn mark_invalid(
        &self,
        c: CampaignId,
        key: &str,
        line: u64,
        code: &str,
        message: &str,
    ) -> Result<(), JournalError> {
        self.run(
                "INSERT INTO rows (campaign_id, row_key, line, state, error_code, error_message, updated_at_ms)
                 VALUES (?1, ?2, ?3, 'invalid', ?4, ?5, ?6)
                 ON CONFLICT (campaign_id, row_key) DO UPDATE SET
                   line = excluded.line, state = 'invalid', error_code = excluded.error_code,
                   error_message = excluded.error_message, updated_at_ms = excluded.updated_at_ms
                 WHERE state NOT IN ('created', 'sending', 'unknown')",
                params![c.0, key, line as i64, code, message, now_ms()],
            )
    }

    /// A row whose client already held a live invitation made elsewhere: recorded with that
    /// invitation, never over a row this campaign created or may have created.
    pub fn mark_existing(
        &self,
        c: CampaignId,
        key: &str,
        line: u64,
        invitation_id: &str,
        url: &str,
        status: &str,
    ) -> Result<(), JournalError> {
        self.run(
            "INSERT INTO rows (campaign_id, row_key, line, state, invitation_id, url, inv_status, updated_at_ms)
             VALUES (?1, ?2, ?3, 'existing', ?4, ?5, ?6, ?7)
             ON CONFLICT (campaign_id, row_key) DO UPDATE SET
               line = excluded.line, state = 'existing', invitation_id = excluded.invitation_id,
               url = excluded.url, inv_status = excluded.inv_status, error_code = NULL,
               error_message = NULL, updated_at_ms = excluded.updated_at_ms
             WHERE state NOT IN ('created', 'sending', 'unknown')",
            params![c.0, key, line as i64, invitation_id, url, status, now_ms()],
        )
    }

    /// At start-up: rows a dead process left `sending` become `unknown`. Returns how many.
    pub fn recover_sending(&self, c: CampaignId) -> Result<usize, JournalError> {
        self.conn
            .execute(
                "UPDATE rows SET state = 'unknown', error_code = 'outcome_unknown',
                   error_message = 'the previous run stopped while this row was being sent',
                   updated_at_ms = ?2
                 WHERE campaign_id = ?1 AND state = 'sending'",
                params![c.0, now_ms()],
            )
            .map_err(|e| self.err(e))
    }

    pub fn set_inv_status(
        &self,
        c: CampaignId,
        key: &str,
        status: &str,
    ) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE rows SET inv_status = ?3, updated_at_ms = ?4 WHERE campaign_id = ?1 AND row_key = ?2",
                params![c.0, key, status, now_ms()],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Counts by row state, and by last known invitation status among created rows.
    pub fn counts(&self, c: CampaignId) -> Result<(Counts, Counts), JournalError> {
        let by = |sql: &str| -> Result<BTreeMap<String, i64>, JournalError> {
            let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map(params![c.0], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
        };
        Ok((
            by("SELECT state, COUNT(*) FROM rows WHERE campaign_id = ?1 GROUP BY state")?,
            by("SELECT COALESCE(inv_status, 'unknown'), COUNT(*) FROM rows
                WHERE campaign_id = ?1 AND state = 'created' GROUP BY 1")?,
        ))
    }

    /// The last measured difference between the server's clock and ours, if any.
    pub fn clock_offset(&self, c: CampaignId) -> Result<Option<i64>, JournalError> {
        self.conn
            .query_row(
                "SELECT clock_offset_ms FROM campaigns WHERE id = ?1",
                params![c.0],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    pub fn set_clock_offset(&self, c: CampaignId, offset_ms: i64) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE campaigns SET clock_offset_ms = ?2 WHERE id = ?1",
                params![c.0, offset_ms],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_goes_sending_then_created_and_a_crash_leaves_it_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite3");
        let j = Journal::open(&path).unwrap();
        let c = j.campaign("http://x", "fp", "spring").unwrap();
        assert_eq!(j.campaign("http://x", "fp", "spring").unwrap(), c);
        assert_ne!(
            j.campaign("http://y", "fp", "spring").unwrap(),
            c,
            "targets are separate"
        );

        j.mark_sending(c, "a@x.co", 2, Some("a@x.co"), None, 1000)
            .unwrap();
        j.mark_created(c, "a@x.co", "inv1", "http://x/invite/t", "pending")
            .unwrap();
        j.mark_sending(c, "b@x.co", 3, Some("b@x.co"), None, 1001)
            .unwrap();
        drop(j);

        let j = Journal::open(&path).unwrap();
        assert_eq!(j.recover_sending(c).unwrap(), 1);
        let b = j.get(c, "b@x.co").unwrap().unwrap();
        assert_eq!(b.state, RowState::Unknown);
        assert_eq!(b.attempt_at_ms, Some(1001));
        let a = j.get(c, "a@x.co").unwrap().unwrap();
        assert_eq!(
            (a.state, a.invitation_id.as_deref()),
            (RowState::Created, Some("inv1"))
        );
        // An invalid mark never overwrites a created row.
        j.mark_invalid(c, "a@x.co", 2, "invalid_params", "x")
            .unwrap();
        assert_eq!(
            j.get(c, "a@x.co").unwrap().unwrap().state,
            RowState::Created
        );
        let (states, statuses) = j.counts(c).unwrap();
        assert_eq!(states.get("created"), Some(&1));
        assert_eq!(states.get("unknown"), Some(&1));
        assert_eq!(statuses.get("pending"), Some(&1));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
