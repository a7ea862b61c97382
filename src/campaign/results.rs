//! What happened to each row: the [`Action`] a run took for it and the [`RowResult`] that
//! the summary, the report and a script's return value all carry — and the few ways a
//! result is made, so every path through a run words the same outcome the same way.
//! Plain data: no I/O, no journal.

use super::journal::Entry;
use super::plan::{Planned, Problem};
use crate::api::Invitation;
use serde::Serialize;

/// What happened to one row in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Invited by this run.
    Created,
    /// An earlier attempt whose answer was lost did create it; adopted, not resent.
    Reconciled,
    /// Already invited: by an earlier run, or elsewhere in the project (`already_invited`).
    Skipped,
    /// The same client (row key) as an earlier row of the source; not sent.
    Duplicate,
    /// Refused by the contract (here or by the server); not sent.
    Invalid,
    /// Not invited this time; retried on the next run.
    Failed,
    /// Dry run: would be invited.
    Planned,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Reconciled => "reconciled",
            Action::Skipped => "skipped",
            Action::Duplicate => "duplicate",
            Action::Invalid => "invalid",
            Action::Failed => "failed",
            Action::Planned => "planned",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowResult {
    pub row: u64,
    pub key: Option<String>,
    pub action: Action,
    pub invitation_id: Option<String>,
    pub url: Option<String>,
    pub status: Option<String>,
    pub error_code: Option<String>,
    pub message: Option<String>,
}

/// A row that was not invited in this run, with the code and reason.
pub fn unsent_result(p: &Planned, action: Action, code: &str, message: &str) -> RowResult {
    RowResult {
        row: p.line,
        key: Some(p.key.clone()),
        action,
        invitation_id: None,
        url: None,
        status: None,
        error_code: Some(code.to_string()),
        message: Some(message.to_string()),
    }
}

pub fn invalid_result(p: &Problem) -> RowResult {
    RowResult {
        row: p.line,
        key: p.key.clone(),
        action: Action::Invalid,
        invitation_id: None,
        url: None,
        status: None,
        error_code: Some("invalid_params".into()),
        message: Some(p.message.clone()),
    }
}

pub fn duplicate_result(p: &Planned, first: u64) -> RowResult {
    RowResult {
        row: p.line,
        key: Some(p.key.clone()),
        action: Action::Duplicate,
        invitation_id: None,
        url: None,
        status: None,
        error_code: Some("duplicate".into()),
        message: Some(format!("same client as row {first}")),
    }
}

pub fn earlier_result(p: &Planned, e: &Entry) -> RowResult {
    RowResult {
        row: p.line,
        key: Some(p.key.clone()),
        action: Action::Skipped,
        invitation_id: e.invitation_id.clone(),
        url: e.url.clone(),
        status: e.inv_status.clone(),
        error_code: None,
        message: Some("invited by an earlier run".into()),
    }
}

/// A row whose client already held a live invitation in the project, made elsewhere.
pub fn existing_result(p: &Planned, inv: &Invitation) -> RowResult {
    RowResult {
        row: p.line,
        key: Some(p.key.clone()),
        action: Action::Skipped,
        invitation_id: Some(inv.id.clone()),
        url: Some(inv.url.clone()),
        status: Some(inv.status.as_str().to_string()),
        error_code: Some("already_invited".into()),
        message: Some(format!("already invited ({})", inv.id)),
    }
}

pub fn created_result(
    p: &Planned,
    inv: &Invitation,
    action: Action,
    message: Option<&str>,
) -> RowResult {
    RowResult {
        row: p.line,
        key: Some(p.key.clone()),
        action,
        invitation_id: Some(inv.id.clone()),
        url: Some(inv.url.clone()),
        status: Some(inv.status.as_str().to_string()),
        error_code: None,
        message: message.map(str::to_string),
    }
}
