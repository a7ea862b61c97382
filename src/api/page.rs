//! A cursor page: `{"items": [...], "nextCursor": string | null}`. `items` is always present;
//! `nextCursor` is always written, as `null` on the last page.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The cursor of the next page, if there is one. An empty string counts as none, and so
    /// does an empty page, as the official SDKs decide.
    pub fn next(&self) -> Option<&str> {
        match self.next_cursor.as_deref() {
            Some(c) if !c.is_empty() && !self.items.is_empty() => Some(c),
            _ => None,
        }
    }
}

/// Query parameters shared by every list call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListPage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}
