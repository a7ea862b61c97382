//! The project's phone numbers: what a script lists to find the number to pre-assign to
//! an invitation with `phoneNumberId`. A list answers bare numbers; one number travels
//! wrapped, `{"phoneNumber": OwnedPhoneNumber}`.

use super::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Statuses a number can have, and a list may filter on.
pub const STATUSES: &[&str] = &["active", "suspended", "pending"];

/// Prices of a number; every field may be left out (`{}` is a valid pricing).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnedPhoneNumberPricing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_free_number: Option<bool>,
    /// Cents a month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_cost: Option<i64>,
    /// Dollars a month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_price: Option<f64>,
    /// Cents, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upfront_cost: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnedPhoneNumber {
    pub id: String,
    /// E.164.
    pub phone_number: String,
    /// What the number can do: `sms`, `voice`, `mms`.
    pub capabilities: Vec<String>,
    pub created_at: Timestamp,
    pub pricing: OwnedPhoneNumberPricing,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The sender the number is attached to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_renewal_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

/// `{"phoneNumber": OwnedPhoneNumber}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberEnvelope {
    pub phone_number: OwnedPhoneNumber,
}

/// `GET /v1/phone-numbers` query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListPhoneNumbers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
