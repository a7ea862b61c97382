//! What can go wrong talking to the API, typed so callers can act on it: an API answer
//! (status, `code`, `message`, `details`), a request that provably never left, one whose
//! outcome is unknown (it left, and no answer came back), answers we could not read, and
//! a request refused before it was sent because the contract says it would fail.

use crate::api::validate::summarize;
use crate::api::{FieldError, Timestamp};
use serde_json::{Value, json};

#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub details: Option<Value>,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error status.
    #[error("{} {}: HTTP {} {}: {}", .0.method, .0.path, .0.status, .0.code, .0.message)]
    Api(Box<ApiError>),

    /// The request was sent and no usable answer came back (timeout, dropped connection,
    /// a 5xx raised after the server may have acted). It may or may not have taken effect:
    /// the caller must find out (reconcile) before sending it again.
    #[error(
        "{method} {path}: outcome unknown ({reason}); the request may have taken effect — check before retrying"
    )]
    OutcomeUnknown {
        method: String,
        path: String,
        sent_at: Timestamp,
        reason: String,
        status: Option<u16>,
    },

    /// Nothing reached the server (connection refused, DNS, TLS), after retries.
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },

    /// A safe-to-repeat request kept failing in transit, after retries.
    #[error("{method} {path}: network error after {attempts} attempts: {reason}")]
    Network {
        method: String,
        path: String,
        attempts: u32,
        reason: String,
    },

    /// A success status with a body that does not match the contract.
    #[error("{method} {path}: unexpected answer (HTTP {status}): {reason}")]
    InvalidResponse {
        method: String,
        path: String,
        status: u16,
        reason: String,
    },

    /// Refused before sending: the server would answer 400 (a template send whose
    /// variables do not match the template, …). Nothing was sent.
    #[error("{}", summarize(.0))]
    InvalidParams(Vec<FieldError>),

    /// Stopped by the user (Ctrl-C) or a timeout before the request was sent.
    #[error("interrupted")]
    Interrupted,
}

impl ClientError {
    /// HTTP status, or 0 when there was no HTTP answer.
    pub fn status(&self) -> u16 {
        match self {
            ClientError::Api(e) => e.status,
            ClientError::InvalidResponse { status, .. } => *status,
            ClientError::OutcomeUnknown { status, .. } => status.unwrap_or(0),
            _ => 0,
        }
    }

    /// The API's `code`, or one of ours for failures without an API answer.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Api(e) => &e.code,
            ClientError::OutcomeUnknown { .. } => "outcome_unknown",
            ClientError::Unreachable { .. } => "connection_failed",
            ClientError::Network { .. } => "network_error",
            ClientError::InvalidResponse { .. } => "invalid_response",
            ClientError::InvalidParams(_) => "invalid_params",
            ClientError::Interrupted => "interrupted",
        }
    }

    /// The human part of the error, without method and path.
    pub fn message(&self) -> String {
        match self {
            ClientError::Api(e) => e.message.clone(),
            other => other.to_string(),
        }
    }

    pub fn details(&self) -> Option<Value> {
        match self {
            ClientError::Api(e) => e.details.clone(),
            ClientError::InvalidParams(errors) => Some(json!({ "errors": errors })),
            _ => None,
        }
    }

    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, ClientError::OutcomeUnknown { .. })
    }
}
