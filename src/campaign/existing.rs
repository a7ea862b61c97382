//! Who is already invited, project-wide: before a campaign creates anything, one pass over
//! the project's invitations (every page, 100 at a time, through the key's rate budget)
//! finds each client that already holds a live invitation — pending, in progress or
//! completed — whoever made it: another campaign, another machine's journal, a copy of the
//! CSV, the dashboard. Such a row is skipped and reported with that invitation, unless the
//! user re-invites on purpose.
//!
//! A client is the same when the normalised email matches, or the normalised phone does.
//! Reads only; it never creates, cancels or writes the journal.

use crate::api::validate::{normalize_email, normalize_phone};
use crate::api::{Invitation, InvitationStatus, ListInvitations};
use crate::client::{ApiClient, ClientError};
use std::collections::HashMap;

/// The project's live invitations, by client.
#[derive(Debug, Default)]
pub struct Existing {
    by_email: HashMap<String, Invitation>,
    by_phone: HashMap<String, Invitation>,
    /// Invitations read from the API (live or not).
    pub read: usize,
}

/// Which of two live invitations for one client to report: the one furthest along
/// (completed, then in progress, then pending), then the newest.
fn better(a: &Invitation, b: &Invitation) -> bool {
    let rank = |s: &InvitationStatus| match s {
        InvitationStatus::Completed => 2,
        InvitationStatus::InProgress => 1,
        _ => 0,
    };
    (rank(&a.status), a.created_at) > (rank(&b.status), b.created_at)
}

fn is_live(status: &InvitationStatus) -> bool {
    matches!(
        status,
        InvitationStatus::Pending | InvitationStatus::InProgress | InvitationStatus::Completed
    )
}

impl Existing {
    /// Indexes invitations as the API reports them (expiry already applied).
    pub fn from_invitations(invitations: impl IntoIterator<Item = Invitation>) -> Existing {
        let mut out = Existing::default();
        for inv in invitations {
            out.read += 1;
            if !is_live(&inv.status) {
                continue;
            }
            let email = inv.client_email.as_deref().map(normalize_email);
            let phone = inv.client_phone.as_deref().map(normalize_phone);
            for (map, k) in [(&mut out.by_email, email), (&mut out.by_phone, phone)] {
                let Some(k) = k.filter(|k| !k.is_empty()) else {
                    continue;
                };
                match map.get(&k) {
                    Some(held) if !better(&inv, held) => {}
                    _ => {
                        map.insert(k, inv.clone());
                    }
                }
            }
        }
        out
    }

    /// The live invitation a client (by normalised email and phone) already holds.
    pub fn find(&self, email: Option<&str>, phone: Option<&str>) -> Option<&Invitation> {
        let by_email = email.and_then(|e| self.by_email.get(e));
        let by_phone = phone.and_then(|p| self.by_phone.get(p));
        match (by_email, by_phone) {
            (Some(a), Some(b)) => Some(if better(b, a) { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_email.is_empty() && self.by_phone.is_empty()
    }
}

/// Reads every invitation of the project, 100 a page.
pub async fn scan(client: &ApiClient) -> Result<Existing, ClientError> {
    let all = client
        .invitations_all(ListInvitations {
            limit: Some(100),
            ..Default::default()
        })
        .collect()
        .await?;
    Ok(Existing::from_invitations(all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Timestamp;

    fn inv(
        id: &str,
        email: Option<&str>,
        phone: Option<&str>,
        status: InvitationStatus,
        t: i64,
    ) -> Invitation {
        let json = serde_json::json!({
            "id": id, "token": id, "url": format!("http://x/invite/{id}"),
            "status": status.as_str(), "expiresAt": Timestamp::from_millis(t + 1).to_string(),
            "createdAt": Timestamp::from_millis(t).to_string(),
            "updatedAt": Timestamp::from_millis(t).to_string(),
            "clientEmail": email, "clientPhone": phone,
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn live_invitations_are_found_by_email_or_phone_and_closed_ones_are_not() {
        use InvitationStatus::*;
        let e = Existing::from_invitations([
            inv("inv_a", Some("Ana@Example.com"), None, Pending, 1),
            inv("inv_b", None, Some("+1 415 555 0001"), Completed, 2),
            inv("inv_c", Some("cx@example.com"), None, Cancelled, 3),
            inv("inv_d", Some("dx@example.com"), None, Expired, 4),
        ]);
        assert_eq!(e.read, 4);
        assert_eq!(e.find(Some("ana@example.com"), None).unwrap().id, "inv_a");
        assert_eq!(e.find(None, Some("+14155550001")).unwrap().id, "inv_b");
        assert!(e.find(Some("cx@example.com"), None).is_none());
        assert!(e.find(Some("dx@example.com"), None).is_none());
        assert!(
            e.find(Some("nobody@example.com"), Some("+10000000000"))
                .is_none()
        );
    }

    #[test]
    fn the_invitation_furthest_along_wins() {
        use InvitationStatus::*;
        let e = Existing::from_invitations([
            inv("old_done", Some("a@x.com"), None, Completed, 1),
            inv("new_pending", Some("a@x.com"), None, Pending, 9),
            inv("p1", Some("b@x.com"), None, Pending, 1),
            inv("p2", Some("b@x.com"), None, Pending, 5),
        ]);
        assert_eq!(e.find(Some("a@x.com"), None).unwrap().id, "old_done");
        assert_eq!(e.find(Some("b@x.com"), None).unwrap().id, "p2");
    }
}
