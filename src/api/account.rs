//! Who the key belongs to (`GET /v1/me`) and what the project has to spend
//! (`GET /v1/balance`). Both answer bare objects. `project.name` and `team.name` are
//! required but may be `null`, so they are always written; money is in integer cents.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRef {
    /// An identifier of the key — never the key itself.
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRef {
    pub id: String,
    pub is_sub_account: bool,
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamRef {
    pub id: String,
    pub name: Option<String>,
}

/// `GET /v1/me`: is this a test key, and which project does it act for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub api_key: KeyRef,
    pub is_test_mode: bool,
    pub project: ProjectRef,
    pub team: TeamRef,
}

/// `GET /v1/balance`, in cents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub balance: i64,
    pub currency: String,
    #[serde(default)]
    pub credit_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_sub_account: Option<bool>,
    #[serde(default)]
    pub total_spent: Option<i64>,
}
