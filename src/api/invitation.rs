//! Partner invitations: the object, its status, and the create and list parameters.

use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An invitation's status. `Other` keeps a status this build does not know, so a newer
/// server never breaks an older client.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum InvitationStatus {
    Pending,
    InProgress,
    Completed,
    Expired,
    Cancelled,
    Failed,
    Other(String),
}

impl InvitationStatus {
    /// The statuses the contract lists, in lifecycle order.
    pub const KNOWN: [InvitationStatus; 6] = [
        InvitationStatus::Pending,
        InvitationStatus::InProgress,
        InvitationStatus::Completed,
        InvitationStatus::Expired,
        InvitationStatus::Cancelled,
        InvitationStatus::Failed,
    ];

    /// The names of [`InvitationStatus::KNOWN`], as they travel.
    pub const NAMES: [&'static str; 6] = [
        "pending",
        "in_progress",
        "completed",
        "expired",
        "cancelled",
        "failed",
    ];

    pub fn as_str(&self) -> &str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::InProgress => "in_progress",
            InvitationStatus::Completed => "completed",
            InvitationStatus::Expired => "expired",
            InvitationStatus::Cancelled => "cancelled",
            InvitationStatus::Failed => "failed",
            InvitationStatus::Other(s) => s,
        }
    }

    pub fn parse_known(s: &str) -> Option<Self> {
        match InvitationStatus::from(s.to_string()) {
            InvitationStatus::Other(_) => None,
            known => Some(known),
        }
    }
}

impl From<String> for InvitationStatus {
    fn from(s: String) -> Self {
        match s.as_str() {
            "pending" => InvitationStatus::Pending,
            "in_progress" => InvitationStatus::InProgress,
            "completed" => InvitationStatus::Completed,
            "expired" => InvitationStatus::Expired,
            "cancelled" => InvitationStatus::Cancelled,
            "failed" => InvitationStatus::Failed,
            _ => InvitationStatus::Other(s),
        }
    }
}

impl From<InvitationStatus> for String {
    fn from(s: InvitationStatus) -> Self {
        s.as_str().to_string()
    }
}

impl fmt::Display for InvitationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The account a client linked, set once an invitation is completed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectedAccount {
    pub id: String,
    pub channel: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// The Invitation object. Every nullable field is written, as `null` when unset, the way
/// the real service answers; `connectionType`, which the SDKs declare optional but not
/// nullable, is left out when unset (the sandbox always sets it). Unknown fields from a
/// newer server are ignored when reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub id: String,
    pub token: String,
    pub url: String,
    pub status: InvitationStatus,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub client_email: Option<String>,
    #[serde(default)]
    pub client_phone: Option<String>,
    #[serde(default)]
    pub phone_number_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_type: Option<String>,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub connected_account: Option<ConnectedAccount>,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub viewed_at: Option<Timestamp>,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    #[serde(default)]
    pub failed_at: Option<Timestamp>,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

/// `{"invitation": Invitation}` — how every single invitation travels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvitationEnvelope {
    pub invitation: Invitation,
}

/// `POST /v1/invitations` body. Every field is optional; unset ones are not sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateInvitation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_phone_countries: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_type: Option<String>,
}

/// `GET /v1/invitations` query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListInvitations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_known_statuses_and_unknown_ones_survive() {
        let names: Vec<&str> = InvitationStatus::KNOWN.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, InvitationStatus::NAMES);
        let newer: InvitationStatus = serde_json::from_str("\"paused\"").unwrap();
        assert_eq!(newer, InvitationStatus::Other("paused".into()));
        assert_eq!(serde_json::to_string(&newer).unwrap(), "\"paused\"");
    }
}
