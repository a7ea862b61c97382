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
//! SQL only, on the journal's connection; what a run does is `run_loop.rs`'s business.

use super::journal::{CampaignId, Journal, JournalError};
use super::progress::Tally;
use crate::api::Timestamp;
use rusqlite::{OptionalExtension, params};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still going, or killed before it could say (see [`Journal::start_run`]).
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

    fn parse(s: &str) -> Outcome {
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

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn tally_text(t: &Tally) -> String {
    serde_json::to_string(t).unwrap_or_else(|_| "{}".into())
}

impl Journal {
    /// Records that a run of `c` starts now. Call with the campaign's lock held: any run
    /// of it still marked `running` is then a dead one, and is marked `killed`.
    pub fn start_run(&self, c: CampaignId) -> Result<RunId, JournalError> {
        let conn = self.connection();
        conn.execute(
            "UPDATE runs SET outcome = 'killed' WHERE campaign_id = ?1 AND outcome = 'running'",
            params![c.raw()],
        )
        .map_err(|e| self.error(e))?;
        conn.execute(
            "INSERT INTO runs (campaign_id, started_at_ms, outcome, tally) VALUES (?1, ?2, 'running', ?3)",
            params![c.raw(), now_ms(), tally_text(&Tally::default())],
        )
        .map_err(|e| self.error(e))?;
        Ok(RunId(conn.last_insert_rowid()))
    }

    /// Saves a running run's counts so far (inside the caller's batch transaction).
    pub fn save_run(&self, run: RunId, tally: &Tally) -> Result<(), JournalError> {
        self.connection()
            .prepare_cached("UPDATE runs SET tally = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![run.0, tally_text(tally)]))
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Records how a run ended and its final counts.
    pub fn end_run(
        &self,
        run: RunId,
        outcome: Outcome,
        detail: Option<&str>,
        tally: &Tally,
    ) -> Result<(), JournalError> {
        self.connection()
            .execute(
                "UPDATE runs SET ended_at_ms = ?2, outcome = ?3, detail = ?4, tally = ?5 WHERE id = ?1",
                params![run.0, now_ms(), outcome.as_str(), detail, tally_text(tally)],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// The campaign's latest run, if it has run.
    pub fn last_run(&self, c: CampaignId) -> Result<Option<RunRecord>, JournalError> {
        self.connection()
            .query_row(
                "SELECT started_at_ms, ended_at_ms, outcome, detail, tally FROM runs
                 WHERE campaign_id = ?1 ORDER BY id DESC LIMIT 1",
                params![c.raw()],
                |r| {
                    let tally: Option<String> = r.get(4)?;
                    Ok(RunRecord {
                        started_at_ms: r.get(0)?,
                        ended_at_ms: r.get(1)?,
                        outcome: Outcome::parse(&r.get::<_, String>(2)?),
                        detail: r.get(3)?,
                        tally: tally
                            .and_then(|t| serde_json::from_str(&t).ok())
                            .unwrap_or_default(),
                    })
                },
            )
            .optional()
            .map_err(|e| self.error(e))
    }

    /// A source row with the same key as the row on `first_line`: not sent, and counted
    /// among the campaign's rows as `duplicate`.
    pub fn mark_duplicate(
        &self,
        c: CampaignId,
        line: u64,
        key: &str,
        first_line: u64,
    ) -> Result<(), JournalError> {
        self.connection()
            .prepare_cached(
                "INSERT INTO duplicates (campaign_id, line, row_key, first_line) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (campaign_id, line) DO UPDATE SET
                   row_key = excluded.row_key, first_line = excluded.first_line",
            )
            .and_then(|mut s| s.execute(params![c.raw(), line as i64, key, first_line as i64]))
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// How many of the campaign's source rows are duplicates.
    pub fn duplicates(&self, c: CampaignId) -> Result<i64, JournalError> {
        self.connection()
            .query_row(
                "SELECT COUNT(*) FROM duplicates WHERE campaign_id = ?1",
                params![c.raw()],
                |r| r.get(0),
            )
            .map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_keeps_its_counts_and_a_dead_run_is_found_killed() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.sqlite3")).unwrap();
        let c = j.campaign("http://x", "fp", "spring").unwrap();
        assert_eq!(j.last_run(c).unwrap(), None);
        let first = j.start_run(c).unwrap();
        let mut t = Tally {
            created: 2,
            duplicate: 1,
            ..Tally::default()
        };
        j.save_run(first, &t).unwrap();
        let seen = j.last_run(c).unwrap().unwrap();
        assert_eq!((seen.outcome, seen.tally), (Outcome::Running, t));
        // The process died; the next run finds it so.
        let second = j.start_run(c).unwrap();
        t.created = 0;
        t.skipped = 2;
        j.end_run(second, Outcome::Finished, None, &t).unwrap();
        let last = j.last_run(c).unwrap().unwrap();
        assert_eq!((last.outcome, last.tally), (Outcome::Finished, t));
        assert!(last.ended_at_ms.is_some());
        let killed: String = j
            .connection()
            .query_row(
                "SELECT outcome FROM runs WHERE id = ?1",
                params![first.0],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(killed, "killed");
    }

    #[test]
    fn a_duplicate_line_is_counted_once_however_often_it_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.sqlite3")).unwrap();
        let c = j.campaign("http://x", "fp", "spring").unwrap();
        j.mark_duplicate(c, 4, "a@x.co", 2).unwrap();
        j.mark_duplicate(c, 4, "a@x.co", 2).unwrap();
        j.mark_duplicate(c, 7, "b@x.co", 3).unwrap();
        assert_eq!(j.duplicates(c).unwrap(), 2);
    }
}
