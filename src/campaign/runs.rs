//! Each run of a campaign, as the journal keeps it: when it started and ended, how it
//! ended, and its counts — the same [`Tally`] its summary line printed, saved as the run
//! goes — plus the source rows it found to be duplicates of earlier rows. This is what
//! lets `campaign status` and `campaign list` repeat a run's own numbers instead of
//! recounting them another way.
//!
//! A run that is killed cannot say how it ended: its record stays `running` with the counts
//! of its last commit, and the next run of the campaign (which holds the campaign's lock,
//! so nothing else is running) marks it `killed`.
//!
//! The records and their meaning only: each journal home keeps them with its own SQL
//! (`journal_sqlite.rs`, `journal_pg.rs`); what a run does is `run_loop.rs`'s business.

use super::progress::Tally;
use crate::api::Timestamp;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still going, or killed before it could say (see `Journal::start_run`).
    Running,
    Finished,
    Interrupted,
    /// Stopped by the API (key refused, unreachable) or the journal.
    Halted,
    /// Found `running` by a later run: the process died.
    Killed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Finished => "finished",
            Outcome::Interrupted => "interrupted",
            Outcome::Halted => "halted",
            Outcome::Killed => "killed",
        }
    }

    pub(super) fn parse(s: &str) -> Outcome {
        match s {
            "finished" => Outcome::Finished,
            "interrupted" => Outcome::Interrupted,
            "halted" => Outcome::Halted,
            "killed" => Outcome::Killed,
            _ => Outcome::Running,
        }
    }
}

/// One run's record.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub outcome: Outcome,
    /// Why it was interrupted or halted.
    pub detail: Option<String>,
    pub tally: Tally,
}

impl RunRecord {
    /// The record from its stored columns (the tally is JSON text).
    pub(super) fn from_columns(
        started_at_ms: i64,
        ended_at_ms: Option<i64>,
        outcome: &str,
        detail: Option<String>,
        tally: Option<String>,
    ) -> RunRecord {
        RunRecord {
            started_at_ms,
            ended_at_ms,
            outcome: Outcome::parse(outcome),
            detail,
            tally: tally
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
        }
    }

    /// The record as `campaign status --json`, `campaign list --json` and
    /// `campaign::status` give it.
    pub fn to_json(&self) -> serde_json::Value {
        let t = &self.tally;
        serde_json::json!({
            "startedAt": Timestamp::from_millis(self.started_at_ms),
            "endedAt": self.ended_at_ms.map(Timestamp::from_millis),
            "outcome": self.outcome.as_str(),
            "detail": self.detail,
            "counts": {
                "rows": t.done(),
                "created": t.created + t.reconciled,
                "reconciled": t.reconciled,
                "skipped": t.skipped,
                "alreadyInvited": t.existing,
                "duplicate": t.duplicate,
                "invalid": t.invalid,
                "failed": t.failed,
                "sent": t.sent,
                "retried": t.retried,
            },
        })
    }

    /// `2026-12-03T08:24:01.981Z, finished: created 3, skipped 0, … — 5 rows`
    pub fn describe(&self) -> String {
        let how = match (&self.outcome, &self.detail) {
            (Outcome::Running, _) => "still running (or killed; the next run will tell)".into(),
            (o, Some(why)) => format!("{} ({why})", o.as_str()),
            (o, None) => o.as_str().to_string(),
        };
        format!(
            "{}, {how}: {} — {} rows",
            Timestamp::from_millis(self.started_at_ms),
            self.tally.outcomes(),
            self.tally.done()
        )
    }
}

/// Which run a record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunId(i64);

impl RunId {
    pub(super) fn raw(self) -> i64 {
        self.0
    }

    pub(super) fn from_raw(id: i64) -> RunId {
        RunId(id)
    }
}

/// The counts as stored: JSON text.
pub(super) fn tally_text(t: &Tally) -> String {
    serde_json::to_string(t).unwrap_or_else(|_| "{}".into())
}
