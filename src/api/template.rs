//! Message templates. Only `approved` ones can be sent; first contact on WhatsApp must be
//! one. `GET /v1/templates/{id}` answers a bare Template.

use super::time::Timestamp;
use serde::{Deserialize, Serialize};

pub const CATEGORIES: &[&str] = &["UTILITY", "MARKETING", "AUTHENTICATION"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: String,
    pub name: String,
    pub language: String,
    pub body: String,
    pub category: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub variables: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}
