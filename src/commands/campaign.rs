//! The `campaign` front door: list the campaigns in the journal, show where one stands,
//! write its report, clean one up — the command-line twins of `campaign::status`,
//! `campaign::report` and `campaign::cleanup`.

use super::output;
use super::session::Session;
use crate::campaign::journal::Journal;
use crate::campaign::operate::Place;
use crate::campaign::{operate, report_page};
use crate::client::ApiClient;
use crate::config::{CampaignAction, Config};
use crate::error::Error;
use serde_json::json;
use std::collections::BTreeMap;
use tokio::runtime::Runtime;

fn line(counts: &BTreeMap<String, i64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        // A row state's name as the summary line words it.
        .map(|(k, v)| match k.as_str() {
            "existing" => format!("already invited {v}"),
            _ => format!("{k} {v}"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

pub fn execute(config: &Config, runtime: &Runtime, action: &CampaignAction) -> Result<(), Error> {
    let dir = config.state_dir()?.to_path_buf();
    let shared = config.state.postgres();
    let state_dir = Place {
        state_dir: &dir,
        shared: shared.as_ref(),
    };
    let session = Session::open(config, runtime)?;
    let client = ApiClient::new(session.api.clone()).map_err(|e| Error::Usage(e.to_string()))?;
    let outcome = match action {
        CampaignAction::List => list(config, runtime, state_dir, &client),
        // With no name, the campaigns there are: what a person wanted to see.
        CampaignAction::Status { name: None, .. } => list(config, runtime, state_dir, &client),
        CampaignAction::Status {
            name: Some(name),
            refresh,
        } => runtime
            .block_on(operate::status(state_dir, &client, name, *refresh))
            .map_err(Error::from)
            .map(|s| {
                if config.json {
                    output::json_line(&json!({
                        "name": s.name, "target": s.target, "rows": s.rows,
                        "invitations": s.invitations,
                        "lastRun": s.last_run.as_ref().map(|r| r.to_json()),
                    }));
                } else {
                    let total: i64 = s.rows.values().sum();
                    println!(
                        "campaign {} — {} (key {})",
                        s.name,
                        s.target,
                        client.key().redacted()
                    );
                    println!("rows:         {} ({total} rows)", line(&s.rows));
                    println!("invitations:  {}", line(&s.invitations));
                    if let Some(run) = &s.last_run {
                        println!("last run:     {}", run.describe());
                    }
                }
            }),
        CampaignAction::Cleanup { name, dry_run, yes } => {
            cleanup(config, runtime, state_dir, &client, name, *dry_run, *yes)
        }
        CampaignAction::Report { name, out, refresh } => {
            let ask = ReportAsk {
                name,
                out: out.as_deref(),
                refresh: *refresh,
            };
            report(config, runtime, state_dir, &client, &ask)
        }
    };
    session.close(runtime);
    outcome
}

fn list(
    config: &Config,
    runtime: &Runtime,
    place: Place<'_>,
    client: &ApiClient,
) -> Result<(), Error> {
    let usage = |e: crate::campaign::journal::JournalError| Error::Usage(e.to_string());
    let (all, runs) = runtime
        .block_on(async {
            let Some(journal) = Journal::open_existing(place.state_dir, place.shared).await? else {
                return Ok((Vec::new(), Vec::new()));
            };
            let all = journal.campaigns(&client.key().fingerprint()).await?;
            let mut runs = Vec::with_capacity(all.len());
            for c in &all {
                runs.push(journal.last_run(c.id).await?);
            }
            Ok((all, runs))
        })
        .map_err(usage)?;
    if config.json {
        let items: Vec<_> = all
            .iter()
            .zip(&runs)
            .map(|(c, run)| {
                json!({"name": c.name, "target": c.target, "rows": c.rows, "invited": c.invited,
                "createdAt": crate::api::Timestamp::from_millis(c.created_at_ms),
                "lastRun": run.as_ref().map(|r| r.to_json())})
            })
            .collect();
        output::json_line(&serde_json::Value::Array(items));
    } else if all.is_empty() {
        println!("no campaigns yet for this key");
    } else {
        let cells: Vec<Vec<String>> = all
            .iter()
            .zip(&runs)
            .map(|(c, run)| {
                let (when, outcome) = match run {
                    Some(r) => (
                        crate::api::Timestamp::from_millis(r.started_at_ms).to_string(),
                        r.outcome.as_str().to_string(),
                    ),
                    None => ("—".into(), "—".into()),
                };
                vec![
                    c.name.clone(),
                    c.rows.to_string(),
                    c.invited.to_string(),
                    when,
                    outcome,
                    c.target.clone(),
                ]
            })
            .collect();
        println!(
            "{}",
            output::table(
                &["NAME", "ROWS", "INVITED", "LAST RUN", "OUTCOME", "TARGET"],
                &["ROWS", "INVITED"],
                &cells
            )
        );
    }
    Ok(())
}

fn cleanup(
    config: &Config,
    runtime: &Runtime,
    state_dir: Place<'_>,
    client: &ApiClient,
    name: &str,
    dry_run: bool,
    yes: bool,
) -> Result<(), Error> {
    if client.key().is_live() && !yes && !dry_run {
        let planned = runtime.block_on(operate::cleanup(state_dir, client, name, true))?;
        if planned.would_cancel > 0 {
            let question = format!(
                "Cancel {} live invitations of campaign '{name}'?",
                planned.would_cancel
            );
            match output::terminal_confirm().ask(&question) {
                Some(true) => {}
                Some(false) => {
                    return Err(Error::Usage("not confirmed; nothing was cancelled".into()));
                }
                None => {
                    return Err(Error::Usage(format!(
                        "this would cancel {} live invitations of campaign '{name}'; pass --yes to go ahead",
                        planned.would_cancel
                    )));
                }
            }
        }
    }
    let c = runtime.block_on(operate::cleanup(state_dir, client, name, dry_run))?;
    if config.json {
        output::json_line(
            &json!({"cancelled": c.cancelled, "closed": c.closed, "failed": c.failed, "wouldCancel": c.would_cancel}),
        );
    } else if dry_run {
        println!(
            "would cancel {} open invitations of campaign {name}",
            c.would_cancel
        );
    } else {
        println!(
            "cancelled {}, already closed {}, failed {}",
            c.cancelled, c.closed, c.failed
        );
    }
    if c.failed > 0 {
        return Err(Error::Incomplete(format!(
            "{} invitations could not be cancelled; run the cleanup again",
            c.failed
        )));
    }
    Ok(())
}

struct ReportAsk<'a> {
    name: &'a str,
    out: Option<&'a std::path::Path>,
    refresh: bool,
}

fn report(
    config: &Config,
    runtime: &Runtime,
    state_dir: Place<'_>,
    client: &ApiClient,
    ask: &ReportAsk<'_>,
) -> Result<(), Error> {
    let r = runtime.block_on(operate::report(state_dir, client, ask.name, ask.refresh))?;
    if let Some(done) = &r.refreshed {
        eprintln!(
            "refreshed {} invitations of campaign {} in {} list call{}{}",
            done.updated,
            ask.name,
            done.pages,
            if done.pages == 1 { "" } else { "s" },
            if done.missing > 0 {
                format!(
                    "; {} not listed by the API kept their last known status",
                    done.missing
                )
            } else {
                String::new()
            }
        );
    }
    // With --json the numbers go to stdout and a page is written only when asked for.
    let file = match (ask.out, config.json) {
        (Some(path), _) => Some(path.to_path_buf()),
        (None, false) => Some(report_page::default_file_name(ask.name).into()),
        (None, true) => None,
    };
    let generated = crate::api::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let written = match &file {
        Some(path) => Some(
            report_page::write(path, &r.funnel, &r.rows, &generated).map_err(|source| {
                Error::Io {
                    path: path.clone(),
                    source,
                }
            })?,
        ),
        None => None,
    };
    let f = &r.funnel;
    if config.json {
        let mut v = serde_json::to_value(f).unwrap_or_default();
        if let Some(path) = &file {
            v["html"] = json!(path.display().to_string());
        }
        output::json_line(&v);
    } else {
        let s = &f.funnel;
        println!(
            "campaign {}: invited {} · viewed {} · started {} · completed {} ({}%) · expired {} · cancelled {} · failed {} · invalid {} · not sent {} · already invited {}",
            f.name,
            s.invited,
            s.viewed,
            s.started,
            s.completed,
            f.percent.completed,
            f.outcomes.expired,
            f.outcomes.cancelled,
            f.outcomes.failed,
            f.outcomes.invalid,
            f.outcomes.not_sent,
            f.outcomes.already_invited
        );
        if let (Some(path), Some(bytes)) = (&file, written) {
            println!(
                "wrote {} ({} rows, {} KB)",
                path.display(),
                f.rows,
                bytes.div_ceil(1024)
            );
        }
    }
    Ok(())
}
