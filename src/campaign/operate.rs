//! Operating a campaign after (or between) runs: where it stands, from the journal —
//! counts per row state and per invitation status, optionally refreshed from the API —
//! and clean-up: cancel the invitations it created that are still open.

use super::journal::{CampaignId, Journal, RowState, journal_path};
use super::lock::CampaignLock;
use crate::api::InvitationStatus;
use crate::client::{ApiClient, ClientError};
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

/// The journal and the campaign's id, for this client's target and key.
fn find(
    state_dir: &Path,
    client: &ApiClient,
    name: &str,
) -> Result<(Journal, CampaignId), OperateError> {
    let journal = Journal::open(&journal_path(state_dir))?;
    let c = journal
        .find_campaign(client.base_url(), &client.key().fingerprint(), name)?
        .ok_or_else(|| {
            format!(
                "no campaign '{name}' has run against {} with this key (see `zavu-script campaign list`)",
                client.base_url()
            )
        })?;
    Ok((journal, c))
}

/// Where a campaign stands. With `refresh`, each created invitation's status is read
/// from the API first (8 at a time, through the shared rate budget).
pub async fn status(
    state_dir: &Path,
    client: &ApiClient,
    name: &str,
    refresh: bool,
) -> Result<Status, OperateError> {
    let (journal, c) = find(state_dir, client, name)?;
    if refresh {
        let created = journal.in_state(c, RowState::Created)?;
        let fetched: Vec<(String, Result<InvitationStatus, ClientError>)> =
            futures::stream::iter(created)
                .filter_map(|e| async move { e.invitation_id.clone().map(|id| (e.key, id)) })
                .map(|(key, id)| async move {
                    (key, client.get_invitation(&id).await.map(|i| i.status))
                })
                .buffer_unordered(8)
                .collect()
                .await;
        for (key, status) in fetched {
            match status {
                Ok(s) => journal.set_inv_status(c, &key, s.as_str())?,
                Err(source) => {
                    return Err(OperateError::Api {
                        context: format!("refreshing campaign '{name}'"),
                        source,
                    });
                }
            }
        }
    }
    let (rows, invitations) = journal.counts(c)?;
    Ok(Status {
        name: name.to_string(),
        target: client.base_url().to_string(),
        rows,
        invitations,
    })
}

/// Cancels every invitation the campaign created that is still pending, in progress or
/// failed. Holds the campaign's lock so it never races a run.
pub async fn cleanup(
    state_dir: &Path,
    client: &ApiClient,
    name: &str,
    dry_run: bool,
) -> Result<Cleanup, OperateError> {
    let (journal, c) = find(state_dir, client, name)?;
    let fp = client.key().fingerprint();
    let _lock = CampaignLock::acquire(state_dir, client.base_url(), &fp, name)?;
    let created = journal.in_state(c, RowState::Created)?;
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
    let results: Vec<(String, String, Result<InvitationStatus, ClientError>)> =
        futures::stream::iter(open_rows)
            .map(|(key, id)| async move {
                let r = client.cancel_invitation(&id).await.map(|i| i.status);
                (key, id, r)
            })
            .buffer_unordered(8)
            .collect()
            .await;
    for (key, id, result) in results {
        match result {
            Ok(s) => {
                out.cancelled += 1;
                journal.set_inv_status(c, &key, s.as_str())?;
            }
            // Completed, cancelled or expired since we last looked: note its status.
            Err(ClientError::Api(e)) if e.status == 400 => match client.get_invitation(&id).await {
                Ok(inv) => {
                    out.closed += 1;
                    journal.set_inv_status(c, &key, inv.status.as_str())?;
                }
                Err(_) => out.failed += 1,
            },
            Err(_) => out.failed += 1,
        }
    }
    Ok(out)
}
