//! The flat error body every non-2xx answer carries:
//! `{"code": "...", "message": "...", "details": {...}?}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    pub const INTERNAL: &str = "internal_error";
    pub const SERVICE_UNAVAILABLE: &str = "service_unavailable";
}
