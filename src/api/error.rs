//! The flat error body every non-2xx answer carries:
//! `{"code": "...", "message": "...", "details": {...}?}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// The codes the contract names, so both sides spell them the same way.
pub mod codes {
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const NOT_FOUND: &str = "not_found";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const CONFLICT: &str = "conflict";
    pub const WHATSAPP_WINDOW_CLOSED: &str = "whatsapp_window_closed";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    pub const INTERNAL: &str = "internal_error";
    pub const SERVICE_UNAVAILABLE: &str = "service_unavailable";
}

/// One problem with one field: `{"path": ["expiresInDays"], "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    pub path: Vec<Value>,
    pub message: String,
}

impl FieldError {
    pub fn new(path: &[&str], message: impl Into<String>) -> Self {
        FieldError {
            path: path
                .iter()
                .map(|p| Value::String((*p).to_string()))
                .collect(),
            message: message.into(),
        }
    }

    /// The path as a script user would write it: `allowedPhoneCountries[1]`.
    pub fn field(&self) -> String {
        let mut out = String::new();
        for p in &self.path {
            match p {
                Value::Number(n) => out.push_str(&format!("[{n}]")),
                Value::String(s) if out.is_empty() => out.push_str(s),
                Value::String(s) => {
                    out.push('.');
                    out.push_str(s);
                }
                other => out.push_str(&other.to_string()),
            }
        }
        if out.is_empty() { "(body)".into() } else { out }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field(), self.message)
    }
}

/// Joins errors into one line for a message: `clientEmail: not an email address; ...`.
pub fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
