//! Senders: the identities messages go out from. Completing an invitation creates one.
//! `GET /v1/senders/{id}` answers a bare Sender, not an envelope.

use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    pub id: String,
    pub name: String,
    pub phone_number: String,
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    #[serde(default)]
    pub is_default: Option<bool>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub whatsapp: Option<Value>,
    #[serde(default)]
    pub webhook: Option<Value>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}
