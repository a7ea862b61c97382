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
//! This file is the public face, [`run`]: set up (lock, journal, report files, the live-key
//! question) and hand over to the send loop [`run_loop`] or the dry run [`dry_run`]. Its
//! inputs are in [`settings`], its outputs in [`summary`] and [`results`]. The module
//! knows nothing of Rhai or of terminals: rows arrive already planned (see [`plan`]), a question for a person goes through the [`Confirm`] the front
//! door supplies, and the summary goes back as data for the caller to present.
//!
//! Imports: `api`, `client`, `files`, `state`, `stop`. Must not import the engine (Rhai), `cron`,
//! `config` or the front doors.

mod dry_run;
pub mod existing;
pub mod funnel;
pub mod journal;
mod journal_pg;
mod journal_pg_batch;
mod journal_schema;
mod journal_sqlite;
pub mod lock;
pub mod operate;
pub mod plan;
pub mod progress;
pub mod reconcile;
pub mod refresh;
pub mod report;
pub mod report_page;
mod report_svg;
pub mod results;
mod run_loop;
mod run_pipeline;
pub mod runs;
mod settings;
mod settle;
mod summary;

pub use journal::journal_path;
pub use settings::{Confirm, Env, Settings};
pub use summary::{CampaignError, Halt, Rows, Summary};

use existing::Existing;
use journal::{Journal, JournalError};
use progress::Tally;
use report::Report;
use std::path::{Path, PathBuf};

/// How often a run told to `wait` asks for the campaign again.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The campaign's lock; with `wait`, a standby that asks again until the holder ends —
/// finishes, is stopped, or dies and its lock lapses — or this run is stopped.
fn take_lock(
    env: &Env<'_>,
    settings: &Settings,
    journal: &Journal,
    target: &str,
    fp: &str,
) -> Result<lock::CampaignLock, CampaignError> {
    let mut told = false;
    loop {
        let refused = match env.handle.block_on(lock::CampaignLock::acquire_for(
            journal,
            env.state_dir,
            target,
            fp,
            &settings.name,
        )) {
            Ok(lock) => {
                if told {
                    progress::announce(&settings.name, settings.quiet, "took over");
                }
                return Ok(lock);
            }
            Err(lock::Refused::Busy(why)) if settings.wait => why,
            Err(e) => return Err(CampaignError::Setup(e.to_string())),
        };
        if !told {
            let holder = refused
                .split(" — ")
                .next()
                .unwrap_or(&refused)
                .trim_start_matches(&format!("campaign '{}' ", settings.name));
            progress::announce(
                &settings.name,
                settings.quiet,
                &format!("{holder}; waiting to take over"),
            );
            told = true;
        }
        let stopped = env.handle.block_on(async {
            tokio::select! {
                _ = env.stop.stopped() => true,
                _ = tokio::time::sleep(WAIT_POLL) => false,
            }
        });
        if stopped {
            return Err(CampaignError::Setup(format!(
                "stopped while waiting: {refused}"
            )));
        }
    }
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
    let journal = env
        .handle
        .block_on(Journal::open_at(env.state_dir, env.shared_state))?;
    let target = env.client.base_url().to_string();
    let fp = env.client.key().fingerprint();
    let existing = already_invited(env, settings)?;

    let find = || {
        env.handle
            .block_on(journal.find_campaign(&target, &fp, &settings.name))
    };
    if settings.dry_run {
        let campaign = find()?;
        let (rows, total) = open_rows().map_err(CampaignError::Setup)?;
        // A plan never overwrites a real run's report: it goes beside it.
        let mut planning = settings.clone();
        planning.report = settings.report.as_deref().map(plan_report_base);
        return dry_run::plan_only(
            env.handle,
            &journal,
            campaign,
            &existing,
            &planning,
            rows,
            total,
            settings.quiet,
        );
    }

    if env.client.key().is_live() && !settings.yes {
        let campaign = find()?;
        let (rows, total) = open_rows().map_err(CampaignError::Setup)?;
        let mut quiet = settings.clone();
        quiet.report = None;
        quiet.keep_results = 0;
        let plan = dry_run::plan_only(
            env.handle, &journal, campaign, &existing, &quiet, rows, total, true,
        )?;
        confirm_live(env.confirm, &settings.name, &plan.tally)?;
    }

    let _lock = take_lock(env, settings, &journal, &target, &fp)?;
    let campaign = env.handle.block_on(async {
        let campaign = journal.campaign(&target, &fp, &settings.name).await?;
        journal.recover_sending(campaign).await?;
        Ok::<_, JournalError>(campaign)
    })?;
    let (rows, total) = open_rows().map_err(CampaignError::Setup)?;
    let run = env.handle.block_on(journal.start_run(campaign))?;
    let report = match &settings.report {
        Some(base) => Some(Report::create(base).map_err(CampaignError::Setup)?),
        None => None,
    };
    Ok(run_loop::send(
        env,
        settings,
        run_loop::Books {
            journal,
            campaign,
            run,
            report,
            existing,
        },
        rows,
        total,
    ))
}

/// Where a dry run's report goes for a run whose report is `base`: `base.plan` (so
/// `clients.report.plan.csv` beside `clients.report.csv`).
fn plan_report_base(base: &Path) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(".plan");
    PathBuf::from(name)
}

/// The project's clients who already hold a live invitation — one pass over its
/// invitations before anything is sent — or nobody when re-inviting on purpose.
fn already_invited(env: &Env<'_>, settings: &Settings) -> Result<Existing, CampaignError> {
    if settings.reinvite {
        return Ok(Existing::default());
    }
    progress::announce(
        &settings.name,
        settings.quiet,
        "checking the project for clients already invited",
    );
    let scanned = env.handle.block_on(async {
        tokio::select! {
            r = existing::scan(env.client) => Some(r),
            _ = env.stop.stopped() => None,
        }
    });
    match scanned {
        Some(Ok(existing)) => Ok(existing),
        Some(Err(e)) => Err(CampaignError::Api(e)),
        None => Err(CampaignError::Interrupted(
            env.stop.reason().unwrap_or_else(|| "stopped".into()),
        )),
    }
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
