//! Catching up after downtime. Zavu replays no events, so on start `listen` reads the
//! project's invitations (every page, through the key's rate budget) and compares each
//! one's status with the last status a handler ran for; every difference becomes a
//! synthesized `invitation.status_changed` event (`synthesized: true`) in the inbox, handled
//! like a delivered one. Expiry, which never fires, is offered the same way, so one handler
//! covers the whole follow-up job.
//!
//! The first start has nothing to compare with: it takes the statuses as they are as the
//! baseline and runs nothing for them. Synthesized ids are stable
//! (`syn_<invitation>_<status>_<ms>`), so catching up twice records each change once, and a
//! late delivery of a change already caught up is skipped as already applied.

use super::inbox::{Inbox, NewEvent};
use crate::api::webhook::{Event, STATUS_CHANGED, StatusChange};
use crate::api::{Invitation, InvitationStatus, ListInvitations};
use crate::client::{ApiClient, ClientError};
use std::sync::Mutex;

/// What a catch-up did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaughtUp {
    /// Invitations read.
    pub read: usize,
    /// Changes recorded as events.
    pub synthesized: usize,
    /// First start: statuses taken as they are.
    pub baseline: bool,
}

/// Every invitation of the project.
async fn all_invitations(client: &ApiClient) -> Result<Vec<Invitation>, ClientError> {
    client
        .invitations_all(ListInvitations {
            limit: Some(100),
            ..Default::default()
        })
        .collect()
        .await
}

/// When `inv` last changed to its current status: expiry is derived (no `updatedAt`
/// moves), so it counts from `expiresAt`.
fn changed_at(inv: &Invitation) -> i64 {
    match inv.status {
        InvitationStatus::Expired => inv.expires_at.millis(),
        _ => inv.updated_at.millis(),
    }
}

/// The event a delivery would have carried for this change.
pub fn synthesize(inv: &Invitation, previous: &str) -> NewEvent {
    let at = changed_at(inv);
    let status = inv.status.as_str().to_string();
    let id = format!("syn_{}_{}_{}", inv.id, status, at);
    let event = Event {
        id: id.clone(),
        kind: STATUS_CHANGED.into(),
        timestamp: at,
        project_id: String::new(),
        data: StatusChange {
            invitation_id: inv.id.clone(),
            client_name: inv.client_name.clone(),
            client_email: inv.client_email.clone(),
            connection_type: inv.connection_type.clone(),
            previous_status: previous.to_string(),
            current_status: status.clone(),
            sender_id: inv.sender_id.clone(),
            connected_account: inv
                .connected_account
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok()),
            failure_reason: inv.failure_reason.clone(),
        },
    };
    let mut body = serde_json::to_value(&event).unwrap_or_default();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("synthesized".into(), serde_json::Value::Bool(true));
    }
    NewEvent {
        event_id: id,
        invitation_id: inv.id.clone(),
        previous_status: Some(previous.to_string()),
        current_status: status,
        event_ms: at,
        synthesized: true,
        body: body.to_string(),
    }
}

/// Compares the project with the inbox and records what was missed.
pub async fn catch_up(client: &ApiClient, inbox: &Mutex<Inbox>) -> Result<CaughtUp, String> {
    let invitations = all_invitations(client)
        .await
        .map_err(|e| format!("catching up: {e}"))?;
    let inbox = inbox.lock().unwrap_or_else(|p| p.into_inner());
    let err = |e: super::inbox::InboxError| e.to_string();
    let mut out = CaughtUp {
        read: invitations.len(),
        ..Default::default()
    };
    if inbox.baseline_ms().map_err(err)?.is_none() {
        for inv in &invitations {
            inbox
                .set_applied(&inv.id, inv.status.as_str(), changed_at(inv))
                .map_err(err)?;
        }
        inbox
            .set_baseline(chrono::Utc::now().timestamp_millis())
            .map_err(err)?;
        out.baseline = true;
        return Ok(out);
    }
    for inv in &invitations {
        let now = inv.status.as_str();
        let previous = match inbox.applied(&inv.id).map_err(err)? {
            Some(a) if a.status == now => continue,
            Some(a) => a.status,
            // New since the last look: its creation is no event; anything after it is.
            None if inv.status == InvitationStatus::Pending => {
                inbox
                    .set_applied(&inv.id, now, inv.created_at.millis())
                    .map_err(err)?;
                continue;
            }
            None => "pending".to_string(),
        };
        if inbox.record(&synthesize(inv, &previous)).map_err(err)? {
            out.synthesized += 1;
        }
    }
    Ok(out)
}
