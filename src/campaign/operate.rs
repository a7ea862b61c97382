//! Operating a campaign after (or between) runs: where it stands, from the journal —
//! counts per row state and per invitation status, optionally refreshed from the API —
//! its report (the funnel and every row), and clean-up: cancel the invitations it
//! created that are still open. Returns data; presenting it is the caller's business.

use super::funnel::{self, Funnel};
use super::journal::{Batch, CampaignId, Entry, Journal, Observed, Op, RowState};
use super::lock::CampaignLock;
use super::refresh::Refreshed;
use super::runs::RunRecord;
use crate::api::Invitation;
use crate::client::{ApiClient, ClientError};
use crate::state::backend::PgTarget;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::path::Path;

/// Why an operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    /// Nothing to operate on, or the journal or lock is unusable.
    #[error("{0}")]
    Setup(String),
    /// The API failed while the operation talked to it.
    #[error("{context}: {source}")]
    Api {
        context: String,
        source: ClientError,
    },
}

impl From<String> for OperateError {
    fn from(e: String) -> Self {
        OperateError::Setup(e)
    }
}

impl From<super::journal::JournalError> for OperateError {
    fn from(e: super::journal::JournalError) -> Self {
        OperateError::Setup(e.to_string())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub name: String,
    pub target: String,
    /// Rows by journal state: created, invalid, failed, unknown, …
    pub rows: BTreeMap<String, i64>,
    /// Created rows by the invitation's last known status.
    pub invitations: BTreeMap<String, i64>,
    /// The latest run, with the counts its summary line printed.
    pub last_run: Option<RunRecord>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cleanup {
    pub cancelled: u64,
    /// Already completed, cancelled or expired: nothing to do.
    pub closed: u64,
    pub failed: u64,
    /// Dry run: would cancel.
    pub would_cancel: u64,
}

/// Where the journal is: the state directory, or the state database when there is one.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    pub state_dir: &'a Path,
    pub shared: Option<&'a PgTarget>,
}

/// The journal and the campaign's id, for this client's target and key.
async fn find(
    place: Place<'_>,
    client: &ApiClient,
    name: &str,
) -> Result<(Journal, CampaignId), OperateError> {
    let none = || {
        format!(
            "no campaign '{name}' has run against {} with this key (see `zavu-script campaign list`)",
            client.base_url()
        )
    };
    let journal = Journal::open_existing(place.state_dir, place.shared)
        .await?
        .ok_or_else(none)?;
    let c = journal
        .find_campaign(client.base_url(), &client.key().fingerprint(), name)
        .await?
        .ok_or_else(none)?;
    Ok((journal, c))
}

/// Where a campaign stands. With `refresh`, every created invitation's status is first
/// read from the API in one pass over its list (see [`refresh`](super::refresh)).
pub async fn status(
    place: Place<'_>,
    client: &ApiClient,
    name: &str,
    refresh: bool,
) -> Result<Status, OperateError> {
    let (journal, c) = find(place, client, name).await?;
    if refresh {
        super::refresh::refresh(&journal, c, client, name).await?;
    }
    let (rows, invitations) = journal.counts(c).await?;
    Ok(Status {
        name: name.to_string(),
        target: client.base_url().to_string(),
        rows,
        invitations,
        last_run: journal.last_run(c).await?,
    })
}

/// A campaign's report: its funnel and every row, as the journal knows them — after a
/// refresh from the API when `refresh` is set.
pub struct Report {
    pub funnel: Funnel,
    /// Every row, in source order.
    pub rows: Vec<Entry>,
    /// What the refresh did, when there was one.
    pub refreshed: Option<Refreshed>,
}

pub async fn report(
    place: Place<'_>,
    client: &ApiClient,
    name: &str,
    refresh: bool,
) -> Result<Report, OperateError> {
    let (journal, c) = find(place, client, name).await?;
    let refreshed = if refresh {
        Some(super::refresh::refresh(&journal, c, client, name).await?)
    } else {
        None
    };
    let rows = journal.entries(c).await?;
    let refreshed_at = journal.refreshed_at(c).await?;
    // Never refreshed: the statuses are what the last run recorded, as of its last write.
    let as_of = refreshed_at.or_else(|| rows.iter().map(|e| e.updated_at_ms).max());
    let funnel = funnel::compute(
        name,
        client.base_url(),
        &rows,
        as_of,
        refreshed_at.is_some(),
    );
    Ok(Report {
        funnel,
        rows,
        refreshed,
    })
}

/// Cancels every invitation the campaign created that is still pending, in progress or
/// failed. Holds the campaign's lock so it never races a run.
pub async fn cleanup(
    place: Place<'_>,
    client: &ApiClient,
    name: &str,
    dry_run: bool,
) -> Result<Cleanup, OperateError> {
    let (journal, c) = find(place, client, name).await?;
    let fp = client.key().fingerprint();
    let _lock = CampaignLock::acquire_for(&journal, place.state_dir, client.base_url(), &fp, name)
        .await
        .map_err(|e| e.to_string())?;
    let created = journal.in_state(c, RowState::Created).await?;
    let mut out = Cleanup::default();
    let open_rows: Vec<_> = created
        .into_iter()
        .filter(|e| {
            !matches!(
                e.inv_status.as_deref(),
                Some("completed" | "cancelled" | "expired")
            )
        })
        .filter_map(|e| e.invitation_id.clone().map(|id| (e.key, id)))
        .collect();
    if dry_run {
        out.would_cancel = open_rows.len() as u64;
        return Ok(out);
    }
    let results: Vec<(String, String, Result<Invitation, ClientError>)> =
        futures::stream::iter(open_rows)
            .map(|(key, id)| async move {
                let r = client.cancel_invitation(&id).await;
                (key, id, r)
            })
            .buffer_unordered(8)
            .collect()
            .await;
    let mut batch = Batch::default();
    let mut observe = |key: String, inv: &Invitation| {
        batch.push(Op::Observe {
            key,
            seen: Observed::of(inv),
        })
    };
    for (key, id, result) in results {
        match result {
            Ok(inv) => {
                out.cancelled += 1;
                observe(key, &inv);
            }
            // Completed, cancelled or expired since we last looked: note its status.
            Err(ClientError::Api(e)) if e.status == 400 => match client.get_invitation(&id).await {
                Ok(inv) => {
                    out.closed += 1;
                    observe(key, &inv);
                }
                Err(_) => out.failed += 1,
            },
            Err(_) => out.failed += 1,
        }
    }
    journal.commit(c, &batch).await?;
    Ok(out)
}
