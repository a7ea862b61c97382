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

use super::journal_schema::{self, COLUMNS, entry};
use crate::api::Invitation;
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

    pub(super) fn parse(s: &str) -> RowState {
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
    /// The client's name as sent (or as the API last gave it).
    pub client_name: Option<String>,
    /// The invitation's lifecycle as the API last told it.
    pub life: Lifecycle,
}

/// When an invitation was created, viewed, started, completed or failed, and when it last
/// changed, as the API last said (server clock, epoch ms). Empty for rows never created.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lifecycle {
    pub created_ms: Option<i64>,
    pub expires_ms: Option<i64>,
    pub viewed_ms: Option<i64>,
    pub started_ms: Option<i64>,
    pub completed_ms: Option<i64>,
    pub failed_ms: Option<i64>,
    pub changed_ms: Option<i64>,
    pub failure_reason: Option<String>,
}

/// What one answer of the API said about an invitation: its status, the client's name and
/// its lifecycle times.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub status: String,
    pub client_name: Option<String>,
    pub life: Lifecycle,
}

impl Observed {
    pub fn of(inv: &Invitation) -> Observed {
        let ms = |t: &Option<crate::api::Timestamp>| t.as_ref().map(|t| t.millis());
        Observed {
            status: inv.status.as_str().to_string(),
            client_name: inv.client_name.clone(),
            life: Lifecycle {
                created_ms: Some(inv.created_at.millis()),
                expires_ms: Some(inv.expires_at.millis()),
                viewed_ms: ms(&inv.viewed_at),
                started_ms: ms(&inv.started_at),
                completed_ms: ms(&inv.completed_at),
                failed_ms: ms(&inv.failed_at),
                changed_ms: Some(inv.updated_at.millis()),
                failure_reason: inv.failure_reason.clone(),
            },
        }
    }
}

/// Who a row is about, as the journal keeps it: the client's name for reports, the
/// normalised email and phone for reconciliation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Client<'a> {
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
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

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
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
        journal_schema::migrate(&conn).map_err(err)?;
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
        client: &Client<'_>,
        attempt_at_ms: i64,
    ) -> Result<(), JournalError> {
        self.run(
                "INSERT INTO rows (campaign_id, row_key, line, state, attempt_at_ms, attempts, match_email, match_phone, client_name, updated_at_ms)
                 VALUES (?1, ?2, ?3, 'sending', ?4, 1, ?5, ?6, ?7, ?4)
                 ON CONFLICT (campaign_id, row_key) DO UPDATE SET
                   line = excluded.line, state = 'sending', attempt_at_ms = excluded.attempt_at_ms,
                   attempts = attempts + 1, match_email = excluded.match_email,
                   match_phone = excluded.match_phone, client_name = excluded.client_name,
                   error_code = NULL, error_message = NULL,
                   updated_at_ms = excluded.updated_at_ms",
                params![c.0, key, line as i64, attempt_at_ms, client.email, client.phone, client.name],
            )
    }

    pub fn mark_created(
        &self,
        c: CampaignId,
        key: &str,
        invitation_id: &str,
        url: &str,
        seen: &Observed,
    ) -> Result<(), JournalError> {
        self.run(
            "UPDATE rows SET state = 'created', invitation_id = ?3, url = ?4,
                   error_code = NULL, error_message = NULL, updated_at_ms = ?5
                 WHERE campaign_id = ?1 AND row_key = ?2",
            params![c.0, key, invitation_id, url, now_ms()],
        )?;
        self.observe(c, key, seen)
    }

    /// Records what the API said about a row's invitation: status, name, lifecycle times.
    pub fn observe(&self, c: CampaignId, key: &str, seen: &Observed) -> Result<(), JournalError> {
        let l = &seen.life;
        self.run(
            "UPDATE rows SET inv_status = ?3, client_name = COALESCE(?4, client_name),
                   inv_created_ms = ?5, inv_expires_ms = ?6, inv_viewed_ms = ?7,
                   inv_started_ms = ?8, inv_completed_ms = ?9, inv_failed_ms = ?10,
                   inv_changed_ms = ?11, inv_failure_reason = ?12
                 WHERE campaign_id = ?1 AND row_key = ?2",
            params![
                c.0,
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

    /// Every row of the campaign, in source order.
    pub fn entries(&self, c: CampaignId) -> Result<Vec<Entry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM rows WHERE campaign_id = ?1 ORDER BY line, row_key"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![c.0], entry)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// When the campaign's statuses were last read from the API (our clock, epoch ms).
    pub fn refreshed_at(&self, c: CampaignId) -> Result<Option<i64>, JournalError> {
        self.conn
            .query_row(
                "SELECT refreshed_at_ms FROM campaigns WHERE id = ?1",
                params![c.0],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    pub fn set_refreshed_at(&self, c: CampaignId, at_ms: i64) -> Result<(), JournalError> {
        self.run(
            "UPDATE campaigns SET refreshed_at_ms = ?2 WHERE id = ?1",
            params![c.0, at_ms],
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
        client_name: Option<&str>,
        code: &str,
        message: &str,
    ) -> Result<(), JournalError> {
        self.run(
                "INSERT INTO rows (campaign_id, row_key, line, state, client_name, error_code, error_message, updated_at_ms)
                 VALUES (?1, ?2, ?3, 'invalid', ?4, ?5, ?6, ?7)
                 ON CONFLICT (campaign_id, row_key) DO UPDATE SET
                   line = excluded.line, state = 'invalid', client_name = excluded.client_name,
                   error_code = excluded.error_code,
                   error_message = excluded.error_message, updated_at_ms = excluded.updated_at_ms
                 WHERE state NOT IN ('created', 'sending', 'unknown')",
                params![c.0, key, line as i64, client_name, code, message, now_ms()],
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

        let a = Client {
            name: Some("Acme"),
            email: Some("a@x.co"),
            phone: None,
        };
        j.mark_sending(c, "a@x.co", 2, &a, 1000).unwrap();
        let seen = Observed {
            status: "pending".into(),
            client_name: Some("Acme Corp".into()),
            life: Lifecycle {
                created_ms: Some(1500),
                changed_ms: Some(1500),
                ..Lifecycle::default()
            },
        };
        j.mark_created(c, "a@x.co", "inv1", "http://x/invite/t", &seen)
            .unwrap();
        let b = Client {
            email: Some("b@x.co"),
            ..Client::default()
        };
        j.mark_sending(c, "b@x.co", 3, &b, 1001).unwrap();
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
        j.mark_invalid(c, "a@x.co", 2, None, "invalid_params", "x")
            .unwrap();
        assert_eq!(
            j.get(c, "a@x.co").unwrap().unwrap().state,
            RowState::Created
        );
        assert_eq!(a.client_name.as_deref(), Some("Acme Corp"));
        assert_eq!(a.life.created_ms, Some(1500));
        let all = j.entries(c).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].client_name, None);
        assert_eq!(j.refreshed_at(c).unwrap(), None);
        j.set_refreshed_at(c, 99).unwrap();
        assert_eq!(j.refreshed_at(c).unwrap(), Some(99));
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
