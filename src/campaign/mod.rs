//! Bulk invitation campaigns: every row of a source invited exactly once, as fast as the
//! API allows, resumable after any crash, reported row by row.
//!
//! The flow per row follows `exactly-once.md`: validate → journal `sending` → create →
//! journal the answer. Creates run concurrently through the client's shared rate budget.
//! A create whose answer is lost is never resent blindly: after a settle delay, the rows
//! in that state are reconciled against the server's own list, adopted if found, and only
//! then resent. A re-run skips what is done; rows left `sending` by a killed process are
//! reconciled before anything else is sent.
//!
//! This file is the public face — [`run`], its [`Settings`], [`Env`] and [`Summary`]; the
//! send loop is [`run_loop`], the dry run [`dry_run`], and what happened to each row
//! [`results`]. The module knows nothing of Rhai or of terminals: rows arrive already
//! planned (see [`plan`]), a question for a person goes through the [`Confirm`] the front
//! door supplies, and the summary goes back as data for the caller to present.

mod dry_run;
pub mod journal;
pub mod lock;
pub mod operate;
pub mod plan;
pub mod progress;
pub mod reconcile;
pub mod report;
pub mod results;
mod run_loop;

use crate::client::{ApiClient, ClientError};
use crate::stop::Stop;
use journal::{Journal, JournalError};
use plan::SourceRow;
use progress::Tally;
use report::Report;
use results::RowResult;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;

/// How a campaign runs.
#[derive(Clone, Debug)]
pub struct Settings {
    pub name: String,
    /// Creates in flight at once.
    pub concurrency: usize,
    /// Plan only: validate, compare with the journal, send nothing.
    pub dry_run: bool,
    /// Confirmed: no question before creating invitations with a live key.
    pub yes: bool,
    /// Write `<report>.csv` and `<report>.json`.
    pub report: Option<PathBuf>,
    /// How long after a lost answer the server is given to finish before we look.
    pub settle: Duration,
    /// Rounds of reconcile-then-resend within one run for lost answers.
    pub passes: u32,
    /// No bar and no periodic lines (the final summary line stays).
    pub quiet: bool,
    /// Per-row results kept in memory for the caller (the report has them all).
    pub keep_results: usize,
}

impl Settings {
    pub fn new(name: impl Into<String>) -> Settings {
        Settings {
            name: name.into(),
            concurrency: 8,
            dry_run: false,
            yes: false,
            report: None,
            settle: Duration::from_secs(5),
            passes: 3,
            quiet: false,
            keep_results: 10_000,
        }
    }
}

/// What the campaign talks to, where it keeps its journal, and who it may ask.
pub struct Env<'a> {
    pub client: &'a ApiClient,
    pub handle: &'a Handle,
    pub stop: &'a Stop,
    pub state_dir: &'a Path,
    pub confirm: &'a Confirm,
}

/// Asks a person a yes/no question before something that cannot be undone (a live key
/// about to invite, a cleanup about to cancel). The front door supplies it; the default
/// cannot ask anybody, which callers treat as a refusal that says how to go ahead.
#[derive(Clone, Default)]
pub struct Confirm(Option<Arc<Ask>>);

/// Shows the question, returns the answer.
type Ask = dyn Fn(&str) -> bool + Send + Sync;

impl Confirm {
    pub fn new(ask: impl Fn(&str) -> bool + Send + Sync + 'static) -> Confirm {
        Confirm(Some(Arc::new(ask)))
    }

    /// `Some(answer)`, or `None` when there is nobody to ask.
    pub fn ask(&self, question: &str) -> Option<bool> {
        self.0.as_ref().map(|ask| ask(question))
    }
}

impl std::fmt::Debug for Confirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Confirm(asks)"
        } else {
            "Confirm(cannot ask)"
        })
    }
}

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
}

impl From<JournalError> for CampaignError {
    fn from(e: JournalError) -> Self {
        CampaignError::Setup(e.to_string())
    }
}

/// Rows to plan, and how many there are if known (for the progress bar).
pub type Rows<'a> = (Box<dyn Iterator<Item = SourceRow> + 'a>, Option<u64>);

pub fn journal_path(state_dir: &Path) -> PathBuf {
    state_dir.join("journal.sqlite3")
}

/// Runs (or, in a dry run, plans) a campaign. `open_rows` may be called twice: once to
/// plan for the live-key confirmation, once to run.
pub fn run<'a>(
    env: &Env<'_>,
    settings: &Settings,
    mut open_rows: impl FnMut() -> Result<Rows<'a>, String>,
) -> Result<Summary, CampaignError> {
    if settings.name.trim().is_empty() {
        return Err(CampaignError::Setup("a campaign needs a name".into()));
    }
    let journal = Journal::open(&journal_path(env.state_dir))?;
    let target = env.client.base_url().to_string();
    let fp = env.client.key().fingerprint();

    if settings.dry_run {
        let campaign = journal.find_campaign(&target, &fp, &settings.name)?;
        let (rows, total) = open_rows().map_err(CampaignError::Setup)?;
        return dry_run::plan_only(&journal, campaign, settings, rows, total, settings.quiet);
    }

    if env.client.key().is_live() && !settings.yes {
        let campaign = journal.find_campaign(&target, &fp, &settings.name)?;
        let (rows, total) = open_rows().map_err(CampaignError::Setup)?;
        let mut quiet = settings.clone();
        quiet.report = None;
        quiet.keep_results = 0;
        let plan = dry_run::plan_only(&journal, campaign, &quiet, rows, total, true)?;
        confirm_live(env.confirm, &settings.name, &plan.tally)?;
    }

    let _lock = lock::CampaignLock::acquire(env.state_dir, &target, &fp, &settings.name)
        .map_err(CampaignError::Setup)?;
    let campaign = journal.campaign(&target, &fp, &settings.name)?;
    journal.recover_sending(campaign)?;
    let (rows, total) = open_rows().map_err(CampaignError::Setup)?;
    let report = match &settings.report {
        Some(base) => Some(Report::create(base).map_err(CampaignError::Setup)?),
        None => None,
    };
    Ok(run_loop::send(
        env, settings, journal, campaign, report, rows, total,
    ))
}

/// Asks before a live key creates invitations; refuses when nobody can be asked.
fn confirm_live(confirm: &Confirm, name: &str, plan: &Tally) -> Result<(), CampaignError> {
    if plan.planned == 0 {
        return Ok(());
    }
    let question = format!(
        "campaign '{name}' would create {} invitation{} with a live key (zv_live_…); {} already done, {} invalid",
        plan.planned,
        if plan.planned == 1 { "" } else { "s" },
        plan.skipped,
        plan.invalid
    );
    match confirm.ask(&format!("{question}. Continue?")) {
        Some(true) => Ok(()),
        Some(false) => Err(CampaignError::Refused(
            "not confirmed; nothing was sent".into(),
        )),
        None => Err(CampaignError::Refused(format!(
            "{question}. Refusing without confirmation: pass --yes to go ahead, or --dry-run to look first."
        ))),
    }
}
