//! The campaign journal: what remembers, for every campaign × row key, what was done —
//! written *before* a create goes out and again when its answer (or the lack of one) comes
//! back. It is what makes a campaign resumable and exactly-once: a re-run skips rows
//! already created, and a row left `sending` by a killed process is treated as an unknown
//! outcome and reconciled before anything is resent.
//!
//! Two homes, one behaviour: an SQLite file in the state directory (the default,
//! [`super::journal_sqlite`]) or the shared PostgreSQL database named by `--state-url`
//! ([`super::journal_pg`]). This file holds what the rows mean (states, entries) and the
//! one interface over both: async methods, and the send loop's writes gathered into a
//! [`Batch`] that is committed once per loop turn, before that turn's creates leave —
//! one transaction in SQLite, one round trip to PostgreSQL.
//!
//! Campaigns are keyed by target (base URL), API-key fingerprint (never the key) and name,
//! so a sandbox run never marks a live row done. This module stores and queries; it
//! decides nothing about what to send.

use super::journal_pg::PgJournal;
use super::journal_sqlite::SqliteJournal;
use super::progress::Tally;
use super::runs::{Outcome, RunId, RunRecord};
use crate::api::Invitation;
use crate::state::StateError;
use crate::state::backend::PgTarget;
use crate::state::postgres::Held;
use std::collections::{BTreeMap, HashMap};
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
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Client {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Counts by a label (a row state, an invitation status).
pub type Counts = BTreeMap<String, i64>;

/// Which campaign a row belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CampaignId(i64);

impl CampaignId {
    /// The id as stored, for the journal's own SQL in sibling files.
    pub(super) fn raw(self) -> i64 {
        self.0
    }

    pub(super) fn from_raw(id: i64) -> CampaignId {
        CampaignId(id)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CampaignInfo {
    pub id: CampaignId,
    pub target: String,
    pub name: String,
    pub created_at_ms: i64,
    /// Source rows the journal knows, duplicates included.
    pub rows: i64,
    /// Rows with an invitation this campaign created.
    pub invited: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("campaign journal {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The state database (its message names the redacted address and what failed).
    #[error("campaign journal in the {0}")]
    State(#[from] StateError),
}

/// One write of the send loop (or of a refresh), kept until the batch is committed.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Recorded just before the create leaves: from here until the answer is recorded, a
    /// crash leaves the row `sending`, which the next run treats as unknown.
    Sending {
        key: String,
        line: u64,
        client: Client,
        attempt_at_ms: i64,
    },
    /// The row's invitation exists; with what the API said about it.
    Created {
        key: String,
        invitation_id: String,
        url: String,
        seen: Observed,
    },
    /// What the API said about a row's invitation: status, name, lifecycle times.
    Observe { key: String, seen: Observed },
    /// Sets a row's state with an error (for `failed`, `unknown`, `planned`).
    Mark {
        key: String,
        state: RowState,
        code: Option<String>,
        message: Option<String>,
    },
    /// A row whose data the contract refuses. Never overwrites a row this campaign created
    /// or may have created.
    Invalid {
        key: String,
        line: u64,
        client_name: Option<String>,
        code: String,
        message: String,
    },
    /// A row whose client already held a live invitation made elsewhere: recorded with
    /// that invitation, never over a row this campaign created or may have created.
    Existing {
        key: String,
        line: u64,
        invitation_id: String,
        url: String,
        status: String,
    },
    /// A source row with the same key as the row on `first_line`: not sent, and counted
    /// among the campaign's rows as `duplicate`.
    Duplicate {
        line: u64,
        key: String,
        first_line: u64,
    },
}

/// Writes that land together, in order: a send-loop turn's answers and new `sending`
/// marks, the run's counts so far, a refresh's statuses.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub ops: Vec<Op>,
    /// The run's counts so far, saved with the rows so a killed run's record is as
    /// current as its rows.
    pub run: Option<(RunId, Tally)>,
    /// When the campaign's statuses were read from the API.
    pub refreshed_at_ms: Option<i64>,
}

impl Batch {
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.run.is_none() && self.refreshed_at_ms.is_none()
    }
}

/// Where the journal lives in a state directory (the SQLite home).
pub fn journal_path(state_dir: &Path) -> PathBuf {
    state_dir.join("journal.sqlite3")
}

/// The journal, in whichever home the state setting chose.
pub enum Journal {
    Sqlite(SqliteJournal),
    Postgres(PgJournal),
}

type Result<T> = std::result::Result<T, JournalError>;

/// One method, both homes. SQLite answers synchronously inside the async fn, as it always
/// has (sub-millisecond writes to a local file); PostgreSQL is awaited.
macro_rules! both {
    ($self:ident, $j:ident => $sqlite:expr, $pg:expr) => {
        match $self {
            Journal::Sqlite($j) => $sqlite,
            Journal::Postgres($j) => $pg.await,
        }
    };
}

impl Journal {
    /// The SQLite journal at `path` (created 0600 if needed).
    pub fn open(path: &Path) -> Result<Journal> {
        SqliteJournal::open(path).map(Journal::Sqlite)
    }

    /// The journal for a state directory, or in the state database when there is one.
    /// Must be called inside the runtime (the database connection is driven there).
    pub async fn open_at(state_dir: &Path, shared: Option<&PgTarget>) -> Result<Journal> {
        match shared {
            None => Journal::open(&journal_path(state_dir)),
            Some(target) => Ok(Journal::Postgres(PgJournal::open(target).await?)),
        }
    }

    /// The journal as it is, for commands that look at campaigns: nothing is created, and
    /// the state database's schema is left alone. `None` when there is no journal yet.
    pub async fn open_existing(
        state_dir: &Path,
        shared: Option<&PgTarget>,
    ) -> Result<Option<Journal>> {
        match shared {
            None => {
                let path = journal_path(state_dir);
                if path.exists() {
                    Journal::open(&path).map(Some)
                } else {
                    Ok(None)
                }
            }
            Some(target) => Ok(PgJournal::open_existing(target)
                .await?
                .map(Journal::Postgres)),
        }
    }

    /// Whether a commit waits on the disk and a round trip (PostgreSQL's default
    /// synchronous commit), so the send loop pipelines its commits with the creates (see
    /// `run_pipeline.rs`). An SQLite commit in WAL mode returns at once: there the loop
    /// commits each turn before that turn's creates leave, as it always has.
    pub fn marks_ahead(&self) -> bool {
        matches!(self, Journal::Postgres(_))
    }

    /// What tells whether this process may still count on the campaign's lock: on
    /// PostgreSQL, the session's lease (see [`Held::check`]). `None` where the lock cannot
    /// be lost while the process lives (a file lock on this machine).
    pub fn lease(&self) -> Option<std::sync::Arc<Held>> {
        match self {
            Journal::Sqlite(_) => None,
            Journal::Postgres(j) => j.conn().held.clone(),
        }
    }

    /// The campaign's id, creating it on first use.
    pub async fn campaign(&self, target: &str, key_fp: &str, name: &str) -> Result<CampaignId> {
        both!(self, j => j.campaign(target, key_fp, name), j.campaign(target, key_fp, name))
    }

    /// The campaign's id if it has ever run.
    pub async fn find_campaign(
        &self,
        target: &str,
        key_fp: &str,
        name: &str,
    ) -> Result<Option<CampaignId>> {
        both!(self, j => j.find_campaign(target, key_fp, name), j.find_campaign(target, key_fp, name))
    }

    /// Campaigns run with this key, newest first.
    pub async fn campaigns(&self, key_fp: &str) -> Result<Vec<CampaignInfo>> {
        both!(self, j => j.campaigns(key_fp), j.campaigns(key_fp))
    }

    pub async fn get(&self, c: CampaignId, key: &str) -> Result<Option<Entry>> {
        both!(self, j => j.get(c, key), j.get(c, key))
    }

    /// The entries of these keys that exist, by key: what a send-loop turn is about to
    /// admit, in one round trip.
    pub async fn get_many(&self, c: CampaignId, keys: &[&str]) -> Result<HashMap<String, Entry>> {
        both!(self, j => j.get_many(c, keys), j.get_many(c, keys))
    }

    /// Every entry in one state, in source order.
    pub async fn in_state(&self, c: CampaignId, state: RowState) -> Result<Vec<Entry>> {
        both!(self, j => j.in_state(c, state), j.in_state(c, state))
    }

    /// Every row of the campaign, in source order.
    pub async fn entries(&self, c: CampaignId) -> Result<Vec<Entry>> {
        both!(self, j => j.entries(c), j.entries(c))
    }

    /// Writes the batch, all of it or (on an error) none: a `sending` mark is durable
    /// when this returns, so its create may leave.
    pub async fn commit(&self, c: CampaignId, batch: &Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        both!(self, j => j.commit(c, batch), j.commit(c, batch))
    }

    /// When the campaign's statuses were last read from the API (our clock, epoch ms).
    pub async fn refreshed_at(&self, c: CampaignId) -> Result<Option<i64>> {
        both!(self, j => j.refreshed_at(c), j.refreshed_at(c))
    }

    /// At start-up: rows a dead process left `sending` become `unknown`. Returns how many.
    pub async fn recover_sending(&self, c: CampaignId) -> Result<usize> {
        both!(self, j => j.recover_sending(c), j.recover_sending(c))
    }

    /// Counts by row state (duplicates included), and by last known invitation status
    /// among created rows.
    pub async fn counts(&self, c: CampaignId) -> Result<(Counts, Counts)> {
        both!(self, j => j.counts(c), j.counts(c))
    }

    /// The last measured difference between the server's clock and ours, if any.
    pub async fn clock_offset(&self, c: CampaignId) -> Result<Option<i64>> {
        both!(self, j => j.clock_offset(c), j.clock_offset(c))
    }

    pub async fn set_clock_offset(&self, c: CampaignId, offset_ms: i64) -> Result<()> {
        both!(self, j => j.set_clock_offset(c, offset_ms), j.set_clock_offset(c, offset_ms))
    }

    /// Records that a run of `c` starts now. Call with the campaign's lock held: any run
    /// of it still marked `running` is then a dead one, and is marked `killed`.
    pub async fn start_run(&self, c: CampaignId) -> Result<RunId> {
        both!(self, j => j.start_run(c), j.start_run(c))
    }

    /// Records how a run ended and its final counts.
    pub async fn end_run(
        &self,
        run: RunId,
        outcome: Outcome,
        detail: Option<&str>,
        tally: &Tally,
    ) -> Result<()> {
        both!(self, j => j.end_run(run, outcome, detail, tally), j.end_run(run, outcome, detail, tally))
    }

    /// The campaign's latest run, if it has run.
    pub async fn last_run(&self, c: CampaignId) -> Result<Option<RunRecord>> {
        both!(self, j => j.last_run(c), j.last_run(c))
    }
}
