//! What a campaign run gives back: the [`Summary`] (counts, per-row results, report
//! paths, why it stopped early if it did) or the [`CampaignError`] that kept it from
//! sending anything. Plain data for the caller to present.

use super::journal::JournalError;
use super::plan::SourceRow;
use super::progress::Tally;
use super::results::RowResult;
use crate::client::ClientError;
use std::path::PathBuf;
use std::time::Duration;

/// Why a run ended before its rows were all handled.
#[derive(Debug)]
pub enum Halt {
    Interrupted(String),
    /// The API refused the key, or could not be reached at all.
    Api(ClientError),
    Journal(String),
}

#[derive(Debug)]
pub struct Summary {
    pub name: String,
    pub tally: Tally,
    pub dry_run: bool,
    pub elapsed: Duration,
    pub results: Vec<RowResult>,
    /// False when there were more rows than `keep_results`.
    pub results_complete: bool,
    pub report: Option<(PathBuf, PathBuf)>,
    pub halted: Option<Halt>,
}

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// Nothing was sent: bad options, a lock held by another run, an unusable journal.
    #[error("{0}")]
    Setup(String),
    /// A live key and no confirmation.
    #[error("{0}")]
    Refused(String),
    /// The API failed before anything was sent (looking for clients already invited).
    #[error("{0}")]
    Api(ClientError),
    /// Stopped before anything was sent.
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl From<JournalError> for CampaignError {
    fn from(e: JournalError) -> Self {
        CampaignError::Setup(e.to_string())
    }
}

/// Rows to plan, and how many there are if known (for the progress bar).
pub type Rows<'a> = (Box<dyn Iterator<Item = SourceRow> + 'a>, Option<u64>);
