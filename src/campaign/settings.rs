//! What a campaign run is given: its [`Settings`] (name, concurrency, dry run, report,
//! settle delay…), the [`Env`] it talks to and keeps its journal in, and the [`Confirm`]
//! through which it may ask a person. Plain data; the run itself is elsewhere.

use crate::client::ApiClient;
use crate::stop::Stop;
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
    /// Invite clients even when they already hold a live invitation in the project.
    pub reinvite: bool,
    /// When another runner holds the campaign, wait and take over once it ends (a hot
    /// standby) instead of refusing.
    pub wait: bool,
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
            reinvite: false,
            wait: false,
        }
    }
}

/// What the campaign talks to, where it keeps its journal, and who it may ask.
pub struct Env<'a> {
    pub client: &'a ApiClient,
    pub handle: &'a Handle,
    pub stop: &'a Stop,
    pub state_dir: &'a Path,
    /// The shared state database, when `--state-url` names one: the journal and the
    /// campaign's lock live there instead of in the state directory.
    pub shared_state: Option<&'a crate::state::backend::PgTarget>,
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
