//! The dry run: what a campaign would do, from the rows and the journal alone — every row
//! validated and compared with what earlier runs recorded, reported like a real run with
//! `planned` in place of `created`, and clients already invited in the project (read
//! before, by the caller) skipped. Sends nothing and writes nothing to the journal.

use super::existing::Existing;
use super::journal::{CampaignId, Journal, RowState};
use super::plan::{SourceRow, key_hash};
use super::progress::{Ending, Progress, Tally};
use super::report::Report;
use super::results::{
    Action, RowResult, duplicate_result, earlier_result, existing_result, invalid_result,
};
use super::settings::Settings;
use super::summary::{CampaignError, Summary};
use std::collections::HashMap;
use std::time::Instant;
use tokio::runtime::Handle;

/// Rows looked up in the journal at once.
const CHUNK: usize = 256;

/// The dry run: what would happen, from the rows and the journal alone.
#[allow(clippy::too_many_arguments)]
pub(super) fn plan_only(
    handle: &Handle,
    journal: &Journal,
    campaign: Option<CampaignId>,
    existing: &Existing,
    settings: &Settings,
    rows: Box<dyn Iterator<Item = SourceRow> + '_>,
    total: Option<u64>,
    quiet: bool,
) -> Result<Summary, CampaignError> {
    let started = Instant::now();
    let mut progress = Progress::new(&settings.name, total, quiet);
    let mut report = match &settings.report {
        Some(base) => Some(Report::create(base).map_err(CampaignError::Setup)?),
        None => None,
    };
    let mut tally = Tally::default();
    let mut results = vec![];
    let mut complete = true;
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut rows = rows.peekable();
    let mut i = 0usize;
    while rows.peek().is_some() {
        let chunk: Vec<SourceRow> = rows.by_ref().take(CHUNK).collect();
        let known = match campaign {
            Some(c) => {
                let keys: Vec<&str> = chunk
                    .iter()
                    .filter_map(|r| match r {
                        SourceRow::Ready(p) => Some(p.key.as_str()),
                        SourceRow::Invalid(_) => None,
                    })
                    .collect();
                handle.block_on(journal.get_many(c, &keys))?
            }
            None => HashMap::new(),
        };
        for row in chunk {
            i += 1;
            let result = match row {
                SourceRow::Invalid(p) => invalid_result(&p),
                SourceRow::Ready(planned) => {
                    if let Some(first) = seen.get(&key_hash(&planned.key)) {
                        duplicate_result(&planned, *first)
                    } else {
                        seen.insert(key_hash(&planned.key), planned.line);
                        match known.get(&planned.key) {
                            Some(e) if e.state == RowState::Created => earlier_result(&planned, e),
                            _ if let Some(inv) = existing
                                .find(planned.email.as_deref(), planned.phone.as_deref()) =>
                            {
                                existing_result(&planned, inv)
                            }
                            _ => RowResult {
                                row: planned.line,
                                key: Some(planned.key.clone()),
                                action: Action::Planned,
                                invitation_id: None,
                                url: None,
                                status: None,
                                error_code: None,
                                message: None,
                            },
                        }
                    }
                }
            };
            tally.count(&result);
            if let Some(r) = report.as_mut() {
                r.write(&result).map_err(CampaignError::Setup)?;
            }
            if results.len() < settings.keep_results {
                results.push(result);
            } else {
                complete = false;
            }
            if i % 256 == 1 {
                progress.update(&tally);
            }
        }
    }
    let paths = report.as_ref().map(|r| {
        let (c, j) = r.paths();
        (c.to_path_buf(), j.to_path_buf())
    });
    if let Some(r) = report {
        r.finish().map_err(CampaignError::Setup)?;
    }
    if !quiet {
        progress.finish(&tally, Ending::DryRun);
    }
    Ok(Summary {
        name: settings.name.clone(),
        tally,
        dry_run: true,
        elapsed: started.elapsed(),
        results,
        results_complete: complete,
        report: paths,
        halted: None,
    })
}
