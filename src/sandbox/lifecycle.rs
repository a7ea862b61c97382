//! An invitation's lifecycle as pure functions of the record and "now": which transitions
//! are allowed, what each one sets, and the status a reader sees. `expired` is never stored
//! — it is derived here, at read time, from `expiresAt` — so moving the clock is enough to
//! expire an invitation, exactly as the real service behaves (no event, no write).

use crate::api::{ConnectedAccount, Invitation, InvitationStatus, Timestamp};

/// The status a reader sees at `now`.
pub fn effective_status(inv: &Invitation, now: Timestamp) -> InvitationStatus {
    match inv.status {
        InvitationStatus::Pending | InvitationStatus::InProgress | InvitationStatus::Failed
            if now >= inv.expires_at =>
        {
            InvitationStatus::Expired
        }
        ref s => s.clone(),
    }
}

/// The invitation as it is answered at `now`.
pub fn render(inv: &Invitation, now: Timestamp) -> Invitation {
    let mut out = inv.clone();
    out.status = effective_status(inv, now);
    out
}

/// Why a transition was refused; the text goes into a 400 body or onto the invite page.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused(pub String);

fn refuse(inv: &Invitation, now: Timestamp, action: &str) -> Refused {
    let status = effective_status(inv, now);
    let why = match status {
        InvitationStatus::Completed => {
            " Once a sender is created, manage it through the senders API.".to_string()
        }
        InvitationStatus::Expired => " Create a new invitation instead.".to_string(),
        _ => String::new(),
    };
    Refused(format!(
        "Cannot {action} invitation {}: it is {status}.{why}",
        inv.id
    ))
}

/// Opening the link: sets `viewedAt` (the first time), no status change.
pub fn view(inv: &mut Invitation, now: Timestamp) -> Result<(), Refused> {
    match effective_status(inv, now) {
        InvitationStatus::Cancelled | InvitationStatus::Expired => Err(refuse(inv, now, "view")),
        _ => {
            if inv.viewed_at.is_none() {
                inv.viewed_at = Some(now);
                inv.updated_at = now;
            }
            Ok(())
        }
    }
}

/// The client starts the signup: `pending`/`failed` → `in_progress`. Starting again while
/// in progress changes nothing (a second click on the page is harmless).
pub fn start(inv: &mut Invitation, now: Timestamp) -> Result<(), Refused> {
    match effective_status(inv, now) {
        InvitationStatus::Pending | InvitationStatus::Failed => {
            inv.status = InvitationStatus::InProgress;
            inv.viewed_at.get_or_insert(now);
            inv.started_at = Some(now);
            inv.failed_at = None;
            inv.failure_reason = None;
            inv.updated_at = now;
            Ok(())
        }
        InvitationStatus::InProgress => Ok(()),
        _ => Err(refuse(inv, now, "start")),
    }
}

/// The client connected: → `completed`, with the sender the signup created.
pub fn complete(
    inv: &mut Invitation,
    now: Timestamp,
    sender_id: &str,
    account: ConnectedAccount,
) -> Result<(), Refused> {
    match effective_status(inv, now) {
        InvitationStatus::Pending | InvitationStatus::InProgress | InvitationStatus::Failed => {
            inv.status = InvitationStatus::Completed;
            inv.viewed_at.get_or_insert(now);
            inv.started_at.get_or_insert(now);
            inv.completed_at = Some(now);
            inv.sender_id = Some(sender_id.to_string());
            inv.connected_account = Some(account);
            inv.failed_at = None;
            inv.failure_reason = None;
            inv.updated_at = now;
            Ok(())
        }
        _ => Err(refuse(inv, now, "complete")),
    }
}

/// The client started and did not finish: → `failed` (not terminal).
pub fn fail(inv: &mut Invitation, now: Timestamp, reason: &str) -> Result<(), Refused> {
    match effective_status(inv, now) {
        InvitationStatus::Pending | InvitationStatus::InProgress => {
            inv.status = InvitationStatus::Failed;
            inv.failed_at = Some(now);
            inv.failure_reason = Some(reason.to_string());
            inv.updated_at = now;
            Ok(())
        }
        _ => Err(refuse(inv, now, "fail")),
    }
}

/// Cancelled by the partner: the link stops working. Completed, cancelled and expired
/// invitations cannot be cancelled (expired: undocumented by Zavu; answered as 400 here).
pub fn cancel(inv: &mut Invitation, now: Timestamp) -> Result<(), Refused> {
    match effective_status(inv, now) {
        InvitationStatus::Pending | InvitationStatus::InProgress | InvitationStatus::Failed => {
            inv.status = InvitationStatus::Cancelled;
            inv.updated_at = now;
            Ok(())
        }
        _ => Err(refuse(inv, now, "cancel")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invitation(created: i64, days: i64) -> Invitation {
        let t = Timestamp::from_millis(created);
        Invitation {
            id: "inv1".into(),
            token: "tok".into(),
            url: "http://x/invite/tok".into(),
            status: InvitationStatus::Pending,
            client_name: None,
            client_email: None,
            client_phone: None,
            phone_number_id: None,
            connection_type: Some("whatsapp_waba".into()),
            sender_id: None,
            connected_account: None,
            expires_at: Timestamp::from_millis(created + days * 86_400_000),
            created_at: t,
            updated_at: t,
            viewed_at: None,
            started_at: None,
            completed_at: None,
            failed_at: None,
            failure_reason: None,
        }
    }

    #[test]
    fn expiry_is_derived_at_the_instant() {
        let inv = invitation(0, 7);
        let edge = Timestamp::from_millis(7 * 86_400_000);
        assert_eq!(
            effective_status(&inv, Timestamp::from_millis(edge.millis() - 1)),
            InvitationStatus::Pending
        );
        assert_eq!(effective_status(&inv, edge), InvitationStatus::Expired);
        // Stored status is untouched: expiry is never written.
        assert_eq!(inv.status, InvitationStatus::Pending);
    }

    #[test]
    fn completed_stays_completed_after_expiry() {
        let mut inv = invitation(0, 1);
        let acct = ConnectedAccount {
            id: "1".into(),
            channel: "whatsapp".into(),
            name: None,
        };
        complete(&mut inv, Timestamp::from_millis(1000), "snd_1", acct).unwrap();
        let later = Timestamp::from_millis(10 * 86_400_000);
        assert_eq!(effective_status(&inv, later), InvitationStatus::Completed);
        assert!(
            cancel(&mut inv, later)
                .unwrap_err()
                .0
                .contains("senders API")
        );
    }

    #[test]
    fn transitions_follow_the_contract() {
        let now = Timestamp::from_millis(1000);
        let mut inv = invitation(0, 7);
        view(&mut inv, now).unwrap();
        assert_eq!(inv.status, InvitationStatus::Pending);
        assert_eq!(inv.viewed_at, Some(now));
        start(&mut inv, now).unwrap();
        fail(&mut inv, now, "signup_abandoned").unwrap();
        assert_eq!(inv.failure_reason.as_deref(), Some("signup_abandoned"));
        start(&mut inv, now).unwrap();
        assert_eq!(inv.status, InvitationStatus::InProgress);
        assert_eq!(inv.failure_reason, None);
        cancel(&mut inv, now).unwrap();
        assert!(cancel(&mut inv, now).is_err());
        assert!(start(&mut inv, now).is_err());
        let expired = Timestamp::from_millis(8 * 86_400_000);
        let mut old = invitation(0, 7);
        assert!(cancel(&mut old, expired).is_err());
        let acct = ConnectedAccount {
            id: "1".into(),
            channel: "whatsapp".into(),
            name: None,
        };
        assert!(complete(&mut old, expired, "snd", acct).is_err());
    }
}
